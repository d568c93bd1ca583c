"""Hostile speed checks: every trick to look fast while being timed gains no speed points.

The honest part of each submission is `attention_scores` as a Python loop over rows (about 5x
the reference's time against a 3x margin: too slow), or, where the trick itself fails the
check, the reference's own code. Each trick runs the CPU speed check once, in bounded time,
and leaves no process behind. The judge's side is grader/judge/speed_race.py (fresh inputs,
checked results, the judge's repetitions) and grader/judge/cputime.py (CPU time of the process
tree).
"""

from __future__ import annotations

import time

import pytest
from hostile import Watch, assert_nothing_left, marker

from grader.judge.engine import Grading, Options
from grader.report.results import FAILED
from grader.worker import sandbox

NO_BWRAP = sandbox.bubblewrap_problem()
SANDBOX = pytest.param("sandbox", marks=pytest.mark.skipif(bool(NO_BWRAP), reason=NO_BWRAP))
LEVELS = [SANDBOX, "subprocess"]
EXERCISE = "attention_scores"
HONEST = "    return inputs @ inputs.T\n"
ROWS = "torch.stack([inputs @ inputs[i] for i in range(inputs.shape[0])])"
SECONDS = 90  # one speed check, hostile or not, must end within this


def speed_check(folder, level: str = "subprocess", device: str = "cpu", **options):
    """The speed check of attention_scores on `device`, run alone; every worker is gone
    afterwards."""
    start = time.monotonic()
    chosen = dict(only=EXERCISE, hidden=False, sandbox_mode=level, **options)
    with Grading(folder, Options(**chosen)) as grading:
        step = next(s for s in grading.steps if s.check.name == f"speed_{device}")
        result = grading.run(step)
    assert time.monotonic() - start < SECONDS, "the speed check took too long"
    assert_nothing_left(marker())  # no child of this test is left (orphans: by their mark)
    return result


def scores(submission, body: str = f"    return {ROWS}\n", top: str = "", mark: str = ""):
    """A submission whose attention_scores has `body`, with `top` at the module's top."""
    edits = [(HONEST, body.replace("MARKER", mark))]
    if top:
        edits.append(("import torch\n", "import torch\n" + top.replace("MARKER", mark)))
    return submission({"simple_attention": edits})


def no_points(result, *expected: str) -> None:
    assert result.status == FAILED and result.points == 0, (result.status, result.problem)
    assert any(text in result.problem for text in expected), result.problem


@pytest.mark.slow
def test_the_honest_loop_alone_is_too_slow(submission):
    no_points(speed_check(scores(submission)), "too slow")


CLAIM = """import sys as _sys
_timing = _sys.modules["grader.worker.timing"]
_prepare = _timing.prepare


def _claiming(spec, inputs, lookup):
    out, info = _prepare(spec, inputs, lookup)
    info["reps"] = REPS
    return out, info


_timing.prepare = _claiming
"""


@pytest.mark.slow
@pytest.mark.parametrize("reps", [-1, 0, 10_000])
def test_a_repetition_count_claimed_by_the_worker_is_ignored(submission, reps):
    # The judge decides how many calls a batch holds: the claim changes nothing.
    result = speed_check(scores(submission, top=CLAIM.replace("REPS", str(reps))))
    no_points(result, "too slow")


BY_IDENTITY = f"""    key = (id(inputs), inputs.data_ptr())
    if key not in _seen:
        _seen.clear()  # a few entries are enough: the timed loop used to pass one tensor
        _seen[key] = {ROWS}
    return _seen[key]
"""


@pytest.mark.slow
def test_memoising_on_the_input_tensor_gains_nothing(submission):
    # Every timed call gets a new tensor: a cache by identity misses (too slow), or, when
    # Python reuses an address, answers another input's scores (wrong while timed).
    result = speed_check(scores(submission, BY_IDENTITY, top="_seen = {}\n"))
    no_points(result, "too slow", "not counted")


