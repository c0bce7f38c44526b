"""RAGFlow's ``conf/llm_factories.json`` -> llmform factories YAML.

RAGFlow keeps its vendor catalog as ``{"factory_llm_infos": [{name, tags, url?, llm: [...]}]}``;
each model has ``llm_name``, ``model_type`` (a string or a list), and optionally ``max_tokens``
and ``is_tools``. The conversion keeps RAGFlow's names and order, so that a store imported from
RAGFlow and the YAML produced here line up, and writes down in the header everything it had to
change (merged duplicates, dropped types, renamed vendors) instead of failing on it. Input that is
not that shape at all is an error naming the file and the place.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from ..core import yamlout
from ..desired.endpoints import check_url
from ..desired.items import MAX_TOKENS
from ..desired.loader import MAX_FILE_BYTES
from ..desired.model import MODEL_TYPES
from ..errors import LlmformError
from ..files import read_at_most
from . import jsontext

# RAGFlow vendor name -> llmform provider type; every other vendor speaks the OpenAI protocol as
# far as llmform can tell, which is what RAGFlow's own OpenAI-API-Compatible path assumes too.
RAGFLOW_PROVIDER_TYPES: dict[str, str] = {
    "OpenAI": "openai",
    "Anthropic": "anthropic",
    "Gemini": "gemini",
    "Tongyi-Qianwen": "bailian",
    "DeepSeek": "deepseek",
    "SILICONFLOW": "siliconflow",
    "siliconflow_intl": "siliconflow",
    "Azure-OpenAI": "azure-openai",
    "Bedrock": "bedrock",
    "Ollama": "ollama",
}
DEFAULT_PROVIDER_TYPE = "openai-compatible"

# RAGFlow spellings of model types that llmform names otherwise.
_MODEL_TYPE_ALIASES = {"vision": "image2text"}

# The schema's factoryName: what a RAGFlow vendor name is rewritten into when it does not fit.
_FACTORY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()+@&-]{0,63}$")
_FACTORY_NAME_BAD_CHAR = re.compile(r"[^A-Za-z0-9 ._()+@&-]")
_MAX_MODEL_NAME = 256

_FIX = "give the path to RAGFlow's conf/llm_factories.json"


@dataclass
class _Model:
    name: str
    types: list[str]
    max_tokens: int | None
    tools: bool

    def merge(self, other: _Model) -> None:
        """Fold a second listing of the same model in: RAGFlow sometimes lists a model once
        per type (e.g. chat, then image2text); the union is what the vendor serves."""
        self.types.extend(t for t in other.types if t not in self.types)
        if other.max_tokens is not None:
            self.max_tokens = max(self.max_tokens or 0, other.max_tokens)
        self.tools = self.tools or other.tools

    def as_yaml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        out["type"] = self.types[0] if len(self.types) == 1 else list(self.types)
        if self.max_tokens is not None:
            out["max_tokens"] = self.max_tokens
        if self.tools:
            out["tools"] = True
        return out


@dataclass
class _Factory:
    name: str
    type: str
    api_base: str | None
    tags: list[str]
    models: dict[str, _Model] = field(default_factory=dict)

    def scalars(self) -> dict[str, str]:
        out = {"name": self.name, "type": self.type}
        if self.api_base is not None:
            out["api_base"] = self.api_base
        return out


@dataclass
class _Conversion:
    """The converted factories, the notes for the header, and any shape errors (in the
    order of the file, each as "json.path: message")."""

    source: str
    factories: dict[str, _Factory] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}" if where else message)


def import_ragflow(path: str) -> str:
    """Convert RAGFlow's ``llm_factories.json`` at ``path`` into llmform YAML text.

    The text has ``apiVersion: llmform/v1`` and a ``factories:`` list, passes
    ``llmform validate``, and is the same for the same input. Raises ``LlmformError`` when the
    file cannot be read, is not JSON, or is not the shape RAGFlow writes (listing every entry
    that is not).
    """
    raw_bytes = _read(path)
    try:
        data = jsontext.loads(raw_bytes.decode("utf-8-sig"))  # a BOM is harmless here
    except UnicodeDecodeError as exc:
        raise LlmformError(f"{path}: not UTF-8 text ({exc.reason}); {_FIX}") from None
    except jsontext.JsonError as exc:
        where = f"{path}:{exc.line}:{exc.column}" if exc.line else path
        raise LlmformError(f"{where}: {exc.message}; {_FIX}") from None
    conversion = _Conversion(path)
    for where in jsontext.lone_surrogates(data):
        conversion.problem(
            where, "a \\ud800-\\udfff escape that is no character (a lone surrogate)"
        )
    if not conversion.problems:
        conversion = _convert(data, path)
    if len(conversion.problems) == 1:
        raise LlmformError(f"{path}: {conversion.problems[0]}; {_FIX}")
    if conversion.problems:
        raise LlmformError(
            f"{path}: not the shape of RAGFlow's llm_factories.json "
            f"({len(conversion.problems)} problems):",
            *(f"  {problem}" for problem in conversion.problems),
            f"Fix them, or {_FIX}",
        )
    return _render(conversion, hashlib.sha256(raw_bytes).hexdigest())


def _read(path: str) -> bytes:
    try:
        raw = read_at_most(path, MAX_FILE_BYTES)
    except FileNotFoundError:
        raise LlmformError(f"{path}: no such file; {_FIX}") from None
    except IsADirectoryError:
        raise LlmformError(f"{path}: is a directory; {_FIX}") from None
    except OSError as exc:
        raise LlmformError(f"{path}: cannot read ({exc.strerror}); {_FIX}") from None
    if raw is None:  # RAGFlow's catalog is about 300 KB
        raise LlmformError(
            f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB, the most llmform reads from one "
            f"file; {_FIX}"
        )
    return raw


def _convert(data: object, source: str) -> _Conversion:
    conversion = _Conversion(source)
    infos = data.get("factory_llm_infos") if isinstance(data, dict) else None
    if not isinstance(infos, list):
        if not isinstance(data, dict):
            found = f"a JSON {_json_type(data)}"
        elif "factory_llm_infos" not in data:
            found = "an object without it"
        else:
            found = f"'factory_llm_infos' as a JSON {_json_type(infos)}"
        conversion.problem(
            "",
            f"expected a JSON object with a 'factory_llm_infos' list; found {found}",
        )
        return conversion
    for index, info in enumerate(infos):
        _convert_factory(conversion, f"factory_llm_infos[{index}]", info)
    return conversion


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _convert_factory(conversion: _Conversion, where: str, info: object) -> None:
    if not isinstance(info, dict):
        conversion.problem(where, f"expected an object, found a JSON {_json_type(info)}")
        return
    before, first_note = len(conversion.problems), len(conversion.notes)
    name = info.get("name")
    if not isinstance(name, str) or not name.strip():
        conversion.problem(f"{where}.name", "expected the vendor's name as a non-empty string")
        name = f"<{where}>"
    tags = _tags(conversion, f"{where}.tags", info.get("tags"))
    url = info.get("url")
    if url is not None and not isinstance(url, str):
        conversion.problem(f"{where}.url", f"expected a string, found a JSON {_json_type(url)}")
    llms = info.get("llm", [])
    if not isinstance(llms, list):
        conversion.problem(f"{where}.llm", f"expected an array, found a JSON {_json_type(llms)}")
        llms = []
    models = [
        model
        for index, raw in enumerate(llms)
        if (model := _convert_model(conversion, name, f"{where}.llm[{index}]", raw)) is not None
    ]
    if len(conversion.problems) > before or tags is None or not isinstance(url, str | None):
        return  # reported; nothing of this entry is emitted

    # notes about the vendor go before those about its models
    vendor_notes: list[str] = []
    llmform_name = _factory_name(name)
    if llmform_name is None:
        vendor_notes.append(f"{_one_line(name)}: skipped, no usable name in it")
        conversion.notes[first_note:] = vendor_notes
        return
    if llmform_name != name:
        vendor_notes.append(
            f"{_one_line(name)}: renamed {llmform_name!r} (llmform factory names allow "
            "letters, digits, space and ._()+@&-, at most 64 characters)"
        )
    factory = conversion.factories.get(llmform_name)
    if factory is None:
        api_base, problem = _api_base(url)
        if problem:
            vendor_notes.append(f"{_one_line(name)}: url left out: {_one_line(problem)}")
        factory = _Factory(
            name=llmform_name,
            type=RAGFLOW_PROVIDER_TYPES.get(name.strip(), DEFAULT_PROVIDER_TYPE),
            api_base=api_base,
            tags=tags,
        )
        conversion.factories[llmform_name] = factory
    else:
        vendor_notes.append(f"{llmform_name}: listed twice; models merged, first url kept")
        factory.tags.extend(t for t in tags if t not in factory.tags)
    conversion.notes[first_note:first_note] = vendor_notes
    for model in models:
        known = factory.models.get(model.name)
        if known is None:
            factory.models[model.name] = model
            continue
        known.merge(model)
        conversion.notes.append(
            f"{llmform_name}/{_one_line(model.name)}: listed twice; merged "
            f"(type {', '.join(known.types)})"
        )


def _tags(conversion: _Conversion, where: str, raw: object) -> list[str] | None:
    """RAGFlow writes tags as one comma-separated string ("LLM, TEXT EMBEDDING")."""
    if raw is None:
        return []
    if isinstance(raw, str):
        parts = raw.split(",")
    elif isinstance(raw, list) and all(isinstance(t, str) for t in raw):
        parts = raw
    else:
        conversion.problem(where, "expected a comma-separated string of tags")
        return None
    tags: list[str] = []
    for part in parts:
        tag = part.strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def _api_base(url: str | None) -> tuple[str | None, str | None]:
    """(api_base, why it was left out). Plain http stays: validate warns about it."""
    if url is None or not url.strip():
        return None, None
    problem, _insecure = check_url(url.strip())
    if problem:
        return None, problem
    return url.strip(), None


def _convert_model(conversion: _Conversion, vendor: str, where: str, raw: object) -> _Model | None:
    if not isinstance(raw, dict):
        conversion.problem(where, f"expected an object, found a JSON {_json_type(raw)}")
        return None
    name = raw.get("llm_name")
    if not isinstance(name, str) or not name:
        conversion.problem(f"{where}.llm_name", "expected the model's name as a string")
        return None
    raw_types = raw.get("model_type")
    if isinstance(raw_types, str):
        raw_types = [raw_types]
    if not isinstance(raw_types, list) or not all(isinstance(t, str) for t in raw_types):
        conversion.problem(f"{where}.model_type", "expected a model type or a list of them")
        return None
    max_tokens = raw.get("max_tokens")
    # bool is an int in Python; RAGFlow never means a context size by true/false
    if max_tokens is not None and (
        not isinstance(max_tokens, int)
        or isinstance(max_tokens, bool)
        or not 0 <= max_tokens <= MAX_TOKENS
    ):
        conversion.problem(
            f"{where}.max_tokens", f"expected an integer from 0 to {MAX_TOKENS} (2^63 - 1) or null"
        )
        return None
    is_tools = raw.get("is_tools")
    if is_tools is not None and not isinstance(is_tools, bool):
        conversion.problem(f"{where}.is_tools", "expected true, false or null")
        return None
    features = raw.get("features")
    # newer RAGFlow entries may say it in "features" only
    tools = bool(is_tools) or (isinstance(features, list) and "is_tools" in features)

    label = f"{_one_line(vendor)}/{_one_line(name)}"
    if len(name) > _MAX_MODEL_NAME:
        conversion.notes.append(f"{label[:80]}...: skipped, name over {_MAX_MODEL_NAME} chars")
        return None
    types: list[str] = []
    unknown: list[str] = []
    for kind in raw_types:
        mapped = _MODEL_TYPE_ALIASES.get(kind, kind)
        if mapped not in MODEL_TYPES:
            unknown.append(kind)
        elif mapped not in types:
            types.append(mapped)
    if unknown:
        dropped = ", ".join(_one_line(t) for t in unknown)
        if not types:
            conversion.notes.append(f"{label}: skipped, model type {dropped} unknown to llmform")
            return None
        conversion.notes.append(f"{label}: model type {dropped} unknown to llmform, dropped")
    return _Model(name=name, types=types, max_tokens=max_tokens, tools=tools)


def _factory_name(name: str) -> str | None:
    # fullmatch: "$" alone would let a trailing newline through
    if _FACTORY_NAME.fullmatch(name):
        return name
    cleaned = _FACTORY_NAME_BAD_CHAR.sub("-", name.strip())
    cleaned = re.sub(r"^[^A-Za-z0-9]+", "", cleaned)[:64].rstrip(" ")
    return cleaned if _FACTORY_NAME.fullmatch(cleaned) else None


def _one_line(text: str) -> str:
    """Text safe to put in a YAML comment: no line breaks or other control characters."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _dump(value: dict[str, Any] | list[str], *, flow: bool) -> list[str]:
    """YAML lines for ``value``; PyYAML does the quoting. A mapping or list is dumped, never a
    bare scalar, which would get a document-end marker. A string with a line break or a control
    character is double-quoted and escaped (``yamlout``): folded over several lines, it would
    break a one-line flow mapping."""
    return yamlout.dump(value, default_flow_style=flow, width=float("inf")).splitlines()


