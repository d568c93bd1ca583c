"""Every exercise of the kit and its checks, in the book's order."""

from __future__ import annotations

from grader.checks import causal_attention, multihead_attention, self_attention, simple_attention
from grader.checks.spec import SECTIONS, Check, Exercise, where_to_look

EXERCISES: tuple[Exercise, ...] = (
    *simple_attention.EXERCISES,
    *self_attention.EXERCISES,
    *causal_attention.EXERCISES,
    *multihead_attention.EXERCISES,
)


def find(name: str) -> Exercise:
    for exercise in EXERCISES:
        if exercise.name == name:
            return exercise
    known = ", ".join(e.name for e in EXERCISES)
    raise KeyError(f"no exercise named {name!r}; the exercises are: {known}")


__all__ = ["EXERCISES", "SECTIONS", "Check", "Exercise", "find", "where_to_look"]
