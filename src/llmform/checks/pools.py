"""The HTTP clients a key-check run sends through: several small connection pools, and TLS
set up only when a request may need it."""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Sequence

import httpx

from .subjects import CheckTarget

# httpcore matches every queued request against every pooled connection, and probes each
# connection's socket, on every assignment: quadratic in the pool size. Above a few dozen
# connections that CPU dominates (9 ms a request at 50), so large runs get several small pools.
_POOL_SIZE = 5


def pooled_clients(parallelism: int, tls: bool = True) -> list[httpx.AsyncClient]:
    count = -(-parallelism // _POOL_SIZE)
    size = -(-parallelism // count)
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    # The CA bundle is loaded once, not once a pool, and only when a TLS connection may be
    # made: loading it is 30-45 ms, a run against local plain-HTTP servers never uses it.
    # Without it the context still verifies, and trusts no one: a TLS connection it was not
    # meant for fails instead of going unverified.
    verify = httpx.create_ssl_context() if tls else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Never follow a redirect: a trusted endpoint's 3xx could hand the key to any host.
    return [
        httpx.AsyncClient(limits=limits, verify=verify, follow_redirects=False)
        for _ in range(count)
    ]


def may_use_tls(targets: Sequence[CheckTarget]) -> bool:
    """Whether any request may go over TLS: an endpoint not on plain HTTP (adapters keep the
    scheme of ``api_base``; without one they default to the provider's https URL), or a proxy
    from the environment, which httpx honours and which may itself be https."""
    if any(scheme != "no" for scheme in urllib.request.getproxies()):  # "no": NO_PROXY
        return True
    return not all((t.api_base or "").lower().startswith("http://") for t in targets)
