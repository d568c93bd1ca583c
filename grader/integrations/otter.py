"""attention-grade otter: this assignment as an otter-grader assignment that asks the kit.

    attention-grade otter DIR        # then, in DIR: otter check / otter generate / otter run

otter-grader runs a student's file in a Jupyter kernel and then runs test files, in that same
kernel, against the names the file defined; it has no per-test timeout, and a student's code
can change what the tests see. Here otter keeps its workflow and the kit keeps the grading:

- Each test file (one per exercise, `tests/<exercise>.py`) has one otter test case per kit
  check, with the check's points. A case calls `verdict(...)` below, which asks the kit for
  that check's result: the kit grades the submission *file* (one `attention.py` or a
  notebook, see `single_file`) through `grade()`, in its own worker process with its sandbox
  and per-call deadlines, once per otter run; the cases only read the report. A failed case
  shows the kit's feedback. So the score is the native grader's, check for check.
- Under `otter run`, `otter grade` and Gradescope, the plugin named in otter_config.json
  (`grader.integrations.otter_plugin.KitPlugin`) removes the student's code from the notebook
  otter is about to execute, so otter's kernel never runs it, and tells the kit which file
  to grade.
- `otter check FILE` has no plugins and tells its kernel nothing about FILE: the kit reads
  FILE and `-q NAME` from the command line of the kernel's parent process, otter check (see
  `target_for`), grades FILE (never another file of the folder; where that command line
  cannot be read every case fails and says how to name the file), only NAME's exercise with
  `-q NAME`, and prints its own report, with the points, above otter's. Otter itself still
  executes FILE in its kernel first, with no time limit: a file that hangs at import hangs
  `otter check`, before any of the kit's code runs. The kit's own part is bounded as
  `attention-grade`'s is (per-call and import deadlines, the grading's time budget).
- The kit's promises hold on otter's Gradescope too. The plugin makes `otter generate`'s
  setup.sh install bubblewrap (where apt exists) and open /root for search (otter's Python
  lives in /root/miniforge3: a worker running as a user of its own must reach it); before
  grading, run as root, it closes the autograder folder to other users as the native
  autograder does (the kit's solutions, the hidden tests: `gradescope.secure`).
  otter_config.json asks otter for `show_hidden` with a public summary: every question is
  `after_published` (otter gives each question one visibility, and each holds hidden
  checks), the summary of the public checks visible at once, as in the native results.json.

DIR receives:

    tests/              public checks, graded as a learner's copy does (`--fixtures`)
    hidden-tests/       public and hidden checks (with the speed checks), graded like an
                        instructor's `attention-grade`: for `otter generate -t hidden-tests`
    attention.py        the blank one-file submission to hand out
    otter_config.json   names the plugin
    requirements.txt    installs the kit (from attention-kit/) in otter's Gradescope image
    attention-kit/      this kit, solutions included, for the autograder zip only
    README.md           the commands

The hidden checks' seed is drawn once per graded submission (ATTENTION_KIT_SEED fixes it;
ATTENTION_KIT_ISOLATION, one of `sandbox.CHOICES`, sets the worker's isolation: for tests).
GPU speed checks are not exported: otter's graders have no GPU.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from grader import checks, paths

ENV_SUBMISSION = "ATTENTION_KIT_SUBMISSION"
ENV_SEED = "ATTENTION_KIT_SEED"
ENV_ISOLATION = "ATTENTION_KIT_ISOLATION"
PUBLIC, AUTOGRADER = "public", "autograder"  # the two ways a test file asks to be graded
PLUGIN = "grader.integrations.otter_plugin.KitPlugin"
# otter_config.json: hidden checks after_published, the public checks' summary visible now
CONFIG = {
    "plugins": [PLUGIN],
    "show_stdout": False,
    "show_hidden": True,
    "force_public_test_summary": True,
}
KIT_FOLDER = "attention-kit"


# -- what the generated test cases call (inside otter's kernel) --------------------------

_reports: dict[tuple, object] = {}  # (mode, file, size, mtime, seed, exercises) -> Report or error
EXERCISE_NAMES = frozenset(exercise.name for exercise in checks.EXERCISES)
UNKNOWN_FILE = (
    "the attention exercise kit cannot tell which file otter is grading: it reads the file "
    "from the `otter check FILE` command line, which it could not read here. Name the file "
    f"in ${ENV_SUBMISSION} too, e.g. {ENV_SUBMISSION}=attention.py otter check attention.py"
)


@dataclass(frozen=True)
class CheckCommand:
    """An `otter check FILE [-q NAME]` command line, as otter reads it."""

    file: Path  # resolved against the folder otter check runs in
    question: str | None = None


@dataclass(frozen=True)
class Target:
    """What one test case has the kit grade."""

    file: Path
    exercises: tuple[str, ...] | None  # None: every exercise
    show: bool = False  # print the kit's report where otter check prints its own


def parse_check_command(argv: list[str], cwd: Path) -> CheckCommand | None:
    """FILE and -q of an `otter check` command line (`otter check ...`, `python -m otter
    check ...`), read by otter's own option parser; None for any other command."""
    for i in range(len(argv) - 1):
        if Path(argv[i]).stem == "otter" and argv[i + 1] == "check":
            break
    else:
        return None
    try:
        import click
        from otter.cli import check_cli

        context = click.Context(check_cli, info_name="check", resilient_parsing=True)
        params, _, _ = check_cli.make_parser(context).parse_args(list(argv[i + 2 :]))
    except Exception:  # an otter or click this does not know: unread (see `target_for`)
        return None
    file, question = params.get("file"), params.get("question")
    if not isinstance(file, str) or not file:  # no FILE: otter check stops before any kernel
        return None
    return CheckCommand(cwd / file, question if isinstance(question, str) and question else None)


