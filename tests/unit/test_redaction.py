"""The one redaction function: every live secret, in every form a server may quote it in, is
masked before a text is cut; nothing else is touched."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest

from llmform.checks.providers.base import clean_detail
from llmform.secrets.base import SecretValue
from llmform.secrets.redaction import GRAM, READ_LIMIT, redact, shown

# A key with characters that every escaping changes: / + = " ' \ and a space-free body.
TOKEN = secrets.token_hex(8)
KEY = f"AKIA/{TOKEN}+x=\"q'\\z"
HELD = SecretValue(KEY)  # alive for the whole module: redaction knows every live value


def _basic(user: str) -> Callable[[str], str]:
    return lambda k: "Basic " + base64.b64encode(f"{user}:{k}".encode()).decode()


FORMS: dict[str, Callable[[str], str]] = {
    "itself": lambda k: k,
    "JSON string": json.dumps,
    "JSON with escaped slashes": lambda k: json.dumps(k).replace("/", "\\/"),
    "JSON inside JSON": lambda k: json.dumps(json.dumps({"api_key": k})),
    "JSON, ASCII escapes": lambda k: json.dumps(k, ensure_ascii=True),
    "repr of str": repr,
    "repr of bytes": lambda k: repr(k.encode()),
    "backslash-escaped": lambda k: k.encode("unicode_escape").decode(),
    "URL-encoded": lambda k: quote(k, safe=""),
    "URL-encoded, path safe": quote,
    "URL-encoded, lower-case hex": lambda k: quote(k, safe="").replace("%2F", "%2f"),
    "form-encoded": quote_plus,
    "HTML entities": lambda k: k.replace('"', "&quot;").replace("'", "&#x27;"),
    "hex of its bytes": lambda k: k.encode().hex(),
    "hex, upper case": lambda k: k.encode().hex().upper(),
    "every byte percent-escaped": lambda k: "".join(f"%{b:02X}" for b in k.encode()),
    "every byte percent-escaped, lower case": lambda k: "".join(f"%{b:02x}" for b in k.encode()),
    "base64 of the key": lambda k: base64.b64encode(k.encode()).decode(),
    "base64url of the key": lambda k: base64.urlsafe_b64encode(k.encode()).decode(),
    "Basic auth, user of 1": _basic("u"),
    "Basic auth, user of 2": _basic("ci"),
    "Basic auth, user of 3": _basic("bot"),
    "first 20 characters": lambda k: k[:20],
    "first 8 characters": lambda k: k[:GRAM],
    "last 12 characters": lambda k: k[-12:],
    "the middle": lambda k: k[5:17],
}


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_every_form_of_a_live_secret_is_masked(form: Callable[[str], str]) -> None:
    quoted = form(KEY)
    text = f"Incorrect API key provided: {quoted}. See https://example.com/keys."
    out = redact(text)
    assert "[key]" in out
    assert TOKEN[:GRAM] not in out and TOKEN[-GRAM:] not in out
    assert out.startswith("Incorrect API key provided: ")
    assert out.endswith(". See https://example.com/keys.")


def test_text_without_a_secret_is_left_alone() -> None:
    text = 'HTTP 401 invalid_request_error: "Incorrect API key provided" (see the docs).'
    assert redact(text) == text
    # a short common run of the key's characters is not a secret ("AKIA/" alone)
    assert redact("prefix AKIA/ only") == "prefix AKIA/ only"


def test_values_given_directly_are_masked_too() -> None:
    password = "correct-horse-battery"
    assert redact(f"body={json.dumps({'password': password})}", [password]) == (
        'body={"password": "[key]"}'
    )


def test_a_value_no_longer_held_may_still_be_given() -> None:
    value = "ephemeral-" + secrets.token_hex(6)
    assert redact(value, [value]) == "[key]"


@pytest.mark.parametrize("offset", [0, 150, 280, 290, 299])
def test_redaction_comes_before_the_cut(offset: int) -> None:
    """A key quoted around the 300th character: cut first, a piece of it would be left that
    no longer matches the whole key."""
    text = "x " * (offset // 2) + KEY + " and more text after it"
    for out in (shown(text), clean_detail(text)):
        assert len(out) <= 300
        assert TOKEN[:GRAM] not in out
        assert not any(KEY[i : i + GRAM] in out for i in range(len(KEY) - GRAM + 1))


@pytest.mark.parametrize("form", ["itself", "repr of str", "URL-encoded"])
@pytest.mark.parametrize("shift", range(0, 40, 3))
def test_a_key_split_by_the_read_limit_leaves_nothing_in_view(form: str, shift: int) -> None:
    """A server quoting the key over and over: the masks shrink 4000 characters to a few, so
    whatever the cut at READ_LIMIT leaves of the last quote (its head, too short to be
    recognised) would come into view if it were kept."""
    quoted = FORMS[form](KEY)
    text = "x" * shift + quoted * (READ_LIMIT // len(quoted) + 2)
    for out in (shown(text), clean_detail(text)):
        assert len(out) <= 300 and not any(KEY[i : i + 4] in out for i in range(len(KEY) - 3))
        assert not any(quoted[i : i + 4] in out for i in range(len(quoted) - 3)), out


def test_shown_text_is_one_printable_line() -> None:
    out = shown("line one\nline two\r\n\x1b[31mred\x1b[0m \u202eevil\u2028end\t" + KEY)
    assert "\n" not in out and "\x1b" not in out and "\u202e" not in out
    assert out.isprintable()
    assert out.startswith("line one line two \\x1b[31mred")
    assert out.endswith("[key]")


def test_every_live_secret_is_known_without_being_passed() -> None:
    """Vault credentials, keys of other configs: any SecretValue alive is looked for."""
    other = SecretValue("hvs." + secrets.token_hex(12))
    assert redact(f"token {other.reveal()} and key {KEY}") == "token [key] and key [key]"
