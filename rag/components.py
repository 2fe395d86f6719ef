"""LangChain objects given where a setting is expected: `Assistant.from_settings(embedder=<Embeddings>,
llm=<chat model>)` and `ask(llm=<chat model>)`.

`embedder` and `llm` are also plain settings (a model name; on/off). An object in their place is taken out
of the settings and used as it is: an `Embeddings` is wrapped by rag/encoders.py's LangChainEncoder (the
settings then name it as the index does), a chat model answers every LLM question (the settings say llm=True).
"""

from __future__ import annotations

from typing import Any

from .encoders import Encoder, as_encoder
from .errors import InvalidQuestionError, SettingsError

__all__ = ["given_objects", "checked_llm", "is_chat_model"]


def is_chat_model(value: Any) -> bool:
    """A LangChain chat model, or anything else LCEL can pipe a prompt into (it has `invoke`)."""
    return not isinstance(value, (bool, str, int, float)) and value is not None and callable(getattr(value, "invoke", None))


def given_objects(overrides: dict[str, Any]) -> tuple[Encoder | None, Any, dict[str, Any]]:
    """(embedder object, chat model, the overrides left for Settings) from from_settings's keyword arguments."""
    overrides = dict(overrides)
    encoder = chat = None
    embedder = overrides.get("embedder")
    if embedder is not None and not isinstance(embedder, str):
        encoder = as_encoder(embedder)
        overrides["embedder"] = encoder.info.name
    llm = overrides.get("llm")
    if llm is not None and not isinstance(llm, (bool, str)):
        if not is_chat_model(llm):
            raise SettingsError(f"llm must be true/false or a LangChain chat model (with invoke), "
                                f"not {type(llm).__name__}")
        chat, overrides["llm"] = llm, True
    return encoder, chat, overrides


def checked_llm(llm: Any) -> Any:
    """`ask(llm=...)`: None (the settings decide), True/False, or a chat model; anything else is refused."""
    if llm is None or isinstance(llm, bool) or is_chat_model(llm):
        return llm
    raise InvalidQuestionError(f"llm must be True, False or a LangChain chat model (e.g. ChatOpenAI(...)), "
                               f"not {type(llm).__name__}")
