"""What grading produces: one result per check, grouped into a report.

Everything the console table, Gradescope's results.json, the pytest plugin and batch grading
show comes from these objects, so the verdicts cannot differ between them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from grader import environment

# Statuses of a check. "note" marks a zero-point check: shown, never deducted.
PASSED, FAILED, ERROR, NOT_ATTEMPTED, MISSING = (
    "passed",
    "failed",
    "error",
    "not attempted",
    "missing",
)
TIMEOUT, CRASHED, NOTE, FORBIDDEN = "timeout", "crashed", "note", "forbidden call"
SKIPPED = "skipped"  # could not run here (no GPU, no reference): no points either way

CAP = 12  # rows and columns a Picture keeps of its slice: the top-left corner
SUM_TOLERANCE = 1e-4  # a row sum this far from 1 is marked (where rows should sum to 1)
SIGMA = "Σ"


@dataclass
class Picture:
    """One 2-D slice of a failed check's weights, small and plain enough for any report."""

    key: str  # the output it shows
    shape: list[int]  # the learner's whole output
    where: str  # the leading indices of the slice shown ("[0, 1]"); "" for the whole output
    size: list[int]  # rows and columns of that slice, before the cap
    got: list[list[float]]  # the learner's weights: at most CAP x CAP
    expected: list[list[float]] | None = None  # None where the check has no expected values
    expected_size: list[int] = field(default_factory=list)
    wrong: list[list[int]] = field(default_factory=list)  # [row, column] of each marked entry
    got_sums: list[float] | None = None  # sums of the rows shown, where rows should sum to 1
    labels: list[str] = field(default_factory=lambda: ["expected", "yours"])
    marks: str = ""  # what a marked entry means
    note: str = ""  # why nothing is marked (the shapes differ, say)
    what: str = ""  # what the weights are, where not the output `key` itself

    @property
    def cropped(self) -> bool:
        return any(n > CAP for n in (*self.size, *self.expected_size))

    def sum_is_off(self, row: int) -> bool:
        if self.got_sums is None:
            return False
        total = self.got_sums[row]
        return not math.isfinite(total) or abs(total - 1) > SUM_TOLERANCE

    def caption(self) -> str:
        """One line saying what is shown and what the marks mean."""
        what = self.what or (f"output {self.key!r}" if self.key != "out" else "the output")
        parts = [f"{what} {tuple(self.shape)}" + (f", slice {self.where}" if self.where else "")]
        if self.cropped:
            parts.append(f"its top-left {CAP} x {CAP} corner")
        if self.marks and self.wrong:
            parts.append(f"* marks entries {self.marks}")
        if self.got_sums is not None:
            off = any(self.sum_is_off(i) for i in range(len(self.got_sums)))
            parts.append(f"{SIGMA}: row sums" + (", * where not 1" if off else ""))
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)


