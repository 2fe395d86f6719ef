"""Fake LLMs for tests, no network: a LangChain chat model (SlowFakeChat) and a local OpenAI-compatible endpoint
(FakeOpenAIServer, for the real ChatOpenAI path). Both reply with a fixed text, streamed a few characters at a
time, optionally slowly like a slow endpoint."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class FakeOpenAIServer:
    """A local OpenAI-compatible endpoint (POST /v1/chat/completions) that streams `reply` as SSE chunks,
    `piece_chars` at a time with `delay_s` between them, like a slow vLLM/Ollama server. Records the requests.

        with FakeOpenAIServer("答[1]") as server:  # server.base_url -> http://127.0.0.1:PORT/v1
    """

    def __init__(self, reply: str, piece_chars: int = 2, delay_s: float = 0.0) -> None:
        self.reply, self.piece_chars, self.delay_s = reply, piece_chars, delay_s
        self.requests: list[dict] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use FakeOpenAIServer in a with block"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> "FakeOpenAIServer":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep the test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    self.send_error(404)
                    return
                if not body.get("stream"):
                    self._json({"id": "x", "object": "chat.completion", "created": 0, "model": body.get("model"),
                                "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant", "content": fake.reply}}]})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                pieces = [fake.reply[i:i + fake.piece_chars] for i in range(0, len(fake.reply), fake.piece_chars)]
                try:
                    for n, piece in enumerate(pieces):
                        time.sleep(fake.delay_s)
                        delta = {"role": "assistant", "content": piece} if n == 0 else {"content": piece}
                        self._event({"id": "x", "object": "chat.completion.chunk", "created": 0,
                                     "model": body.get("model"),
                                     "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
                    self._event({"id": "x", "object": "chat.completion.chunk", "created": 0, "model": body.get("model"),
                                 "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading (Stop)
                    pass

            def _event(self, data: dict) -> None:
                self.wfile.write(b"data: " + json.dumps(data, ensure_ascii=False).encode("utf-8") + b"\n\n")
                self.wfile.flush()

            def _json(self, data: dict) -> None:
                raw = json.dumps(data, ensure_ascii=False).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
