"""GitHub Classroom: a workflow that grades every push, and the reporter's result format.

    attention-grade classroom DIR                   # write DIR/.github/workflows/classroom.yml
    attention-grade classroom-report results.json   # print result=<base64> for $GITHUB_OUTPUT

DIR is a learner's repository (a copy made by `attention-grade release`, or the template
repository an instructor hands out in GitHub Classroom). The workflow installs the kit from
the repository, runs `attention-grade exercises --fixtures --json results.json`, converts
the results with `classroom-report`, and passes them to GitHub Classroom's
`autograding-grading-reporter` action as the runner `attention` (environment variable
ATTENTION_RESULTS).

The reporter's format (the one its command and python graders write): base64 of the JSON

    {"version": 1, "status": "pass" | "fail" | "error", "max_score": M,
     "tests": [{"name", "status", "score", "message", "test_code", "filename", "line_no",
                "duration"}, ...]}

One test per check of results.json, with the check's points as its score. The reporter
posts the sum of the scores out of `max_score` to Classroom ("Points 98/114"); its console
table weights tests equally, so that table's percentage can differ from the points.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

from grader.integrations.gradescope import template

RUNNER = "attention"
WORKFLOW = Path(".github/workflows/classroom.yml")
MESSAGE_LIMIT = 4000  # characters of feedback per test: step outputs are limited in size


def learner_max_score() -> int:
    """The points of a learner's copy: public checks, speed checks skipped (no reference)."""
    from grader import checks
    from grader.checks.speed import Speed

    return sum(
        c.points for ex in checks.EXERCISES for c in ex.checks if not isinstance(c.judge, Speed)
    )


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 20] + "\n... (cut)"


def reporter_result(results: dict) -> dict:
    """The reporter's result for a kit results.json (Gradescope's format)."""
    tests = []
    for test in results.get("tests", []):
        passed = test.get("status") == "passed"
        tests.append(
            {
                "name": test["name"],
                "status": "pass" if passed else "fail",
                "score": test.get("score", 0),
                "message": "" if passed else _clip(test.get("output", "")),
                "test_code": "",
                "filename": "",
                "line_no": 0,
                "duration": 0,
            }
        )
    max_score = sum(t.get("max_score", 0) for t in results.get("tests", []))
    return {
        "version": 1,
        "status": "pass" if all(t["status"] == "pass" for t in tests) else "fail",
        "max_score": max_score,
        "tests": tests,
    }


def error_result(message: str, max_score: int) -> dict:
    """A result for a push that could not be graded: 0 points, and why."""
    return {
        "version": 1,
        "status": "error",
        "max_score": max_score,
        "tests": [
            {
                "name": "attention-grade",
                "status": "error",
                "score": 0,
                "message": _clip(message),
                "test_code": "",
                "filename": "",
                "line_no": 0,
                "duration": 0,
            }
        ],
    }


def encode(result: dict) -> str:
    return base64.b64encode(json.dumps(result).encode()).decode()


def decode(value: str) -> dict:
    return json.loads(base64.b64decode(value))


def read_results(path: Path) -> dict:
    """The reporter's result for the results.json at `path`, or an error result."""
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        return reporter_result(results)
    except FileNotFoundError:
        why = f"{path} was not written: the submission could not be graded (see the log above)"
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        why = f"{path} is not a results.json written by attention-grade: {e}"
    return error_result(why, learner_max_score())


def write_workflow(repo: Path, force: bool = False) -> Path:
    target = repo / WORKFLOW
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists (use --force to replace it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(template("classroom.yml"), encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    """attention-grade classroom DIR"""
    parser = argparse.ArgumentParser(
        prog="attention-grade classroom",
        description="Write the GitHub Classroom autograding workflow into a learner's "
        "repository checkout (.github/workflows/classroom.yml).",
    )
    parser.add_argument("repo", type=Path, help="the repository checkout")
    parser.add_argument("--force", action="store_true", help="replace an existing workflow")
    args = parser.parse_args(argv)
    if not (args.repo / "exercises").is_dir():
        print(
            f"attention-grade classroom: {args.repo} has no exercises/ folder: give a "
            "learner's copy of the kit (attention-grade release)",
            file=sys.stderr,
        )
        return 2
    try:
        target = write_workflow(args.repo, args.force)
    except FileExistsError as e:
        print(f"attention-grade classroom: {e}", file=sys.stderr)
        return 2
    print(f"wrote {target}")
    return 0
