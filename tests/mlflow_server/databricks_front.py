"""A small path mapping in front of MLflow servers, so dbchat talks to them in Databricks' URL
form: ``GET /api/2.0/serving-endpoints/{name}`` answers the endpoint's ``task`` (as Databricks
reads it from the model's metadata), ``POST /serving-endpoints/{name}/invocations`` is forwarded
byte for byte to that MLflow server's ``/invocations`` (status, content type, streamed body).
Plain stdlib HTTP/1.0 (the body ends when the connection closes); a test helper, not product code.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

_INVOKE = "/invocations"
_DETAILS = "/api/2.0/serving-endpoints/"


class DatabricksFront:
    """Serves ``routes`` (endpoint name → (MLflow base URL, task)) on a loopback port."""

    def __init__(self, routes: Mapping[str, tuple[str, str]]) -> None:
        self.routes = dict(routes)
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet test output
                pass

            def do_GET(self) -> None:
                name = self.path[len(_DETAILS):] if self.path.startswith(_DETAILS) else ""
                if name not in front.routes:
                    self._send(404, b'{"error_code":"RESOURCE_DOES_NOT_EXIST"}')
                    return
                details = {"name": name, "task": front.routes[name][1],
                           "state": {"ready": "READY"}}
                self._send(200, json.dumps(details).encode())

            def do_POST(self) -> None:
                parts = self.path.strip("/").split("/")
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if len(parts) != 3 or parts[0] != "serving-endpoints" or \
                        parts[1] not in front.routes:
                    self._send(404, b'{"error_code":"ENDPOINT_NOT_FOUND"}')
                    return
                upstream = front.routes[parts[1]][0] + _INVOKE
                headers = {"content-type": "application/json",
                           "accept": self.headers.get("accept", "*/*")}
                with httpx.stream("POST", upstream, content=body, headers=headers,
                                  timeout=60.0) as resp:
                    self.send_response(resp.status_code)
                    self.send_header("content-type", resp.headers.get("content-type", ""))
                    self.end_headers()
                    for piece in resp.iter_raw():
                        self.wfile.write(piece)
                        self.wfile.flush()

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The workspace host to give dbchat."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> DatabricksFront:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
