"""Say so when learner code needs a newer Python than the one grading it.

A learner on Python 3.12 may write `from typing import override` or `type Weights = ...`;
graded on 3.10, the module fails to import with an error that blames their code. The
feedback then names the Python that grades and what the code needs.
"""

from __future__ import annotations

import re
import sys

# Names the standard library gained after 3.10 (the oldest Python the kit supports), by the
# version that added them. Not exhaustive: the ones chapter-3 code plausibly uses.
ADDED = {
    "typing.Self": (3, 11),
    "typing.LiteralString": (3, 11),
    "typing.Never": (3, 11),
    "typing.assert_never": (3, 11),
    "typing.assert_type": (3, 11),
    "typing.reveal_type": (3, 11),
    "typing.Required": (3, 11),
    "typing.NotRequired": (3, 11),
    "typing.Unpack": (3, 11),
    "typing.TypeVarTuple": (3, 11),
    "typing.dataclass_transform": (3, 11),
    "typing.override": (3, 12),
    "typing.TypeAliasType": (3, 12),
    "typing.ReadOnly": (3, 13),
    "typing.TypeIs": (3, 13),
    "typing.NoDefault": (3, 13),
    "itertools.batched": (3, 12),
    "math.sumprod": (3, 12),
    "tomllib": (3, 11),
    "enum.StrEnum": (3, 11),
}

_CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")
_NO_ATTRIBUTE = re.compile(r"module '([\w.]+)' has no attribute '(\w+)'")


def _running() -> str:
    return ".".join(str(n) for n in sys.version_info[:3])


def needed(name: str) -> tuple[int, int] | None:
    """The Python version that added `name` ("typing.override"), if it is newer than this one."""
    version = ADDED.get(name)
    return version if version and sys.version_info[:2] < version else None


# Syntax errors that no newer Python would accept either: a typo, not a version question.
_PLAIN_TYPOS = (
    "expected ':'",
    "unterminated",
    "unmatched",
    "unexpected indent",
    "unindent",
    "expected an indented block",
    "invalid character",
    "unexpected EOF",
    "'(' was never closed",
    "'[' was never closed",
    "'{' was never closed",
)


def explain(error_type: str, message: str) -> str:
    """A sentence for the feedback when this error looks like a too-old Python, else ''."""
    name = None
    if m := _CANNOT_IMPORT.search(message):
        name = f"{m.group(2)}.{m.group(1)}"
    elif m := _NO_ATTRIBUTE.search(message):
        name = f"{m.group(1)}.{m.group(2)}"
    elif m := _NO_MODULE.search(message):
        name = m.group(1)
    if name and (version := needed(name)):
        return (
            f"{name} needs Python {version[0]}.{version[1]} or newer, and this grader runs "
            f"Python {_running()}: write the code without it"
        )
    if (
        error_type == "SyntaxError"
        and sys.version_info[:2] < (3, 13)
        and not message.startswith(_PLAIN_TYPOS)
    ):
        return (
            f"this grader runs Python {_running()}: if this syntax is valid on your Python, "
            "it is newer than the grader's (type statements and def f[T] need 3.12, "
            "except* 3.11); write it the older way"
        )
    return ""