def _render(conversion: _Conversion, digest: str) -> str:
    factories = list(conversion.factories.values())
    model_count = sum(len(f.models) for f in factories)
    lines = [
        "# Converted from RAGFlow's llm_factories.json by `llmform catalog import-ragflow`.",
        f"# Source: {_one_line(conversion.source)} (sha256 {digest})",
        f"# Factories: {len(factories)}, models: {model_count}. Vendors without a provider type "
        f"of their own are {DEFAULT_PROVIDER_TYPE};",
        "# a factory without api_base needs api_base in every config that uses it.",
    ]
    if conversion.notes:
        lines.append("# Changes made to fit llmform:")
        lines.extend(f"#   - {note}" for note in conversion.notes)
    lines += ["apiVersion: llmform/v1", "factories:"]
    if not factories:
        lines[-1] = "factories: []"
    for factory in factories:
        head = _dump(factory.scalars(), flow=False)
        lines.append(f"  - {head[0]}")
        lines.extend(f"    {line}" for line in head[1:])
        if factory.tags:
            lines.append(f"    tags: {_dump(factory.tags, flow=True)[0]}")
        if factory.models:
            lines.append("    models:")
            lines.extend(
                f"      - {_dump(m.as_yaml(), flow=True)[0]}" for m in factory.models.values()
            )
    return "\n".join(lines) + "\n"
