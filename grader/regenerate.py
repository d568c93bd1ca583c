"""Regenerate everything the kit derives from solutions/ and the Exercise records, in order.

    python -m grader.regenerate           # rewrite what is out of date
    python -m grader.regenerate --check   # exit 1 if anything is out of date (CI)

After adding or changing an exercise (its reference in solutions/, its checks in
grader/checks/, its mistakes in solutions/mistakes.py), this one command brings the rest in
line: the learners' stubs (exercises/*.py), the fixtures (fixtures/, the reference's outputs
for learners' copies), the chapter notebook (exercises/chapter3.ipynb) and the README's
generated blocks (exercise table, points).
"""

from __future__ import annotations

import argparse
import sys

from grader import fixtures, readme, stubs
from grader.integrations import chapter_notebook

STEPS = (
    ("stubs", stubs.main),
    ("fixtures", fixtures.main),
    ("notebook", chapter_notebook.main),
    ("README", readme.main),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.regenerate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if anything differs")
    args = parser.parse_args(argv)
    failed = []
    for name, step in STEPS:
        if step(["--check"] if args.check else []) != 0:
            failed.append(name)
    if failed:
        what = "out of date" if args.check else "not regenerated"
        print(f"{', '.join(failed)}: {what}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