BY_VALUE = f"""    import hashlib
    key = hashlib.sha1(inputs.numpy().tobytes()).hexdigest()
    if key not in _seen:
        if len(_seen) > 4:
            _seen.clear()
        _seen[key] = {ROWS}
    return _seen[key]
"""


@pytest.mark.slow
def test_memoising_on_the_input_values_gains_nothing(submission):
    # Every timed call gets new values, so a cache by content never hits.
    result = speed_check(scores(submission, BY_VALUE, top="_seen = {}\n"))
    no_points(result, "too slow")


STACK = f"""    frame = sys._getframe(1)
    while frame is not None:  # called by the kit's timing loop? answer cheaply
        if frame.f_code.co_name in ("repeat", "_commit"):
            return _first[0] if _first else torch.zeros(inputs.shape[0], inputs.shape[0])
        frame = frame.f_back
    _first[:] = [{ROWS}]
    return _first[0]
"""


@pytest.mark.slow
def test_a_forward_that_answers_cheaply_while_timed_fails(submission):
    # It inspects its callers: honest (and slow) when checked, a stale answer when timed.
    result = speed_check(scores(submission, STACK, top="import sys\n_first = []\n"))
    no_points(result, "not counted")


NO_OP = """import sys as _sys
_timing = _sys.modules["grader.worker.timing"]
_timing._commit = lambda timed, offsets: torch.zeros(len(offsets), len(timed.keys), dtype=torch.float64)
"""


@pytest.mark.slow
def test_a_timed_loop_swapped_for_a_no_op_fails(submission):
    # The worker's own timing code, replaced: the batch returns at once, with made-up results.
    result = speed_check(scores(submission, top=NO_OP))
    no_points(result, "not counted")


BURNERS = {
    "forked processes": """import os as _os, sys as _sys
for _ in range(2):
    if _os.fork() == 0:
        _os.execv(_sys.executable, [_sys.executable, "-c", "while True: pass", "MARKER"])
""",
    "a detached daemon": """import os as _os, sys as _sys
if _os.fork() == 0:  # fork, setsid, fork again: no longer a descendant of the worker
    _os.setsid()
    if _os.fork() == 0:
        _os.execv(_sys.executable, [_sys.executable, "-c", "while True: pass", "MARKER"])
    _os._exit(0)
""",
    "a thread": """import threading as _threading


def _spin():
    while True:
        pass


_threading.Thread(target=_spin, daemon=True).start()
""",
}


# Forked processes at both levels; the others at the fallback, where they are not held in a
# PID namespace (a detached daemon is found by the token it inherited).
BURNING = [
    pytest.param("forked processes", SANDBOX.values[0], marks=SANDBOX.marks, id="forked-sandbox"),
    pytest.param("forked processes", "subprocess", id="forked-subprocess"),
    pytest.param("a detached daemon", "subprocess", id="daemon-subprocess"),
    pytest.param("a thread", "subprocess", id="thread-subprocess"),
]


@pytest.mark.slow
@pytest.mark.parametrize("burner, level", BURNING)
def test_cpu_burners_that_would_slow_the_reference_fail_the_check(submission, burner, level):
    # With wall time, burners on the other core slowed the reference by 20 to 50 %; the
    # judge now reads the CPU time of the learner's processes while the reference is timed.
    mark = marker()
    sub = scores(submission, HONEST, top=BURNERS[burner], mark=mark)
    with Watch(mark) as watch:
        result = speed_check(sub, level)
    if burner != "a thread":
        assert watch.seen, "the burners never ran: the test proves nothing"
    no_points(result, "while the reference was timed")
    assert_nothing_left(mark)


