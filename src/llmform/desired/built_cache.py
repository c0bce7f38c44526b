"""What earlier runs built of files whose bytes have not changed: the persistent cache of built
files (``built.FileBuild``), beside the parsed-file cache, so that a plan after one file changed
builds that file alone and reads no other file's trees.

What is kept, in ``built/`` of the cache folder (``parsed_cache``'s, in a pack of the same
format: ``packs``), under the parsed-file cache's key of the file (its bytes, how it was named,
llmform's version and the modules that parse it; this module's code and ``built``'s too): the
file's records (factories, workspaces, configs: references to secrets, never a value), its
warnings, and the digest of each factory its configs were built with (a build made with
another factory than the state's is built again). Beside it, under ``"d" + key``: each
config's resource digest as the last plan made it, with the fingerprints (keyed HMACs) and the
encryption it was made with (``model.KnownDigest``). Only a file built with no
problem is kept (a key pasted into it is one, so it never reaches the cache), from the second
run in a row that finds it unchanged, as parsed files are.

Why it is safe: as for parsed files (owner-only, checked as read, never executed); an entry
under another key, of another shape, or whose records cannot be made is passed over and the
file built afresh.
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Callable
from functools import cache
from typing import Any

from ..errors import Diagnostic, Location, Severity
from .built import FileBuild
from .model import (
    Config,
    EnvRef,
    Factory,
    KnownDigest,
    Model,
    SecretRef,
    VaultRef,
    Workspace,
    frozen_map,
)
from .packs import MARSHAL, Pack, code_tag, debug, module_files
from .parsed_cache import ParsedCache
from .parsed_cache import _tag as _parsed_tag

FORMAT = "llmform-built/1"
_NO_OPTIONS: Any = frozen_map()  # shared by every record without options: nothing can change it


# The modules whose code decides a file's build beside those of its parse (everything
# ``built_cache`` imports: ``test_cache_tags``), and the code that makes a config's resource, of
# which a digest is kept (named by its path: ``desired`` does not import ``core``).
RULES = (
    "core.resources",
    "desired.built",
    "desired.built_cache",
    "desired.config_rules",
    "desired.endpoints",
    "desired.items",
    "desired.model",
    "desired.provider_types",
    "desired.semantic",
    "secrets.refs",
)


@cache
def _tag() -> bytes:
    """What changes a file's build besides its bytes: what changes its parse, and ``RULES``."""
    return code_tag([FORMAT, _parsed_tag().decode()], module_files(RULES))


class BuiltCache(Pack):
    """One run's use of the pack of built files for its paths (see the module's docstring)."""

    def __init__(self, directory: str, name: str) -> None:
        super().__init__(directory, name, _tag())
        self.shared = _Shared()  # one record per model, reference and repeated text

    def build(self, file: str, key: str) -> FileBuild | None:
        """The build kept for the file ``file`` under ``key``, or None (none, or damaged)."""
        entry = self.entry(key)
        if entry is None:
            return None
        try:
            stored_key, record = marshal.loads(entry)
            if stored_key != key:
                return None
            found = _decode(file, record, self.shared)
        except Exception:  # whatever is wrong with an entry, the file is built afresh
            debug("built-file cache: an entry for %s is damaged; built afresh", file)
            return None
        self.carry(key)
        return found

    def keep(self, key: str, build: FileBuild) -> None:
        self.offer(key, lambda: marshal.dumps((key, _encode(build)), MARSHAL))

    def known(self, key: str, build: FileBuild) -> dict[str, KnownDigest]:
        """The configs' digests kept for ``build`` (made with the same factories)."""
        entry = self.entry("d" + key)
        if entry is None:
            return {}
        try:
            stored_key, uses, digests = marshal.loads(entry)
            if stored_key != key or uses != build.uses or len(digests) != len(build.configs):
                return {}
            same = self.shared.fingerprints
            found = {
                config.address: KnownDigest(known[0], same.setdefault(known[1], known[1]), known[2])
                for config, known in zip(build.configs, digests, strict=True)
                if known is not None and _digest_shape(known)
            }
        except Exception:
            return {}
        self.carry("d" + key)
        return found

    def keep_known(
        self, key: str, build: FileBuild, known: Callable[[str], KnownDigest | None]
    ) -> None:
        """Keep the digests ``known`` gives of ``build``'s configs, when its build is kept."""
        if self.used.get(key) is None:
            return  # not kept (yet): its digests would never be read
        digests = [known(config.address) for config in build.configs]
        payload = marshal.dumps(
            (key, build.uses, [tuple(d) if d else None for d in digests]), MARSHAL
        )
        self.replace("d" + key, payload)


def _digest_shape(known: Any) -> bool:
    encrypted, fingerprints, digest = known
    return (
        type(encrypted) is bool
        and type(fingerprints) is tuple
        and all(type(f) is str for f in fingerprints)
        and type(digest) is str
    )


def built_for(parsed: ParsedCache) -> BuiltCache:
    """The cache of built files beside ``parsed`` (for the same paths)."""
    name = os.path.splitext(os.path.basename(parsed.path))[0]
    return BuiltCache(os.path.join(os.path.dirname(parsed.directory), "built"), name)


