"""The report in a terminal: a table of exercises, then what went wrong and where to look.

All learner-derived text (messages, printed output, the submission's name) goes through
`rich.text.Text`, never through markup, so a submission cannot style or hide parts of its own
report, and through `sanitize.clean` first, so that no escape sequence moves the cursor or
rewrites a line (a fake "Total" line) and no unencodable character stops the report.
"""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader import environment
from grader.checks.spec import where_to_look
from grader.report import pictures
from grader.report.results import (
    CRASHED,
    ERROR,
    FAILED,
    FORBIDDEN,
    MISSING,
    NOT_ATTEMPTED,
    PASSED,
    TIMEOUT,
    CheckResult,
    ExerciseSummary,
    Report,
)
from grader.report.sanitize import clean

STYLES = {PASSED: "green", NOT_ATTEMPTED: "dim", MISSING: "yellow"}


def _points(points: float, max_points: int) -> str:
    return f"{points:g}/{max_points}"


def _safe(text: str, console: Console) -> str:
    """`clean` text, also without what the console's encoding cannot write (a latin-1 pipe)."""
    encoding = console.encoding or "utf-8"
    return clean(text).encode(encoding, "replace").decode(encoding)


def render(report: Report, console: Console | None = None) -> None:
    console = console or Console()

    def shown(value: str, style: str = "") -> Text:
        return Text(_safe(value, console), style=style)

    table = Table(title=shown(f"Attention exercise kit: {report.submission}"), title_justify="left")
    table.add_column("Exercise")
    table.add_column("Book", style="dim")
    table.add_column("Points", justify="right")
    table.add_column("Status")
    summaries = report.exercises()
    for ex in summaries:
        status = ex.status
        style = STYLES.get(status, "red")
        mark = "✓" if status == PASSED else ("·" if status == NOT_ATTEMPTED else "✗")
        table.add_row(
            ex.name,
            ex.section,
            _points(ex.points, ex.max_points),
            shown(f"{mark} {status}", style),  # ✓ is not latin-1
        )
    console.print(table)

    # A module that cannot be imported fails every exercise that needs it the same way: say it
    # once, above them, and give each of those exercises one line.
    import_errors = _shared_import_errors(summaries)
    for problem, names in import_errors.items():
        console.print()
        line = Text("✗ a module cannot be imported: ", style="bold red")
        line.append(shown(problem))
        console.print(line, soft_wrap=True)
        console.print(
            shown(f"  so {len(names)} exercises could not run: {', '.join(names)}", "dim"),
            soft_wrap=True,
        )
    blocked = {name for names in import_errors.values() for name in names}

    for ex in summaries:
        if not ex.failed or ex.name in blocked:
            continue
        if ex.status in (NOT_ATTEMPTED, MISSING, FORBIDDEN):
            reason = "not attempted yet" if ex.status == NOT_ATTEMPTED else ex.failed[0].summary
            line = Text(f"· {ex.name}: ", style="bold")
            line.append(shown(f"{reason} (read {where_to_look(ex.section)})"))
            console.print(line, soft_wrap=True)
            continue
        first = ex.failed[0]
        console.print()
        head = Text(f"{ex.name}", style="bold")
        head.append(f"  {_points(ex.points, ex.max_points)}  ·  look at {first.look}", style="dim")
        console.print(head, soft_wrap=True)
        if first.hint:
            console.print(shown(f"  hint: {first.hint}", "cyan"), soft_wrap=True)
        upstream = next((r.upstream for r in ex.failed if r.upstream), "")
        if upstream:
            line = Text("  first: ", style="bold magenta")
            line.append(shown(upstream))
            console.print(line, soft_wrap=True)
        slips = {r.spotted for r in ex.failed if r.spotted}
        shared = slips.pop() if len(slips) == 1 else ""
        if shared:  # said once for the exercise: it is about the code, not one check
            for i, text in enumerate(shared.splitlines()):
                line = Text("  in your code: " if i == 0 else " " * 15, style="bold magenta")
                line.append(shown(text))
                console.print(line, soft_wrap=True)
        # A mistake named by several checks is said once, for the whole exercise.
        named = Counter(r.likely for r in ex.failed if r.likely)
        common = next((text for text, n in named.most_common(1) if n > 1), "")
        if common:
            line = Text("  likely mistake: ", style="bold magenta")
            line.append(shown(f"{common} (named by {named[common]} failed checks)"))
            console.print(line, soft_wrap=True)
        for group in _same_problem(ex.failed):
            r = group[0]
            if len(group) == 1:
                title = r.title + (" (hidden)" if r.hidden else "")
                points = _points(r.points, r.max_points) if r.counts else "(a note, no points)"
            else:  # one error, said once for every check it stopped
                title = f"{len(group)} checks stopped by the same error: " + "; ".join(
                    x.title + (" (hidden)" if x.hidden else "") for x in group
                )
                points = _points(sum(x.points for x in group), sum(x.max_points for x in group))
            line = shown(f"  ✗ {title}", "red" if r.counts else "yellow")
            line.append(f"  {points}", style="dim")
            console.print(line, soft_wrap=True)
            details = r.details(
                with_hint=False,
                with_likely=r.likely != common,
                with_spotted=not shared,
                with_upstream=False,
            )
            console.print(shown(_indent(details, "      ")), soft_wrap=True)
            if r.picture is not None and r.status == FAILED:
                console.print(pictures.grid(r.picture, console))
    notes: dict[str, list[CheckResult]] = {}  # the same note for several checks, said once
    for r in report.results:
        if r.passed and r.note:
            notes.setdefault(r.note, []).append(r)
    if notes:
        console.print()
        for note, results in notes.items():
            if len(results) == 1:
                line = Text(f"note: {results[0].name}: ", style="yellow")
                line.append(shown(note))
            else:
                line = Text("note: ", style="yellow")
                exercises = ", ".join(dict.fromkeys(r.exercise for r in results))
                what = results[0].title.split(" (")[0]
                line.append(shown(f"{note} [{what}: {exercises}]"))
            console.print(line, soft_wrap=True)

    done = sum(1 for ex in summaries if ex.status == PASSED)
    console.print()
    total = Text(f"Total: {_points(report.score, report.max_score)} points", style="bold")
    total.append(f"  ·  {done} of {len(summaries)} exercises complete  ·  {report.seconds:.1f} s")
    console.print(total)
    context = f"expected values: {report.expected_from}; worker isolation: {report.isolation}"
    if not report.hidden_checks:
        context += "; hidden checks run only when an instructor grades"
    if report.device:
        context += f"; speed measured on {report.device}"
    console.print(shown(context, "dim"), soft_wrap=True)
    console.print(
        shown(f"graded with {environment.one_line(report.environment)}", "dim"), soft_wrap=True
    )
    for note in report.notes:
        console.print(shown(note, "dim"))


