"""The local backend's read side: an index folder of append-only segments, opened as one `Store` snapshot.

    indexes/<name>/
      manifest.json            format, pipeline, embedder, chunking, live counts and BM25 totals, the segments
                               (with their ANN choice), every file's checksum and size
      userdict-<gen>.txt       the corpus-learnt tokenizer dictionary      bridge-<gen>.json   English -> Chinese
      tombstones-<gen>.json    removed documents, per segment, with the term counts they take out of BM25
      doc_freq-<gen>.npy       every term's chunk count over all segments (rag/stores/doc_freq.py)
      segments/seg-NNNNNN/     the documents one write added (rag/stores/segments.py)

Opening (rag/stores/local_open.py) reads the manifest, the small files and each segment's records (one line per
document); vectors, postings, chunks, clauses and texts stay on disk, memory-mapped, and are read by id. Writes (rag/stores/
local_write.py) add a segment or a tombstone and replace the manifest in one rename, so a reader sees a whole
write or none of it; nothing is pickled.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from functools import partial
from pathlib import Path
from typing import Collection, Sequence

import numpy as np

from ..bridge import TermBridge
from ..chunking import Chunk
from ..documents import PlanDocument
from ..encoders import EmbedderInfo
from ..tokenize import Tokenizer
from .base import ClauseBlock, DocumentRecord, DocumentView
from .doc_freq import DocFreq
from .local_lexical import pruned_segment_scores, segment_scores
from .segments import Segment, chunk_of, clause_of, document_of, term_hash

__all__ = ["LocalStore", "load_index", "build_index", "FORMAT_VERSION", "READABLE_FORMATS"]

FORMAT_VERSION = 5  # 5: + the document-frequency table; 4: append-only segments, memory-mapped, BM25 from term
# frequencies (3: one folder, bm25s)
READABLE_FORMATS = (4, 5)  # a format-4 index is read as it is (its table summed at open) and written as 5
TIE_MARGIN = 16  # extra hits fetched per segment so that ties at the k-th place are ordered by position
DOC_CACHE = 32  # documents (with their texts) kept after reading
CHUNK_CACHE = 4096  # chunks kept after reading (a question reads the same few dozen several times)
TERM_CACHE = 65536  # (segment, term) postings places remembered (~150 bytes each)
BOUND_MIN_ROWS = 10_000  # a filter allowing fewer rows of a segment reads just their postings, every one
_UNSEEN = object()


def build_index(*args, **kwargs) -> dict:
    """rag.stores.local_write.build_index: a full build of the index folder."""
    from .local_write import build_index as build

    return build(*args, **kwargs)


def load_index(index_dir: Path, *, expected_embedder: EmbedderInfo | None = None) -> "LocalStore":
    """rag.stores.local_open.load_index: open and check an index folder."""
    from .local_open import load_index as load

    return load(index_dir, expected_embedder=expected_embedder)


def _previous_vectors(index_dir: Path, info: EmbedderInfo) -> dict:
    """text sha -> vector of an index folder built by the same embedder (rag.stores.local_write)."""
    from .local_write import previous_vectors

    return previous_vectors(index_dir, info)


class LocalStore:
    """One committed state of an index folder (the `Store` interface). Never changes once opened."""

    backend = "local"

    def __init__(self, path: Path, manifest: dict, segments: list[Segment], tombstones: dict, tokenizer: Tokenizer,
                 bridge: TermBridge, doc_freq: DocFreq):
        self.path = path
        self.doc_freqs = doc_freq  # every segment's chunks per term (rag/stores/doc_freq.py)
        self.manifest = manifest
        self.tokenizer = tokenizer
        self.bridge = bridge
        self.segments = segments
        self.tombstones = tombstones  # segment name -> {"docs": [...], "df": {hash: n}, "chunks": n, "tokens": n}
        self.catalog: dict[str, DocumentRecord] = {}
        self._where: dict[str, tuple[int, int]] = {}  # doc_id -> (segment number, document row)
        self._live: list[np.ndarray | None] = []  # per segment: which chunk rows are live (None: all)
        dead_chunks = 0
        for si, seg in enumerate(segments):
            dead = set(tombstones.get(seg.name, {}).get("docs", ()))
            live = None
            for row, rec in enumerate(seg.records):
                if rec.doc_id in dead:
                    if live is None:
                        live = np.ones(seg.size, dtype=bool)
                    lo, hi = int(seg.doc_chunks[row]), int(seg.doc_chunks[row + 1])
                    live[lo:hi] = False
                    dead_chunks += hi - lo
                elif rec.doc_id in self.catalog:
                    raise ValueError(f"document {rec.doc_id} is live in two segments")
                else:
                    self.catalog[rec.doc_id] = rec
                    self._where[rec.doc_id] = (si, row)
            self._live.append(live)
        self._dead_df: dict[int, int] = {}
        for entry in tombstones.values():
            for h, n in entry.get("df", {}).items():
                self._dead_df[int(h)] = self._dead_df.get(int(h), 0) + int(n)
        lexical = manifest["lexical"]
        self._n = int(lexical["chunks"])
        self._avgdl = float(lexical["tokens"]) / self._n if self._n else 1.0
        if self._n != sum(s.size for s in segments) - dead_chunks or self._n != manifest["counts"]["chunks"]:
            raise ValueError("the live chunk count does not match the segments and tombstones")
        self._docs: OrderedDict[str, PlanDocument] = OrderedDict()
        self._chunks: OrderedDict[str, Chunk] = OrderedDict()
        self._cache_lock = threading.Lock()  # questions on several threads share one snapshot
        self._ranges: dict[tuple[int, int], tuple[int, int] | None] = {}  # (segment, term hash) -> its postings
        self.documents = DocumentView(self)

    @property
    def embedder(self) -> EmbedderInfo:
        return EmbedderInfo(**self.manifest["embedder"])

    # ------------------------------------------------------------ look-ups by id

    def document(self, doc_id: str) -> PlanDocument:
        with self._cache_lock:
            doc = self._docs.get(doc_id)
            if doc is not None:
                self._docs.move_to_end(doc_id)
                return doc
        si, row = self._where[doc_id]
        doc = document_of(self.segments[si].documents.get(row))
        with self._cache_lock:
            self._docs[doc_id] = doc
            if len(self._docs) > DOC_CACHE:
                self._docs.popitem(last=False)
        return doc

    def chunk_count(self) -> int:
        return self._n

    def _chunk_place(self, chunk_id: str) -> tuple[int, int]:
        """(segment number, chunk row) of a chunk id ("<doc_id>#<n>"); KeyError when not in the index."""
        doc_id, _, number = chunk_id.rpartition("#")
        if doc_id not in self._where or not number.isdigit() or int(number) >= self.catalog[doc_id].chunks:
            raise KeyError(chunk_id)
        si, row = self._where[doc_id]
        return si, int(self.segments[si].doc_chunks[row]) + int(number)

    def _chunk_id(self, si: int, row: int) -> str:
        seg = self.segments[si]
        drow = int(np.searchsorted(seg.doc_chunks, row, side="right")) - 1
        return f"{seg.records[drow].doc_id}#{row - int(seg.doc_chunks[drow])}"

    def chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        out = []
        for cid in chunk_ids:
            chunk = self._chunks.get(cid)
            if chunk is None:
                si, row = self._chunk_place(cid)
                chunk = chunk_of(self.segments[si].chunk_rows.get(row))
                with self._cache_lock:
                    self._chunks[cid] = chunk
                    if len(self._chunks) > CHUNK_CACHE:
                        self._chunks.popitem(last=False)
            out.append(chunk)
        return out

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        if doc_id not in self._where:
            return []
        si, row = self._where[doc_id]
        seg = self.segments[si]
        return [chunk_of(r) for r in seg.chunk_rows.range(int(seg.doc_chunks[row]), int(seg.doc_chunks[row + 1]))]

    def clauses_of(self, chunk_ids: Sequence[str]) -> dict[str, ClauseBlock]:
        out = {}
        for cid in chunk_ids:
            si, row = self._chunk_place(cid)
            seg = self.segments[si]
            lo, hi = int(seg.chunk_clauses[row]), int(seg.chunk_clauses[row + 1])
            out[cid] = ([clause_of(r) for r in seg.clause_rows.range(lo, hi)],
                        np.array(seg.clause_vectors[lo:hi], dtype=np.float32))
        return out

    # ------------------------------------------------------------ search

    def _allowed_ranges(self, doc_ids: Collection[str] | None) -> list[list[tuple[int, int]] | None]:
        """Per segment, the chunk row ranges of doc_ids' documents (ascending; neighbours joined, as a place's
        plans are in a full build), or None for every row."""
        if doc_ids is None:
            return [None] * len(self.segments)
        ranges: list[list[tuple[int, int]]] = [[] for _ in self.segments]
        for d in doc_ids:
            if d in self._where:
                si, row = self._where[d]
                doc_chunks = self.segments[si].doc_chunks
                ranges[si].append((int(doc_chunks[row]), int(doc_chunks[row + 1])))
        joined: list[list[tuple[int, int]] | None] = []
        for r in ranges:
            runs: list[tuple[int, int]] = []
            for lo, hi in sorted(r):
                if runs and runs[-1][1] == lo:
                    runs[-1] = (runs[-1][0], hi)
                elif hi > lo:
                    runs.append((lo, hi))
            joined.append(runs)
        return joined

    def _usable(self, si: int, ranges: list[tuple[int, int]] | None) -> np.ndarray | None:
        """Segment si's rows that are live and in `ranges` (all when None), as a mask; None when every row is."""
        live = self._live[si]
        if ranges is None:
            return live
        edges = np.zeros(self.segments[si].size + 1, dtype=np.int32)
        bounds = np.asarray(ranges, dtype=np.int64).reshape(-1, 2)
        np.add.at(edges, bounds[:, 0], 1)
        np.add.at(edges, bounds[:, 1], -1)
        mask = np.cumsum(edges[:-1]) > 0
        return mask if live is None else mask & live

    def _top(self, hits: list[tuple[float, int, int]], k: int) -> list[tuple[str, float]]:
        """Best first; equal scores in index order (segment, then row)."""
        hits.sort(key=lambda h: (-h[0], h[1], h[2]))
        return [(self._chunk_id(si, row), score) for score, si, row in hits[:k]]

    def dense_search(self, vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None
                     ) -> list[tuple[str, float]]:
        import faiss

        if k < 1:
            return []
        q = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        want = k + TIE_MARGIN
        hits: list[tuple[float, int, int]] = []
        for si, (seg, ranges) in enumerate(zip(self.segments, self._allowed_ranges(doc_ids))):
            live = self._live[si]
            allowed = None if ranges is None else sum(hi - lo for lo, hi in ranges)
            ann = seg.ann() if allowed is None or allowed > seg.entry["ann"].get("exact_max", 0) else None
            if ann is not None:  # IVF-PQ candidates, re-ranked exactly below
                rows = self._ann_candidates(ann, seg, q, self._usable(si, ranges), max(4 * want, 100))
            elif ranges is None and live is None:  # exact over the whole memory-mapped segment
                if seg.size:
                    sims, idx = faiss.knn(q, seg.chunk_vectors, min(want, seg.size), metric=faiss.METRIC_INNER_PRODUCT)
                    hits.extend((float(s), si, int(r)) for s, r in zip(sims[0], idx[0]) if r >= 0)
                continue
            elif ranges is None:
                rows = np.nonzero(live)[0]
            else:
                rows = np.concatenate([np.arange(lo, hi, dtype=np.int64) for lo, hi in ranges] or
                                      [np.zeros(0, dtype=np.int64)])
                if live is not None:
                    rows = rows[live[rows]]
            if len(rows):  # exact inner products of the allowed live rows
                sims, idx = faiss.knn(q, np.ascontiguousarray(seg.chunk_vectors[rows]), min(want, len(rows)),
                                      metric=faiss.METRIC_INNER_PRODUCT)
                hits.extend((float(s), si, int(rows[i])) for s, i in zip(sims[0], idx[0]) if i >= 0)
        return self._top(hits, k)

    @staticmethod
    def _ann_candidates(ann, seg: Segment, q: np.ndarray, usable: np.ndarray | None, n: int) -> np.ndarray:
        """Chunk rows the segment's IVF-PQ index finds among the usable (allowed, live) rows; None: all of them.
        Re-ranked exactly after."""
        import faiss

        params = faiss.SearchParametersIVF()
        params.nprobe = int(seg.entry["ann"]["nprobe"])
        keep = None
        if usable is not None:
            keep = np.packbits(usable, bitorder="little")
            params.sel = faiss.IDSelectorBitmap(seg.size, faiss.swig_ptr(keep))
        _, idx = ann.search(q, min(n, seg.size), params=params)
        del keep  # the selector read it during the search
        return np.unique(idx[0][idx[0] >= 0])

    def _term_range(self, si: int, h: int) -> tuple[int, int] | None:
        """The postings of the term with hash h in segment si (None where it is absent). Remembered: a snapshot
        never changes, and questions share most of their words."""
        key = (si, h)
        got = self._ranges.get(key, _UNSEEN)  # one read: another thread may clear the cache in between
        if got is _UNSEEN:
            got = self.segments[si].term_range(h)
            if len(self._ranges) >= TERM_CACHE:
                self._ranges.clear()
            self._ranges[key] = got
        return got

    def _df(self, h: int) -> int:
        return self.doc_freqs.get(h) - self._dead_df.get(h, 0)

    def lexical_search(self, tokens: Sequence[str], k: int, doc_ids: Collection[str] | None = None
                       ) -> list[tuple[str, float]]:
        if k < 1 or not self._n:
            return []
        terms = []
        for tok in tokens:
            h = term_hash(tok)
            df = self._df(h)
            if df > 0:  # bm25s's lucene IDF, rounded to float32 as bm25s stores it
                terms.append((h, np.float32(math.log(1 + (self._n - df + 0.5) / (df + 0.5)))))
        hits: list[tuple[float, int, int]] = []
        floor = 0.0  # a score k chunks of the segments searched so far reach
        for si, (seg, ranges) in enumerate(zip(self.segments, self._allowed_ranges(doc_ids))):
            if ranges is not None and not ranges:
                continue  # none of the allowed documents is here: its postings are never read
            term_range = partial(self._term_range, si)
            if ranges is not None and sum(hi - lo for lo, hi in ranges) < BOUND_MIN_ROWS:  # a place's plans
                rows, scores = segment_scores(seg, self._live[si], terms, term_range, self._avgdl,
                                              np.asarray(ranges, dtype=np.int64).ravel())
            else:  # many rows (no place named, or every place's plans for a year): bound first (local_lexical.py)
                usable = self._usable(si, ranges)
                got = pruned_segment_scores(seg, usable, terms, term_range, self._avgdl, k, floor)
                if got is None:
                    rows, scores = segment_scores(seg, usable, terms, term_range, self._avgdl)
                else:
                    rows, scores, floor = got
            if len(rows) >= k:  # the k best, and every row tied with the k-th
                kth = np.partition(scores, len(scores) - k)[len(scores) - k]
                rows, scores = rows[scores >= kth], scores[scores >= kth]
                floor = max(floor, float(kth))
            hits.extend((float(s), si, int(r)) for s, r in zip(scores, rows))
        return self._top(hits, k)

    def doc_freq(self, token: str) -> int:
        return max(0, self._df(term_hash(token)))
