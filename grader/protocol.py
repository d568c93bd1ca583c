"""What the judge and the worker say to each other: the reply to a call, its statuses and the
shape of its JSON header.

`Reply` is what every call answers, whoever ran the probe (the learner's worker, the
reference's worker, or the reference in the judge's own process): the checks' judges, the
engine and the reports read it. The worker answers with one of `STATUSES`; the judge adds
`ERROR_STATUSES` for a call that got no usable answer. A worker's reply header must fit
`REPLY` (checked by `grader.worker.wire.reply_problem` before anything reads it).

How frames are encoded and bounded is `grader/worker/wire.py`'s business; this module holds
no code that runs, so that the judge, the checks and the reports depend on it rather than on
the process that launches the worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# What a worker may answer: ok | not_attempted | error | contract | missing
STATUSES = ("ok", "not_attempted", "error", "contract", "missing")
# What the judge answers for a call that got no usable reply: timeout | died | protocol
ERROR_STATUSES = ("timeout", "died", "protocol")


@dataclass
class Reply:
    """What came back from one probe call."""

    status: str  # ok | not_attempted | error | contract | missing | timeout | died | protocol
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    error: dict | None = None
    printed: str = ""  # what the learner's code wrote to stdout/stderr during the call
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# -- what a worker may reply -------------------------------------------------------------
# A schema is a type (int never accepts a bool; float accepts an int), a tuple of them, [s]
# (a list of s), {key: s} (an object whose listed keys, when present, follow their schema;
# other keys may hold any JSON) or Values(s) (an object whose every value follows s). All of
# it is bounded (see grader/worker/wire.py: MAX_DEPTH, MAX_STRING, MAX_ITEMS).


@dataclass(frozen=True)
class Values:
    schema: object


ANY = object()  # any JSON value, bounded
SHAPE = [int]
ERROR = {"type": str, "message": str, "frames": [Values((str, int, type(None)))]}
DESCRIBE = {
    "type": str,
    "params": Values(SHAPE),
    "frozen": [str],
    "buffers": Values({"shape": SHAPE, "dtype": str, "persistent": bool}),
    "plain_tensors": Values(SHAPE),
    "modules": Values(str),
    "attrs": Values((bool, int, float, str)),
    "dropout": Values(float),
    "num_params": int,
}
INFO = {
    "calls": [str],
    "no_grad": [str],
    "describe": DESCRIBE,
    "device_out": [{"shape": SHAPE, "device": str}],
    "reps": int,
    "device": str,
    "seconds": float,
}
REPLY = {"id": int, "status": str, "info": INFO, "error": ERROR}
