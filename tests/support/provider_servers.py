"""Local HTTP servers on 127.0.0.1 that speak each provider's key-check protocol.

Each server authenticates the way its provider does (Bearer, x-api-key + anthropic-version,
x-goog-api-key, api-key + api-version, SigV4 or Bearer for Bedrock), answers the zero-token
check with a model list, and answers each key as the test scripts it: with the provider's own
error bodies, taken from /work/shared/reference/providers.md (marked "shape only" where that
note has no verified body and the words are ours). An unknown key gets the provider's
invalid-key answer, as from the real thing. Every request is recorded for assertions.

An OpenAI-style server also answers chat completions (``POST /v1/chat/completions``, a canned
reply naming the model), so that a gateway in front of it can be called, and a key can be
revoked while it runs (``revoke``): from then on it gets OpenAI's 401 ``invalid_api_key``.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from . import misbehaving
from .misbehaving import STREAMED, Streamed

Body = object  # a JSON value, or str for a raw text body
Response = tuple[int, Mapping[str, str], Body]


def bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    return value[len("Bearer ") :] if value.startswith("Bearer ") else None


def header(name: str) -> Callable[[Mapping[str, str]], str | None]:
    return lambda headers: headers.get(name)


def aws(headers: Mapping[str, str]) -> str | None:
    """Bedrock: a Bedrock API key as Bearer, or the access key id of a SigV4 signature."""
    value = headers.get("authorization", "")
    if value.startswith("AWS4-HMAC-SHA256 Credential="):
        if "Signature=" not in value or "x-amz-date" not in headers:
            return None
        return value.split("Credential=", 1)[1].split("/", 1)[0]
    return bearer(headers)


@dataclass(frozen=True)
class Protocol:
    name: str
    prefix: str  # the config's api_base is the server's URL plus this
    check_path: str  # the path a key check must request
    key_of: Callable[[Mapping[str, str]], str | None]
    models: Callable[[Sequence[str]], Body]
    errors: Mapping[str, Response]  # by outcome name
    required_headers: Mapping[str, str] = field(default_factory=dict)
    required_query: Mapping[str, str] = field(default_factory=dict)
    model_path: str | None = None  # per-model retrieve, "{model}" for the id
    model_object: Callable[[str], Body] | None = None
    more_pages: Mapping[str, object] | None = None  # what a list with a next page carries
    chat_path: str | None = None  # where POST chat completions are answered


def openai_chat(model: str) -> Body:
    """OpenAI's chat completion object, with a reply that names the model."""
    return {
        "id": "chatcmpl-llmform-test",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": f"hello from {model}"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4},
    }


def openai_models(ids: Sequence[str]) -> Body:
    return {
        "object": "list",
        "data": [{"id": i, "object": "model", "created": 1, "owned_by": "system"} for i in ids],
    }


def openai_error(status: int, message: str, type_: str | None, code: str | None) -> Response:
    return (status, {}, {"error": {"message": message, "type": type_, "param": None, "code": code}})


PROTOCOLS: dict[str, Protocol] = {}


def _register(protocol: Protocol) -> None:
    PROTOCOLS[protocol.name] = protocol


_register(
    Protocol(
        name="openai",
        prefix="/v1",
        check_path="/v1/models",
        key_of=bearer,
        models=openai_models,
        chat_path="/v1/chat/completions",
        errors={
            "invalid_key": openai_error(
                401,
                "Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            ),
            "no_permission": openai_error(
                401,
                "You have insufficient permissions for this operation. Missing scopes: "
                "api.model.read. Check that you have the correct role in your organization.",
                "invalid_request_error",
                None,
            ),
            "out_of_quota": openai_error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
            ),
            "rate_limited": openai_error(
                429, "Rate limit reached for requests", "requests", "rate_limit_exceeded"
            ),
            "error": openai_error(500, "The server had an error", "server_error", None),
        },
    )
)

