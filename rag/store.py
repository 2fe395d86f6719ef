"""The index's names every module imports: `PIPELINE_VERSION`, and (from rag/stores/) `build_index`, `load_index`
and `PlanIndex` (the local backend's `LocalStore`, which implements `rag.stores.Store`).

What an index holds on disk and how it is written and read is rag/stores/local.py's job; what retrieval and
answering may ask of an index is rag/stores/base.py's `Store`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["PlanIndex", "build_index", "load_index", "FORMAT_VERSION", "PIPELINE_VERSION", "index_lock"]

# Bump when cleaning, metadata, chunking or tokenisation change what an index holds: an index built by
# another pipeline version is rebuilt when an Assistant starts on it (re-using the vectors of unchanged text, so
# it is quick), or, over rag.assistant.UPGRADE_AT_START_MAX_CHUNKS chunks, by the next `rag index`.
PIPELINE_VERSION = "2026.11.24-16"  # 发布机构 lines are page records; policy measures are a kind; issuer fields inside HTML cells; a document covers the years its 去年/今年/明年 name (before: joint issuer lines, reporters with a middle dot)

if TYPE_CHECKING:
    from .index_folder import index_lock
    from .stores.local import FORMAT_VERSION, build_index, load_index
    from .stores.local import LocalStore as PlanIndex

_MOVED = {"build_index": "build_index", "load_index": "load_index", "PlanIndex": "LocalStore",
          "FORMAT_VERSION": "FORMAT_VERSION", "SWAP_WAIT_S": "SWAP_WAIT_S"}


def __getattr__(name: str):
    """The local backend's names, imported on first use (rag/stores/local.py imports this module)."""
    if name in _MOVED:
        from .stores import local, local_open

        return getattr(local_open if name == "SWAP_WAIT_S" else local, _MOVED[name])
    if name == "index_lock":
        from .index_folder import index_lock

        return index_lock
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
