"""The package's shape, read from its source with ``ast`` (nothing of llmform is imported): no
import cycle, the pipeline's directions of README's "How it is built", and modules of a readable
size.

Every import counts, wherever it is written (module level, inside a function, or in a package's
``__init__`` re-exporting its children): a cycle hidden in a function is still a cycle, only one
that fails later. ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to
``pkg`` itself. A submodule's import does not count as importing its parent package's
``__init__`` (Python runs it, but a package re-exporting its children would otherwise always be a
cycle).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "llmform"
MAX_LINES = 400
REASON = "Over 400 lines:"

# The pure part: the desired state and the plan core (with the shared basics at the top level).
PURE = ("llmform.core", "llmform.desired")
# What the pure part must not reach: orchestration, the CLI, and everything that does I/O.
IMPURE = (
    "llmform.engine",
    "llmform.cli",
    "llmform.targets",
    "llmform.state",
    "llmform.checks",
    "llmform.secrets",
)
IO_LIBRARIES = ("httpx", "hvac", "sqlite3")
# (importer, imported): each use by the pure part of a module it should not reach, with the
# reason. Keep it short: a new entry needs a reason as good as these.
ALLOWED: dict[tuple[str, str], str] = {
    # A secret reference (env: or vault:) is part of the desired state's language: refs.py is
    # its parser, plain text to records, with nothing beyond the standard library.
    ("llmform.desired.items", "llmform.secrets.refs"): "checks a reference's syntax",
    ("llmform.core.plan_shapes", "llmform.secrets.refs"): "a saved plan's references",
    ("llmform.core.export", "llmform.secrets.refs"): "writes a stored reference as YAML",
    # Text shown to a user passes the redaction index: a set of the values alive in this process,
    # in memory, no I/O.
    ("llmform.core.render.failure", "llmform.secrets.redaction"): "masks a value in an error",
    # Not yet where it belongs: the advice for failed key checks is shared with the CLI's error
    # and finds the hosts tried with httpx's URL parser (checks.transport.host_of, lazily).
    # Moving it into core needs a URL parser that agrees with httpx's on every input.
    ("llmform.core.render.markdown", "llmform.checks.results"): "key-check advice (to move)",
    # validate refuses an api_base the key checks' HTTP client would refuse: it asks httpx's URL
    # parser (no request is made, and only for unusual URLs); its rules are not restated here.
    ("llmform.desired.endpoints", "httpx"): "httpx's URL parser, for unusual URLs only",
}


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool
    tree: ast.Module
    lines: int


def modules(root: Path = SRC) -> dict[str, Module]:
    found: dict[str, Module] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        text = path.read_text(encoding="utf-8")
        name = ".".join(parts)
        found[name] = Module(name, path, is_package, ast.parse(text), len(text.splitlines()))
    return found


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.name.split(".")
    if not module.is_package:
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: Module, known: dict[str, Module]) -> set[str]:
    """Every module ``module`` imports: llmform's by full name, others by their top-level name."""

    def nearest(name: str) -> str:
        while name not in known and "." in name:
            name = name.rsplit(".", 1)[0]
        return name

    found: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found.update(nearest(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            for alias in node.names:
                child = f"{source}.{alias.name}"
                found.add(child if child in known else nearest(source))
    found.discard(module.name)
    return {name if name in known else name.split(".")[0] for name in found}


def graph(known: dict[str, Module]) -> dict[str, set[str]]:
    return {name: imports_of(module, known) & known.keys() for name, module in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module, as one cycle through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan; the graph is small, recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(_cycle_through(sorted(group), edges))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def _cycle_through(group: list[str], edges: dict[str, set[str]]) -> list[str]:
    """One cycle from group[0] back to itself inside the group (breadth-first: a shortest one)."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(edges[node] & members):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    return group  # unreachable for a strongly connected group


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def test_no_import_cycle() -> None:
    found = cycles(graph(modules()))
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_the_pure_core_imports_no_orchestration_and_no_io() -> None:
    known = modules()
    wrong = []
    for name, module in known.items():
        if not _within(name, PURE):
            continue
        for imported in sorted(imports_of(module, known)):
            if (imported in IO_LIBRARIES or _within(imported, IMPURE)) and (
                name,
                imported,
            ) not in ALLOWED:
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_only_the_cli_imports_the_cli_and_only_it_and_engine_import_engine() -> None:
    known = modules()
    wrong = []
    for name, module in known.items():
        for imported in imports_of(module, known):
            if _within(imported, ("llmform.cli",)) and not _within(name, ("llmform.cli",)):
                wrong.append(f"{name} imports {imported}")
            if _within(imported, ("llmform.engine",)) and not _within(
                name, ("llmform.engine", "llmform.cli")
            ):
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_allow_list_names_only_imports_that_exist() -> None:
    known = modules()
    stale = [
        pair
        for pair in ALLOWED
        if pair[0] not in known or pair[1] not in imports_of(known[pair[0]], known)
    ]
    assert not stale, stale


def test_modules_are_short_or_say_why_not() -> None:
    long = []
    for module in modules().values():
        docstring = ast.get_docstring(module.tree) or ""
        explained = any(line.startswith(REASON) for line in docstring.splitlines())
        if module.lines > MAX_LINES and not explained:
            long.append(f"{module.path.relative_to(SRC)}: {module.lines} lines")
    assert not long, f"over {MAX_LINES} lines without a line '{REASON} <why>':\n" + "\n".join(long)


def test_the_checks_find_a_cycle_and_a_wrong_direction(tmp_path: Path) -> None:
    """The tests above cannot pass by finding nothing: a planted cycle and a core module that
    reaches a target are both reported."""
    package = tmp_path / PACKAGE
    for folder in ("core", "targets"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("from .core import diff\n")
    (package / "core" / "diff.py").write_text("from ..targets.sqlite import x\nimport httpx\n")
    (package / "targets" / "sqlite.py").write_text("from llmform.core import diff\n")
    known = modules(tmp_path)
    assert cycles(graph(known)) == [
        ["llmform.core.diff", "llmform.targets.sqlite", "llmform.core.diff"]
    ]
    assert imports_of(known["llmform.core.diff"], known) == {"llmform.targets.sqlite", "httpx"}


def test_the_state_reaches_no_target() -> None:
    """llmform's own record stands apart from what it configures (README, "How it is built"):
    a state store serves any target, so nothing in state/ may lean on one."""
    known = modules()
    wrong = [
        f"{name} imports {imported}"
        for name, module in known.items()
        if _within(name, ("llmform.state",))
        for imported in sorted(imports_of(module, known))
        if _within(imported, ("llmform.targets",))
    ]
    assert not wrong, "\n".join(wrong)
