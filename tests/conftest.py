"""Shared helpers: submissions built from the reference solutions with edits, and the
reports of unedited folders graded once per session."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
from hostile.confinement import MACHINE

from grader import checks, paths
from grader.judge.engine import Options, grade
from grader.judge.variants import apply_edits


def copy_solutions(
    dest: Path,
    edits: dict[str, list[tuple[str, str]]] | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """solutions/ copied to `dest`, with (old, new) text edits and whole files replaced or
    added (`files`: file name -> source; None removes the file).

    `edits` maps a module ("causal_attention": each `old` once in the module) or an exercise
    ("CausalAttention": each `old` once in the code of its definition, with the kit's own
    edit function, so that other definitions and docstrings never match) to its edits.
    """
    shutil.copytree(paths.SOLUTIONS, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for where, pairs in (edits or {}).items():
        if where in paths.MODULES:
            path = dest / f"{where}.py"
            text = path.read_text()
            for old, new in pairs:
                assert text.count(old) == 1, f"{old!r} must occur once in {where}.py"
                text = text.replace(old, new)
        else:
            path = dest / f"{checks.find(where).module}.py"
            text = apply_edits(path.read_text(), where, pairs)
        path.write_text(text)
    for name, source in (files or {}).items():
        if source is None:
            (dest / name).unlink()
        else:
            (dest / name).write_text(source)
    return dest


@pytest.fixture(autouse=True)
def _machine_shared():
    """Every test holds the shared side of the machine's lock; the few that change what the
    whole machine sees (`own_user`) take it alone (hostile/confinement.py)."""
    with MACHINE.shared():
        yield


@pytest.fixture
def submission(tmp_path):
    """submission(edits=..., files=...) -> a folder holding an edited copy of the solutions."""
    counter = iter(range(1000))

    def make(edits=None, files=None) -> Path:
        return copy_solutions(tmp_path / f"submission{next(counter)}", edits, files)

    return make


@pytest.fixture(scope="session")
def shared_report():
    """shared_report(folder, **options) -> the report of grade(folder, Options(**options)),
    graded once per test session.

    For the tests that only read the report of a folder nobody edits (the reference
    solutions, the stubs): they share one grading instead of each paying for its own. Each
    caller gets a copy, so no test can change what the next one reads.
    """
    reports = {}

    def get(folder: Path, **options):
        # the same grading however it is asked for (a default spelt out or left out)
        key = (str(Path(folder).resolve()), repr(Options(**options)))
        if key not in reports:
            reports[key] = grade(folder, Options(**options))
        return copy.deepcopy(reports[key])

    return get


def by_exercise(report) -> dict[str, tuple[float, int]]:
    """exercise -> (points, max points)."""
    return {e.name: (e.points, e.max_points) for e in report.exercises()}


def grade_broken(bug, source: str, tmp_path: Path):
    """Grade a broken case (tests/learner_bugs.py, tests/fresh_bugs.py: `source`, an edit of
    a correct style's module) on its exercise, and check that it loses points, that only its `names`
    name it (if it has any), and that its slip, if any, is shown. Returns the report."""
    from heldout import SUBMISSIONS

    folder = tmp_path / "submission"
    shutil.copytree(SUBMISSIONS / bug.base, folder)
    (folder / f"{bug.module}.py").write_text(source)
    report = grade(folder, Options(only=bug.exercise, hidden=False, speed=False))
    assert report.score < report.max_score, f"{bug.id} ({bug.mistake}) lost no points"
    named = {d for r in report.results for d in r.diagnosis.split(",") if d}
    assert named <= set(bug.names), f"{bug.id} was named {sorted(named - set(bug.names))}"
    assert named or not bug.names, f"{bug.id} ({bug.mistake}) is not named"
    if bug.spotted:
        failed = [r for r in report.results if r.counts and not r.passed]
        assert all(bug.spotted in r.spotted for r in failed), f"{bug.id}: no slip shown"
    return report
