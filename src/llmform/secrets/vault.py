"""``{vault: "path#key"}`` references, read from Vault's KV engine (v1 or v2) with hvac.

One run of ``VaultResolver.resolve``:

1. log in (``auth.py``); a token given directly is checked and renewed if it runs low;
2. find each path's mount and KV version as the Vault CLI does (``sys/internal/ui/mounts/<path>``),
   once per mount: a later path under a mount already found needs no lookup (Vault forbids
   nested mounts, so the longest known prefix is the mount);
3. read each distinct (namespace, mount, path, version) once, whatever the number of references
   and keys that share it, on a small thread pool; 429/503 are retried by ``vault_http.Caller``;
4. answer every reference: a masked value, or a ``SecretProblem`` that says what to do.

Problems of single secrets (denied, missing path, missing key, deleted or destroyed version) are
collected for the whole batch. Failures of the connection itself (no address, unreachable, TLS,
sealed, login refused, expired token) raise a ``VaultError`` once instead: they would fail every
reference alike. Values live only in memory, in ``SecretValue``s; nothing is cached on disk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hvac import exceptions as hvac_exc  # type: ignore[import-untyped]

from ..desired.model import SecretRef, VaultRef
from ..desired.secret_shapes import NOT_SHOWN, holds_key, looks_like_key
from .auth import login
from .base import Resolution, SecretProblem, SecretValue, value_problem
from .settings import VaultSettings, settings_from_env
from .vault_http import Caller, field, make_client, number, server_errors

log = logging.getLogger("llmform.secrets.vault")

_KV_TYPES = {"kv", "generic"}  # "generic" is the pre-0.8 name of KV v1
# What a non-string value is, in JSON's words: named in a problem instead of the value.
_KINDS: dict[type, str] = {
    int: "number",
    float: "number",
    bool: "boolean",
    dict: "map",
    list: "list",
    type(None): "null",
}


@dataclass(frozen=True)
class _Mount:
    path: str  # without the trailing slash: "secret", "team/kv"
    kv_version: int


@dataclass(frozen=True)
class _Read:
    """One KV request: the unit of deduplication."""

    namespace: str | None
    mount: _Mount
    path: str  # relative to the mount
    version: int | None

    @property
    def api_path(self) -> str:
        middle = "data/" if self.mount.kv_version == 2 else ""
        return f"{self.mount.path}/{middle}{self.path}"

    def describe(self) -> str:
        where = f"{self.mount.path}/{self.path}"
        if self.version is not None:
            where += f" version {self.version}"
        if self.namespace:
            where += f" in namespace {self.namespace}"
        return where


# The outcome of one read: the secret's keys with masked values, or a message maker that words
# the failure for a given reference (a hint can depend on how the reference was written).
_Data = Mapping[str, object]
_Failure = Callable[[VaultRef], str]


class VaultResolver:
    """Resolves ``VaultRef``s with hvac; other references are ignored (see ``chain.py``)."""

    def __init__(
        self, settings: VaultSettings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self._sleep = sleep

    def resolve(self, refs: Iterable[SecretRef]) -> Resolution:
        wanted = [ref for ref in dict.fromkeys(refs) if isinstance(ref, VaultRef)]
        if not wanted:
            return Resolution()
        client = make_client(self.settings)
        try:
            call = Caller(self.settings, self._sleep)
            login(client, self.settings, call)
            return _Run(client, call, self.settings).resolve(wanted)
        finally:
            client.adapter.close()


def resolver_from_env(
    environ: Mapping[str, str] | None = None, home: Path | None = None
) -> VaultResolver:
    """A ``VaultResolver`` configured by the environment (``settings.py`` lists the variables).

    Raises ``VaultConfigError`` for a malformed variable; a missing one (VAULT_ADDR, a token)
    is reported by ``resolve``, which is only called when there is a vault reference.
    """
    return VaultResolver(settings_from_env(environ, home))


class _Run:
    def __init__(self, client: Any, call: Caller, settings: VaultSettings) -> None:
        self.client = client
        self.call = call
        self.settings = settings
        self.mounts: dict[str, _Mount] = {}  # mount path -> mount, as found so far
        self.lookups: dict[str, _Mount | str] = {}  # looked-up path -> mount or why not

    def resolve(self, refs: list[VaultRef]) -> Resolution:
        problems: list[SecretProblem] = []
        reads: dict[VaultRef, _Read] = {}
        # Sorted: the lookups (and so the requests) do not depend on the order of the configs.
        for ref in sorted(refs, key=lambda r: (r.mount or "", r.path)):
            read_or_problem = self._locate(ref)
            if isinstance(read_or_problem, str):
                problems.append(SecretProblem(ref, read_or_problem))
            else:
                reads[ref] = read_or_problem
        outcomes = self._read_all(set(reads.values()))
        values: dict[SecretRef, SecretValue] = {}
        for ref in refs:  # in the caller's order
            if ref not in reads:
                continue
            outcome = outcomes[reads[ref]]
            if callable(outcome):
                problems.append(SecretProblem(ref, outcome(ref)))
                continue
            value = _pick(ref, reads[ref], outcome)
            if isinstance(value, SecretValue):
                values[ref] = value
            else:
                problems.append(SecretProblem(ref, value))
        log.info(
            "resolved %d of %d Vault references with %d reads",
            len(values),
            len(refs),
            len(set(reads.values())),
        )
        return Resolution(values, tuple(problems))

    # -- where a reference lives ------------------------------------------------------------

    def _locate(self, ref: VaultRef) -> _Read | str:
        if ref.mount is not None:
            if ref.mount.startswith("v1/"):
                return f"mount {ref.mount!r} includes the API prefix 'v1/'; write {ref.mount[3:]!r}"
            found = self._mount_for(ref.mount)
            if isinstance(found, str):
                return found
            if found.path != ref.mount:
                rest = ref.mount[len(found.path) :].strip("/")
                return (
                    f"mount {ref.mount!r} is not a mount point; the mount is {found.path!r}: "
                    f"write mount: {found.path} and path {rest}/{ref.path}"
                )
            mount, relative = found, ref.path
        else:
            found = self._mount_for(ref.path)
            if isinstance(found, str):
                return found
            mount, relative = found, ref.path[len(found.path) :].strip("/")
        written = f'"{ref.path}#{ref.key}"'
        if not relative:
            return f"{written} names the mount {mount.path!r} itself; add the secret's path"
        if mount.kv_version == 2:
            for segment in ("data/", "metadata/"):
                if relative.startswith(segment):
                    fixed = relative[len(segment) :]
                    if ref.mount is None:
                        fixed = f"{mount.path}/{fixed}"
                    return (
                        f"{written} writes the KV v2 API segment {segment!r}, which llmform adds "
                        f'itself on the KV v2 mount {mount.path!r}: write "{fixed}#{ref.key}"'
                    )
        elif ref.version is not None:
            return (
                f"{written} pins version {ref.version}, but {mount.path!r} is a KV v1 mount, "
                "which keeps no versions; remove 'version'"
            )
        return _Read(self.settings.namespace, mount, relative, ref.version)

    def _mount_for(self, path: str) -> _Mount | str:
        known = [m for p, m in self.mounts.items() if path == p or path.startswith(p + "/")]
        if known:
            return max(known, key=lambda m: len(m.path))
        if path not in self.lookups:
            self.lookups[path] = self._lookup(path)
        return self.lookups[path]

    def _lookup(self, path: str) -> _Mount | str:
        url = "/v1/sys/internal/ui/mounts/" + quote(path)
        try:
            answer = self.call(f"mount lookup for {path}", lambda: self.client.adapter.get(url))
        except (hvac_exc.Forbidden, hvac_exc.InvalidPath):
            return (
                f"no KV mount found for {path!r}{self._in_ns()}: either nothing is mounted there "
                "or the token's policies grant nothing under it; check the path against "
                "`vault secrets list`, or give the mount with 'mount:'"
            )
        except hvac_exc.VaultError as exc:
            return f"cannot look up the mount of {path!r}: {server_errors(exc)}"
        mount_path = str(field(answer, "data", "path") or "").strip("/")
        kind = str(field(answer, "data", "type") or "")
        if not mount_path:
            return f"no mount found for {path!r}{self._in_ns()}; check `vault secrets list`"
        if kind not in _KV_TYPES:
            return (
                f"{mount_path!r} is a {kind or 'non-KV'} secrets engine, not KV; "
                "llmform reads API keys from KV v1 or v2 mounts"
            )
        version = 2 if str(field(answer, "data", "options", "version") or "1") == "2" else 1
        mount = _Mount(mount_path, version)
        self.mounts[mount_path] = mount
        log.debug("Vault mount %s is KV v%d", mount_path, version)
        return mount

    def _in_ns(self) -> str:
        return f" in namespace {self.settings.namespace}" if self.settings.namespace else ""

    # -- reading ------------------------------------------------------------------------------

    def _read_all(self, reads: set[_Read]) -> dict[_Read, _Data | _Failure]:
        ordered = sorted(reads, key=lambda r: (r.mount.path, r.path, r.version or 0))
        if len(ordered) <= 1:
            return {read: self._read(read) for read in ordered}
        pool = ThreadPoolExecutor(max_workers=self.settings.concurrency)
        try:
            futures: dict[_Read, Future[_Data | _Failure]] = {
                read: pool.submit(self._read, read) for read in ordered
            }
            return {read: future.result() for read, future in futures.items()}
        finally:
            # On a run-level failure (sealed, unreachable), do not start the reads still queued.
            pool.shutdown(wait=True, cancel_futures=True)

    def _read(self, read: _Read) -> _Data | _Failure:
        log.debug("Vault read %s", read.api_path)
        kv = self.client.secrets.kv
        try:
            if read.mount.kv_version == 2:
                answer = self.call(
                    f"read {read.api_path}",
                    lambda: kv.v2.read_secret_version(
                        path=read.path,
                        version=read.version,
                        mount_point=read.mount.path,
                        raise_on_deleted_version=True,
                    ),
                )
                data = field(answer, "data", "data")
            else:
                answer = self.call(
                    f"read {read.api_path}",
                    lambda: kv.v1.read_secret(path=read.path, mount_point=read.mount.path),
                )
                data = field(answer, "data")
        except hvac_exc.Forbidden:
            needed = f'"read" on "{read.api_path}"{self._in_ns()}'
            return lambda ref: f"permission denied: the token's policies must grant {needed}"
        except hvac_exc.InvalidPath as exc:
            return self._not_found(read, exc)
        except hvac_exc.VaultError as exc:
            reason = server_errors(exc)
            return lambda ref: f"Vault could not read {read.describe()}: {reason}"
        if not isinstance(data, Mapping):
            return lambda ref: f"{read.describe()} holds no key/value data"
        # Mask at once: from here on, values exist only inside SecretValue.
        return {
            str(k): SecretValue(v) if isinstance(v, str) else _KINDS.get(type(v), "non-string")
            for k, v in data.items()
        }

    def _not_found(self, read: _Read, exc: Exception) -> _Failure:
        body = getattr(exc, "json", None)
        meta = field(body, "data", "metadata")
        where = f"{read.mount.path}/{read.path}{self._in_ns()}"
        if isinstance(meta, dict) and (meta.get("destroyed") or meta.get("deletion_time")):
            version = number(meta.get("version"))  # the server's: a number, or not shown
            which = (
                f"version {version}"
                if read.version is not None
                else f"the latest version ({version})"
            )
            if meta.get("destroyed"):
                text = (
                    f"{which} of {where} was destroyed and cannot be recovered; "
                    "pin another version or write a new one"
                )
            else:
                text = (
                    f"{which} of {where} is deleted; undelete it (`vault kv undelete "
                    f"-mount={read.mount.path} -versions={version} {read.path}`) "
                    "or pin another version"
                )
            return lambda ref: text
        if read.version is not None:
            text = self._missing_version(read, where)
        else:
            text = _no_secret(read, where)

        def word(ref: VaultRef) -> str:
            # A mount also written in the path ("mount: secret" + "secret/llm/openai").
            if ref.mount and ref.path.startswith(ref.mount + "/"):
                fixed = ref.path[len(ref.mount) + 1 :]
                return f"{text}; the path is relative to mount {ref.mount!r}: write {fixed!r}"
            return text

        return word

    def _missing_version(self, read: _Read, where: str) -> str:
        # Best effort: metadata tells "no such version" from "no such secret", if policy allows.
        kv = self.client.secrets.kv.v2
        try:
            meta = self.call(
                f"metadata of {read.api_path}",
                lambda: kv.read_secret_metadata(path=read.path, mount_point=read.mount.path),
            )
        except hvac_exc.InvalidPath:
            return _no_secret(read, where)
        except hvac_exc.VaultError:
            return f"{where} has no version {read.version}, or no such secret exists"
        current = number(field(meta, "data", "current_version"))
        return f"{where} has no version {read.version} (its current version is {current})"


def _no_secret(read: _Read, where: str) -> str:
    # On KV v2 the API path differs from what the user wrote: show it, for policy-writing.
    shown = f" (read {read.api_path})" if read.mount.kv_version == 2 else ""
    return f"no secret at {where}{shown}"


def _pick(ref: VaultRef, read: _Read, data: _Data) -> SecretValue | str:
    value = data.get(ref.key)
    if isinstance(value, SecretValue):
        if not value.reveal():
            return f"key {ref.key!r} of {read.describe()} is empty"
        problem = value_problem(value.reveal())
        if problem is not None:
            return f"the value of key {ref.key!r} of {read.describe()} {problem}"
        return value
    if value is not None:
        return f"key {ref.key!r} of {read.describe()} holds a {value}, not a string"
    # a key name may be a pasted key itself (``vault kv put secret/llm sk-...=x``): not shown
    keys = ", ".join(sorted(NOT_SHOWN if holds_key(k) or looks_like_key(k) else k for k in data))
    keys = keys or "none"
    return f"{read.describe()} has no key {ref.key!r} (its keys: {keys})"
