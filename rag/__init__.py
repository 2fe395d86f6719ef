"""policy-rag: cited question answering over Chinese government plan documents.

    from rag import Assistant
    answer = Assistant.from_settings().ask("绍兴2025年技术交易额目标是多少?")
"""

from .assistant import Assistant
from .citations import Answer, Citation
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
from .retrieval import HybridRetriever
from .settings import Settings

__all__ = [
    "Assistant", "Answer", "Citation", "HybridRetriever", "Settings",
    "PolicyRagError", "DocumentLoadError", "NoDocumentsError", "IndexNotFoundError", "IndexCorruptError",
    "IndexWriteError", "IndexingTimeoutError", "EmbedderMismatchError", "EmbedderUnavailableError", "InvalidQuestionError", "GenerationError", "SettingsError",
    "NoTextLayerError",
]
__version__ = "0.1.0"
