"""What the resource and secrecy tests share: the fallback's user of its own, the memory
mechanisms to grade under, and the checks that a grading left nothing behind.

The fallback runs the worker as a user of its own only where another user can run the
grader's Python; on the kit's CI machine that Python lives under /root (mode 0700), so
`own_user` opens the folders on the way for search (never for listing) for one test and
closes them again.

Opening /root changes what every grading on the machine sees: a judge started meanwhile in
the other test process (pytest -n 2) would make its workers users of their own, who lose
their Python when /root closes again (its imports then fail: "No module named 'cmath'").
So a test that opens it runs alone: `MachineLock`, a readers-writer lock every test holds
the shared side of (conftest.py) and `own_user` the exclusive one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from pathlib import Path

import pytest

from grader.worker import cgroup, procs, secrecy, users

ROOT_ONLY = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="the fallback's own user needs root"
)


@contextlib.contextmanager
def python_for_everyone():
    """Let another user reach the grader's Python (chmod o+x on the way), then close again."""
    opened = []
    for path in secrecy.needed():
        for folder in reversed(path.parents):
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH:
                os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
                opened.append((folder, stat.S_IMODE(mode)))
    try:
        yield
    finally:
        for folder, mode in reversed(opened):
            os.chmod(folder, mode)


class MachineLock:
    """A readers-writer lock over the test processes of this machine (flock on two files):
    `shared()` while a test runs, `alone()` while one changes what the whole machine sees.
    A gate taken before either side keeps a stream of readers from starving a writer."""

    def __init__(self, folder: Path | None = None):
        folder = Path(folder or tempfile.gettempdir())
        # read-only is enough for flock, and lets another user's test session share the files
        flags = os.O_RDONLY | os.O_CREAT
        self._gate = os.open(folder / "attention-kit-tests.gate", flags, 0o644)
        self._lock = os.open(folder / "attention-kit-tests.lock", flags, 0o644)

    @contextlib.contextmanager
    def shared(self):
        self._through_gate(fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def alone(self):
        # The shared side this test holds goes first: two tests asking to be alone at once
        # would otherwise each wait for the other's shared side.
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._through_gate(fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_SH)  # as the test held it before

    def _through_gate(self, side: int) -> None:
        """Take `side` of the lock while holding the gate, which a writer holds while it waits
        for the readers already in to leave."""
        fcntl.flock(self._gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._lock, side)
        finally:
            fcntl.flock(self._gate, fcntl.LOCK_UN)


MACHINE = MachineLock()


@pytest.fixture
def own_user():
    """For one test: the fallback as root runs the worker as a user of its own (and no other
    test runs meanwhile, see MachineLock)."""
    with MACHINE.alone(), python_for_everyone():
        yield


@pytest.fixture(params=["cgroup", "rlimits"])
def memory_by(request, monkeypatch):
    """Grade with each memory bound this machine has: a cgroup per worker, or rlimits and the
    judge's watchdog alone (as in a container whose /sys/fs/cgroup is read-only)."""
    if request.param == "cgroup":
        if cgroup.parent() is None:
            pytest.skip(f"no memory cgroups here: {cgroup.problem()}")
    else:
        monkeypatch.setattr(cgroup, "_found", lambda: (None, "disabled for this test"))
    return request.param


class Uids:
    """Records the uids the workers of a test were given."""

    def __init__(self, monkeypatch):
        self.seen: list[int] = []
        pick = users.pick

        def recording() -> int:
            uid = pick()
            self.seen.append(uid)
            return uid

        monkeypatch.setattr(users, "pick", recording)


def assert_left_nothing(mark: str, uids: list[int] = ()) -> None:
    """No file named with `mark` in the shared folders, no process or file of `uids`, no
    cgroup of this process's workers."""
    for folder in users.shared_folders():
        assert not [p for p in folder.glob(f"*{mark}*")], f"files of the attack in {folder}"
        for uid in uids:
            left = [path for path, _ in users._entries(folder, uid)]
            assert left == [], f"files of uid {uid} left in {folder}: {left[:3]}"
    for uid in uids:
        assert procs.runs_as(uid) == set(), f"processes of uid {uid} survived"
        assert not _ipc_of(uid), f"System V IPC objects of uid {uid} survived"
    where = cgroup.parent()
    if where is not None:  # none of this process's, none of a judge that is gone
        mine = f"{cgroup.PREFIX}{os.getpid()}-"
        left = [p for p in where.path.iterdir() if p.name.startswith(cgroup.PREFIX)]
        assert not [p for p in left if p.name.startswith(mine) or _orphan(p.name)], left


def _orphan(name: str) -> bool:
    """Whether a worker cgroup's judge (its pid is in the name) is gone."""
    pid = name[len(cgroup.PREFIX) :].split("-")[0]
    return pid.isdigit() and not Path(f"/proc/{pid}").exists()


def _ipc_of(uid: int) -> list[str]:
    found = []
    for kind in ("shm", "msg", "sem"):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except OSError:
            continue
        header = lines[0].split() if lines else []
        for line in lines[1:]:
            row = dict(zip(header, line.split(), strict=False))
            if str(uid) in (row.get("uid"), row.get("cuid")):
                found.append(f"{kind} {line.split()[1]}")
    return found
