"""The judge/worker split: learner code runs only in the worker, every call has a deadline,
and one exercise's crash, hang or exit fails that exercise only."""

from __future__ import annotations

import io
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import by_exercise
from rich.console import Console

from grader import paths
from grader.errors import SubmissionError
from grader.exercise_names import BY_MODULE
from grader.judge.engine import Options, grade
from grader.report import console
from grader.report.results import CRASHED, ERROR, MISSING, NOT_ATTEMPTED, PASSED, TIMEOUT

NAIVE_BODY = "    exp_x = torch.exp(x)\n    return exp_x / exp_x.sum(dim=dim, keepdim=True)"
SCORES_BODY = "    return inputs @ inputs.T\n"
SIMPLE = BY_MODULE["simple_attention"]
QUICK = Options(hidden=False, timeout=3, import_timeout=5)


def statuses(report, exercise):
    return {r.status for r in report.results if r.exercise == exercise and r.counts}


def full(report, *exercises):
    scores = by_exercise(report)
    return all(scores[e][0] == scores[e][1] for e in exercises)


def test_stubs_score_zero_as_not_attempted(shared_report):
    report = shared_report(paths.EXERCISES, hidden=True, seed=1)
    assert report.score == 0
    assert {r.status for r in report.results if r.counts} == {NOT_ATTEMPTED}
    assert "not attempted yet" in report.results[0].feedback


@pytest.mark.slow
def test_a_hang_fails_only_its_exercise_within_the_deadline(submission):
    sub = submission({"simple_attention": [(NAIVE_BODY, "    while True:\n        pass")]})
    start = time.monotonic()
    report = grade(sub, QUICK)
    assert time.monotonic() - start < 60
    assert statuses(report, "softmax_naive") == {TIMEOUT}
    naive = [r for r in report.results if r.exercise == "softmax_naive"]
    assert "no answer within 3 s" in naive[0].feedback
    # where it hung (the `while True:` that replaced that line, or its `pass`: the loop's
    # jump belongs to either, as the interpreter was caught), from the stack the worker dumps
    # just before the deadline, which the feedback does not show
    line = (
        (paths.SOLUTIONS / "simple_attention.py")
        .read_text()
        .splitlines()
        .index("    exp_x = torch.exp(x)")
    )
    stuck = "it was still running at simple_attention.py, line {}, in softmax_naive"
    assert any(stuck.format(n) in naive[0].problem for n in (line + 1, line + 2))
    assert "Timeout (" not in naive[0].feedback and "Thread 0x" not in naive[0].feedback
    assert "earlier checks of this exercise timed out" in naive[-1].feedback
    others = [e for e in SIMPLE if e != "softmax_naive"] + ["MultiHeadAttention"]
    assert full(report, *others)


@pytest.mark.slow
def test_a_module_that_hangs_at_import_fails_its_exercises_and_their_dependants(submission):
    sub = submission(
        {
            "causal_attention": [
                ("from torch import nn\n", "from torch import nn\n\nwhile True:\n    pass\n")
            ]
        }
    )
    start = time.monotonic()
    report = grade(sub, QUICK)
    assert time.monotonic() - start < 60
    for exercise in ("causal_mask", "CausalAttention", "MultiHeadAttention"):
        assert statuses(report, exercise) == {TIMEOUT}, exercise
    feedback = next(r.feedback for r in report.results if r.exercise == "CausalAttention")
    assert "while importing the module" in feedback
    assert full(report, *SIMPLE, "SelfAttention_v1", "SelfAttention_v2")


@pytest.mark.slow
def test_exit_crash_and_exception_each_fail_one_exercise(submission):
    sub = submission(
        {
            "simple_attention": [
                (NAIVE_BODY, "    import sys\n    sys.exit(0)"),
                (SCORES_BODY, "    import os\n    os._exit(0)\n"),
                (
                    "    return attn_weights @ inputs\n",
                    "    return attn_weights @ inputs[:, :, None]\n",
                ),
            ]
        }
    )
    report = grade(sub, QUICK)
    assert statuses(report, "softmax_naive") == {ERROR}
    assert "sys.exit(0)" in next(
        r.feedback for r in report.results if r.exercise == "softmax_naive"
    )
    assert statuses(report, "attention_scores") == {CRASHED}
    crashed = next(r.feedback for r in report.results if r.exercise == "attention_scores")
    assert "exited with code 0" in crashed
    assert ERROR in statuses(report, "context_vectors")
    err = next(
        r.feedback for r in report.results if r.exercise == "context_vectors" and r.status == ERROR
    )
    assert "simple_attention.py:" in err and "in context_vectors" in err
    assert full(
        report, "softmax_stable", "normalize_by_sum", "SelfAttention_v2", "MultiHeadAttention"
    )


@pytest.mark.slow
def test_printing_is_captured_and_bounded(submission):
    flood = "    print('x' * 1_000_000)\n    print('x' * 1_000_000)\n" + NAIVE_BODY
    report = grade(
        submission({"simple_attention": [(NAIVE_BODY, flood)]}),
        Options(only="softmax_naive", hidden=False),
    )
    assert report.all_passed
    wrong = "    print('learner says hi')\n    return x\n"
    report = grade(
        submission({"simple_attention": [(NAIVE_BODY, wrong)]}),
        Options(only="softmax_naive", hidden=False),
    )
    feedback = next(r.feedback for r in report.results if r.status != PASSED)
    assert "your code printed:" in feedback and "  | learner says hi" in feedback


