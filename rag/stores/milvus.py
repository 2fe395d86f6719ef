"""The Milvus backend of `Store`: an index held in Milvus (a server, a cluster, or a Milvus Lite file).

    from rag.stores.milvus import open_milvus_store
    store = open_milvus_store("./indexes/default.milvus.db", Path("indexes/default"))   # or "http://host:19530"
    store.dense_search(vector, k=30, doc_ids={"shaoxing_2025_st_innovation_work_points"})

Everything a question needs runs in Milvus: dense search (FLAT inner product below ~50k chunks, HNSW above),
BM25 (sparse vectors of our own tokenizer's BM25 weights, scored by inner product, so the scores are the local
index's; or Milvus's own BM25 function with its jieba analyzer), filters (`doc_id in [...]`, and place/level/
province/city/kind/year scalars on every chunk row for a cluster's own filters), and chunks, clauses, texts
and term frequencies looked up by id. What is held in memory is small: the catalog (one record per document),
the tokenizer's user dictionary and the term bridge. Rows are read by primary key, never by a filter (Milvus
Lite scans every row for one). Builds are in rag/stores/milvus_write.py, per-document writes in
milvus_update.py, collections in milvus_collections.py, connecting in milvus_connect.py. Nothing is pickled:
rows are Milvus fields and JSON text.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Collection, Mapping, Sequence

import numpy as np

from ..bridge import TermBridge
from ..chunking import Chunk, Clause, make_chunk_id
from ..documents import PlanDocument
from ..encoders import LANGCHAIN_PREFIX, EmbedderInfo
from ..errors import EmbedderMismatchError, IndexCorruptError, IndexNotFoundError, IndexVersionError
from ..tokenize import Tokenizer
from .base import ClauseBlock, DocumentRecord, DocumentView
from .milvus_collections import MilvusIndex, clause_ids_of, quote_list
from .milvus_connect import collection_prefix, connect
from .sparse_bm25 import exact_score, idf, term_frequency

__all__ = ["MilvusStore", "open_milvus_store", "open_prefix", "latest", "MILVUS_FORMAT_VERSION", "LEXICAL_MODES",
           "check_embedder"]

# 3: chunks carry n_tokens and bm25_norm (exact BM25 re-scoring); builds in batches.
# 4: chunks carry clause_first and clause_count (clauses and a document's chunks are read by primary key).
MILVUS_FORMAT_VERSION = 4
# "sparse": BM25 weights of our tokenizer stored as sparse vectors (the local index's scores; the default).
# "milvus-bm25": Milvus's BM25 function with its jieba analyzer (server-side statistics, Milvus's tokens).
LEXICAL_MODES = ("sparse", "milvus-bm25")
# Searches ask Milvus for this many more hits than wanted, so that ties at the cut are broken by index order
# (the Store contract) rather than by whichever tied rows Milvus returned first.
TIE_MARGIN = 16
CHUNK_FIELDS = ["chunk_id", "doc_id", "seq", "section", "start", "end", "header_chars", "indexed_text", "clause_first",
                "clause_count"]
CLAUSE_FIELDS = ["clause_id", "chunk_id", "doc_id", "seq", "start", "end", "text", "sentence_start", "sentence_end",
                 "vector"]
CACHED_DOCUMENTS = 64
CACHED_CHUNKS = 4096
CACHED_CLAUSE_BLOCKS = 2048
CACHED_TERMS = 65_536


def chunk_of(row: dict) -> Chunk:
    text = row["indexed_text"]
    h = int(row["header_chars"])
    return Chunk(chunk_id=row["chunk_id"], doc_id=row["doc_id"], section=row["section"], start=int(row["start"]),
                 end=int(row["end"]), text=text[h + 1:], header=text[:h])


def clause_of(row: dict) -> Clause:
    return Clause(clause_id=row["clause_id"], chunk_id=row["chunk_id"], doc_id=row["doc_id"], start=int(row["start"]),
                  end=int(row["end"]), text=row["text"], sentence_start=int(row["sentence_start"]),
                  sentence_end=int(row["sentence_end"]))


def check_embedder(built_with: EmbedderInfo, expected: EmbedderInfo | None, where: str, rebuild: str) -> None:
    """Refuse an index built by another embedder, saying how to get a matching one."""
    if expected is None or built_with == expected:
        return
    found = (f"index {where} was built with embedder {built_with.name!r} ({built_with.dimension}-d) but the "
             f"configured embedder is {expected.name!r} ({expected.dimension}-d)")
    if expected.name.startswith(LANGCHAIN_PREFIX):
        raise EmbedderMismatchError(f"{found}; give these embeddings an index of their own "
                                    f"(Assistant.from_settings(index_dir=..., embedder=...)), or pass the embedder "
                                    f"this index was built with")
    raise EmbedderMismatchError(f"{found}; {rebuild} --embedder {expected.name}, or set the embedder back to "
                                f"{built_with.name!r}")


class _Lru(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class MilvusStore:
    """A snapshot of an index in Milvus: the catalog, tokenizer and bridge as of opening (or of the write that
    made it); rows are read by id when asked for. Safe to share between threads."""

    backend = "milvus"

    def __init__(self, index: MilvusIndex, uri: str, manifest: dict, tokenizer: Tokenizer, bridge: TermBridge,
                 catalog: Mapping[str, DocumentRecord]):
        self.index = index
        self.uri = uri
        self.manifest = manifest
        self.tokenizer = tokenizer
        self.bridge = bridge
        self.catalog = dict(catalog)
        self._lock = threading.Lock()
        self._documents = _Lru(CACHED_DOCUMENTS)
        self._chunks = _Lru(CACHED_CHUNKS)
        self._doc_chunks = _Lru(CACHED_DOCUMENTS)  # doc_id -> its chunks in document order
        self._clauses = _Lru(CACHED_CLAUSE_BLOCKS)  # chunk_id -> its clauses and their vectors (~12 kB each)
        self._clause_ids = _Lru(CACHED_CHUNKS)  # chunk_id -> the ids of its clauses
        self._terms = _Lru(CACHED_TERMS)  # token -> (sparse dimension, df) or None

    @property
    def path(self) -> str:
        return f"{self.uri} ({self.index.prefix})"

    @property
    def embedder(self) -> EmbedderInfo:
        return EmbedderInfo(**self.manifest["embedder"])

    @property
    def documents(self) -> Mapping[str, PlanDocument]:
        return DocumentView(self)

    @property
    def lexical(self) -> str:
        return self.manifest["lexical"]["mode"]

    # ------------------------------------------------------------ by id

    def document(self, doc_id: str) -> PlanDocument:
        record = self.catalog[doc_id]
        with self._lock:
            doc = self._documents.get(doc_id)
        if doc is None:
            raw = self.index.read_text(f"text/{doc_id}")
            if raw is None:
                raise IndexCorruptError(f"Milvus index {self.path} has no text for document {doc_id!r}; rebuild it "
                                        f"with `rag index --rebuild --vector-store milvus`")
            stored = json.loads(raw)
            doc = PlanDocument(doc_id=doc_id, source=record.source, text=stored["text"],
                               spans=tuple(tuple(s) for s in stored["spans"]), metadata=record.metadata,
                               sha256=record.sha256, sidecar_sha256=record.sidecar_sha256,
                               page_starts=tuple(int(p) for p in stored.get("page_starts", ())))
            with self._lock:
                self._documents.put(doc_id, doc)
        return doc

    def chunk_count(self) -> int:
        return int(self.manifest["counts"]["chunks"])

    def _read_chunks(self, chunk_ids: Sequence[str]) -> tuple[dict[str, Chunk], dict[str, list[str]]]:
        """These chunks (those of documents this snapshot knows) and their clauses' ids, read by id."""
        rows = [r for r in self.index.get("chunks", list(chunk_ids), CHUNK_FIELDS) if r["doc_id"] in self.catalog]
        chunks = {r["chunk_id"]: chunk_of(r) for r in rows}
        clause_ids = {r["chunk_id"]: clause_ids_of(r) for r in rows}
        with self._lock:
            for cid in chunks:
                self._chunks.put(cid, chunks[cid])
                self._clause_ids.put(cid, clause_ids[cid])
        return chunks, clause_ids

    def chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        with self._lock:
            found = {cid: self._chunks[cid] for cid in chunk_ids if cid in self._chunks}
        missing = list(dict.fromkeys(cid for cid in chunk_ids if cid not in found))
        if missing:
            found.update(self._read_chunks(missing)[0])
        return [found[cid] for cid in chunk_ids]  # KeyError for an unknown id, as the contract says

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        record = self.catalog.get(doc_id)
        if record is None:
            return []
        with self._lock:
            chunks = self._doc_chunks.get(doc_id)
        if chunks is None:
            ids = [make_chunk_id(doc_id, n) for n in range(record.chunks)]
            fresh = self._read_chunks(ids)[0]
            chunks = tuple(fresh[cid] for cid in ids if cid in fresh)
            with self._lock:
                self._doc_chunks.put(doc_id, chunks)
        return list(chunks)

    def clauses_of(self, chunk_ids: Sequence[str]) -> dict[str, ClauseBlock]:
        with self._lock:
            cached = {cid: self._clauses[cid] for cid in chunk_ids if cid in self._clauses}
        fresh = self._read_clauses([cid for cid in dict.fromkeys(chunk_ids) if cid not in cached])
        with self._lock:
            for cid, block in fresh.items():
                self._clauses.put(cid, block)
        return {cid: cached[cid] if cid in cached else fresh[cid] for cid in dict.fromkeys(chunk_ids)}

    def _read_clauses(self, wanted: list[str]) -> dict[str, ClauseBlock]:
        with self._lock:
            ids = {cid: self._clause_ids.get(cid) for cid in wanted}
        unknown = [cid for cid, got in ids.items() if got is None]
        if unknown:
            read = self._read_chunks(unknown)[1]
            ids.update({cid: read.get(cid, []) for cid in unknown})
        rows = self.index.get("clauses", [i for cid in wanted for i in ids[cid]], CLAUSE_FIELDS)
        by_chunk: dict[str, list[dict]] = {cid: [] for cid in wanted}
        for r in rows:
            by_chunk[r["chunk_id"]].append(r)
        dim = self.embedder.dimension
        out = {}
        for cid, group in by_chunk.items():
            group.sort(key=lambda r: r["seq"])
            vectors = np.asarray([r["vector"] for r in group], dtype=np.float32).reshape(len(group), dim)
            vectors.setflags(write=False)  # cached and shared between callers
            out[cid] = ([clause_of(r) for r in group], vectors)
        return out

    # ------------------------------------------------------------ searches

    def _doc_filter(self, doc_ids: Collection[str] | None) -> str | None:
        """The Milvus filter for `doc_ids`; "" for every document; None when none of them is indexed."""
        if doc_ids is None:
            return ""
        known = [d for d in self.catalog if d in doc_ids] if len(doc_ids) > 64 else \
            [d for d in doc_ids if d in self.catalog]
        if not known:
            return None
        return "" if len(known) == len(self.catalog) else f"doc_id in {quote_list(known)}"

    def _ranked(self, hits: list[dict], k: int, score) -> list[tuple[str, float]]:
        """Best first, ties in index order; hits of documents this snapshot does not know (a write in
        progress) are left out."""
        kept = [(h["entity"]["seq"], h["chunk_id"], score(h["distance"])) for h in hits
                if h["entity"]["doc_id"] in self.catalog]
        kept.sort(key=lambda t: (-t[2], t[0]))
        return [(cid, s) for _, cid, s in kept[:k]]

    def dense_search(self, vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None
                     ) -> list[tuple[str, float]]:
        expr = self._doc_filter(doc_ids)
        if expr is None or k < 1:
            return []
        dense = self.manifest["dense_index"]
        params = {"metric_type": "IP", "params": dict(dense.get("search_params", {}))}
        if dense["type"] == "HNSW":  # ef must cover the hits asked for
            params["params"]["ef"] = max(int(params["params"].get("ef", 64)), k + TIE_MARGIN)
        hits = self.index.search("chunks", np.asarray(vector, dtype=np.float32).ravel().tolist(), "vector",
                                 k + TIE_MARGIN, expr, ["seq", "doc_id"], params)
        return self._ranked(hits, k, float)

    def lexical_search(self, tokens: Sequence[str], k: int, doc_ids: Collection[str] | None = None
                       ) -> list[tuple[str, float]]:
        expr = self._doc_filter(doc_ids)
        if expr is None or k < 1 or not tokens:
            return []
        if self.lexical == "milvus-bm25":
            # Milvus analyses the query with the same jieba analyzer as the chunks; BM25 "distances" are the
            # scores (Milvus Lite reports them negated).
            hits = self.index.search("chunks", " ".join(tokens), "lexical", k + TIE_MARGIN, expr, ["seq", "doc_id"],
                                     {"metric_type": "BM25"})
            return self._ranked(hits, k, lambda d: abs(float(d)))
        n = self.chunk_count()
        lex = self.manifest["lexical"]
        self._load_terms(list(tokens))
        with self._lock:
            terms = [self._terms.get(t) for t in tokens]
        terms = [(tid, np.float32(idf(df, n))) for tid, df in (t for t in terms if t is not None) if df > 0]
        query: dict[int, float] = {}
        for tid, idf32 in terms:
            query[tid] = query.get(tid, 0.0) + float(idf32)
        if not query:
            return []
        # Milvus ranks with each row's own normalisation; the best hits are scored again exactly with the live
        # average length (sparse_bm25.exact_score).
        hits = self.index.search("chunks", query, "lexical", max(2 * k, k + TIE_MARGIN), expr,
                                 ["seq", "doc_id", "n_tokens", "bm25_norm", "lexical"], {"metric_type": "IP"})
        live_avgdl = float(lex["tokens"]) / n if n else 1.0
        idfs = [i for _, i in terms]
        rescored = []
        for h in hits:
            entity = h["entity"]
            length, weights, norm = int(entity["n_tokens"]), entity["lexical"], float(entity["bm25_norm"])
            tfs = [term_frequency(weights[tid], norm) if tid in weights else 0 for tid, _ in terms]
            rescored.append({"chunk_id": h["chunk_id"], "entity": entity,
                             "distance": exact_score(tfs, idfs, length, live_avgdl)})
        return self._ranked(rescored, k, float)

    # ------------------------------------------------------------ terms

    def _term(self, token: str) -> tuple[int, int] | None:
        self._load_terms([token])
        with self._lock:
            return self._terms.get(token)

    def _load_terms(self, tokens: Sequence[str]) -> None:
        with self._lock:
            missing = list(dict.fromkeys(t for t in tokens if t not in self._terms))
        if not missing:
            return
        found = {r["token"]: (int(r["tid"]), int(r["df"])) for r in self.index.get("terms", missing, ["token", "tid", "df"])}
        with self._lock:
            for t in missing:
                self._terms.put(t, found.get(t))

    def doc_freq(self, token: str) -> int:
        term = self._term(token)
        return term[1] if term else 0

    def prefetch_terms(self, tokens: Sequence[str]) -> None:
        """Look these tokens' frequencies up in one request (answering asks for many, one at a time)."""
        self._load_terms(list(tokens))


