"""One segment of a local index: the documents one write added, immutable once committed, read by id from disk.

    segments/seg-000001/
      records.jsonl                     one DocumentRecord per document: the catalog, read when the index opens
      documents.jsonl  chunks.jsonl  clauses.jsonl   rows read by number through *.offsets.npy (byte offsets)
      doc_chunks.npy   int64 (documents + 1): document i's chunks are rows doc_chunks[i] : doc_chunks[i + 1]
      chunk_clauses.npy int64 (chunks + 1): chunk j's clauses are rows chunk_clauses[j] : chunk_clauses[j + 1]
      chunk_vectors.npy float32 (chunks, d)    clause_vectors.npy float16 (clauses, d)   memory-mapped
      terms.npy int64 sorted term hashes; term_postings.npy int64 (terms + 1); post_rows.npy int32 chunk rows;
      post_tf.npy float32 term frequencies; chunk_tokens.npy int32: each chunk's BM25 length
      ann.faiss         an IVF-PQ index over chunk_vectors (ids = chunk rows), only in segments of >= ANN_MIN chunks

Writing (a new segment, or a merge of segments) is rag/stores/segment_write.py's job. Every array is opened
memory-mapped: opening a segment reads its records and nothing else. BM25 keeps raw
term frequencies (not scores), so each question is scored with the index's live N, document frequencies
and average length: adding a segment or a tombstone changes IDF everywhere without rewriting anything.
"""

from __future__ import annotations

import hashlib
import json
import mmap
from collections import Counter
from pathlib import Path
import numpy as np

from ..chunking import Chunk, Clause
from ..documents import DocumentMetadata, PlanDocument
from .base import DocumentRecord

__all__ = ["Segment", "term_hash", "SEGMENT_FILES", "K1", "B", "EMPTY_TOKEN", "ANN_MIN", "bm25_values", "chunk_of",
           "clause_of", "document_of"]

K1, B = 1.5, 0.75  # bm25s's defaults ("lucene" variant); the scores equal bm25s's for the same corpus
EMPTY_TOKEN = "∅"  # a chunk with no content token is indexed as this one token
ANN_MIN = 50_000  # below this many chunks a segment is searched exactly (flat); from it on with IVF-PQ
SEGMENT_FILES = ("records.jsonl", "documents.jsonl", "documents.offsets.npy", "chunks.jsonl", "chunks.offsets.npy",
                 "clauses.jsonl", "clauses.offsets.npy", "doc_chunks.npy", "chunk_clauses.npy", "chunk_vectors.npy",
                 "clause_vectors.npy", "terms.npy", "term_postings.npy", "post_rows.npy", "post_tf.npy",
                 "chunk_tokens.npy", "ann.faiss")


