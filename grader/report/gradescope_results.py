"""The report as Gradescope's results.json (see Gradescope's autograder specification).

One test per check, named "<exercise>: <check title>" so that every name begins with the
exercise it grades. Hidden checks are "after_published": students see them, their inputs and
their feedback only once the instructor publishes grades. Zero-point notes are not tests;
they go into the top-level output.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader import environment
from grader.report.results import Report
from grader.report.sanitize import json_safe


def results_json(report: Report) -> dict:
    tests = []
    for number, r in enumerate((r for r in report.results if r.counts), start=1):
        output = r.feedback if not r.passed else r.note
        tests.append(
            {
                "name": r.name,
                "number": str(number),
                "score": r.points,
                "max_score": r.max_points,
                "status": "passed" if r.passed else "failed",
                "output": output,
                "output_format": "text",
                "visibility": "after_published" if r.hidden else "visible",
            }
        )
    lines = [f"Score: {report.score:g}/{report.max_score}"]
    lines += [
        f"note: {r.name}: {r.note or r.summary}"
        for r in report.results
        if not r.counts and (r.note or not r.passed)
    ]
    lines.append(f"Worker isolation: {report.isolation}. Expected values: {report.expected_from}.")
    lines.append(f"Graded with {environment.one_line(report.environment)}.")
    return {
        "score": report.score,
        "execution_time": round(report.seconds, 2),
        "output": "\n".join(lines),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"environment": report.environment},
    }


def unreadable_json(reason: str) -> dict:
    """The results.json of a submission that could not be read: 0 points, and why."""
    return {"score": 0, "output": reason, "visibility": "visible", "tests": []}


def write(report: Report | dict, path: Path) -> None:
    """Write `report`'s results.json (or an already built one, such as `unreadable_json`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    results = report if isinstance(report, dict) else results_json(report)
    path.write_text(json.dumps(json_safe(results), indent=2) + "\n")
