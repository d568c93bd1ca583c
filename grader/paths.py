"""Where the kit's folders are: the checkout (or release) that holds the grader package."""

from __future__ import annotations

from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
EXERCISES = KIT_ROOT / "exercises"
SOLUTIONS = KIT_ROOT / "solutions"
FIXTURES = KIT_ROOT / "fixtures"
BASELINES = KIT_ROOT / "grader" / "baselines"  # what a learner's copy times speed against
MODULES = ("simple_attention", "self_attention", "causal_attention", "multihead_attention")
