"""Feedback names the grading Python when learner code needs a newer one."""

from __future__ import annotations

import sys

import pytest

from grader.judge import python_version

pytestmark = pytest.mark.matrix  # CI runs these under every Python the kit supports


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="typing.override exists from 3.12")
def test_a_name_the_grading_python_lacks_is_explained():
    text = python_version.explain(
        "ImportError", "cannot import name 'override' from 'typing' (/usr/lib/typing.py)"
    )
    assert "typing.override needs Python 3.12" in text
    assert f"Python {sys.version_info[0]}.{sys.version_info[1]}" in text


@pytest.mark.skipif(sys.version_info < (3, 12), reason="only where typing.override exists")
def test_a_name_the_grading_python_has_is_not_blamed_on_the_python():
    assert (
        python_version.explain("ImportError", "cannot import name 'override' from 'typing'") == ""
    )


def test_ordinary_import_errors_get_no_python_note():
    assert python_version.explain("ImportError", "cannot import name 'Foo' from 'torch'") == ""
    assert python_version.explain("ModuleNotFoundError", "No module named 'numpyy'") == ""


def test_tomllib_and_missing_attributes_are_recognised():
    if sys.version_info < (3, 12):
        assert "itertools.batched" in python_version.explain(
            "AttributeError", "module 'itertools' has no attribute 'batched'"
        )
    if sys.version_info < (3, 11):
        assert "tomllib" in python_version.explain(
            "ModuleNotFoundError", "No module named 'tomllib'"
        )


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="the syntax is valid from 3.12")
def test_newer_syntax_names_the_grading_python():
    try:
        compile("type Weights = list[float]\n", "m.py", "exec")
    except SyntaxError as e:
        text = python_version.explain("SyntaxError", str(e))
    assert "this grader runs Python" in text


def test_a_plain_typo_gets_no_python_version_note():
    for source in ("def forward(self, x)\n    pass\n", "x = (1, 2\n", "s = 'abc\n"):
        try:
            compile(source, "m.py", "exec")
        except SyntaxError as e:
            message = str(e)
        assert python_version.explain("SyntaxError", message) == "", message


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="typing.override exists from 3.12")
def test_the_feedback_names_the_grading_python(tmp_path):
    """A module written for Python 3.12, graded here: its import fails, and the feedback says
    which Python grades and what the import needs."""
    from conftest import copy_solutions

    from grader.judge.engine import Options, grade

    folder = copy_solutions(
        tmp_path / "sub",
        edits={
            "simple_attention": [("import torch\n", "import torch\nfrom typing import override\n")]
        },
    )
    report = grade(folder, Options(only="softmax_stable", use_solutions=False, hidden=False))
    assert report.score == 0
    feedback = "\n".join(r.feedback for r in report.results if not r.passed)
    assert "typing.override needs Python 3.12 or newer" in feedback
    assert f"this grader runs Python {sys.version_info[0]}.{sys.version_info[1]}" in feedback
