"""Name the learner's mistake: compare a failed check's output with each known mistake's.

For every variant of the exercise (the reference with one known mistake, see variants.py),
the check's own judge decides whether the learner's reply matches the variant's as it would
decide a match with the reference. An exception matches a variant that raises the same
exception type with the same message (a broadcasting error: the same two sizes). Only failed
checks are diagnosed, so a diagnosis never changes a verdict; when several variants match,
all are named.
"""

from __future__ import annotations

import re

from grader.checks.spec import Check, Exercise
from grader.protocol import Reply


def _first_line(error: dict | None) -> tuple[str, str]:
    error = error or {}
    lines = (error.get("message") or "").splitlines()
    first = lines[0] if lines else ""
    if error.get("type") == "ContractError":
        # "'W_query.bias' is None ..." and "'W_value.bias' is None ..." are one mistake.
        first = re.sub(r"'[^']*'", "'...'", first)
    elif m := _BROADCAST.match(first):
        # One shape mismatch whichever operand comes first (masked_fill(mask) or
        # torch.where(mask, ...)) and wherever broadcasting aligned it: the two sizes say it.
        first = "sizes " + " and ".join(sorted((m.group(1), m.group(2)), key=int))
    return error.get("type", ""), first


_BROADCAST = re.compile(
    r"The size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\) "
    r"at non-singleton dimension \d+"
)


RAISED = ("error", "contract")  # an exception, or the contract's attributes not as promised


def same_error(a: Reply, b: Reply) -> bool:
    return (
        a.status in RAISED and b.status in RAISED and _first_line(a.error) == _first_line(b.error)
    )


def diagnose(source, exercise: Exercise, check: Check, inputs: dict, got: Reply) -> list:
    """The known mistakes (objects with id, title, fix) whose output the learner's matches."""
    if not check.judge.needs_expected or got.status not in ("ok", *RAISED):
        return []
    matches = []
    for mistake in source.mistakes(exercise):
        other = source.mistake_reply(exercise, check, inputs, mistake.id)
        if other is None:
            continue
        if got.ok and other.ok:
            matched = check.judge.matches(inputs, other, got)
        else:
            matched = same_error(got, other)
        if matched:
            matches.append(mistake)
    return matches
