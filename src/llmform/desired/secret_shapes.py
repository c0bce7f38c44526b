"""What an API key looks like, to refuse one written where llmform stores and prints plain text.

People paste keys into the wrong place: the query string of an ``api_base``
(``?api_key=sk-...``), the user:password part of a URL, the name of an environment variable
(``{env: sk-proj-...}``). All of these are stored and shown in plans, so validate refuses them,
and no message ever quotes such a value back.

A value is key-shaped when it starts with a prefix that API keys carry (``sk-``, ``sk-ant-``,
``AIza``, ``gsk_``, ``xai-``, ``hf_``, ``AKIA``... followed by at least 16 key characters, one a
digit) or when it is a long random-looking token: a run of at least 20 letters and digits with
two or more digits, mixing character classes as often as random text does (identifiers that
people choose, ``OPENAI_API_KEY_PROD`` or ``CamelCaseNames``, change class rarely).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import pairwise

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Any
    from urllib.parse import SplitResult

# Prefixes of the keys of LLM vendors and of the clouds and services people keep next to them.
# Fields whose values may be secrets: an error there never quotes what the user wrote.
SECRET_FIELDS = frozenset({"api_key", "backup_keys", "api_secret"})

KEY_PREFIXES = (
    "sk-",  # OpenAI (sk-proj-, sk-svcacct-), DeepSeek, Bailian/DashScope, SiliconFlow...
    "sk-ant-",  # Anthropic
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "AIza",  # Google (Gemini)
    "gsk_",  # Groq
    "xai-",  # xAI
    "hf_",  # Hugging Face
    "AKIA",  # AWS access key ids
    "ASIA",  # AWS temporary access key ids
    "LTAI",  # Alibaba Cloud access key ids
    "pplx-",  # Perplexity
    "nvapi-",  # NVIDIA
    "r8_",  # Replicate
    "fw_",  # Fireworks
    "csk-",  # Cerebras
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
)
_PREFIXED = re.compile(
    "(?:" + "|".join(re.escape(p) for p in KEY_PREFIXES) + r")(?P<rest>[A-Za-z0-9_\-]{16,})"
)
_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-.~]+")
_RUN = re.compile(r"[A-Za-z0-9]{20,}")
MIN_RANDOM_RUN = 20
# Text without such a run holds nothing key-shaped: the cheap test done first.
_CANDIDATE = re.compile(r"[A-Za-z0-9+=_\-.~]{20,}")


def has_key_prefix(text: str) -> bool:
    """A known key prefix and a key's worth of characters after it (among them a digit)."""
    match = _PREFIXED.fullmatch(text)
    return match is not None and any(c.isdigit() for c in match["rest"])


# A known prefix starting a word, and the key characters after it: a key inside free text.
_EMBEDDED = re.compile(
    r"(?<![A-Za-z0-9_\-])(?:"
    + "|".join(re.escape(p) for p in KEY_PREFIXES)
    + r")[A-Za-z0-9_\-]{16,}"
)
# Every word _EMBEDDED matches starts a run of these characters this long at least (the
# shortest prefix and 16 after it): found much faster than _EMBEDDED itself in a long text.
_KEY_WORD = re.compile(rf"[A-Za-z0-9_\-]{{{min(map(len, KEY_PREFIXES)) + 16},}}")
_LONG_RUN = re.compile(r"[A-Za-z0-9]{12,}")


def holds_key(text: str) -> bool:
    """Whether free text (a description, a label, a name) holds an API key: a word that
    starts with a known key prefix and carries a random run of 12 or more letters and digits
    (``ASIA-PACIFIC-1`` or ``sk-llama-2-13b`` do not)."""
    if len(text) < MIN_RANDOM_RUN:
        return False
    for match in _EMBEDDED.finditer(text):
        for run in _LONG_RUN.findall(match.group(0)):
            if any(c.isdigit() for c in run) and any(c.isalpha() for c in run):
                return True
    return False


def source_may_hold_key(source: str) -> bool:
    """Whether YAML source text may hold a string for which ``holds_key`` is true. Without an
    escape (a backslash) every string YAML makes of it is the source's characters with line
    breaks and indentation folded into a space or a line break, so a key in a string is a
    key-shaped word in the source: a file without one needs no walk of its strings."""
    # a run found is as long as it goes (the search starts each at its first character), so a
    # key at its start is what _EMBEDDED's look-behind asks for
    return "\\" in source or any(w.startswith(KEY_PREFIXES) for w in _KEY_WORD.findall(source))


def looks_like_key(text: str) -> bool:
    """Whether ``text`` is probably an API key or a similar credential (see the module)."""
    if len(text) < MIN_RANDOM_RUN or not _TOKEN.fullmatch(text):
        return False
    return has_key_prefix(text) or any(_random(run) for run in _RUN.findall(text))


def _random(run: str) -> bool:
    digits = sum(c.isdigit() for c in run)
    if digits < 2 or digits == len(run):
        return False
    changes = sum(_kind(a) != _kind(b) for a, b in pairwise(run))
    # random base62 changes class at about 60% of positions, hex at about 45%
    return changes >= 0.35 * (len(run) - 1)


