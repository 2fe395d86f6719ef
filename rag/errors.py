"""Exception types. Every message says what went wrong *and* what to do about it."""

from __future__ import annotations

__all__ = [
    "PolicyRagError",
    "DocumentLoadError",
    "NoTextLayerError",
    "NoDocumentsError",
    "IndexNotFoundError",
    "IndexCorruptError",
    "IndexVersionError",
    "IndexWriteError",
    "IndexingTimeoutError",
    "EmbedderMismatchError",
    "EmbedderUnavailableError",
    "EmbeddingWorkerError",
    "InvalidQuestionError",
    "GenerationError",
    "SettingsError",
    "VectorStoreUnavailableError",
]


class PolicyRagError(Exception):
    """Base class: catch this to handle any policy-rag failure."""


class DocumentLoadError(PolicyRagError):
    """A document file could not be decoded or is not text."""


class NoDocumentsError(PolicyRagError):
    """The documents directory holds nothing that can be indexed."""


class IndexNotFoundError(PolicyRagError):
    """No index at the configured path."""


class IndexCorruptError(PolicyRagError):
    """An index directory exists but a file in it is missing, truncated or unreadable."""


class IndexVersionError(IndexCorruptError):
    """The index was written by another version of policy-rag's index format."""


class EmbedderMismatchError(PolicyRagError):
    """The index was built with a different embedder than the one configured."""


class EmbedderUnavailableError(PolicyRagError):
    """The configured embedding or reranking model cannot be loaded."""


class InvalidQuestionError(PolicyRagError, ValueError):
    """The question is empty, too long, or not text."""


class GenerationError(PolicyRagError):
    """The optional LLM endpoint failed or is not configured."""


class SettingsError(PolicyRagError, ValueError):
    """A setting has an invalid value."""


class IndexWriteError(PolicyRagError, OSError):
    """The index folder cannot be written (read-only, not a folder, disk full)."""


class IndexingTimeoutError(PolicyRagError):
    """Indexing an upload took longer than max_upload_seconds; the upload was rolled back."""


class NoTextLayerError(DocumentLoadError):
    """A PDF has no text to extract (a scanned image); policy-rag does not do OCR."""


class VectorStoreUnavailableError(PolicyRagError):
    """The configured vector store (a Milvus server or Milvus Lite file) cannot be reached or opened."""


class EmbeddingWorkerError(EmbedderUnavailableError):
    """An embedding worker process (`rag index --workers N`) died; what was embedded before it is kept."""