def _command_line(pid: int) -> tuple[list[str], Path] | None:
    """A process's arguments and working folder (psutil, else /proc); None if unreadable."""
    try:
        import psutil

        process = psutil.Process(pid)
        return process.cmdline(), Path(process.cwd())
    except Exception:  # psutil missing, or the process gone or not ours to read
        pass
    proc = Path("/proc", str(pid))
    try:
        argv = [os.fsdecode(arg) for arg in (proc / "cmdline").read_bytes().split(b"\0") if arg]
        return argv, Path(os.readlink(proc / "cwd"))
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def otter_check_command() -> CheckCommand | None:
    """The `otter check` command whose kernel runs these test cases: otter starts its kernel
    as a child process and tells it nothing else about the file. None under anything else."""
    command = _command_line(os.getppid())
    return parse_check_command(*command) if command else None


def otter_is_grading() -> bool:
    """Whether otter's kernel is grading a file (otter check, run, grade) rather than a
    notebook's `otter.Notebook().check(...)`; otter sets this in the kernel it starts."""
    notebook = getattr(sys.modules.get("otter"), "Notebook", None)
    return bool(getattr(notebook, "_grading_mode", False))


def submission_file(folder: Path | None = None) -> Path:
    """The one-file submission in `folder` (default: the current one): attention.py,
    attention.ipynb, the only notebook or the only .py file."""
    folder = folder or Path.cwd()
    for name in ("attention.py", "attention.ipynb"):
        if (folder / name).is_file():
            return folder / name
    for pattern in ("*.ipynb", "*.py"):
        found = [p for p in folder.glob(pattern) if p.name != "__init__.py"]
        if len(found) == 1:
            return found[0]
    raise FileNotFoundError(
        f"no submission found in {folder}: run otter from the folder that holds attention.py "
        f"(or set {ENV_SUBMISSION} to the file)"
    )


def target_for(exercise: str) -> Target:
    """What a test case of `exercise` has the kit grade:

    - under `otter check FILE`: FILE, every exercise, or only NAME's with `-q NAME`; the
      kit's report is printed with otter's;
    - under the plugin (otter run, otter grade, Gradescope): $ATTENTION_KIT_SUBMISSION, every
      exercise;
    - under another otter grading that names no file: none (AssertionError, with the way out);
    - from a notebook's `otter.Notebook().check(NAME)`: the submission in the current folder,
      NAME's exercise.
    """
    command = otter_check_command()
    if command is not None:
        only = (command.question,) if command.question in EXERCISE_NAMES else None
        return Target(command.file, only, show=True)
    if os.environ.get(ENV_SUBMISSION):
        return Target(Path(os.environ[ENV_SUBMISSION]), None)
    if otter_is_grading():
        raise AssertionError(UNKNOWN_FILE)
    try:
        return Target(submission_file(), (exercise,))
    except FileNotFoundError as e:
        raise AssertionError(
            f"the attention exercise kit cannot find the submission: {e}"
        ) from None


