"""attention-grade --watch: each save re-grades what it changed, and nothing a re-grade meets
(a mistake, a hang, a crash) ends the loop; Ctrl-C does."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader import checks, paths
from grader.watch import changed, imported_modules, regraded, stamps

RIGHT = "    return exp_x / exp_x.sum(dim=dim, keepdim=True)"
WRONG = "    return exp_x / exp_x.sum()"
HANG = "    while True:\n        pass"
CRASH = "    import os\n\n    os._exit(3)"


def names(*modules: str) -> tuple[str, ...]:
    return tuple(ex.name for ex in checks.EXERCISES if ex.module in modules)


def test_a_save_regrades_its_module_and_the_modules_that_import_it(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    for module in paths.MODULES:
        (folder / f"{module}.py").write_text("import torch\n")
    (folder / "multihead_attention.py").write_text(
        "from .causal_attention import CausalAttention\n"
    )
    (folder / "self_attention.py").write_text("from exercises import simple_attention as s\n")
    every = checks.EXERCISES
    assert regraded({"simple_attention.py"}, every, folder) == names(
        "simple_attention", "self_attention"
    )
    assert regraded({"causal_attention.py"}, every, folder) == names(
        "causal_attention", "multihead_attention"
    )
    assert regraded({"multihead_attention.py"}, every, folder) == names("multihead_attention")
    # A helper module could be imported by any of them; a one-file submission holds them all.
    assert regraded({"helpers.py"}, every, folder) == names(*paths.MODULES)
    assert regraded({"attention.py"}, every, None) == names(*paths.MODULES)
    only = (checks.find("softmax_naive"),)
    assert regraded({"simple_attention.py"}, only, folder) == ("softmax_naive",)
    assert regraded({"causal_attention.py"}, only, folder) == ()


def test_exercises_that_build_on_a_regraded_one_are_regraded(tmp_path):
    builder = next(ex for ex in checks.EXERCISES if ex.builds_on)
    changed_module = checks.find(builder.builds_on[0]).module
    assert builder.name in regraded({f"{changed_module}.py"}, checks.EXERCISES, tmp_path)


def test_imports_are_found_however_they_are_written():
    source = (
        "from .causal_attention import CausalAttention\n"
        "from . import self_attention\n"
        "import exercises.simple_attention\n"
        "from torch import nn\n"
        "def f(:\n"
    )
    assert imported_modules(source) == set()  # it does not parse: its own module fails
    assert imported_modules(source.replace("def f(:\n", "")) == {
        "causal_attention",
        "self_attention",
        "simple_attention",
    }


def test_stamps_see_edits_additions_and_removals(tmp_path):
    (tmp_path / "simple_attention.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("not watched\n")
    before = stamps(tmp_path)
    assert set(before) == {"simple_attention.py"}
    (tmp_path / "simple_attention.py").write_text("x = 22\n")
    (tmp_path / "helpers.py").write_text("y = 2\n")
    (tmp_path / "notes.txt").write_text("still not watched\n")
    assert changed(before, stamps(tmp_path)) == {"simple_attention.py", "helpers.py"}
    one = tmp_path / "attention.py"
    one.write_text("x = 1\n")
    assert set(stamps(one)) == {"attention.py"}


class Watching:
    """`attention-grade PATH --watch ...` in a process of its own, its output read as it
    comes; `until` waits for a line."""

    def __init__(self, folder: Path, *options: str):
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader", str(folder), "--watch", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=folder.parent,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # Ctrl-C works
        )
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, pattern: str, timeout: float = 120) -> list[str]:
        """The lines up to the first that matches `pattern` (a regular expression)."""
        got, deadline = [], time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no {pattern!r} in time; saw:\n{''.join(got)}") from None
            if line is None:
                raise AssertionError(f"exited before {pattern!r}; saw:\n{''.join(got)}")
            got.append(line)
            self.seen.append(line)
            if re.search(pattern, line):
                return got

    def stop(self, how: signal.Signals = signal.SIGINT) -> int:
        """Ctrl-C (or another signal that stops it cleanly), and the exit status."""
        self.proc.send_signal(how)
        self.until("stopped watching", 30)
        return self.proc.wait(30)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) >= 1
    path.write_text(text.replace(old, new, 1))


@pytest.mark.slow
def test_watch_regrades_after_each_save(submission):
    folder = submission()
    module = folder / "simple_attention.py"
    watching = Watching(folder, "--fixtures", "--only", "softmax_naive")
    try:
        watching.until("Total: 4/4 points")
        watching.until("watching .* for changes")
        edit(module, RIGHT, WRONG)
        lines = watching.until("Total: ")
        assert "simple_attention.py changed: grading softmax_naive" in "".join(lines)
        assert "✗ respects dim  0/1" in "".join(lines)
        assert "Total: 2/4 points" in lines[-1]
        watching.until("watching .* for changes")
        edit(module, WRONG, RIGHT)
        assert "Total: 4/4 points" in watching.until("Total: ")[-1]
        watching.until("watching .* for changes")
        assert watching.stop() == 0
    finally:
        watching.kill()


@pytest.mark.slow
def test_a_hang_or_a_crash_in_a_regrade_does_not_end_the_watch(submission):
    folder = submission()
    module = folder / "simple_attention.py"
    watching = Watching(folder, "--fixtures", "--only", "softmax_naive", "--timeout", "2")
    try:
        watching.until("watching .* for changes")
        edit(module, RIGHT, HANG)
        lines = "".join(watching.until("Total: "))
        assert "no answer within 2 s" in lines and "Total: 0/4 points" in lines
        watching.until("watching .* for changes")
        edit(module, HANG, CRASH)
        lines = "".join(watching.until("Total: "))
        assert "the worker exited with code 3" in lines and "Total: 0/4 points" in lines
        watching.until("watching .* for changes")
        edit(module, CRASH, RIGHT)
        assert "Total: 4/4 points" in watching.until("Total: ")[-1]
        watching.until("watching .* for changes")
        assert watching.stop(signal.SIGTERM) == 0  # as a closed terminal stops it
    finally:
        watching.kill()
