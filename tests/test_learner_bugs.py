"""Real learners' mistakes (tests/learner_bugs.py) lose points and are named, never misnamed."""

from __future__ import annotations

import warnings

import pytest
from conftest import grade_broken
from heldout import SUBMISSIONS, mutated_source
from learner_bugs import LEARNER_BUGS

from grader import checks


@pytest.mark.slow
@pytest.mark.parametrize("bug", [pytest.param(b, id=b.id) for b in LEARNER_BUGS])
def test_a_learners_mistake_is_named(bug, tmp_path):
    grade_broken(bug, mutated_source(bug), tmp_path)


@pytest.mark.parametrize("bug", [pytest.param(b, id=b.id) for b in LEARNER_BUGS])
def test_a_learners_mistake_applies_inside_its_exercise(bug):
    assert checks.find(bug.exercise).module == bug.module
    source = mutated_source(bug)
    assert source != (SUBMISSIONS / bug.base / f"{bug.module}.py").read_text()
    with warnings.catch_warnings():  # ("assertion is always true": the tuple assert's point)
        warnings.simplefilter("ignore", SyntaxWarning)
        compile(source, f"{bug.module}.py", "exec")  # a wrong answer, not a syntax error
    assert bug.names or bug.spotted, f"{bug.id} says nothing of how it is named"
