"""The grader's imports run one way: no cycles, and each layer imports only those below it.

Every module under grader/ is parsed (never imported, so this needs no torch) and each of its
imports becomes an edge of the graph, function-level imports included: an import done late
is still a dependency. Relative imports are resolved against the importing module's package.
An import names the module it reaches (`from grader.worker import wire` is an edge to
grader.worker.wire, `from grader.checks import EXERCISES` one to grader.checks), not the
packages above it: their __init__ modules are kept light (grader/__init__.py imports only
when `grader.check` is called).

The layers, from the bottom:

- `grader.protocol` (what judge and worker say to each other), `grader.errors` and
  `grader.exercise_names` (the exercises' names, for the command line) import nothing of the
  kit;
- `grader.worker`: the worker process and what starts and confines it;
- `grader.checks`: the checks, as data;
- `grader.report`: reports of a grading;
- `grader.judge`: grades a submission with the checks, in workers;
- the front ends (`grader.integrations`, the CLI and its watch loop, batch, bench, fixtures,
  release, stubs, the pytest plugin) use all of the above and are used by none of it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "grader"

CORE = ("grader.judge", "grader.checks", "grader.report", "grader.worker")
LEAVES = ("grader.protocol", "grader.errors", "grader.exercise_names")
FRONT_ENDS = (
    "grader.integrations",
    "grader.cli",
    "grader.watch",
    "grader.__main__",
    "grader.batch",
    "grader.bench",
    "grader.fixtures",
    "grader.release",
    "grader.stubs",
    "grader.pytest_plugin",
    "grader.test_submission",
    "grader.readme",
    "grader.regenerate",
)
LAUNCHER = "grader.worker.launch"
# The one module of judge, checks and report that starts workers; the others read replies
# (grader.protocol) and never import the launcher.
STARTS_WORKERS = ("grader.judge.engine",)
HARNESS = "grader.worker.harness"  # what the worker process runs before any learner code


# -- the graph --------------------------------------------------------------------------


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Module name -> file, for every .py file under `root` (a package's name for __init__)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _reached(name: str, modules: dict[str, Path]) -> str | None:
    """The module of the kit an import of `name` runs: itself, or the longest known prefix."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The kit's modules that `module` imports anywhere in its file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(_reached(alias.name, modules) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                above = parts[: len(parts) - node.level + 1]
                base = ".".join([*above, base] if base else above)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else _reached(base, modules))
    return {name for name in found if name is not None and name != module}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = module_files(root)
    return {module: imports_of(module, path, modules) for module, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a path back to its start) per strongly connected component of more than
    one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return [_cycle_in(graph, component) for component in components]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, within it."""
    start = min(component)
    paths = {start: [start]}
    todo = [start]
    while todo:
        node = todo.pop(0)
        for child in sorted(graph[node] & component):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                todo.append(child)
    return sorted(component)  # not reached: a component holds a cycle through each member


def within(name: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def offenders(graph, importers, forbidden) -> list[str]:
    return [
        f"{module} imports {target}"
        for module in sorted(graph)
        if within(module, importers)
        for target in sorted(graph[module])
        if within(target, forbidden)
    ]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


# -- the tests ----------------------------------------------------------------------------


def test_the_graph_sees_the_kit(graph):
    # A wrong root or a parser that finds nothing would make every rule below hold.
    for module in (*LEAVES, LAUNCHER, HARNESS, "grader.judge.engine", "grader.cli"):
        assert module in graph, module
    assert "grader.protocol" in graph["grader.worker.wire"]
    assert LAUNCHER in graph["grader.judge.engine"]


def test_the_graph_resolves_relative_and_late_imports(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from .sub import b\n")
    (package / "sub" / "__init__.py").write_text("from . import b\n")
    (package / "sub" / "b.py").write_text("from ..a import f\nimport pkg.sub.c\n")
    (package / "sub" / "c.py").write_text("from pkg import a\nfrom pkg.sub.b import name\n")
    found = import_graph(package)
    assert found == {
        "pkg": set(),
        "pkg.a": {"pkg.sub.b"},
        "pkg.sub": {"pkg.sub.b"},
        "pkg.sub.b": {"pkg.a", "pkg.sub.c"},
        "pkg.sub.c": {"pkg.a", "pkg.sub.b"},
    }
    assert sorted(map(tuple, cycles(found))) == [("pkg.a", "pkg.sub.b", "pkg.a")]


def test_no_import_cycles(graph):
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_protocol_and_errors_import_nothing_of_the_kit(graph):
    assert offenders(graph, LEAVES, "grader") == []


def test_the_core_imports_no_front_end(graph):
    # Integrations depend on the judge, never the reverse (a one-file submission is unfolded
    # by grader.judge.unfold, which the integrations use).
    assert offenders(graph, (*CORE, *LEAVES), FRONT_ENDS) == []


def test_the_worker_imports_no_judge_checks_or_report(graph):
    assert (
        offenders(graph, "grader.worker", ("grader.judge", "grader.checks", "grader.report")) == []
    )


def test_reports_import_no_judge_or_worker(graph):
    assert offenders(graph, "grader.report", ("grader.judge", "grader.worker")) == []


def test_checks_import_no_judge_or_report(graph):
    assert offenders(graph, "grader.checks", ("grader.judge", "grader.report")) == []


def test_only_the_engine_imports_the_launcher(graph):
    readers = ("grader.judge", "grader.checks", "grader.report")
    found = [
        module
        for module in sorted(graph)
        if within(module, readers) and module not in STARTS_WORKERS and LAUNCHER in graph[module]
    ]
    assert found == [], f"{found} import {LAUNCHER}: replies come from grader.protocol"


def test_the_worker_process_imports_only_the_worker_protocol_and_errors(graph):
    reached, todo = set(), [HARNESS]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(graph[module])
    outside = sorted(m for m in reached if not within(m, ("grader.worker", *LEAVES)))
    assert outside == [], f"{HARNESS} reaches {outside}"
