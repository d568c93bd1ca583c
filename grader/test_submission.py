"""The kit's checks as pytest tests: `pytest --pyargs grader --submission PATH`.

One test per check, named `exercise::check` (`::hidden` for checks drawn at grading time),
so `-k softmax_stable` selects an exercise. The parametrisation and the grading session come
from `grader.pytest_plugin`.
"""

from grader.pytest_plugin import check_step


def test_check(attention_grading, grader_step):
    check_step(attention_grading, grader_step)
