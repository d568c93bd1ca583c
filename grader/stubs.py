"""Generate the learner stubs in exercises/ from the reference solutions in solutions/.

solutions/ is the single source of truth. Every region between a ``# BEGIN SOLUTION``
and an ``# END SOLUTION`` comment line is replaced, at the BEGIN marker's indentation, by

    # TODO: implement (see the docstring)
    raise NotImplementedError("<name> (§<section>): not implemented yet, see the docstring")

where <name> is the enclosing function or class (``Class.method`` for methods) and
<section> is the first ``§x.y.z`` in its docstring (or in an enclosing class's docstring).
Top-level imports that a stub no longer uses get ``# noqa: F401``.

Usage:
    python -m grader.stubs           # (re)write exercises/
    python -m grader.stubs --check   # exit 1 if exercises/ differs from what would be written
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import tokenize
from pathlib import Path

from grader.paths import MODULES

KIT_ROOT = Path(__file__).resolve().parent.parent
BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
HEADER = (
    "# Learner stub, generated from solutions/{name} by `python -m grader.stubs`.\n"
    "# Replace each `raise NotImplementedError(...)` with your implementation.\n"
)
SECTION_RE = re.compile(r"§\s*(\d+(?:\.\d+)*)")
# ruff's line-length (pyproject.toml): longer raises are wrapped the way `ruff format` would.
LINE_LENGTH = 100
DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class MarkerError(ValueError):
    """A solution file has unbalanced, nested or misplaced solution markers."""


def solution_regions(source: str, filename: str = "<string>") -> list[tuple[int, int]]:
    """Return (begin_line, end_line) of every marked region, 1-based, in file order."""
    regions: list[tuple[int, int]] = []
    open_line = None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type != tokenize.COMMENT or tok.string.rstrip() not in (BEGIN, END):
            continue
        line = tok.start[0]
        if tok.line.strip() != tok.string.strip():
            raise MarkerError(f"{filename}:{line}: a solution marker must be on a line of its own")
        if tok.string.rstrip() == BEGIN:
            if open_line is not None:
                raise MarkerError(
                    f"{filename}:{line}: nested {BEGIN!r} (the one on line {open_line} is still open)"
                )
            open_line = line
        else:
            if open_line is None:
                raise MarkerError(f"{filename}:{line}: {END!r} without a matching {BEGIN!r}")
            regions.append((open_line, line))
            open_line = None
    if open_line is not None:
        raise MarkerError(f"{filename}:{open_line}: {BEGIN!r} is never closed by {END!r}")
    return regions


def _enclosing(tree: ast.Module, line: int, filename: str) -> tuple[str, str]:
    """Qualified name and book section of the innermost function or class around ``line``."""
    chain = sorted(
        (node for node in ast.walk(tree) if isinstance(node, DEFS)),
        key=lambda node: node.lineno,
    )
    chain = [node for node in chain if node.lineno <= line <= node.end_lineno]
    if not chain:
        raise MarkerError(f"{filename}:{line}: solution marker outside any function or class")
    name = ".".join(node.name for node in chain)
    for node in reversed(chain):
        match = SECTION_RE.search(ast.get_docstring(node) or "")
        if match:
            return name, match.group(1)
    raise MarkerError(f"{filename}:{line}: no '§<section>' in the docstring of {name}")


def _raise_lines(indent: str, name: str, section: str) -> list[str]:
    message = f'"{name} (§{section}): not implemented yet, see the docstring"'
    lines = [f"{indent}# TODO: implement (see the docstring)\n"]
    one_line = f"{indent}raise NotImplementedError({message})\n"
    if len(one_line.rstrip("\n")) <= LINE_LENGTH:
        return [*lines, one_line]
    return [
        *lines,
        f"{indent}raise NotImplementedError(\n",
        f"{indent}    {message}\n",
        f"{indent})\n",
    ]


def _mark_unused_imports(source: str) -> str:
    """Add ``# noqa: F401`` to top-level imports the stub no longer uses."""
    tree = ast.parse(source)
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    lines = source.splitlines(keepends=True)
    to_mark = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if bound not in used:
                    to_mark.add(alias.lineno - 1)
    for index in sorted(to_mark):
        if "noqa" not in lines[index]:
            lines[index] = lines[index].rstrip("\n") + "  # noqa: F401\n"
    return "".join(lines)


def stub_source(source: str, filename: str = "<string>") -> str:
    """Return the learner stub for one solution module's source text."""
    tree = ast.parse(source, filename)
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    done = 0  # lines[:done] have been handled
    for begin, end in solution_regions(source, filename):
        out += lines[done : begin - 1]
        marker = lines[begin - 1]
        indent = marker[: len(marker) - len(marker.lstrip())]
        out += _raise_lines(indent, *_enclosing(tree, begin, filename))
        done = end
    out += lines[done:]
    return _mark_unused_imports("".join(out))


def generate(solutions_dir: Path) -> dict[str, str]:
    """Map the package's ``__init__.py`` and each exercise module in ``solutions_dir`` to the
    text of its learner stub (other files there, such as the mistake catalogue, stay hidden)."""
    stubs = {}
    for name in ["__init__.py", *(f"{m}.py" for m in MODULES)]:
        path = Path(solutions_dir) / name
        source = path.read_text(encoding="utf-8")
        stubs[path.name] = HEADER.format(name=path.name) + stub_source(source, str(path))
    return stubs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.stubs", description="Generate exercises/ from solutions/."
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if exercises/ differs from the generated stubs"
    )
    args = parser.parse_args(argv)
    exercises_dir = KIT_ROOT / "exercises"
    try:
        stubs = generate(KIT_ROOT / "solutions")
    except MarkerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    if args.check:
        stale = [
            name
            for name, text in stubs.items()
            if not (exercises_dir / name).is_file()
            or (exercises_dir / name).read_text(encoding="utf-8") != text
        ]
        extra = sorted(p.name for p in exercises_dir.glob("*.py") if p.name not in stubs)
        for name in stale:
            print(f"exercises/{name} differs from the stub generated from solutions/{name}")
        for name in extra:
            print(f"exercises/{name} has no counterpart in solutions/")
        if stale or extra:
            print("run `python -m grader.stubs` to regenerate exercises/")
            return 1
        print("exercises/ is up to date")
        return 0

    exercises_dir.mkdir(exist_ok=True)
    for name, text in stubs.items():
        (exercises_dir / name).write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote exercises/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
