"""A scripted OpenAI-compatible server on loopback, so tests drive the real `openai` client
over real HTTP and see the failures a real endpoint produces.

    with ScriptedOpenAI() as server:
        server.script(status=500)            # first request
        server.script(reply="Paris [1].")    # second request, and every later one
        ...  # point a client at server.base_url
        server.requests[-1].json["messages"]

Each `script(...)` call queues one behaviour; each chat-completion request takes the next
one, and once the queue runs dry the last one taken is served again (before any script, the
reply is "OK"). Behaviours: `reply`, `responder(request_json) -> str`, `delay` (seconds before
answering), `status` (+ `retry_after` seconds), `malformed` (invalid JSON, or an invalid SSE
event when streaming), `cut_stream_after=N` (N content chunks, then the connection drops) and
`finish_reason` ("stop" by default; None or "length" to fake an unfinished answer) and
`chunk_interval` (seconds between streamed chunks: a server that trickles).

Responses close the connection, so no handler thread outlives a test; a handler still
sleeping through `delay` is woken when the server closes.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class Behaviour:
    reply: str = "OK"
    responder: Responder | None = None
    delay: float = 0.0
    status: int = 200
    retry_after: float | None = None
    malformed: bool = False
    cut_stream_after: int | None = None
    finish_reason: str | None = "stop"
    chunk_interval: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    """`headers` has lower-case names."""

    method: str
    path: str
    headers: dict[str, str]
    json: dict[str, Any] | None


class ScriptedOpenAI:
    def __init__(self, model: str = "stub-model") -> None:
        self.model = model
        self.requests: list[RecordedRequest] = []
        self._queue: list[Behaviour] = []
        self._last = Behaviour()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.stub = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def script(
        self,
        *,
        reply: str = "OK",
        responder: Responder | None = None,
        delay: float = 0.0,
        status: int = 200,
        retry_after: float | None = None,
        malformed: bool = False,
        cut_stream_after: int | None = None,
        finish_reason: str | None = "stop",
        chunk_interval: float = 0.0,
    ) -> ScriptedOpenAI:
        behaviour = Behaviour(
            reply=reply,
            responder=responder,
            delay=delay,
            status=status,
            retry_after=retry_after,
            malformed=malformed,
            cut_stream_after=cut_stream_after,
            finish_reason=finish_reason,
            chunk_interval=chunk_interval,
        )
        with self._lock:
            self._queue.append(behaviour)
        return self

    def __enter__(self) -> ScriptedOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        # Joins the handler threads, which the closing event has already released.
        self._httpd.server_close()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_behaviour(self) -> Behaviour:
        with self._lock:
            if self._queue:
                self._last = self._queue.pop(0)
            return self._last


class _Server(ThreadingHTTPServer):
    # Non-daemon handler threads are joined by server_close(), so none outlives a test.
    daemon_threads = False
    stub: ScriptedOpenAI


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so streams use chunked encoding: a cut then looks like a real dropped
    # connection (an unterminated body), not a clean end of response.
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._guard(self._get)

    def do_POST(self) -> None:
        self._guard(self._post)

    def _guard(self, handler: Callable[[], None]) -> None:
        self.close_connection = True
        # A client that gave up (its timeout ran out) is what some tests want, not an error.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler()

    def _headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def _get(self) -> None:
        stub = self.server.stub
        stub._record(RecordedRequest("GET", self.path, self._headers(), None))
        if self.path.rstrip("/") != "/v1/models":
            self._send_error(HTTPStatus.NOT_FOUND, f"no route {self.path}")
            return
        self._send_json(
            200,
            {
                "object": "list",
                "data": [{"id": stub.model, "object": "model", "created": 0, "owned_by": "stub"}],
            },
        )

    def _post(self) -> None:
        stub = self.server.stub
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        stub._record(RecordedRequest("POST", self.path, self._headers(), body))
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_error(HTTPStatus.NOT_FOUND, f"no route {self.path}")
            return
        if not isinstance(body, dict):
            self._send_error(HTTPStatus.BAD_REQUEST, "request body is not a JSON object")
            return

        behaviour = stub._next_behaviour()
        if behaviour.delay and stub._closing.wait(behaviour.delay):
            return
        if behaviour.status >= 400:
            headers = {}
            if behaviour.retry_after is not None:
                headers["Retry-After"] = f"{behaviour.retry_after:g}"
            self._send_error(behaviour.status, f"scripted {behaviour.status}", headers)
            return

        text = behaviour.responder(body) if behaviour.responder else behaviour.reply
        model = str(body.get("model") or stub.model)
        if body.get("stream"):
            self._stream(behaviour, text, model)
        elif behaviour.malformed:
            self._send_raw(200, b'{"id": "chatcmpl-stub", "choices": [', "application/json")
        else:
            self._send_json(200, _completion(text, model, behaviour.finish_reason))

    def _stream(self, behaviour: Behaviour, text: str, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        if behaviour.malformed:
            self._send_chunk(b"data: {not json\n\n")
            self._send_chunk(b"data: [DONE]\n\n")
            self._send_chunk(b"")
            return
        pieces = re.findall(r"\s*\S+", text) or [text]
        for index, piece in enumerate(pieces):
            if behaviour.cut_stream_after is not None and index >= behaviour.cut_stream_after:
                # Ends the handler without the terminating chunk: the client sees the
                # connection drop mid-body.
                return
            if index and behaviour.chunk_interval and \
                    self.server.stub._closing.wait(behaviour.chunk_interval):
                return
            delta: dict[str, str] = {"content": piece}
            if index == 0:
                delta["role"] = "assistant"
            self._send_event(_chunk(model, delta, None))
        if behaviour.cut_stream_after is not None:
            return
        self._send_event(_chunk(model, {}, behaviour.finish_reason))
        self._send_chunk(b"data: [DONE]\n\n")
        self._send_chunk(b"")

    def _send_event(self, payload: dict[str, Any]) -> None:
        self._send_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send_error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        error = {"error": {"message": message, "type": "stub_error", "code": str(status)}}
        self._send_json(status, error, headers)

    def _send_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send_raw(status, json.dumps(payload).encode(), "application/json", headers)

    def _send_raw(
        self,
        status: int,
        data: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _completion(text: str, model: str, finish_reason: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def _chunk(model: str, delta: dict[str, str], finish_reason: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