@pytest.mark.parametrize("style", ["relative", "absolute"])
def test_imports_between_modules_reach_the_submission(submission, style):
    # The submission's CausalAttention skips the scaling: the wrapper must inherit that bug,
    # which shows that its import reached the submission's module (not the kit's stubs).
    line = "from .causal_attention import CausalAttention"
    new = line if style == "relative" else "from exercises.causal_attention import CausalAttention"
    sub = submission(
        {
            "causal_attention": [
                (
                    "attn_scores / keys.shape[-1] ** 0.5, dim=-1)\n        attn_weights = self.dropout",
                    "attn_scores, dim=-1)\n        attn_weights = self.dropout",
                )
            ],
            "multihead_attention": [(line, new)],
        }
    )
    report = grade(sub, Options(only="MultiHeadAttentionWrapper", hidden=False))
    values = next(r for r in report.results if r.check == "values_random")
    assert values.status == "failed"  # a stub would be "not attempted", the kit's code would pass


def test_learner_code_cannot_import_the_solutions(submission):
    probe = (
        "    try:\n        import solutions  # noqa\n        return x * 0\n"
        "    except ImportError:\n        pass\n" + NAIVE_BODY
    )
    report = grade(
        submission({"simple_attention": [(NAIVE_BODY, probe)]}),
        Options(only="softmax_naive", hidden=False),
    )
    assert report.all_passed


def test_the_judge_never_imports_learner_code(submission, tmp_path):
    sub = submission()
    grade(sub, Options(only="CausalAttention", hidden=False))
    learner = [
        name
        for name, module in list(sys.modules.items())
        if str(getattr(module, "__file__", "") or "").startswith(str(tmp_path))
    ]
    assert learner == []
    exercises_pkg = sys.modules.get("exercises")
    assert exercises_pkg is None or str(tmp_path) not in str(getattr(exercises_pkg, "__path__", ""))


def test_a_lying_tensor_subclass_is_judged_by_its_values(submission):
    liar = (
        "    class Liar(torch.Tensor):\n"
        "        def __eq__(self, other):\n            return True\n"
        "        def allclose(self, *a, **k):\n            return True\n"
        "    return torch.zeros_like(x).as_subclass(Liar)\n"
    )
    report = grade(
        submission({"simple_attention": [(NAIVE_BODY, liar)]}),
        Options(only="softmax_naive", hidden=False),
    )
    assert report.score == 1  # only "inputs not modified" passes


@pytest.mark.slow
def test_missing_module_fails_its_exercises_only(submission):
    sub = submission(files={"self_attention.py": None})
    report = grade(sub, Options(hidden=False))
    for exercise in ("SelfAttention_v1", "SelfAttention_v2", "copy_v2_weights_into_v1"):
        assert statuses(report, exercise) == {MISSING}
    missing = next(r for r in report.results if r.exercise == "SelfAttention_v1")
    assert "self_attention.py is not in the submission" in missing.feedback
    assert full(report, *SIMPLE, "CausalAttention", "MultiHeadAttention")


@pytest.mark.slow
def test_a_zip_grades_like_the_folder(submission, tmp_path):
    sub = submission({"simple_attention": [(NAIVE_BODY, "    return x")]})
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sub.iterdir():
            zf.write(f, f"alice_hw3/{f.name}")
    folder = grade(sub, Options(only="softmax_naive", hidden=False))
    zipped = grade(archive, Options(only="softmax_naive", hidden=False))
    assert [r.status for r in zipped.results] == [r.status for r in folder.results]
    assert zipped.score == folder.score < folder.max_score


def test_unreadable_submissions_are_refused(tmp_path):
    with pytest.raises(SubmissionError, match="does not exist"):
        grade(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionError, match="no exercise modules"):
        grade(tmp_path / "empty")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape/simple_attention.py", "x = 1\n")
    with pytest.raises(SubmissionError, match="unsafe path"):
        grade(evil)
    not_zip = tmp_path / "notes.txt"
    not_zip.write_text("hello")
    with pytest.raises(SubmissionError, match="neither a folder, a .zip"):
        grade(not_zip)


def test_symlinks_in_a_submission_are_not_followed(submission, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the answer")
    sub = submission()
    (sub / "leak.txt").symlink_to(secret)
    from grader.judge.submission import open_submission

    with open_submission(sub) as opened:
        assert not (opened.folder / "leak.txt").exists()
        assert isinstance(opened.folder, Path)


def test_a_module_that_cannot_be_imported_earns_no_refusal_points(submission):
    """MultiHeadAttention imports CausalAttention: when causal_attention.py has a syntax error,
    the ImportError is no refusal of an indivisible d_out, and the report says it once."""
    sub = submission({"CausalAttention": [("def forward(self, x):", "def forward(self, x)")]})
    report = grade(sub, Options(only=("causal_mask", "MultiHeadAttention"), hidden=False))
    assert report.score == 0
    raises = next(r for r in report.results if r.check == "raises")
    assert raises.status == ERROR and "SyntaxError" in raises.problem
    stream = io.StringIO()
    console.render(report, Console(file=stream, width=120))
    text = stream.getvalue()
    assert text.count("SyntaxError") == 1
    assert "2 exercises could not run: causal_mask, MultiHeadAttention" in text