_register(
    Protocol(
        name="anthropic",
        prefix="",
        check_path="/v1/models",
        key_of=header("x-api-key"),
        required_headers={"anthropic-version": "2023-06-01"},
        models=lambda ids: {
            "data": [{"type": "model", "id": i, "display_name": i} for i in ids],
            "has_more": False,
            "first_id": ids[0] if ids else None,
            "last_id": ids[-1] if ids else None,
        },
        model_path="/v1/models/{model}",
        model_object=lambda i: {"type": "model", "id": i, "display_name": i},
        more_pages={"has_more": True},
        errors={
            kind: (
                status,
                headers,
                {
                    "type": "error",
                    "error": {"type": type_, "message": message},
                    "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
                },
            )
            for kind, status, headers, type_, message in (
                ("invalid_key", 401, {}, "authentication_error", "invalid x-api-key"),
                (
                    "no_permission",
                    403,
                    {},
                    "permission_error",
                    "Your API key does not have permission to use the specified resource.",
                ),
                (
                    "out_of_quota",
                    400,
                    {},
                    "invalid_request_error",
                    "Your credit balance is too low to access the Anthropic API.",
                ),
                ("rate_limited", 429, {"retry-after": "3"}, "rate_limit_error", "Rate limited"),
                ("error", 529, {}, "overloaded_error", "Overloaded"),
                ("not_found", 404, {}, "not_found_error", "model: nope"),
            )
        },
    )
)


def google_error(status: int, message: str, state: str, details: list[Body]) -> Response:
    return (
        status,
        {},
        {"error": {"code": status, "message": message, "status": state, "details": details}},
    )


_register(
    Protocol(
        name="gemini",
        prefix="/v1beta",
        check_path="/v1beta/models",
        key_of=header("x-goog-api-key"),
        models=lambda ids: {
            "models": [{"name": f"models/{i}", "displayName": i} for i in ids],
        },
        model_path="/v1beta/models/{model}",
        model_object=lambda i: {"name": f"models/{i}", "displayName": i},
        more_pages={"nextPageToken": "Cg5nZW1pbmktMi41LXBybw"},
        errors={
            "not_found": google_error(
                404, "models/nope is not found for API version v1beta", "NOT_FOUND", []
            ),
            "invalid_key": google_error(
                400,
                "API key not valid. Please pass a valid API key.",
                "INVALID_ARGUMENT",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    }
                ],
            ),
            "no_permission": google_error(
                403, "The caller does not have permission", "PERMISSION_DENIED", []
            ),
            "out_of_quota": google_error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "RESOURCE_EXHAUSTED",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [
                            {"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}
                        ],
                    }
                ],
            ),
            "rate_limited": google_error(
                429,
                "Resource has been exhausted (e.g. check quota).",
                "RESOURCE_EXHAUSTED",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [{"quotaId": "GenerateRequestsPerMinutePerProject"}],
                    },
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"},
                ],
            ),
            "error": google_error(503, "The service is currently unavailable.", "UNAVAILABLE", []),
        },
    )
)

_register(
    Protocol(
        name="bailian",
        prefix="/compatible-mode/v1",
        check_path="/compatible-mode/v1/models",
        key_of=bearer,
        models=openai_models,
        errors={
            "invalid_key": openai_error(
                401, "Incorrect API key provided. ", "invalid_request_error", "invalid_api_key"
            ),
            # native-mode bodies (code, message, request_id) with the documented codes
            "no_permission": (
                403,
                {},
                {
                    "code": "AccessDenied.Unpurchased",
                    "message": "Access to model denied. Please make sure you are eligible.",
                    "request_id": "a1b2",
                },
            ),
            "out_of_quota": (
                400,
                {},
                {
                    "code": "Arrearage",
                    "message": "Access denied, please make sure your account is in good standing.",
                    "request_id": "a1b3",
                },
            ),
            "out_of_quota_429": openai_error(
                429, "Free allocated quota exceeded.", "insufficient_quota", "insufficient_quota"
            ),
            "rate_limited": openai_error(
                429,
                "Requests rate limit exceeded, please try again later.",
                "limit_requests",
                "limit_requests",
            ),
        },
    )
)

