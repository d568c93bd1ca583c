"""Shared helpers: build submissions from the reference solutions with edits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import paths


def copy_solutions(
    dest: Path,
    edits: dict[str, list[tuple[str, str]]] | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """solutions/ copied to `dest`, with (old, new) text edits per module and whole files
    replaced or added (`files`: file name -> source; None removes the file)."""
    shutil.copytree(paths.SOLUTIONS, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for module, pairs in (edits or {}).items():
        path = dest / f"{module}.py"
        text = path.read_text()
        for old, new in pairs:
            assert text.count(old) == 1, f"{old!r} must occur once in {module}.py"
            text = text.replace(old, new)
        path.write_text(text)
    for name, source in (files or {}).items():
        if source is None:
            (dest / name).unlink()
        else:
            (dest / name).write_text(source)
    return dest


@pytest.fixture
def submission(tmp_path):
    """submission(edits=..., files=...) -> a folder holding an edited copy of the solutions."""
    counter = iter(range(1000))

    def make(edits=None, files=None) -> Path:
        return copy_solutions(tmp_path / f"submission{next(counter)}", edits, files)

    return make


def by_exercise(report) -> dict[str, tuple[float, int]]:
    """exercise -> (points, max points)."""
    return {e.name: (e.points, e.max_points) for e in report.exercises()}
