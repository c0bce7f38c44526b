"""The desired state as plain, frozen records. Pure: no I/O, no YAML."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from types import MappingProxyType

from ..errors import Location

TYPE_CHECKING = False  # not typing's: see KnownDigest
if TYPE_CHECKING:
    from typing import NamedTuple

    from .scalar_source import ScalarSource  # start-up: for a state with policies only

MODEL_TYPES: tuple[str, ...] = (
    "chat",
    "embedding",
    "rerank",
    "image2text",
    "speech2text",
    "tts",
    "ocr",
)

_NOWHERE = Location("<unknown>")


def frozen_map(values: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """A read-only mapping, so that records built from dicts stay immutable."""
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class VaultRef:
    """``{vault: "path#key"}``: a value held in Vault, never its content.

    ``path`` includes the mount (``secret/llm/openai``) unless ``mount`` is given, in which case
    it is relative to that mount, as with ``vault kv get -mount=secret llm/openai``.
    """

    path: str
    key: str
    version: int | None = None
    mount: str | None = None

    def __str__(self) -> str:
        text = f"vault:{self.path}#{self.key}"
        if self.version is not None:
            text += f"@v{self.version}"
        if self.mount is not None:
            text += f" (mount {self.mount})"
        return text


@dataclass(frozen=True)
class EnvRef:
    """``{env: NAME}``: a value held in the environment of the llmform process."""

    name: str

    def __str__(self) -> str:
        return f"env:{self.name}"


SecretRef = VaultRef | EnvRef


@dataclass(frozen=True)
class Model:
    """A model of a factory, or a custom model declared by a config."""

    name: str
    types: tuple[str, ...]
    max_tokens: int | None = None
    tools: bool = False
    custom: bool = False

    @property
    def type(self) -> str:
        """The primary type (the first listed)."""
        return self.types[0]


@dataclass(frozen=True)
class Factory:
    """An LLM vendor: a protocol (``type``), a default endpoint and a model catalog."""

    name: str
    type: str
    api_base: str | None = None
    tags: tuple[str, ...] = ()
    models: tuple[Model, ...] = ()
    builtin: bool = False
    location: Location = field(default=_NOWHERE, compare=False)

    def model(self, name: str) -> Model | None:
        for model in self.models:
            if model.name == name:
                return model
        return None

    @property
    def address(self) -> str:
        return f"factory.{self.name}"


@dataclass(frozen=True)
class Workspace:
    """A tenant; ``defaults`` maps a model type to ``config/model``."""

    name: str
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=frozen_map)
    defaults: Mapping[str, str] = field(default_factory=frozen_map)
    # deletion protection: while the store holds it protected, no plan may delete it
    protect: bool = False
    location: Location = field(default=_NOWHERE, compare=False)

    @property
    def address(self) -> str:
        return f"workspace.{self.name}"


@dataclass(frozen=True)
class Config:
    """A workspace's connection to a factory."""

    workspace: str
    name: str
    factory: str
    api_base: str | None
    api_key: SecretRef | None
    backup_keys: tuple[SecretRef, ...] = ()
    models: tuple[Model, ...] = ()
    enabled: bool = True
    description: str = ""
    # provider-specific fields (``api_version``, ``region``); secrets among them are refs
    options: Mapping[str, str] = field(default_factory=frozen_map)
    secret_options: Mapping[str, SecretRef] = field(default_factory=dict)
    protect: bool = False  # as for Workspace.protect
    location: Location = field(default=_NOWHERE, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.workspace, self.name)

    @property
    def address(self) -> str:
        return f"config.{self.workspace}/{self.name}"

    @property
    def keys(self) -> tuple[SecretRef, ...]:
        """Primary key first, then backups: the order key rotation follows."""
        primary = (self.api_key,) if self.api_key is not None else ()
        return primary + self.backup_keys


class Level(StrEnum):
    """What a failure of the rule does (Sentinel's enforcement levels)."""

    ADVISORY = "advisory"  # a warning
    SOFT = "soft"  # fails plan and apply unless overridden (--override-policy NAME --reason)
    HARD = "hard"  # always fails


KINDS: tuple[str, ...] = ("factory", "workspace", "config")


@dataclass(frozen=True)
class Policy:
    """``policies[i]`` of the YAML. ``workspaces`` are names or shell patterns (any may match),
    ``labels`` must all match; both empty: every object of ``kind``."""

    name: str
    kind: str
    rule: str
    message: str
    level: Level
    description: str = ""
    workspaces: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=frozen_map)
    location: Location = field(default=_NOWHERE, compare=False)
    # where the rule is written, to place a position inside it; None for a stored policy
    rule_source: ScalarSource | None = field(default=None, compare=False, repr=False)

    @property
    def address(self) -> str:
        return f"policy.{self.name}"

    def selects(self, workspace: Workspace | None) -> bool:
        """Whether the rule judges objects of ``workspace`` (None: a factory, in none)."""
        if workspace is None:
            return not self.workspaces and not self.labels
        if self.workspaces and not any(fnmatchcase(workspace.name, p) for p in self.workspaces):
            return False
        return all(workspace.labels.get(key) == value for key, value in self.labels.items())


# A config's resource digest (``core.resources.resource_digest``) as an earlier run made it, and
# what beside the config it was made with: whether it was sealed (``encrypted`` on a config with
# secrets) and its secrets' fingerprints, slot by slot. It stands for the digest while the
# config, its encryption and its fingerprints are the same (the fingerprints are keyed HMACs,
# never values). A tuple: a state holds one per config; typing's NamedTuple for the type checker
# only (its import is 2 ms of every validate).
if TYPE_CHECKING:

    class KnownDigest(NamedTuple):
        encrypted: bool
        fingerprints: tuple[str, ...]
        digest: str

else:
    KnownDigest = namedtuple("KnownDigest", ("encrypted", "fingerprints", "digest"))


@dataclass(frozen=True)
class DesiredState:
    """Everything the YAML declares, references checked, catalog factories materialised."""

    factories: Mapping[str, Factory]
    workspaces: Mapping[str, Workspace]
    configs: Mapping[tuple[str, str], Config]
    # by name; each rule compiled when the state was checked
    policies: Mapping[str, Policy] = field(default_factory=dict)
    # config address -> its digest as an earlier run made it (``built_cache``): a shortcut the
    # plan checks before it uses one, never part of what the state declares
    known_digests: Mapping[str, KnownDigest] = field(
        default_factory=dict, compare=False, repr=False
    )
