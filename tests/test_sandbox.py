"""The worker's isolation: which level is chosen, what the sandbox holds, the limits, and
that killing a worker kills everything it started. (Attacks: test_hostile.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
from hostile import SLEEPER, assert_nothing_left, marker

from grader import paths
from grader.cli import main
from grader.judge.engine import Options, grade
from grader.worker import procs, sandbox, spawn
from grader.worker.launch import Worker
from grader.worker.sandbox import Limits
from grader.worker.spawn import SANDBOXED_SUBMISSION, worker_env

NO_BWRAP = sandbox.bubblewrap_problem()
needs_sandbox = pytest.mark.skipif(bool(NO_BWRAP), reason=f"no sandbox here: {NO_BWRAP}")
LEVELS = [pytest.param("sandbox", marks=needs_sandbox), "subprocess"]


def run_confined(level: str, code: str, tmp_path, limits: Limits | None = None) -> dict:
    """Run `code` (which prints one JSON line) as a worker would run, at `level`."""
    limits = limits or Limits()
    if level == "sandbox":
        (tmp_path / "sub").mkdir(exist_ok=True)
        prefix = sandbox.sandbox_prefix(str(tmp_path / "sub"), 1, limits)
    else:
        prefix = sandbox.confine_command(limits, None)
    done = subprocess.run(
        [*prefix, sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=worker_env(str(tmp_path), 1),
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("level", [pytest.param("sandbox", marks=needs_sandbox), "subprocess"])
def test_a_worker_knows_its_user_name_without_a_passwd_entry(level, tmp_path):
    # torch asks for it (getpass.getuser()) in places; the sandbox's uid 65534 has no entry
    code = "import getpass, json; print(json.dumps(getpass.getuser()))"
    assert run_confined(level, code, tmp_path) == spawn.WORKER_USER


def test_the_choice_of_level():
    assert sandbox.choose("subprocess") == "subprocess"
    with pytest.raises(sandbox.SandboxError, match="unknown isolation"):
        sandbox.choose("chroot")
    expected = "subprocess" if NO_BWRAP else "bubblewrap"
    assert sandbox.choose("auto") == expected


def test_without_bubblewrap_auto_falls_back_and_sandbox_refuses(monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "bubblewrap_problem", lambda: "bwrap is not installed")
    assert sandbox.choose("auto") == "subprocess"
    with pytest.raises(sandbox.SandboxError, match="bwrap is not installed"):
        sandbox.choose("sandbox")
    assert main([str(paths.SOLUTIONS), "-q", "--isolation", "sandbox"]) == 2
    assert "bwrap is not installed" in capsys.readouterr().err
    label = sandbox.label("subprocess", Limits(), "auto")
    assert label.startswith("subprocess (no sandbox: bwrap is not installed;")


def test_bubblewrap_missing_is_detected(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    assert sandbox.bubblewrap_problem.__wrapped__() in (
        "bwrap is not installed",
        f"not available on {sys.platform}",
    )


@pytest.mark.parametrize("level", LEVELS)
def test_every_report_names_its_isolation_level(level, tmp_path):
    report = grade(paths.EXERCISES, Options(only="softmax_naive", hidden=False, sandbox_mode=level))
    assert report.isolation.startswith("bubblewrap (" if level == "sandbox" else "subprocess (")
    assert "memory 4 GiB" in report.isolation
    from grader.report import gradescope_results

    assert report.isolation in gradescope_results.results_json(report)["output"]


@needs_sandbox
def test_the_sandbox_holds_only_what_python_needs(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "simple_attention.py").write_text("x = 1\n")
    probe = f"""
import json, os, socket
def writable(path):
    try:
        open(os.path.join(path, "w"), "w").close()
        return True
    except OSError:
        return False
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2)
    net = "connected"
except OSError as e:
    net = str(e)
print(json.dumps({{
    "uid": os.getuid(), "gid": os.getgid(), "root": sorted(os.listdir("/")),
    "kit": sorted(os.listdir({str(paths.KIT_ROOT)!r})),
    "submission": sorted(os.listdir({SANDBOXED_SUBMISSION!r})),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "env": sorted(os.environ), "net": net, "cwd": os.getcwd(),
    "writable": [p for p in ("/tmp", "/usr", {SANDBOXED_SUBMISSION!r}, {str(paths.KIT_ROOT)!r})
                 if writable(p)],
    "status": open("/proc/self/status").read(),
}}))
"""
    seen = run_confined("sandbox", probe, tmp_path)
    assert seen["uid"] == seen["gid"] == 65534
    assert "CapEff:\t0000000000000000" in seen["status"]
    assert set(seen["root"]) <= {
        "usr",
        "bin",
        "sbin",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "etc",
        "proc",
        "dev",
        "tmp",
        "submission",
        *paths.KIT_ROOT.parts[1:2],
        *[p.parts[1] for p in sandbox.python_roots()],
    }
    assert seen["kit"] == ["grader"]  # no solutions/, fixtures/, tests/, .git
    assert seen["submission"] == ["simple_attention.py"]
    assert len(seen["pids"]) <= 3  # bwrap's init, confine's exec'd python (and nothing else)
    assert "unreachable" in seen["net"] or "Network" in seen["net"]
    assert set(seen["env"]) <= set(worker_env("/tmp", 1)) | {"PWD", "LC_CTYPE"}
    assert seen["writable"] == ["/tmp"]
    assert seen["cwd"] == "/tmp"


LIMITS = """
import json, resource
names = ["RLIMIT_DATA", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC",
         "RLIMIT_CORE"]
