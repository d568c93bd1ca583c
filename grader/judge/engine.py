"""The judge: run every check of a submission and turn what comes back into results.

For each check the engine builds the inputs (a fixed seed for public checks, a seed drawn at
grading time for hidden ones), sends the probe to the worker, gets the expected values from
the reference or the fixtures, and lets the check's judge decide. This process never imports
learner code; everything learner-made arrives as plain tensors through `grader.worker`.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from grader import checks, paths
from grader.checks.criteria import Verdict, self_reported
from grader.checks.spec import Check, Exercise, where_to_look
from grader.checks.speed import Speed
from grader.errors import KitError
from grader.judge import gpu_turn, python_version, reach_ins, reference
from grader.judge.budget import DEFAULT_BUDGET  # seconds for one whole grading
from grader.judge.diagnosis import diagnose
from grader.judge.expected import FromFixtures, FromReference
from grader.judge.rules import names_used, parse, runtime_uses, static_uses
from grader.judge.slips import spotted
from grader.judge.speed_race import WRONG_OUTPUT
from grader.judge.speed_race import run as timed
from grader.judge.submission import open_submission
from grader.protocol import Reply
from grader.report import pictures
from grader.report.results import (
    CRASHED,
    ERROR,
    FAILED,
    FORBIDDEN,
    MISSING,
    NOT_ATTEMPTED,
    NOTE,
    PASSED,
    SKIPPED,
    TIMEOUT,
    CheckResult,
    Picture,
    Report,
)
from grader.rng import Rng, stable_seed
from grader.worker import sandbox
from grader.worker.launch import Worker
from grader.worker.sandbox import Limits

if TYPE_CHECKING:
    from grader.worker.warm import Spares

MAX_TIMEOUTS_PER_EXERCISE = 2


@dataclass
class Options:
    # grade only these exercises, by function or class name (one name, or several)
    only: str | tuple[str, ...] | None = None
    hidden: bool | None = None  # hidden checks: None = whenever solutions/ is present
    use_solutions: bool | None = None  # None: if present; False: fixtures, as a learner's copy
    seed: int | None = None  # the hidden checks' seed (drawn at grading time if None)
    timeout: float = 20.0  # seconds per call
    import_timeout: float = 30.0  # seconds to import one of the submission's modules
    startup_timeout: float = 120.0  # seconds for a worker to start (it imports torch)
    threads: int = 1  # torch threads in the worker
    hints: bool = True  # show each exercise's hint with its failures
    speed: bool = True  # time the speed checks (False: skipped, no points lost; a quicker grade)
    wrap: list[str] = field(default_factory=list)  # command prefix for the worker (a sandbox)
    isolation: str = "subprocess"  # what graded it, as reports show it: set by Grading
    sandbox_mode: str = "auto"  # auto (bubblewrap where it works) | sandbox | subprocess
    limits: Limits = field(default_factory=Limits)  # the worker's resource limits
    # Workers launched ahead of time (grader.worker.warm.Spares), each taken by one grading
    # (the watch loop's); None: every worker is started when it is needed.
    spares: Spares | None = None
    # Seconds for the whole grading: worker starts, imports and calls together (every one's
    # deadline is cut to what is left). Once spent, the checks left are not run and score 0,
    # so that a submission that makes every call last just under `timeout` still ends in a
    # known time. None (or 0): no budget.
    budget: float | None = DEFAULT_BUDGET


class Session:
    """The worker grading one submission: started on demand, restarted after a crash,
    and remembering which modules could not be imported so they are not tried again.
    Every wait is cut to what is left before `deadline` (a time.monotonic() value: the
    grading's budget). A `trusted` session runs the reference solutions."""

    def __init__(
        self,
        folder: Path,
        options: Options,
        deadline: float | None = None,
        trusted: bool = False,
    ):
        self.folder = folder
        self.options = options
        self.deadline = deadline
        self.trusted = trusted
        self.worker: Worker | None = None
        self.imported: set[str] = set()
        self.broken: dict[str, Reply] = {}

    def call(self, module: str, probe: dict, inputs: dict) -> Reply:
        if module in self.broken:
            return self.broken[module]
        if self._left() <= 0:
            return budget_spent(self.options.budget)
        if self.worker is None or not self.worker.alive:
            if self.worker is not None:
                self.worker.close()
            self.worker = self._start_worker()
            self.imported = set()
            if self.worker.startup_error is not None:
                return self._within_budget(self.worker.startup_error)
        if module not in self.imported:
            reply = self.worker.import_module(module, self._cut(self.options.import_timeout))
            if not reply.ok:
                reply = self._within_budget(reply)
                reply.info["phase"] = "import"
                self.broken[module] = reply
                return reply
            self.imported.add(module)
        reply = self.worker.call(probe, inputs, self._cut(self.options.timeout))
        return self._within_budget(reply)

    def _start_worker(self) -> Worker:
        """A worker that is up, or whose `startup_error` says why not: a spare launched ahead
        of time exactly as this one would be (`options.spares`), else a new one."""
        timeout = self._cut(self.options.startup_timeout)
        how = {
            "threads": self.options.threads,
            "wrap": self.options.wrap,
            "limits": self.options.limits,
            "trusted": self.trusted,
        }
        if self.options.spares is not None:
            spare = self.options.spares.take(self.folder, timeout, **how)
            if spare is not None:
                return spare
        worker = Worker(self.folder, startup_timeout=timeout, **how)
        worker.start()
        return worker

    def _left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def _cut(self, timeout: float) -> float:
        return max(min(timeout, self._left()), 0.0)

    def _within_budget(self, reply: Reply) -> Reply:
        """A timeout that the budget, not the call's own deadline, cut short says so."""
        if reply.status == "timeout" and self._left() <= 0:
            return budget_spent(self.options.budget, during=True)
        return reply

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def select(only: str | tuple[str, ...] | None) -> tuple[Exercise, ...]:
    """The exercises to grade, in the book's order; KeyError for an unknown name."""
    if not only:
        return checks.EXERCISES
    wanted = {checks.find(name).name for name in ((only,) if isinstance(only, str) else only)}
    return tuple(ex for ex in checks.EXERCISES if ex.name in wanted)


@dataclass(frozen=True)
class Step:
    """One check to run: public (fixed seed) or hidden (seed drawn at grading time)."""

    exercise: Exercise
    check: Check
    seed: int
    hidden: bool

    @property
    def id(self) -> str:
        return f"{self.exercise.name}::{self.check.name}" + ("::hidden" if self.hidden else "")


def plan(exercises, hidden: bool, hidden_seed: int) -> list[Step]:
    """The steps in grading order: each exercise's public checks, then its hidden ones."""
    steps = []
    for ex in exercises:
        steps += [Step(ex, c, stable_seed(ex.name, c.name), False) for c in ex.checks]
        if hidden:
            steps += [
                Step(ex, c, stable_seed(ex.name, c.name, hidden_seed), True)
                for c in ex.checks
                if c.randomized
            ]
    return steps


class Grading:
    """Grading one submission, step by step: the CLI runs every step, the pytest plugin one
    step per test. Use as a context manager; the worker starts on the first step."""

    def __init__(self, source: str | Path, options: Options | None = None):
        options = options or Options()
        self.deadline = time.monotonic() + options.budget if options.budget else None
        # The sandbox (or the fallback) every worker of this grading runs in: see sandbox.py.
        self.options = options = sandbox.configure(options)
        lookup = reference.load() if options.use_solutions is not False else None
        self.hidden = lookup is not None if options.hidden is None else options.hidden
        if self.hidden and lookup is None:
            raise KitError("hidden checks need the reference solutions (solutions/ is missing)")
        self.reference = lookup
        self.expected = FromReference(lookup) if lookup else FromFixtures(paths.FIXTURES)
        self.hidden_seed = options.seed if options.seed is not None else secrets.randbits(31)
        self.steps = plan(select(options.only), self.hidden, self.hidden_seed)
        self.source = str(source)
        self.submission = open_submission(source)
        self.session = Session(self.submission.folder, options, self.deadline)
        self._timeouts: dict[str, int] = {}
        self._violations: dict[str, str] = {}
        self._slips: dict[str, str] = {}
        self._reference_worker: tuple | None = (
            None  # (solutions copy, its session) for speed checks
        )
        self.devices: set[str] = set()  # where speed checks ran

    def run(self, step: Step) -> CheckResult:
        ex, check = step.exercise, step.check
        if self.deadline is not None and time.monotonic() >= self.deadline:
            spent = budget_spent(self.options.budget)
            return conclude(ex, check, None, spent, step.hidden, self.options.hints)
        if isinstance(check.judge, Speed):
            return self._run_speed(step)
        inputs, got = self._call(step)
        want = None
        if check.judge.needs_expected and (got.ok or check.judge.on_error(got) is not None):
            want = self.expected.get(ex, check, inputs)
        result = evaluate(ex, check, inputs, want, got, step.hidden, self.options.hints)
        # Zero-point notes (the book's seeded numbers, say) are not diagnosed: the module is
        # right with the reference's weights, so a variant matching them would mislead.
        if result.counts and result.status in (FAILED, ERROR) and not result.diagnosis:
            mistakes = diagnose(self.expected, ex, check, inputs, got)
            if mistakes:
                result.diagnosis = ",".join(m.id for m in mistakes)  # kept for class summaries
                if self.options.hints:  # --no-hints (exams): no mistake names in the feedback
                    result.likely = " OR ".join(f"{m.title} ({m.fix})" for m in mistakes[:3])
        self._add_slips(result, ex)
        if self._violation(ex, got) and result.counts:
            self._forbid(result, ex)
        elif result.passed and result.counts and self_reported(check.judge) and self.reached:
            self._uncredit(result, ex)
        return result

    @functools.cached_property
    def reached(self) -> list[reach_ins.ReachIn]:
        """Where the submission's modules reach into the worker (grader/judge/reach_ins.py)."""
        found = []
        for module in self.submission.modules:
            path = self.submission.folder / f"{module}.py"
            tree = parse(path.read_bytes()) if path.is_file() else None
            if tree is not None:
                found += reach_ins.find(tree, path.name)
        return found

    def _uncredit(self, result: CheckResult, ex: Exercise) -> None:
        where = ", ".join(map(str, self.reached[:3])) + (", ..." if len(self.reached) > 3 else "")
        result.status, result.points = FAILED, 0
        result.problem = (
            "not credited: this check rests on what the worker reports about your module, and "
            f"the submission reaches into the worker ({where}); remove that code (values and "
            "gradients are checked on their own and keep their points)"
        )
        result.tried = result.tried or f"reading {ex.module}.py"
        result.look = result.look or where_to_look(ex.section)

    def _source(self, ex: Exercise) -> str:
        """The text of the exercise's module ('' if the submission has none)."""
        path = self.submission.folder / f"{ex.module}.py"
        return path.read_text(errors="replace") if path.is_file() else ""

    def _add_slips(self, result: CheckResult, ex: Exercise) -> None:
        if result.counts and result.status in (FAILED, ERROR) and self.options.hints:
            result.spotted = self._spotted(ex)

    def _spotted(self, ex: Exercise) -> str:
        """The slips in the exercise's definition (see grader.judge.slips), one per line."""
        if ex.name not in self._slips:
            self._slips[ex.name] = "\n".join(map(str, spotted(self._source(ex), ex.name)))
        return self._slips[ex.name]

    def _run_speed(self, step: Step) -> CheckResult:
        """A speed check: the learner's worker raced against the reference's, or, in a
        learner's copy, against PyTorch's kernels (grader/baselines), for a prediction of
        the instructor's verdict that earns no points."""
        ex, check, speed = step.exercise, step.check, step.check.judge
        local = self.reference is None
        skip = ""
        if not self.options.speed:
            skip = "speed checks are not run in this grading (--no-speed): no points lost"
        elif speed.device == "cuda" and not torch.cuda.is_available():
            skip = "no CUDA device here, so the GPU speed check is skipped (no points lost)"
        elif local and speed.baseline_share is None:
            skip = (
                "on a GPU, speed is compared with the reference solution, which only an "
                "instructor's copy has: skipped here (no points lost); `attention-grade bench` "
                "times yours next to PyTorch's fused kernel"
            )
        if skip:
            return _skipped(step, skip)
        if local:  # a prediction: shown, never counted
            check = replace(check, points=0)
        if (failure := self._early_failure(ex)) is not None:
            return conclude(ex, check, None, failure, step.hidden, self.options.hints)
        inputs = check.inputs(Rng(step.seed))
        rival = self.reference_session(baseline=local)
        try:  # on a GPU, one grading times at a time (wall time: kernels share the device)
            with gpu_turn.turn() if speed.device == "cuda" else contextlib.nullcontext():
                got, verdict = timed(
                    speed, ex.probe(check), inputs, ex.module, self.session, rival, local
                )
        except gpu_turn.Busy as busy:
            return _skipped(step, f"not timed: {busy} (no points lost)")
        self._count_timeout(ex, got)
        if got.info.get("device"):
            self.devices.add(got.info["device"])
        if local and (why := _not_predicted(got, verdict)):
            return _skipped(step, why)
        result = conclude(ex, check, verdict, got, step.hidden, self.options.hints)
        self._add_slips(result, ex)
        return result

    def reference_session(self, baseline: bool = False) -> Session:
        """A worker on a private copy of the solutions (or of grader/baselines, in a
        learner's copy), started like the learner's."""
        if self._reference_worker is None:
            copy = open_submission(paths.BASELINES if baseline else paths.SOLUTIONS)
            session = Session(copy.folder, self.options, self.deadline, trusted=True)
            self._reference_worker = (copy, session)
        return self._reference_worker[1]

    def _early_failure(self, ex: Exercise) -> Reply | None:
        if ex.module not in self.submission.modules:
            return _failure("missing", f"{ex.module}.py is not in the submission")
        if self._timeouts.get(ex.name, 0) >= MAX_TIMEOUTS_PER_EXERCISE:
            return _failure("timeout", "not run: earlier checks of this exercise timed out")
        return None

    def _call(self, step: Step) -> tuple[dict, Reply]:
        ex = step.exercise
        failure = self._early_failure(ex)
        if failure is not None:
            return {}, failure
        inputs = step.check.inputs(Rng(step.seed))
        got = self.session.call(ex.module, ex.probe(step.check), inputs)
        self._count_timeout(ex, got)
        return inputs, got

    def _count_timeout(self, ex: Exercise, got: Reply) -> None:
        if got.status == "timeout":
            self._timeouts[ex.name] = self._timeouts.get(ex.name, 0) + 1

    def _violation(self, ex: Exercise, got: Reply) -> str:
        """The exercise's forbidden calls found so far (in its source, or seen at run time)."""
        if not ex.forbidden:
            return ""
        if ex.name not in self._violations:
            uses = static_uses(self._source(ex), ex.name, ex.forbidden)
            self._violations[ex.name] = ", ".join(f"{name} (line {line})" for name, line in uses)
        seen = runtime_uses(got.info, ex.forbidden) if ex.watch_runtime else []
        if seen and not self._violations[ex.name]:
            self._violations[ex.name] = ", ".join(seen) + " (seen while it ran)"
        return self._violations[ex.name]

    def _forbid(self, result: CheckResult, ex: Exercise) -> None:
        result.status, result.points = FORBIDDEN, 0
        result.problem = (
            f"{ex.name} uses {self._violations[ex.name]}, which its docstring's rules forbid: "
            "it would skip what the exercise teaches, so the exercise earns no points until "
            "that call is gone"
        )
        result.tried = result.tried or f"reading and running {ex.name}"
        result.look = result.look or where_to_look(ex.section)

    def finish(self, report: Report) -> None:
        """Withhold the points of an exercise whose forbidden call surfaced only in a later
        check, and tie each failure to a failing exercise it builds on."""
        for result in report.results:
            if (
                self._violations.get(result.exercise)
                and result.counts
                and result.status != FORBIDDEN
            ):
                self._forbid(result, checks.find(result.exercise))
        self._mark_cascades(report)

    def _mark_cascades(self, report: Report) -> None:
        """A correct wrapper over a broken CausalAttention fails too: each failure of an
        exercise that runs another exercise failing its own checks says to fix that one first.

        The points stay lost (the dependent exercise does not work as submitted); the reference
        class is never substituted, because that would put the solutions in the learner's
        worker. What an exercise runs: its `builds_on`, and the exercises its code names.
        """
        failing = {r.exercise for r in report.results if r.counts and not r.passed}
        names = {ex.name for ex in checks.EXERCISES}
        for name in failing:
            ex = checks.find(name)
            runs = set(ex.builds_on) | names_used(self._source(ex), name, names)
            broken = [other for other in sorted(runs & failing) if other != name]
            if not broken:
                continue
            text = (
                f"{' and '.join(broken)} {'fails' if len(broken) == 1 else 'fail'} "
                f"{'its' if len(broken) == 1 else 'their'} own checks, and {name} runs "
                f"{'it' if len(broken) == 1 else 'them'}: fix {' and '.join(broken)} first"
            )
            for result in report.results:
                if result.exercise == name and result.counts and not result.passed:
                    result.upstream = text

    def new_report(self) -> Report:
        report = Report(
            submission=self.source,
            isolation=self.options.isolation,
            expected_from=self.expected.name,
            hidden_checks=self.hidden,
        )
        if self.hidden:
            report.notes.append(f"hidden checks drawn with seed {self.hidden_seed}")
        if self.reached:
            report.notes.append(
                "the submission reaches into the grader's worker ("
                + ", ".join(map(str, self.reached[:5]))
                + "): the checks that rest on what the worker reports were not credited"
            )
        return report

    def close(self) -> None:
        self.session.close()
        self.submission.close()
        self.expected.close()
        if self._reference_worker is not None:
            self._reference_worker[1].close()
            self._reference_worker[0].close()

    def __enter__(self) -> Grading:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def grade(
    source: str | Path,
    options: Options | None = None,
    progress: Callable[[CheckResult, int, int], None] | None = None,
) -> Report:
    """Grade the submission at `source` (a folder or a .zip) and return the report."""
    start = time.monotonic()
    with Grading(source, options) as grading:
        report = grading.new_report()
        for i, step in enumerate(grading.steps):
            result = grading.run(step)
            report.results.append(result)
            if progress:
                progress(result, i + 1, len(grading.steps))
        grading.finish(report)
        report.device = ", ".join(sorted(grading.devices))
    report.seconds = time.monotonic() - start
    return report


def _failure(status: str, message: str) -> Reply:
    return Reply(status, error={"type": status, "frames": [], "message": message})


def budget_spent(budget: float | None, during: bool = False) -> Reply:
    """The reply for a call the grading's time budget leaves no time for (or cut short)."""
    what = (
        f"not finished: this grading's time budget of {budget:g} s ran out during this call"
        if during
        else f"not run: this grading's time budget of {budget:g} s was spent before this check"
    )
    return _failure("timeout", what + " (slow calls took it; the budget is --budget)")


# -- turning replies into results ---------------------------------------------------------


def _skipped(step: Step, note: str) -> CheckResult:
    """A check not run here, for no points either way."""
    ex, check = step.exercise, step.check
    return CheckResult(
        ex.name,
        check.name,
        check.title,
        SKIPPED,
        0,
        0,
        note=note,
        hidden=step.hidden,
        section=ex.section,
    )


def _not_predicted(got: Reply, verdict: Verdict | None) -> str:
    """Why a learner's copy makes no speed prediction (the value checks say more), or ''."""
    if got.status in ("not_attempted", "missing"):
        return "not timed: not attempted yet"
    if verdict is not None and verdict.message.startswith(WRONG_OUTPUT):
        return "not timed: the output is wrong (the value checks say how)"
    return ""


_STATUS = {
    "not_attempted": NOT_ATTEMPTED,
    "missing": MISSING,
    "error": ERROR,
    "contract": ERROR,
    "timeout": TIMEOUT,
    "died": CRASHED,
    "protocol": CRASHED,
}


def evaluate(
    ex: Exercise,
    check: Check,
    inputs: dict,
    expected: Reply | None,
    got: Reply,
    hidden: bool,
    hints: bool = True,
) -> CheckResult:
    verdict = check.judge(inputs, expected, got) if got.ok else check.judge.on_error(got)
    result = conclude(ex, check, verdict, got, hidden, hints)
    if result.status == FAILED and check.picture and not hidden:
        result.picture = _picture(check, inputs, expected, got)
    return result


def _picture(check: Check, inputs: dict, expected: Reply | None, got: Reply) -> Picture | None:
    """The failed check's attention weights as a picture; never one of hidden expected values.
    A picture is an extra: an output it cannot draw leaves it out, the verdict stands."""
    try:
        sight = check.judge.sight(check.picture, inputs, expected, got)
        return pictures.take(check.picture, sight) if sight is not None else None
    except Exception:
        return None


def conclude(
    ex: Exercise, check: Check, verdict: Verdict | None, got: Reply, hidden: bool, hints: bool
) -> CheckResult:
    """The result of a check from its verdict, or from the reply's error when there is none."""
    if verdict is not None:
        status = PASSED if verdict.passed else (NOTE if check.points == 0 else FAILED)
        body = verdict.message
    else:
        status = _STATUS[got.status]
        body = _describe_error(got)
    passed = verdict is not None and verdict.passed
    result = CheckResult(
        exercise=ex.name,
        check=check.name,
        title=check.title,
        status=status,
        points=check.points if passed else 0,
        max_points=check.points,
        note=verdict.note if verdict is not None else "",
        diagnosis=verdict.diagnosis if verdict is not None else "",
        error_ratio=verdict.error_ratio if verdict is not None else None,
        hidden=hidden,
        section=ex.section,
        seconds=got.seconds,
    )
    if not passed:
        result.tried = check.tries
        result.problem = body
        result.advice = check.advice if verdict is not None and verdict.advise and hints else ""
        result.hint = ex.hint if hints else ""
        result.look = where_to_look(check.look or ex.section)
        result.printed = got.printed
    return result


def _describe_error(got: Reply) -> str:
    err = got.error or {}
    message = err.get("message", "")
    if got.status == "missing":
        return message
    if got.status == "not_attempted":
        return f"not attempted yet: {message}"
    if got.status in ("timeout", "died", "protocol"):
        return message + (
            " while importing the module" if got.info.get("phase") == "import" else ""
        )
    where = " while importing the module" if got.info.get("phase") == "import" else ""
    lines = [f"raised {err.get('type', 'an exception')}{where}: {message}"]
    # A worker's error was checked at the wire (protocol.ERROR): frames are objects of strings
    # and numbers, any of which may be missing.
    for frame in err.get("frames", [])[-3:]:
        parts = [frame.get(k, "?") for k in ("file", "line", "function", "code")]
        lines.append("  at {}:{} in {}: {}".format(*parts))
    if note := python_version.explain(str(err.get("type", "")), str(message)):
        lines.append(note)
    return "\n".join(lines)


__all__ = [
    "Grading",
    "Options",
    "Session",
    "Step",
    "Verdict",
    "evaluate",
    "grade",
    "plan",
    "select",
]
