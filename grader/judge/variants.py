"""Mistaken variants of the reference, built from the hidden catalogue solutions/mistakes.py.

Each variant is the reference package with one mistake's edits applied inside one function
or class, written to a private folder and imported under its own package name, in the judge
only. The judge runs a failed check's probe on the variants of that exercise to recognise
the learner's mistake (see diagnosis.py) and `python -m grader.fixtures` stores their outputs
for learners, who have no solutions.
"""

from __future__ import annotations

import ast
import atexit
import importlib
import importlib.util
import itertools
import shutil
import sys
import tempfile
from pathlib import Path

from grader import paths
from grader.judge.rules import top_level

_PACKAGE_NUMBERS = itertools.count()


def apply_edits(source: str, target: str, edits) -> str:
    """`source` with each (old, new) edit applied inside the top-level def or class `target`."""
    node = top_level(ast.parse(source), target)
    if node is None:
        raise ValueError(f"no top-level function or class named {target!r}")
    lines = source.splitlines(keepends=True)
    start, end = node.lineno - 1, node.end_lineno
    segment = "".join(lines[start:end])
    for old, new in edits:
        if segment.count(old) != 1:
            raise ValueError(f"{old!r} occurs {segment.count(old)} times in {target}, not once")
        segment = segment.replace(old, new)
    return "".join(lines[:start]) + segment + "".join(lines[end:])


def load_catalogue(folder: Path = paths.SOLUTIONS):
    """The Mistake objects of solutions/mistakes.py, or () when there are none."""
    path = folder / "mistakes.py"
    if not path.is_file():
        return ()
    spec = importlib.util.spec_from_file_location("_attention_mistakes", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module.MISTAKES


class Variants:
    """Builds (once) and looks up the mistaken variants of the reference."""

    def __init__(self, folder: Path = paths.SOLUTIONS):
        self.folder = folder
        self.catalogue = load_catalogue(folder)
        self._lookups: dict[str, object] = {}
        self._root: Path | None = None

    def for_exercise(self, exercise: str) -> list:
        return [m for m in self.catalogue if m.exercise == exercise]

    def lookup(self, mistake, module: str):
        """A lookup(module, name) over the variant package of `mistake`."""
        if mistake.id not in self._lookups:
            self._lookups[mistake.id] = self._build(mistake, module)
        return self._lookups[mistake.id]

    def _build(self, mistake, module: str):
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="attention-variants-"))
            atexit.register(shutil.rmtree, self._root, True)
        package = f"_attention_variant_{next(_PACKAGE_NUMBERS)}"  # unique in this process
        folder = self._root / package
        folder.mkdir()
        for name in ["__init__", *paths.MODULES]:
            source = (self.folder / f"{name}.py").read_text()
            if name == module:
                source = apply_edits(source, mistake.target or mistake.exercise, mistake.edits)
            (folder / f"{name}.py").write_text(source)
        spec = importlib.util.spec_from_file_location(
            package, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        pkg = importlib.util.module_from_spec(spec)
        sys.modules[package] = pkg
        spec.loader.exec_module(pkg)

        def lookup(mod: str, name: str):
            return getattr(importlib.import_module(f"{package}.{mod}"), name)

        return lookup
