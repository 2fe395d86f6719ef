"""Per-document writes to a Milvus index: add (or replace) and remove documents touching only their own rows
and their terms' document frequencies, and `sync_milvus_index`, which brings an index up to date with a folder
of documents by the local index's rule (rag/stores/local_update.py).

An add or remove records what it is doing in the manifest first ("pending"); if it is interrupted, the next
write finishes a remove or rolls an add back, so a crash leaves the index as before or after the change.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Sequence

from ..bridge import build_bridge, merged_bridge
from ..chunking import make_chunk_id
from ..documents import PlanDocument
from ..tokenize import Tokenizer
from .base import records_of
from .milvus import MilvusStore, check_embedder, latest
from .milvus_collections import CLAUSE_SPAN_FIELDS, PLACEHOLDER, MilvusIndex, clause_ids_of
from .milvus_write import (FLAT_MAX_CHUNKS, _catalog_rows, _now, _old_vectors, _prepare, _stored, _write_rows,
                           build_milvus_index, dense_index_for)
from .sparse_bm25 import term_chunk_counts
from .write_embedding import WriteEmbedding

__all__ = ["add_documents", "remove_documents", "recover", "sync_milvus_index"]

log = logging.getLogger(__name__)


def _stats_of(index: MilvusIndex, doc_id: str) -> dict:
    raw = index.read_text(f"stats/{doc_id}")
    return json.loads(raw) if raw else {"chunks": 0, "clauses": 0, "tokens": 0, "df": {}}


def _apply_df(index: MilvusIndex, delta: Counter) -> None:
    """Add `delta` to the df of these terms (their rows exist: a build or an add wrote them first)."""
    tokens = [t for t, d in delta.items() if d]
    rows = index.get("terms", tokens, ["token", "tid", "df"])
    index.upsert("terms", [{"token": r["token"], "tid": int(r["tid"]), "df": max(0, int(r["df"]) + delta[r["token"]]),
                            "placeholder": PLACEHOLDER} for r in rows])


def _delete_rows(index: MilvusIndex, doc_ids: Sequence[str]) -> None:
    """Delete the documents' rows by primary key (Milvus Lite answers a delete by filter by scanning every row
    of the collection): their chunks' ids from their chunk counts, their clauses' from the chunk rows. Clauses
    go first and texts last, so an interrupted delete, done again, still finds what is left."""
    chunk_ids = [make_chunk_id(d, n) for d in doc_ids for n in range(int(_stats_of(index, d)["chunks"]))]
    index.delete_ids("clauses", [i for r in index.get("chunks", chunk_ids, CLAUSE_SPAN_FIELDS) for i in clause_ids_of(r)])
    index.delete_ids("chunks", chunk_ids)
    index.delete_ids("documents", list(doc_ids))
    index.delete_texts([f"{p}/{d}" for d in doc_ids for p in ("text", "stats")])


def recover(store: MilvusStore) -> MilvusStore:
    """Finish an interrupted remove, or roll back an interrupted add (see the module docstring)."""
    manifest = store.manifest
    pending = manifest.get("pending")
    if not pending:
        return store
    index, doc_ids = store.index, pending["doc_ids"]
    log.warning("Milvus index %s: completing an interrupted %s of %d document(s)", index.prefix, pending["op"],
                len(doc_ids))
    manifest = json.loads(json.dumps(manifest))
    if pending["op"] == "add":
        if pending["terms_applied"]:
            delta = Counter()
            for d in doc_ids:
                delta.subtract(_stats_of(index, d)["df"])
            _apply_df(index, delta)
        _delete_rows(index, doc_ids)
        index.delete_texts(pending.get("blobs", ()))
    else:
        if not pending["terms_applied"]:
            delta = Counter()
            for d in doc_ids:
                delta.subtract(_stats_of(index, d)["df"])
            _apply_df(index, delta)
        _delete_rows(index, doc_ids)
        _count(manifest, pending["delta"], -1)
    manifest.update(pending=None, revision=int(manifest.get("revision", 0)) + 1)
    index.write_manifest(manifest)
    catalog = {k: v for k, v in store.catalog.items() if k not in set(doc_ids)}
    return MilvusStore(index, store.uri, manifest, store.tokenizer, store.bridge, catalog)


def _count(manifest: dict, delta: dict, sign: int) -> None:
    for key in ("documents", "chunks", "clauses"):
        manifest["counts"][key] += sign * delta[key]
    manifest["lexical"]["tokens"] += sign * delta["tokens"]


def remove_documents(store: MilvusStore, doc_ids: Sequence[str]) -> tuple[MilvusStore, dict]:
    """Delete these documents' rows and take their terms out of the document frequencies."""
    t0 = time.perf_counter()
    store = recover(latest(store))
    doc_ids = [d for d in dict.fromkeys(doc_ids) if d in store.catalog]
    if not doc_ids:
        return store, {"documents": 0, "chunks": 0, "clauses": 0, "seconds": 0.0}
    index = store.index
    stats = {d: _stats_of(index, d) for d in doc_ids}
    delta = {"documents": len(doc_ids), "chunks": sum(s["chunks"] for s in stats.values()),
             "clauses": sum(s["clauses"] for s in stats.values()), "tokens": sum(s["tokens"] for s in stats.values())}
    manifest = json.loads(json.dumps(store.manifest))
    manifest["pending"] = {"op": "remove", "doc_ids": doc_ids, "terms_applied": False, "delta": delta}
    index.write_manifest(manifest)
    df = Counter()
    for s in stats.values():
        df.subtract(s["df"])
    _apply_df(index, df)
    manifest["pending"]["terms_applied"] = True
    index.write_manifest(manifest)
    _delete_rows(index, doc_ids)
    _count(manifest, delta, -1)
    manifest.update(pending=None, revision=int(manifest.get("revision", 0)) + 1, updated_at=_now())
    index.write_manifest(manifest)
    catalog = {k: v for k, v in store.catalog.items() if k not in set(doc_ids)}
    return (MilvusStore(index, store.uri, manifest, store.tokenizer, store.bridge, catalog),
            {**{k: delta[k] for k in ("documents", "chunks", "clauses")}, "seconds": round(time.perf_counter() - t0, 2)})


