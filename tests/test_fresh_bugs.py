"""The fresh cases (tests/fresh_bugs.py) lose points and are named, never misnamed.

Named as tests/learner_bugs.py's cases are (by one of `names`, or by a slip containing
`spotted`), or, for those in CRASHES, by the crash itself: the feedback shows the exception
with the line of the learner's module that raised it.
"""

from __future__ import annotations

import shutil

import pytest
from fresh_bugs import COMBINED_QKV_NAME, CRASHES, FRESH_BUGS, crash_shown, mutated_source
from heldout import SUBMISSIONS

from grader import checks
from grader.judge.engine import Options, grade


def _case(bug):
    return pytest.param(bug, id=bug.id)


@pytest.mark.slow
@pytest.mark.parametrize("bug", [_case(b) for b in FRESH_BUGS])
def test_a_fresh_mistake_is_named(bug, tmp_path):
    folder = tmp_path / "submission"
    shutil.copytree(SUBMISSIONS / bug.base, folder)
    (folder / f"{bug.module}.py").write_text(mutated_source(bug))
    report = grade(folder, Options(only=bug.exercise, hidden=False, speed=False))
    assert report.score < report.max_score, f"{bug.id} ({bug.mistake}) lost no points"
    named = {d for r in report.results for d in r.diagnosis.split(",") if d}
    assert named <= set(bug.names), f"{bug.id} was named {sorted(named - set(bug.names))}"
    assert named or not bug.names, f"{bug.id} ({bug.mistake}) is not named"
    if bug.spotted:
        failed = [r for r in report.results if r.counts and not r.passed]
        assert all(bug.spotted in r.spotted for r in failed), f"{bug.id}: no slip shown"
    if bug.id in CRASHES:
        assert crash_shown(report, bug.module), f"{bug.id}: no exception shown with its line"


@pytest.mark.parametrize("bug", [pytest.param(b, id=b.id) for b in FRESH_BUGS])
def test_a_fresh_mistake_applies_inside_its_exercise(bug):
    assert checks.find(bug.exercise).module == bug.module
    base = (SUBMISSIONS / bug.base / f"{bug.module}.py").read_text()
    source = mutated_source(bug)  # each `old` once in the exercise's code, or ValueError
    assert source != base
    compile(source, f"{bug.module}.py", "exec")  # a wrong answer, not a syntax error
    assert bug.names or bug.spotted or bug.id in CRASHES, f"{bug.id} says nothing of its name"


def test_the_fresh_set_is_consistent():
    ids = {b.id for b in FRESH_BUGS}
    assert len(ids) == len(FRESH_BUGS) == 25
    assert ids >= CRASHES
    assert not CRASHES & {b.id for b in FRESH_BUGS if b.names or b.spotted}
    combined = [b for b in FRESH_BUGS if b.exercise == COMBINED_QKV_NAME]
    assert combined, "the combined-QKV class has no case"
    for bug in combined:  # the bases lack the class: mutated_source appends it
        base = (SUBMISSIONS / bug.base / f"{bug.module}.py").read_text()
        assert f"class {COMBINED_QKV_NAME}" not in base
        assert f"class {COMBINED_QKV_NAME}" in mutated_source(bug)
