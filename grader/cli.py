"""attention-grade: grade a submission of the chapter-3 exercises.

    attention-grade                      grade ./exercises
    attention-grade PATH                 grade a submission folder, or a .zip of one
    attention-grade PATH --only NAME     grade one exercise (a function or class name)
    attention-grade PATH --watch         grade, then re-grade what each save changes (Ctrl-C)
    attention-grade PATH --json FILE     also write Gradescope's results.json
    attention-grade PATH --junit FILE    also write JUnit XML (for CI dashboards)
    attention-grade PATH --html FILE     also write the report as one HTML page, with pictures
    attention-grade PATH --budget 900    seconds for the whole grading (default 600)

Exit status: 0 when every check passed, 1 when any failed, 2 when the submission cannot be
found or read (or the command is wrong). --json writes a results.json whatever the submission
(0 points and the reason for one that cannot be read), before the report is printed.

Other commands live in their own modules, each with a `main(argv) -> int`:
    attention-grade COMMAND --help       for COMMAND in SUBCOMMANDS below
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# Light imports only: `--help` and a wrong argument answer without importing torch. What
# grades (the engine, the checks, the reports) is imported when a grading starts.
from grader import exercise_names
from grader.judge.budget import DEFAULT_BUDGET
from grader.worker.sandbox import CHOICES as ISOLATION_CHOICES

if TYPE_CHECKING:
    from rich.console import Console

    from grader.judge.engine import Options
    from grader.worker.warm import Spares

EXIT_PASSED, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2

# attention-grade COMMAND ...: the module whose main(argv) runs it, and what it does.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "batch": ("grader.batch", "grade a folder of submissions (a class) in parallel"),
    "release": ("grader.release", "write the learners' copy of the kit: no solutions"),
    "bench": (
        "grader.bench",
        "time your MultiHeadAttention against the reference and a fused kernel",
    ),
    "gradescope": ("grader.integrations.gradescope", "build a Gradescope autograder zip"),
    "otter": ("grader.integrations.otter", "write an otter-grader assignment that asks the kit"),
    "classroom": ("grader.integrations.classroom", "add the GitHub Classroom workflow to a repo"),
    "classroom-report": (
        "grader.integrations.classroom_report",
        "turn a results.json into GitHub Classroom's reporter format",
    ),
}


def grade_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attention-grade",
        description="Grade the chapter-3 attention exercises (Build a Large Language Model "
        "From Scratch) and explain every failure.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exercises: "
        + ", ".join(exercise_names.NAMES)
        + "".join(
            f"\n  attention-grade {name} ...  {what}" for name, (_, what) in SUBCOMMANDS.items()
        ),
    )
    parser.add_argument(
        "path",
        nargs="?",
        default="exercises",
        help="submission: a folder, a .zip, or one .py/.ipynb (default: ./exercises)",
    )
    parser.add_argument(
        "--only", metavar="NAME", help="grade one exercise by its function or class name"
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="grade, then keep watching PATH: each save re-grades the exercises of the modules "
        "that changed (and those that build on them) in a fresh worker, until Ctrl-C",
    )
    parser.add_argument(
        "--json", metavar="FILE", type=Path, help="write Gradescope's results.json here"
    )
    parser.add_argument(
        "--junit", metavar="FILE", type=Path, help="write JUnit XML here (for CI dashboards)"
    )
    parser.add_argument(
        "--html",
        metavar="FILE",
        type=Path,
        help="write the report here as one self-contained HTML page, with a heatmap of the "
        "expected and your attention weights beside each failed check of weights",
    )
    parser.add_argument(
        "--fixtures",
        action="store_true",
        help="compare with the committed fixtures even where solutions/ is present "
        "(what a learner's copy does); implies --no-hidden",
    )
    parser.add_argument("--no-hidden", action="store_true", help="skip the hidden checks")
    parser.add_argument("--seed", type=int, help="seed of the hidden checks (default: drawn now)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per call (default 20)")
    parser.add_argument(
        "--no-speed",
        action="store_true",
        help="skip the speed checks (no points lost): a quicker grade while you work on values",
    )
    add_budget_argument(parser)
    parser.add_argument(
        "--no-hints", action="store_true", help="leave the exercise hints out of the feedback"
    )
    add_isolation_argument(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def add_isolation_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--isolation",
        choices=ISOLATION_CHOICES,
        default="auto",
        help="where the submission's code runs: 'sandbox' (bubblewrap: private filesystem, no "
        "network, uid 65534), 'subprocess' (a confined process, no sandbox) or 'auto' (the "
        "sandbox when this machine supports it; the default). Reports name the one used.",
    )


def add_budget_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET,
        metavar="SECONDS",
        help=f"seconds for the whole grading of a submission (default {DEFAULT_BUDGET:g}); once "
        "spent, the checks left are not run and score 0 (0: no budget)",
    )


def options_from(args: argparse.Namespace) -> Options:
    from grader.judge.engine import Options

    return Options(
        only=args.only,
        hidden=False if (args.no_hidden or args.fixtures) else None,
        seed=args.seed,
        timeout=args.timeout,
        budget=args.budget or None,
        hints=not args.no_hints,
        speed=not args.no_speed,
        use_solutions=False if args.fixtures else None,
        sandbox_mode=args.isolation,
    )


def run_grade(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Grade once or, with --watch, after every save (grader/watch.py). The first worker is
    launched before the judge imports torch, so that the two imports run side by side."""
    if args.only and (problem := exercise_names.unknown(args.only)):
        err.print(f"attention-grade: {problem}", markup=False)
        return EXIT_UNREADABLE
    if args.watch and any(getattr(args, name, None) for name in ("json", "junit", "html")):
        err.print("attention-grade: --watch writes no files (no --json, --junit or --html)")
        return EXIT_UNREADABLE
    from grader.worker.warm import Spares

    with Spares() as spares:
        if Path(args.path).exists():
            spares.launch_early(args.isolation)
        if args.watch:
            from grader.watch import watch

            def regrade(only: tuple[str, ...] | None) -> int:
                return grade_once(args, out, err, spares, only)

            return watch(args.path, args.only, regrade, spares, out)
        return grade_once(args, out, err, spares)


