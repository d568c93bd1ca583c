"""Code that reaches into the grader's worker: found by reading the source, never running it.

The learner's code shares its worker process with the kit's harness, and some checks rest on
facts the harness reports about the module: its parameters and submodules (`Structure`,
`DescribeEquals`), the size of its mask (`MaskShape`), the device its output came out on
(`FollowsDevice`). Code that rewrites the harness, or the torch functions it reads those
facts with, could report anything (a forged `device_out` earned the device point:
tests/test_reach_ins.py). Values and gradients cannot be forged that way: the judge compares
them with the reference's on inputs the worker has not seen, and the speed checks verify what
they time (`speed_race.py`).

Attention code has no need to reach the harness, so the judge looks for the ways there in
every module of the submission and, where it finds one, credits none of those self-reported
checks (the report names the lines; values still earn their points). The ways:

- modules that hand out other modules, frames or raw memory: `grader`, `gc`, `inspect`,
  `ctypes`, `importlib`, `builtins` (imported), `sys.modules`, `sys._getframe`,
  `sys.settrace` and the like (used);
- frame, code and class-graph attributes (`f_back`, `tb_frame`, `__globals__`, `__code__`,
  `__subclasses__`, `__mro__`, `__builtins__`...);
- running text as code or importing by name: `exec`, `eval`, `compile`, `__import__`,
  `globals()`;
- writing to raw file descriptors (`os.write`, `os.dup2`, `os.fdopen`: the worker's reply
  travels on one) or naming `/proc/` (another process's memory, or this one's);
- replacing an attribute of an imported module or class with anything but a literal
  (`torch.cuda.synchronize = ...`, `nn.Module.named_parameters = ...`, or with `setattr`);
  a setting such as `torch.backends.cudnn.benchmark = True` is a literal and passes.

Like the forbidden-call rules (`rules.py`), this is not airtight against deliberate evasion;
it closes every ordinary route, and a submission must name one of the above to be flagged.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

MODULES = ("grader", "gc", "inspect", "ctypes", "importlib", "builtins")
SYS_ATTRIBUTES = {
    "modules",
    "_getframe",
    "settrace",
    "setprofile",
    "meta_path",
    "path_hooks",
    "addaudithook",
    "exc_info",
    "exception",
    "last_traceback",
}
ATTRIBUTES = {
    "f_back",
    "f_globals",
    "f_locals",
    "f_code",
    "f_builtins",
    "tb_frame",
    "tb_next",
    "gi_frame",
    "cr_frame",
    "ag_frame",
    "__globals__",
    "__code__",
    "__closure__",
    "__builtins__",
    "__subclasses__",
    "__mro__",
    "__bases__",
    "__base__",
    "__getattribute__",
    "__setattr__",
}
CALLS = {"exec", "eval", "compile", "__import__", "globals", "breakpoint"}
OS_CALLS = {"write", "writev", "pwrite", "dup", "dup2", "fdopen", "open", "ptrace"}


@dataclass(frozen=True)
class ReachIn:
    module: str  # the submission's module, e.g. "causal_attention.py"
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} {self.what}"


def _imported(tree: ast.Module) -> dict[str, str]:
    """Local name -> the module (or module.attribute) it stands for, from every import."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = (
                    a.name if a.asname else a.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _root(node: ast.AST) -> ast.AST:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node


def _chain(node: ast.AST) -> str:
    return ast.unparse(node)[:60]


def _literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_literal(e) for e in node.elts)
    return False


def find(tree: ast.Module, module: str) -> list[ReachIn]:
    """Every reach-in of one parsed module, in line order."""
    imported = _imported(tree)
    found: dict[tuple[int, str], ReachIn] = {}

    def add(node: ast.AST, what: str) -> None:
        line = getattr(node, "lineno", 0)
        found.setdefault((line, what), ReachIn(module, line, what))

    def from_module(node: ast.AST, name: str) -> bool:
        root = _root(node)
        return isinstance(root, ast.Name) and imported.get(root.id, "").split(".")[0] == name

    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if node.level == 0
                else []
            )
            for name in names:
                if name.split(".")[0] in MODULES:
                    add(node, f"imports {name}")
            if isinstance(node, ast.ImportFrom) and node.module in ("sys", "os"):
                wanted = SYS_ATTRIBUTES if node.module == "sys" else OS_CALLS
                for a in node.names:
                    if a.name in wanted or a.name == "*":
                        add(node, f"imports {node.module}.{a.name}")
        elif isinstance(node, ast.Attribute):
            if node.attr in ATTRIBUTES:
                add(node, f"uses .{node.attr}")
            elif any(
                node.attr in attributes and from_module(node.value, name)
                for name, attributes in (("sys", SYS_ATTRIBUTES), ("os", OS_CALLS))
            ):
                add(node, f"uses {_chain(node)}")
        elif isinstance(node, ast.Name) and node.id in CALLS | {"__builtins__"}:
            add(node, f"uses {node.id}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if text.startswith("grader") or "/proc/" in text:
                add(node, f"names {text[:40]!r}")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            value = getattr(node, "value", None)
            for target in targets:
                root = _root(target)
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(root, ast.Name)
                    and root.id in imported
                    and (value is None or not _literal(value))
                ):
                    add(node, f"replaces {_chain(target)}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("setattr", "delattr")
            and node.args
            and isinstance(_root(node.args[0]), ast.Name)
            and _root(node.args[0]).id in imported
        ):
            add(node, f"replaces an attribute of {_chain(node.args[0])} ({node.func.id})")
    return sorted(found.values(), key=lambda r: (r.line, r.what))
