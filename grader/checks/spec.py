"""What a check is: data that one engine runs for the CLI, JSON, pytest and batch grading.

A `Check` says what it runs (a probe spec, see `grader.worker.probes`), on which inputs (a
function of a bit-stable `Rng`), how it judges (a `Criterion`), how many points it is worth, and
what to tell the learner when it fails. An `Exercise` groups the checks of one function or
class of the contract and names the book section to read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from grader.checks.criteria import Criterion
from grader.rng import Rng

SECTIONS = {
    "3.3.1": "A simple self-attention mechanism without trainable weights",
    "3.3.2": "Computing attention weights for all input tokens",
    "3.4.1": "Computing the attention weights step by step",
    "3.4.2": "Implementing a compact self-attention Python class",
    "3.5.1": "Applying a causal attention mask",
    "3.5.2": "Masking additional attention weights with dropout",
    "3.5.3": "Implementing a compact causal attention class",
    "3.6.1": "Stacking multiple single-head attention layers",
    "3.6.2": "Implementing multi-head attention with weight splits",
    "Exercise 3.1": "Comparing SelfAttention_v1 and SelfAttention_v2",
    "Exercise 3.2": "Returning two-dimensional embedding vectors",
    "Exercise 3.3": "Initializing GPT-2 size attention modules",
}

Inputs = Callable[[Rng], dict[str, torch.Tensor]]


def where_to_look(section: str) -> str:
    prefix = "" if section.startswith("Exercise") else "§"
    return f'{prefix}{section} "{SECTIONS[section]}"'


@dataclass(frozen=True, kw_only=True)
class Check:
    name: str  # unique within its exercise, e.g. "values_random"
    title: str  # short, for tables: "values on a random configuration"
    tries: str  # what is run on what, in words, for the feedback
    probe: dict  # a probe spec without "module" (the exercise adds it)
    inputs: Inputs
    judge: Criterion
    points: int = 1  # 0 makes it a note: shown, never deducted
    randomized: bool = False  # also run as a hidden check on a seed drawn at grading time
    advice: str = ""  # what to check when it fails
    look: str = ""  # a book section, when it is not the exercise's own
    # The output that holds attention weights (or the mask that shapes them): a failure draws
    # it beside the expected weights, its wrong entries marked (grader.report.pictures), unless
    # the check is hidden. "" for a check whose output is no matrix of weights.
    picture: str = ""


@dataclass(frozen=True)
class Exercise:
    name: str  # the function or class name in the contract
    module: str  # exercises/<module>.py
    section: str  # key of SECTIONS
    hint: str  # the idea, in a sentence or two
    checks: tuple[Check, ...] = field(default_factory=tuple)
    forbidden: tuple[str, ...] = ()  # calls that skip the learning goal (see grader/judge/rules.py)
    # Also judge the calls seen at run time? Not where the exercise runs another exercise's
    # code (the wrapper runs CausalAttention heads, which are judged on their own).
    watch_runtime: bool = True
    # Other exercises of the contract that this one's checks run (besides those the learner's
    # own code calls, which the judge reads from the source): when one of them fails its own
    # checks, this exercise's failures say so (see Grading.finish).
    builds_on: tuple[str, ...] = ()
    # The chapter notebook (exercises/chapter3.ipynb, generated from these records): what to
    # write and what the book prints, in Markdown, and the code of the cell that tries it on
    # the book's toy input (`inputs`, and what earlier exercises' cells defined).
    about: str = ""
    demo: str = ""

    @property
    def max_points(self) -> int:
        return sum(c.points for c in self.checks)

    def probe(self, check: Check) -> dict:
        return {"module": self.module, "target": self.name, **check.probe}
