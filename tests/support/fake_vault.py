"""A stand-in for Vault on 127.0.0.1 that misbehaves on demand: answers by path prefix with a
status and a body of the test's choosing, or quotes the whole request (body and headers) in
its error, as some servers and proxies do. For the faults a real OpenBao cannot be made to
produce: a 500, a status hvac has no name for, a body that is not Vault's JSON, an echo."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (status, content type, body); the body may be a function of the request
Answer = tuple[int, str, object]


def echo(status: int) -> Callable[[str, dict[str, str], str], Answer]:
    """An error that quotes the whole request: its body (JSON, as Vault logs it) and headers."""

    def answer(path: str, headers: dict[str, str], body: str) -> Answer:
        quoted = f"invalid request to {path}: body {body} headers {json.dumps(headers)}"
        return (status, "application/json", {"errors": [quoted]})

    return answer


OK_MOUNT: Answer = (
    200,
    "application/json",
    {"data": {"path": "secret/", "type": "kv", "options": {"version": "2"}}},
)
OK_READ: Answer = (200, "application/json", {"data": {"data": {"api_key": "sk-fine-value"}}})
OK_LOOKUP: Answer = (200, "application/json", {"data": {"ttl": 0, "renewable": False}})


@dataclass
class FakeVault:
    """Answers by path prefix; ``script`` entries are consumed one per request (the last stays)."""

    url: str = ""
    routes: dict[str, list[object]] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)

    def route(self, prefix: str, *answers: object) -> None:
        self.routes[prefix] = list(answers)

    def answer(self, path: str, headers: dict[str, str], body: str) -> Answer:
        for prefix, script in self.routes.items():
            if path.startswith(prefix):
                chosen = script.pop(0) if len(script) > 1 else script[0]
                return chosen(path, headers, body) if callable(chosen) else chosen  # type: ignore[return-value]
        return (404, "application/json", {"errors": []})


@contextmanager
def fake_vault() -> Iterator[FakeVault]:
    """A FakeVault that serves one KV v2 secret, ``secret/llm#api_key``, to any token."""
    fake = FakeVault()
    fake.route("/v1/auth/token/lookup-self", OK_LOOKUP)
    fake.route("/v1/sys/internal/ui/mounts/", OK_MOUNT)
    fake.route("/v1/secret/data/", OK_READ)

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            fake.seen.append((self.command, self.path))
            status, kind, payload = fake.answer(self.path, dict(self.headers.items()), body)
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
