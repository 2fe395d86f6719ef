"""Which backend holds the index (settings.vector_store): load it, or build it, for the rest of the library.

    "local"   an index folder (settings.index_dir) of FAISS, BM25 arrays, JSONL and numpy files
    "milvus"  collections in Milvus at settings.milvus_uri: a server (http://host:19530) or a Milvus Lite file;
              by default a Milvus Lite file beside the index folder (indexes/default.milvus.db)

The Milvus modules (and pymilvus) are imported only when the Milvus backend is chosen.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..settings import Settings
from .base import Store

__all__ = ["VECTOR_STORES", "load_store", "build_store", "update_store", "milvus_uri_of"]

log = logging.getLogger(__name__)
VECTOR_STORES = ("local", "milvus")


def milvus_uri_of(settings: Settings) -> str:
    from .milvus_connect import default_uri

    return settings.milvus_uri or default_uri(settings.index_dir)


def load_store(settings: Settings, *, expected_embedder=None) -> Store:
    """The index `settings` point at. Raises IndexNotFoundError when there is none yet (build_store makes it)."""
    if settings.vector_store == "milvus":
        from ..errors import IndexVersionError
        from .milvus import open_milvus_store

        store = open_milvus_store(milvus_uri_of(settings), settings.index_dir, expected_embedder=expected_embedder,
                                  token=settings.milvus_token)
        if store.lexical != settings.milvus_lexical:  # a build-time choice: the Assistant rebuilds (vectors re-used)
            raise IndexVersionError(f"Milvus index {store.path} searches words with {store.lexical!r}, the settings "
                                    f"ask for {settings.milvus_lexical!r}; rebuild it with `rag index "
                                    f"--vector-store milvus`")
        return store
    from .local_open import load_index

    return load_index(settings.index_dir, expected_embedder=expected_embedder)


def build_store(documents, embedder, settings: Settings, *, progress: bool = True, rebuild: bool = False,
                ignored: dict[str, str] | None = None, deadline: float | None = None, upgrade: bool = True) -> dict:
    """Bring the index up to date with `documents`, writing only what changed unless a full build is due
    (re-using vectors of unchanged text); build stats. `upgrade=False` writes changed documents into an index of
    an older pipeline version instead of rebuilding it whole (an Assistant starting on a large index)."""
    if settings.vector_store == "milvus":
        from .milvus_update import sync_milvus_index  # the local rule: only changed documents, unless a build pays

        return sync_milvus_index(
            documents, embedder, uri=milvus_uri_of(settings), index_dir=settings.index_dir,
            chunk_size=settings.chunk_size, progress=progress, rebuild=rebuild, ignored=ignored, deadline=deadline,
            lexical=settings.milvus_lexical, token=settings.milvus_token, upgrade=upgrade,
            vectors=None if rebuild else _local_vectors(settings.index_dir, embedder.info))
    from .local_update import sync_index  # only the changed documents are written, unless a full build pays

    return sync_index(documents, embedder, settings.index_dir, chunk_size=settings.chunk_size, progress=progress,
                      rebuild=rebuild, ignored=ignored, deadline=deadline, upgrade=upgrade)


def update_store(store: Store, embedder, *, add=(), remove=(), progress: bool = False,
                 deadline: float | None = None, index_dir: Path | None = None) -> tuple[Store, dict]:
    """Add (or replace, by doc_id) and remove documents, writing only them. Returns the new snapshot and stats.
    `index_dir` (settings.index_dir) lets a Milvus write keep what it embeds until it commits, to resume after a
    kill (a local index keeps it beside its own folder)."""
    if store.backend == "milvus":
        from .milvus_update import add_documents

        return add_documents(store, list(add), embedder, remove=list(remove), progress=progress, deadline=deadline,
                             index_dir=index_dir)
    from .local_update import update_index

    return update_index(store, embedder, add=add, remove=remove, progress=progress, deadline=deadline)


def _local_vectors(index_dir: Path, info):
    """The vectors of a local index in the same folder (same embedder), read for a batch of documents at a time,
    so moving an index to Milvus, or building an eval slice's Milvus index beside its local one, embeds nothing
    it already has."""
    from .local_write import previous_vectors

    if not (Path(index_dir) / "manifest.json").exists():
        return None

    def vectors(doc_ids) -> dict:
        try:
            return previous_vectors(Path(index_dir), info, doc_ids=set(doc_ids))
        except Exception as exc:  # noqa: BLE001 - vectors to re-use are an optimisation, never a failure
            log.info("vectors of the local index at %s not re-used: %s", index_dir, exc)
            return {}

    return vectors
