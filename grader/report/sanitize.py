"""Learner-made text made safe to show: the one function every report writer uses.

Exception messages, what a submission printed and submission ids (file names) are the
learner's. Before they reach a terminal, Markdown or a CSV file, `clean` takes out what could
rewrite or hide other text there: ANSI and other terminal escape sequences (cursor moves, line
erases, colours, window titles, hyperlinks), every other control character but newline and
tab, and the bidirectional overrides that reorder how a line is displayed. It also replaces
lone surrogates (from a `\\udcff` escape, or a file name that is not UTF-8), which no UTF-8
stream can encode, by U+FFFD. A fake "Total: 147/147" line therefore stays visibly part of
the learner's output, and no writer fails on unencodable text.
"""

from __future__ import annotations

import re

__all__ = ["clean", "json_safe"]

# ESC followed by a CSI (ESC [ ... final byte), an OSC, DCS, SOS, PM or APC string (ended by
# BEL or ST), or a two-character escape; then the single-byte C1 CSI and OSC forms.
_ESCAPES = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|[ -~])"
    r"|\x9b[0-?]*[ -/]*[@-~]|[\x90\x9d\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
)
# C0 controls but tab and newline, DEL, C1 controls, bidirectional embeddings, overrides and
# isolates, and U+2028/U+2029 (line breaks to some viewers, not to others).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean(text: object, *, one_line: bool = False) -> str:
    """`text` (made a str) without escape sequences and control characters, lone surrogates
    replaced; with `one_line`, newlines and tabs become spaces too (table cells, list items)."""
    text = _SURROGATES.sub("\ufffd", _CONTROLS.sub("", _ESCAPES.sub("", str(text))))
    return text.replace("\n", " ").replace("\t", " ") if one_line else text


def json_safe(value: object) -> object:
    """`value` (JSON data) with lone surrogates in every string and key replaced by U+FFFD,
    so that json.dumps writes no `\\udcff` escape, which strict parsers refuse."""
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
