"""Run the kit's checks under pytest, one test per check, with the CLI's verdicts.

    pytest --pyargs grader                                  # grade ./exercises
    pytest --pyargs grader --submission PATH -k softmax_stable

Registered as a pytest11 entry point, so it is active wherever the kit is installed; it only
adds options and, for `grader/test_submission.py`, the parametrisation and the session that
owns the worker. Every test goes through `Grading.run`, the same code the CLI runs, and is
bounded by pytest-timeout. Zero-point notes are not tests.
"""

from __future__ import annotations

import secrets

import pytest

from grader.judge.engine import Grading, Options, plan, select
from grader.judge.reference import load as load_reference
from grader.report.results import PASSED, SKIPPED

CHECK_TIMEOUT = 180  # seconds: a worker start, an import and one call, with room to spare


def pytest_addoption(parser):
    group = parser.getgroup("attention-grader", "attention exercise kit")
    group.addoption(
        "--submission", default="exercises", help="submission folder or .zip (default ./exercises)"
    )
    group.addoption(
        "--grader-fixtures",
        action="store_true",
        help="compare with the fixtures even where solutions/ is present; no hidden checks",
    )
    group.addoption("--grader-seed", type=int, default=None, help="seed of the hidden checks")
    group.addoption(
        "--grader-timeout", type=float, default=20.0, help="seconds per call in the worker"
    )


def _options(config) -> Options:
    fixtures = config.getoption("--grader-fixtures")
    seed = config.getoption("--grader-seed")
    if seed is None:
        # One seed per session, chosen at collection, so every test sees the same hidden inputs.
        seed = config.stash.setdefault(_SEED, secrets.randbits(31))
    return Options(
        hidden=False if fixtures else None,
        use_solutions=False if fixtures else None,
        seed=seed,
        timeout=config.getoption("--grader-timeout"),
    )


_SEED = pytest.StashKey[int]()


def pytest_generate_tests(metafunc):
    if "grader_step" not in metafunc.fixturenames:
        return
    options = _options(metafunc.config)
    hidden = options.hidden if options.hidden is not None else load_reference() is not None
    steps = [s for s in plan(select(None), hidden, options.seed) if s.check.points > 0]
    metafunc.parametrize(
        "grader_step",
        [pytest.param(s, id=s.id, marks=pytest.mark.timeout(CHECK_TIMEOUT)) for s in steps],
    )


@pytest.fixture(scope="session")
def attention_grading(request):
    """The session that grades --submission (one worker, started on the first test)."""
    config = request.config
    with Grading(config.getoption("--submission"), _options(config)) as g:
        yield g


def check_step(grading: Grading, step) -> None:
    """Fail the current test with the check's feedback unless it passed."""
    result = grading.run(step)
    if result.status == SKIPPED:
        pytest.skip(result.note)
    if result.status != PASSED:
        pytest.fail(
            f"{result.name} ({result.status}, 0/{result.max_points} points)\n{result.feedback}",
            pytrace=False,
        )