_register(
    Protocol(
        name="deepseek",
        prefix="",
        check_path="/models",
        key_of=bearer,
        models=openai_models,
        errors={
            "invalid_key": openai_error(
                401,
                "Authentication Fails, Your api key: ****{tail} is invalid",
                "authentication_error",
                "invalid_request_error",
            ),
            "out_of_quota": openai_error(
                402, "Insufficient Balance", "unknown_error", "invalid_request_error"
            ),
            "rate_limited": openai_error(
                429, "Rate Limit Reached", "rate_limit_error", "invalid_request_error"
            ),
            "error": openai_error(503, "Server Overloaded", "server_error", None),
        },
    )
)

_register(
    Protocol(
        name="siliconflow",
        prefix="/v1",
        check_path="/v1/models",
        key_of=bearer,
        models=openai_models,
        errors={
            "invalid_key": (401, {"content-type": "text/plain"}, '"Api key is invalid"'),
            # shape only: {"code", "message", "data"} with our words
            "no_permission": (
                403,
                {},
                {
                    "code": 30011,
                    "message": "The model requires real-name verification",
                    "data": None,
                },
            ),
            "out_of_quota": (
                403,
                {},
                {
                    "code": 30001,
                    "message": "Sorry, your account balance is insufficient",
                    "data": None,
                },
            ),
            "rate_limited": (
                429,
                {},
                {"code": 50603, "message": "Request was rejected due to TPM limit", "data": None},
            ),
        },
    )
)

_register(
    Protocol(
        name="openai-compatible",
        prefix="/v1",
        check_path="/v1/models",
        key_of=bearer,
        models=openai_models,
        # vLLM's AuthenticationMiddleware
        errors={"invalid_key": (401, {}, {"error": "Unauthorized"})},
    )
)


def azure_error(status: int, message: str) -> Response:
    return (status, {}, {"error": {"code": str(status), "message": message}})


_register(
    Protocol(
        name="azure-openai",
        prefix="",
        check_path="/openai/models",
        key_of=header("api-key"),
        required_query={"api-version": "2024-10-21"},
        models=openai_models,
        errors={
            "invalid_key": azure_error(
                401,
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                "to provide a valid key for an active subscription and use a correct regional "
                "API endpoint for your resource.",
            ),
            "no_permission": azure_error(403, "Traffic is not from an approved private endpoint."),
            "rate_limited": (
                429,
                {"retry-after-ms": "1500", "retry-after": "2"},
                {
                    "error": {
                        "code": "429",
                        "message": "Requests to the ChatCompletions_Create Operation have "
                        "exceeded call rate limit of your current OpenAI S0 pricing tier.",
                    }
                },
            ),
        },
    )
)


def aws_error(status: int, type_: str, message: str) -> Response:
    return (
        status,
        {"x-amzn-ErrorType": f"{type_}:http://internal.amazon.com/coral/com.amazon.coral.service/"},
        {"message": message},
    )


_register(
    Protocol(
        name="bedrock",
        prefix="",
        check_path="/foundation-models",
        key_of=aws,
        models=lambda ids: {
            "modelSummaries": [{"modelId": i, "modelArn": f"arn:aws:bedrock:::{i}"} for i in ids]
        },
        errors={
            "invalid_key": aws_error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            "no_permission": aws_error(
                403,
                "AccessDeniedException",
                "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
                "bedrock:ListFoundationModels",
            ),
            "out_of_quota": aws_error(
                400, "ServiceQuotaExceededException", "Your request exceeds the service quota."
            ),
            "rate_limited": aws_error(
                429, "ThrottlingException", "Too many requests, please wait before trying again."
            ),
        },
    )
)

_register(
    Protocol(
        name="ollama",
        prefix="",
        check_path="/api/tags",
        key_of=bearer,
        models=lambda ids: {"models": [{"name": i, "model": i, "size": 1} for i in ids]},
        errors={"invalid_key": (401, {}, {"error": "unauthorized"})},
    )
)


