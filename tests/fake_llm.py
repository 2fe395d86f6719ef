"""A LangChain chat model for tests: replies with a fixed text, streamed a few characters at a time, optionally
slowly (a slow endpoint), and records how many pieces it sent. No network."""

from __future__ import annotations

import time
from typing import Any, Iterator

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult


class SlowFakeChat(BaseChatModel):
    reply: str
    piece_chars: int = 2
    delay_s: float = 0.0  # before each piece
    sent: int = 0  # pieces streamed so far (across calls)

    @property
    def _llm_type(self) -> str:
        return "policy-rag-test-fake"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self.reply))])

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for i in range(0, len(self.reply), self.piece_chars):
            time.sleep(self.delay_s)
            self.sent += 1
            yield ChatGenerationChunk(message=AIMessageChunk(content=self.reply[i:i + self.piece_chars]))