# The records as tuples of plain values (marshal's), locations without their file: the same
# bytes under another name are the same entry.


def _ref(ref: SecretRef | None) -> Any:
    if ref is None:
        return None
    if isinstance(ref, EnvRef):
        return (ref.name,)
    return (ref.path, ref.key, ref.version, ref.mount)


def _model(model: Model) -> Any:
    return (model.name, model.types, model.max_tokens, model.tools, model.custom)


def _encode(build: FileBuild) -> Any:
    return (
        build.documents,
        [_factory_shape(f) for f in build.factories],
        [_workspace_shape(w) for w in build.workspaces],
        [_config_shape(c) for c in build.configs],
        [(d.severity.value, *_at(d.location), d.path, d.message) for d in build.warnings],
        build.uses,
    )


def _at(location: Location) -> tuple[int, int]:
    return (location.line, location.column)


def _factory_shape(f: Factory) -> Any:
    models = [_model(m) for m in f.models]
    return (f.name, f.type, f.api_base, f.tags, models, f.builtin, *_at(f.location))


def _workspace_shape(w: Workspace) -> Any:
    labels, defaults = tuple(w.labels.items()), tuple(w.defaults.items())
    return (w.name, w.description, labels, defaults, w.protect, *_at(w.location))


def _config_shape(c: Config) -> Any:
    return (
        c.workspace,
        c.name,
        c.factory,
        c.api_base,
        _ref(c.api_key),
        tuple(_ref(r) for r in c.backup_keys),
        tuple(_model(m) for m in c.models),
        c.enabled,
        c.description,
        tuple(c.options.items()),
        tuple((k, _ref(r)) for k, r in c.secret_options.items()),
        c.protect,
        *_at(c.location),
    )


class _Shared:
    """What the records of a run's files share: a state of 100,000 configs holds a few
    hundred distinct models, references, endpoints and fingerprints."""

    def __init__(self) -> None:
        self.models: dict[Any, Model] = {}
        self.refs: dict[Any, SecretRef] = {}
        self.texts: dict[str, str] = {}
        self.fingerprints: dict[Any, Any] = {}


class _Decoder:
    """Records from their shapes, for one file; a shape that is not one raises."""

    def __init__(self, file: str, shared: _Shared) -> None:
        self.file = file
        self.models = shared.models
        self.refs = shared.refs
        self.texts = shared.texts

    def text(self, value: Any) -> str:
        return self.texts.setdefault(_text(value), value)

    def at(self, line: Any, column: Any) -> Location:
        if type(line) is not int or type(column) is not int:
            raise ValueError("location")
        return Location(self.file, line, column)

    def model(self, shape: Any) -> Model:
        found = self.models.get(shape)
        if found is None:
            name, types, max_tokens, tools, custom = shape
            if type(types) is not tuple:
                raise ValueError("model")
            found = self.models[shape] = Model(_text(name), types, max_tokens, tools, custom)
        return found

    def ref(self, shape: Any) -> SecretRef:
        found = self.refs.get(shape)
        if found is None:
            if len(shape) == 1:
                found = EnvRef(_text(shape[0]))
            else:
                path, key, version, mount = shape
                found = VaultRef(_text(path), _text(key), version, mount)
            self.refs[shape] = found
        return found

    def factory(self, shape: Any) -> Factory:
        name, kind, base, tags, models, builtin, line, column = shape
        return Factory(
            _text(name), _text(kind), base, tags, tuple(map(self.model, models)), builtin,
            self.at(line, column),
        )  # fmt: skip

    def workspace(self, shape: Any) -> Workspace:
        name, text, labels, defaults, protect, line, column = shape
        return Workspace(
            _text(name), text, _mapping(labels), _mapping(defaults), protect,
            self.at(line, column),
        )  # fmt: skip

    def config(self, shape: Any) -> Config:
        (ws, name, factory, base, key, backups, models, enabled, text, options, secret_options,
         protect, line, column) = shape  # fmt: skip
        return Config(
            self.text(ws), _text(name), self.text(factory), base and self.text(base),
            None if key is None else self.ref(key),
            tuple(map(self.ref, backups)), tuple(map(self.model, models)), enabled, text,
            _mapping(options), {_text(k): self.ref(r) for k, r in secret_options}, protect,
            self.at(line, column),
        )  # fmt: skip

    def warning(self, shape: Any) -> Diagnostic:
        severity, line, column, path, message = shape
        return Diagnostic(Severity(severity), self.at(line, column), _text(path), _text(message))


def _decode(file: str, record: Any, shared: _Shared) -> FileBuild:
    documents, factories, workspaces, configs, warnings, uses = record
    if type(documents) is not int:
        raise ValueError("documents")
    decoder = _Decoder(file, shared)
    return FileBuild(
        file,
        documents,
        tuple(map(decoder.factory, factories)),
        tuple(map(decoder.workspace, workspaces)),
        tuple(map(decoder.config, configs)),
        tuple(map(decoder.warning, warnings)),
        tuple((_text(name), _text(digest)) for name, digest in uses),
    )


def _mapping(items: Any) -> Any:
    return frozen_map(dict(items)) if items else _NO_OPTIONS


def _text(value: Any) -> str:
    if type(value) is not str:
        raise ValueError("not text")
    return value
