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
from grader.report.results import FORBIDDEN, MISSING, NOT_ATTEMPTED, PASSED, Report
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

    for ex in summaries:
        if not ex.failed:
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
        # A mistake named by several checks is said once, for the whole exercise.
        named = Counter(r.likely for r in ex.failed if r.likely)
        common = next((text for text, n in named.most_common(1) if n > 1), "")
        if common:
            line = Text("  likely mistake: ", style="bold magenta")
            line.append(shown(f"{common} (named by {named[common]} failed checks)"))
            console.print(line, soft_wrap=True)
        for r in ex.failed:
            line = shown(
                f"  ✗ {r.title}" + (" (hidden)" if r.hidden else ""),
                "red" if r.counts else "yellow",
            )
            line.append(
                f"  {_points(r.points, r.max_points)}" if r.counts else "  (a note, no points)",
                style="dim",
            )
            console.print(line, soft_wrap=True)
            details = r.details(with_hint=False, with_likely=r.likely != common)
            console.print(shown(_indent(details, "      ")), soft_wrap=True)
    notes = [r for r in report.results if r.passed and r.note]
    if notes:
        console.print()
        for r in notes:
            line = Text(f"note: {r.name}: ", style="yellow")
            line.append(shown(r.note))
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


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())
