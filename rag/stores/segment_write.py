"""Writing segments (rag/stores/segments.py has the format): a new one from chunked, embedded, tokenised
documents, or one merged from the live rows of others (compaction), plus the ANN index a large one gets.

Rows are written as JSON lines with their byte offsets; vectors, offsets and postings as .npy (never pickled).
A segment is written into a folder that is not yet part of the index; the manifest names it only once every
file is complete (rag/stores/local_write.py).
"""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from ..chunking import Chunk, Clause
from ..documents import PlanDocument
from ..index_folder import file_sha
from .base import records_of
from .segments import ANN_MIN, SEGMENT_FILES, Segment, term_hash

__all__ = ["write_segment", "merge_segments", "ann_params", "build_ann", "segment_files"]


def ann_params(n: int, dim: int) -> dict:
    """IVF-PQ for n vectors: ~sqrt(n) lists (a power of two), 8-bit codes of dim/8-wide sub-vectors; the IVF
    candidates are re-ranked by exact inner product with the memory-mapped vectors."""
    nlist = 1 << min(16, max(6, int(round(math.log2(math.sqrt(n))))))
    m = next(m for m in (48, 32, 24, 16, 12, 8, 6, 4, 3, 2, 1) if dim % m == 0 and m <= max(1, dim // 4))
    return {"type": "IVF-PQ", "nlist": nlist, "pq_m": m, "pq_bits": 8, "nprobe": max(16, nlist // 32),
            "train_size": min(n, 40 * nlist), "rerank": "exact", "exact_max": ANN_MIN}


def build_ann(vectors: np.ndarray, params: dict):
    """Train and fill a segment's IVF-PQ index over its chunk vectors (ids = rows)."""
    import faiss

    n, dim = vectors.shape
    index = faiss.index_factory(dim, f"IVF{params['nlist']},PQ{params['pq_m']}x{params['pq_bits']}",
                                faiss.METRIC_INNER_PRODUCT)
    sample = np.sort(np.random.default_rng(0).choice(n, size=params["train_size"], replace=False))
    index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    for lo in range(0, n, 65536):  # a block at a time: the memory-mapped vectors are read once
        block = np.ascontiguousarray(vectors[lo:lo + 65536], dtype=np.float32)
        index.add_with_ids(block, np.arange(lo, lo + len(block), dtype=np.int64))
    return index


def _ann_for(folder: Path, n: int, dim: int, vectors: np.ndarray | None = None) -> dict:
    """A segment of ANN_MIN chunks or more gets an IVF-PQ index (ann.faiss); a smaller one is searched exactly.
    Its chunk vectors are `vectors` when the writer still holds them, else read memory-mapped."""
    if n < ANN_MIN:
        return {"type": "flat"}
    import faiss

    params = ann_params(n, dim)
    if vectors is None:
        vectors = np.load(folder / "chunk_vectors.npy", mmap_mode="r")
    faiss.write_index(build_ann(vectors, params), str(folder / "ann.faiss"))
    return params


def segment_files(folder: Path, entry: dict) -> dict[str, tuple[str, int]]:
    """leaf name -> (sha256, bytes) of a written segment's files."""
    leaves = [f for f in SEGMENT_FILES if f != "ann.faiss" or entry["ann"]["type"] != "flat"]
    return {leaf: (file_sha(folder / leaf), (folder / leaf).stat().st_size) for leaf in leaves}


def _save_rows(folder: Path, name: str, lines: Iterable[str], write_jsonl) -> None:
    """Rows as JSON lines and their byte offsets. `lines` may be a generator: a 100k-chunk segment's 745k clause
    rows are written as they are made, not held as one list (~450 MB)."""
    sizes: list[int] = []

    def counted():
        for line in lines:
            sizes.append(len(line.encode("utf-8")))
            yield line

    write_jsonl(folder / f"{name}.jsonl", counted())
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    if sizes:
        offsets[1:] = np.cumsum(sizes)
    np.save(folder / f"{name}.offsets.npy", offsets, allow_pickle=False)


def _lines(rows) -> Iterator[str]:
    return (json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _save_vectors(path: Path, vectors: np.ndarray, dtype: str) -> None:
    """np.save's file, converted and written a block at a time: a whole converted copy of a segment's vectors
    would be hundreds of MB at once. Written through the file, not a memory map, whose dirty pages would count
    in the writer's memory."""
    with path.open("wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                 "fortran_order": False, "shape": vectors.shape})
        for lo in range(0, len(vectors), 65536):
            f.write(np.ascontiguousarray(vectors[lo:lo + 65536], dtype=dtype).tobytes())


def write_segment(folder: Path, documents: Sequence[PlanDocument], chunks: Sequence[Chunk], clauses: Sequence[Clause],
                  chunk_vectors: np.ndarray, clause_vectors: np.ndarray, tokens: Sequence[Sequence[str]],
                  chunk_shas: Sequence[str], clause_shas: Sequence[str], *, clause_dtype: str,
                  write_jsonl: Callable[[Path, Iterable[str]], None]) -> dict:
    """Write a segment into the empty folder `folder`. Chunks come document by document and clauses chunk by
    chunk, in document order. Returns its manifest entry (less its name and files)."""
    per_doc = Counter(c.doc_id for c in chunks)
    _save_rows(folder, "documents", _lines(
        {"doc_id": d.doc_id, "source": d.source, "sha256": d.sha256, "sidecar_sha256": d.sidecar_sha256,
         "metadata": d.metadata.to_dict(), "spans": [list(s) for s in d.spans], "page_starts": list(d.page_starts),
         "text": d.text} for d in documents), write_jsonl)
    write_jsonl(folder / "records.jsonl", _lines(r.to_dict() for r in records_of(documents, chunks)))
    # vars(): Chunk and Clause hold plain fields, and dataclasses.asdict's deep copy took a third of the writing
    _save_rows(folder, "chunks", _lines({**vars(c), "embed_sha": s} for c, s in zip(chunks, chunk_shas)), write_jsonl)
    _save_rows(folder, "clauses", _lines({**vars(c), "embed_sha": s} for c, s in zip(clauses, clause_shas)),
               write_jsonl)
    doc_chunks = np.zeros(len(documents) + 1, dtype=np.int64)
    doc_chunks[1:] = np.cumsum([per_doc[d.doc_id] for d in documents])
    per_chunk = Counter(cl.chunk_id for cl in clauses)
    chunk_clauses = np.zeros(len(chunks) + 1, dtype=np.int64)
    chunk_clauses[1:] = np.cumsum([per_chunk[c.chunk_id] for c in chunks])
    np.save(folder / "doc_chunks.npy", doc_chunks, allow_pickle=False)
    np.save(folder / "chunk_clauses.npy", chunk_clauses, allow_pickle=False)
    _save_vectors(folder / "chunk_vectors.npy", chunk_vectors, "float32")
    _save_vectors(folder / "clause_vectors.npy", clause_vectors, clause_dtype)
    keys, rows, tfs = _postings(tokens)
    _save_postings(folder, keys, rows, tfs, np.array([len(t) for t in tokens], dtype=np.int32))
    dim = chunk_vectors.shape[1] if chunk_vectors.ndim == 2 else clause_vectors.shape[1]
    return {"documents": len(documents), "chunks": len(chunks), "clauses": len(clauses),
            "tokens": int(sum(len(t) for t in tokens)), "ann": _ann_for(folder, len(chunks), dim, chunk_vectors)}


def _postings(tokens: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(term hash, chunk row, term frequency) of every (term, chunk) pair, rows ascending. Collected in typed
    arrays: ~5M pairs at 100k chunks would be ~500 MB as lists of Python ints."""
    vocab: dict[str, int] = {}
    tids, rows, tfs = array("q"), array("i"), array("f")
    for row, toks in enumerate(tokens):
        for tok, tf in Counter(toks).items():
            tids.append(vocab.setdefault(tok, len(vocab)))
            rows.append(row)
            tfs.append(tf)
    hashes = np.array([term_hash(t) for t in vocab], dtype=np.int64)
    if len(np.unique(hashes)) != len(hashes):  # pragma: no cover - ~1e-8 likely among a million terms
        raise ValueError("two terms of one segment share a 64-bit hash")
    keys = hashes[np.frombuffer(tids, dtype=np.int64)] if tids else np.zeros(0, dtype=np.int64)
    return keys, np.frombuffer(rows, dtype=np.int32), np.frombuffer(tfs, dtype=np.float32)


def _save_postings(folder: Path, keys: np.ndarray, rows: np.ndarray, tfs: np.ndarray, lengths: np.ndarray) -> None:
    """Postings grouped by term hash (sorted), rows ascending within a term (the input's rows ascend)."""
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    terms, starts = np.unique(keys, return_index=True)
    np.save(folder / "terms.npy", terms.astype(np.int64), allow_pickle=False)
    np.save(folder / "term_postings.npy", np.append(starts, len(keys)).astype(np.int64), allow_pickle=False)
    np.save(folder / "post_rows.npy", rows[order].astype(np.int32), allow_pickle=False)
    np.save(folder / "post_tf.npy", tfs[order].astype(np.float32), allow_pickle=False)
    np.save(folder / "chunk_tokens.npy", lengths.astype(np.int32), allow_pickle=False)


def merge_segments(folder: Path, parts: Sequence[tuple[Segment, set[str]]], *,
                   write_jsonl: Callable[[Path, Iterable[str]], None]) -> dict:
    """Write into the empty `folder` one segment holding the live documents of `parts` ((segment, its removed
    doc ids)), in their order: rows and vectors are copied as they are, postings re-numbered. Returns its
    manifest entry (less its name and files)."""
    docs, records, chunk_lines, clause_lines = [], [], [], []
    chunk_sel, clause_sel, doc_sizes, clause_sizes = [], [], [], []
    for seg, dead in parts:
        keep_chunks = np.zeros(seg.size, dtype=bool)
        keep_clauses = np.zeros(len(seg.clause_rows), dtype=bool)
        for row, rec in enumerate(seg.records):
            if rec.doc_id in dead:
                continue
            lo, hi = int(seg.doc_chunks[row]), int(seg.doc_chunks[row + 1])
            clo, chi = int(seg.chunk_clauses[lo]), int(seg.chunk_clauses[hi])
            keep_chunks[lo:hi] = True
            keep_clauses[clo:chi] = True
            docs.append(seg.documents.raw(row, row + 1).decode("utf-8"))
            records.append(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
            chunk_lines += seg.chunk_rows.raw(lo, hi).decode("utf-8").splitlines(keepends=True)
            clause_lines += seg.clause_rows.raw(clo, chi).decode("utf-8").splitlines(keepends=True)
            doc_sizes.append(hi - lo)
            clause_sizes += np.diff(np.asarray(seg.chunk_clauses[lo:hi + 1])).tolist()
        chunk_sel.append(keep_chunks)
        clause_sel.append(keep_clauses)
    _save_rows(folder, "documents", docs, write_jsonl)
    write_jsonl(folder / "records.jsonl", records)
    _save_rows(folder, "chunks", chunk_lines, write_jsonl)
    _save_rows(folder, "clauses", clause_lines, write_jsonl)
    np.save(folder / "doc_chunks.npy", np.concatenate([[0], np.cumsum(doc_sizes, dtype=np.int64)]).astype(np.int64),
            allow_pickle=False)
    np.save(folder / "chunk_clauses.npy",
            np.concatenate([[0], np.cumsum(clause_sizes, dtype=np.int64)]).astype(np.int64), allow_pickle=False)
    n, m = int(sum(k.sum() for k in chunk_sel)), int(sum(k.sum() for k in clause_sel))
    dim = parts[0][0].chunk_vectors.shape[1]
    for name, sel, attr in (("chunk_vectors.npy", chunk_sel, "chunk_vectors"),
                            ("clause_vectors.npy", clause_sel, "clause_vectors")):
        dtype = getattr(parts[0][0], attr).dtype
        out = np.lib.format.open_memmap(folder / name, mode="w+", dtype=dtype, shape=(n if attr == "chunk_vectors" else m, dim))
        at = 0
        for (seg, _), keep in zip(parts, sel):
            src = getattr(seg, attr)
            for lo in range(0, len(keep), 65536):  # a block at a time
                block = np.asarray(src[lo:lo + 65536])[keep[lo:lo + 65536]]
                out[at:at + len(block)] = block
                at += len(block)
        out.flush()
        del out
    keys, rows, tfs, lengths, base = [], [], [], [], 0
    for (seg, _), keep in zip(parts, chunk_sel):
        new_row = np.cumsum(keep) - 1 + base  # old row -> new row (for live rows)
        seg_keys = np.repeat(np.asarray(seg.terms), np.diff(np.asarray(seg.term_postings)))
        seg_rows = np.asarray(seg.post_rows)
        live = keep[seg_rows]
        keys.append(seg_keys[live])
        rows.append(new_row[seg_rows[live]])
        tfs.append(np.asarray(seg.post_tf)[live])
        lengths.append(np.asarray(seg.chunk_tokens)[keep])
        base += int(keep.sum())
    # Rows of a later part are all greater, and rows ascend within a term in each part: a stable sort by term
    # keeps them ascending.
    all_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    order = np.lexsort((all_rows, np.concatenate(keys)))
    _save_postings(folder, np.concatenate(keys)[order], all_rows[order], np.concatenate(tfs)[order],
                   np.concatenate(lengths))
    return {"documents": len(records), "chunks": n, "clauses": m, "tokens": int(np.concatenate(lengths).sum()),
            "ann": _ann_for(folder, n, dim)}
