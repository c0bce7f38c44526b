"""One file of the desired state built apart from the others, and the state made of such files.

What building a file yields that no other file decides: the factories, workspaces and configs it
declares as records, its warnings, and the factories its configs were built with (a config takes
its endpoint and models from its factory). The checks across files (duplicates, a config's
workspace, a workspace's defaults) then run on those records alone, and the state is their
union: what lets a plan after one file changed build that file alone (``built_cache`` keeps the
others' builds). A file with any problem, or with policies, is not built this way: the whole
state is checked at once (``build.check_documents``), which reports every problem as it always
has. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import Diagnostic, has_errors
from .loader import Document
from .model import Config, DesiredState, Factory, Workspace
from .packs import sha256  # not hashlib's: see there
from .semantic import build_state


@dataclass(frozen=True)
class FileBuild:
    """What one file declares, built (see the module's docstring)."""

    file: str
    documents: int  # its llmform documents (0: a file passed over as another tool's)
    factories: tuple[Factory, ...]  # declared in it
    workspaces: tuple[Workspace, ...]
    configs: tuple[Config, ...]
    warnings: tuple[Diagnostic, ...]
    # (name, ``factory_digest``) of each factory its configs were built with
    uses: tuple[tuple[str, str], ...]


def factory_digest(factory: Factory) -> str:
    """What of a factory a config built with it depends on (not where it is declared)."""
    models = [(m.name, m.types, m.max_tokens, m.tools, m.custom) for m in factory.models]
    shape = (factory.name, factory.type, factory.api_base, factory.tags, models, factory.builtin)
    digest: str = sha256(repr(shape).encode()).hexdigest()
    return digest


def build_file(
    file: str, documents: list[Document], factories: Mapping[str, Factory]
) -> tuple[FileBuild | None, dict[str, Factory]]:
    """The build of one file's ``documents`` (each loaded with no problem: ``checked``) with
    ``factories`` (those of the other files and the catalog), and the factories it declares.
    No build (None) when the file has a problem or policies: the whole state is checked then."""
    if any(not d.checked or d.sources or "policies" in d.data for d in documents):
        return None, {}
    state, diagnostics = build_state(documents, set(), factories, across_files=True)
    names = {
        entry.get("name")
        for document in documents
        for entry in document.data.get("factories") or ()
        if isinstance(entry, dict)
    }
    declared = {name: f for name, f in state.factories.items() if name in names}
    if has_errors(diagnostics):
        return None, declared
    used = sorted({config.factory for config in state.configs.values()})
    build = FileBuild(
        file,
        len(documents),
        tuple(declared.values()),
        tuple(state.workspaces.values()),
        tuple(state.configs.values()),
        tuple(diagnostics),
        tuple((name, factory_digest(state.factories[name])) for name in used),
    )
    return build, declared


def all_factories(
    builds: Sequence[FileBuild], catalog: Mapping[str, Factory]
) -> dict[str, Factory] | None:
    """The catalog with the factories the files declare (None: one is declared twice)."""
    factories = dict(catalog)
    declared: set[str] = set()
    for build in builds:
        for factory in build.factories:
            if factory.name in declared:
                return None
            declared.add(factory.name)
            factories[factory.name] = factory
    return factories


def built_with_others(build: FileBuild, digests: Mapping[str, str]) -> bool:
    """Whether ``build`` was made with factories other than the state's (``digests``: name ->
    ``factory_digest`` of each): it is to be built again."""
    return any(digests.get(name) != digest for name, digest in build.uses)


def merged(builds: Sequence[FileBuild], factories: Mapping[str, Factory]) -> DesiredState | None:
    """The state of ``builds``, each made with ``factories`` (``all_factories``), or None when
    a check across files fails: the whole state is checked then, which says what is wrong."""
    declared = {factory.name for build in builds for factory in build.factories}
    workspaces: dict[str, Workspace] = {}
    configs: dict[tuple[str, str], Config] = {}
    for build in builds:
        for workspace in build.workspaces:
            if workspace.name in workspaces:
                return None
            workspaces[workspace.name] = workspace
    for build in builds:
        for config in build.configs:
            key = (config.workspace, config.name)
            if key in configs or config.workspace not in workspaces:
                return None
            configs[key] = config
    if not all(_defaults_hold(workspace, configs) for workspace in workspaces.values()):
        return None
    used = {config.factory for config in configs.values()}
    return DesiredState(
        factories={
            name: f for name, f in sorted(factories.items()) if name in declared or name in used
        },
        workspaces=dict(sorted(workspaces.items())),
        configs=dict(sorted(configs.items())),
    )


def _defaults_hold(workspace: Workspace, configs: Mapping[tuple[str, str], Config]) -> bool:
    """Whether each default names a config of the workspace and a model of it of that type
    (what ``semantic`` reports otherwise)."""
    for model_type, target in workspace.defaults.items():
        config_name, _, model_name = target.partition("/")
        config = configs.get((workspace.name, config_name))
        if config is None:
            return False
        model = next((m for m in config.models if m.name == model_name), None)
        if model is None or model_type not in model.types:
            return False
    return True
