"""Slips read in the source (grader.judge.slips): each is found where it is, with its line,
never where it is not, and reaches the feedback of an exercise that already fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.judge.engine import Grading, Options, grade
from grader.judge.slips import spotted
from grader.judge.variants import apply_edits
from grader.paths import SOLUTIONS
from grader.report.results import FAILED, PASSED, CheckResult, Report

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"

MODULE = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, d_in, d_out, num_heads, dropout):
        super().__init__()
        assert (d_out % num_heads == 0, "d_out must be divisible by num_heads")
        self.W_query = nn.Linear(d_in, d_out)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask):
        scores = x @ x.transpose(1, 2)
        scores.masked_fill(mask, -torch.inf)
        weights = torch.softmax(scores, dim=-1)
        self.dropout(weights)
        return self.W_query(weights @ x)


def weights(scores, mask):
    torch.tril(scores)
    scores = scores.masked_fill(mask, -torch.inf)
    return F.softmax(scores, dim=-1)
"""


def test_each_slip_is_found_on_its_line():
    found = [str(s) for s in spotted(MODULE, "Attention")]
    assert found[0].startswith("line 10: `assert (condition, message)` asserts a tuple")
    assert found[1].startswith("line 12: self.out_proj is built in __init__ but forward never")
    assert found[2].startswith(
        "line 17: `scores.masked_fill(mask, -torch.inf)` returns a new tensor and its result is "
        "not kept, so scores is unchanged: assign the result (or the in-place masked_fill_)"
    )
    assert len(found) == 3  # at most three: the fourth (self.dropout on line 19) waits its turn
    (function,) = spotted(MODULE, "weights")
    assert str(function).startswith("line 24: `torch.tril(scores)` returns a new tensor")


def test_correct_code_has_no_slips():
    for style in ("einsum_style", "functional_style", "book_style", "fused_qkv_style"):
        for path in (SUBMISSIONS / style).glob("*.py"):
            source = path.read_text()
            for name in ("CausalAttention", "MultiHeadAttention", "masked_attention_weights"):
                assert spotted(source, name) == [], (style, path.name, name)
    solutions = Path(__file__).resolve().parent.parent / "solutions"
    for path in solutions.glob("*attention.py"):
        for name in ("CausalAttention", "MultiHeadAttention", "MultiHeadAttentionCombinedQKV"):
            assert spotted(path.read_text(), name) == [], (path.name, name)


def test_unparsable_or_absent_definitions_have_none():
    assert spotted("def f(:\n", "f") == []
    assert spotted(MODULE, "NotThere") == []


def _broken(tmp_path: Path, base: str, module: str, edits: dict) -> Path:
    folder = tmp_path / base
    shutil.copytree(SUBMISSIONS / base, folder)
    path = folder / f"{module}.py"
    text = path.read_text()
    for exercise, pairs in edits.items():
        text = apply_edits(text, exercise, pairs)
    path.write_text(text)
    return folder


@pytest.mark.slow
def test_slips_in_other_styles_lose_points_and_are_shown(tmp_path):
    masked = _broken(
        tmp_path,
        "einsum_style",
        "causal_attention",
        {
            "masked_attention_weights": [
                ('scores = attn_scores.masked_fill(hidden, float("-inf"))',
                 'attn_scores.masked_fill(hidden, float("-inf"))\n    scores = attn_scores'),
            ],
            "CausalAttention": [
                ('scores = scores.masked_fill(future, float("-inf"))',
                 'scores.masked_fill(future, float("-inf"))'),
            ],
        },
    )  # fmt: skip
    report = grade(masked, Options(only=("masked_attention_weights", "CausalAttention")))
    for exercise in ("masked_attention_weights", "CausalAttention"):
        failed = [r for r in report.results if r.exercise == exercise and not r.passed]
        assert failed, f"{exercise} lost no points"
        assert all("masked_fill(" in r.spotted and "is not kept" in r.spotted for r in failed)
        # the general advice ("fill the scores above the diagonal ...") gives way to it
        assert not any("check:" in r.feedback for r in failed)

    functional = _broken(
        tmp_path,
        "functional_style",
        "multihead_attention",
        {
            "MultiHeadAttention": [
                ("if d_out % num_heads != 0:\n"
                 '            raise ValueError(f"cannot split d_out={d_out} into {num_heads} heads")',
                 'assert (d_out % num_heads == 0, "d_out must split into heads")'),
                ("return self.out_proj(context)", "return context"),
            ],
        },
    )  # fmt: skip
    report = grade(functional, Options(only="MultiHeadAttention", hidden=False))
    raises = next(r for r in report.results if r.check == "raises")
    assert not raises.passed and "asserts a tuple, which is always true" in raises.spotted
    assert "self.out_proj is built in __init__ but forward never uses it" in raises.spotted
    # --no-hints (exams): nothing of it is shown
    quiet = grade(functional, Options(only="MultiHeadAttention", hidden=False, hints=False))
    assert not any(r.spotted for r in quiet.results) and quiet.score == report.score


def test_a_failure_over_a_failing_exercise_says_to_fix_that_one_first():
    """The wrapper runs CausalAttention (its code names it); copy_v2_weights_into_v1's checks
    run both SelfAttention classes (its `builds_on`)."""
    failing = {
        "CausalAttention": FAILED,
        "MultiHeadAttentionWrapper": FAILED,
        "SelfAttention_v1": FAILED,
        "copy_v2_weights_into_v1": FAILED,
        "MultiHeadAttention": PASSED,
        "gpt2_small_attention": FAILED,
    }
    report = Report(
        "sub",
        results=[
            CheckResult(name, "c", "a check", status, 0, 1) for name, status in failing.items()
        ],
    )
    with Grading(SOLUTIONS, Options(use_solutions=False, hidden=False)) as grading:
        grading.finish(report)
    upstream = {r.exercise: r.upstream for r in report.results}
    assert upstream["MultiHeadAttentionWrapper"] == (
        "CausalAttention fails its own checks, and MultiHeadAttentionWrapper runs it: "
        "fix CausalAttention first"
    )
    assert upstream["copy_v2_weights_into_v1"].startswith("SelfAttention_v1 fails its own")
    # MultiHeadAttention passes: gpt2_small_attention's failure is its own
    assert upstream["CausalAttention"] == upstream["gpt2_small_attention"] == ""
    assert "first:    CausalAttention fails" in report.results[1].feedback