try:
    bytearray(2 << 30)
    memory = "allocated"
except MemoryError:
    memory = "refused"
print(json.dumps({"limits": {n: resource.getrlimit(getattr(resource, n))[0] for n in names},
                  "memory": memory}))
"""


@pytest.mark.parametrize("level", LEVELS)
def test_limits_are_set_before_the_worker_runs(level, tmp_path):
    limits = Limits(memory=1 << 30, cpu_seconds=100, file_size=1 << 20, open_files=64, processes=50)
    seen = run_confined(level, LIMITS, tmp_path, limits)
    nproc = seen["limits"].pop("RLIMIT_NPROC")
    assert seen["limits"] == {
        "RLIMIT_DATA": 1 << 30,
        "RLIMIT_CPU": 100,
        "RLIMIT_FSIZE": 1 << 20,
        "RLIMIT_NOFILE": 64,
        "RLIMIT_CORE": 0,
    }
    assert seen["memory"] == "refused"
    # A process limit only in the sandbox, where the kernel counts that sandbox alone.
    assert (nproc == 50) == (level == "sandbox")


def test_gpu_devices_are_bound_one_by_one(monkeypatch):
    # No GPU on the CI machine: this checks the command line only, not CUDA in the sandbox.
    monkeypatch.setattr(sandbox, "gpu_devices", lambda: ["/dev/nvidia0", "/dev/nvidiactl"])
    command = sandbox.bwrap_command(None, 1)
    assert "--dev-bind /dev/nvidia0 /dev/nvidia0" in " ".join(command)
    assert "--dev-bind /dev/nvidiactl /dev/nvidiactl" in " ".join(command)
    assert "GPU devices" in sandbox.label("bubblewrap", Limits())


def test_the_gpu_drivers_library_folder_reaches_the_worker(monkeypatch, tmp_path):
    # Images that mount the driver outside /usr (/usr/local/nvidia/lib64 is inside) and find
    # it through LD_LIBRARY_PATH: the worker's environment names it, the sandbox binds it, and
    # folders of the variable without driver libraries are left out.
    driver, other = tmp_path / "nvidia" / "lib64", tmp_path / "other"
    driver.mkdir(parents=True)
    other.mkdir()
    (driver / "libcuda.so.1").write_bytes(b"")
    monkeypatch.setenv("LD_LIBRARY_PATH", f"{other}:relative:{driver}")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.setattr(spawn, "has_gpu_nodes", lambda: True)
    env = spawn.worker_env("/tmp", 1)
    assert env["LD_LIBRARY_PATH"] == str(driver) and env["CUDA_VISIBLE_DEVICES"] == "0"
    command = " ".join(sandbox.bwrap_command(None, 1))
    assert f"--ro-bind {driver} {driver}" in command and str(other) not in command
    monkeypatch.setattr(spawn, "has_gpu_nodes", lambda: False)  # no GPU: nothing passed on
    assert "LD_LIBRARY_PATH" not in spawn.worker_env("/tmp", 1)


def test_the_sandbox_never_binds_a_folder_holding_the_solutions(monkeypatch):
    monkeypatch.setattr(sandbox, "python_roots", lambda: [paths.KIT_ROOT])
    with pytest.raises(sandbox.SandboxError, match="would expose the solutions"):
        sandbox.bwrap_command(None, 1)


SPAWN = f"""
import os, subprocess, sys, time
argv = {SLEEPER}
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, argv)
    os._exit(0)
subprocess.Popen(argv, start_new_session=True)
subprocess.Popen(argv)
print("ready", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("level", LEVELS)
def test_killing_a_worker_kills_all_it_started(level, tmp_path):
    mark = marker()
    if level == "sandbox":
        (tmp_path / "sub").mkdir()
        prefix = sandbox.sandbox_prefix(str(tmp_path / "sub"), 1, Limits())
    else:
        prefix = sandbox.confine_command(Limits(), None)
    token = "0123456789abcdef"
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-I", "-c", SPAWN.replace("MARKER", mark)],
        stdout=subprocess.PIPE,
        cwd=tmp_path,
        env={**worker_env(str(tmp_path), 1), procs.TOKEN_VARIABLE: token},
        start_new_session=True,
    )
    assert proc.stdout.readline() == b"ready\n"
    start = time.monotonic()
    procs.kill_worker(proc, token)
    assert time.monotonic() - start < 5
    proc.stdout.close()
    assert_nothing_left(mark)


def test_a_worker_closes_cleanly_and_leaves_nothing(tmp_path):
    folder = tmp_path / "exercises"
    shutil.copytree(paths.EXERCISES, folder)
    worker = Worker(folder, wrap=sandbox.configure(Options()).wrap)
    assert worker.start()
    assert worker.import_module("simple_attention", 30).ok
    worker.close()
    assert not worker.alive
    assert_nothing_left(marker())
