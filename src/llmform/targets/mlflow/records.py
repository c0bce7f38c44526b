"""What MLflow's AI Gateway API returns, as frozen records, and the readers that make them from
its JSON.

MLflow writes its protobuf messages as JSON and leaves out every field at its default: an empty
list comes back as ``{}``, a model definition whose secret was deleted has no ``secret_id``, an
endpoint without tags has no ``tags``. The readers supply those defaults, so a record always has
every field; anything of the wrong type is a ``MalformedAnswer`` (the client names the call).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

Json = Mapping[str, object]


class MalformedAnswer(ValueError):
    """An answer that is not what the API promises (``what`` says which part)."""


class Linkage(enum.StrEnum):
    """How an endpoint uses a model definition: serves traffic, or takes over when it fails."""

    PRIMARY = "PRIMARY"
    FALLBACK = "FALLBACK"


@dataclass(frozen=True)
class Workspace:
    name: str
    description: str = ""


@dataclass(frozen=True)
class Secret:
    """A gateway secret as MLflow shows it: its values only masked (``sk-...cdef``: the first
    three and the last four characters; ``***`` for a value under eight characters)."""

    secret_id: str
    name: str
    provider: str
    masked_values: Mapping[str, str] = field(hash=False)
    auth_config: Mapping[str, str] = field(hash=False)
    created_by: str = ""
    last_updated_by: str = ""
    created_at: int = 0
    last_updated_at: int = 0


@dataclass(frozen=True)
class ModelDefinition:
    """A provider model served with one secret. ``secret_id`` is empty when the secret was
    deleted under it (MLflow allows that, and keeps the model definition)."""

    model_definition_id: str
    name: str
    secret_id: str
    secret_name: str
    provider: str
    model_name: str
    created_by: str = ""
    last_updated_by: str = ""


@dataclass(frozen=True)
class ModelConfig:
    """One model definition of an endpoint: sent to create or update an endpoint, and read back
    from its model mappings. ``fallback_order`` (1, 2, ...) orders the FALLBACK ones."""

    model_definition_id: str
    linkage: Linkage = Linkage.PRIMARY
    weight: float = 1.0
    fallback_order: int | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "model_definition_id": self.model_definition_id,
            "linkage_type": self.linkage.value,
            "weight": self.weight,
        }
        if self.fallback_order is not None:
            out["fallback_order"] = self.fallback_order
        return out


@dataclass(frozen=True)
class FallbackConfig:
    """How an endpoint falls back: ``SEQUENTIAL`` (the only strategy MLflow has) over at most
    ``max_attempts`` model configs (None: MLflow's default)."""

    strategy: str = "SEQUENTIAL"
    max_attempts: int | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"strategy": self.strategy}
        if self.max_attempts is not None:
            out["max_attempts"] = self.max_attempts
        return out


@dataclass(frozen=True)
class Endpoint:
    """A named route applications call, with its model configs (primaries and fallbacks, in
    MLflow's order) and tags."""

    endpoint_id: str
    name: str
    model_configs: tuple[ModelConfig, ...]
    tags: Mapping[str, str] = field(hash=False)
    fallback: FallbackConfig | None = None
    routing_strategy: str = ""
    usage_tracking: bool = False
    experiment_id: str = ""
    created_by: str = ""
    last_updated_by: str = ""


def text_of(data: Json, key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise MalformedAnswer(f"{key} is {_kind(value)}, not text")
    return value


def _int(data: Json, key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, str) and value.lstrip("-").isdigit():  # proto3 JSON writes int64 so
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedAnswer(f"{key} is {_kind(value)}, not a whole number")
    return value


def object_of(data: Json, key: str) -> Json:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise MalformedAnswer(f"{key} is {_kind(value)}, not an object")
    return value


def objects_of(data: Json, key: str) -> tuple[Json, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise MalformedAnswer(f"{key} is {_kind(value)}, not a list of objects")
    return tuple(value)


def _strings(data: Json, key: str) -> Mapping[str, str]:
    value = object_of(data, key)
    if not all(isinstance(v, str) for v in value.values()):
        raise MalformedAnswer(f"{key} holds a value that is not text")
    return MappingProxyType({str(k): str(v) for k, v in value.items()})


def _kind(value: object) -> str:
    return "missing" if value is None else type(value).__name__


def workspace(data: Json) -> Workspace:
    return Workspace(text_of(data, "name"), text_of(data, "description", ""))


def secret(data: Json) -> Secret:
    return Secret(
        secret_id=text_of(data, "secret_id"),
        name=text_of(data, "secret_name"),
        provider=text_of(data, "provider", ""),
        masked_values=_strings(data, "masked_values"),
        auth_config=_strings(data, "auth_config"),
        created_by=text_of(data, "created_by", ""),
        last_updated_by=text_of(data, "last_updated_by", ""),
        created_at=_int(data, "created_at", 0),
        last_updated_at=_int(data, "last_updated_at", 0),
    )


def model_definition(data: Json) -> ModelDefinition:
    return ModelDefinition(
        model_definition_id=text_of(data, "model_definition_id"),
        name=text_of(data, "name"),
        secret_id=text_of(data, "secret_id", ""),
        secret_name=text_of(data, "secret_name", ""),
        provider=text_of(data, "provider", ""),
        model_name=text_of(data, "model_name", ""),
        created_by=text_of(data, "created_by", ""),
        last_updated_by=text_of(data, "last_updated_by", ""),
    )


def _model_config(data: Json) -> ModelConfig:
    linkage = text_of(data, "linkage_type", Linkage.PRIMARY.value)
    if linkage not in Linkage.__members__:
        raise MalformedAnswer(f"linkage_type is {linkage!r}, not PRIMARY or FALLBACK")
    weight = data.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool):
        raise MalformedAnswer(f"weight is {_kind(weight)}, not a number")
    order = _int(data, "fallback_order") if "fallback_order" in data else None
    return ModelConfig(text_of(data, "model_definition_id"), Linkage(linkage), float(weight), order)


def _fallback(data: Json) -> FallbackConfig | None:
    config = object_of(data, "fallback_config")
    if not config:
        return None
    attempts = _int(config, "max_attempts") if "max_attempts" in config else None
    return FallbackConfig(text_of(config, "strategy", "SEQUENTIAL"), attempts)


def endpoint(data: Json) -> Endpoint:
    tags = {text_of(tag, "key"): text_of(tag, "value", "") for tag in objects_of(data, "tags")}
    usage = data.get("usage_tracking", False)
    if not isinstance(usage, bool):
        raise MalformedAnswer(f"usage_tracking is {_kind(usage)}, not true or false")
    return Endpoint(
        endpoint_id=text_of(data, "endpoint_id"),
        name=text_of(data, "name"),
        model_configs=tuple(_model_config(m) for m in objects_of(data, "model_mappings")),
        tags=MappingProxyType(tags),
        fallback=_fallback(data),
        routing_strategy=text_of(data, "routing_strategy", ""),
        usage_tracking=usage,
        experiment_id=text_of(data, "experiment_id", ""),
        created_by=text_of(data, "created_by", ""),
        last_updated_by=text_of(data, "last_updated_by", ""),
    )
