"""Slips the source shows where behaviour cannot: a result thrown away, an assert that is
always true, a layer built in `__init__` that `forward` never calls, a size computed with `/`.

Behaviour tells that the mask is missing; only the code tells why: the most common real
bug of this chapter is `attn_scores.masked_fill(mask, -torch.inf)` on a line of its own,
whose new tensor nobody keeps, so the learner believes the mask is applied. The judge reads
the exercise's own definition (it parses, never imports, as for forbidden calls) and, when
a check of that exercise has already failed, adds what it spotted to the feedback, with the
line. A slip never changes a verdict or a score.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from grader.judge.rules import parse, top_level

# Tensor methods (and torch functions) that return a new tensor and leave their input alone:
# called as a statement of their own, their work is lost. The value: the in-place variant,
# where torch has one.
OUT_OF_PLACE = {
    "masked_fill": "masked_fill_",
    "transpose": "transpose_",
    "tril": "tril_",
    "triu": "triu_",
    "softmax": "",
    "view": "",
    "reshape": "",
    "permute": "",
    "contiguous": "",
    "flatten": "",
    "unsqueeze": "unsqueeze_",
    "squeeze": "squeeze_",
    "div": "div_",
    "mul": "mul_",
    "add": "add_",
    "sub": "sub_",
    "exp": "exp_",
    "where": "",
    "dropout": "",
}
MAX_SLIPS = 3  # shown per exercise


@dataclass(frozen=True)
class Slip:
    line: int
    text: str  # in the learner's terms, with the line

    def __str__(self) -> str:
        return self.text


def _code(node: ast.AST, limit: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _discarded(tree: ast.AST) -> list[Slip]:
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
            continue
        func = node.value.func
        if not isinstance(func, ast.Attribute) or func.attr not in OUT_OF_PLACE:
            continue
        if isinstance(func.value, ast.Name) and func.value.id == "self":
            continue  # a method of the module itself
        in_place = OUT_OF_PLACE[func.attr]
        target = (
            _code(func.value)
            if not (isinstance(func.value, ast.Name) and func.value.id in ("torch", "F"))
            else "its input"
        )
        instead = f" (or the in-place {in_place})" if in_place else ""
        found.append(
            Slip(
                node.lineno,
                f"line {node.lineno}: `{_code(node.value)}` returns a new tensor and its result "
                f"is not kept, so {target} is unchanged: assign the result{instead}",
            )
        )
    return found


def _always_true_asserts(tree: ast.AST) -> list[Slip]:
    return [
        Slip(
            node.lineno,
            f"line {node.lineno}: `assert (condition, message)` asserts a tuple, which is "
            "always true, so it never raises: write `assert condition, message`",
        )
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert) and isinstance(node.test, ast.Tuple) and node.test.elts
    ]


def _is_size(target: ast.AST) -> bool:
    """head_dim, self.head_dim, self.kv_size: a name that holds a size."""
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return name.endswith(("_dim", "_size"))


def _float_sizes(tree: ast.AST) -> list[Slip]:
    """`head_dim = d_out / num_heads`: true division gives a float, which .view, .reshape and
    nn.Linear refuse as a size (their error says a float was found, not where it came from)."""
    return [
        Slip(
            node.lineno,
            f"line {node.lineno}: `{_code(node)}` makes {_code(node.targets[0])} a float "
            "(`/` is true division), but a size must be an int: divide with `//`",
        )
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and _is_size(node.targets[0])
        and isinstance(node.value, ast.BinOp)
        and isinstance(node.value.op, ast.Div)
    ]


def _is_layer(call: ast.AST) -> bool:
    """nn.Linear(...), torch.nn.Dropout(...), nn.ModuleList(...): a module built here."""
    if not isinstance(call, ast.Call):
        return False
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr[:1].isupper()
        and isinstance(func.value, (ast.Name, ast.Attribute))
        and ast.unparse(func.value) in ("nn", "torch.nn")
    )


def _layer_slips(cls: ast.ClassDef) -> list[Slip]:
    methods = [n for n in cls.body if isinstance(n, ast.FunctionDef)]
    init = next((m for m in methods if m.name == "__init__"), None)
    if init is None or not any(m.name == "forward" for m in methods):
        return []
    built: dict[str, int] = {}
    for node in ast.walk(init):
        if isinstance(node, ast.Assign) and _is_layer(node.value):
            for target in node.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                ):
                    built.setdefault(target.attr, node.lineno)
    used = {
        node.attr
        for m in methods
        if m is not init
        for node in ast.walk(m)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }
    slips = [
        Slip(
            line,
            f"line {line}: self.{name} is built in __init__ but forward never uses it "
            f"(is a call to self.{name}(...) missing?)",
        )
        for name, line in built.items()
        if name not in used
    ]
    for m in methods:  # self.dropout(attn_weights) on a line of its own: the result is lost
        for node in ast.walk(m):
            if (
                isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and isinstance(node.value.func.value, ast.Name)
                and node.value.func.value.id == "self"
                and node.value.func.attr in built
            ):
                slips.append(
                    Slip(
                        node.lineno,
                        f"line {node.lineno}: `{_code(node.value)}` returns a new tensor and "
                        "its result is not kept: assign it",
                    )
                )
    return slips


def spotted(source: str, definition: str) -> list[Slip]:
    """The slips inside the top-level def or class `definition` of `source`, by line."""
    tree = parse(source)
    target = top_level(tree, definition) if tree is not None else None
    if target is None:
        return []
    slips = _discarded(target) + _always_true_asserts(target) + _float_sizes(target)
    if isinstance(target, ast.ClassDef):
        slips += _layer_slips(target)
    return sorted(set(slips), key=lambda s: s.line)[:MAX_SLIPS]
