"""A memory cgroup for each worker, where this machine lets the grader make one.

Rlimits bound one process at a time and miss what no process maps: a tmpfs file. A cgroup
bounds all of it at once: the memory of every process the worker starts, shared mappings and
the files it writes to a tmpfs included (the kernel charges a tmpfs page to the cgroup of the
process that wrote it). The judge makes one cgroup per worker, under its own, with the
worker's memory limit and no swap (`memory.max` and `memory.swap.max` in cgroup v2,
`memory.limit_in_bytes` and `memory.memsw.limit_in_bytes` in v1); confine.py moves the
worker in before any learner code runs. Past the limit the kernel kills a process of that
cgroup only. Killing the worker kills every process the cgroup holds (even one that left
the worker's session and dropped its environment), and the cgroup is removed.

Where it works: as root, or with a cgroup delegated to the grader's user, on a writable
/sys/fs/cgroup: cgroup v1's memory hierarchy, or cgroup v2 where the memory controller is
enabled for the children of the judge's cgroup (or can be), or for its siblings. Containers
(Docker, Gradescope) usually mount /sys/fs/cgroup read-only: there is none there, and the
rlimits of `sandbox.Limits` bound each process on its own. `problem()` says which.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = "attention-worker-"
PROBE_MEMORY = 1 << 30
ROUNDS = 50  # a cgroup whose processes keep forking is swept this many times, 10 ms apart


@dataclass(frozen=True)
class Parent:
    """A cgroup folder in which worker cgroups can be made, and its cgroup version."""

    path: Path
    version: int  # 1 or 2


def _mounts() -> list[tuple[str, Path, str, list[str]]]:
    """(root, mount point, type, super options) of each cgroup mount, from mountinfo."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[3], Path(fields[4]), tail[0], tail[2].split(",")))
    return found


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup: "" for v2 (the unified hierarchy), "memory" for v1's."""
    own = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "":
                own[""] = path
            elif "memory" in controllers.split(","):
                own["memory"] = path
    return own


def _candidates() -> list[Parent]:
    own = _own_cgroups()
    candidates = []
    for root, mount, kind, options in _mounts():
        key = "" if kind == "cgroup2" else "memory" if "memory" in options else None
        if key is None or key not in own:
            continue
        relative = os.path.relpath(own[key], root)
        if relative.startswith(".."):
            continue  # our cgroup is outside what this mount shows
        folder = (mount / relative).resolve()
        version = 2 if kind == "cgroup2" else 1
        candidates.append(Parent(folder, version))
        if version == 2 and folder != mount:
            candidates.append(Parent(folder.parent, version))  # siblings of the judge's
    return candidates


def _enable_memory(parent: Parent) -> None:
    """Make sure cgroups made in a v2 `parent` get the memory controller."""
    control = parent.path / "cgroup.subtree_control"
    if "memory" not in control.read_text().split():
        control.write_text("+memory")  # refused where the folder holds processes itself


def _make(parent: Parent, memory: int, name: str) -> Path:
    """A new cgroup under `parent` limited to `memory` bytes, without swap."""
    if parent.version == 2:
        _enable_memory(parent)
    group = parent.path / name
    group.mkdir(mode=0o755)
    try:
        if parent.version == 2:
            (group / "memory.max").write_text(str(memory))
            for file, value in (("memory.swap.max", "0"), ("memory.oom.group", "1")):
                if (group / file).exists():
                    (group / file).write_text(value)
        else:
            (group / "memory.limit_in_bytes").write_text(str(memory))
            if (group / "memory.memsw.limit_in_bytes").exists():
                (group / "memory.memsw.limit_in_bytes").write_text(str(memory))
    except OSError:
        remove(group)
        raise
    return group


def _usable(parent: Parent) -> str:
    """Why worker cgroups cannot be made in `parent`; "" when they can."""
    try:
        group = _make(parent, PROBE_MEMORY, f"{PREFIX}probe-{os.getpid()}-{secrets.token_hex(4)}")
    except OSError as e:
        return f"{parent.path}: {e.strerror or e}"
    remove(group)
    return ""


@functools.cache
def _found() -> tuple[Parent | None, str]:
    if not Path("/proc/self/cgroup").is_file():
        return None, "no cgroups on this system"
    candidates = _candidates()
    if not candidates:
        return None, "no memory cgroup controller is mounted"
    problems = []
    for parent in candidates:
        problem = _usable(parent)
        if not problem:
            return parent, ""
        problems.append(problem)
    return None, "cannot make memory cgroups (" + "; ".join(problems) + ")"


def parent() -> Parent | None:
    """Where this process makes its workers' cgroups; None where it cannot."""
    return _found()[0]


def problem() -> str:
    """Why there are no worker cgroups here; "" when there are."""
    return _found()[1]


def create(memory: int) -> Path:
    """A cgroup for one worker, limited to `memory` bytes (raises OSError if it cannot be made)."""
    where = parent()
    if where is None:
        raise OSError(problem())
    sweep_stale(where)
    return _make(where, memory, f"{PREFIX}{os.getpid()}-{secrets.token_hex(6)}")


def _maker(name: str) -> int | None:
    """The pid of the judge process that made the cgroup `name` (None if not one of ours)."""
    if not name.startswith(PREFIX):
        return None
    rest = name[len(PREFIX) :].removeprefix("probe-")
    pid = rest.partition("-")[0]
    return int(pid) if pid.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(where: Parent) -> None:
    """Kill and remove the worker cgroups whose judge process is gone (a judge killed before
    it could clean up, in a batch, say): kernel objects must not outlive their grading."""
    with contextlib.suppress(OSError):
        for group in where.path.iterdir():
            pid = _maker(group.name)
            if pid is not None and pid != os.getpid() and not _alive(pid):
                kill(group)
                remove(group)


def procs_file(group: Path) -> str:
    """The file a process writes "0" into to join `group`."""
    return str(group / "cgroup.procs")


def members(group: Path) -> set[int]:
    """The processes in `group` now (as pids of this process's PID namespace)."""
    try:
        text = (group / "cgroup.procs").read_text()
    except OSError:
        return set()
    return {int(pid) for pid in text.split()}


def kill(group: Path) -> None:
    """SIGKILL every process in `group` until it holds none (or ROUNDS sweeps have passed)."""
    with contextlib.suppress(OSError):
        if (group / "cgroup.kill").exists():  # cgroup v2, Linux 5.14+: all at once
            (group / "cgroup.kill").write_text("1")
    for _ in range(ROUNDS):
        pids = members(group)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def out_of_memory(group: Path) -> bool:
    """Whether the kernel killed a process of `group` for going over its memory limit."""
    for name in ("memory.events", "memory.oom_control"):  # v2, v1
        with contextlib.suppress(OSError, ValueError):
            for line in (group / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
    return False


def remove(group: Path) -> None:
    """Remove `group` once it is empty (a killed process may take a moment to leave it)."""
    for _ in range(100):
        try:
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)