def term_hash(token: str) -> int:
    """A token's 64-bit id (collisions are ~1e-8 likely among a million distinct tokens)."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


def bm25_values(tf: np.ndarray, lengths: np.ndarray, idf32: np.float32, avgdl: float) -> np.ndarray:
    """bm25s's "lucene" score of one term in these chunks, with its operations and dtypes (float64, stored
    float32), so a one-segment index scores exactly as bm25s did."""
    tf64 = tf.astype(np.float64)
    tfc = tf64 / (K1 * ((1 - B) + B * lengths.astype(np.float64) / np.float64(avgdl)) + tf64)
    return (idf32 * tfc).astype(np.float32)


# ---------------------------------------------------------------- reading


class _Rows:
    """Rows of a JSONL file read by number: byte offsets in a .npy, the file memory-mapped."""

    def __init__(self, folder: Path, name: str):
        self.offsets = np.load(folder / f"{name}.offsets.npy", mmap_mode="r", allow_pickle=False)
        size = int(self.offsets[-1])
        with (folder / f"{name}.jsonl").open("rb") as f:
            if f.seek(0, 2) != size:
                raise ValueError(f"{name}.jsonl is {f.tell()} bytes, its offsets say {size}")
            self._data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def get(self, i: int) -> dict:
        return json.loads(self._data[int(self.offsets[i]):int(self.offsets[i + 1])])

    def raw(self, lo: int, hi: int) -> bytes:
        """Rows lo:hi as the bytes on disk (JSON lines), for copying them into another segment."""
        return bytes(self._data[int(self.offsets[lo]):int(self.offsets[hi])]) if hi > lo else b""

    def range(self, lo: int, hi: int) -> list[dict]:
        if hi <= lo:
            return []
        blob = self._data[int(self.offsets[lo]):int(self.offsets[hi])].decode("utf-8")
        return [json.loads(line) for line in blob.splitlines()]


def _load(folder: Path, name: str) -> np.ndarray:
    # A plain ndarray over the memory map: slicing a np.memmap runs Python code (its __getitem__ and
    # __array_finalize__, ~2 us), and a question at 1M chunks slices these arrays ~300 times.
    return np.asarray(np.load(folder / name, mmap_mode="r", allow_pickle=False))


def chunk_of(row: dict) -> Chunk:
    return Chunk(row["chunk_id"], row["doc_id"], row["section"], int(row["start"]), int(row["end"]), row["text"],
                 row["header"])


def clause_of(row: dict) -> Clause:
    return Clause(row["clause_id"], row["chunk_id"], row["doc_id"], int(row["start"]), int(row["end"]), row["text"],
                  int(row["sentence_start"]), int(row["sentence_end"]))


def document_of(row: dict) -> PlanDocument:
    return PlanDocument(doc_id=row["doc_id"], source=row["source"], text=row["text"],
                        spans=tuple(tuple(s) for s in row["spans"]), metadata=DocumentMetadata.from_dict(row["metadata"]),
                        sha256=row["sha256"], sidecar_sha256=row.get("sidecar_sha256", ""),
                        page_starts=tuple(int(p) for p in row.get("page_starts", ())))


class Segment:
    """A committed segment, opened memory-mapped (see the module docstring)."""

    def __init__(self, folder: Path, entry: dict, dimension: int):
        self.folder = folder
        self.name = folder.name
        self.entry = entry
        with (folder / "records.jsonl").open(encoding="utf-8") as f:
            self.records = [DocumentRecord.from_dict(json.loads(line)) for line in f if line.strip()]
        self.documents = _Rows(folder, "documents")
        self.chunk_rows = _Rows(folder, "chunks")
        self.clause_rows = _Rows(folder, "clauses")
        self.doc_chunks = _load(folder, "doc_chunks.npy")
        self.chunk_clauses = _load(folder, "chunk_clauses.npy")
        self.chunk_vectors = _load(folder, "chunk_vectors.npy")
        self.clause_vectors = _load(folder, "clause_vectors.npy")
        self.terms = _load(folder, "terms.npy")
        self.term_postings = _load(folder, "term_postings.npy")
        self.post_rows = _load(folder, "post_rows.npy")
        self.post_tf = _load(folder, "post_tf.npy")
        self.chunk_tokens = _load(folder, "chunk_tokens.npy")
        self._ann = None
        n, m = len(self.chunk_rows), len(self.clause_rows)
        if (len(self.records) != len(self.documents) or len(self.doc_chunks) != len(self.records) + 1
                or int(self.doc_chunks[-1]) != n or len(self.chunk_clauses) != n + 1 or int(self.chunk_clauses[-1]) != m
                or self.chunk_vectors.shape != (n, dimension) or self.clause_vectors.shape != (m, dimension)
                or self.chunk_vectors.dtype != np.float32 or len(self.chunk_tokens) != n
                or len(self.term_postings) != len(self.terms) + 1 or len(self.post_rows) != len(self.post_tf)
                or int(self.term_postings[-1]) != len(self.post_rows)
                or (entry["chunks"], entry["clauses"], entry["documents"]) != (n, m, len(self.records))):
            raise ValueError(f"segment {self.name}'s files do not fit together")

    @property
    def size(self) -> int:
        return len(self.chunk_tokens)

    def ann(self):
        """The segment's IVF-PQ index, read on first use (None for a flat segment)."""
        if self._ann is None and self.entry.get("ann", {}).get("type") == "IVF-PQ":
            import faiss

            self._ann = faiss.read_index(str(self.folder / "ann.faiss"))
            self._ann.nprobe = int(self.entry["ann"]["nprobe"])
        return self._ann

    def term_range(self, h: int) -> tuple[int, int] | None:
        """The postings of the term with hash h (None when this segment never saw it)."""
        i = int(np.searchsorted(self.terms, h))
        if i < len(self.terms) and int(self.terms[i]) == h:
            return int(self.term_postings[i]), int(self.term_postings[i + 1])
        return None

    def term_counts(self, lo: int, hi: int) -> tuple[Counter, int]:
        """(term hash -> chunks of rows lo:hi containing it, their BM25 length in tokens): what removing them takes
        from the index's document frequencies and total length."""
        where = np.nonzero((self.post_rows >= lo) & (self.post_rows < hi))[0]
        owners = np.searchsorted(self.term_postings, where, side="right") - 1
        hashes, counts = np.unique(np.asarray(self.terms)[owners], return_counts=True)
        return Counter(dict(zip(map(int, hashes), map(int, counts)))), int(np.asarray(self.chunk_tokens[lo:hi]).sum())
