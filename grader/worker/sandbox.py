"""Where a worker runs: in a bubblewrap sandbox when this machine allows one, else a confined
subprocess. Every report names the level that graded it.

    bubblewrap   (Linux with `bwrap` and namespaces; chosen automatically when it works)
        - a mount namespace holding only /usr (and the /bin, /lib... links), the Python
          installation(s) and site-packages that hold torch, numpy and safetensors, the kit's
          `grader/` package and the submission's private copy, all read-only; a fresh /tmp
          (the worker's HOME and working folder), /proc and a minimal /dev. Not the checkout,
          so no solutions/, fixtures/ or tests/; no home folders, no /etc;
        - its own PID namespace (killing the sandbox kills every process in it), and its own
          network (only a loopback: no connection leaves), IPC and UTS namespaces;
        - uid and gid 65534 ("nobody") with no capabilities and a cleared environment;
        - limits (`Limits`) set by `confine.py` before any learner code runs.
    subprocess   (the fallback: macOS, Windows, containers without namespaces, or asked for)
        - the same cleared environment, limits, private working folder and per-call deadlines;
        - its own session and process group, killed as a whole, and a sweep that kills any
          process still carrying the worker's token (see `procs.py`).
        It does NOT hide files (learner code can read anything the grader's user can read,
        solutions/ included), cut the network, or change the user; a process that leaves the
        session and replaces its environment can outlive grading. Grade untrusted code with
        bubblewrap.

GPU: where /dev/nvidia* exist, the sandbox also gets /dev/nvidiactl, /dev/nvidia-uvm,
/dev/nvidia-uvm-tools and /dev/nvidia0..N (device binds, nothing else of /dev), so speed
checks can run sandboxed. This could not be tested on the kit's CI machine (no GPU there).
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from grader import paths
from grader.worker import confine
from grader.worker.launch import KIT_PARENT, SANDBOXED_SUBMISSION, SUBMISSION, worker_env

CHOICES = ("auto", "sandbox", "subprocess")
SANDBOX_UID = 65534  # "nobody"
SANDBOX_HOME = "/tmp"
# Untested (no GPU on the CI machine); MIG setups would also need /dev/nvidia-caps.
GPU_DEVICES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia[0-9]*")
SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")  # /usr-merged links or dirs
PROBE_TIMEOUT = 60.0


class SandboxError(Exception):
    """The requested isolation cannot be had on this machine."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process (rlimits; children inherit them)."""

    memory: int = 4 << 30  # bytes of heap and anonymous memory (RLIMIT_DATA; not RLIMIT_AS,
    #                        which torch's address-space reservations exceed at import)
    cpu_seconds: int = 600  # CPU time over the worker's life: a backstop to the deadlines
    file_size: int = 64 << 20  # largest file it may write
    open_files: int = 512
    processes: int = 256  # processes and threads, per sandbox (none without a sandbox)

    def rlimits(self) -> dict[str, int]:
        return {
            "RLIMIT_DATA": self.memory,
            "RLIMIT_CPU": self.cpu_seconds,
            "RLIMIT_FSIZE": self.file_size,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_NPROC": self.processes,
            "RLIMIT_CORE": 0,
        }

    def describe(self, processes: bool = True) -> str:
        return (
            f"memory {_size(self.memory)}, CPU {self.cpu_seconds} s, "
            f"files {_size(self.file_size)}, {self.open_files} open files, "
            + (f"{self.processes} processes" if processes else "no process limit")
        )


def _size(n: int) -> str:
    return f"{n >> 30} GiB" if n >= 1 << 30 and n % (1 << 30) == 0 else f"{n >> 20} MiB"


# -- what the sandbox holds -----------------------------------------------------------------


def python_roots() -> list[Path]:
    """The Python installation(s) and the site-packages folders the worker imports from."""
    roots = {Path(sys.base_prefix), Path(sys.prefix)}
    for name in ("torch", "numpy", "safetensors"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            roots.add(Path(spec.origin).parent.parent)
    roots = {r.resolve() for r in roots}
    outside_usr = {r for r in roots if not r.is_relative_to("/usr")}
    return sorted(r for r in outside_usr if not any(r != o and r.is_relative_to(o) for o in roots))


def gpu_devices() -> list[str]:
    return sorted({d for pattern in GPU_DEVICES for d in glob.glob(pattern)})


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in SYSTEM_LINKS:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args + ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]


