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

from grader import paths

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


def cells() -> list[dict]:
    out = [md("intro", INTRO), code("setup", SETUP)]
    out.append(
        md(
            "section-3-3",
            "## §3.3 A simple self-attention mechanism without trainable weights\n\n"
            "The second token, *journey*, is the query. Its attention scores are dot products "
            "with every token; normalised, they weight the inputs into a context vector.",
        )
    )
    out += exercise(
        "attention_scores_for_query",
        "simple_attention",
        "The score of token *i* is `inputs[i] · query`. The book prints "
        "`tensor([0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865])`.",
        "from exercises.simple_attention import attention_scores_for_query\n\n"
        "query = inputs[1]  # journey\n"
        "attn_scores_2 = attention_scores_for_query(inputs, query)\n"
        "attn_scores_2",
    )
    out += exercise(
        "normalize_by_sum",
        "simple_attention",
        "The first, naive normalisation: divide by the sum. The book prints "
        "`tensor([0.1455, 0.2278, 0.2249, 0.1285, 0.1077, 0.1656])`.",
        "from exercises.simple_attention import normalize_by_sum\n\n"
        "normalize_by_sum(attn_scores_2)",
    )
    out += exercise(
        "softmax_naive",
        "simple_attention",
        "`exp(x) / sum(exp(x))`. The book prints "
        "`tensor([0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581])`; on inputs near 1e4 it "
        "overflows to `nan`, which the next exercise fixes.",
        "from exercises.simple_attention import softmax_naive\n\n"
        "print(softmax_naive(attn_scores_2))\n"
        "print(softmax_naive(torch.tensor([1e4, 1e4 - 1])))  # nan: exp overflows",
    )
    out += exercise(
        "softmax_stable",
        "simple_attention",
        "Subtract the maximum first: same weights as above, and "
        "`tensor([0.7311, 0.2689])` for the large inputs.",
        "from exercises.simple_attention import softmax_stable\n\n"
        "attn_weights_2 = softmax_stable(attn_scores_2)\n"
        "print(attn_weights_2)\n"
        "print(softmax_stable(torch.tensor([1e4, 1e4 - 1])))",
    )
    out += exercise(
        "attention_scores",
        "simple_attention",
        "All pairs at once, in one matrix product (§3.3.2): a (6, 6) tensor whose second "
        "row is the scores above.",
        "from exercises.simple_attention import attention_scores\n\n"
        "attn_scores = attention_scores(inputs)\n"
        "attn_scores",
    )
    out += exercise(
        "context_vectors",
        "simple_attention",
        "Weighted sums of the inputs. The second row is the book's context vector "
        "`tensor([0.4419, 0.6515, 0.5683])`.",
        "from exercises.simple_attention import context_vectors\n\n"
        "attn_weights = softmax_stable(attn_scores)\n"
        "context_vectors(attn_weights, inputs)",
    )
    out.append(
        md(
            "section-3-4",
            "## §3.4 Implementing self-attention with trainable weights\n\n"
            "Queries, keys and values are projections of the inputs, here from 3 to 2 "
            "dimensions.",
        )
    )
    out += exercise(
        "SelfAttention_v1",
        "self_attention",
        "With `torch.manual_seed(123)` the book prints a first row of "
        "`[0.2996, 0.8053]` and a last of `[0.2990, 0.8040]`.",
        "from exercises.self_attention import SelfAttention_v1\n\n"
        "torch.manual_seed(123)\n"
        "sa_v1 = SelfAttention_v1(d_in=3, d_out=2)\n"
        "sa_v1(inputs)",
    )
    out += exercise(
        "SelfAttention_v2",
        "self_attention",
        "`nn.Linear` projections. With `torch.manual_seed(789)` the first row is "
        "`[-0.0739, 0.0713]`.",
        "from exercises.self_attention import SelfAttention_v2\n\n"
        "torch.manual_seed(789)\n"
        "sa_v2 = SelfAttention_v2(d_in=3, d_out=2)\n"
        "sa_v2(inputs)",
    )
    out += exercise(
        "copy_v2_weights_into_v1",
        "self_attention",
        "Exercise 3.1: after copying, both modules compute the same thing.",
        "from exercises.self_attention import copy_v2_weights_into_v1\n\n"
        "copy_v2_weights_into_v1(sa_v2, sa_v1)\n"
        "torch.allclose(sa_v1(inputs), sa_v2(inputs))  # True",
    )
    out.append(
        md(
            "section-3-5",
            "## §3.5 Hiding future words with causal attention\n\n"
            "Each token may attend only to itself and the tokens before it.",
        )
    )
    out += exercise(
        "causal_mask",
        "causal_attention",
        "`True` above the diagonal, where a query must not see a key.",
        "from exercises.causal_attention import causal_mask\n\ncausal_mask(6)",
    )
    out += exercise(
        "mask_and_renormalize",
        "causal_attention",
        "The book's first approach: mask the weights after the softmax, then renormalise. "
        "With `sa_v2`'s projections the second row is `[0.5517, 0.4483, 0, 0, 0, 0]`.",
        "from exercises.causal_attention import mask_and_renormalize\n\n"
        "queries, keys = sa_v2.W_query(inputs), sa_v2.W_key(inputs)\n"
        "scores = queries @ keys.T\n"
        "weights = softmax_stable(scores / keys.shape[-1] ** 0.5)\n"
        "mask_and_renormalize(weights)",
    )
    out += exercise(
        "masked_attention_weights",
        "causal_attention",
        "The efficient way: `-inf` above the diagonal before the softmax. Same weights as above.",
        "from exercises.causal_attention import masked_attention_weights\n\n"
        "masked_attention_weights(scores, d_k=keys.shape[-1])",
    )
    out += exercise(
        "attention_dropout",
        "causal_attention",
        "Dropout with p = 0.5 zeroes about half of the weights and doubles the others.",
        "from exercises.causal_attention import attention_dropout\n\n"
        "torch.manual_seed(123)\n"
        "attention_dropout(torch.ones(6, 6), p=0.5)",
    )
    out += exercise(
        "CausalAttention",
        "causal_attention",
        "A batch of two copies of the input. With `torch.manual_seed(123)` the book prints a "
        "first row of `[-0.4519, 0.2216]` in each batch entry.",
        "from exercises.causal_attention import CausalAttention\n\n"
        "batch = torch.stack((inputs, inputs), dim=0)  # (2, 6, 3)\n"
        "torch.manual_seed(123)\n"
        "ca = CausalAttention(d_in=3, d_out=2, context_length=batch.shape[1], dropout=0.0)\n"
        "ca(batch)",
    )
    out.append(
        md(
            "section-3-6",
            "## §3.6 Extending single-head attention to multi-head attention",
        )
    )
    out += exercise(
        "MultiHeadAttentionWrapper",
        "multihead_attention",
        "Two `CausalAttention` heads side by side: (2, 6, 4); with `torch.manual_seed(123)` "
        "the first row is `[-0.4519, 0.2216, 0.4772, 0.1063]`.",
        "from exercises.multihead_attention import MultiHeadAttentionWrapper\n\n"
        "torch.manual_seed(123)\n"
        "mha_wrapper = MultiHeadAttentionWrapper(3, 2, context_length=6, dropout=0.0, num_heads=2)\n"
        "mha_wrapper(batch)",
    )
    out += exercise(
        "wrapper_with_2d_output",
        "multihead_attention",
        "Exercise 3.2: still two heads, but two-dimensional context vectors.",
        "from exercises.multihead_attention import wrapper_with_2d_output\n\n"
        "wrapper_with_2d_output(d_in=3, context_length=6)(batch).shape  # (2, 6, 2)",
    )
    out += exercise(
        "MultiHeadAttention",
        "multihead_attention",
        "All heads in one pass with weight splits. With `torch.manual_seed(123)` the book "
        "prints a first row of `[0.3190, 0.4858]`.",
        "from exercises.multihead_attention import MultiHeadAttention\n\n"
        "torch.manual_seed(123)\n"
        "mha = MultiHeadAttention(3, 2, context_length=6, dropout=0.0, num_heads=2)\n"
        "mha(batch)",
    )
    out += exercise(
        "gpt2_small_attention",
        "multihead_attention",
        "Exercise 3.3: the smallest GPT-2's attention has 2,360,064 parameters.",
        "from exercises.multihead_attention import gpt2_small_attention\n\n"
        "gpt2 = gpt2_small_attention()\n"
        "sum(p.numel() for p in gpt2.parameters())",
    )
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
