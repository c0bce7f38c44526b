"""A token-checking reverse proxy on 127.0.0.1, for tests: what stands in front of an MLflow
server that its clients reach with ``MLFLOW_TRACKING_TOKEN`` (MLflow's own basic-auth app takes
no bearer tokens). A request whose ``Authorization`` is ``Bearer TOKEN`` is passed on to the
upstream server as it came (method, path, query, body, the workspace header) and its answer sent
back; any other gets 401 with an MLflow-shaped error body. Each request's ``Authorization`` is
recorded (``seen``).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import httpx

PASSED_ON = ("content-type", "x-mlflow-workspace")


class BearerProxy:
    def __init__(self, upstream: str, token: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.token = token
        self.seen: list[str | None] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> BearerProxy:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                given = self.headers.get("authorization")
                proxy.seen.append(given)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if given != f"Bearer {proxy.token}":
                    error = {"error_code": "UNAUTHENTICATED", "message": "invalid bearer token"}
                    self._send(401, "application/json", json.dumps(error).encode())
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() in PASSED_ON}
                answer = httpx.request(
                    self.command,
                    proxy.upstream + self.path,
                    content=body,
                    headers=headers,
                    timeout=60,
                    trust_env=False,
                )
                self._send(
                    answer.status_code,
                    answer.headers.get("content-type", "application/json"),
                    answer.content,
                )

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = _any

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
