"""Forbidden calls: the library functions that would skip an exercise's learning goal.

Each exercise lists them (`Exercise.forbidden`, dotted names such as "torch.softmax" or
"torch.Tensor.softmax") and its stub's docstring states the rule. They are detected twice:
statically here, by reading the submission's source (the judge parses it, never imports it),
and at run time by the worker, which wraps these functions before the learner's code is
imported and reports which ones ran during each call. Neither is airtight against deliberate
evasion (the worker shares its process with the learner's code); together they catch every
ordinary use, which is what the rule is for.

A source Python cannot parse has no static uses: a syntax error or null bytes (the worker's
import then fails the same way, so its exercises are graded by that behaviour), or nesting
deeper than Python's parser goes (RecursionError, MemoryError). The judge never meets the
last kind in a submission, though: `grader.judge.submission` refuses, with a clear message,
a module over its size limit (MAX_MODULE_BYTES, checked before the file is read) or nested
deeper than MAX_NESTING, so that no module can hide a forbidden call from this scan by
being too large or too deep for it. `parse` is also what the one-file integration uses.
"""

from __future__ import annotations

import ast
import functools

from grader.worker.watch import FUSED_ATTENTION_CALLS, SOFTMAX_CALLS

__all__ = [
    "FUSED_ATTENTION_CALLS",
    "SOFTMAX_CALLS",
    "names_used",
    "parse",
    "runtime_uses",
    "static_uses",
]

# Methods of tensors are recognised by name wherever they are called on something that is
# not a module alias (x.softmax(...)).
TENSOR_METHODS = {"softmax": "torch.Tensor.softmax", "log_softmax": "torch.Tensor.log_softmax"}


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted name, from every import in the module (nested ones too)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    names[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in aliases:
        return ".".join([aliases[node.id], *reversed(parts)])
    return None


def top_level(tree: ast.Module, name: str) -> ast.FunctionDef | ast.ClassDef | None:
    """The top-level def or class called `name`."""
    return next(
        (n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name),
        None,
    )


def parse(source: str | bytes) -> ast.Module | None:
    """The module's syntax tree; None when Python cannot parse it (see the docstring)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


@functools.lru_cache(maxsize=8)  # a module's exercises are judged one after another
def _parsed(source: str) -> tuple[ast.Module, dict[str, str]] | None:
    tree = parse(source)
    return None if tree is None else (tree, _aliases(tree))


def static_uses(source: str, definition: str, forbidden: tuple[str, ...]) -> list[tuple[str, int]]:
    """(forbidden name, line) for each use inside the top-level def or class `definition`."""
    parsed = _parsed(source)
    if parsed is None:
        return []
    tree, aliases = parsed
    target = top_level(tree, definition)
    if target is None:
        return []
    found = []
    for node in ast.walk(target):
        name = None
        if isinstance(node, (ast.Attribute, ast.Name)):
            name = (
                _dotted(node, aliases) if isinstance(node, ast.Attribute) else aliases.get(node.id)
            )
            if name is None and isinstance(node, ast.Attribute) and node.attr in TENSOR_METHODS:
                base = node.value
                if not (isinstance(base, ast.Name) and base.id == "self"):
                    name = TENSOR_METHODS[node.attr]
        if name and name in forbidden:
            found.append((name, node.lineno))
    return sorted(set(found), key=lambda x: x[1])


def runtime_uses(info: dict, forbidden: tuple[str, ...]) -> list[str]:
    """The forbidden names the worker saw called during one probe."""
    return sorted(set(info.get("calls", [])) & set(forbidden))


def names_used(source: str, definition: str, candidates: set[str]) -> set[str]:
    """Which of `candidates` (other exercises' names) the top-level `definition` refers to."""
    parsed = _parsed(source)
    target = top_level(parsed[0], definition) if parsed is not None else None
    if target is None:
        return set()
    found = {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    found |= {n.attr for n in ast.walk(target) if isinstance(n, ast.Attribute)}
    return (found & candidates) - {definition}
