"""Write exercises/chapter3.ipynb: chapter 3 walked with the book's toy input, a check per exercise.

    python -m grader.integrations.chapter_notebook           # (re)write the notebook
    python -m grader.integrations.chapter_notebook --check   # exit 1 if it differs

The notebook holds no solutions and no exercise code: learners write their code in the
modules next to it (exercises/*.py), run the notebook's cells to see their functions at work
on "Your journey starts with one step", and grade each exercise with a check cell,
`check("softmax_stable")`, which runs the kit's checks in its worker process. Each check
cell is tagged `check` and records its exercise under metadata["attention_kit"], so tests
and tools can find them. Saved without outputs, in nbformat 4.5 JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grader import checks, paths

NOTEBOOK = paths.EXERCISES / "chapter3.ipynb"


def _lines(text: str) -> list[str]:
    lines = text.strip("\n").split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def md(cell_id: str, text: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": _lines(text)}


def code(cell_id: str, text: str, metadata: dict | None = None) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": metadata or {},
        "outputs": [],
        "source": _lines(text),
    }


def check(exercise: str) -> dict:
    return code(
        f"check-{exercise}",
        f'check("{exercise}")',
        {"tags": ["check"], "attention_kit": {"exercise": exercise}},
    )


def exercise(name: str, module: str, intro: str, demo: str) -> list[dict]:
    """The three cells of an exercise: what to write, a demo on the toy input, its check."""
    text = f"### `{name}` (in `{module}.py`)\n\n{intro.strip()}"
    return [md(f"about-{name}", text), code(f"try-{name}", demo), check(name)]


INTRO = """\
# Chapter 3, "Coding Attention Mechanisms": the exercises, step by step

This notebook walks §3.3 to §3.6 of *Build a Large Language Model (From Scratch)* on the
book's six-token example, "Your journey starts with one step". It holds no exercise code:
**you write each function or class in the module named above it** (`simple_attention.py`,
`self_attention.py`, `causal_attention.py`, `multihead_attention.py`, next to this notebook),
then run the cells below it:

1. the *try* cell calls your code on the toy input; compare with the book's numbers, quoted
   in the text (it raises `NotImplementedError` until you have written it);
2. the *check* cell, `check("name")`, grades that exercise with the kit: the same checks,
   points and feedback as `attention-grade --only name` in a terminal. Your code runs in the
   kit's own worker process, so a hang or a crash costs that check, not this notebook.

Run the setup cell first. Edits to the modules are picked up without restarting the kernel
(`%autoreload`).
"""

SETUP = """\
%load_ext autoreload
%autoreload 2

import sys
from pathlib import Path

import torch

# This notebook sits in your exercises/ folder: its parent is where `import exercises` looks.
sys.path.insert(0, str(Path.cwd().parent))

from grader import check

inputs = torch.tensor(
    [[0.43, 0.15, 0.89],  # Your     (x^1)
     [0.55, 0.87, 0.66],  # journey  (x^2)
     [0.57, 0.85, 0.64],  # starts   (x^3)
     [0.22, 0.58, 0.33],  # with     (x^4)
     [0.77, 0.25, 0.10],  # one      (x^5)
     [0.05, 0.80, 0.55]]  # step     (x^6)
)
"""


# The notebook's part headings, one per module, in the chapter's order.
PARTS = {
    "simple_attention": (
        "section-3-3",
        "## §3.3 A simple self-attention mechanism without trainable weights\n\n"
        "The second token, *journey*, is the query. Its attention scores are dot products "
        "with every token; normalised, they weight the inputs into a context vector.",
    ),
    "self_attention": (
        "section-3-4",
        "## §3.4 Implementing self-attention with trainable weights\n\n"
        "Queries, keys and values are projections of the inputs, here from 3 to 2 "
        "dimensions.",
    ),
    "causal_attention": (
        "section-3-5",
        "## §3.5 Hiding future words with causal attention\n\n"
        "Each token may attend only to itself and the tokens before it.",
    ),
    "multihead_attention": (
        "section-3-6",
        "## §3.6 Extending single-head attention to multi-head attention",
    ),
}


def cells() -> list[dict]:
    """The intro and setup, then for each exercise in the book's order (grader.checks) its
    part's heading where a new module starts, and its three cells."""
    out = [md("intro", INTRO), code("setup", SETUP)]
    module = None
    for ex in checks.EXERCISES:
        if ex.module != module:
            module = ex.module
            out.append(md(*PARTS[module]))
        out += exercise(ex.name, ex.module, ex.about, ex.demo)
    out.append(
        md(
            "all",
            "## Everything at once\n\n`check()` grades every exercise, like `attention-grade`.",
        )
    )
    out.append(
        code("check-all", "check()", {"tags": ["check"], "attention_kit": {"exercise": None}})
    )
    return out


def notebook() -> dict:
    return {
        "cells": cells(),
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def render() -> str:
    return json.dumps(notebook(), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.integrations.chapter_notebook",
        description="Write exercises/chapter3.ipynb.",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the notebook differs")
    parser.add_argument("--out", type=Path, default=NOTEBOOK, help="where to write it")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not args.out.is_file() or args.out.read_text(encoding="utf-8") != text:
            print(
                f"{args.out} is out of date: run `python -m grader.integrations.chapter_notebook`"
            )
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
