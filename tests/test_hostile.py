"""Hostile submissions: each is graded in bounded time, earns no more than its honest code,
leaves no process behind, and (in the sandbox) writes nothing outside it.

Every attack runs at both isolation levels where that level promises to stop it. The
fallback (`subprocess`) cannot hide files, cut the network or cap processes as root (see
grader/worker/sandbox.py), so the attacks on those run in the sandbox only; what the
fallback does promise (deadlines, exits, memory, output, signals, daemons, forged results,
the cleared environment, values judged as plain tensors) is asserted at both levels.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from hostile import (
    DAEMONS,
    NAIVE_BODY,
    SLEEPER,
    Watch,
    assert_nothing_left,
    at_import,
    in_softmax_naive,
    marker,
    processes_with,
)

from grader import paths
from grader.judge.engine import Options, grade
from grader.report import gradescope_results
from grader.report.results import CRASHED, ERROR, TIMEOUT
from grader.worker import sandbox
from grader.worker.sandbox import Limits

NO_BWRAP = sandbox.bubblewrap_problem()
needs_sandbox = pytest.mark.skipif(bool(NO_BWRAP), reason=f"no sandbox here: {NO_BWRAP}")
SANDBOX = pytest.param("sandbox", marks=needs_sandbox)
LEVELS = [SANDBOX, "subprocess"]
EXERCISE = "softmax_naive"
WRONG = "    return x\n"  # the honest part of most attacks: wrong, but earns what it earns


def options(level: str, **kw) -> Options:
    defaults = dict(only=EXERCISE, hidden=False, timeout=3, import_timeout=5)
    return Options(**{**defaults, **kw, "sandbox_mode": level})


HANG = dict(timeout=2, import_timeout=3)  # for the attacks that hang: deadlines they will hit


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    """Points of the honest parts alone: the reference, and `return x`."""
    from conftest import copy_solutions

    def points(body: str) -> float:
        folder = tmp_path_factory.mktemp("honest")
        sub = copy_solutions(folder / "sub", in_softmax_naive("", "", body))
        return grade(sub, options("subprocess")).score

    return {"right": points(NAIVE_BODY), "wrong": points(WRONG)}


def graded(sub, level, seconds, **kw):
    start = time.monotonic()
    report = grade(sub, options(level, **kw))
    assert time.monotonic() - start < seconds, "grading took too long"
    assert report.isolation.startswith("bubblewrap" if level == "sandbox" else "subprocess")
    return report


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_daemons_that_outlive_the_worker_are_killed(submission, honest, level):
    mark = marker()
    sub = submission(in_softmax_naive(DAEMONS, mark))
    with Watch(mark) as watch:
        report = graded(sub, level, 30)
    assert watch.seen, "the attack's daemons never ran: the test proves nothing"
    assert report.score == honest["right"]
    assert_nothing_left(mark)


FORGE = """    import json, os, subprocess, sys
    fake = json.dumps({"score": 1000, "tests": []})
    try:
        with open(RESULTS, "w") as f:
            f.write(fake)
    except OSError:  # in the sandbox, that folder does not exist
        pass
    # and keep forging from the background, after the worker is gone
    code = "import time\\nfor _ in range(200):\\n    open(%r, 'w').write(%r)\\n    time.sleep(0.05)"
    code = code % (RESULTS, fake)
    subprocess.Popen([sys.executable, "-c", code, "MARKER"], start_new_session=True)
