"""Where trusted endpoints come from: the built-in catalog and the providers' fixed URL
patterns, the store (what a trusted run applied), and settings a pull request cannot change
(``LLMFORM_TRUSTED_ENDPOINTS``, ``LLMFORM_TRUSTED_ENDPOINTS_FILE``, ``--trust-endpoint``).

Never the YAML being planned: a factory named ``OpenAI`` with its own ``api_base`` is trusted
no more than any other URL, because trust is decided on the URL alone.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from ..catalog import builtin_factories
from ..core.plan import HOW_TO_TRUST
from ..core.resources import Resource
from ..desired.secret_shapes import url_may_hold_secret
from ..errors import LlmformError
from ..files import read_bounded
from .trust import EndpointTrust, HostPattern, NormalUrl, UntrustableUrl, normal_url, trusted_url

ENV_URLS = "LLMFORM_TRUSTED_ENDPOINTS"
ENV_FILE = "LLMFORM_TRUSTED_ENDPOINTS_FILE"
FLAG = "--trust-endpoint"


# Endpoints the vendors document beside the catalog's defaults (the catalog files name them).
DOCUMENTED = (
    "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",  # Bailian, international
    "https://api.siliconflow.com/v1",  # SiliconFlow, international
)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_AWS_REGION = r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}"
PATTERNS = (
    # Azure OpenAI: the resource's own host, https://<resource>.openai.azure.com
    HostPattern(re.compile(_LABEL + r"\.openai\.azure\.com")),
    HostPattern(re.compile(_LABEL + r"\.cognitiveservices\.azure\.com")),
    # Bedrock: the control plane (and the runtime host users paste) of an AWS region
    HostPattern(
        re.compile(r"bedrock(?:-runtime)?(?:-fips)?\." + _AWS_REGION + r"\.amazonaws\.com(?:\.cn)?")
    ),
)

_MAX_FILE = 1 << 20
__all__ = ["HOW_TO_TRUST", "TrustSettingsError", "applied_urls", "configured_urls", "run_trust"]


class TrustSettingsError(LlmformError):
    """A trusted-endpoint setting that cannot be used; names the setting and the fix."""


def _forms(
    api_base: str, provider_type: object, options: Mapping[str, str] | None = None
) -> Iterator[NormalUrl]:
    """``api_base`` and the endpoint its provider's adapter derives from it (Anthropic drops
    ``/v1``, Gemini ``/openai``, ...): trusting a base means trusting where its checks go."""
    from .providers import ADAPTERS  # the adapters import httpx: only when trust is decided

    bases = [api_base]
    adapter = ADAPTERS.get(provider_type) if isinstance(provider_type, str) else None
    if adapter is not None:
        with contextlib.suppress(ValueError):
            bases.append(adapter.endpoint(api_base, dict(options or {})).api_base)
    for base in bases:
        try:
            yield normal_url(base)
        except UntrustableUrl:
            continue


@functools.cache
def builtin_trust() -> EndpointTrust:
    """The catalog's endpoints, the providers' defaults and documented alternatives, and the
    hosts providers build from a fixed pattern."""
    from .providers import ADAPTERS  # see _forms

    urls: set[NormalUrl] = set()
    for factory in builtin_factories().values():
        if factory.api_base:
            urls.update(_forms(factory.api_base, factory.type))
    for adapter in ADAPTERS.values():
        try:
            urls.add(normal_url(adapter.endpoint(None, {}).api_base))
        except (ValueError, UntrustableUrl):
            continue  # no default endpoint (it comes from the config)
    urls.update(normal_url(u) for u in DOCUMENTED)
    return EndpointTrust(frozenset(urls), PATTERNS)


def applied_urls(resources: Mapping[str, Resource]) -> set[NormalUrl]:
    """The endpoints of the managed factories and configs in a store: a trusted run applied
    them. Unmanaged rows are not passed in, so they count for nothing."""
    types = {r.name: r.attrs.get("type") for r in resources.values() if r.kind == "factory"}
    urls: set[NormalUrl] = set()
    for resource in resources.values():
        base = resource.attrs.get("api_base")
        if not isinstance(base, str) or resource.kind not in ("factory", "config"):
            continue
        if resource.kind == "factory":
            urls.update(_forms(base, resource.attrs.get("type")))
            continue
        options = resource.attrs.get("options")
        text_options = {
            str(k): str(v) for k, v in (options.items() if isinstance(options, Mapping) else ())
        }
        urls.update(_forms(base, types.get(str(resource.attrs.get("factory"))), text_options))
    return urls


def configured_urls(
    flags: Sequence[str],
    planned: Sequence[str],
    environ: Mapping[str, str] = os.environ,
) -> tuple[NormalUrl, ...]:
    """The endpoints trusted by settings: ``--trust-endpoint`` (``flags``), ``ENV_URLS`` and
    the file ``ENV_FILE`` names, which must not lie inside the ``planned`` paths nor in the git
    work tree they belong to (a pull request could edit it)."""
    urls: list[NormalUrl] = []
    for number, text in enumerate(flags, 1):
        urls.append(_parse(text, f"{FLAG} {_quoted(text, number)}"))
    listed = [text for text in re.split(r"[\s,]+", environ.get(ENV_URLS, "")) if text]
    for number, text in enumerate(listed, 1):
        urls.append(_parse(text, f"{ENV_URLS}: {_quoted(text, number)}"))
    name = environ.get(ENV_FILE, "").strip()
    if name:
        urls.extend(_file_urls(Path(name), planned))
    return tuple(urls)


def _quoted(text: str, number: int = 0) -> str:
    """A setting's URL as a message quotes it: not at all when it may hold a secret (people
    paste keys into URLs: user:password@, ``?api_key=``, a key-shaped part, or a key alone
    into the wrong variable); then by its ``number`` in the list, when it has one."""
    if url_may_hold_secret(text):
        return f"{f'URL {number} ' if number else ''}(not shown: it may hold a secret)"
    return repr(text)


def _parse(text: str, where: str) -> NormalUrl:
    try:
        return trusted_url(text)
    except ValueError as exc:
        why = str(exc)
        if url_may_hold_secret(text):  # the reason quotes the host: a key's place too
            why = re.sub(r"'[^']*'", "(not shown)", why)
        raise TrustSettingsError(f"{where}: {why}") from None


def _file_urls(path: Path, planned: Sequence[str]) -> list[NormalUrl]:
    _refuse_if_editable(path, planned)
    try:
        with path.open("rb") as handle:
            if not path.is_file():
                raise TrustSettingsError(f"{ENV_FILE}: {path} is not a regular file")
            raw = read_bounded(handle, _MAX_FILE)
    except OSError as exc:
        raise TrustSettingsError(
            f"{ENV_FILE}: cannot read {path} ({exc.strerror or exc}); fix the path or unset it"
        ) from None
    if raw is None:
        raise TrustSettingsError(f"{ENV_FILE}: {path} is larger than 1 MiB; is it the right file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TrustSettingsError(f"{ENV_FILE}: {path} is not UTF-8 text ({exc.reason})") from None
    urls = []
    for number, line in enumerate(text.splitlines(), 1):
        entry = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
        if not entry:
            continue
        where = f"{path}:{number}: {_quoted(entry)}"
        if len(entry.split()) > 1:
            raise TrustSettingsError(f"{where}: one URL per line")
        urls.append(_parse(entry, where))
    return urls


def _refuse_if_editable(path: Path, planned: Sequence[str]) -> None:
    """The trust file must be something the change being planned cannot also change."""
    forms = {Path(os.path.abspath(path)), path.resolve()}
    for item in planned:
        roots = {Path(os.path.abspath(item)), Path(item).resolve()}
        tree = _work_tree(Path(item).resolve())
        for root in roots | ({tree} if tree else set()):
            if any(form == root or form.is_relative_to(root) for form in forms):
                what = "the git work tree of" if root == tree else "the planned path"
                raise TrustSettingsError(
                    f"{ENV_FILE}: {path} lies inside {what} {item}, which the change being "
                    "planned can edit; keep the file outside it (for example in the CI "
                    f"runner's configuration), or use {ENV_URLS}"
                )


def _work_tree(path: Path) -> Path | None:
    """The top of the git work tree ``path`` is in (a folder holding ``.git``), if any."""
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    return None


def run_trust(applied: Iterable[NormalUrl], configured: Iterable[NormalUrl]) -> EndpointTrust:
    """Everything a run trusts: built in, applied to the store, configured."""
    return builtin_trust().plus([*applied, *configured])