def _kind(char: str) -> int:
    return 0 if char.isdigit() else 1 if char.isupper() else 2


NOT_SHOWN = "(not shown: it looks like a secret)"


def shown(value: Any) -> str:
    """``repr(value)`` for a message, unless it may be a secret."""
    if isinstance(value, str) and looks_like_key(value):
        return NOT_SHOWN
    return repr(value)


# Query parameter names that carry credentials, compared lower-case without '-' and '_'.
_CREDENTIAL_PARAMS = frozenset(
    {
        "key",
        "apikey",
        "xapikey",
        "token",
        "accesstoken",
        "apitoken",
        "authtoken",
        "idtoken",
        "sessiontoken",
        "bearer",
        "auth",
        "authorization",
        "secret",
        "clientsecret",
        "password",
        "passwd",
        "pwd",
        "sig",
        "signature",
        "code",  # Azure Functions' function key
        "subscriptionkey",
        "ocpapimsubscriptionkey",
        "xgoogapikey",
        "credential",
        "credentials",
    }
)
_CREDENTIAL_SUFFIXES = ("key", "token", "secret", "password")


def _credential_param(name: str) -> bool:
    normal = name.replace("-", "").replace("_", "").lower()
    return normal in _CREDENTIAL_PARAMS or normal.endswith(_CREDENTIAL_SUFFIXES)


URL_FIX = (
    "the URL is stored and shown in plans: remove it and put the key in api_key as a reference"
)


def url_secret(parts: SplitResult) -> str | None:
    """Why the URL ``parts`` carries a credential, without quoting it; None if it does not."""
    # start-up time: urllib's parser (and ipaddress) only for a state that names a URL
    from urllib.parse import parse_qsl, unquote

    if "@" in parts.netloc and (parts.username is not None or parts.password is not None):
        return (
            "credentials do not belong in the URL (user:password@host); remove them and put "
            "the key in api_key as a reference"
        )
    for part, where in ((parts.query, "query string"), (parts.fragment, "fragment")):
        if not part:
            continue
        for name, value in parse_qsl(part.replace(";", "&"), keep_blank_values=True):
            if _credential_param(name) and value:
                named = name if re.fullmatch(r"[A-Za-z_\-]{1,40}", name) else "a credential"
                return f"a secret in the URL's {where} (parameter {named!r}, not shown); {URL_FIX}"
            if looks_like_key(name) or looks_like_key(value):
                return f"what looks like a key in the URL's {where} (not shown); {URL_FIX}"
    path = unquote(parts.path)
    if _CANDIDATE.search(path) and (
        any(has_key_prefix(segment) for segment in path.split("/")) or holds_key(path)
    ):  # a whole segment, or a word inside one (``;key=sk-...``, an encoded ``?key=``)
        return f"what looks like a key in the URL's path (not shown); {URL_FIX}"
    if holds_key(parts.netloc.rpartition("@")[2]):  # as written: hostname is lower-cased
        return f"what looks like a key in the URL's host name (not shown); {URL_FIX}"
    return None


def reference_secret(raw: Any) -> str | None:
    """Why a secret reference mapping holds what looks like the secret itself, else None."""
    if not isinstance(raw, dict):
        return None
    env = raw.get("env")
    if isinstance(env, str) and _CANDIDATE.search(env) and looks_like_key(env):
        return (
            "this looks like an API key, not the name of an environment variable (not shown); "
            "put the key in a variable and write its name, e.g. {env: OPENAI_API_KEY}"
        )
    for text in (raw.get("vault"), raw.get("mount")):
        if not isinstance(text, str) or not _CANDIDATE.search(text):
            continue
        if any(looks_like_key(part) for part in re.split(r"[/#]", text)):
            return (
                "this vault reference holds what looks like an API key (not shown); write "
                'where the key is stored, e.g. {vault: "secret/llm/openai#api_key"}'
            )
    return None


def url_may_hold_secret(text: str) -> bool:
    """Whether a URL from a setting (an endpoint, a server address) may hold a secret, so that
    a message must not quote it: a user:password@, a query or fragment, a key-shaped part
    (the port included), or a key set in the wrong variable."""
    from urllib.parse import urlsplit  # start-up time: see url_secret

    try:
        if url_secret(urlsplit(text)):
            return True
    except ValueError:  # an unreadable port or brackets: the parts are looked at below
        pass
    parts = re.split(r"[/:@?#&=;]", text)
    return bool(re.search(r"[@?#]", text)) or any(looks_like_key(part) for part in parts)


def format_path(path: Iterable[str | int]) -> str:
    """``("configs", 2, "factory")`` -> ``configs[2].factory``; a mapping key that looks like
    a key pasted there (a label's name) is ``(not shown)``: every message's path is printed."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
            continue
        if len(step) >= MIN_RANDOM_RUN and (looks_like_key(step) or holds_key(step)):
            step = "(not shown)"
        text += f".{step}" if text else step
    return text
