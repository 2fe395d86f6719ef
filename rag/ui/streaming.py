"""Streaming an LLM answer into the chat while the extractive answer is already shown, and stopping it.

The LLM answer goes through `Assistant.ask(llm=<chat model>)` like any other, so the grounding check in
rag/generation.py (and the notes ask adds for follow-ups and assumed places) apply unchanged: the chat model
handed to ask is a wrapper that streams the real model and passes each piece of text to the chat as it comes.
ask runs in a worker thread; the chat's generator shows the text so far, then the checked final answer.
"""

from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from ..assistant import Assistant
from ..citations import Answer
from ..errors import GenerationError

__all__ = ["StopSignals", "Stopped", "chat_model_of", "streaming_model", "stream_llm_answer"]


class Stopped(GenerationError):
    """The user pressed Stop while the LLM was generating."""


class StopSignals:
    """The stop events of the questions running in each browser session, so Stop ends that session's only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, set[threading.Event]] = {}

    @contextmanager
    def running(self, session: str) -> Iterator[threading.Event]:
        event = threading.Event()
        with self._lock:
            self._events.setdefault(session, set()).add(event)
        try:
            yield event
        finally:
            with self._lock:
                events = self._events.get(session, set())
                events.discard(event)
                if not events:
                    self._events.pop(session, None)

    def stop(self, session: str) -> int:
        """Set every stop event of `session`; returns how many questions were running."""
        with self._lock:
            events = self._events.pop(session, set())
        for event in events:
            event.set()
        return len(events)


def chat_model_of(assistant: Assistant) -> Any:
    """The chat model LLM answers use: the one given to the Assistant, else the configured endpoint's."""
    model = getattr(assistant, "chat_model", None)
    if model is not None:
        return model
    from ..generation import chat_model

    return chat_model(assistant.settings)


def _text_of(chunk: Any) -> str:
    if isinstance(chunk, str):
        return chunk
    content = getattr(chunk, "content", "")
    if isinstance(content, str):
        return content
    # content blocks ([{"type": "text", "text": …}]) from providers that send them
    return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content or [])


def streaming_model(model: Any, pieces: "queue.Queue[str]", stop: threading.Event):
    """A Runnable that answers like `model` but streams it, putting each piece of text on `pieces`.

    Stop raises `Stopped` at the next piece; generate_answer then keeps the extractive answer."""
    from langchain_core.messages import AIMessage
    from langchain_core.runnables import RunnableLambda

    def run(prompt: Any) -> AIMessage:
        if stop.is_set():
            raise Stopped("stopped before the LLM was called")
        parts: list[str] = []
        stream = getattr(model, "stream", None)
        for chunk in (stream(prompt) if callable(stream) else [model.invoke(prompt)]):
            if stop.is_set():
                raise Stopped("stopped by the user while the LLM was generating")
            text = _text_of(chunk)
            if text:
                parts.append(text)
                pieces.put(text)
        return AIMessage("".join(parts))

    return RunnableLambda(run, name="policy-rag-streaming-llm")


def stream_llm_answer(assistant: Assistant, question: str, *, stop: threading.Event, model: Any,
                      poll_s: float = 0.1, **ask_options: Any) -> Iterator[str | Answer]:
    """Yield the LLM's text so far (a str, at most every `poll_s` seconds) as it grows, then the final Answer:
    the LLM's when it passed the grounding check, else the extractive one with the note saying why.

    Returns without a final Answer when `stop` is set; closing the generator sets `stop` too, so the worker
    stops at the LLM's next piece of text instead of generating for nobody."""
    pieces: queue.Queue[str] = queue.Queue()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["answer"] = assistant.ask(question, llm=streaming_model(model, pieces, stop), **ask_options)
        except Exception as exc:  # handed to the chat's thread, which shows it as an error
            result["error"] = exc

    worker = threading.Thread(target=work, name="policy-rag-llm", daemon=True)
    worker.start()
    text = ""
    try:
        while True:
            done = not worker.is_alive()  # read before draining, so no piece put before the end is missed
            grown = False
            while True:
                try:
                    text += pieces.get_nowait()
                    grown = True
                except queue.Empty:
                    break
            if stop.is_set():
                return
            if grown:
                yield text
            if done:
                break
            worker.join(poll_s)
    finally:
        if "answer" not in result and "error" not in result:
            stop.set()  # closed or stopped early: let the worker end at the model's next piece
    if "error" in result:
        raise result["error"]
    yield result["answer"]
