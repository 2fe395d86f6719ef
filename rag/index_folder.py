"""The index folder's life on disk: one builder at a time, an atomic swap, recovery from crashed builds, checksums.

    indexes/.default.lock        flock held by the one builder of indexes/default
    indexes/.default.tmp-XXXX/   a build in progress (swapped in by rename when complete)
    indexes/.default.old/        the previous index, for the instant between the swap's two renames

A crash at any point leaves either the old or the new index loadable (`recover`), and the next build clears
what is left over (`clear_debris`). Every file an index holds is checksummed in its manifest, and the loader
only ever opens the format's own files, as regular files inside the folder (`check_file`; which files those
are is rag/stores/local_open.py's `verify_files`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import IndexCorruptError, IndexWriteError

__all__ = ["file_sha", "index_lock", "write_error", "swap_in", "clear_debris", "recover", "manifest_identity",
           "check_file"]

log = logging.getLogger(__name__)


def file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _lock_path(index_dir: Path) -> Path:
    return index_dir.parent / f".{index_dir.name}.lock"


@contextlib.contextmanager
def index_lock(index_dir: Path) -> Iterator[None]:
    """One builder at a time per index directory (other processes wait)."""
    try:
        index_dir.parent.mkdir(parents=True, exist_ok=True)
        fh = _lock_path(index_dir).open("a")
    except OSError as exc:
        raise write_error(index_dir, exc) from exc
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _no_builder(index_dir: Path) -> Iterator[bool]:
    """Yields True while holding the build lock without waiting, False when a builder holds it (or no lock file)."""
    try:
        fh = _lock_path(index_dir).open("a")
    except OSError:
        yield False
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_error(index_dir: Path, exc: OSError) -> IndexWriteError:
    return IndexWriteError(f"cannot write the index at {index_dir} ({exc.strerror or exc}); choose a writable "
                           f"--index-dir (or POLICY_RAG_INDEX_DIR) or fix the folder's permissions")


def swap_in(tmp: Path, index_dir: Path) -> None:
    """Replace index_dir by tmp. Between the two renames the old copy is kept as .<name>.old (see recover)."""
    old = index_dir.parent / f".{index_dir.name}.old"
    _discard(old)
    if index_dir.exists():
        os.rename(index_dir, old)
    os.rename(tmp, index_dir)
    _discard(old)


def _discard(path: Path) -> None:
    """Delete a leftover folder; one that cannot be deleted (read-only, busy) is renamed out of the way."""
    def make_writable_and_retry(func, p, _exc):
        os.chmod(os.path.dirname(p) or ".", 0o700)
        func(p)

    if path.is_symlink():
        path.unlink()
        return
    if not path.exists():
        return
    try:
        shutil.rmtree(path, onerror=make_writable_and_retry)
    except OSError as exc:
        trash = Path(tempfile.mkdtemp(prefix=f"{path.name}.trash-", dir=path.parent))
        os.rename(path, trash / path.name)
        log.warning("could not delete %s (%s); moved it to %s, delete it by hand", path, exc, trash)


def clear_debris(index_dir: Path) -> None:
    """Remove what crashed builds left next to index_dir (called under the build lock, so none is in use)."""
    _restore_old(index_dir)
    for leftover in index_dir.parent.glob(f".{index_dir.name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for trash in index_dir.parent.glob(f".{index_dir.name}.old.trash-*"):
        shutil.rmtree(trash, ignore_errors=True)


def recover(index_dir: Path) -> None:
    """Undo a crash during swap_in: only .<name>.old left (put it back), or a stale .old next to the index.

    Only when no builder holds the lock: during a live swap the gap between the renames is normal.
    """
    old = index_dir.parent / f".{index_dir.name}.old"
    if not old.exists():
        return
    with _no_builder(index_dir) as free:
        if free:
            _restore_old(index_dir)


def _restore_old(index_dir: Path) -> None:
    old = index_dir.parent / f".{index_dir.name}.old"
    if not index_dir.exists() and (old / "manifest.json").exists():
        os.rename(old, index_dir)  # a crash between the two renames of swap_in
    _discard(old)  # a crash after the swap, before the old copy was deleted


def manifest_identity(index_dir: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(index_dir / "manifest.json")
        return st.st_ino, st.st_mtime_ns
    except OSError:
        return None


def check_file(path: Path, digest: str, rebuild: str, *, size: int | None = None, full: bool = True) -> None:
    """A regular file (never a link or a device) of `size` bytes (when given) whose bytes match digest (unless
    `full` is False: a large file checked by its size only), else IndexCorruptError."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            raise IndexCorruptError(f"index file {path} is not a regular file (a link or device); {rebuild}")
        if size is not None and st.st_size != size:
            raise IndexCorruptError(f"index file {path} is {st.st_size} bytes, not {size} (truncated or modified); "
                                    f"{rebuild}")
        actual = file_sha(path) if full else digest
    except OSError as exc:
        raise IndexCorruptError(f"index file {path} is missing or unreadable ({exc.strerror}); {rebuild}") from exc
    if actual != digest:
        raise IndexCorruptError(f"index file {path} does not match its checksum (truncated or modified); {rebuild}")