def options_for(mode: str, only: tuple[str, ...] | None = None):
    """The kit's options for a test file's mode: a learner's copy, or an instructor's grading."""
    from grader.judge.engine import Options

    seed = int(os.environ[ENV_SEED]) if os.environ.get(ENV_SEED) else None
    isolation = os.environ.get(ENV_ISOLATION) or "auto"
    if mode == PUBLIC:  # no speed predictions: they earn no points, and cost ~20 s
        return Options(
            only=only,
            hidden=False,
            use_solutions=False,
            speed=False,
            seed=seed,
            sandbox_mode=isolation,
        )
    return Options(only=only, seed=seed, sandbox_mode=isolation)


def show(report) -> None:
    """Print the kit's report, points and all as `attention-grade` prints them, on the stream
    otter check prints to. In otter's kernel ipykernel sends sys.stdout to the notebook otter
    throws away; its fileno() is the kernel's original stdout, which is otter check's."""
    from rich.console import Console

    from grader.report import console as console_report

    try:
        try:
            fd = sys.stdout.fileno()
        except (AttributeError, OSError, ValueError):  # an ipykernel that does not capture fds
            fd = sys.__stdout__.fileno()
        terminal = os.isatty(fd)  # not the kernel's FORCE_COLOR, which ipykernel sets
        width = _columns(fd) if terminal else None
        with open(fd, "w", errors="replace", closefd=False) as stream:
            console = Console(
                file=stream, width=width, force_terminal=terminal, force_jupyter=False
            )
            console.print()
            console_report.render(report, console)
            console.print()
    except (AttributeError, OSError, ValueError):
        pass  # nowhere to print: the verdicts, with their points, still reach otter


def _columns(fd: int) -> int | None:
    """The width of the terminal at `fd`; None (rich's default) where it says none."""
    try:
        return os.get_terminal_size(fd).columns or None  # a pseudo-terminal may say 0
    except OSError:
        return None


def report_for(mode: str, exercise: str):
    """The kit's report for a test case of `exercise`, graded once per file version, mode
    and set of exercises (see `target_for`)."""
    from grader.judge.engine import grade

    target = target_for(exercise)
    try:
        path = target.file.resolve()
        stat = path.stat()
    except OSError as e:
        raise AssertionError(
            f"the attention exercise kit cannot find the submission: {e}"
        ) from None
    seed = os.environ.get(ENV_SEED)
    key = (mode, str(path), stat.st_size, stat.st_mtime_ns, seed, target.exercises)
    if key not in _reports:
        try:
            _reports[key] = grade(path, options_for(mode, target.exercises))
        except Exception as e:  # a submission or kit error fails every case, with its reason
            _reports[key] = e
        else:
            if target.show:
                show(_reports[key])
    report = _reports[key]
    if isinstance(report, Exception):
        raise AssertionError(f"the attention exercise kit could not grade {path.name}: {report}")
    return report


def verdict(exercise: str, check: str, mode: str = PUBLIC, hidden: bool = False) -> None:
    """Pass if the kit's check passed; otherwise raise AssertionError with its feedback."""
    from grader.report.results import SKIPPED

    report = report_for(mode, exercise)
    for result in report.results:
        if (result.exercise, result.check, result.hidden) == (exercise, check, hidden):
            break
    else:
        raise AssertionError(f"the kit did not run {exercise}::{check} (hidden={hidden})")
    if result.passed or result.status == SKIPPED:
        return
    raise AssertionError(
        f"{result.name}: {result.status}, 0/{result.max_points} points\n{result.feedback}"
    )


# -- writing the assignment --------------------------------------------------------------


def exported(exercise, mode: str) -> list[tuple]:
    """(check, hidden) pairs exported for an exercise: the checks that count on a CPU grader
    in that mode (hidden checks and speed checks need the reference: autograder mode only)."""
    from grader.checks.speed import Speed

    pairs = []
    for hidden in (False, True) if mode == AUTOGRADER else (False,):
        for check in exercise.checks:
            speed = isinstance(check.judge, Speed)
            if check.points <= 0 or (hidden and not check.randomized):
                continue
            if speed and (mode == PUBLIC or check.judge.device != "cpu"):
                continue
            pairs.append((check, hidden))
    return pairs


