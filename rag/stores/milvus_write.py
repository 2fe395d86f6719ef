"""Building an index in Milvus: a new generation of collections, filled and then switched in at once (one
manifest row), and the row writing that builds and per-document adds (rag/stores/milvus_update.py) share.

A build re-uses the vectors of unchanged text from the generation it replaces (and vectors it is given, e.g. a
local index's), so a rebuild after a pipeline change embeds nothing; what it embeds is kept on disk until the
switch (rag/stores/write_embedding.py), so a build that is killed re-embeds only the rest. One writer at a time:
Milvus Lite allows one process per file; on a server, run one `rag index` (or one UI) that writes.
"""

from __future__ import annotations

import json
import logging
import time
from collections import ChainMap, Counter
from functools import partial
from typing import Callable, Mapping, Sequence, Union

import numpy as np

from ..bridge import build_bridge
from ..chunking import Chunk, Clause, chunk_document, chunk_in_batches, make_chunk_id, make_clause_id
from ..documents import PlanDocument
from ..encoders import EmbedderInfo
from ..errors import IndexWriteError, SettingsError
from ..tokenize import Tokenizer
from .base import DocumentRecord, index_order, records_of
from .milvus import LEXICAL_MODES, MILVUS_FORMAT_VERSION, MilvusStore
from .milvus_collections import (CLAUSE_SPAN_FIELDS, MAX_TOPK, PLACEHOLDER, MilvusIndex, clause_ids_of, filter_values,
                                 quote_list)
from .milvus_connect import collection_prefix, connect
from .sparse_bm25 import chunk_tokens, term_chunk_counts, tf_weights
from .write_embedding import WriteEmbedding

__all__ = ["build_milvus_index", "dense_index_for", "FLAT_MAX_CHUNKS"]

log = logging.getLogger(__name__)
# Exact search below this many chunks; HNSW above (an exact scan of a million 384-d vectors is ~1.5 GB a query).
FLAT_MAX_CHUNKS = 50_000
# text sha256 -> vector, or a function giving that for some doc_ids
VectorSource = Union[Mapping[str, np.ndarray], Callable[[Sequence[str]], Mapping[str, np.ndarray]]]
BUILD_BATCH_CHUNKS = 20_000  # a build chunks, embeds and writes at most this many chunks at a time: memory stays bounded
HNSW = {"type": "HNSW", "params": {"M": 16, "efConstruction": 200}, "search_params": {"ef": 128}}


def dense_index_for(chunks: int) -> dict:
    return {"type": "FLAT", "params": {}, "search_params": {}} if chunks < FLAT_MAX_CHUNKS else json.loads(json.dumps(HNSW))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---------------------------------------------------------------- embedding with reuse


def _old_vectors(store: MilvusStore | None, doc_ids: Sequence[str]) -> dict[str, np.ndarray]:
    """text sha256 -> vector, from these documents' rows in `store` (empty without one)."""
    if store is None:
        return {}
    return _stored_vectors(store.index, {d: r.chunks for d, r in store.catalog.items()}, doc_ids)


def _stored_vectors(index: MilvusIndex, chunk_counts: Mapping[str, int], doc_ids: Sequence[str], *,
                    numbered: bool = True) -> dict[str, np.ndarray]:
    """text sha256 -> vector, from these documents' rows in an index generation (`chunk_counts`: its documents'
    chunk counts). Chunks are read by id, a thousand at a time; their clauses by id from the chunk rows, or, in
    a generation of an older format whose chunk rows do not say where their clauses are numbered
    (`numbered=False`), by a filter on doc_id, a few documents per request: slower on Milvus Lite, which scans
    the collection for each, but a format upgrade then embeds nothing. A clause missed (a request's window
    full) is only embedded again."""
    cache: dict[str, np.ndarray] = {}

    def keep(rows) -> list[dict]:
        for r in rows:
            cache[r["embed_sha"]] = np.asarray(r["vector"], dtype=np.float32)
        return rows

    known = [d for d in doc_ids if d in chunk_counts]
    chunk_ids = [make_chunk_id(d, n) for d in known for n in range(chunk_counts[d])]
    fields = ["embed_sha", "vector"] + (CLAUSE_SPAN_FIELDS if numbered else [])
    for i in range(0, len(chunk_ids), 1024):
        chunk_rows = keep(index.get("chunks", chunk_ids[i:i + 1024], fields))
        if numbered:
            keep(index.get("clauses", [c for r in chunk_rows for c in clause_ids_of(r)], ["embed_sha", "vector"]))
    if not numbered:
        group: list[str] = []
        for doc_id in known + [None]:
            if group and (doc_id is None or 16 * sum(chunk_counts[d] for d in group + [doc_id]) > MAX_TOPK):
                keep(index.where("clauses", f"doc_id in {quote_list(group)}", ["embed_sha", "vector"]))  # ~8 a chunk
                group = []
            if doc_id is not None:
                group.append(doc_id)
    return cache