@dataclass
class CheckResult:
    exercise: str
    check: str  # the check's id within the exercise
    title: str
    status: str
    points: float
    max_points: int
    note: str = ""  # shown even on a pass: a correct but unusual structure, say
    hidden: bool = False  # drawn at grading time
    section: str = ""
    seconds: float = 0.0
    # What a failure tells the learner (all empty on a pass):
    tried: str = ""  # what was run, on what
    problem: str = ""  # expected vs got, or the error raised
    advice: str = ""  # what to check
    hint: str = ""  # the exercise's idea
    look: str = ""  # where in the chapter to look
    printed: str = ""  # what the learner's code printed meanwhile
    diagnosis: str = ""  # ids of the known mistakes the output matches, comma-separated
    likely: str = ""  # those mistakes in words, with the direction of the fix
    spotted: str = ""  # slips read in the exercise's source, one per line (grader.judge.slips)
    upstream: str = ""  # another exercise this one runs fails its own checks: fix it first
    # Value checks: the largest difference from the reference as a share of the tolerance
    # (1.0 fails). How close a passing answer came; the kit's own correct answers stay <= 0.1.
    error_ratio: float | None = None
    # A failed check of attention weights (Check.picture), never a hidden one: the expected and
    # the learner's weights, small (grader.report.pictures draws them). Not in to_dict.
    picture: Picture | None = None

    @property
    def summary(self) -> str:
        return self.problem.splitlines()[0] if self.problem else ""

    def details(
        self,
        with_hint: bool = True,
        with_likely: bool = True,
        with_spotted: bool = True,
        with_upstream: bool = True,
    ) -> str:
        """The feedback as labelled lines; empty for a pass. The general advice is left out
        where a named mistake or a slip in the code says more."""
        if self.passed:
            return ""
        lines = [f"first:    {self.upstream}"] if self.upstream and with_upstream else []
        lines.append(f"tried:    {self.tried}")
        for i, line in enumerate(self.problem.splitlines() or [""]):
            lines.append(("result:   " if i == 0 else " " * 10) + line)
        if self.spotted and with_spotted:
            for i, line in enumerate(self.spotted.splitlines()):
                lines.append(("in code:  " if i == 0 else " " * 10) + line)
        if self.likely and with_likely:
            lines.append(f"likely:   {self.likely}")
        elif self.advice and not self.likely and not self.spotted:
            lines.append(f"check:    {self.advice}")
        if with_hint and self.hint:
            lines.append(f"hint:     {self.hint}")
        if with_hint and self.look:
            lines.append(f"look at:  {self.look}")
        if self.printed.strip():
            shown = self.printed.rstrip().splitlines()[-15:]
            lines.append("your code printed:\n" + "\n".join("  | " + line for line in shown))
        return "\n".join(lines)

    @property
    def feedback(self) -> str:
        return self.details()

    @property
    def name(self) -> str:
        suffix = " (hidden)" if self.hidden else ""
        return f"{self.exercise}: {self.title}{suffix}"

    @property
    def passed(self) -> bool:
        return self.status in (PASSED, NOTE, SKIPPED)

    @property
    def counts(self) -> bool:
        """Zero-point notes never make a submission fail."""
        return self.max_points > 0


@dataclass
class ExerciseSummary:
    name: str
    section: str
    points: float
    max_points: int
    status: str  # passed | not attempted | missing | N of M checks failed
    failed: list[CheckResult]


@dataclass
class Report:
    submission: str
    results: list[CheckResult] = field(default_factory=list)
    isolation: str = "subprocess"
    expected_from: str = "reference"  # or "fixtures"
    device: str = ""  # where the speed checks ran
    hidden_checks: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=environment.describe)  # what graded

    @property
    def score(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def max_score(self) -> int:
        return sum(r.max_points for r in self.results)

    @property
    def all_passed(self) -> bool:
        return all(r.passed for r in self.results if r.counts)

    def exercises(self) -> list[ExerciseSummary]:
        order: dict[str, list[CheckResult]] = {}
        for r in self.results:
            order.setdefault(r.exercise, []).append(r)
        return [_summarise(name, rs) for name, rs in order.items()]

    def to_dict(self) -> dict:
        return {
            "submission": self.submission,
            "score": self.score,
            "max_score": self.max_score,
            "isolation": self.isolation,
            "expected_from": self.expected_from,
            "device": self.device,
            "hidden_checks": self.hidden_checks,
            "seconds": round(self.seconds, 2),
            "environment": self.environment,
            # without the pictures: a class's grading.json stays small
            "results": [{**asdict(r), "picture": None} for r in self.results],
        }


def _summarise(name: str, results: list[CheckResult]) -> ExerciseSummary:
    scored = [r for r in results if r.counts]
    failed = [r for r in scored if not r.passed]
    statuses = {r.status for r in scored}
    if not failed:
        status = PASSED
    elif statuses == {NOT_ATTEMPTED}:
        status = NOT_ATTEMPTED
    elif statuses == {MISSING}:
        status = MISSING
    elif FORBIDDEN in statuses:
        status = FORBIDDEN
    else:
        status = f"{len(failed)} of {len(scored)} checks failed"
    return ExerciseSummary(
        name=name,
        section=results[0].section,
        points=sum(r.points for r in results),
        max_points=sum(r.max_points for r in results),
        status=status,
        failed=failed + [r for r in results if not r.counts and not r.passed],
    )
