"""The class at a glance: what a batch of gradings says about a class, for its instructor.

`summarize` reads the records of a batch (one per submission, as `grader.batch` writes them
to grading.json: the id, an error note, and the report as a dict) into a summary, which
`summary_markdown` (summary.md) and `summary_html` (report.html) show and summary.json keeps:

- the scores, as a histogram;
- per exercise, how many submissions attempted it, their mean score, and the mistake most
  of them made, in words. An exercise left as the stub (or absent) is not attempted: it is
  counted neither as failed nor in the mean;
- the students to help: the lowest scores, with their diagnosed mistakes and their cascades
  (an exercise that fails because one it runs fails, `CheckResult.upstream`);
- the failures that no known mistake explains, grouped by their message, with who has them;
- the submissions that could not be graded, and what graded the others.

Submission ids and messages are the learners': every writer passes them through
`sanitize.clean`, and each format escapes them as well (Markdown's table and link syntax,
HTML). report.html is one self-contained page: inline CSS, no script, nothing fetched.
"""

from __future__ import annotations

import html
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from grader import environment
from grader.report.results import MISSING, NOT_ATTEMPTED, CheckResult, ExerciseSummary, Report
from grader.report.sanitize import clean

TOP_MISTAKES = 15  # the class's most frequent mistakes kept in summary.json
TO_HELP = 10  # the lowest scores listed as students to help
BINS = 10  # histogram bins of 10% each, plus one for full marks
NOT_TRIED = (NOT_ATTEMPTED, MISSING)  # an exercise left as the stub, or absent
LONG = 240  # characters of a message shown
MD_GROUPS = 10  # groups of unexplained failures in summary.md (report.html has them all)
OTHER_FAILURES = (
    "Other failures: the submissions that fail an exercise for a reason no known mistake "
    "explains (unexplained), or because an exercise it runs fails (cascade)."
)
# Numbers in a failure's message (values, indices, sizes) vary between submissions that fail
# the same way; failures are grouped by their message with its numbers left out.
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

Titles = Mapping[tuple[str, str], str]  # (exercise, diagnosis id) -> the mistake's title


# -- reading the records ----------------------------------------------------------------------


def check_results(record: dict) -> list[CheckResult]:
    """The check results of a record's report (none for a submission not graded)."""
    names = {f.name for f in fields(CheckResult)}
    results = (record.get("report") or {}).get("results", [])
    return [CheckResult(**{k: v for k, v in r.items() if k in names}) for r in results]


@dataclass
class Submission:
    """What one graded submission did, read from its record."""

    id: str
    score: float
    max_score: int
    exercises: list[ExerciseSummary]
    results: list[CheckResult]
    # (exercise, diagnosis id) -> the mistake in words; only where no cascade explains it
    mistakes: dict[tuple[str, str], str] = field(default_factory=dict)
    # exercise -> the failing exercises it runs, which make it fail
    cascades: dict[str, list[str]] = field(default_factory=dict)
    undiagnosed: dict[tuple[str, str], str] = field(default_factory=dict)  # key -> message

    @property
    def attempted(self) -> list[ExerciseSummary]:
        return [ex for ex in self.exercises if ex.status not in NOT_TRIED]


def read_submission(record: dict, titles: Titles) -> Submission:
    """A graded record's scores, mistakes (in words), cascades and unexplained failures."""
    results = check_results(record)
    report = record["report"]
    sub = Submission(
        record["id"],
        report["score"],
        report["max_score"],
        Report(record["id"], results).exercises(),
        results,
    )
    tried = {ex.name for ex in sub.attempted}
    failing = [r for r in results if r.counts and not r.passed and r.exercise in tried]
    failing_exercises = list(dict.fromkeys(r.exercise for r in failing))
    for r in failing:
        if r.upstream:
            sub.cascades[r.exercise] = _named(r.upstream, failing_exercises, r.exercise)
        elif r.diagnosis:
            ids = [m for m in r.diagnosis.split(",") if m]
            for m in ids:
                likely = r.likely if len(ids) == 1 else ""  # a likely line of this one alone
                if sub.mistakes.get((r.exercise, m), m) == m:  # no words for it yet
                    sub.mistakes[r.exercise, m] = titles.get((r.exercise, m)) or likely or m
        else:
            message = clean(r.summary or r.status, one_line=True)
            sub.undiagnosed.setdefault((r.exercise, _NUMBER.sub("…", message)), message)
    return sub


