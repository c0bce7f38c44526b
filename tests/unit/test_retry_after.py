"""``Retry-After`` as Vault, OpenBao or a proxy in front of them may write it (RFC 9110)."""

from __future__ import annotations

import pytest

from llmform.secrets.vault_http import retry_after_seconds

DATE = "Sat, 21 Nov 2026 20:07:00 GMT"  # the answer's own Date header


@pytest.mark.parametrize(
    ("value", "date", "seconds"),
    [
        ("6", DATE, 6.0),
        ("0", None, 0.0),
        (" 29 ", None, 29.0),
        ("1.5", None, 1.5),  # not RFC, but unambiguous
        ("Sat, 21 Nov 2026 20:07:04 GMT", DATE, 4.0),  # measured against Date, not our clock
        ("Sat, 21 Nov 2026 20:06:00 GMT", DATE, 0.0),  # already past
        ("Sunday, 22-Nov-26 20:07:00 GMT", DATE, 86400.0),  # the obsolete RFC 850 form
        ("-3", None, None),
        ("nan", None, None),
        ("inf", None, None),
        ("soon", DATE, None),
        ("", None, None),
        (None, DATE, None),
    ],
)
def test_retry_after_seconds(value: str | None, date: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, date) == seconds
