"""attention-grade classroom-report: a results.json in GitHub Classroom's reporter format.

    attention-grade classroom-report results.json >> "$GITHUB_OUTPUT"

Prints `result=<base64 JSON>`, the step output that the workflow of
`attention-grade classroom` hands to `autograding-grading-reporter` (see
`grader.integrations.classroom` for the format). A missing or unreadable results.json gives
an "error" result worth 0 points that says why, so the push is still reported.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grader.integrations.classroom import encode, read_results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="attention-grade classroom-report",
        description="Print GitHub Classroom's reporter result for a results.json, as "
        "`result=<base64>` (append it to $GITHUB_OUTPUT).",
    )
    parser.add_argument("results", type=Path, help="results.json written by attention-grade")
    parser.add_argument("--name", default="result", help="the step output's name")
    parser.add_argument("--json", action="store_true", help="print the JSON, not base64")
    args = parser.parse_args(argv)
    result = read_results(args.results)
    print(json.dumps(result, indent=2) if args.json else f"{args.name}={encode(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
