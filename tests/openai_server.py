"""A small OpenAI-compatible server on loopback, shaped like llama.cpp's and vLLM's (issue 12).

Routes only under ``/v1`` (``GET /v1/models``, ``POST /v1/chat/completions``, streamed), an
optional API key (401 ``{"detail": "Invalid API key"}`` as llama-cpp-python sends), an optional
``max_model_len`` in the model list (vLLM) or ``GET /props`` (llama.cpp's ``llama-server``), and
vLLM's 404 for a model it does not serve. Every request is recorded (method, path, auth header).
The real server is in tests/real_llm; this one lets the unit tests run on every stack.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class OpenAIServer:
    """Behaviour and the record of requests; ``url`` once started."""

    models: tuple[str, ...] = ("Qwen/Qwen2.5-0.5B-Instruct",)
    api_key: str | None = None
    max_model_len: int | None = None
    props_n_ctx: int | None = None
    strict_models: bool = False  # vLLM: 404 for a model it does not serve
    cut: bool = False  # [DONE] without a finish_reason (llama.cpp, when a second request comes)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def paths(self) -> list[str]:
        return [f"{method} {path}" for method, path, _ in self.requests]


def _handler(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: Any) -> None:
            self._send(status, json.dumps(data).encode())

        def _allowed(self) -> bool:
            auth = self.headers.get("Authorization")
            server.requests.append((self.command, self.path, auth))
            if server.api_key and auth != f"Bearer {server.api_key}":
                self._json(401, {"detail": "Invalid API key"})
                return False
            return True

        def do_GET(self) -> None:
            if not self._allowed():
                return
            if self.path == "/v1/models":
                entries = [{"id": m, "object": "model", "owned_by": "me",
                            **({"max_model_len": server.max_model_len}
                               if server.max_model_len else {})} for m in server.models]
                self._json(200, {"object": "list", "data": entries})
            elif self.path == "/props" and server.props_n_ctx:
                self._json(200, {"default_generation_settings": {"n_ctx": server.props_n_ctx}})
            else:
                self._json(404, {"detail": "Not Found"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            if not self._allowed():
                return
            server.bodies.append(body)
            if self.path != "/v1/chat/completions":
                self._json(404, {"detail": "Not Found"})
                return
            if server.strict_models and body.get("model") not in server.models:
                self._json(404, {"error": {"message": f"The model `{body.get('model')}` does "
                                           "not exist.", "type": "NotFoundError", "code": 404}})
                return
            chunks = [{"choices": [{"index": 0, "delta": {"content": "Hello"}}]},
                      {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
            chunks = chunks[:1] if server.cut else chunks
            stream = "".join(f"data: {json.dumps({'model': body.get('model'), **c})}\n\n"
                             for c in chunks) + "data: [DONE]\n\n"
            self._send(200, stream.encode(), "text/event-stream")

        def log_message(self, *args: object) -> None:
            return None

    return Handler


def serve(server: OpenAIServer) -> Iterator[OpenAIServer]:
    """Run ``server`` on a free loopback port until the generator is closed."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
