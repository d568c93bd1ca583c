"""attention-grade release: write the learners' copy of the kit.

    attention-grade release DIR

DIR (new, or empty) receives what a learner needs and nothing an instructor keeps:

    exercises/       the stubs
    grader/          the grader, without the tools that need the solutions (stubs.py,
                     fixtures.py: they regenerate exercises/ and fixtures/ from solutions/)
    fixtures/        the reference's outputs for the public checks (no hidden-check data:
                     hidden checks are drawn and computed at grading time, from solutions/)
    pyproject.toml   so that `pip install -e .` works as in the kit
    README.md        for learners: install, the loop, the exercises

Not solutions/ (nor its catalogue of mistakes), tests/, CI files or caches. Before it
returns, the release is searched for the body of every solution (the text between the
`# BEGIN SOLUTION` and `# END SOLUTION` markers) and for imports of `solutions`; it is
deleted and the command fails if any is found.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from grader import paths, readme

SOLUTIONS_ONLY = ("stubs.py", "fixtures.py")  # grader tools that read solutions/
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
SOLUTIONS_IMPORT = re.compile(r"^\s*(from|import)\s+solutions\b", re.MULTILINE)


class ReleaseError(Exception):
    pass


def solution_bodies(folder: Path = paths.SOLUTIONS) -> list[str]:
    """Every marked solution body, one string per region, its lines stripped."""
    from grader.stubs import solution_regions  # not in a release, which has no solutions

    bodies = []
    for path in sorted(folder.glob("*.py")):
        source = path.read_text()
        lines = source.splitlines()
        for begin, end in solution_regions(source, str(path)):
            body = "\n".join(line.strip() for line in lines[begin : end - 1] if line.strip())
            bodies.append(body)
    return bodies


def leaks(release: Path, bodies: list[str]) -> list[str]:
    """Files of `release` that hold a solution body or import `solutions`."""
    found = []
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", "replace")
        flat = "\n".join(line.strip() for line in text.splitlines() if line.strip())
        if SOLUTIONS_IMPORT.search(text) or any(body in flat for body in bodies):
            found.append(str(path.relative_to(release)))
    return found


def learner_readme() -> str:
    """The learners' README: install, the loop, and the table of exercises."""
    total = readme.totals()["public"]
    return f"""# Attention exercises (chapter 3 of *Build a Large Language Model (From Scratch)*)

You implement attention step by step, from a dot product to GPT-2's multi-head attention, in
`exercises/`; the grader runs your code and says exactly what went wrong and where in the
chapter to look.

## Install

```
pip install -e .               # Python >= 3.10; pulls torch, numpy, pytest, rich, safetensors
attention-grade                # grade ./exercises
```

Without a GPU, install the CPU build of PyTorch first to save a few GB:
`pip install torch --index-url https://download.pytorch.org/whl/cpu`.

## The loop

1. Read the chapter section, then the docstring of the next exercise in `exercises/`: it
   names the section, the shapes in and out, and the rules.
2. Replace its `raise NotImplementedError(...)` with your code.
3. Run `attention-grade --watch` beside your editor (`--watch --only softmax_stable` for one
   exercise): it grades, then re-grades what each save changes, in about a second, until
   Ctrl-C. `attention-grade` grades once; `--no-speed` leaves out the speed predictions.
4. Read the feedback: for each failed check, what was tried, what was expected and what came
   back, the likely mistake, a hint and the section to reread; where attention weights are
   wrong, a picture of the expected weights beside yours with the wrong entries marked
   (`attention-grade --html report.html` writes it all as a web page).

## In a notebook

`exercises/chapter3.ipynb` walks through the chapter: for each exercise a Markdown cell (what
to write, what the book prints), a cell that tries your code on the book's six-token input,
and a cell `check("softmax_stable")` that grades that exercise and shows the feedback in the
notebook (`check()` grades them all). Edit the modules in `exercises/`: `check` grades the
saved files in a fresh process every time, and the notebook's setup cell turns on
`%autoreload`, so the cells that try your code see your edits without a restart.

```
pip install -e ".[notebook]"   # JupyterLab and its Python kernel
jupyter lab exercises/chapter3.ipynb
```

## Also under pytest

The same checks run under pytest, one test per check:
`pytest --pyargs grader --submission exercises -k softmax_stable`.

Your copy compares your code with the reference's outputs stored in `fixtures/`. When your
instructor grades, the randomised checks also run again on fresh inputs drawn at grading
time (hidden checks), so code that is right in general, not only on these inputs, scores.

## The exercises

| Exercise | Module | Book | Checks | Points |
|---|---|---|---|---|
{readme.learner_table()}

{total} points in all, plus speed checks, which your instructor's grading times against
the reference. Your copy has no reference: it times your `attention_scores`,
`CausalAttention` and `MultiHeadAttention` on the CPU against PyTorch's own kernels and says
whether the instructor's check would pass ("would pass the instructor's speed check ...
about 1.05x the reference's"), for no points; `--no-speed` skips that for a quicker run. The
modules may import each
other relatively (`from .causal_attention import CausalAttention`) or absolutely
(`from exercises.causal_attention import CausalAttention`).
"""


def _grader_ignore(grader: Path):
    """shutil.copytree's `ignore` for the grader: caches, and the solutions-only tools."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = set(IGNORED(folder, names))
        if Path(folder) == grader:
            skipped |= set(SOLUTIONS_ONLY) & set(names)
        return skipped

    return ignore


def write_release(dest: Path, kit: Path = paths.KIT_ROOT) -> None:
    """Write the learners' copy of the kit at `kit` into `dest` (absent or empty)."""
    if dest.exists() and any(dest.iterdir()):
        raise ReleaseError(f"{dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copytree(kit / "exercises", dest / "exercises", ignore=IGNORED)
        shutil.copytree(kit / "fixtures", dest / "fixtures", ignore=IGNORED)
        shutil.copytree(kit / "grader", dest / "grader", ignore=_grader_ignore(kit / "grader"))
        shutil.copy2(kit / "pyproject.toml", dest / "pyproject.toml")
        (dest / "README.md").write_text(learner_readme())
        found = leaks(dest, solution_bodies(kit / "solutions"))
        if found:
            raise ReleaseError(f"solution code would leak into {', '.join(found)}")
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="attention-grade release",
        description="Write the learners' copy of the kit (stubs, grader, public fixtures, a "
        "learner's README) into DIR: no solutions, no hidden-check data, no tests.",
    )
    parser.add_argument("dest", type=Path, metavar="DIR", help="a new or empty folder")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not paths.SOLUTIONS.is_dir():
        print("attention-grade release: run it from an instructor's checkout", file=sys.stderr)
        return 2
    try:
        write_release(args.dest)
    except ReleaseError as e:
        print(f"attention-grade release: {e}", file=sys.stderr)
        return 2
    print(f"wrote the learners' release to {args.dest}")
    return 0
