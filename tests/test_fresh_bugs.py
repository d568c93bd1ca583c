"""The fresh cases (tests/fresh_bugs.py) lose points and are named, never misnamed.

Named as tests/learner_bugs.py's cases are (by one of `names`, or by a slip containing
`spotted`), or, for those in CRASHES, by the crash itself: the feedback shows the exception
with the line of the learner's module that raised it.
"""

from __future__ import annotations

import pytest
from conftest import grade_broken
from fresh_bugs import COMBINED_QKV_NAME, CRASHES, FRESH_BUGS, crash_shown, mutated_source
from heldout import SUBMISSIONS

from grader import checks


@pytest.mark.slow
@pytest.mark.parametrize("bug", [pytest.param(b, id=b.id) for b in FRESH_BUGS])
def test_a_fresh_mistake_is_named(bug, tmp_path):
    report = grade_broken(bug, mutated_source(bug), tmp_path)
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
