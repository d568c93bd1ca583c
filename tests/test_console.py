"""The console report stays short: one error is said once, however many checks it stopped."""

from __future__ import annotations

import io

from rich.console import Console

from grader.report import console
from grader.report.results import ERROR, FAILED, PASSED, SKIPPED, CheckResult, Report

SYNTAX = (
    "raised SyntaxError while importing the module: expected ':' (causal_attention.py, line 143)"
)


def result(exercise, check, status, problem="", points=1, **more) -> CheckResult:
    return CheckResult(
        exercise, check, f"the {check} check", status, points if status == PASSED else 0, points,
        section="3.5.1", problem=problem, tried=f"{exercise}(...)", **more,
    )  # fmt: skip


def rendered(report: Report) -> str:
    stream = io.StringIO()
    console.render(report, Console(file=stream, width=120))
    return stream.getvalue()


def test_a_module_that_cannot_be_imported_is_reported_once():
    results = [result("softmax_naive", "values", PASSED)]
    for exercise in ("causal_mask", "CausalAttention"):
        results += [result(exercise, f"c{i}", ERROR, SYNTAX) for i in range(6)]
    # The module that imports the broken one fails with the same first line, and its frame.
    importer = SYNTAX + "\n  at multihead_attention.py:11 in <module>: from .causal_attention"
    results += [result("MultiHeadAttention", f"c{i}", ERROR, importer) for i in range(6)]
    text = rendered(Report("sub", results=results))
    assert text.count("expected ':' (causal_attention.py, line 143)") == 1
    assert "3 exercises could not run: causal_mask, CausalAttention, MultiHeadAttention" in text
    assert "the c3 check" not in text  # no line per check
    assert len(text.splitlines()) < 25


def test_checks_stopped_by_one_error_share_one_entry_and_answers_stay_apart():
    crash = "raised RuntimeError: mat1 and mat2 shapes cannot be multiplied (6x3 and 2x2)"
    results = [result("SelfAttention_v2", f"c{i}", ERROR, crash) for i in range(4)]
    results += [
        result("SelfAttention_v2", "shape", FAILED, "expected shape (6, 2), got (6, 3)"),
        result("SelfAttention_v2", "values", FAILED, "3 of 12 values differ"),
    ]
    text = rendered(Report("sub", results=results))
    assert text.count("mat1 and mat2 shapes") == 1
    assert "4 checks stopped by the same error: the c0 check; the c1 check; the c2 check; " in text
    assert "0/4" in text
    assert "expected shape (6, 2), got (6, 3)" in text and "3 of 12 values differ" in text


def test_the_same_note_on_several_checks_is_one_line():
    note = "no CUDA device here, so the GPU speed check is skipped (no points lost)"
    results = [
        result(name, "speed_cuda", SKIPPED, points=0, note=note)
        for name in ("attention_scores", "CausalAttention", "MultiHeadAttention")
    ]
    for r in results:
        r.title = "speed on a GPU (forward and backward)"
    text = rendered(Report("sub", results=results))
    assert text.count(note) == 1
    assert "[speed on a GPU: attention_scores, CausalAttention, MultiHeadAttention]" in text


def test_the_stack_dumped_before_a_deadline_is_cut_and_located():
    from grader.worker.launch import stuck_at

    printed = (
        "step 1\n"
        "Timeout (0:00:02.700000)!\n"
        "Thread 0x00007f (most recent call first):\n"
        '  File "/usr/lib/python3/site-packages/torch/functional.py", line 40 in einsum\n'
        '  File "/submission/causal_attention.py", line 57 in forward\n'
        '  File "/kit/grader/worker/probes.py", line 93 in _call\n'
    )
    assert stuck_at(printed) == ("step 1\n", "at causal_attention.py, line 57, in forward")
    assert stuck_at("no dump here\n") == ("no dump here\n", "")
