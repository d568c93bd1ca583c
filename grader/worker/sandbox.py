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
        - uid and gid 65534 ("nobody") with no capabilities and a cleared environment, and
          no user namespace of its own to make (so no tmpfs of its own to mount);
        - limits (`Limits`) set by `confine.py` before any learner code runs; /tmp is a tmpfs
          of bounded size, and everything else it sees is read-only.
    subprocess   (the fallback: macOS, Windows, containers without namespaces, or asked for)
        - the same cleared environment, limits, private working folder and per-call deadlines;
        - its own session and process group, killed as a whole, and a sweep that kills any
          process still carrying the worker's token (see `procs.py`);
        - when the judge runs as root (Gradescope's containers): a user of its own, with no
          groups (`users.py`), for whom the kit's solutions/, tests/, fixtures/ and .git are
          closed (`secrecy.py`), killed and cleaned up by uid, its files watched
          (`watchdog.py`). Where another user cannot run the grader's Python at all (one
          installed under /root, say), it stays root, and the report says so.
        It does NOT hide the machine's other readable files or cut the network, and as the
        grader's own user (not root) it can read and write what the grader can, solutions/
        included, and a process that leaves the session and replaces its environment can
        outlive grading. Grade untrusted code with bubblewrap.

Memory: each worker gets a memory cgroup where the judge can make one (`cgroup.py`: all its
processes together, shared memory and tmpfs files included); everywhere, rlimits bound each
process (RLIMIT_DATA for the heap, RLIMIT_AS for every mapping, shared ones included), and
without a cgroup the judge's watchdog adds up its processes' memory.

GPU: where /dev/nvidia* exist, the sandbox also gets /dev/nvidiactl, /dev/nvidia-uvm,
/dev/nvidia-uvm-tools and /dev/nvidia0..N (device binds, nothing else of /dev), and, read-only,
the driver's library folders that LD_LIBRARY_PATH names (`spawn.gpu_library_dirs`), so speed
checks run sandboxed (README, "GPU": measured on an H200).
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
from grader.errors import SandboxError
from grader.worker import cgroup, confine, secrecy
from grader.worker.spawn import (
    CGROUP,
    GPU_NODES,
    KIT_PARENT,
    SANDBOXED_SUBMISSION,
    SUBMISSION,
    USER,
    gpu_library_dirs,
    python_roots,
    worker_env,
)