def _chunk_counts(index: MilvusIndex, manifest: dict) -> dict[str, int]:
    """doc_id -> chunk count, from a generation's catalog rows (readable whatever their format)."""
    return {r["doc_id"]: int(r["record"]["chunks"])
            for r in index.in_seq_windows("documents", int(manifest["next_doc_seq"]), ["doc_id", "record"])}


# ---------------------------------------------------------------- rows


def _prepare(documents: Sequence[PlanDocument], chunk_size: int, tokenizer: Tokenizer):
    chunks: list[Chunk] = []
    clauses: list[Clause] = []
    for doc in documents:
        c, cl = chunk_document(doc, chunk_size)
        chunks.extend(c)
        clauses.extend(cl)
    return chunks, clauses, [chunk_tokens(tokenizer, c.indexed_text) for c in chunks]


def _write_rows(index: MilvusIndex, documents: Sequence[PlanDocument], chunks: list[Chunk], clauses: list[Clause],
                tokens: list[list[str]], chunk_vecs: np.ndarray, chunk_keys: list[str], clause_vecs: np.ndarray,
                clause_keys: list[str], dims: dict[str, int], avgdl: float, lexical: str, seq: int) -> int:
    """Insert the documents' texts, chunks and clauses (not their catalog rows); returns the next seq."""
    filters = {d.doc_id: filter_values(d.metadata) for d in documents}
    clause_counts = Counter(cl.doc_id for cl in clauses)
    texts = {}
    by_doc_tokens: dict[str, list[list[str]]] = {d.doc_id: [] for d in documents}
    for c, toks in zip(chunks, tokens):
        by_doc_tokens[c.doc_id].append(toks)
    for d in documents:
        texts[f"text/{d.doc_id}"] = json.dumps({"text": d.text, "spans": [list(s) for s in d.spans],
                                                "page_starts": list(d.page_starts)}, ensure_ascii=False)
        toks = by_doc_tokens[d.doc_id]
        texts[f"stats/{d.doc_id}"] = json.dumps({
            "chunks": len(toks), "clauses": clause_counts[d.doc_id], "tokens": sum(len(t) for t in toks),
            "df": dict(term_chunk_counts(toks))}, ensure_ascii=False)
    index.write_texts(texts)
    spans = _clause_spans(clauses)
    rows = []
    for c, toks, vec, key in zip(chunks, tokens, chunk_vecs, chunk_keys):
        first, count = spans.get(c.chunk_id, (0, 0))
        row = {"chunk_id": c.chunk_id, "doc_id": c.doc_id, "seq": seq, "section": c.section, "start": c.start,
               "end": c.end, "header_chars": len(c.header), "n_tokens": len(toks), "indexed_text": c.indexed_text,
               "embed_sha": key, "clause_first": first, "clause_count": count, "vector": vec.tolist(),
               **filters[c.doc_id]}
        row["lexical"], row["bm25_norm"] = tf_weights(toks, dims, avgdl) if lexical == "sparse" else (None, 0.0)
        if row["lexical"] is None:
            del row["lexical"]  # Milvus's BM25 function fills it
        rows.append(row)
        seq += 1
    index.insert("chunks", rows)
    rows = []
    for cl, vec, key in zip(clauses, clause_vecs, clause_keys):
        rows.append({"clause_id": cl.clause_id, "chunk_id": cl.chunk_id, "doc_id": cl.doc_id, "seq": seq,
                     "start": cl.start, "end": cl.end, "sentence_start": cl.sentence_start,
                     "sentence_end": cl.sentence_end, "text": cl.text, "embed_sha": key, "vector": vec.tolist()})
        seq += 1
    index.insert("clauses", rows)
    return seq


def _clause_spans(clauses: Sequence[Clause]) -> dict[str, tuple[int, int]]:
    """chunk_id -> (the number of its first clause in its document, how many it has), checked against the
    clause ids that readers will rebuild from them (chunking.make_clause_id)."""
    spans: dict[str, tuple[int, int]] = {}
    n, doc_id = 0, None
    for cl in clauses:
        if cl.doc_id != doc_id:
            n, doc_id = 0, cl.doc_id
        if cl.clause_id != make_clause_id(cl.chunk_id, n):
            raise IndexWriteError(f"clause {cl.clause_id!r} is not its document's clause {n} in chunk "
                                  f"{cl.chunk_id!r}: the Milvus index reads clauses by id and needs chunk_document's "
                                  f"numbering")
        first, count = spans.get(cl.chunk_id, (n, 0))
        spans[cl.chunk_id] = (first, count + 1)
        n += 1
    return spans


