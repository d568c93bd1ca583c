"""Limits that hold for everything a worker can allocate, and the time budget of a grading.

Each hostile submission is graded at both isolation levels (the fallback as root, where the
worker runs as a user of its own: `own_user`) and, for memory and files, under each memory
bound this machine has (`memory_by`: a cgroup per worker, or rlimits and the judge's
watchdog alone, as in a container whose /sys/fs/cgroup is read-only). Each test asserts a
bounded time, no more points than the attack's honest part, a written results.json and
nothing left behind: no process, no file in the shared folders, no cgroup.
"""

from __future__ import annotations

import ast
import json
import shutil
import time

import pytest
from hostile import assert_nothing_left, in_softmax_naive, marker
from hostile.confinement import ROOT_ONLY, Uids, assert_left_nothing, memory_by, own_user

from grader import paths
from grader.cli import grade_parser, main, options_from
from grader.judge.engine import DEFAULT_BUDGET, Options, grade
from grader.report import gradescope_results
from grader.report.results import TIMEOUT
from grader.worker import cgroup, sandbox
from grader.worker.sandbox import Limits

__all__ = ["memory_by", "own_user"]  # fixtures

NO_BWRAP = sandbox.bubblewrap_problem()
SANDBOX = pytest.param(
    "sandbox", marks=pytest.mark.skipif(bool(NO_BWRAP), reason=f"no sandbox: {NO_BWRAP}")
)
LEVELS = [SANDBOX, pytest.param("subprocess", marks=ROOT_ONLY)]
EXERCISE = "softmax_naive"
WRONG = "    return x\n"  # the honest part of the attacks
SMALL = Limits(
    memory=1 << 30, tmp_size=128 << 20, file_size=32 << 20, disk=256 << 20, disk_files=2000
)


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    """Points of the attacks' honest part alone (`return x`)."""
    from conftest import copy_solutions

    sub = copy_solutions(tmp_path_factory.mktemp("honest") / "sub", in_softmax_naive("", "", WRONG))
    return grade(sub, Options(only=EXERCISE, hidden=False, sandbox_mode="subprocess")).score


@pytest.fixture
def at(request, monkeypatch):
    """at(level): the level, with the fallback's own user where the level is the fallback;
    returns the uids its workers were given."""

    def enter(level: str) -> list[int]:
        if level == "subprocess":
            request.getfixturevalue("own_user")
        return Uids(monkeypatch).seen

    return enter


def graded(sub, level, seconds, tmp_path, limits=SMALL, **kw):
    """Grade `sub` in at most `seconds`; write its results.json and return both."""
    options = dict(only=EXERCISE, hidden=False, timeout=10, import_timeout=10, limits=limits)
    start = time.monotonic()
    report = grade(sub, Options(**{**options, **kw, "sandbox_mode": level}))
    assert time.monotonic() - start < seconds, "grading took too long"
    if level == "subprocess":
        assert "a user of its own" in report.isolation
    path = tmp_path / "results.json"
    gradescope_results.write(report, path)
    results = json.loads(path.read_text())
    assert results["score"] == report.score and len(results["tests"]) > 0
    return report


def printed(report) -> str:
    return "\n".join(r.printed for r in report.results)


def problems(report) -> str:
    return "\n".join(r.problem for r in report.results if not r.passed)


SHARED_MAP = """    import mmap
    m, chunk = mmap.mmap(-1, 6 << 30), b"x" * (1 << 20)  # shared: not in RLIMIT_DATA
    for i in range(0, len(m), len(chunk)):
        m[i : i + len(chunk)] = chunk
    print("HELD", len(m) >> 30, "GiB")
"""


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_a_shared_mapping_cannot_hold_more_than_the_memory_limit(
    submission, honest, tmp_path, at, level, memory_by
):
    mark, uids = marker(), at(level)
    report = graded(submission(in_softmax_naive(SHARED_MAP, mark, WRONG)), level, 60, tmp_path)
    assert report.score <= honest
    assert "HELD" not in printed(report)
    assert "memory" in problems(report).lower()  # out of memory, or "Cannot allocate memory"
    assert_nothing_left(mark)
    assert_left_nothing(mark, uids)


