"""CPU time of a worker's processes, read by the judge from outside the worker.

The CPU speed checks measure this, not wall time: wall time is whatever the machine's other
processes leave over, so a submission's forked CPU burners, or a SIGSTOP sent to the
reference's worker, stretch it; the CPU time the kernel accounts to the reference's processes
does not grow while they wait. Nothing here asks the worker anything. `reading(session)` takes
a snapshot; `used(before, after)` is the CPU time between two.

What is counted, for a worker started by `launch.Worker`:

- where the worker is in a cgroup v2 of its own (`launch.Worker.cgroup`, see
  grader/worker/cgroup.py), that cgroup's `cpu.stat` usage: every process that ever was in
  it, ended ones included;
- otherwise its process tree: the judge's child (the worker itself, or the outer `bwrap`),
  every live or zombie descendant found through the parent pids in /proc, every process in
  the worker's cgroup v1 (memory) and its descendants, and every process whose environment
  still carries the worker's token (`procs.TOKEN_VARIABLE`: a daemon that called setsid()
  and whose parent exited is no longer a descendant, but it still carries it). For each: the
  CPU time of all its threads, live and ended (its CPU-time clock, `clock_gettime` on the
  process's clock id, in nanoseconds), plus what its reaped children used (`cutime` +
  `cstime` in /proc/PID/stat, in clock ticks). Between two snapshots a process counts what it
  grew, a new one all it used, and one that ended nothing more: what it used moves to the
  `cutime` of whoever reaps it.

So a child that does work and exits is counted through its reaper: its parent, or, in the
sandbox, the PID namespace's first process, which reaps every orphan and is part of the tree.
In the sandbox every process the submission starts is counted. At the fallback level
(`subprocess`) an orphan is reaped by the machine's init instead: a process that leaves the
session, replaces its environment (so that it no longer carries the token), is in no cgroup
of the worker's, and ends before the next reading escapes the count, as it escapes
`procs.kill_worker`. Grade untrusted code in the sandbox.

Where there is no /proc (macOS, Windows) `reading` returns None, and the judge falls back to
the wall time of its requests.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from grader.worker import cgroup
from grader.worker.procs import TOKEN_VARIABLE

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_CPUCLOCK_SCHED = 2  # the kernel's process CPU-time clock ids: ((~pid) << 3) | 2


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the name (state first), or None when it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()  # the name, in parentheses, may hold spaces


def _carries(pid: int, needle: bytes) -> bool:
    try:
        return needle in (PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return False


def tree(
    root: int, token: str | None = None, more: set[int] | frozenset = frozenset()
) -> dict[int, list[str]]:
    """pid -> stat fields of `root`, its descendants, the carriers of `token`, the processes
    in `more` (a cgroup's) and their descendants."""
    stats: dict[int, list[str]] = {}
    for entry in os.listdir(PROC):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            stats[int(entry)] = fields
    members = ({root} | set(more)) & set(stats)
    grew = bool(members)
    while grew:
        children = {pid for pid, f in stats.items() if int(f[1]) in members} - members
        members |= children
        grew = bool(children)
    if token is not None:
        needle = f"{TOKEN_VARIABLE}={token}".encode()
        members |= {pid for pid in stats if pid not in members and _carries(pid, needle)}
    return {pid: stats[pid] for pid in members}


def process_seconds(pid: int, fields: list[str]) -> float:
    """CPU seconds of one process (all its threads) and of the children it reaped."""
    try:
        own = time.clock_gettime_ns(((~pid) << 3) | _CPUCLOCK_SCHED) / 1e9
    except (OSError, AttributeError, OverflowError):  # gone, or no such clocks here
        own = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    return own + (int(fields[13]) + int(fields[14])) / CLOCK_TICKS  # cutime + cstime


def snapshot(processes: dict[int, list[str]]) -> dict[tuple[int, int], float]:
    """(pid, start time) -> CPU seconds, for each of `processes` (from `tree`)."""
    return {
        (pid, int(fields[19])): process_seconds(pid, fields) for pid, fields in processes.items()
    }


def cgroup_seconds(group: Path) -> float | None:
    """CPU seconds used by every process that was ever in a cgroup v2 (`cpu.stat`'s
    usage_usec, kept even for processes that ended); None for cgroup v1 or none."""
    try:
        for line in (group / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
    except (OSError, ValueError):
        pass
    return None


def used(before: dict, after: dict) -> float:
    """CPU seconds the tree used between two snapshots. A process in both counts its growth,
    a new one all it used; one that ended counts through whoever reaped it (its time moves
    to their `cutime`), and never less than nothing: a process leaving the tree takes nothing
    off."""
    return sum(max(0.0, seconds - before.get(key, 0.0)) for key, seconds in after.items())


def reading(session) -> dict[tuple[int, int], float] | None:
    """A snapshot of the process tree of a `Session`'s worker; None when it has no running
    worker or this system cannot tell."""
    worker = getattr(session, "worker", None)
    proc = getattr(worker, "proc", None)
    if proc is None or proc.returncode is not None or not PROC.is_dir():  # (never reaps it)
        return None
    token = getattr(worker, "token", None)
    processes = tree(proc.pid, token)
    group = getattr(worker, "cgroup", None)
    members = cgroup.members(group) if group is not None else set()
    if members & set(processes):  # the worker is in its cgroup: count all that is
        if (seconds := cgroup_seconds(group)) is not None:
            return {("cgroup", 0): seconds}
        processes = tree(proc.pid, token, members)
    return snapshot(processes)