def _catalog_rows(records: Sequence[DocumentRecord], documents: Sequence[PlanDocument], doc_seq: int) -> list[dict]:
    rows = []
    for i, (record, doc) in enumerate(zip(records, documents)):
        rows.append({"doc_id": record.doc_id, "seq": doc_seq + i, "record": record.to_dict(),
                     **filter_values(doc.metadata), "placeholder": PLACEHOLDER})
    return rows


# ---------------------------------------------------------------- full build


def build_milvus_index(documents: Sequence[PlanDocument], embedder, *, uri: str, index_dir, chunk_size: int = 300,
                       progress: bool = True, rebuild: bool = False, ignored: dict[str, str] | None = None,
                       deadline: float | None = None, lexical: str = "sparse", token: str | None = None,
                       pipeline_version: str | None = None, vectors: VectorSource | None = None
                       ) -> tuple[MilvusStore, dict]:
    """Build the whole index as a new generation and switch to it (the one before it is dropped by the next build).

    Vectors of unchanged text are taken from the previous generation (same embedder, unless `rebuild`) and
    from `vectors`: text sha256 -> vector by this same embedder, or a function giving that mapping for some
    doc_ids (e.g. a local index's, read a batch of documents at a time, when moving it to Milvus). Returns the new store and build statistics (counts, embedded vs reused texts, seconds)."""
    from ..store import PIPELINE_VERSION

    if lexical not in LEXICAL_MODES:
        raise SettingsError(f"unknown Milvus lexical mode {lexical!r}; choose one of {', '.join(LEXICAL_MODES)}")
    t0 = time.perf_counter()
    info: EmbedderInfo = embedder.info
    client = connect(uri, token=token)
    prefix = collection_prefix(index_dir)
    old_manifest = MilvusIndex.read_manifest(client, prefix)
    old_vectors: Callable[[Sequence[str]], Mapping[str, np.ndarray]] = lambda doc_ids: {}
    if old_manifest and old_manifest.get("generation") is not None and not rebuild \
            and old_manifest.get("embedder") == info.to_dict():
        from ..errors import IndexVersionError
        from .milvus import open_milvus_store

        try:
            old_store = open_milvus_store(uri, index_dir, token=token)
            old_vectors = partial(_old_vectors, old_store)
        except IndexVersionError as exc:  # an older format: its vectors are still worth hours of embedding
            log.info("previous Milvus index is of another format (%s): its vectors are read by filter", exc)
            old_index = MilvusIndex(client, prefix, int(old_manifest["generation"]))
            try:
                old_vectors = partial(_stored_vectors, old_index, _chunk_counts(old_index, old_manifest),
                                      numbered=False)
            except Exception as exc:  # noqa: BLE001 - an unreadable old index only means nothing to re-use
                log.info("previous Milvus index not re-used: %s", exc)
        except Exception as exc:  # noqa: BLE001 - an unreadable old index only means nothing to re-use
            log.info("previous Milvus index not re-used: %s", exc)
    generation = int((old_manifest or {}).get("generation") or 0) + 1

    from .local_write import CLAUSE_DTYPE, learn_terms

    tokenizer = Tokenizer(learn_terms(documents))  # as the local index learns them (in batches of text)
    documents = index_order(documents)  # and writes them: grouped by place
    given = (lambda doc_ids: {}) if rebuild or vectors is None else \
        vectors if callable(vectors) else (lambda doc_ids, v=vectors: v)
    dense_index = dense_index_for(_estimated_chunks(documents, chunk_size))
    index = MilvusIndex(client, prefix, generation)
    dims: dict[str, int] = {}  # token -> sparse dimension, in order of first use
    df: Counter = Counter()
    counts = {"chunks": 0, "clauses": 0, "tokens": 0, "reusable": 0}
    records: list[DocumentRecord] = []
    seq = 0
    # What it embeds is kept on disk until the switch, so a killed build resumes (rag/stores/write_embedding.py).
    embedding = WriteEmbedding(embedder, {}, index_dir=index_dir, backend="milvus", progress=progress,
                               deadline=deadline)
    try:
        index.create(info.dimension, lexical, dense_index)
        for docs, chunks, clauses in chunk_in_batches(documents, chunk_size, BUILD_BATCH_CHUNKS):
            # Vectors to re-use: given ones, and this batch's documents' in the generation being replaced.
            batch_ids = [d.doc_id for d in docs]
            cache = ChainMap(old_vectors(batch_ids), given(batch_ids))
            counts["reusable"] += len(cache.maps[0]) + len(cache.maps[1])
            chunk_texts, clause_texts = [c.indexed_text for c in chunks], [cl.text for cl in clauses]
            embed = embedding.segment(chunk_texts + clause_texts, previous=cache)
            chunk_vecs, chunk_keys = embed(chunk_texts)
            clause_vecs, clause_keys = embed(clause_texts)
            clause_vecs = _stored(clause_vecs, {"vectors": {"clauses": CLAUSE_DTYPE}})
            tokens = [chunk_tokens(tokenizer, c.indexed_text) for c in chunks]
            for toks in tokens:
                for t in toks:
                    dims.setdefault(t, len(dims))
            df.update(term_chunk_counts(tokens))
            counts["chunks"] += len(chunks)
            counts["clauses"] += len(clauses)
            counts["tokens"] += sum(len(t) for t in tokens)
            # tf-parts use the average length so far; exact BM25 re-scoring makes the final scores exact anyway
            seq = _write_rows(index, docs, chunks, clauses, tokens, chunk_vecs, chunk_keys, clause_vecs, clause_keys,
                              dims, counts["tokens"] / max(1, counts["chunks"]), lexical, seq)
            batch_records = records_of(docs, chunks)
            index.insert("documents", _catalog_rows(batch_records, docs, len(records)))
            records.extend(batch_records)
        embedding.close()
        bridge = build_bridge(df.keys(), df, n_docs=counts["chunks"])
        index.write_texts({"userdict": json.dumps(tokenizer.user_terms, ensure_ascii=False),
                           "bridge": json.dumps(bridge.to_json(), ensure_ascii=False)})
        index.insert("terms", [{"token": t, "tid": i, "df": df[t], "placeholder": PLACEHOLDER} for t, i in dims.items()])
        if dense_index != dense_index_for(counts["chunks"]):  # the estimate was on the wrong side of the limit
            dense_index = dense_index_for(counts["chunks"])
            index.reindex_vector("chunks", dense_index)
        avgdl = counts["tokens"] / counts["chunks"] if counts["chunks"] else 1.0
        manifest = {
            "format_version": MILVUS_FORMAT_VERSION, "backend": "milvus",
            "pipeline_version": pipeline_version or PIPELINE_VERSION, "created_at": _now(), "updated_at": _now(),
            "embedder": info.to_dict(), "chunk_size": chunk_size, "generation": generation, "prefix": prefix,
            "counts": {"documents": len(documents), "chunks": counts["chunks"], "clauses": counts["clauses"]},
            "lexical": {"mode": lexical, "k1": 1.5, "b": 0.75, "avgdl": avgdl, "tokens": counts["tokens"],
                        "next_tid": len(dims)},
            "dense_index": dense_index, "vectors": {"chunks": "float32", "clauses": CLAUSE_DTYPE},
            "userdict": "userdict", "bridge": "bridge", "revision": 0, "next_seq": seq,
            "next_doc_seq": len(documents), "ignored": dict(sorted((ignored or {}).items())), "pending": None,
        }
        embedding.finished()  # every vector is in Milvus: the embedding cache goes before the switch
        index.write_manifest(manifest)  # the switch: readers opening now get this generation
    except BaseException:
        embedding.close()
        index.drop()
        raise
    # The generation just replaced stays until the next build, for snapshots still reading it; older ones go.
    for old in MilvusIndex.generations(client, prefix):
        if old < generation - 1:
            MilvusIndex(client, prefix, old).drop()
    store = MilvusStore(index, uri, manifest, tokenizer, bridge, {r.doc_id: r for r in records})
    return store, {"documents": len(documents), "chunks": counts["chunks"], "clauses": counts["clauses"],
                   **embedding.stats(), "reusable_vectors": counts["reusable"],
                   "seconds": round(time.perf_counter() - t0, 2)}


def _estimated_chunks(documents: Sequence[PlanDocument], chunk_size: int) -> int:
    """About how many chunks the documents make (their clean text over the chunk size): picks the dense index."""
    return sum(max(1, sum(e - s for s, e in d.spans) // chunk_size) for d in documents)


def _stored(clause_vectors: np.ndarray, manifest: dict) -> np.ndarray:
    """Clause vectors at the precision the index keeps them (the local index's float16, as float32 values)."""
    dtype = manifest.get("vectors", {}).get("clauses", "float32")
    return clause_vectors if dtype == "float32" else clause_vectors.astype(dtype).astype(np.float32)
