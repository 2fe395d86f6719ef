"""BM25 as sparse vectors that a vector database multiplies out: the same scores as the local bm25s index.

bm25s (method "lucene", k1 = 1.5, b = 0.75) scores a chunk d for query tokens q as

    sum over t in q of  idf(t) * tf(t, d) / (tf(t, d) + k1 * (1 - b + b * len(d) / avgdl))
    idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

Split into a chunk vector {dim(t): tf-part} and a query vector {dim(t): idf(t) * count of t in q}, their
inner product is that score. The chunk side depends only on the chunk and avgdl, the query side on the
live document frequencies, so adding or removing a document rewrites only its own rows and the df of its
terms: IDF stays exact. avgdl is the one number fixed when a row is written (the average so far; each row
keeps the normalisation it used). So Milvus ranks with those, and the best hits are then scored again exactly
(`exact_score`: the live avgdl, bm25s's float32 arithmetic, term by term in the query's order): a chunk's term
frequency is read back from its stored tf-part and length, so the scores are the local index's to the bit,
after adds and removes too.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Mapping, Sequence

import numpy as np

__all__ = ["K1", "B", "EMPTY_TOKEN", "chunk_tokens", "tf_weights", "idf", "term_chunk_counts", "term_frequency",
           "exact_score"]

K1, B = 1.5, 0.75  # bm25s's defaults, which the local index uses
EMPTY_TOKEN = "∅"  # a chunk with no content token is indexed as this one token (as the local index does)


def chunk_tokens(tokenizer, indexed_text: str) -> list[str]:
    return tokenizer.search_tokens(indexed_text) or [EMPTY_TOKEN]


def tf_weights(tokens: Sequence[str], dims: Mapping[str, int], avgdl: float) -> tuple[dict[int, float], float]:
    """The chunk side: sparse dimension -> tf-part, computed in float64 like bm25s (stored as float32), and the
    length normalisation it used (stored beside it, so the term frequencies can be read back exactly)."""
    norm = _norm(len(tokens), avgdl)
    return {dims[t]: float(tf / (tf + norm)) for t, tf in Counter(tokens).items()}, float(norm)


def idf(df: int, n: int) -> float:
    """bm25s's Lucene IDF, rounded to float32 as bm25s stores it."""
    return float(np.float32(math.log(1 + (n - df + 0.5) / (df + 0.5))))


def term_chunk_counts(token_lists: Sequence[Sequence[str]]) -> Counter:
    """token -> how many of these chunks contain it (a document's contribution to df)."""
    return Counter(t for tokens in token_lists for t in set(tokens))


def _norm(length: int, avgdl: float) -> np.float64:
    return K1 * ((1 - B) + B * np.float64(length) / np.float64(avgdl))


def term_frequency(weight: float, norm: float) -> int:
    """The term frequency a stored tf-part (float32) was computed from: weight = tf / (tf + norm)."""
    return int(round(float(weight) * float(norm) / (1.0 - float(weight))))


def exact_score(tfs: Sequence[int], idfs: Sequence[np.float32], length: int, avgdl: float) -> np.float32:
    """A chunk's BM25 score as the local index computes it: per term float32(idf32 * tfc64), summed in float32
    in the query's term order (terms the chunk lacks have tf 0 and are skipped)."""
    total = np.float32(0.0)
    norm = _norm(length, avgdl)
    for tf, idf32 in zip(tfs, idfs):
        if tf:
            tf64 = np.float64(tf)
            total = np.float32(total + np.float32(idf32 * (tf64 / (norm + tf64))))
    return total
