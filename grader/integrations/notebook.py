"""Check an exercise from a notebook, with the CLI's verdicts and feedback.

    from grader import check
    check("softmax_stable")          # grade one exercise of your exercises/ folder
    check()                          # all of them
    check("CausalAttention", "path/to/folder_or_zip_or_attention.py")

`check` grades through `grader.judge.engine.grade`, exactly like `attention-grade --only
NAME`: the learner's modules are imported by the kit's worker process (with its isolation
and per-call deadlines), never by the notebook's kernel, so a hanging or crashing exercise
costs one check, not the kernel. The notebook's own imports of the exercises are unrelated.

The feedback shows as HTML in Jupyter (a table, then every failed check with what was
tried, what came back, the likely mistake, a hint and the section to reread, and a heatmap of
the expected and the learner's weights beside a failed check of attention weights), as text
in a terminal IPython, and is printed outside IPython. `check` returns the `Report` (a subclass
whose notebook display is the same feedback), or None when the submission cannot be read.

Which folder: the `submission` argument; else $ATTENTION_KIT_SUBMISSION; else the current
folder when it holds the exercise modules (a notebook in exercises/ runs there); else
./exercises; else the kit's exercises/.
"""

from __future__ import annotations

import atexit
import html
import io
import os
from dataclasses import fields
from pathlib import Path

from rich.console import Console

from grader import paths
from grader.report import console as console_report
from grader.report import html_report
from grader.report.results import Report

ENV_SUBMISSION = "ATTENTION_KIT_SUBMISSION"


def find_submission(submission: str | Path | None = None) -> Path:
    """The submission `check` grades (see the module docstring for the order)."""
    if submission is not None:
        return Path(submission)
    if os.environ.get(ENV_SUBMISSION):
        return Path(os.environ[ENV_SUBMISSION])
    here = Path.cwd()
    for folder in (here, here / "exercises"):
        if any((folder / f"{m}.py").is_file() for m in paths.MODULES):
            return folder
    return paths.EXERCISES


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


class NotebookReport(Report):
    """A `Report` that shows itself as the kit's feedback in Jupyter and IPython."""

    _shown_in: int | None = None  # the IPython cell that has already displayed it

    @classmethod
    def of(cls, report: Report) -> NotebookReport:
        return cls(**{f.name: getattr(report, f.name) for f in fields(report) if f.init})

    def text(self) -> str:
        buffer = io.StringIO()
        console = Console(file=buffer, width=100, color_system=None, force_jupyter=False)
        console_report.render(self, console)
        return buffer.getvalue()

    def _repr_html_(self) -> str:
        return to_html(self)

    def __repr__(self) -> str:
        return f"<Report {self.submission}: {self.score:g}/{self.max_score} points>"

    def __str__(self) -> str:
        return self.text()

    def mimebundle(self) -> dict[str, str]:
        return {"text/plain": self.text(), "text/html": to_html(self)}

    def show(self) -> None:
        """Display the feedback now: rich in Jupyter, text in a terminal, printed otherwise."""
        shell = _ipython()
        if shell is None:
            print(self.text())
            return
        from IPython.display import display

        display(self.mimebundle(), raw=True)
        self._shown_in = getattr(shell, "execution_count", None)

    def _ipython_display_(self) -> None:
        # `check(...)` displays as it returns; the cell's own echo of the returned report
        # would show it twice, so the echo in that same cell is skipped.
        shell = _ipython()
        count = getattr(shell, "execution_count", None)
        if self._shown_in is not None and self._shown_in == count:
            self._shown_in = None
            return
        from IPython.display import display

        display(self.mimebundle(), raw=True)


_spares = None  # the kernel's spare workers (grader.worker.warm.Spares), made by the first check()


def _warm():
    """The kernel's spare workers: the next check() takes one that has imported torch while
    the learner edited; each serves one grading, in a fresh process, as the CLI's do."""
    global _spares
    if _spares is None:
        from grader.worker.warm import Spares

        _spares = Spares()
        atexit.register(_spares.close)  # none outlives the kernel
    return _spares


def check(
    exercise: str | None = None,
    submission: str | Path | None = None,
    *,
    hidden: bool | None = None,
    fixtures: bool = False,
    seed: int | None = None,
    timeout: float = 20.0,
    hints: bool = True,
    show: bool = True,
) -> NotebookReport | None:
    """Grade `exercise` (all exercises if None) of the submission and show the feedback.

    hidden, fixtures, seed, timeout and hints mean what the CLI's --no-hidden, --fixtures,
    --seed, --timeout and --no-hints do. Returns the report, or None when the submission or
    the exercise cannot be found (the reason is shown instead). After the first call, each
    call takes a worker started while you edited (see `_warm`).
    """
    from grader import checks
    from grader.errors import KitError, SandboxError, SubmissionError
    from grader.judge.engine import Options, grade

    path = find_submission(submission)
    try:
        if exercise is not None:
            checks.find(exercise)
        options = Options(
            only=exercise,
            hidden=False if fixtures else hidden,
            use_solutions=False if fixtures else None,
            seed=seed,
            timeout=timeout,
            hints=hints,
        )
        options.spares = spares = _warm()
        report = NotebookReport.of(grade(path, options))
        spares.refill()  # the next check() finds a worker that has imported torch
    except KeyError as e:
        _say(f"check: {e.args[0]}")
        return None
    except (SubmissionError, KitError, SandboxError) as e:
        _say(f"check: cannot grade {path}: {e}")
        return None
    if show:
        report.show()
    return report


def _say(message: str) -> None:
    shell = _ipython()
    if shell is None:
        print(message)
        return
    from IPython.display import display

    display({"text/plain": message, "text/html": f"<pre>{html.escape(message)}</pre>"}, raw=True)


# -- HTML -------------------------------------------------------------------------------


def to_html(report: Report) -> str:
    """The report as a self-contained HTML fragment, with a heatmap of the expected and the
    learner's weights beside each failed check of attention weights; all text is escaped."""
    return html_report.fragment(report)
