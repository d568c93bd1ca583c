"""One GPU speed check at a time on this machine: gradings take the GPU in turn while timed.

A GPU speed check measures wall time (CPU time does not see kernels), and two processes'
kernels share the device: two gradings timing at once (`attention-grade batch --jobs 2` on a
one-GPU machine, or two instructors' gradings) would each see the other's work in their
ratios. So a GPU race holds an exclusive lock on a file for its duration, and any other
grading of this machine's user waits for it. CPU checks need no turn (they measure CPU
time, which another process cannot stretch).

The lock file lives in a folder of the judge's user, closed to everyone else (mode 0700), so
that a worker running as another user (the sandbox's uid 65534, or a user of its own at the
fallback as root) cannot hold it to stall other gradings. A wait has a limit: past it the
check is skipped with no points lost, never run while another grading is timing.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; each grading times on its own
    fcntl = None  # type: ignore[assignment]

WAIT = 300.0  # seconds a GPU check waits for its turn at most
POLL = 0.05


def lock_path() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    folder = Path(tempfile.gettempdir()) / f"attention-grader-{uid}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.is_symlink() or folder.stat().st_uid != uid:
        raise PermissionError(f"{folder} is not this user's own folder")
    folder.chmod(0o700)
    return folder / "gpu.lock"


class Busy(Exception):
    """The GPU stayed busy with another grading's speed check for longer than the wait."""


@contextlib.contextmanager
def turn(wait: float = WAIT) -> Iterator[float]:
    """Hold the machine's GPU-timing lock; yields the seconds spent waiting for it."""
    if fcntl is None:
        yield 0.0
        return
    start = time.monotonic()
    with open(lock_path(), "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - start > wait:
                    raise Busy(
                        f"another grading on this machine kept the GPU for over {wait:g} s"
                    ) from None
                time.sleep(POLL)
        try:
            yield time.monotonic() - start
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
