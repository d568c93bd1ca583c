"""Kill a worker together with every process it started, even those that hid.

A worker is started in a session (and process group) of its own, with a random token in its
environment (`TOKEN_VARIABLE`). Killing it means SIGKILL, until none is left, for:

- the worker and its process group, while the worker has not been reaped (so that its pid
  cannot have been reused);
- its descendants, found through the parent pids in /proc (same condition);
- every process whose environment still carries the token: a daemon that double-forked and
  called setsid() is no longer a descendant nor in the group, but it inherited the token.

Under bubblewrap this is belt and braces: the sandbox's first process carries the token, and
killing it ends its PID namespace and everything inside. Without bubblewrap it is what keeps
background processes from outliving grading; a process that both leaves the session and
replaces its environment (exec with a new one) escapes it, which is why bubblewrap is the
level to grade untrusted code with. Without /proc (macOS, Windows) only the process group
is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

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


def _targets(root: int | None, token: str) -> set[int]:
    """Live (non-zombie) processes to kill: descendants of `root` and the token's carriers."""
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
        if _carries(entry, needle):
            found.add(int(entry))
    if root is not None:
        tree = {root}
        grew = True
        while grew:
            children = {pid for pid, parent in parents.items() if parent in tree} - tree
            tree |= children
            grew = bool(children)
        found |= tree & set(parents)
    return found


def kill_worker(proc: subprocess.Popen, token: str) -> None:
    """SIGKILL `proc`, its group, its descendants and every carrier of `token`; then reap it."""
    for _ in range(ROUNDS):
        unreaped = proc.returncode is None
        if unreaped:
            if hasattr(os, "killpg"):
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, KILL)
            with contextlib.suppress(OSError):
                proc.kill()
        targets = _targets(proc.pid if unreaped else None, token) if PROC.is_dir() else set()
        for pid in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, KILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.01 if targets else 10)
        if not targets and proc.returncode is not None:
            return
        time.sleep(0.01)
