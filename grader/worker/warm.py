"""Workers launched ahead of time, so that a grading does not wait for one to import torch.

A spare is an ordinary worker (`launch.Worker`: the same command line, sandbox, user of its
own, cgroup, limits and deadlines as any other), launched on an empty folder of its own
before the submission it will grade is known. It imports torch and the harness, greets and
waits, having run no learner code. When a session needs a worker started exactly as a
waiting spare was, `Spares.take` hands that spare over: it copies the submission's private
copy into the folder the spare imports from (shown read-only to it: bound into the sandbox,
or its user's copy at the fallback as root), and the session's first request, sent after
that, imports the learner's modules. A spare serves one session and is closed with it,
killed with everything it started like any worker; it is never reused. `refill` launches the
next ones, as the last ones taken were launched, while the learner edits.

The command line launches the first spare before the judge imports torch (`launch_early`),
so that the worker's import of torch and the judge's run side by side.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader import paths
from grader.worker import sandbox
from grader.worker.launch import Worker
from grader.worker.sandbox import Limits


class Spare(Worker):
    """A worker launched on an empty folder of its own, which `receive` fills; `how` is
    how it was started (Worker's keyword arguments but the startup timeout)."""

    def __init__(self, **how):
        self.how = how
        self._stage = tempfile.TemporaryDirectory(prefix="attention-spare-", dir=paths.scratch())
        folder = Path(self._stage.name) / "submission"
        folder.mkdir()
        super().__init__(folder, **how)

    def receive(self, source: Path) -> None:
        """Copy `source`, a submission's private copy, into the folder this worker imports
        from: readable by every user (the sandbox's is not the judge), writable by the judge
        alone, as `launch` leaves the folder it shows a worker."""
        target = self.imports_from
        shutil.copytree(source, target, dirs_exist_ok=True)
        for root, _dirs, files in os.walk(target):
            os.chmod(root, 0o755)
            for name in files:
                os.chmod(os.path.join(root, name), 0o644)

    def close(self) -> None:
        super().close()
        self._stage.cleanup()

    def discard(self) -> None:
        """Close it at once, not waiting for it to come up and exit politely: it has run no
        learner code."""
        self.kill()
        self.close()


class Spares:
    """At most one waiting spare per kind of session (the learner's, and the trusted one
    that runs the reference), for the sessions of one judge. Use as a context manager: the
    spares still waiting are closed at the end. Not thread-safe: one grading at a time."""

    def __init__(self) -> None:
        self._waiting: dict[bool, Spare] = {}  # by `trusted`
        self._taken: dict[bool, dict] = {}  # how the last worker of each kind was asked for
        self.handed = 0  # how many sessions got a spare (for the tests and the measurements)

    def launch(self, **how) -> None:
        """Launch a spare started as `how` (Worker's keyword arguments: threads, wrap, limits,
        trusted), unless one of its kind is waiting."""
        kind = bool(how.get("trusted", False))
        if kind in self._waiting:
            return
        spare = self._waiting[kind] = Spare(**how)  # closed with the others, even if stopped
        try:
            launched = spare.launch()
        except OSError:  # no such program, say
            launched = False
        if not launched:  # the session's own start says what stops a worker
            del self._waiting[kind]
            spare.discard()

    def launch_early(self, sandbox_mode: str = "auto") -> None:
        """Launch the first spare of a learner's session with the engine's default threads and
        limits, at the isolation `sandbox_mode` asks for, before the judge imports torch."""
        try:
            settings = sandbox.configure(_Settings(sandbox_mode=sandbox_mode))
        except Exception:  # noqa: BLE001 - the grading itself reports what stops a sandbox
            return
        how = {"threads": settings.threads, "wrap": settings.wrap, "limits": settings.limits}
        self.launch(**how, trusted=False)

    def refill(self) -> None:
        """Launch a spare for each kind of session a spare was asked for (while the learner
        edits): the next grading's session takes it."""
        for how in self._taken.values():
            self.launch(**how)

    def take(self, folder: Path, timeout: float, **how) -> Worker | None:
        """The waiting spare started as `how`, up and holding a copy of `folder`; None
        when there is none (the session then starts its own). A spare that is not up within
        `timeout` seconds, no longer running, or started otherwise, is closed."""
        kind = bool(how.get("trusted", False))
        self._taken[kind] = how
        spare = self._waiting.pop(kind, None)
        if spare is None:
            return None
        if spare.how != how or not spare.ready(timeout) or not spare.alive:
            spare.discard()  # started otherwise, or it died while it waited (killed, say)
            return None
        try:
            spare.receive(folder)
        except OSError:
            spare.discard()
            return None
        self.handed += 1
        return spare

    def close(self) -> None:
        """Close the spares still waiting (nothing of a learner ran in them)."""
        while self._waiting:
            self._waiting.popitem()[1].discard()

    def __enter__(self) -> Spares:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class _Settings:
    """What `sandbox.configure` reads from the engine's options (and fills in: `wrap`,
    `isolation`), at the engine's defaults, for a spare launched before the engine (and
    torch) is imported."""

    sandbox_mode: str = "auto"
    threads: int = 1
    limits: Limits = field(default_factory=Limits)
    wrap: list[str] = field(default_factory=list)
    isolation: str = ""
