"""The judge's watch over a running worker, for what no kernel limit bounds where it runs.

- Memory, where the worker has no cgroup (`cgroup.py`): rlimits bound each process alone, so
  the watchdog adds up the resident memory of all the worker's processes (private and shared:
  RssAnon + RssShmem of each) twice a second, and stops the worker past its memory limit.
  Between two looks a worker can go over by what it allocates in half a second.
- Disk, where the worker runs as a user of its own (the fallback as root: `users.py`): the
  bytes and files that user holds in its home and the machine's shared temporary folders
  (/tmp, /dev/shm: RAM...), as often, against `Limits.disk` and `Limits.disk_files`. (In the
  sandbox the only writable place is /tmp, a tmpfs of bounded size.)

Stopping means calling `stop(reason)`, which kills the worker and everything it started; the
call in progress then fails with that reason.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path

from grader.worker import procs, users

INTERVAL = 0.5  # seconds between two looks


def resident(pids: set[int]) -> int:
    """Bytes of private and shared memory the processes `pids` hold (RssAnon + RssShmem)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            for line in (procs.PROC / str(pid) / "status").read_text().splitlines():
                if line.startswith(("RssAnon:", "RssShmem:")):
                    total += int(line.split()[1]) * 1024
    return total


def _size(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n >> 20} MiB"


class Watchdog:
    """Watches the worker process `pid` (and every process carrying its `token`) from a daemon
    thread until `close()`."""

    def __init__(
        self,
        pid: int,
        token: str,
        stop: Callable[[str], None],
        memory: int | None,
        disk: tuple[int, int] | None = None,
        uid: int | None = None,
        home: Path | None = None,
    ):
        self.pid, self.token, self.stop = pid, token, stop
        self.memory, self.disk, self.uid, self.home = memory, disk, uid, home
        self._closed = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def close(self) -> None:
        self._closed.set()

    def _watch(self) -> None:
        while not self._closed.wait(INTERVAL):
            reason = self._memory_problem() or self._disk_problem()
            if reason and not self._closed.is_set():
                self.stop(reason)
                return

    def _memory_problem(self) -> str:
        if self.memory is None or not procs.PROC.is_dir():
            return ""
        used = resident(procs.worker_processes(self.pid, self.token, self.uid))
        if used <= self.memory:
            return ""
        return (
            f"the worker was stopped: its processes held {_size(used)} of memory, over the "
            f"limit of {_size(self.memory)}"
        )

    def _disk_problem(self) -> str:
        if self.disk is None or self.uid is None or self.home is None:
            return ""
        limit, files = self.disk
        used, count = users.usage(self.uid, users.folders_of(self.home), (limit, files))
        if used > limit:
            return (
                f"the worker was stopped: it wrote {_size(used)} of files, over the limit of "
                f"{_size(limit)}"
            )
        if count > files:
            return f"the worker was stopped: it made over {files} files, the limit"
        return ""
