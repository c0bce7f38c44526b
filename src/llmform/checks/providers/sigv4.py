"""AWS Signature Version 4 for a body-less request: just enough to check a Bedrock access key.

Written from the published algorithm (docs.aws.amazon.com, "Create a signed AWS API request")
rather than pulling in botocore (~100 MB with its data) for one GET.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from ...secrets.base import SecretValue

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(
    request: httpx.Request,
    access_key: SecretValue,
    secret_key: SecretValue,
    region: str,
    service: str,
    now: datetime | None = None,
) -> None:
    """Add ``x-amz-date`` and ``Authorization`` to ``request`` (which must have no body)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    request.headers["x-amz-date"] = amz_date
    host = request.url.netloc.decode()
    signed = {"host": host, "x-amz-date": amz_date}
    names = ";".join(sorted(signed))
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in sorted(request.url.params.multi_items())
    )
    canonical = "\n".join(
        (
            request.method,
            quote(request.url.path or "/", safe="/-_.~"),
            query,
            "".join(f"{k}:{signed[k]}\n" for k in sorted(signed)),
            names,
            EMPTY_SHA256,
        )
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ("AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    key = _hmac(("AWS4" + secret_key.reveal()).encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key.reveal()}/{scope}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
