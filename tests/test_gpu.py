"""The GPU paths on a real GPU; every test here is skipped without a CUDA device.

The speed checks at the book's GPT-2 size (grader/checks/speed.py), in the sandbox with the
GPU bound in: every correct style passes them, the loops fail them, and the tricks that make
code look fast while timed gain nothing on a GPU either: work left on a side stream (the
judge's clock stops only after the worker synchronises the whole device, and each result is
committed to before the reply), a forward memoised on its input (every timed call gets new
values) and a cheap answer while timed (sampled calls are recomputed and compared).
tests/gpu_check.sh runs these with the studies behind the README's GPU tables.
"""

from __future__ import annotations

import pytest
import torch
from conftest import copy_solutions
from speed_study import SLOWED, slow_submissions
from test_speed_hostile import BY_IDENTITY, NO_OP, ROWS, no_points, scores, speed_check

from grader import paths
from grader.judge.engine import Grading, Options
from grader.report.results import FAILED, PASSED
from grader.worker import sandbox

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

TIMED = ("attention_scores", "CausalAttention", "MultiHeadAttention")
STYLES = ("einsum_style", "functional_style", "book_style")
LEVEL = "auto"  # the sandbox where it starts, as graders run; the report names the level


def gpu_speed(folder, exercises=TIMED, level: str = LEVEL) -> dict:
    """The GPU speed check of each exercise, run alone: {exercise: result}."""
    with Grading(folder, Options(only=exercises, hidden=False, sandbox_mode=level)) as grading:
        steps = [s for s in grading.steps if s.check.name == "speed_cuda"]
        return {s.exercise.name: grading.run(s) for s in steps}


@pytest.mark.skipif(bool(sandbox.bubblewrap_problem()), reason="bubblewrap cannot start here")
def test_the_sandbox_binds_the_gpu_and_its_driver():
    report_options = Options(only="attention_scores", hidden=False, sandbox_mode="sandbox")
    with Grading(paths.SOLUTIONS, report_options) as grading:
        step = next(s for s in grading.steps if s.check.name == "speed_cuda")
        result = grading.run(step)
        devices = set(grading.devices)
    assert result.status == PASSED, result.problem
    assert any(torch.cuda.get_device_name(0) in d for d in devices), devices


@pytest.mark.parametrize("name", ["reference", *STYLES])
def test_every_correct_style_passes_every_gpu_speed_check(name):
    folder = paths.SOLUTIONS if name == "reference" else paths.KIT_ROOT / "tests/submissions" / name
    results = gpu_speed(folder)
    assert set(results) == set(TIMED)
    for exercise, result in results.items():
        assert result.status == PASSED, (exercise, result.problem)


@pytest.mark.parametrize("loop", sorted(SLOWED))
def test_a_python_loop_fails_the_gpu_speed_check(loop, tmp_path):
    folder = slow_submissions(tmp_path)[loop]
    result = gpu_speed(folder, (SLOWED[loop],))[SLOWED[loop]]
    assert result.status == FAILED and result.points == 0, (loop, result.problem)
    assert "too slow" in result.problem, result.problem


# The rows loop on a side stream; the default stream, where the worker commits to the
# results, does not wait for it. With the worker's device-wide synchronisation in place, the
# clock covers the side stream (too slow); with it disabled, as a submission can, the
# commitments read results not yet computed (not counted, or not timed when the first output
# is read too early).
SIDE_STREAM = f"""    _side.wait_stream(torch.cuda.current_stream())  # the input is ready, the result is not
    with torch.cuda.stream(_side):
        out = {ROWS}
    return out
"""
SIDE_TOP = "_side = torch.cuda.Stream()\n"
NO_SYNC = """import sys as _sys
_timing = _sys.modules["grader.worker.timing"]
_timing._sync = lambda device: None
torch.cuda.synchronize = lambda *args, **kwargs: None
"""

STACK_GPU = f"""    import sys
    frame = sys._getframe(1)
    while frame is not None:  # called by the kit's timing loop? answer cheaply
        if frame.f_code.co_name in ("repeat", "_commit"):
            return torch.zeros(inputs.shape[0], inputs.shape[0], device=inputs.device)
        frame = frame.f_back
    return {ROWS}
"""

BY_VALUE_GPU = f"""    import hashlib
    key = hashlib.sha1(inputs.cpu().numpy().tobytes()).hexdigest()
    if key not in _seen:
        if len(_seen) > 4:
            _seen.clear()
        _seen[key] = {ROWS}
    return _seen[key]
"""

TRICKS = {
    "side stream": (SIDE_STREAM, SIDE_TOP),
    "side stream, no synchronisation": (SIDE_STREAM, SIDE_TOP + NO_SYNC),
    "memoised on the tensor": (BY_IDENTITY, "_seen = {}\n"),
    "memoised on the values": (BY_VALUE_GPU, "_seen = {}\n"),
    "cheap while timed": (STACK_GPU, ""),
    "timed loop swapped for a no-op": (f"    return {ROWS}\n", NO_OP),
}


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_a_trick_to_look_fast_fails_the_gpu_speed_check(submission, trick):
    # At the level graders use (the tricks do not depend on it: tests/test_speed_hostile.py
    # runs the CPU ones at both)
    body, top = TRICKS[trick]
    result = speed_check(scores(submission, body, top), LEVEL, device="cuda")
    no_points(result, "too slow", "not counted", "not timed")


def test_the_gpu_checks_compare_a_wrong_answer_before_timing_it(tmp_path):
    folder = copy_solutions(
        tmp_path / "wrong",
        {
            "simple_attention": [
                ("    return inputs @ inputs.T\n", "    return inputs @ inputs.T * 2\n")
            ]
        },
    )
    result = gpu_speed(folder, ("attention_scores",))["attention_scores"]
    assert result.status == FAILED and "not timed, the output is wrong" in result.problem
