"""Hostile submissions and the process watching their tests need.

An attack is code placed at the start of the reference's `softmax_naive` (or at the top of
its module); the reference body follows, so whatever points the submission earns are those
of its honest part. "MARKER" in an attack is replaced by a string unique to the test, which
then finds the processes the attack started by their command lines.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

NAIVE_BODY = "    exp_x = torch.exp(x)\n    return exp_x / exp_x.sum(dim=dim, keepdim=True)"
MODULE_TOP = "import torch\n"


def marker() -> str:
    return f"hostile-{uuid.uuid4().hex[:12]}"


def in_softmax_naive(attack: str, mark: str, honest: str = NAIVE_BODY) -> dict:
    """Edits (for conftest's `submission`) that run `attack`, then `honest`, in softmax_naive."""
    return {"simple_attention": [(NAIVE_BODY, attack.replace("MARKER", mark) + honest)]}


def at_import(code: str, mark: str) -> dict:
    """Edits that run `code` when simple_attention.py is imported."""
    return {"simple_attention": [(MODULE_TOP, MODULE_TOP + code.replace("MARKER", mark))]}


# A process that ignores every signal it can and sleeps; "MARKER" names it.
SLEEPER = (
    "[sys.executable, '-c', 'import signal, time\\n"
    "for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT): "
    "signal.signal(s, signal.SIG_IGN)\\n"
    "time.sleep(120)', 'MARKER']"
)

DAEMONS = f"""    import os, subprocess, sys
    argv = {SLEEPER}
    if os.fork() == 0:  # the classic daemon: fork, setsid, fork again, parent exits
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, argv)
        os._exit(0)
    subprocess.Popen(argv, start_new_session=True)
"""


def _alive(pid: str) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def processes_with(mark: str) -> list[int]:
    """Live processes whose command line holds `mark`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if mark.encode() in _cmdline(int(pid)) and _alive(pid):
            found.append(int(pid))
    return found


def descendants(root: int | None = None) -> list[int]:
    """Live descendants of `root` (this process by default), but for multiprocessing's
    resource tracker, which a process pool starts once and leaves running on purpose."""
    root = os.getpid() if root is None else root
    parents = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] != "Z":
            parents[int(pid)] = int(fields[1])
    tree, grew = {root}, True
    while grew:
        children = {p for p, parent in parents.items() if parent in tree} - tree
        tree |= children
        grew = bool(children)
    return sorted(pid for pid in tree - {root} if b"resource_tracker" not in _cmdline(pid))


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def assert_nothing_left(mark: str) -> None:
    """No process of the attack, nor any child of this test, outlives grading (a killed
    process may take a moment to go)."""
    deadline = time.monotonic() + 3
    while (processes_with(mark) or descendants()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(mark) == [], f"processes of the attack survived: {mark}"
    assert descendants() == [], "the test process still has children"


class Watch:
    """Records, from a thread, whether a process with `mark` ever ran (during grading)."""

    def __init__(self, mark: str):
        self.mark, self.seen, self._stop = mark, False, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.seen = self.seen or bool(processes_with(self.mark))
            time.sleep(0.05)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
