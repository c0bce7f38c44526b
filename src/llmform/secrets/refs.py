"""Parsing secret references (``{vault: "path#key"}``, ``{env: NAME}``). Pure, offline."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..desired.model import EnvRef, SecretRef, VaultRef

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Any

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VAULT_PATH = re.compile(r"^[^\s#]+$")
_VAULT_KEY = re.compile(r"^[^\s#/]+$")


class RefSyntaxError(ValueError):
    """A reference that cannot be right; the message says how to write it (never a value).

    Text that is not even shaped like a reference (an env "name" that is no name, a vault
    reference without "#") is not quoted back: it may be the secret itself, pasted in the wrong
    place. The location in the file is enough to find it.
    """


def parse_ref(raw: Mapping[str, Any]) -> SecretRef:
    """Turn a schema-valid reference mapping into a SecretRef, or raise RefSyntaxError."""
    has_vault, has_env = "vault" in raw, "env" in raw
    if has_vault == has_env:
        raise RefSyntaxError(
            'a reference names exactly one source: {vault: "path#key"} or {env: NAME}'
        )
    if has_env:
        if "version" in raw or "mount" in raw:
            raise RefSyntaxError("'version' and 'mount' apply to vault references only")
        return EnvRef(_env_name(raw["env"]))
    return _vault_ref(raw["vault"], raw.get("version"), raw.get("mount"))


def _env_name(name: str) -> str:
    if not name:
        raise RefSyntaxError("empty environment variable name; write {env: OPENAI_API_KEY}")
    if not _ENV_NAME.match(name):
        raise RefSyntaxError(
            "not an environment variable name (letters, digits and '_', not starting with a "
            "digit; the value is not shown in case it is the secret itself); "
            "write e.g. {env: OPENAI_API_KEY}"
        )
    return name


def _vault_ref(text: str, version: int | None, mount: str | None) -> VaultRef:
    if "#" not in text:
        raise RefSyntaxError(
            "vault reference without a key (the value is not shown in case it is the secret "
            'itself); write "path#key", e.g. "secret/llm/openai#api_key"'
        )
    path, _, key = text.rpartition("#")
    if not path or not _VAULT_PATH.match(path):
        raise RefSyntaxError(
            "vault reference without a valid path before '#' (no spaces); "
            'write "path#key", e.g. "secret/llm/openai#api_key"'
        )
    if not key or not _VAULT_KEY.match(key):
        raise RefSyntaxError(
            "vault reference without a valid key after '#' (no spaces, '/' or '#'); "
            'write "path#key", e.g. "secret/llm/openai#api_key"'
        )
    if path.startswith("/"):
        fixed = path.lstrip("/")
        raise RefSyntaxError(f"vault path {path!r} must not start with '/'; write {fixed!r}")
    if path.startswith("v1/"):
        raise RefSyntaxError(
            f"vault path {path!r} includes the API prefix 'v1/'; write {path[3:]!r}"
        )
    if mount is not None:
        mount = mount.strip("/")
    return VaultRef(path=path, key=key, version=version, mount=mount)


_REF_STRING = re.compile(
    r"^vault:(?P<path>[^#\s]+)#(?P<key>[^#\s@]+)"
    r"(?:@v(?P<version>\d+))?(?: \(mount (?P<mount>[^)]+)\))?$"
)


def ref_from_string(text: str) -> SecretRef:
    """The inverse of ``str(ref)``: how stores and saved plans write references."""
    if text.startswith("env:"):
        return EnvRef(_env_name(text[4:]))
    match = _REF_STRING.match(text)
    if match is None:
        raise RefSyntaxError(f"not a reference string: {text!r}")
    version = match["version"]
    return VaultRef(match["path"], match["key"], int(version) if version else None, match["mount"])
