"""The report as HTML: a fragment for Jupyter, and a self-contained page (`attention-grade
--html FILE`).

Both show what the console shows (the exercise table, then every failed check with what was
tried, what came back, the likely mistake, a hint and the section to reread) and, beside each
failed check of attention weights, the picture of the expected and the learner's weights
(grader.report.pictures). All text is escaped: learner-made text (messages, printed output,
the submission's name) can add no markup. The fragment styles itself inline, as Jupyter
wants; the page adds a stylesheet of its own, with no script and nothing fetched.
"""

from __future__ import annotations

import html
from pathlib import Path

from grader import environment
from grader.report.pictures import heatmap_html
from grader.report.results import FAILED, NOT_ATTEMPTED, PASSED, CheckResult, Report
from grader.report.sanitize import clean

_COLOURS = {PASSED: "#1a7f37", NOT_ATTEMPTED: "#6e7781"}


def _e(text: object) -> str:
    return html.escape(clean(text))


def _status_cell(status: str) -> str:
    mark = "✓" if status == PASSED else ("·" if status == NOT_ATTEMPTED else "✗")
    colour = _COLOURS.get(status, "#cf222e")
    return f'<td style="color:{colour}">{mark} {_e(status)}</td>'


def _failed_check(r: CheckResult) -> str:
    """One failed check: its title and points, its feedback, and its picture if it has one."""
    points = f"{r.points:g}/{r.max_points}" if r.counts else "a note, no points"
    hidden = " (hidden)" if r.hidden else ""
    picture = heatmap_html(r.picture) if r.picture is not None and r.status == FAILED else ""
    return (
        f"<details open><summary>✗ {_e(r.title)}{hidden} · {points}</summary>"
        f'<pre style="white-space:pre-wrap">{_e(r.details(with_hint=False))}</pre>'
        f"{picture}</details>"
    )


def fragment(report: Report) -> str:
    """The report as a self-contained HTML fragment, styled inline."""
    e = _e
    summaries = report.exercises()
    rows = "".join(
        f"<tr><td><code>{e(s.name)}</code></td><td>{e(s.section)}</td>"
        f'<td style="text-align:right">{s.points:g}/{s.max_points}</td>{_status_cell(s.status)}</tr>'
        for s in summaries
    )
    parts = [
        '<div class="attention-kit">',
        "<table><thead><tr><th>Exercise</th><th>Book</th><th>Points</th><th>Status</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>",
    ]
    for s in summaries:
        if not s.failed:
            continue
        if s.status == NOT_ATTEMPTED:
            look = s.failed[0].look
            parts.append(f"<p>· <code>{e(s.name)}</code>: not attempted yet (read {e(look)})</p>")
            continue
        first = s.failed[0]
        parts.append(f"<p><b><code>{e(s.name)}</code></b> {s.points:g}/{s.max_points}")
        if first.look:
            parts.append(f" · look at {e(first.look)}")
        parts.append("</p>")
        if first.hint:
            parts.append(f"<p><i>hint:</i> {e(first.hint)}</p>")
        parts.extend(_failed_check(r) for r in s.failed)
    notes = [r for r in report.results if r.passed and r.note]
    for r in notes:
        parts.append(f"<p><i>note:</i> {e(r.name)}: {e(r.note)}</p>")
    done = sum(1 for s in summaries if s.status == PASSED)
    parts.append(
        f"<p><b>Total: {report.score:g}/{report.max_score} points</b> · {done} of "
        f"{len(summaries)} exercises complete · {report.seconds:.1f} s</p>"
    )
    context = f"expected values: {report.expected_from}; worker isolation: {report.isolation}"
    for line in [context, *report.notes]:
        parts.append(f'<p style="color:#6e7781">{e(line)}</p>')
    parts.append("</div>")
    return "".join(parts)


_PAGE_STYLE = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color: #1f2328; background: #ffffff; margin: 24px auto; max-width: 1100px;
       padding: 0 16px; }
h1 { font-size: 20px; margin: 0 0 4px 0; }
.attention-kit > table { border-collapse: collapse; margin: 12px 0 20px 0; }
.attention-kit > table th, .attention-kit > table td { border: 1px solid #d0d7de;
       padding: 4px 10px; text-align: left; }
.attention-kit > table th { background: #f6f8fa; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
details { margin: 6px 0 10px 16px; }
summary { color: #cf222e; cursor: pointer; }
pre { background: #f6f8fa; padding: 8px 10px; border-radius: 6px; margin: 6px 0;
      font-size: 12px; }
.context { color: #6e7781; font-size: 12px; }
"""


# The page loads nothing and runs nothing: its styles are inline.
_NOTHING_FETCHED = "default-src 'none'; style-src 'unsafe-inline'"


def page(report: Report) -> str:
    """The report as one self-contained HTML page: inline CSS, no script, nothing fetched."""
    title = f"Attention exercise kit: {report.submission}"
    graded = f"graded with {environment.one_line(report.environment)}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{_NOTHING_FETCHED}">'
        f"<title>{_e(title)}</title><style>{_PAGE_STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<p class="context">{report.score:g}/{report.max_score} points · {_e(graded)}</p>'
        f"{fragment(report)}</body></html>\n"
    )


def write(report: Report, path: Path) -> None:
    """Write `report` as an HTML page at `path` (its folder made if missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(report), encoding="utf-8")
