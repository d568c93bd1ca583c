"""Watch, inside the worker, which library shortcuts the learner's code calls.

`install()` wraps each watched function (or class constructor) in a recorder before any
learner code is imported, so even `from torch.nn.functional import softmax` binds the
recorder. `take()` returns and clears the names called since the last take. The judge compares
them with the exercise's forbidden list (see grader/judge/rules.py). Recording changes no
result and costs one set insertion per call.
"""

from __future__ import annotations

import functools
import importlib

SOFTMAX_CALLS = (
    "torch.softmax",
    "torch.log_softmax",
    "torch.nn.functional.softmax",
    "torch.nn.functional.log_softmax",
    "torch.Tensor.softmax",
    "torch.Tensor.log_softmax",
    "torch.special.softmax",
    "torch.special.log_softmax",
    "torch.nn.Softmax",
    "torch.nn.LogSoftmax",
)
FUSED_ATTENTION_CALLS = (
    "torch.nn.functional.scaled_dot_product_attention",
    "torch.nn.functional.multi_head_attention_forward",
    "torch.nn.MultiheadAttention",
)
WATCHED = SOFTMAX_CALLS + FUSED_ATTENTION_CALLS

_called: set[str] = set()


def _recorder(name: str, original):
    @functools.wraps(original)
    def record(*args, **kwargs):
        _called.add(name)
        return original(*args, **kwargs)

    return record


def install() -> None:
    for name in WATCHED:
        owner_name, attr = name.rsplit(".", 1)
        try:
            owner = importlib.import_module(owner_name)
        except ModuleNotFoundError:  # torch.Tensor is an attribute, not a module
            parent, cls = owner_name.rsplit(".", 1)
            owner = getattr(importlib.import_module(parent), cls)
        original = getattr(owner, attr, None)
        if original is None:
            continue
        if isinstance(original, type):  # a class: record its construction
            original.__init__ = _recorder(name, original.__init__)
        else:
            setattr(owner, attr, _recorder(name, original))


def take() -> list[str]:
    names = sorted(_called)
    _called.clear()
    return names