def grade_once(
    args: argparse.Namespace,
    out: Console,
    err: Console,
    spares: Spares | None = None,
    only: tuple[str, ...] | None = None,
) -> int:
    """Grade `args.path` (the exercises `only` names, when given), write and show the report
    as `args` asks, and return the exit status."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from grader.errors import KitError, SandboxError, SubmissionError
    from grader.judge.engine import grade
    from grader.report import console as console_report
    from grader.report import gradescope_results, html_report, junit
    from grader.report.sanitize import clean

    options = options_from(args)
    options.spares = spares
    if only is not None:
        options.only = only
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=args.quiet or not err.is_terminal,
    )
    try:
        with progress:
            task = progress.add_task("grading", total=None)

            def advance(result, done, total):
                progress.update(task, completed=done, total=total, description=result.exercise)

            report = grade(args.path, options, advance)
    except SubmissionError as e:
        err.print(f"attention-grade: {clean(str(e))}", markup=False, highlight=False)
        if args.json:
            gradescope_results.write(gradescope_results.unreadable_json(str(e)), args.json)
        return EXIT_UNREADABLE
    except KitError as e:
        err.print(f"attention-grade: kit error: {e}", markup=False)
        return EXIT_UNREADABLE
    except SandboxError as e:
        err.print(f"attention-grade: {e}", markup=False)
        return EXIT_UNREADABLE
    # The files first: they must not depend on what a terminal can show.
    if args.json:
        gradescope_results.write(report, args.json)
    if args.junit:
        junit.write(report, args.junit)
    if args.html:
        html_report.write(report, args.html)
    console_report.render(report, out)
    for path in filter(None, (args.json, args.junit, args.html)):
        out.print(f"wrote {path}", markup=False, soft_wrap=True)  # a path stays whole
    return EXIT_PASSED if report.all_passed else EXIT_FAILED


def tolerate_narrow_terminals() -> None:
    """On a stdout or stderr that cannot encode every character (an ASCII-only locale, say),
    write the ones it cannot as `?` rather than fail with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    tolerate_narrow_terminals()
    if argv and argv[0] in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
        return module.main(argv[1:])
    args = grade_parser().parse_args(argv)
    from rich.console import Console

    return run_grade(args, Console(), Console(stderr=True))


if __name__ == "__main__":
    sys.exit(main())