"""


@pytest.mark.parametrize("level", LEVELS)
def test_a_forged_results_json_never_stands(submission, honest, tmp_path, level):
    mark, results = marker(), tmp_path / "results.json"
    sub = submission(in_softmax_naive(FORGE.replace("RESULTS", repr(str(results))), mark, WRONG))
    report = graded(sub, level, 30)
    if level == "sandbox":  # the worker never even saw the grader's files
        assert not results.exists()
    gradescope_results.write(report, results)  # the judge writes after the workers are dead
    time.sleep(0.3)
    assert json.loads(results.read_text())["score"] == report.score == honest["wrong"]
    assert_nothing_left(mark)


PATCHES = """import builtins, json, sys
import numpy
import torch
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.isclose = lambda a, b, *r, **k: torch.ones_like(a, dtype=torch.bool)
torch.testing.assert_close = lambda *a, **k: None
torch.Tensor.__eq__ = lambda self, other: True
numpy.allclose = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
builtins.abs = lambda x: 0
json.loads = lambda *a, **k: {"status": "ok", "score": 1000}
sys.modules["pytest"] = type(sys)("pytest")
sys.modules["pytest"].approx = lambda *a, **k: True
import grader.worker.wire as wire
wire.plain = lambda t: torch.zeros(0)
"""


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_monkeypatching_torch_numpy_pytest_builtins_or_the_harness_gains_nothing(
    submission, honest, level
):
    edits = at_import(PATCHES, "")
    edits["simple_attention"].append((NAIVE_BODY, WRONG))
    report = graded(submission(edits), level, 30)
    assert report.score <= honest["wrong"]


LIAR = """    class Liar(torch.Tensor):
        def __eq__(self, other):
            return True

        def allclose(self, *args, **kwargs):
            return True

        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            out = super().__torch_function__(func, types, args, kwargs or {})
            return torch.ones(3) if func is not torch.Tensor.as_subclass else out

    return torch.zeros_like(x).as_subclass(Liar)
"""


@pytest.mark.parametrize("level", LEVELS)
def test_a_lying_tensor_subclass_is_judged_by_its_values(submission, honest, level):
    report = graded(submission(in_softmax_naive(LIAR, "", "")), level, 30)
    assert report.score <= honest["wrong"]


FLOOD = """    import os, sys
    for _ in range(200):
        print("100 passed, 0 failed\\n" + "x" * 50_000)
        os.write(2, b"results: 1000/1000 " * 1000 + b"\\n")
    sys.stdout.flush()
"""


@pytest.mark.parametrize("level", LEVELS)
def test_a_stdout_flood_is_captured_capped_and_quoted(submission, honest, level):
    flood = FLOOD + "    print('100 passed, 0 failed')\n"
    report = graded(submission(in_softmax_naive(flood, "", WRONG)), level, 40)
    assert report.score == honest["wrong"]
    failed = next(r for r in report.results if not r.passed)
    assert len(failed.printed) < 3000
    assert "  | 100 passed, 0 failed" in failed.details()  # quoted, never parsed


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_an_endless_flood_times_out(submission, level):
    flood = "    while True:\n        print('x' * 10_000)\n"
    report = graded(submission(in_softmax_naive(flood, "")), level, 40, **HANG)
    assert report.score == 0
    assert TIMEOUT in {r.status for r in report.results}


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_infinite_loops_at_import_and_in_forward_are_cut_off(submission, level):
    sub = submission(at_import("while True:\n    pass\n", ""))
    report = graded(sub, level, 30, **HANG)
    assert report.score == 0 and {r.status for r in report.results} == {TIMEOUT}
    forward = "        b, num_tokens, d_in = x.shape\n        keys = self.W_key(x)"
    sub = submission(
        {"causal_attention": [(forward, "        while True:\n            pass\n" + forward)]}
    )
    start = time.monotonic()
    report = grade(sub, options(level, only="CausalAttention", **HANG))
    assert time.monotonic() - start < 60
    values = [r for r in report.results if r.counts and "values" in r.check]
    assert values and all(r.points == 0 for r in values)


EXITS = {
    "sys.exit": ("    import sys\n    sys.exit(0)\n", ERROR),
    "os._exit": ("    import os\n    os._exit(0)\n", CRASHED),
    "SIGKILL itself": (
        "    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)\n",
        CRASHED,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("how", EXITS)
def test_exits_fail_the_check_and_nothing_else(submission, level, how):
    code, status = EXITS[how]
    report = graded(submission(in_softmax_naive(code, "")), level, 40)
    assert report.score == 0
    assert {r.status for r in report.results if r.counts} <= {status, "passed"}
    assert status in {r.status for r in report.results}


CRASH_WITH_CHILD = f"""    import os, subprocess, sys, time
    subprocess.Popen({SLEEPER}, env={{}})  # no token in its environment: still in the group
    time.sleep(0.5)
    os._exit(3)