CHOICES = ("auto", "sandbox", "subprocess")
SANDBOX_UID = 65534  # "nobody"
SANDBOX_HOME = "/tmp"
# MIG setups would also need /dev/nvidia-caps (not tested).
GPU_DEVICES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", GPU_NODES)
SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")  # /usr-merged links or dirs
PROBE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker: the rlimits of each of its processes (children inherit
    them), and what the judge bounds around it (its cgroup, the sandbox's /tmp, the watchdog).
    """

    memory: int = 4 << 30  # bytes it may hold: with a cgroup, all its processes together,
    #   shared memory and tmpfs files included; without one, each process's heap (RLIMIT_DATA)
    #   and, summed over its processes, the watchdog's limit
    cpu_seconds: int = 600  # CPU time over the worker's life: a backstop to the deadlines
    file_size: int = 64 << 20  # largest file it may write
    open_files: int = 512
    processes: int = 256  # processes and threads, per sandbox or per user of its own
    tmp_size: int = 256 << 20  # the sandbox's /tmp, a tmpfs: RAM outside any process
    disk: int = 1 << 30  # bytes of files a worker running as a user of its own may hold
    disk_files: int = 10_000  # and how many (its home and the shared temporary folders)

    def address_space(self) -> int | None:
        """RLIMIT_AS: `memory` plus the address space torch reserves without using it, so that
        shared mappings (which RLIMIT_DATA does not count) are bounded too. None where a GPU
        is present: CUDA reserves address space in proportion to the device's memory."""
        return None if gpu_devices() else self.memory + torch_reserve()

    def rlimits(self) -> dict[str, int]:
        limits = {
            "RLIMIT_DATA": self.memory,
            "RLIMIT_CPU": self.cpu_seconds,
            "RLIMIT_FSIZE": self.file_size,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_NPROC": self.processes,
            "RLIMIT_CORE": 0,
        }
        if (space := self.address_space()) is not None:
            limits["RLIMIT_AS"] = space
        return limits

    def describe(self, processes: bool = True, group: bool = False, tmp: bool = False) -> str:
        """The limits in words; `group`: the worker has a memory cgroup; `tmp`: a sized /tmp."""
        space = self.address_space()
        memory = f"memory {_size(self.memory)} " + (
            "for all its processes (a cgroup)"
            if group
            else "for all its processes (the judge's watchdog) and per process"
            + (f" (address space {_size(space)})" if space else " (no address-space limit: GPU)")
        )
        return (
            memory
            + (f", /tmp {_size(self.tmp_size)}" if tmp else "")
            + f", CPU {self.cpu_seconds} s, files {_size(self.file_size)}, "
            f"{self.open_files} open files, "
            + (f"{self.processes} processes" if processes else "no process limit")
        )


def torch_reserve() -> int:
    """Address space torch reserves without using it, rounded up with room to spare: measured
    at 0.6 to 0.7 GiB for the CPU build (torch 2.13), 3.0 to 3.4 GiB for CUDA builds without
    a GPU (torch 2.1.2+cu121, 2.14.1+cu130), which fail to import below 3 GiB."""
    build = torch_build()
    cpu_only = build.cuda is None and getattr(build, "hip", None) is None
    return 1 << 30 if cpu_only else 4 << 30


@functools.cache
def torch_build():
    """`torch.version` (its `cuda` and `hip` say which build this is), read without importing
    torch where it is not imported yet: a judge starts its first worker while it imports torch
    itself (grader/worker/warm.py). torch/version.py is plain assignments."""
    if "torch" in sys.modules:
        return sys.modules["torch"].version
    spec = importlib.util.find_spec("torch")
    path = Path(spec.origin).parent / "version.py" if spec and spec.origin else None
    if path is None or not path.is_file():
        import torch

        return torch.version
    version_spec = importlib.util.spec_from_file_location("_attention_torch_version", path)
    version = importlib.util.module_from_spec(version_spec)
    version_spec.loader.exec_module(version)
    return version


def _size(n: int) -> str:
    return f"{n >> 30} GiB" if n >= 1 << 30 and n % (1 << 30) == 0 else f"{n >> 20} MiB"


# -- what the sandbox holds -----------------------------------------------------------------


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


@functools.cache
def _bwrap_help() -> str:
    try:
        done = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout + done.stderr


def bwrap_supports(option: str) -> bool:
    """Whether this machine's bwrap has `option` (--size: 0.6?; --disable-userns: 0.8)."""
    return f"{option} " in _bwrap_help()


def bwrap_command(
    submission: str | None, threads: int, tmp_size: int = Limits.tmp_size
) -> list[str]:
    """The bwrap command line up to and including `--`; the `submission` folder (or the
    placeholder `spawn.SUBMISSION`) appears inside at `spawn.SANDBOXED_SUBMISSION`.

    As root, bwrap sets the namespaces up itself and keeps only the capabilities to change
    user, which confine.py uses at once to become uid 65534 for real (then in a user
    namespace of its own, so the process limit counts this sandbox alone, and which may hold
    no further one). Otherwise bwrap makes the user namespace, with uid 65534 inside
    standing for the grader's uid outside, and forbids further ones (--disable-userns).
    /tmp is a tmpfs of `tmp_size` bytes; the rest (the root, /dev) is made read-only last.
    """
    kit = KIT_PARENT / "grader"
    usr = Path("/usr")
    drivers = [d for d in gpu_library_dirs() if not d.is_relative_to(usr)]
    readable = [*python_roots(), *drivers, kit]
    exposed = [r for r in readable if paths.SOLUTIONS.resolve().is_relative_to(r)]
    if exposed:
        raise SandboxError(f"binding {exposed[0]} would expose the solutions")
    bwrap = shutil.which("bwrap") or "bwrap"  # a full path: confine.py may exec it (no PATH)
    args = [bwrap, "--die-with-parent", "--new-session", "--clearenv"]
    args += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try"]
    if os.geteuid() == 0:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        if bwrap_supports("--disable-userns"):
            args += ["--disable-userns"]
    for name, value in worker_env(SANDBOX_HOME, threads).items():
        args += ["--setenv", name, value]
    args += _system_binds()
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777"]
    if bwrap_supports("--size"):
        args += ["--size", str(tmp_size)]
    args += ["--tmpfs", SANDBOX_HOME]
    for device in gpu_devices():
        args += ["--dev-bind", device, device]
    # After the /tmp tmpfs, or it would hide binds below /tmp (the submission's copy is there).
    for folder in _folders_above(readable):
        args += ["--perms", "0755", "--dir", str(folder)]  # bwrap would make them 0700
    for path in readable:
        args += ["--ro-bind", str(path), str(path)]
    if submission:
        args += ["--ro-bind", str(submission), SANDBOXED_SUBMISSION]
    args += ["--remount-ro", "/dev", "--remount-ro", "/"]  # writable tmpfs both, without a size
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


def confine_command(
    limits: Limits | None, user: int | str | None, group: str | None = None, strict: bool = False
) -> list[str]:
    """confine.py's command line: join cgroup `group` (a path, or `spawn.CGROUP`), become
    `user` (a uid, or `spawn.USER`; as root only), set `limits`. Without a user (the
    grader's own) it sets no process limit: without a user namespace of its own, RLIMIT_NPROC
    would count every process of the grader's user (and, for root, nothing); it enters a
    user namespace of its own where it can, which then may hold no further one (`strict`:
    or the worker does not start, as in the sandbox)."""
    spec: dict = {}
    if group is not None:
        spec["cgroup"] = group
    if limits is not None:
        rlimits = limits.rlimits()
        if user is None:
            del rlimits["RLIMIT_NPROC"]
            spec["userns"] = os.geteuid() != 0 if hasattr(os, "geteuid") else False
        spec["limits"] = rlimits
    if user is not None:
        spec["user"] = user
    if strict:
        spec["strict"] = True
    return [sys.executable, "-I", "-S", confine.__file__, json.dumps(spec, separators=(",", ":"))]


def sandbox_prefix(submission: str | None, threads: int, limits: Limits) -> list[str]:
    return bwrap_command(submission, threads, limits.tmp_size) + confine_command(
        limits, SANDBOX_UID, strict=True
    )


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


def _root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def own_user_problem() -> str:
    """Why a worker at the fallback cannot run as a user of its own here; "" when it can (the
    judge is root, and another user can run its Python and read the kit's grader/)."""
    if not _root():
        return "the grader is not root"
    if not sys.platform.startswith("linux"):
        return f"not on {sys.platform}"
    return secrecy.unreachable()


def label(level: str, limits: Limits, choice: str = "auto") -> str:
    """The isolation line every report carries."""
    if level == "bubblewrap":
        gpu = ", GPU devices" if gpu_devices() else ""
        group, tmp = cgroup.parent() is not None, bwrap_supports("--size")
        return (
            f"bubblewrap (private read-only filesystem, no network, own PID namespace, "
            f"uid {SANDBOX_UID}{gpu}; limits: {limits.describe(group=group, tmp=tmp)})"
        )
    why = "as asked" if choice == "subprocess" else bubblewrap_problem() or "as asked"
    if sys.platform == "win32":
        return f"subprocess (no sandbox: {why}; no limits; the worker sees the grader's files)"
    if not _root():
        return (
            f"subprocess (no sandbox: {why}; the worker sees the grader's files and network as "
            f"uid {os.getuid()}; limits: {limits.describe(processes=False)}; whole process "
            "tree killed)"
        )
    group = cgroup.parent() is not None
    if problem := own_user_problem():
        return (
            f"subprocess (no sandbox: {why}; the worker runs as root, as {problem} (no other "
            "user could run the grader's Python), so it can read and write the grader's files, "
            "solutions/ included, and use the network; limits: "
            f"{limits.describe(processes=False, group=group)}; whole process tree killed)"
        )
    return (
        f"subprocess (no sandbox: {why}; the worker runs as a user of its own with no groups, "
        "for whom the kit's solutions/, tests/ and fixtures/ are closed, but sees the "
        f"machine's other readable files and its network; limits: "
        f"{limits.describe(group=group)}, {_size(limits.disk)} of files in all; whole process "
        "tree killed)"
    )


def configure(options):
    """A copy of the engine's `options` whose `wrap` runs every worker at the isolation level
    `options.sandbox_mode` asks for, and whose `isolation` names it for the reports. At the
    fallback as root, the worker runs as a user of its own where it can, and the kit's
    secrets are closed to other users first (`secrecy.lock_kit`)."""
    level = choose(options.sandbox_mode)
    limits = options.limits
    group = CGROUP if cgroup.parent() is not None else None
    if level == "bubblewrap":
        prefix = sandbox_prefix(SUBMISSION, options.threads, limits)
        if group:  # joined outside the sandbox, which shows no /sys
            prefix = [*confine_command(None, None, group), *prefix]
    elif sys.platform == "win32":
        prefix = []
    elif not _root():  # the worker could change a cgroup of its own user's
        prefix = confine_command(limits, None)
    elif own_user_problem():
        prefix = confine_command(limits, None, group)
    else:
        if still_open := secrecy.lock_kit():
            raise SandboxError(f"cannot close {still_open[0]} to other users (chmod go-rwx)")
        prefix = confine_command(limits, USER, group)
    return dataclasses.replace(
        options,
        wrap=[*options.wrap, *prefix],
        isolation=label(level, limits, options.sandbox_mode),
    )