@dataclass(frozen=True)
class Seen:
    """A request as the server saw it."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    key: str | None
    body: object = None  # a POST's JSON body


# A key's behaviour: an outcome name ("valid", or a key of Protocol.errors), a raw Response,
# "slow:<seconds>" (answer valid after a pause), "echo" (refuse the key quoting it back in
# every shape, see ``echoing_error``), "streamed:<name>" (an answer too large, endless or
# slow, or one at the bound, see ``misbehaving``), or a list of those consumed one per request
# (the last one repeats).
Behaviour = str | Response | Sequence[str | Response]

# Where an echoing error first quotes the key in the detail a plan shows for an OpenAI-style
# provider ("HTTP 401 invalid_request_error invalid_api_key: <message>"): 20 characters before
# the 300th, so text cut to 300 before it is redacted keeps the key's first 20 characters.
ECHO_AT = 280
_SHOWN_BEFORE = "HTTP 401 invalid_request_error invalid_api_key: Invalid key "


def echoing_error(key: str, headers: Mapping[str, str]) -> Response:
    """A 401 whose message quotes the key the way careless servers do: cut by a 300-character
    limit, whole, JSON-escaped, as Python repr of str and bytes, URL-encoded, backslash-escaped,
    as hex,
    inside Basic auth's base64 of ``user:key``, its first 20 characters, head and tail around
    a mask, and every request header as received."""
    basic = base64.b64encode(f"ci-bot:{key}".encode()).decode()
    message = " ".join(
        [
            "x" * (ECHO_AT - len(_SHOWN_BEFORE) - 1),
            key,
            f"json={json.dumps(key)}",
            f"json-in-json={json.dumps(json.dumps({'api_key': key}))}",
            f"repr={key!r} bytes={key.encode()!r}",
            f"url={quote(key, safe='')} url-lower-hex={_lower_hex(quote(key, safe=''))}",
            f"escaped={key.encode('unicode_escape').decode()} hex={key.encode().hex()}",
            f"basic=Basic {basic}",
            f"first20={key[:20]} masked={key[:6]}…{key[-4:]} stars={key[:3]}****{key[-4:]}",
            f"headers={json.dumps(dict(headers))}",
        ]
    )
    return openai_error(401, "Invalid key " + message, "invalid_request_error", "invalid_api_key")


class ProviderServer:
    """One protocol on 127.0.0.1:<free port>. ``keys`` maps a key (None: no key sent) to its
    behaviour; ``models`` is the list the check sees; ``aliases`` exist only per model (or
    on a later page, with ``paged``); ``tls`` serves https with that server context."""

    def __init__(
        self,
        protocol: str | Protocol,
        keys: Mapping[str | None, Behaviour],
        models: Sequence[str] = (),
        aliases: Sequence[str] = (),
        paged: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.protocol = PROTOCOLS[protocol] if isinstance(protocol, str) else protocol
        self.keys = dict(keys)
        self.models = list(models)
        self.aliases = list(aliases)
        self.paged = paged  # the list says a next page follows (and ``aliases`` are on it)
        self.requests: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._served: dict[str | None, int] = {}
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.scheme = "http" if tls is None else "https"
        # a short poll so that shutdown (which waits for the poll) takes milliseconds
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    @property
    def api_base(self) -> str:
        return self.url + self.protocol.prefix

    def keys_seen(self) -> list[str | None]:
        return [r.key for r in self.requests]

    def chats(self) -> list[Seen]:
        """The chat completion requests received, in order."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST"]

    def revoke(self, key: str) -> None:
        """From now on ``key`` gets the provider's invalid-key answer, as a key revoked in
        the provider's console does."""
        with self._lock:
            self.keys[key] = "invalid_key"

    def __enter__(self) -> ProviderServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def _behaviour(self, key: str | None) -> str | Response:
        with self._lock:
            if key not in self.keys:
                return "invalid_key"
            behaviour = self.keys[key]
            if isinstance(behaviour, str) or _is_response(behaviour):
                return behaviour  # type: ignore[return-value]
            script = list(behaviour)  # type: ignore[arg-type]
            index = self._served.get(key, 0)
            self._served[key] = index + 1
            return script[min(index, len(script) - 1)]  # type: ignore[no-any-return]

    def answer(self, seen: Seen) -> Response | Streamed:
        p = self.protocol
        for name, value in p.required_headers.items():
            if seen.headers.get(name) != value:
                return (400, {}, {"error": {"message": f"missing header {name}"}})
        for name, value in p.required_query.items():
            if seen.query.get(name) != value:
                return (404, {}, {"error": {"code": "404", "message": "Resource not found"}})
        behaviour = self._behaviour(seen.key)
        if behaviour == "echo":
            return echoing_error(seen.key or "", seen.headers)
        if isinstance(behaviour, str) and behaviour.startswith("streamed:"):
            return STREAMED[behaviour.split(":", 1)[1]](seen.key or "")
        if isinstance(behaviour, str) and behaviour.startswith("slow:"):
            time.sleep(float(behaviour.split(":", 1)[1]))
            behaviour = "valid"
        if not isinstance(behaviour, str):
            return behaviour
        if behaviour != "valid":
            return p.errors[behaviour]
        if seen.method == "POST":
            body = seen.body if isinstance(seen.body, Mapping) else {}
            model = body.get("model")
            if seen.path != p.chat_path or not isinstance(model, str):
                return (404, {}, {"error": {"message": f"no route POST {seen.path}"}})
            return (200, {}, openai_chat(model))
        if seen.path == p.check_path:
            body = p.models(self.models)
            if self.paged and isinstance(body, dict) and p.more_pages:
                body = {**body, **p.more_pages}
            return (200, {}, body)
        model = _model_in(p.model_path, seen.path)
        if model is not None and p.model_object is not None:
            if model in self.models or model in self.aliases:
                return (200, {}, p.model_object(model))
            return p.errors["not_found"]
        return (404, {}, {"error": {"message": f"no route {seen.path}"}})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes; Nagle would hold the second for 40 ms
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                self._serve("GET", None)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: object = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                self._serve("POST", body)

            def _serve(self, method: str, request_body: object) -> None:
                split = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen = Seen(
                    method,
                    unquote(split.path),
                    dict(parse_qsl(split.query)),
                    headers,
                    server.protocol.key_of(headers),
                    request_body,
                )
                with server._lock:
                    server.requests.append(seen)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    answer = server.answer(seen)
                finally:
                    with server._lock:
                        server.in_flight -= 1
                if isinstance(answer, Streamed):
                    self.close_connection = True
                    misbehaving.write(answer, self.wfile.write, self.wfile.flush)
                    return
                status, extra, body = answer
                raw = body if isinstance(body, str) else json.dumps(body)
                # Providers quote part of a rejected key back; so do we, to test redaction.
                key = seen.key or ""
                raw = raw.replace("{masked}", key[:8] + "*" * 20 + key[-4:])
                raw = raw.replace("{tail}", key[-4:])
                data = raw.encode()
                self.send_response(status)
                extra = {k.lower(): v for k, v in extra.items()}
                self.send_header("content-type", extra.pop("content-type", "application/json"))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the requests are recorded instead

        return Handler


class _QuietServer(ThreadingHTTPServer):
    # the default backlog of 5 drops connections when a test opens dozens at once
    request_queue_size = 256

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (a timeout test) leaves a broken pipe: expected, not news."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _lower_hex(url_encoded: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), url_encoded)


def _is_response(value: object) -> bool:
    return isinstance(value, tuple) and len(value) == 3 and isinstance(value[0], int)


def _model_in(pattern: str | None, path: str) -> str | None:
    if pattern is None:
        return None
    head, _, tail = pattern.partition("{model}")
    if path.startswith(head) and path.endswith(tail) and len(path) > len(head) + len(tail):
        return path[len(head) : len(path) - len(tail)]
    return None
