"""The README's exercise table and point totals, generated from the Exercise records.

    python -m grader.readme           # rewrite the generated blocks of README.md
    python -m grader.readme --check   # exit 1 if they differ from what would be written

A generated block sits between `<!-- begin generated: NAME -->` and `<!-- end generated:
NAME -->` lines; everything else in the README is left as it is. The learners' README
(grader/release.py) uses the same table.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader import checks, paths
from grader.checks.spec import Exercise

README = paths.KIT_ROOT / "README.md"


@dataclass(frozen=True)
class Points:
    """What one exercise is worth, by kind of check."""

    public: int  # graded everywhere, the learner's copy included (fixed inputs)
    hidden: int  # randomised checks run again on a seed drawn at grading time (instructors)
    speed_cpu: int  # speed against the reference on the CPU (instructors)
    speed_gpu: int  # the same on a CUDA device, where one exists

    @classmethod
    def of(cls, exercise: Exercise) -> Points:
        speed = {"cpu": 0, "cuda": 0}
        public = hidden = 0
        for check in exercise.checks:
            device = getattr(check.judge, "device", None)
            if check.name.startswith("speed_") and device in speed:
                speed[device] += check.points
                continue
            public += check.points
            if check.randomized:
                hidden += check.points
        return cls(public, hidden, speed["cpu"], speed["cuda"])


def _book(exercise: Exercise) -> str:
    return exercise.section if exercise.section.startswith("Exercise") else f"§{exercise.section}"


def _pair(a: int, b: int) -> str:
    return f"{a} + {b}" if b else f"{a}"


def _row(*cells) -> str:
    """A Markdown table row; an empty cell is written `| |`, as in the hand-kept tables."""
    return " ".join(["|", *(f"{c} |" if c != "" else "|" for c in cells)])


def exercise_table(exercises=checks.EXERCISES) -> str:
    """The instructors' table: every exercise, its checks and what each kind is worth."""
    rows = [
        "| Exercise | Module | Book | Checks | Points: public + hidden | Speed: CPU + GPU |",
        "|---|---|---|---|---|---|",
    ]
    for ex in exercises:
        p = Points.of(ex)
        speed = _pair(p.speed_cpu, p.speed_gpu) if p.speed_cpu or p.speed_gpu else ""
        cells = (f"`{ex.name}`", f"`{ex.module}.py`", _book(ex), len(ex.checks))
        rows.append(_row(*cells, _pair(p.public, p.hidden), speed))
    return "\n".join(rows)


def learner_table(exercises=checks.EXERCISES) -> str:
    """The learners' table: what their copy grades (public points; speed runs elsewhere)."""
    rows = ["| Exercise | Module | Book | Checks | Points |", "|---|---|---|---|---|"]
    for ex in exercises:
        p = Points.of(ex)
        speed = p.speed_cpu
        shown = f"{p.public}" + (f" (+ {speed} for speed)" if speed else "")
        rows.append(_row(f"`{ex.name}`", f"`{ex.module}.py`", _book(ex), len(ex.checks), shown))
    return "\n".join(rows)


def totals(exercises=checks.EXERCISES) -> dict[str, int]:
    points = [Points.of(ex) for ex in exercises]
    public = sum(p.public for p in points)
    hidden = sum(p.hidden for p in points)
    cpu = sum(p.speed_cpu for p in points)
    gpu = sum(p.speed_gpu for p in points)
    return {
        "exercises": len(exercises),
        "checks": sum(len(ex.checks) for ex in exercises),
        "public": public,
        "hidden": hidden,
        "speed_cpu": cpu,
        "speed_gpu": gpu,
        "instructor": public + hidden + cpu,
        "with_gpu": public + hidden + cpu + gpu,
    }


def points_paragraph(exercises=checks.EXERCISES) -> str:
    t = totals(exercises)
    text = (
        f"{t['exercises']} exercises, {t['checks']} checks. A learner's copy grades the "
        f"{t['public']} public points. An instructor's grading (a checkout with `solutions/`) "
        f"adds {t['hidden']} points of hidden checks and {t['speed_cpu']} points of CPU speed "
        f"checks: {t['instructor']} in all; on a machine with CUDA, {t['speed_gpu']} more for "
        f"the GPU speed checks ({t['with_gpu']})."
    )
    return textwrap.fill(text, width=92)


BLOCKS: dict[str, Callable[[], str]] = {
    "exercise table": exercise_table,
    "points": points_paragraph,
}


def begin(name: str) -> str:
    return f"<!-- begin generated: {name} (python -m grader.readme) -->"


def end(name: str) -> str:
    return f"<!-- end generated: {name} -->"


def render(text: str) -> str:
    """`text` with every generated block rewritten; a block's markers must be present."""
    for name, make in BLOCKS.items():
        head, tail = begin(name), end(name)
        if text.count(head) != 1 or text.count(tail) != 1:
            raise ValueError(f"README.md needs one {head!r} line and one {tail!r} line")
        before, rest = text.split(head, 1)
        _, after = rest.split(tail, 1)
        text = f"{before}{head}\n{make()}\n{tail}{after}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.readme",
        description="Write the README's exercise table and point totals from the exercises.",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md differs")
    parser.add_argument("--readme", type=Path, default=README, help="the file to update")
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    new = render(text)
    if args.check:
        if new != text:
            print(
                f"{args.readme}: the generated blocks are out of date: run `python -m grader.readme`"
            )
            return 1
        print(f"{args.readme}: the generated blocks are up to date")
        return 0
    if new != text:
        args.readme.write_text(new, encoding="utf-8", newline="\n")
        print(f"wrote {args.readme}")
    else:
        print(f"{args.readme} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