def add_documents(store: MilvusStore, documents: Sequence[PlanDocument], embedder, *, remove: Sequence[str] = (),
                  ignored: dict[str, str] | None = None, progress: bool = True, deadline: float | None = None,
                  index_dir: Path | None = None) -> tuple[MilvusStore, dict]:
    """Add (or replace, by doc_id) documents and remove `remove`, writing only their rows and their terms' df.

    As the local index does (rag/stores/local_update.py): a document added again unchanged is left as it is; the
    added documents' indicator terms join the tokenizer's dictionary (earlier chunks keep their tokens), and
    their terms the index never had join the term bridge. With `index_dir` (the settings' index folder, whose
    name the collections carry), what it embeds is kept beside that folder until the commit, so an add that
    is killed or times out re-uses it the next time, as a build does (rag/stores/write_embedding.py)."""
    from .local_write import learn_terms

    t0 = time.perf_counter()
    check_embedder(store.embedder, embedder.info, store.path, "rebuild it with `rag index --rebuild --vector-store milvus`")
    store = recover(latest(store))
    current = store
    documents = [d for d in {d.doc_id: d for d in documents}.values()
                 if (r := current.catalog.get(d.doc_id)) is None
                 or (r.sha256, r.sidecar_sha256, r.source) != (d.sha256, d.sidecar_sha256, d.source)]
    replaced = [d.doc_id for d in documents if d.doc_id in current.catalog]
    removing = list(dict.fromkeys([d for d in remove if d in current.catalog] + replaced))
    tokenizer, bridge = current.tokenizer, current.bridge
    chunks, clauses, tokens, df = [], [], [], Counter()
    embedding = None
    if documents:
        learned = set(learn_terms(documents)) - set(tokenizer.user_terms)
        if learned:
            tokenizer = Tokenizer(sorted(set(tokenizer.user_terms) | learned))
        cache = _old_vectors(current, replaced)
        chunks, clauses, tokens = _prepare(documents, int(current.manifest["chunk_size"]), tokenizer)
        embedding = WriteEmbedding(embedder, cache, index_dir=index_dir, backend="milvus", progress=progress,
                                   deadline=deadline)
        chunk_texts, clause_texts = [c.indexed_text for c in chunks], [cl.text for cl in clauses]
        try:
            embed = embedding.segment(chunk_texts + clause_texts)
            chunk_vecs, chunk_keys = embed(chunk_texts)  # in the local index's order and batches: the same vectors
            clause_vecs, clause_keys = embed(clause_texts)
        finally:
            embedding.close()
        clause_vecs = _stored(clause_vecs, current.manifest)
        df = term_chunk_counts(tokens)
        current.prefetch_terms(list(df))  # one request for all of them, not one each
        fresh = [t for t in df if current.doc_freq(t) == 0]
        if fresh:  # terms the index never had: what English words reach them is learnt now
            live = int(current.manifest["counts"]["chunks"]) + len(chunks)
            bridge = merged_bridge(bridge, build_bridge(fresh, df, n_docs=live))
    # Removals first, committed on their own; only now that the new text is embedded, so a failed embedding
    # leaves the old versions in place.
    if removing:
        store, _ = remove_documents(store, removing)
    index = store.index
    manifest = json.loads(json.dumps(store.manifest))
    if ignored is not None:
        manifest["ignored"] = dict(sorted(ignored.items()))
    if not documents:
        if ignored is not None:
            index.write_manifest(manifest)
        return (MilvusStore(index, store.uri, manifest, store.tokenizer, store.bridge, store.catalog),
                {**_counts(manifest), "added": 0, "removed": len(removing), "embedded": 0, "reused": 0,
                 "seconds": round(time.perf_counter() - t0, 2)})
    lex = manifest["lexical"]
    doc_ids = [d.doc_id for d in documents]
    revision = int(manifest.get("revision", 0)) + 1
    blobs = {}
    if tokenizer is not current.tokenizer:
        blobs["userdict"] = json.dumps(tokenizer.user_terms, ensure_ascii=False)
    if bridge is not current.bridge:
        blobs["bridge"] = json.dumps(bridge.to_json(), ensure_ascii=False)
    manifest["pending"] = {"op": "add", "doc_ids": doc_ids, "terms_applied": False,
                           "blobs": [f"{k}@{revision}" for k in blobs]}
    index.write_manifest(manifest)
    index.write_texts({f"{k}@{revision}": v for k, v in blobs.items()})
    known = {r["token"]: int(r["tid"]) for r in index.get("terms", list(df), ["token", "tid"])}
    new = [t for t in df if t not in known]
    # New terms' dimensions are fixed (and recorded) before any row refers to them.
    dims = {**known, **{t: lex["next_tid"] + i for i, t in enumerate(new)}}
    lex["next_tid"] += len(new)
    index.write_manifest(manifest)
    added_tokens = int(sum(len(t) for t in tokens))
    avgdl = (lex["tokens"] + added_tokens) / (manifest["counts"]["chunks"] + len(chunks))  # tf-parts: as in a build
    next_seq = _write_rows(index, documents, chunks, clauses, tokens, chunk_vecs, chunk_keys, clause_vecs, clause_keys,
                           dims, avgdl, lex["mode"], int(manifest["next_seq"]))
    index.upsert("terms", [{"token": t, "tid": dims[t], "df": 0, "placeholder": PLACEHOLDER} for t in new])
    _apply_df(index, df)
    manifest["pending"]["terms_applied"] = True
    index.write_manifest(manifest)
    records = records_of(documents, chunks)
    index.insert("documents", _catalog_rows(records, documents, int(manifest["next_doc_seq"])))
    delta = {"documents": len(documents), "chunks": len(chunks), "clauses": len(clauses), "tokens": added_tokens}
    _count(manifest, delta, +1)
    if manifest["dense_index"]["type"] == "FLAT" and manifest["counts"]["chunks"] >= FLAT_MAX_CHUNKS:
        manifest["dense_index"] = dense_index_for(manifest["counts"]["chunks"])
        index.reindex_vector("chunks", manifest["dense_index"])
    old_blobs = [manifest.get(k, k) for k in blobs]
    manifest.update({k: f"{k}@{revision}" for k in blobs})
    manifest.update(next_seq=next_seq, next_doc_seq=int(manifest["next_doc_seq"]) + len(documents), pending=None,
                    revision=revision, updated_at=_now())
    embedding.finished()  # every vector is in Milvus: the embedding cache goes before the commit
    index.write_manifest(manifest)  # the commit
    index.delete_texts(old_blobs)
    catalog = {**store.catalog, **{r.doc_id: r for r in records}}
    return (MilvusStore(index, store.uri, manifest, tokenizer, bridge, catalog),
            {**_counts(manifest), "added": len(documents), "removed": len(removing), "replaced": len(replaced),
             **embedding.stats(), "seconds": round(time.perf_counter() - t0, 2)})


