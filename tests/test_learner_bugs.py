"""Real learners' mistakes (tests/learner_bugs.py) lose points and are named, never misnamed."""

from __future__ import annotations

import shutil
import warnings

import pytest
from heldout import SUBMISSIONS, mutated_source
from learner_bugs import LEARNER_BUGS

from grader import checks
from grader.judge.engine import Options, grade


@pytest.mark.slow
@pytest.mark.parametrize("bug", [pytest.param(b, id=b.id) for b in LEARNER_BUGS])
def test_a_learners_mistake_is_named(bug, tmp_path):
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


@pytest.mark.parametrize("bug", [pytest.param(b, id=b.id) for b in LEARNER_BUGS])
def test_a_learners_mistake_applies_inside_its_exercise(bug):
    assert checks.find(bug.exercise).module == bug.module
    source = mutated_source(bug)
    assert source != (SUBMISSIONS / bug.base / f"{bug.module}.py").read_text()
    with warnings.catch_warnings():  # ("assertion is always true": the tuple assert's point)
        warnings.simplefilter("ignore", SyntaxWarning)
        compile(source, f"{bug.module}.py", "exec")  # a wrong answer, not a syntax error
    assert bug.names or bug.spotted, f"{bug.id} says nothing of how it is named"