def bwrap_command(submission: str | None, threads: int) -> list[str]:
    """The bwrap command line up to and including `--`; the `submission` folder (or the
    placeholder `launch.SUBMISSION`) appears inside at `launch.SANDBOXED_SUBMISSION`.

    As root, bwrap sets the namespaces up itself and keeps only the capabilities to change
    user, which confine.py uses at once to become uid 65534 for real (then in a user
    namespace of its own, so the process limit counts this sandbox alone). Otherwise bwrap
    makes the user namespace, with uid 65534 inside standing for the grader's uid outside.
    """
    kit = KIT_PARENT / "grader"
    readable = [*python_roots(), kit]
    exposed = [r for r in readable if paths.SOLUTIONS.resolve().is_relative_to(r)]
    if exposed:
        raise SandboxError(f"binding {exposed[0]} would expose the solutions")
    args = ["bwrap", "--die-with-parent", "--new-session", "--clearenv"]
    args += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try"]
    if os.geteuid() == 0:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    for name, value in worker_env(SANDBOX_HOME, threads).items():
        args += ["--setenv", name, value]
    args += _system_binds()
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", SANDBOX_HOME]
    for device in gpu_devices():
        args += ["--dev-bind", device, device]
    # After the /tmp tmpfs, or it would hide binds below /tmp (the submission's copy is there).
    for folder in _folders_above(readable):
        args += ["--perms", "0755", "--dir", str(folder)]  # bwrap would make them 0700
    for path in readable:
        args += ["--ro-bind", str(path), str(path)]
    if submission:
        args += ["--ro-bind", str(submission), SANDBOXED_SUBMISSION]
    return args + ["--chdir", SANDBOX_HOME, "--"]


def _folders_above(binds: list[Path]) -> list[Path]:
    """The folders the sandbox needs to reach `binds`, outermost first, minus those that
    /usr, /tmp or another bind already provide."""
    provided = [Path("/usr"), *binds]
    above = {a for b in binds for a in b.parents if a not in (Path("/"), Path(SANDBOX_HOME))}
    return sorted(
        (a for a in above if not any(a.is_relative_to(p) for p in provided)),
        key=lambda a: len(a.parts),
    )


def confine_command(limits: Limits, user: int | None) -> list[str]:
    """confine.py's command line. Outside a sandbox (`user` None) it sets no process limit:
    without a user namespace of its own, RLIMIT_NPROC would count every process of the
    grader's user (and, for root, nothing)."""
    rlimits = limits.rlimits()
    if user is None:
        del rlimits["RLIMIT_NPROC"]
    spec: dict = {"limits": rlimits}
    if user is not None:
        spec["user"] = user
    return [sys.executable, "-I", "-S", confine.__file__, json.dumps(spec, separators=(",", ":"))]


def sandbox_prefix(submission: str | None, threads: int, limits: Limits) -> list[str]:
    return bwrap_command(submission, threads) + confine_command(limits, SANDBOX_UID)


# -- choosing -------------------------------------------------------------------------------


@functools.cache
def bubblewrap_problem() -> str:
    """Why bubblewrap cannot sandbox workers here; "" when it can. Found once per process by
    running a small sandbox that must come up as uid 65534 and import from site-packages."""
    if not sys.platform.startswith("linux"):
        return f"not available on {sys.platform}"
    if shutil.which("bwrap") is None:
        return "bwrap is not installed"
    check = "import os, safetensors; print(os.getuid())"
    try:
        command = sandbox_prefix(None, 1, Limits()) + [sys.executable, "-I", "-c", check]
        done = subprocess.run(
            command, capture_output=True, timeout=PROBE_TIMEOUT, cwd="/", env=worker_env("/", 1)
        )
    except (OSError, subprocess.SubprocessError, SandboxError) as e:
        return f"bwrap failed: {e}"
    if done.returncode != 0 or done.stdout.strip() != str(SANDBOX_UID).encode():
        lines = done.stderr.decode(errors="replace").strip().splitlines() or ["no output"]
        return f"bwrap failed: {lines[-1]}"
    return ""


def choose(choice: str = "auto") -> str:
    """ "bubblewrap" or "subprocess" for an `--isolation` choice (auto, sandbox, subprocess)."""
    if choice not in CHOICES:
        raise SandboxError(f"unknown isolation {choice!r}: choose from {', '.join(CHOICES)}")
    if choice == "subprocess":
        return "subprocess"
    problem = bubblewrap_problem()
    if not problem:
        return "bubblewrap"
    if choice == "sandbox":
        raise SandboxError(f"cannot sandbox the worker: {problem}")
    return "subprocess"


def label(level: str, limits: Limits, choice: str = "auto") -> str:
    """The isolation line every report carries."""
    if level == "bubblewrap":
        gpu = ", GPU devices" if gpu_devices() else ""
        return (
            f"bubblewrap (private read-only filesystem, no network, own PID namespace, "
            f"uid {SANDBOX_UID}{gpu}; limits: {limits.describe()})"
        )
    why = "as asked" if choice == "subprocess" else bubblewrap_problem() or "as asked"
    if sys.platform == "win32":
        return f"subprocess (no sandbox: {why}; no limits; the worker sees the grader's files)"
    return (
        f"subprocess (no sandbox: {why}; the worker sees the grader's files and network as "
        f"uid {os.getuid()}; limits: {limits.describe(processes=False)}; whole process tree "
        "killed)"
    )


def configure(options):
    """A copy of the engine's `options` whose `wrap` runs every worker at the isolation level
    `options.sandbox_mode` asks for, and whose `isolation` names it for the reports."""
    level = choose(options.sandbox_mode)
    if level == "bubblewrap":
        prefix = sandbox_prefix(SUBMISSION, options.threads, options.limits)
    elif sys.platform == "win32":
        prefix = []
    else:
        prefix = confine_command(options.limits, None)
    return dataclasses.replace(
        options,
        wrap=[*options.wrap, *prefix],
        isolation=label(level, options.limits, options.sandbox_mode),
    )
