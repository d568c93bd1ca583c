"""Where the kit's folders are: the checkout (or release) that holds the grader package."""

from __future__ import annotations

from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
EXERCISES = KIT_ROOT / "exercises"
SOLUTIONS = KIT_ROOT / "solutions"
FIXTURES = KIT_ROOT / "fixtures"
BASELINES = KIT_ROOT / "grader" / "baselines"  # what a learner's copy times speed against
MODULES = ("simple_attention", "self_attention", "causal_attention", "multihead_attention")

# Where a judge makes its temporary folders (its copy of the submission, its workers' homes,
# the mistaken variants): None for the system's. A batch gives each pool of judge processes
# one of its own and removes it afterwards (grader/batch.py), so that a judge killed in the
# middle of a grading (a submission may kill it at the fallback) leaves nothing behind.
_scratch: str | None = None


def scratch() -> str | None:
    return _scratch


def use_scratch(folder: str | None) -> None:
    global _scratch
    _scratch = folder