MANY_PROCESSES = """    import subprocess, sys, time
    code = ("import mmap, time\\nm, chunk = mmap.mmap(-1, 400 << 20), b'x' * (1 << 20)\\n"
            "for i in range(0, len(m), len(chunk)): m[i : i + len(chunk)] = chunk\\n"
            "print('held', flush=True)\\ntime.sleep(60)")
    children = [subprocess.Popen([sys.executable, "-c", code, "MARKER"], stdout=subprocess.PIPE)
                for _ in range(5)]
    held = sum(child.stdout.readline() == b"held\\n" for child in children)
    print("HOLDING", held * 400, "MiB")
    time.sleep(60)
"""


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_processes_that_each_stay_under_the_limits_are_bounded_together(
    submission, honest, tmp_path, at, level, memory_by
):
    # 5 processes of 400 MiB each: every one under its own rlimits, 2 GiB together.
    mark, uids = marker(), at(level)
    sub = submission(in_softmax_naive(MANY_PROCESSES, mark, WRONG))
    report = graded(sub, level, 60, tmp_path, timeout=10)
    assert report.score <= honest
    if memory_by == "cgroup":
        assert "HOLDING 2000 MiB" not in printed(report)  # the kernel bounds them at once
    else:
        # the watchdog looks twice a second: on a fast machine (16 cores, no RLIMIT_AS with a
        # GPU) all five filled their 400 MiB between two looks, and are stopped at the next
        assert "over the limit of 1.0 GiB" in problems(report)  # the watchdog's words
    assert_nothing_left(mark)
    assert_left_nothing(mark, uids)


FILL = """    import os
    written = 0
    for i, folder in enumerate(("/dev/shm", os.getcwd(), "/tmp", "/var/tmp")):
        for n in range(48):
            try:
                with open(os.path.join(folder, f"fill-MARKER-{i}-{n}"), "xb") as f:
                    for _ in range(6):
                        f.write(b"x" * (4 << 20))  # 24 MiB a file: under the file size limit
            except OSError:
                break
            written += 24
    print("WROTE", written, "MiB")
"""


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_files_in_tmpfs_and_the_shared_folders_are_bounded(
    submission, honest, tmp_path, at, level, memory_by
):
    # 1.1 GiB in each of /dev/shm (RAM), the worker's home, /tmp and /var/tmp, in files under
    # the file size limit.
    mark, uids = marker(), at(level)
    report = graded(submission(in_softmax_naive(FILL, mark, WRONG)), level, 60, tmp_path)
    assert report.score <= honest
    wrote = [int(line.split()[1]) for line in printed(report).splitlines() if "WROTE" in line]
    if level == "sandbox":  # /tmp is the only writable place: a tmpfs of 128 MiB
        assert wrote and max(wrote) <= 128
    else:  # stopped by the watchdog (files) or the cgroup (tmpfs pages are memory)
        assert not wrote
        assert "the limit of 256 MiB" in problems(report) or "memory" in problems(report)
    assert_nothing_left(mark)
    assert_left_nothing(mark, uids)


BIG_FILE = """    import os
    try:
        with open("big-MARKER", "wb") as f:
            for _ in range(64):
                f.write(b"x" * (4 << 20))  # 256 MiB in one file
        print("BIG written")
    except OSError as e:
        print("BIG refused:", e.strerror, os.path.getsize("big-MARKER") >> 20, "MiB")
"""


@pytest.mark.parametrize("level", LEVELS)
def test_a_big_file_stops_at_the_file_size_limit(submission, honest, tmp_path, at, level):
    mark, uids = marker(), at(level)
    report = graded(submission(in_softmax_naive(BIG_FILE, mark, WRONG)), level, 60, tmp_path)
    assert report.score == honest  # the honest part still runs
    assert "BIG refused: File too large 32 MiB" in printed(report)
    assert_nothing_left(mark)
    assert_left_nothing(mark, uids)


PRIVATE_TMPFS = """    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER: a namespace where it is root
        print("NO USER NAMESPACE:", os.strerror(ctypes.get_errno()))
    else:
        uid = os.getuid()
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1")):
            open(f"/proc/self/{name}", "w").write(text)
        os.makedirs("mnt-MARKER", exist_ok=True)
        libc.unshare(0x20000)  # CLONE_NEWNS
        print("MOUNT", libc.mount(b"tmpfs", b"mnt-MARKER", b"tmpfs", 0, b"size=100g"))
"""


@pytest.mark.parametrize("level", LEVELS)
def test_no_tmpfs_of_its_own_can_be_mounted(submission, honest, tmp_path, at, level):
    # A user namespace of its own would let the worker mount a tmpfs that no limit counts.
    mark, uids = marker(), at(level)
    report = graded(submission(in_softmax_naive(PRIVATE_TMPFS, mark, WRONG)), level, 60, tmp_path)
    assert report.score == honest
    assert "NO USER NAMESPACE" in printed(report) and "MOUNT" not in printed(report)
    assert_nothing_left(mark)
    assert_left_nothing(mark, uids)


# -- the time budget ---------------------------------------------------------------------


