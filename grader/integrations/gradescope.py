"""attention-grade gradescope: build a Gradescope autograder zip that grades with this kit.

    attention-grade gradescope autograder.zip

The zip holds, at its root, `setup.sh` (run once by Gradescope, as root, to build the image:
Python, a CPU PyTorch, bubblewrap and the kit) and `run_autograder` (run for every
submission), and under `kit/` this kit with its solutions, fixtures and exercises, so that
hidden checks are drawn and computed at grading time as in an instructor's checkout.

For every submission, run_autograder calls this module (`--run ROOT`), which runs the kit's
CLI on ROOT/submission with `--json ROOT/results/results.json`: the same engine, worker
isolation, per-call deadlines and results.json as `attention-grade PATH --json FILE`. What
a student may upload, in ROOT/submission:

- the four modules (simple_attention.py, self_attention.py, causal_attention.py,
  multihead_attention.py), at the top or in a folder (a zip of exercises/ works as well);
- or one file holding every exercise, `attention.py` or a notebook (see
  `grader.judge.unfold`).

Gradescope runs all of it as root, in a container where bubblewrap may be refused. Then the
worker runs as a user of its own (see grader/worker/users.py), and before grading, `run`
closes to every other user what it must not read: everything under ROOT but the kit's
grader/ package (the submission, the results, submission_metadata.json, setup.sh, the kit's
solutions/, fixtures/ and exercises/: `secure`). The judge, root, reads on.

A results.json is always written: a submission that cannot be read, or a kit that fails,
gives score 0 and says why in the output students see. Environment variables:
ATTENTION_KIT_SEED fixes the hidden checks' seed (for tests), ATTENTION_KIT_ARGS adds CLI
options (e.g. "--timeout 40"). AUTOGRADER_ROOT (read by run_autograder) moves /autograder.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import sys
import traceback
import zipfile
from importlib import resources
from pathlib import Path

from grader import paths
from grader.judge.submission import module_folder
from grader.judge.unfold import SUFFIXES

# What of the kit goes into the zip (under kit/), and what never does.
KIT_PARTS = ("grader", "solutions", "fixtures", "exercises", "pyproject.toml", "README.md")
SKIPPED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".DS_Store"}
SKIPPED_SUFFIXES = (".pyc", ".pyo")
EXECUTABLE = 0o100755 << 16
REGULAR = 0o100644 << 16


def template(name: str) -> str:
    return resources.files("grader.templates").joinpath(name).read_text(encoding="utf-8")


def _kit_files(kit: Path):
    for part in KIT_PARTS:
        path = kit / part
        if path.is_file():
            yield path
        elif path.is_dir():
            for file in sorted(path.rglob("*")):
                relative = file.relative_to(kit)
                if (
                    file.is_file()
                    and not file.is_symlink()
                    and not SKIPPED_NAMES.intersection(relative.parts)
                    and not file.name.endswith(SKIPPED_SUFFIXES)
                ):
                    yield file


def _add(zf: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.external_attr = mode
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def write_autograder_zip(out: str | Path, kit: str | Path = paths.KIT_ROOT) -> Path:
    """Write the autograder zip to `out` and return its path."""
    out, kit = Path(out), Path(kit)
    if not (kit / "solutions").is_dir():
        raise SystemExit(
            "attention-grade gradescope: solutions/ is missing; the autograder needs the "
            "instructor's copy of the kit (hidden checks are computed from the solutions)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as zf:
        _add(zf, "setup.sh", template("gradescope_setup.sh").encode(), EXECUTABLE)
        _add(zf, "run_autograder", template("gradescope_run_autograder").encode(), EXECUTABLE)
        for file in _kit_files(kit):
            name = "kit/" + file.relative_to(kit).as_posix()
            mode = EXECUTABLE if os.access(file, os.X_OK) else REGULAR
            _add(zf, name, file.read_bytes(), mode)
    return out


# -- run time (called by run_autograder) -------------------------------------------------

IGNORED = ("__MACOSX", ".DS_Store")


def resolve(folder: Path) -> Path:
    """What to grade in Gradescope's submission folder: the folder itself when it holds the
    modules, else its one notebook or .py file, else its one .zip; the folder otherwise
    (and the kit then says what it expected)."""
    if not folder.is_dir():
        return folder
    if module_folder(folder) is not None:  # where the kit finds the modules
        return folder
    files = [
        f
        for f in sorted(folder.rglob("*"))
        if f.is_file()
        and not set(f.relative_to(folder).parts) & set(IGNORED)
        and not f.name.startswith(".")
    ]
    for suffixes in (SUFFIXES, (".zip",)):
        found = [f for f in files if f.suffix in suffixes]
        if len(found) == 1:
            return found[0]
    return folder


def failure_results(message: str) -> dict:
    """results.json for a submission that could not be graded: 0 points, and why."""
    return {
        "score": 0,
        "output": "Your submission could not be graded, so it scores 0.\n\n" + message,
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
    }


def secure(root: Path) -> None:
    """As root: close everything under `root` to other users but the way to the kit's
    grader/ package and the Python the worker runs; then the kit's own secrets."""
    from grader.worker import secrecy

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return  # the worker runs as the grader's user: permissions cannot keep it out
    secrecy.close_all_but(root, [paths.KIT_ROOT, *secrecy.needed()])
    secrecy.lock_kit()


def run(root: Path) -> int:
    """Grade ROOT/submission into ROOT/results/results.json with the kit's CLI."""
    from grader import cli

    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    args = ["--json", str(results), "-q"]
    if os.environ.get("ATTENTION_KIT_SEED"):
        args += ["--seed", os.environ["ATTENTION_KIT_SEED"]]
    args += shlex.split(os.environ.get("ATTENTION_KIT_ARGS", ""))
    errors = io.StringIO()
    status = 2
    try:
        with contextlib.redirect_stderr(errors):
            secure(root)  # fails closed: no grading with the solutions open to the worker
            status = cli.main([str(resolve(root / "submission")), *args])
    except Exception as e:  # the kit itself failed: the student still gets a results.json
        errors.write(f"{type(e).__name__}: {e}\n")
        traceback.print_exc()
    sys.stderr.write(errors.getvalue())
    if status == 2 or not results.is_file():
        message = errors.getvalue().strip() or "the grader stopped before writing results"
        message = message.replace("attention-grade: ", "")
        results.write_text(json.dumps(failure_results(message), indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="attention-grade gradescope",
        description="Build a Gradescope autograder zip (setup.sh, run_autograder and the kit "
        "with its solutions) that grades each submission with this kit.",
    )
    parser.add_argument("out", type=Path, nargs="?", help="the zip to write, e.g. autograder.zip")
    parser.add_argument(
        "--run",
        type=Path,
        metavar="ROOT",
        help="(used by run_autograder) grade ROOT/submission into ROOT/results/results.json",
    )
    args = parser.parse_args(argv)
    if args.run:
        return run(args.run)
    if not args.out:
        parser.error("give the zip to write, e.g. autograder.zip")
    out = write_autograder_zip(args.out)
    print(f"wrote {out}: upload it as the assignment's autograder (README: Gradescope)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
