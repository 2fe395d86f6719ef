"""The local index's document-frequency table: for every term, how many chunks of all segments contain it.

    doc_freq-<gen>.npy   int64 (2, terms): row 0 the sorted term hashes, row 1 their chunk counts

BM25's IDF needs a term's document frequency over the whole corpus. Summing it over the segments costs a
binary search in every segment per term, so a question's cost grew with the number of segments, and a
filtered question touched the term lists of segments none of its documents are in. The table answers with
one binary search. It counts every chunk of every segment, removed ones included; the tombstones' counts are
taken off when a store opens, as before. Each write adjusts it by the segments it adds and drops (a merge
drops its parts and adds the merged segment), so a write costs one pass over the table, not over the corpus.
An index written before the table existed gets it, computed from its segments, at its next write; until then
it is summed in memory when the index opens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

__all__ = ["DocFreq", "segment_doc_freq", "adjusted", "table_of", "save_table"]


def segment_doc_freq(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(sorted term hashes, chunks containing each) of one segment folder, from its postings' offsets."""
    terms = np.load(folder / "terms.npy", mmap_mode="r", allow_pickle=False)
    offsets = np.load(folder / "term_postings.npy", mmap_mode="r", allow_pickle=False)
    return np.asarray(terms, dtype=np.int64), np.diff(np.asarray(offsets, dtype=np.int64))


def adjusted(table: np.ndarray, plus: Iterable[tuple[np.ndarray, np.ndarray]] = (),
             minus: Iterable[tuple[np.ndarray, np.ndarray]] = ()) -> np.ndarray:
    """The (2, terms) table with the counts of `plus` added and those of `minus` taken off; terms whose count
    falls to zero leave it. Linear in the table's size (the changes are sorted and merged in)."""
    parts = [(h, c) for h, c in plus] + [(h, -np.asarray(c)) for h, c in minus]
    if not parts:
        return table
    hashes = np.concatenate([np.asarray(h, dtype=np.int64) for h, _ in parts])
    counts = np.concatenate([np.asarray(c, dtype=np.int64) for _, c in parts])
    hashes, inverse = np.unique(hashes, return_inverse=True)
    counts = np.bincount(inverse, weights=counts, minlength=len(hashes)).astype(np.int64)
    terms, totals = table[0], table[1].copy()
    at = np.searchsorted(terms, hashes)
    known = at < len(terms)
    known[known] = terms[at[known]] == hashes[known]
    totals[at[known]] += counts[known]  # each hash once: no two updates land on one place
    terms = np.insert(terms, at[~known], hashes[~known])
    totals = np.insert(totals, at[~known], counts[~known])
    if (totals < 0).any():
        raise ValueError("a document-frequency count fell below zero: the table does not match the segments")
    keep = totals != 0
    return np.stack([terms[keep], totals[keep]])


def table_of(folders: Iterable[Path]) -> np.ndarray:
    """The table of these segment folders, computed from their postings."""
    return adjusted(np.zeros((2, 0), dtype=np.int64), plus=[segment_doc_freq(f) for f in folders])


def save_table(path: Path, table: np.ndarray) -> None:
    np.save(path, np.ascontiguousarray(table, dtype=np.int64), allow_pickle=False)


class DocFreq:
    """Look-ups in a table (memory-mapped from its file, or computed): `get(hash)` -> chunks containing it."""

    def __init__(self, table: np.ndarray):
        if table.ndim != 2 or table.shape[0] != 2 or table.dtype != np.int64:
            raise ValueError(f"a document-frequency table is int64 (2, terms), not {table.dtype} {table.shape}")
        # Rows of a C-ordered (2, n) array are contiguous: searchsorted reads the map without copying it.
        # (Its order and counts are vouched for by the manifest's checksum, not checked here: opening stays
        # independent of the table's size.)
        self.table = table
        self._terms, self._counts = np.asarray(table[0]), np.asarray(table[1])

    @classmethod
    def open(cls, path: Path) -> "DocFreq":
        return cls(np.load(path, mmap_mode="r", allow_pickle=False))

    def __len__(self) -> int:
        return len(self._terms)

    def get(self, h: int) -> int:
        i = int(np.searchsorted(self._terms, h))
        return int(self._counts[i]) if i < len(self._terms) and int(self._terms[i]) == h else 0
