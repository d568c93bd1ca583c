"""Kill a worker together with every process it started, even those that hid.

A worker is started in a session (and process group) of its own, with a random token in its
environment (`TOKEN_VARIABLE`). Killing it means SIGKILL, until none is left, for:

- the worker and its process group, while the worker has not been reaped (so that its pid
  cannot have been reused);
- its descendants, found through the parent pids in /proc (same condition);
- every process whose environment still carries the token: a daemon that double-forked and
  called setsid() is no longer a descendant nor in the group, but it inherited the token;
- where the worker runs as a user of its own (the fallback, as root: see `users.py`), every
  process of that user, and where it has a cgroup (`cgroup.py`), every process in it: these
  catch even a process that left the session and replaced its environment.

Under bubblewrap this is belt and braces: the sandbox's first process carries the token, and
killing it ends its PID namespace and everything inside. Without bubblewrap it is what keeps
background processes from outliving grading; there, with neither a user nor a cgroup of its
own (the grader not root), a process that both leaves the session and replaces its
environment (exec with a new one) escapes it, which is why bubblewrap is the level to grade
untrusted code with. Without /proc (macOS, Windows) only the process group is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from grader.worker import cgroup

TOKEN_VARIABLE = "ATTENTION_GRADER_WORKER"
PROC = Path("/proc")
ROUNDS = 50  # a process that keeps forking is chased this many times, 10 ms apart
KILL = getattr(signal, "SIGKILL", signal.SIGTERM)


def _stat(pid: str) -> tuple[int, str] | None:
    """(parent pid, state letter) of a process, or None when it is gone."""
    try:
        text = (PROC / pid / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the name, in parentheses, may hold spaces
    return int(fields[1]), fields[0]


def _carries(pid: str, needle: bytes) -> bool:
    try:
        environ = (PROC / pid / "environ").read_bytes()
    except OSError:
        return False
    return needle in environ.split(b"\0")


def _runs_as(pid: str, uid: int) -> bool:
    """Whether any of the process's user ids (real, effective, saved, filesystem) is `uid`."""
    try:
        for line in (PROC / pid / "status").read_text().splitlines():
            if line.startswith("Uid:"):
                return str(uid) in line.split()[1:]
    except OSError:
        pass
    return False


def runs_as(uid: int) -> set[int]:
    """The live processes running as user `uid`."""
    return {
        int(e)
        for e in os.listdir(PROC)
        if e.isdigit() and (stat := _stat(e)) is not None and stat[1] != "Z" and _runs_as(e, uid)
    }


def worker_processes(root: int, token: str, uid: int | None = None) -> set[int]:
    """The live processes of a worker: `root` and its descendants, the carriers of its
    `token` and, if given, the processes of its own user `uid`."""
    return _targets(root, token, uid) if PROC.is_dir() else set()


def _descendants(root: int, parents: dict[int, int]) -> set[int]:
    found, grew = {root}, True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        found |= children
        grew = bool(children)
    return found


def _targets(root: int | None, token: str, uid: int | None = None) -> set[int]:
    """Live (non-zombie) processes to kill: descendants of `root`, the token's carriers and,
    if `uid` is given, that user's processes."""
    needle = f"{TOKEN_VARIABLE}={token}".encode()
    parents: dict[int, int] = {}
    found: set[int] = set()
    for entry in os.listdir(PROC):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        stat = _stat(entry)
        if stat is None or stat[1] == "Z":
            continue
        parents[int(entry)] = stat[0]
        if _carries(entry, needle) or (uid is not None and _runs_as(entry, uid)):
            found.add(int(entry))
    if root is not None:
        found |= _descendants(root, parents) & set(parents)
    return found


def kill_worker(
    proc: subprocess.Popen, token: str, uid: int | None = None, group: Path | None = None
) -> None:
    """SIGKILL `proc`, its group, its descendants, every carrier of `token` and, when given,
    every process of user `uid` and of cgroup `group`; then reap it."""
    if group is not None:
        cgroup.kill(group)
    for _ in range(ROUNDS):
        unreaped = proc.returncode is None
        if unreaped:
            if hasattr(os, "killpg"):
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, KILL)
            with contextlib.suppress(OSError):
                proc.kill()
        targets = set()
        if PROC.is_dir():
            targets = _targets(proc.pid if unreaped else None, token, uid)
        if group is not None:
            targets |= cgroup.members(group)
        for pid in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, KILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.01 if targets else 10)
        if not targets and proc.returncode is not None:
            return
        time.sleep(0.01)
