"""Mistaken variants of the reference, built from the hidden catalogue solutions/mistakes.py.

Each variant is the reference package with one mistake's edits applied inside one function
or class (`apply_edits`, which the kit's tests also use to build broken submissions), written
to a private folder and imported under its own package name, in the judge only. The judge
runs a failed check's probe on the variants of that exercise to recognise the learner's
mistake (see diagnosis.py) and `python -m grader.fixtures` stores their outputs for learners,
who have no solutions. Catalogue entries that a judge names itself (`variant=False`) get no
variant.
"""

from __future__ import annotations

import ast
import atexit
import importlib
import importlib.util
import io
import itertools
import shutil
import sys
import tempfile
from pathlib import Path

from grader import paths
from grader.judge.rules import top_level

_PACKAGE_NUMBERS = itertools.count()


def _docstring_lines(node: ast.AST) -> list[tuple[int, int]]:
    """The (first, last) 1-based line spans of every docstring inside `node`, its own too."""
    spans = []
    for n in ast.walk(node):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = n.body[0] if n.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                spans.append((first.lineno, first.end_lineno))
    return sorted(spans)


def apply_edits(source: str, target: str, edits) -> str:
    """`source` with each (old, new) edit applied inside the top-level def or class `target`.

    Each `old` must occur exactly once in the code of `target`, its decorators included and
    its docstrings (its own and its methods') left out: an edit never lands in a docstring
    or in another definition. Edits apply in order, each to the result of the ones before.
    Raises ValueError when `target` is missing, or an `old` occurs there 0 or several times,
    or an edit changes nothing.
    """
    node = top_level(ast.parse(source), target)
    if node is None:
        raise ValueError(f"no top-level function or class named {target!r}")
    lines = io.StringIO(source, newline="").readlines()  # split where ast counts lines
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    start, end = first - 1, node.end_lineno
    # The definition as pieces of text, alternately code (editable) and docstrings (kept).
    pieces: list[list] = []
    at = start
    for a, b in _docstring_lines(node):
        pieces += [[True, "".join(lines[at : a - 1])], [False, "".join(lines[a - 1 : b])]]
        at = b
    pieces.append([True, "".join(lines[at:end])])
    for old, new in edits:
        if not old or old == new:
            raise ValueError(f"the edit {old!r} -> {new!r} of {target} changes nothing")
        counts = [text.count(old) if code else 0 for code, text in pieces]
        if sum(counts) != 1:
            in_docs = sum(text.count(old) for code, text in pieces if not code)
            also = f" (and {in_docs} in its docstrings, which edits skip)" if in_docs else ""
            raise ValueError(
                f"{old!r} occurs {sum(counts)} times in the code of {target}{also}, not once"
            )
        piece = pieces[counts.index(1)]
        piece[1] = piece[1].replace(old, new)
    return "".join(lines[:start]) + "".join(p[1] for p in pieces) + "".join(lines[end:])


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
        self._packages: list[str] = []

    def for_exercise(self, exercise: str) -> list:
        """The exercise's mistakes recognised by matching their variant's outputs (not those
        a judge names itself)."""
        return [m for m in self.catalogue if m.exercise == exercise and m.variant]

    def lookup(self, mistake, module: str):
        """A lookup(module, name) over the variant package of `mistake`."""
        if mistake.id not in self._lookups:
            self._lookups[mistake.id] = self._build(mistake, module)
        return self._lookups[mistake.id]

    def _build(self, mistake, module: str):
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="attention-variants-", dir=paths.scratch()))
            atexit.register(self.close)  # where the grading is never closed
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
        self._packages.append(package)
        spec.loader.exec_module(pkg)

        def lookup(mod: str, name: str):
            return getattr(importlib.import_module(f"{package}.{mod}"), name)

        return lookup

    def close(self) -> None:
        """Forget the variants built (a judge that grades on, as `--watch` and a batch's
        processes do, would otherwise hold every one) and remove their folder."""
        for package in self._packages:
            for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
                del sys.modules[name]
        self._packages.clear()
        self._lookups.clear()
        if self._root is not None:
            atexit.unregister(self.close)
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