def _counts(tokens: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in tokens:
        out[t] = out.get(t, 0) + 1
    return out


def open_milvus_store(uri: str, index_dir: Path, *, expected_embedder: EmbedderInfo | None = None,
                      token: str | None = None) -> MilvusStore:
    """Open the index of `index_dir`'s name in Milvus at `uri`. Raises IndexNotFoundError (none there yet),
    IndexVersionError / IndexCorruptError (rebuild it), EmbedderMismatchError, VectorStoreUnavailableError."""
    return open_prefix(connect(uri, token=token), uri, collection_prefix(index_dir), expected_embedder,
                       f"--milvus-uri {uri} --index-dir {index_dir}")


def latest(store: MilvusStore) -> MilvusStore:
    """The index as it is now: `store` when nothing was written since it was opened, else a fresh snapshot
    (writes start from this, so an old snapshot never writes over a newer manifest)."""
    if MilvusIndex.read_manifest(store.index.client, store.index.prefix) == store.manifest:
        return store
    return open_prefix(store.index.client, store.uri, store.index.prefix, None, f"--milvus-uri {store.uri}")


def open_prefix(client, uri: str, prefix: str, expected_embedder: EmbedderInfo | None, flags: str) -> MilvusStore:
    where = f"{prefix} in Milvus at {uri}"
    rebuild = f"rebuild it with `rag index --rebuild --vector-store milvus {flags}`"
    try:
        manifest = MilvusIndex.read_manifest(client, prefix)
    except ValueError as exc:
        raise IndexCorruptError(f"index {where} has an unreadable manifest ({exc}); {rebuild}") from exc
    if manifest is None or manifest.get("generation") is None:
        raise IndexNotFoundError(f"no index {where}; build one with `rag index --vector-store milvus {flags}`")
    if manifest.get("format_version") != MILVUS_FORMAT_VERSION:
        raise IndexVersionError(f"index {where} has Milvus format version {manifest.get('format_version')}, this "
                                f"policy-rag reads {MILVUS_FORMAT_VERSION}; {rebuild}")
    check_embedder(EmbedderInfo(**manifest["embedder"]), expected_embedder, where, rebuild)
    index = MilvusIndex(client, prefix, int(manifest["generation"]))
    if not index.exists():
        raise IndexCorruptError(f"index {where} is missing collections of generation {index.generation}; {rebuild}")
    index.load()
    try:
        tokenizer = Tokenizer(json.loads(index.read_text(manifest.get("userdict", "userdict")) or "[]"))
        bridge = TermBridge.from_json(json.loads(index.read_text(manifest.get("bridge", "bridge")) or "{}"))
        rows = index.in_seq_windows("documents", int(manifest["next_doc_seq"]), ["doc_id", "seq", "record"])
        # Documents of an interrupted add or remove are not part of the index (the next write settles them).
        pending = set((manifest.get("pending") or {}).get("doc_ids", ()))
        catalog = {r["doc_id"]: DocumentRecord.from_dict(r["record"]) for r in sorted(rows, key=lambda r: r["seq"])
                   if r["doc_id"] not in pending}
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"index {where} is unreadable ({type(exc).__name__}: {exc}); {rebuild}") from exc
    if len(catalog) != manifest["counts"]["documents"] and not manifest.get("pending"):
        raise IndexCorruptError(f"index {where} is inconsistent ({len(catalog)} documents, the manifest says "
                                f"{manifest['counts']['documents']}); {rebuild}")
    return MilvusStore(index, uri, manifest, tokenizer, bridge, catalog)

