"""The local backend's BM25 search: a segment's chunks scored from its postings (rag/stores/segments.py).

Scores are exact: each chunk's score is the float32 sum of its terms' bm25_values, added in the question's term
order, as bm25s computes them. A search filtered to a few rows (a place's plans) reads only their postings. One
over many rows (no place named, or every place's plans for a year) would read every posting of the question's
common words (科技, 创新: most of a segment), so it bounds first: no chunk can gain more from a term than the
term's IDF (a BM25 term frequency part is below 1). Terms are taken rarest first; once the terms left could not
lift a chunk not yet seen (nor one too far behind) to the k-th best score so far, only the remaining candidates'
postings are looked up (MaxScore, Turtle & Flood 1995). At 1M chunks that reads about a fifteenth of the
postings in full and looks up candidates in the rest.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .segments import Segment, bm25_values

__all__ = ["segment_scores", "pruned_segment_scores"]

GIVE_UP_SHARE = 0.5  # bounding stops when it has read this share of the postings without narrowing the candidates

TermRange = Callable[[int], "tuple[int, int] | None"]  # a term hash -> its postings' range in the segment
Terms = Sequence["tuple[int, np.float32]"]  # (term hash, IDF) in the question's order


def segment_scores(seg: Segment, usable: np.ndarray | None, terms: Terms, term_range: TermRange, avgdl: float,
                   bounds: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, scores) of the segment's usable chunks (a mask of the live, allowed rows; None: all) that any term
    is in, every posting read; with `bounds` (allowed row ranges, flat [lo, hi, lo, hi, ...] ascending) only the
    postings in those ranges."""
    scores = None
    for h, idf32 in terms:
        r = term_range(h)
        if r is None:
            continue
        prow, ptf = seg.post_rows[r[0]:r[1]], seg.post_tf[r[0]:r[1]]
        if bounds is not None:  # only the allowed chunks' postings (rows ascend within a term)
            cuts = np.searchsorted(prow, bounds)
            keep = np.concatenate([np.arange(a, b) for a, b in cuts.reshape(-1, 2) if b > a] or
                                  [np.zeros(0, dtype=np.int64)])
            prow, ptf = prow[keep], ptf[keep]
        if not len(prow):
            continue
        if scores is None:
            scores = np.zeros(seg.size, dtype=np.float32)
        scores[prow] += bm25_values(ptf, seg.chunk_tokens[prow], idf32, avgdl)
    if scores is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if usable is not None:
        scores[~usable] = 0.0
    rows = np.nonzero(scores > 0)[0]
    return rows, scores[rows]


def _lookup(prow: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which of `rows` are in the ascending postings `prow`, their positions there)."""
    pos = np.searchsorted(prow, rows)
    pos[pos >= len(prow)] = 0
    hit = prow[pos] == rows
    return hit, pos[hit]


def _kth_best(values: np.ndarray, k: int) -> float:
    return float(np.partition(values, len(values) - k)[len(values) - k]) if len(values) >= k else 0.0


def pruned_segment_scores(seg: Segment, usable: np.ndarray | None, terms: Terms, term_range: TermRange,
                          avgdl: float, k: int, floor: float) -> tuple[np.ndarray, np.ndarray, float] | None:
    """segment_scores() without `bounds` (every posting of the usable rows), less the rows that cannot be among the
    k best: (rows, scores, new floor), or None when bounding did not narrow the candidates (score with
    segment_scores then). `floor` is a score that k chunks already reach (from segments searched before; 0 at
    first): rows below it are left out."""
    lengths = seg.chunk_tokens
    order = sorted(terms, key=lambda t: -t[1])
    left = np.cumsum([float(idf) for _, idf in order][::-1])[::-1].tolist() + [0.0]  # IDF sum of terms j and on
    if left[0] + 1e-5 * max(floor, 1.0) < floor:  # every term at its most does not reach the k-th best
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), floor
    ranges = [term_range(h) for h, _ in order]
    total = sum(r[1] - r[0] for r in ranges if r is not None)
    partial = np.zeros(seg.size)  # float64 sums over the terms read so far: each row's score is at least this
    seen = np.zeros(seg.size, dtype=bool)
    pool = np.zeros(0, dtype=np.int64)  # the rows read so far (that partial is above 0 for)
    candidates = None
    read = 0
    for j, ((h, idf32), r) in enumerate(zip(order, ranges)):
        if r is not None:
            prow, ptf = seg.post_rows[r[0]:r[1]], seg.post_tf[r[0]:r[1]]
            if candidates is None:
                if usable is not None:
                    keep = usable[prow]
                    prow, ptf = prow[keep], ptf[keep]
                partial[prow] += bm25_values(ptf, lengths[prow], idf32, avgdl)
                pool = np.concatenate([pool, prow[~seen[prow]]])
                seen[prow] = True
                read += len(prow)
            else:
                hit, pos = _lookup(prow, candidates)
                partial[candidates[hit]] += bm25_values(ptf[pos], lengths[candidates[hit]], idf32, avgdl)
        if candidates is not None:
            pool = candidates
        floor = max(floor, _kth_best(partial[pool], k))
        slack = 1e-5 * max(floor, 1.0)  # float64 sums in another order than the exact float32 ones
        if left[j + 1] + slack < floor:  # a row not seen yet scores at most left[j + 1]: below the k-th best
            candidates = pool[partial[pool] + left[j + 1] + slack >= floor]
        elif candidates is None and read > GIVE_UP_SHARE * total:
            return None
    if candidates is None:
        return None
    scores = np.zeros(len(candidates), dtype=np.float32)  # exact: the question's term order, float32
    for h, idf32 in terms:
        r = term_range(h)
        if r is None:
            continue
        prow, ptf = seg.post_rows[r[0]:r[1]], seg.post_tf[r[0]:r[1]]
        hit, pos = _lookup(prow, candidates)
        scores[hit] += bm25_values(ptf[pos], lengths[candidates[hit]], idf32, avgdl)
    return candidates, scores, floor