def _counts(manifest: dict) -> dict:
    return {k: int(manifest["counts"][k]) for k in ("documents", "chunks", "clauses")}


def sync_milvus_index(documents: Sequence[PlanDocument], embedder, *, uri: str, index_dir, chunk_size: int = 300,
                      progress: bool = True, rebuild: bool = False, ignored: dict[str, str] | None = None,
                      deadline: float | None = None, lexical: str = "sparse", token: str | None = None,
                      vectors=None, upgrade: bool = True) -> dict:
    """Make the Milvus index hold exactly `documents`, with the local index's rule (rag/stores/local_update.py
    sync_index): only changed documents are written, unless a full build is due (no index, `rebuild`, another
    chunk size or lexical mode, another pipeline version unless not `upgrade`, or REBUILD_SHARE of the
    documents changed)."""
    from ..errors import EmbedderMismatchError, IndexCorruptError, IndexNotFoundError
    from ..store import PIPELINE_VERSION
    from .local_update import REBUILD_SHARE
    from .milvus import open_milvus_store

    def full() -> dict:
        return build_milvus_index(documents, embedder, uri=uri, index_dir=index_dir, chunk_size=chunk_size,
                                  progress=progress, rebuild=rebuild, ignored=ignored, deadline=deadline,
                                  lexical=lexical, token=token, vectors=vectors)[1]

    try:
        current = None if rebuild else open_milvus_store(uri, index_dir, expected_embedder=embedder.info, token=token)
    except (IndexNotFoundError, IndexCorruptError, EmbedderMismatchError):  # IndexVersionError is an IndexCorruptError
        current = None
    if current is None or current.manifest.get("chunk_size") != chunk_size \
            or (upgrade and current.manifest.get("pipeline_version") != PIPELINE_VERSION) or current.lexical != lexical:
        return full()
    wanted = {d.doc_id: d for d in documents}
    changed = [d for d in wanted.values() if (r := current.catalog.get(d.doc_id)) is None
               or (r.sha256, r.sidecar_sha256, r.source) != (d.sha256, d.sidecar_sha256, d.source)]
    removed = [d for d in current.catalog if d not in wanted]
    if len(changed) + len(removed) >= REBUILD_SHARE * max(1, len(wanted)):
        return full()
    if not changed and not removed and (ignored is None or ignored == current.manifest.get("ignored")):
        return {**_counts(current.manifest), "embedded": 0, "reused": 0, "seconds": 0.0}
    _, stats = add_documents(current, changed, embedder, remove=removed, ignored=ignored, progress=progress,
                             deadline=deadline, index_dir=index_dir)
    return stats