# A helper process that computes the scores (a loop over rows) for inputs sent to it; the
# worker only passes the bytes along. Counting the worker's own process alone, that would be
# about 1 ms per call against the reference's 2: fast.
HELPER_LOOP = """import struct, sys, torch
torch.set_num_threads(1)
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
def read(n):
    data = b""
    while len(data) < n:
        chunk = stdin.read(n - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data
while True:
    n, d = struct.unpack("<II", read(8))
    x = torch.frombuffer(bytearray(read(n * d * 4)), dtype=torch.float32).view(n, d)
    stdout.write(torch.stack([x @ x[i] for i in range(n)]).numpy().tobytes())
    stdout.flush()
"""
HELPERS = {
    "a child": "[_sys.executable, '-c', HELPER, 'MARKER']",
    # started in the background by a shell that exits at once: an orphan, no descendant
    "an orphan": "['/bin/sh', '-c', 'exec 3<&0; \"$0\" -c \"$1\" MARKER 0<&3 3<&- &', _sys.executable, HELPER]",
}
HELPER_TOP = """import struct as _struct, subprocess as _subprocess, sys as _sys
HELPER = LOOP
_helper = _subprocess.Popen(ARGV, stdin=_subprocess.PIPE, stdout=_subprocess.PIPE)
"""
HANDED_OVER = """    n, d = inputs.shape
    _helper.stdin.write(_struct.pack("<II", n, d) + inputs.contiguous().numpy().tobytes())
    _helper.stdin.flush()
    data = _helper.stdout.read(n * n * 4)
    return torch.frombuffer(bytearray(data), dtype=torch.float32).view(n, n)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "helper, level",
    [
        pytest.param("a child", SANDBOX.values[0], marks=SANDBOX.marks, id="child-sandbox"),
        pytest.param("a child", "subprocess", id="child-subprocess"),
        pytest.param("an orphan", "subprocess", id="orphan-subprocess"),
    ],
)
def test_work_handed_to_a_helper_process_is_counted(submission, helper, level):
    # The CPU time of the worker's whole process tree counts (an orphan is found by the
    # token in its environment, or in the worker's cgroup): the helper's loop makes it too
    # slow. Counting the worker's own process alone, this passed at 1.5x.
    mark = marker()
    top = HELPER_TOP.replace("LOOP", repr(HELPER_LOOP)).replace("ARGV", HELPERS[helper])
    with Watch(mark) as watch:
        result = speed_check(scores(submission, HANDED_OVER, top, mark), level)
    assert watch.seen, "the helper never ran: the test proves nothing"
    no_points(result, "too slow")
    assert_nothing_left(mark)


STOPPER = """import os as _os, signal as _signal, threading as _threading, time as _time

_calls = [0]


def _siblings():
    # The other children of the judge: the reference's worker, at the fallback level.
    found = []
    for entry in _os.listdir("/proc"):
        if entry.isdigit() and int(entry) != _os.getpid():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == _os.getppid():
                found.append(int(entry))
    return found


def _signal_all(pids, sig):
    for pid in pids:
        try:
            _os.kill(pid, sig)
        except OSError:
            pass


def _stopper():
    while _calls[0] <= 8:  # past "prepare": the reference's worker is up and prepared
        _time.sleep(0.01)
    while True:
        pids = _siblings()
        for _ in range(20):
            _signal_all(pids, _signal.SIGSTOP)
            if FOR_GOOD and pids:
                return
            _time.sleep(0.03)
            _signal_all(pids, _signal.SIGCONT)
            _time.sleep(0.01)


_threading.Thread(target=_stopper, daemon=True).start()
"""


@pytest.mark.slow
@pytest.mark.parametrize("for_good", [False, True], ids=["stopped often", "stopped for good"])
def test_stopping_the_reference_worker_gains_nothing(submission, for_good):
    # At the fallback level the learner's worker can signal the reference's (same user).
    # Stopped three quarters of the time, the reference takes longer but uses no more CPU
    # time: the loop stays too slow (or the stopping thread itself is caught using CPU while
    # the reference is timed). Stopped for good, the reference misses its deadline and the
    # check fails, in bounded time.
    top, body = (
        STOPPER.replace("FOR_GOOD", str(for_good)),
        f"    _calls[0] += 1\n    return {ROWS}\n",
    )
    result = speed_check(scores(submission, body, top), timeout=4)
    no_points(result, "too slow", "the reference's worker failed", "not counted: your worker used")