def test_file(exercise, mode: str) -> str:
    """The otter test file (exception format) for one exercise."""
    lines = [
        f'"""{exercise.name} (book {exercise.section}): the attention exercise kit\'s checks.',
        "",
        "Written by `attention-grade otter`. Each case asks the kit for one check's verdict; the",
        "kit grades the submission file in its own worker process, not in this kernel.",
        '"""',
        "",
        "from otter.test_files import test_case",
        "",
        "from grader.integrations.otter import verdict",
        "",
        "OK_FORMAT = False",
        f'name = "{exercise.name}"',
        f'MODE = "{mode}"',
    ]
    for check, hidden in exported(exercise, mode):
        title = check.title + (" (hidden)" if hidden else "")
        function = check.name + ("_hidden" if hidden else "")
        flag = ", hidden=True" if hidden else ""
        lines += [
            "",
            "",
            f"@test_case(name={json.dumps(title)}, points={check.points}{flag})",
            f"def {function}():",
            f'    verdict("{exercise.name}", "{check.name}", MODE{flag})',
        ]
    return "\n".join(lines) + "\n"


README = """\
# The attention exercises as an otter-grader assignment

Written by `attention-grade otter`. Every test case asks the attention exercise kit for the
verdict of one of its checks; the kit grades the submission in its own worker process
(sandboxed where possible, a deadline on every call), so otter's scores are the kit's.

Students get `attention.py` and `tests/`, and the kit installed (a learner's copy from
`attention-grade release`, `pip install -e ".[otter]"`); they write their code in
attention.py and check it:

    otter check attention.py                  # every exercise (public checks)
    otter check attention.py -q softmax_stable   # one exercise: only its checks run

The kit grades the file named on the command line, in its own worker process (a deadline on
every call), and prints its report, the points of every exercise and the total as
`attention-grade` shows them, above otter's list of test cases. Before that, otter runs the
file itself, in its own kernel and with no time limit: top-level code that never ends (a
`while True` outside a function) hangs `otter check` before the kit is asked. Stop it with
Ctrl-C; `attention-grade attention.py --fixtures` grades the same checks with deadlines
everywhere and shows the line that hangs.

Instructors build the autograder from the hidden tests and grade with it:

    otter generate -t hidden-tests {kit}      # autograder.zip, for Gradescope or otter run
    otter run -a autograder.zip attention.py  # one submission, without Docker

A notebook works as a submission too (its code cells defining the exercises). Scores equal
`attention-grade attention.py` (hidden-tests) and `attention-grade attention.py --fixtures`
(tests). Keep hidden-tests/ and {kit}/ (which holds the solutions) away from students.
"""


def write_assignment(dest: Path, kit: Path = paths.KIT_ROOT) -> None:
    from grader.integrations.gradescope import _kit_files
    from grader.integrations.single_file import combine

    hidden = (kit / "solutions").is_dir()
    dest.mkdir(parents=True, exist_ok=True)
    for folder, mode in (("tests", PUBLIC), ("hidden-tests", AUTOGRADER)):
        if mode == AUTOGRADER and not hidden:
            continue
        (dest / folder).mkdir(exist_ok=True)
        for exercise in checks.EXERCISES:
            (dest / folder / f"{exercise.name}.py").write_text(test_file(exercise, mode))
    (dest / "attention.py").write_text(combine(kit / "exercises"))
    (dest / "otter_config.json").write_text(json.dumps(CONFIG, indent=2) + "\n")
    (dest / "README.md").write_text(README.format(kit=KIT_FOLDER))
    if hidden:
        copy = dest / KIT_FOLDER
        if copy.exists():
            shutil.rmtree(copy)
        for file in _kit_files(kit):
            target = copy / file.relative_to(kit)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
        # Installed in otter's environment on Gradescope: otter copies generate's files to
        # /autograder/source/files/. Editable, so the kit finds its solutions and fixtures.
        (dest / "requirements.txt").write_text(
            "--extra-index-url https://download.pytorch.org/whl/cpu\n"
            f"-e /autograder/source/files/{KIT_FOLDER}\n"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="attention-grade otter",
        description="Write an otter-grader assignment (tests/, hidden-tests/, attention.py, "
        "otter_config.json) whose test cases ask this kit for its verdicts.",
    )
    parser.add_argument("dest", type=Path, help="the folder to write (new, or one written before)")
    args = parser.parse_args(argv)
    if (
        args.dest.exists()
        and any(args.dest.iterdir())
        and not (args.dest / "otter_config.json").is_file()
    ):
        print(f"attention-grade otter: {args.dest} is not empty", file=sys.stderr)
        return 2
    write_assignment(args.dest)
    print(f"wrote {args.dest}: see {args.dest / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
