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
  to grade. `otter check` has no plugins: there otter still executes the learner's file in
  its kernel first (its own behaviour; a file that hangs at import hangs `otter check`), but
  the checks still run in the kit's worker.
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
import json
import os
import shutil
import sys
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

_reports: dict[tuple, object] = {}  # (mode, file, size, mtime, seed) -> Report or the error


def submission_file(folder: Path | None = None) -> Path:
    """The one-file submission to grade: $ATTENTION_KIT_SUBMISSION, else in the current
    folder attention.py, attention.ipynb, the only notebook or the only .py file."""
    if os.environ.get(ENV_SUBMISSION):
        return Path(os.environ[ENV_SUBMISSION])
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


def options_for(mode: str):
    """The kit's options for a test file's mode: a learner's copy, or an instructor's grading."""
    from grader.judge.engine import Options

    seed = int(os.environ[ENV_SEED]) if os.environ.get(ENV_SEED) else None
    isolation = os.environ.get(ENV_ISOLATION) or "auto"
    if mode == PUBLIC:
        return Options(hidden=False, use_solutions=False, seed=seed, sandbox_mode=isolation)
    return Options(seed=seed, sandbox_mode=isolation)


def report_for(mode: str):
    """The kit's report on the submission, graded once per file version and mode."""
    from grader.judge.engine import grade

    try:
        path = submission_file().resolve()
        stat = path.stat()
    except (FileNotFoundError, OSError) as e:
        raise AssertionError(
            f"the attention exercise kit cannot find the submission: {e}"
        ) from None
    key = (mode, str(path), stat.st_size, stat.st_mtime_ns, os.environ.get(ENV_SEED))
    if key not in _reports:
        try:
            _reports[key] = grade(path, options_for(mode))
        except Exception as e:  # a submission or kit error fails every case, with its reason
            _reports[key] = e
    report = _reports[key]
    if isinstance(report, Exception):
        raise AssertionError(f"the attention exercise kit could not grade {path.name}: {report}")
    return report


def verdict(exercise: str, check: str, mode: str = PUBLIC, hidden: bool = False) -> None:
    """Pass if the kit's check passed; otherwise raise AssertionError with its feedback."""
    from grader.report.results import SKIPPED

    report = report_for(mode)
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
    otter check attention.py -q softmax_stable

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