"""


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_a_crash_leaves_no_child_behind(submission, level):
    mark = marker()
    with Watch(mark) as watch:
        report = graded(submission(in_softmax_naive(CRASH_WITH_CHILD, mark)), level, 40)
    assert watch.seen and report.score == 0
    assert "exited with code 3" in report.results[0].problem
    assert_nothing_left(mark)


ESCAPE = f"""    import os, subprocess, sys, time
    subprocess.Popen({SLEEPER}, env={{}}, start_new_session=True)  # new session, no token
    time.sleep(0.3)
    os._exit(3)
"""


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_a_process_that_escapes_the_fallback_cannot_hang_the_judge(submission, level):
    # Without the sandbox, a process that leaves the session and drops its environment is
    # not found (README: what the fallback does not protect against), but grading still ends
    # on time though it holds the worker's pipes. In the sandbox, nothing survives.
    mark = marker()
    try:
        report = graded(submission(in_softmax_naive(ESCAPE, mark)), level, 40)
        assert report.score == 0
        if level == "sandbox":
            assert_nothing_left(mark)
    finally:
        for pid in processes_with(mark):
            os.kill(pid, signal.SIGKILL)


MEMORY = """    import torch
    blocks = []
    while True:  # touch 256 MiB at a time until the limit stops it
        blocks.append(torch.ones(64 << 20))
"""


@pytest.mark.parametrize("level", LEVELS)
def test_a_memory_bomb_hits_the_limit(submission, level):
    bombs = MEMORY + "    bytearray(1 << 40)\n"
    report = graded(
        submission(in_softmax_naive(bombs, "")), level, 60, limits=Limits(memory=1 << 30)
    )
    assert report.score == 0
    problems = " ".join(r.problem for r in report.results)
    assert "memory" in problems.lower() or "allocate" in problems.lower()


IGNORE_SIGNALS = """import signal as _signal
for _s in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1,
           _signal.SIGUSR2, _signal.SIGXCPU, _signal.SIGPIPE, _signal.SIGALRM):
    _signal.signal(_s, _signal.SIG_IGN)
"""
HANG_WITH_CHILD = f"""    import subprocess, sys, time
    subprocess.Popen({SLEEPER})
    while True:
        time.sleep(1)
"""


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_ignored_signals_do_not_stop_the_kill(submission, level):
    mark = marker()
    edits = at_import(IGNORE_SIGNALS, mark)
    edits["simple_attention"] += in_softmax_naive(HANG_WITH_CHILD, mark)["simple_attention"]
    report = graded(submission(edits), level, 40, **HANG)
    assert report.score == 0
    assert_nothing_left(mark)


ENVIRONMENT = """    import os
    print("ENV", sorted(os.environ))
"""


@pytest.mark.parametrize("level", LEVELS)
def test_the_grader_environment_stays_out(submission, monkeypatch, level):
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "hunter2")
    report = graded(submission(in_softmax_naive(ENVIRONMENT, "", WRONG)), level, 30)
    printed = next(r for r in report.results if not r.passed).printed
    assert "ENV" in printed and "GRADER_SECRET_TOKEN" not in printed


SNOOP = """    import os
    found = []
    for path in SECRETS:
        if os.path.exists(path):
            found.append(path)
    try:
        import solutions  # noqa: F401
        found.append("import solutions")
    except ImportError:
        pass
    for path in WRITES:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write("pwned")
        except OSError:
            pass
    print("FOUND", found)
