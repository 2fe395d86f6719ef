"""Connecting to Milvus: a server or cluster (http://host:19530) or a Milvus Lite file (./indexes/x.db), with
errors that say what to do, and the names an index's collections get.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from ..errors import IndexWriteError, VectorStoreUnavailableError

__all__ = ["connect", "default_uri", "collection_prefix", "is_local_uri"]

REMOTE_SCHEMES = ("http://", "https://", "tcp://", "grpc://", "unix:")


def is_local_uri(uri: str) -> bool:
    """A Milvus Lite file (./indexes/x.db), as opposed to a server address."""
    return not uri.startswith(REMOTE_SCHEMES)


def default_uri(index_dir: Path) -> str:
    """Milvus Lite beside the index folder (indexes/default -> indexes/default.milvus.db): inside it, a local
    index build, which swaps the folder, would delete it."""
    index_dir = Path(index_dir)
    return str(index_dir.with_name(index_dir.name + ".milvus.db"))


def collection_prefix(index_dir: Path) -> str:
    """policy_rag_<index folder's parent>_<its name> (indexes/default -> policy_rag_indexes_default; an eval
    slice's eval-unseen-dev/index -> policy_rag_eval_unseen_dev_index_…), so indexes sharing one server keep
    apart. Milvus names allow letters, digits and underscores only: a name that had to be changed gets a
    short hash, so eval-unseen-dev and eval_unseen_dev stay apart too."""
    index_dir = Path(index_dir)
    name = "_".join(p for p in (index_dir.parent.name, index_dir.name) if p) or "default"
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if safe != name:
        safe += "_" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:6]
    return f"policy_rag_{safe}"[:180]


def _redacted(uri: str) -> str:
    return re.sub(r"//[^/@]*@", "//***@", uri)


def connect(uri: str, *, token: str | None = None, timeout: float = 30.0):
    """A MilvusClient for `uri`: a server (http://host:19530) or a Milvus Lite file (ends with .db)."""
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError as exc:
        raise VectorStoreUnavailableError(
            f"the Milvus vector store needs pymilvus and milvus-lite: pip install 'policy-rag[milvus]' ({exc})") from exc
    shown = _redacted(uri)
    options = {}
    if is_local_uri(uri):
        # Milvus Lite's in-process server answers pymilvus's idle keepalive pings (every 10 s, meant for a remote
        # server) with GOAWAY "too_many_pings", logged on stderr during a long embedding: no pings while idle.
        options["grpc_options"] = {"grpc.keepalive_permit_without_calls": False}
        path = Path(uri).expanduser()
        if path.suffix != ".db":
            raise VectorStoreUnavailableError(
                f"Milvus URI {shown!r} is neither a server address (http://host:19530) nor a Milvus Lite file "
                f"(a path ending in .db, e.g. ./indexes/default.milvus.db); fix POLICY_RAG_MILVUS_URI or --milvus-uri")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexWriteError(f"cannot create the folder of Milvus Lite file {path} ({exc}); choose a writable "
                                  f"place with POLICY_RAG_MILVUS_URI or --milvus-uri") from exc
        uri = str(path)
    lite_errors = _Captured()
    lite_log = logging.getLogger("milvus_lite.server_manager")
    lite_log.addHandler(lite_errors)
    lite_log.propagate = False  # its traceback would precede our one-line error; its message goes into ours
    try:
        return MilvusClient(uri=uri, token=token or "", timeout=timeout, **options)
    except MilvusException as exc:
        if is_local_uri(uri):
            reason = lite_errors.reason or getattr(exc, "message", exc)
            raise VectorStoreUnavailableError(
                f"cannot open Milvus Lite file {shown} ({reason}); Milvus Lite lets one "
                f"process use a file at a time: stop the other `rag` process using it, or give this one its own "
                f"file with POLICY_RAG_MILVUS_URI / --milvus-uri") from exc
        raise VectorStoreUnavailableError(
            f"cannot reach Milvus at {shown} ({getattr(exc, 'message', exc)}); start the server (README, "
            f"section Milvus: docker compose up -d), check POLICY_RAG_MILVUS_URI / --milvus-uri, or use a local "
            f"Milvus Lite file instead (POLICY_RAG_MILVUS_URI=./indexes/default.milvus.db)") from exc
    finally:
        lite_log.removeHandler(lite_errors)
        lite_log.propagate = True


class _Captured(logging.Handler):
    """Keeps the reason Milvus Lite logs when it cannot start (e.g. another process holds the file's lock)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.reason = ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.reason = str(record.exc_info[1])
