"""BM25 as sparse vectors that a vector database multiplies out: the same scores as the local bm25s index.

bm25s (method "lucene", k1 = 1.5, b = 0.75) scores a chunk d for query tokens q as

    sum over t in q of  idf(t) * tf(t, d) / (tf(t, d) + k1 * (1 - b + b * len(d) / avgdl))
    idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

Split into a chunk vector {dim(t): tf-part} and a query vector {dim(t): idf(t) * count of t in q}, their
inner product is that score. The chunk side depends only on the chunk and avgdl, the query side on the
live document frequencies, so adding or removing a document rewrites only its own rows and the df of its
terms: IDF stays exact. avgdl is the one number frozen at build time (recorded in the manifest with the
live token total, so its drift can be seen and a rebuild scheduled when it matters).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Mapping, Sequence

import numpy as np

__all__ = ["K1", "B", "EMPTY_TOKEN", "chunk_tokens", "tf_weights", "idf", "term_chunk_counts"]

K1, B = 1.5, 0.75  # bm25s's defaults, which the local index uses
EMPTY_TOKEN = "∅"  # a chunk with no content token is indexed as this one token (as the local index does)


def chunk_tokens(tokenizer, indexed_text: str) -> list[str]:
    return tokenizer.search_tokens(indexed_text) or [EMPTY_TOKEN]


def tf_weights(tokens: Sequence[str], dims: Mapping[str, int], avgdl: float) -> dict[int, float]:
    """The chunk side: sparse dimension -> tf-part, computed in float64 like bm25s (stored as float32)."""
    norm = K1 * ((1 - B) + B * len(tokens) / np.float64(avgdl))
    return {dims[t]: float(tf / (tf + norm)) for t, tf in Counter(tokens).items()}


def idf(df: int, n: int) -> float:
    """bm25s's Lucene IDF, rounded to float32 as bm25s stores it."""
    return float(np.float32(math.log(1 + (n - df + 0.5) / (df + 0.5))))


def term_chunk_counts(token_lists: Sequence[Sequence[str]]) -> Counter:
    """token -> how many of these chunks contain it (a document's contribution to df)."""
    return Counter(t for tokens in token_lists for t in set(tokens))