"""


@needs_sandbox
def test_the_sandbox_hides_the_kit_and_keeps_writes_inside(submission, tmp_path):
    mark = marker()
    secrets = [
        paths.SOLUTIONS / "simple_attention.py",
        paths.FIXTURES,
        paths.KIT_ROOT / "tests",
        paths.KIT_ROOT / "pyproject.toml",
        tmp_path,
        Path("/etc/passwd"),
    ]
    assert all(path.exists() for path in secrets)  # on the grader's side, they all exist
    secrets = [str(path) for path in secrets]
    writes = [
        str(tmp_path / f"escape-{mark}"),
        str(paths.KIT_ROOT / f"escape-{mark}"),
        f"/tmp/escape-{mark}",
        str(paths.KIT_ROOT / "grader" / f"escape-{mark}"),
    ]
    attack = SNOOP.replace("SECRETS", repr(secrets)).replace("WRITES", repr(writes))
    report = graded(submission(in_softmax_naive(attack, mark, WRONG)), "sandbox", 30)
    printed = next(r for r in report.results if not r.passed).printed
    assert "FOUND []" in printed
    assert not any(Path(path).exists() for path in writes)


CONNECT = """    import socket
    for address in [("127.0.0.1", PORT), ("1.1.1.1", 80)]:
        try:
            socket.create_connection(address, timeout=2).sendall(b"leak")
            print("CONNECTED", address)
        except OSError as e:
            print("REFUSED", address, e)
"""


@needs_sandbox
def test_the_sandbox_has_no_network(submission):
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted = []

    def serve():
        while not stop.is_set():
            with contextlib.suppress(OSError):  # a timeout: look at `stop` again
                accepted.append(server.accept())

    stop = threading.Event()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        attack = CONNECT.replace("PORT", str(server.getsockname()[1]))
        report = graded(submission(in_softmax_naive(attack, "", WRONG)), "sandbox", 40)
    finally:
        stop.set()
        thread.join()
        server.close()
    printed = next(r for r in report.results if not r.passed).printed
    assert "CONNECTED" not in printed and "REFUSED" in printed
    assert accepted == []


FORK_MANY = """    import os
    started = 0
    for _ in range(300):
        try:
            if os.fork() == 0:
                os.execv("/bin/sh", ["sh", "-c", "sleep 60; : MARKER"])
            started += 1
        except OSError:
            break
    print("STARTED", started)
"""


@needs_sandbox
def test_the_sandbox_caps_the_number_of_processes(submission):
    mark = marker()
    report = graded(
        submission(in_softmax_naive(FORK_MANY, mark, WRONG)),
        "sandbox",
        40,
        limits=Limits(processes=32),
    )
    printed = next(r for r in report.results if not r.passed).printed
    started = int(printed.split("STARTED")[1].split()[0])
    assert 0 < started < 32
    assert_nothing_left(mark)


SEED_HUNT = """    import os
    seen = []
    for pid in ("self", str(os.getppid()), "1"):
        for name in ("cmdline", "environ"):
            try:
                seen.append(open(f"/proc/{pid}/{name}", "rb").read().decode(errors="replace"))
            except OSError:
                pass
    print("SEED", "FOUND" if "1234567891" in " ".join(seen) else "ABSENT", len(seen))
"""


@pytest.mark.parametrize("level", LEVELS)
def test_the_hidden_seed_never_reaches_the_worker(submission, level):
    sub = submission(in_softmax_naive(SEED_HUNT, "", WRONG))
    hidden = Options(only=EXERCISE, hidden=True, seed=1234567891, timeout=3, sandbox_mode=level)
    report = grade(sub, hidden)
    printed = next(r for r in report.results if not r.passed).printed
    assert "SEED ABSENT" in printed
    assert any(r.hidden for r in report.results)