# The statuses of a check that never reached a verdict: its call raised, crashed or hung.
_NO_VERDICT = (ERROR, CRASHED, TIMEOUT, MISSING)
IMPORTING = "while importing the module"


def _same_problem(failed: list[CheckResult]) -> list[list[CheckResult]]:
    """The failed checks in order, those stopped by one identical error grouped together (a
    wrong answer is never grouped: each check's own difference says something)."""
    groups: dict[str, list[CheckResult]] = {}
    out: list[list[CheckResult]] = []
    for r in failed:
        if r.status in _NO_VERDICT and r.problem and r.counts:
            if r.problem in groups:
                groups[r.problem].append(r)
                continue
            groups[r.problem] = [r]
            out.append(groups[r.problem])
        else:
            out.append([r])
    return out


def _shared_import_errors(summaries: list[ExerciseSummary]) -> dict[str, list[str]]:
    """problem -> the exercises every one of whose failed checks is that import error, for the
    errors that stop more than one exercise."""
    by_problem: dict[str, list[str]] = {}
    for ex in summaries:
        problems = {r.problem for r in ex.failed if r.counts}
        if len(problems) == 1 and all(r.status in _NO_VERDICT for r in ex.failed if r.counts):
            problem = problems.pop()
            first = problem.splitlines()[0]
            if IMPORTING in first:
                # (a module importing the broken one fails with the same first line)
                shown_as = next((p for p in by_problem if p.splitlines()[0] == first), problem)
                by_problem.setdefault(shown_as, []).append(ex.name)
    return {problem: names for problem, names in by_problem.items() if len(names) > 1}


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())
