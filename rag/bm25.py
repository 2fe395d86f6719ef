"""The BM25 scores of an index's bm25/ folder, read with numpy alone.

`rag index` builds and saves the BM25 index with bm25s (`bm25s.BM25.save`): per-token BM25 weights as a CSC
matrix (data / indices / indptr .npy files), the vocabulary and the parameters as JSON. Scoring a question
is a sum of the columns of its tokens, so a question does not need bm25s itself, which imports scipy
(~0.2 s of every `rag ask`). The files are the same; only the reader is smaller.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["Bm25Scores", "load_bm25"]

# bm25s methods whose scores also need the "non-occurrence" array; these are read by bm25s itself.
_NEEDS_NONOCCURRENCE = ("bm25l", "bm25+")


class Bm25Scores:
    """What retrieval and clause weighting read of a bm25s index: `get_scores`, `vocab_dict`, `scores`
    (data, indices, indptr, num_docs), with bm25s's own semantics (unknown tokens are ignored)."""

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, num_docs: int,
                 vocab_dict: dict[str, int], dtype: str = "float32"):
        self.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": num_docs}
        self.vocab_dict = vocab_dict
        self.dtype = np.dtype(dtype)

    def get_scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every document for these tokens (bm25s.BM25.get_scores, same order of additions)."""
        indptr, indices, data = self.scores["indptr"], self.scores["indices"], self.scores["data"]
        out = np.zeros(self.scores["num_docs"], dtype=self.dtype)
        columns = len(indptr) - 1
        for token in query_tokens:
            tid = self.vocab_dict.get(token)
            if tid is not None and 0 <= tid < columns:  # bm25s gives its last id (the empty token) no column
                start, end = indptr[tid], indptr[tid + 1]
                np.add.at(out, indices[start:end], data[start:end])
        return out


def load_bm25(folder: Path):
    """The BM25 index in `folder` (a bm25s save). Raises ValueError/OSError/KeyError when it is unreadable."""
    folder = Path(folder)
    params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
    if params.get("method") in _NEEDS_NONOCCURRENCE:
        import bm25s

        return bm25s.BM25.load(str(folder), allow_pickle=False)
    vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
    if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
        raise ValueError("vocab.index.json is not a token -> id mapping")
    arrays = {name: np.load(folder / f"{name}.csc.index.npy", allow_pickle=False)
              for name in ("data", "indices", "indptr")}
    num_docs = int(params["num_docs"])
    indptr = arrays["indptr"]
    if indptr.ndim != 1 or not len(indptr) or len(arrays["data"]) != len(arrays["indices"]) \
            or int(indptr[-1]) != len(arrays["data"]) \
            or (len(arrays["indices"]) and not 0 <= int(arrays["indices"].max()) < max(num_docs, 1)):
        raise ValueError("the BM25 arrays do not fit together")
    return Bm25Scores(arrays["data"], arrays["indices"], indptr, num_docs, vocab, params.get("dtype", "float32"))