def _named(upstream: str, exercises: list[str], exercise: str) -> list[str]:
    """The failing exercises (other than `exercise`) that an upstream note names."""
    return [e for e in exercises if e != exercise and re.search(rf"\b{re.escape(e)}\b", upstream)]


# -- the summary ------------------------------------------------------------------------------


@dataclass
class _Tally:
    """One exercise across the class."""

    graded: int = 0
    attempted: int = 0
    points: float = 0.0
    max_points: int = 0
    mistakes: Counter = field(default_factory=Counter)
    unexplained: int = 0  # submissions with a failure no known mistake explains
    cascades: int = 0  # submissions where it fails because an exercise it runs fails


def summarize(records: list[dict], settings: dict, titles: Titles | None = None) -> dict:
    """The class summary (JSON data): `settings` (seed, isolation, ...) and what graded, the
    scores, each exercise's attempts and mistakes, the students to help, the unexplained
    failures and the submissions that could not be graded. `titles` names the mistakes."""
    graded_records = [r for r in records if r.get("report")]
    subs = [read_submission(r, titles or {}) for r in graded_records]
    tallies = _tallies(subs)
    scores = sorted(s.score for s in subs)
    return {
        **settings,
        "environment": environment.describe(),
        "graded_with": _environments(graded_records),
        "hidden_checks": any(r["report"]["hidden_checks"] for r in graded_records),
        "submissions": len(records),
        "graded": len(subs),
        "mean_score": round(sum(scores) / len(scores), 2) if scores else None,
        "median_score": scores[len(scores) // 2] if scores else None,
        "max_score": subs[0].max_score if subs else None,
        "histogram": _histogram(subs),
        "exercises": [_exercise_row(name, t, subs) for name, t in tallies.items()],
        "pass_rate": _pass_rates(subs),
        "mistakes": _top_mistakes(tallies, subs),
        "to_help": [_help_row(s) for s in _lowest(subs)],
        "undiagnosed": _undiagnosed_groups(subs),
        "errors": sorted(
            ({"id": r["id"], "error": r["error"]} for r in records if r.get("error")),
            key=lambda e: e["id"],
        ),
    }


def _tallies(subs: list[Submission]) -> dict[str, _Tally]:
    tallies: dict[str, _Tally] = {}
    for sub in subs:
        for ex in sub.exercises:
            tally = tallies.setdefault(ex.name, _Tally())
            tally.graded += 1
            tally.max_points = max(tally.max_points, ex.max_points)
            if ex.status not in NOT_TRIED:
                tally.attempted += 1
                tally.points += ex.points
        for exercise, mistake in sub.mistakes:
            tallies[exercise].mistakes[mistake] += 1
        for exercise in {e for e, _ in sub.undiagnosed}:
            tallies[exercise].unexplained += 1
        for exercise in sub.cascades:
            tallies[exercise].cascades += 1
    return tallies


def _title(subs: list[Submission], exercise: str, mistake: str) -> str:
    """A mistake in words, as the first submission that made it has it."""
    return next(s.mistakes[exercise, mistake] for s in subs if (exercise, mistake) in s.mistakes)


def _exercise_row(name: str, tally: _Tally, subs: list[Submission]) -> dict:
    top = tally.mistakes.most_common(1)
    return {
        "name": name,
        "graded": tally.graded,
        "attempted": tally.attempted,
        "mean_points": round(tally.points / tally.attempted, 2) if tally.attempted else None,
        "max_points": tally.max_points,
        "top_mistake": {
            "id": top[0][0],
            "title": _title(subs, name, top[0][0]),
            "submissions": top[0][1],
        }
        if top
        else None,
        "unexplained": tally.unexplained,
        "cascades": tally.cascades,
    }


def _pass_rates(subs: list[Submission]) -> dict[str, float]:
    """Each check's share of passes among the submissions that attempted its exercise."""
    passes: dict[str, list[int]] = {}
    for sub in subs:
        tried = {ex.name for ex in sub.attempted}
        for r in sub.results:
            if r.counts and r.exercise in tried:
                tally = passes.setdefault(r.name, [0, 0])
                tally[0] += r.passed
                tally[1] += 1
    return {name: round(p / n, 3) for name, (p, n) in passes.items()}


def _top_mistakes(tallies: dict[str, _Tally], subs: list[Submission]) -> list[dict]:
    counts = Counter(
        {(name, m): n for name, tally in tallies.items() for m, n in tally.mistakes.items()}
    )
    return [
        {"exercise": e, "id": m, "title": _title(subs, e, m), "submissions": n}
        for (e, m), n in counts.most_common(TOP_MISTAKES)
    ]


def _histogram(subs: list[Submission]) -> list[dict]:
    """Submissions per 10% of the maximum score, full marks in a bin of their own."""
    counts = [0] * (BINS + 1)
    for s in subs:
        full = s.score >= s.max_score
        counts[BINS if full else min(int(s.score * BINS // s.max_score), BINS - 1)] += 1
    step = 100 // BINS
    labels = [f"{i * step}–{i * step + step - 1}%" for i in range(BINS)] + ["100%"]
    return [{"scores": label, "submissions": n} for label, n in zip(labels, counts, strict=True)]


def _lowest(subs: list[Submission]) -> list[Submission]:
    below = [s for s in subs if s.score < s.max_score]
    return sorted(below, key=lambda s: (s.score / s.max_score, s.id))[:TO_HELP]


def _help_row(sub: Submission) -> dict:
    return {
        "id": sub.id,
        "score": sub.score,
        "max_score": sub.max_score,
        "attempted": len(sub.attempted),
        "exercises": len(sub.exercises),
        "mistakes": [{"exercise": e, "title": t} for (e, _), t in sub.mistakes.items()],
        "cascades": [{"exercise": e, "because": b} for e, b in sub.cascades.items()],
        "undiagnosed": list(dict.fromkeys(e for e, _ in sub.undiagnosed)),
    }


def _undiagnosed_groups(subs: list[Submission]) -> list[dict]:
    """The unexplained failures by exercise and message (numbers aside), most frequent first;
    each with its most frequent exact message and the submissions that have it."""
    who: dict[tuple[str, str], list[str]] = defaultdict(list)
    messages: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for sub in sorted(subs, key=lambda s: s.id):
        for key, message in sub.undiagnosed.items():
            who[key].append(sub.id)
            messages[key][message] += 1
    groups = sorted(who.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [
        {
            "exercise": exercise,
            "message": messages[exercise, pattern].most_common(1)[0][0],
            "submissions": ids,
        }
        for (exercise, pattern), ids in groups
    ]


def _environments(graded_records: list[dict]) -> list[dict]:
    """What graded the submissions (a resumed batch keeps earlier runs' gradings)."""
    counts = Counter(
        environment.one_line(defaultdict(lambda: "?", r["report"]["environment"]))
        for r in graded_records
        if isinstance(r["report"].get("environment"), dict)
    )
    return [{"environment": e, "submissions": n} for e, n in counts.most_common()]


# -- summary.md -------------------------------------------------------------------------------


def _md(text: object, limit: int = LONG) -> str:
    """Learner text for one line of Markdown: cleaned, shortened, and with what could make a
    link, a tag, code, emphasis or a table cell escaped."""
    return re.sub(r"([\\`<>\[\]|*])", r"\\\1", _short(clean(text, one_line=True), limit))


def _cell(text: str) -> str:
    """The kit's own text (a mistake's title) for a Markdown table cell."""
    return clean(text, one_line=True).replace("|", "\\|")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fraction(n: int, of: int) -> str:
    return f"{n} of {of}"


def _points(points: float | None, max_points: int) -> str:
    return "–" if points is None else f"{points:g} / {max_points}"


def _overview(summary: dict) -> list[str]:
    hidden = "yes" if summary["hidden_checks"] else "no"
    if summary["hidden_checks"]:
        hidden += f" (seed {summary['seed']}, the same for every submission)"
    return [
        f"- submissions: {summary['submissions']} ({summary['graded']} graded, "
        f"{len(summary['errors'])} could not be graded)",
        f"- score: mean {summary['mean_score']}, median {summary['median_score']} "
        f"of {summary['max_score']}",
        f"- hidden checks: {hidden}",
        f"- worker isolation: {summary['isolation']}",
        f"- graded with {environment.one_line(summary['environment'])}",
    ]


def _exercise_md(row: dict) -> str:
    top = row["top_mistake"]
    mistake = f"{top['title']} ({top['submissions']})" if top else "–"
    attempted = _fraction(row["attempted"], row["graded"])
    return (
        f"| {row['name']} | {attempted} | {_points(row['mean_points'], row['max_points'])} "
        f"| {_cell(mistake)} | {_other_failures(row) or '–'} |"
    )


def _other_failures(row: dict) -> str:
    """'2 unexplained, 1 cascade': the submissions failing the exercise for no named mistake."""
    parts = [f"{row['unexplained']} unexplained"] if row["unexplained"] else []
    if row["cascades"]:
        parts.append(_plural(row["cascades"], "cascade"))
    return ", ".join(parts)


def _help_md(row: dict) -> str:
    parts = [
        f"{_points(row['score'], row['max_score'])}, attempted "
        f"{_fraction(row['attempted'], row['exercises'])} exercises"
    ]
    parts += [f"{m['exercise']}: {m['title']}" for m in row["mistakes"]]
    parts += [_cascade_text(c) for c in row["cascades"]]
    if row["undiagnosed"]:
        parts.append("unexplained failures in " + ", ".join(row["undiagnosed"]))
    return f"- **{_md(row['id'], 80)}**: " + "; ".join(clean(p, one_line=True) for p in parts)


def _cascade_text(cascade: dict, name=str) -> str:
    """'CausalAttention fails because causal_mask does', each exercise shown by `name`."""
    because = " and ".join(map(name, cascade["because"])) or "an exercise it runs"
    return f"{name(cascade['exercise'])} fails because {because} does"


def _who(ids: list[str], shown: int) -> list[str]:
    """The first `shown` ids, then how many more."""
    more = [f"and {len(ids) - shown} more"] if len(ids) > shown else []
    return ids[:shown] + more


def summary_markdown(summary: dict) -> str:
    """summary.md: the overview, one row per exercise, the students to help, the unexplained
    failures and the submissions that could not be graded; report.html has the rest."""
    lines = ["# Class summary", "", *_overview(summary), ""]
    lines += [
        "report.html shows the same with the score histogram. An exercise left as the stub "
        "(or absent) is not attempted, never failed; the mean is over those that attempted it.",
        "",
        "## Exercises",
        "",
        OTHER_FAILURES,
        "",
        "| Exercise | Attempted | Mean among attempts | Most common mistake (submissions) "
        "| Other failures |",
        "|---|---|---|---|---|",
        *(_exercise_md(row) for row in summary["exercises"]),
        "",
        "## Students to help",
        "",
        *(
            [_help_md(row) for row in summary["to_help"]]
            or ["Every graded submission has full marks."]
        ),
        "",
        "## Failures no known mistake explains",
        "",
    ]
    groups = summary["undiagnosed"]
    lines += [
        f"- {g['exercise']}, {_plural(len(g['submissions']), 'submission')}: {_md(g['message'])} "
        f"({', '.join(_md(i, 40) for i in _who(g['submissions'], 5))})"
        for g in groups[:MD_GROUPS]
    ] or ["None."]
    if len(groups) > MD_GROUPS:
        lines.append(f"- and {len(groups) - MD_GROUPS} less frequent ones: see report.html")
    lines += ["", "## Submissions that could not be graded", ""]
    lines += [f"- {_md(e['id'], 80)}: {_md(e['error'])}" for e in summary["errors"]] or ["None."]
    return "\n".join(lines) + "\n"


# -- report.html ------------------------------------------------------------------------------

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
 max-width:1100px;margin:2rem auto;padding:0 1.2rem}
h1{font-size:1.7rem;margin:0 0 .4rem}
h2{font-size:1.2rem;margin:2.2rem 0 .6rem;padding-bottom:.3rem;border-bottom:1px solid #d0d7de}
p.lead{color:#57606a;margin:.2rem 0 1rem}
.facts{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.fact{border:1px solid #d0d7de;border-radius:6px;padding:.5rem .9rem;min-width:8rem}
.fact b{display:block;font-size:1.35rem}
.fact span{color:#57606a;font-size:.85rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:.4rem .6rem;border-bottom:1px solid #d8dee4}
th{background:#f6f8fa;font-weight:600}
td.num{white-space:nowrap;font-variant-numeric:tabular-nums}
.id,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
.id{overflow-wrap:anywhere}
code{white-space:nowrap}
table.settings th{width:11rem;white-space:nowrap}
.muted{color:#57606a}
.none{color:#57606a;font-style:italic}
ul{margin:0;padding-left:1.1rem}
.meter{display:inline-block;width:70px;height:8px;border-radius:4px;background:#eaeef2;
 margin-right:.5rem;vertical-align:middle;overflow:hidden}
.meter i{display:block;height:100%;background:#2da44e}
.meter.tried i{background:#0969da}
.hist{display:flex;align-items:flex-end;gap:6px;height:190px;border-bottom:1px solid #8c959f}
.hist div{flex:1;display:flex;flex-direction:column;align-items:center;justify-content:flex-end;
 height:100%}
.hist i{display:block;width:100%;background:#0969da;border-radius:3px 3px 0 0}
.hist b{font-size:.8rem;font-weight:600;color:#57606a}
.axis{display:flex;gap:6px;margin-top:.3rem}
.axis span{flex:1;text-align:center;font-size:.75rem;color:#57606a}
"""
HEAD = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
    "style-src 'unsafe-inline'\">"
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    f"<title>Class report</title><style>{CSS}</style></head><body>"
)
BAR_PX = 160  # the tallest bar of the histogram


def _h(text: object, limit: int = LONG) -> str:
    """Any text for HTML: cleaned, shortened, escaped."""
    return html.escape(_short(clean(text, one_line=True), limit))


def _code(name: str) -> str:
    return f"<code>{_h(name)}</code>"


def _table(headers: list[str], rows: list[str], empty: str) -> str:
    """A table of `rows` (HTML already), or the `empty` line where there are none."""
    if not rows:
        return f'<p class="none">{empty}</p>'
    head = "".join(f"<th>{h}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _meter(share: float, kind: str = "") -> str:
    """A small horizontal bar filled to `share` (0 to 1)."""
    return f'<span class="meter {kind}"><i style="width:{share:.0%}"></i></span>'


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>" if items else ""


def _facts_html(summary: dict) -> str:
    facts = [
        (summary["submissions"], "submissions"),
        (summary["graded"], "graded"),
        (len(summary["errors"]), "could not be graded"),
        (summary["mean_score"], f"mean score of {summary['max_score']}"),
        (summary["median_score"], "median score"),
    ]
    shown = "".join(
        f'<div class="fact"><b>{"–" if v is None else f"{v:g}"}</b><span>{_h(label)}</span></div>'
        for v, label in facts
    )
    return f'<div class="facts">{shown}</div>'


def _histogram_html(summary: dict) -> str:
    bins = summary["histogram"]
    if not summary["graded"]:
        return '<p class="none">No submission was graded.</p>'
    top = max(b["submissions"] for b in bins)
    bars = "".join(
        f'<div title="{_h(b["scores"])}"><b>{b["submissions"] or ""}</b>'
        f'<i style="height:{round(BAR_PX * b["submissions"] / top)}px"></i></div>'
        for b in bins
    )
    axis = "".join(f"<span>{_h(b['scores'])}</span>" for b in bins)
    return (
        f'<div class="hist">{bars}</div><div class="axis">{axis}</div>'
        '<p class="muted">Submissions by score, as a share of the maximum.</p>'
    )


def _exercise_html(row: dict) -> str:
    top = row["top_mistake"]
    mistake = (
        f'{_h(top["title"])} <span class="muted">({top["submissions"]})</span>'
        if top
        else '<span class="none">none diagnosed</span>'
    )
    tried = row["attempted"] / row["graded"] if row["graded"] else 0
    mean = row["mean_points"]
    score = _meter(mean / row["max_points"]) if mean is not None and row["max_points"] else ""
    return (
        f"<tr><td>{_code(row['name'])}</td>"
        f'<td class="num">{_meter(tried, "tried")}{_fraction(row["attempted"], row["graded"])}</td>'
        f'<td class="num">{score}{_h(_points(mean, row["max_points"]))}</td><td>{mistake}</td>'
        f'<td class="num">{_h(_other_failures(row))}</td></tr>'
    )


def _help_html(row: dict) -> str:
    mistakes = [f"{_code(m['exercise'])}: {_h(m['title'])}" for m in row["mistakes"]]
    cascades = [_cascade_text(c, _code) for c in row["cascades"]]
    undiagnosed = [_code(e) for e in row["undiagnosed"]]
    return (
        f'<tr><td class="id">{_h(row["id"], 80)}</td>'
        f'<td class="num">{_h(_points(row["score"], row["max_score"]))}</td>'
        f'<td class="num">{_fraction(row["attempted"], row["exercises"])}</td>'
        f"<td>{_list(mistakes)}</td><td>{_list(cascades)}</td>"
        f"<td>{', '.join(undiagnosed)}</td></tr>"
    )


def _undiagnosed_html(group: dict) -> str:
    ids = group["submissions"]
    who = ", ".join(f'<span class="id">{_h(i, 80)}</span>' for i in _who(ids, 20))
    return (
        f"<tr><td>{_code(group['exercise'])}</td><td>{_h(group['message'])}</td>"
        f'<td class="num">{len(ids)}</td><td>{who}</td></tr>'
    )


def _environment_html(summary: dict) -> str:
    settings = {
        "hidden checks": f"seed {summary['seed']}" if summary["hidden_checks"] else "not run",
        "worker isolation": summary["isolation"],
        **summary["environment"],
    }
    rows = [f"<tr><th>{_h(k)}</th><td>{_h(v, 1000)}</td></tr>" for k, v in settings.items()]
    html_rows = f'<table class="settings"><tbody>{"".join(rows)}</tbody></table>'
    if len(summary["graded_with"]) > 1:
        mixed = [f"{_h(e['environment'])}: {e['submissions']}" for e in summary["graded_with"]]
        html_rows += "<p>Submissions were graded in different environments:</p>" + _list(mixed)
    return html_rows


def summary_html(summary: dict) -> str:
    """report.html: the summary as one self-contained page."""
    sections = [
        "<h1>Class report</h1>",
        '<p class="lead">An exercise left as the stub (or absent) counts as not attempted, '
        "never as failed; means are over the submissions that attempted it.</p>",
        _facts_html(summary),
        "<h2>Scores</h2>",
        _histogram_html(summary),
        "<h2>Exercises</h2>",
        f'<p class="muted">{OTHER_FAILURES}</p>',
        _table(
            [
                "Exercise",
                "Attempted",
                "Mean among attempts",
                "Most common mistake (submissions)",
                "Other failures",
            ],
            [_exercise_html(row) for row in summary["exercises"]],
            "No submission was graded.",
        ),
        "<h2>Students to help</h2>",
        '<p class="muted">The lowest scores. A cascade is an exercise that fails because an '
        "exercise it runs fails: fixing that one may fix both.</p>",
        _table(
            [
                "Submission",
                "Score",
                "Attempted",
                "Diagnosed mistakes",
                "Cascades",
                "Unexplained failures in",
            ],
            [_help_html(row) for row in summary["to_help"]],
            "Every graded submission has full marks.",
        ),
        "<h2>Failures no known mistake explains</h2>",
        _table(
            ["Exercise", "Message", "Submissions", "Who"],
            [_undiagnosed_html(group) for group in summary["undiagnosed"]],
            "None.",
        ),
        "<h2>Submissions that could not be graded</h2>",
        _table(
            ["Submission", "Why"],
            [
                f'<tr><td class="id">{_h(e["id"], 80)}</td><td>{_h(e["error"])}</td></tr>'
                for e in summary["errors"]
            ],
            "None.",
        ),
        "<h2>Grading environment</h2>",
        _environment_html(summary),
    ]
    return HEAD + "".join(sections) + "</body></html>\n"
