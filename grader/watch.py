"""attention-grade --watch: grade, then re-grade what each save changes, until Ctrl-C.

The judge stays up, with torch, the checks and the expected values loaded, and a spare
worker is launched while the learner edits (grader/worker/warm.py), so that a re-grade waits
for neither import. Each re-grade is an ordinary grading of the exercises concerned: a fresh
worker that has never run learner code imports the learner's modules afresh, under the same
isolation, limits and deadlines as any grading, and the console shows the same report.

Saves are found by polling, every POLL seconds, the modification time and size of the
submission's .py files (those of the folder holding its modules, or the one file graded). A
save re-grades the exercises of the exercise modules that changed, of the modules that
import one of those (a module that cannot be imported fails all its exercises), and of the
exercises that build on one of them; every watched exercise when another file changed (a
helper module they import, a one-file submission or a zip).
"""

from __future__ import annotations

import ast
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from grader import checks, paths
from grader.judge.engine import select
from grader.judge.rules import parse
from grader.judge.submission import module_folder
from grader.judge.submission_limits import MAX_MODULE_BYTES

if TYPE_CHECKING:
    from rich.console import Console

    from grader.worker.warm import Spares

POLL = 0.2  # seconds between two looks at the files
SETTLE = 0.05  # a save counts once the files stay the same this long (editors write in steps)
STOPPED = 130  # the exit status of a program stopped by Ctrl-C

Stamps = dict[str, tuple[int, int]]  # file name -> (modification time in ns, size)


def folder_of(source: Path) -> Path | None:
    """The folder whose files are watched: the one holding the submission's modules (None for
    a one-file submission or a zip, and for a folder that holds no module yet)."""
    if not source.is_dir():
        return None
    return module_folder(source)


def stamps(source: Path) -> Stamps:
    """The stamps of what is watched: the .py files of the modules' folder, or `source`."""
    folder = folder_of(source)
    found: Stamps = {}
    try:
        if folder is None:
            info = source.stat()
            return {source.name: (info.st_mtime_ns, info.st_size)}
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(".py") and entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    found[entry.name] = (info.st_mtime_ns, info.st_size)
    except OSError:
        pass  # gone for a moment (an editor that replaces the folder): compared next time
    return found


def changed(before: Stamps, after: Stamps) -> set[str]:
    """The names of the files added, removed or modified."""
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def imported_modules(source: str) -> set[str]:
    """The kit's modules that a module's source imports, however it names them
    (`from .causal_attention import ...`, `from exercises import causal_attention`, ...)."""
    tree = parse(source)
    if tree is None:
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(part for alias in node.names for part in alias.name.split("."))
        elif isinstance(node, ast.ImportFrom):
            found.update((node.module or "").split("."))
            found.update(alias.name for alias in node.names)
    return found & set(paths.MODULES)


def _source(folder: Path, module: str) -> str | None:
    """A module's text; None when it is missing or too large for the judge to parse."""
    path = folder / f"{module}.py"
    try:
        if path.stat().st_size > MAX_MODULE_BYTES:
            return None
        return path.read_text(errors="replace")
    except OSError:
        return None


def regraded(names: set[str], watched: tuple[checks.Exercise, ...], folder: Path | None):
    """The watched exercises (their names, in the book's order) that a change of the files
    `names` in `folder` calls for re-grading."""
    modules = {name[:-3] for name in names if name[:-3] in paths.MODULES and name.endswith(".py")}
    if folder is None or names - {f"{module}.py" for module in modules}:
        return tuple(ex.name for ex in watched)
    sources = {module: _source(folder, module) for module in paths.MODULES}
    grew = True
    while grew:  # modules that import a changed one, however far
        importers = {
            module
            for module, text in sources.items()
            if text is not None and imported_modules(text) & modules
        }
        grew = bool(importers - modules)
        modules |= importers
    hit = {ex.name for ex in checks.EXERCISES if ex.module in modules}
    grew = True
    while grew:  # exercises that build on one re-graded
        more = {ex.name for ex in checks.EXERCISES if set(ex.builds_on) & hit} - hit
        hit |= more
        grew = bool(more)
    return tuple(ex.name for ex in watched if ex.name in hit)


def settled(source: Path, now: Stamps) -> Stamps:
    """The stamps once they stay the same for SETTLE seconds (a save written in steps)."""
    while True:
        time.sleep(SETTLE)
        again = stamps(source)
        if again == now:
            return now
        now = again


def watch(
    path: str | Path,
    only: str | None,
    regrade: Callable[[tuple[str, ...] | None], int],
    spares: Spares,
    out: Console,
    poll: float = POLL,
) -> int:
    """Grade the watched exercises (`only`, or all), then, on every save, re-grade those it
    concerns with `regrade(names)`, launching the next spare worker in between, until Ctrl-C;
    returns the exit status of the last grading (130 when stopped before the first verdict,
    as a program stopped by Ctrl-C)."""
    source = Path(path)
    watched = select(only)
    seen = stamps(source)
    status = STOPPED
    restore = _stop_on_signals()
    try:
        status = regrade(None)
        spares.refill()
        _waiting(out, source)
        while True:
            time.sleep(poll)
            now = stamps(source)
            if now == seen:
                continue
            now = settled(source, now)
            names = changed(seen, now)
            seen = now
            again = regraded(names, watched, folder_of(source))
            if not again:
                continue
            files = ", ".join(sorted(names))
            out.print(
                f"\n{datetime.now():%H:%M:%S}  {files} changed: grading {', '.join(again)}",
                markup=False,
                highlight=False,
            )
            status = regrade(again)
            spares.refill()
            _waiting(out, source)
    except KeyboardInterrupt:
        out.print("stopped watching", markup=False)
    finally:
        restore()
    return status


def _stop_on_signals() -> Callable[[], None]:
    """Make SIGTERM and SIGHUP (a terminal closed) stop the loop as Ctrl-C does, so that its
    workers and their copies are cleaned up; returns what puts the old handlers back. Only
    the main thread can set handlers: elsewhere, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    names = [name for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    old = {name: signal.signal(getattr(signal, name), _interrupt) for name in names}

    def restore() -> None:
        for name, handler in old.items():
            signal.signal(getattr(signal, name), handler)

    return restore


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _waiting(out: Console, source: Path) -> None:
    out.print(f"watching {source} for changes (Ctrl-C to stop)", style="dim", markup=False)