def slowed(dest, seconds: float):
    """The solutions, each function and method of which first sleeps `seconds`."""
    shutil.copytree(paths.SOLUTIONS, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for module in paths.MODULES:
        path = dest / f"{module}.py"
        lines = path.read_text().splitlines(keepends=True)
        functions = [
            n for n in ast.walk(ast.parse("".join(lines))) if isinstance(n, ast.FunctionDef)
        ]
        for node in sorted(functions, key=lambda n: -n.body[0].lineno):
            first = node.body[0]
            indent = " " * first.col_offset
            lines.insert(first.lineno - 1, f"{indent}__import__('time').sleep({seconds})\n")
        path.write_text("".join(lines))
    return dest


@pytest.mark.slow
@pytest.mark.parametrize("level", [SANDBOX, "subprocess"])
def test_calls_just_under_the_deadline_end_within_the_budget(tmp_path, level):
    # Every call takes 1.5 s, under its 3 s deadline: without a budget, about 4 minutes.
    sub, out, budget = slowed(tmp_path / "slow", 1.5), tmp_path / "results.json", 12
    args = [str(sub), "--json", str(out), "--budget", str(budget), "--timeout", "3", "-q"]
    start = time.monotonic()
    assert main([*args, "--no-hidden", "--isolation", level]) == 1
    assert time.monotonic() - start < budget + 15
    results = json.loads(out.read_text())
    spent = [t for t in results["tests"] if "time budget of 12 s" in t["output"]]
    assert len(spent) > len(results["tests"]) / 2  # most checks were never run
    assert all(t["score"] == 0 for t in spent)
    assert 0 < results["score"] < sum(t["max_score"] for t in results["tests"])
    assert_nothing_left(marker())


@pytest.mark.slow
def test_the_budget_cuts_a_call_short_and_says_so(submission):
    sub = submission(in_softmax_naive("    __import__('time').sleep(30)\n", ""))
    start = time.monotonic()
    report = grade(sub, Options(only=EXERCISE, hidden=False, timeout=20, budget=4))
    assert time.monotonic() - start < 4 + 10
    assert {r.status for r in report.results if r.counts} == {TIMEOUT}
    assert "ran out during this call" in report.results[0].problem
    assert "was spent before this check" in report.results[-1].problem


def test_the_budget_option_and_flag():
    assert Options().budget == DEFAULT_BUDGET == 600
    assert options_from(grade_parser().parse_args(["x", "--budget", "30"])).budget == 30
    assert options_from(grade_parser().parse_args(["x", "--budget", "0"])).budget is None
    assert options_from(grade_parser().parse_args(["x"])).budget == DEFAULT_BUDGET


def test_the_limits_of_each_process():
    limits = Limits(memory=2 << 30).rlimits()
    assert limits["RLIMIT_DATA"] == 2 << 30
    assert limits["RLIMIT_AS"] == (2 << 30) + sandbox.torch_reserve()
    assert sandbox.torch_reserve() in (1 << 30, 4 << 30)


def test_no_address_space_limit_with_a_gpu(monkeypatch):
    # CUDA reserves address space in proportion to the device's memory (untested here).
    monkeypatch.setattr(sandbox, "gpu_devices", lambda: ["/dev/nvidia0"])
    assert "RLIMIT_AS" not in Limits().rlimits()
    assert "no address-space limit" in Limits().describe()


def test_a_worker_cgroup_gets_the_memory_limit_and_no_swap(tmp_path):
    # On a stand-in for each cgroup version (this machine has cgroup v1's memory hierarchy).
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cgroup.subtree_control").write_text("cpu io\n")
    group = cgroup._make(cgroup.Parent(v2, 2), 1 << 30, "w")
    assert (v2 / "cgroup.subtree_control").read_text() == "+memory"
    assert (group / "memory.max").read_text() == str(1 << 30)
    (group / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert cgroup.out_of_memory(group)
    v1 = tmp_path / "v1"
    v1.mkdir()
    group = cgroup._make(cgroup.Parent(v1, 1), 1 << 30, "w")
    assert (group / "memory.limit_in_bytes").read_text() == str(1 << 30)
    (group / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    assert not cgroup.out_of_memory(group)


@pytest.mark.skipif(cgroup.parent() is None, reason="cannot make memory cgroups here")
def test_a_dead_judges_cgroups_are_swept_by_the_next_one():
    """A judge killed before it could clean up (a batch's judge process, say) leaves worker
    cgroups behind; the next cgroup made anywhere removes them."""
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    stale = cgroup.parent().path / f"{cgroup.PREFIX}{int(gone.stdout)}-deadbeef"
    stale.mkdir()
    try:
        fresh = cgroup.create(64 << 20)
        cgroup.remove(fresh)
        assert not stale.exists(), "the dead judge's cgroup was left behind"
    finally:
        cgroup.remove(stale)
