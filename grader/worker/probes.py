"""Probes: what to do with a learner's function or class, written as data.

A probe spec is a small JSON object (`{"kind": "call", "target": "softmax_stable", ...}`).
`run_probe(spec, inputs, lookup)` carries it out and returns named output tensors plus JSON
info. The worker runs probes against the submission; the judge runs the very same probes
against the reference solutions. Expected and actual values therefore come from one
procedure, and the only thing that differs is whose code `lookup` returns.

The judge adds `"float64": true` to the reference's specs: its modules are built in float32,
as the learner's are (a seeded initialisation draws the same numbers), then converted to
float64, and its inputs arrive in float64 (see grader.judge.expected).

Output names: `out` for the first result (`out1`, `out2`, ... for later ones), `twin` for a
library function's result on the same arguments, `grad:NAME` for
gradients, `after:NAME` for an input as it was after the call (to catch in-place changes).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from grader.errors import ContractError

Lookup = Callable[[str, str], Any]  # (module, name) -> object
Outputs = dict[str, torch.Tensor]

WEIGHT_PREFIX = "w:"  # inputs named "w:W_query.weight" are loaded into the module by that name


@functools.cache
def _has_cuda() -> bool:
    return torch.cuda.is_available()


def seed_torch(seed: int) -> None:
    """torch.manual_seed(seed), without its cost where there is no GPU to seed.

    Until CUDA is initialised, torch.manual_seed queues a seed for every accelerator it
    knows, each with a formatted stack trace (milliseconds per call in a deep stack, and the
    checks seed thousands of times). Without CUDA only the CPU generator draws numbers, and
    seeding it alone leaves the same state.
    """
    if _has_cuda():
        torch.manual_seed(seed)
    else:
        torch.default_generator.manual_seed(seed)


def tensor_ref(name: str) -> dict:
    """In a probe's args or kwargs: use the input tensor called `name`."""
    return {"tensor": name}


def out_key(i: int) -> str:
    return "out" if i == 0 else f"out{i}"


def _resolve(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, dict) and set(value) == {"tensor"}:
        return tensors[value["tensor"]]
    return value


def _as_tensor(result: Any, what: str) -> torch.Tensor:
    if not isinstance(result, torch.Tensor):
        raise ContractError(f"{what} returned {type(result).__name__}, expected a torch.Tensor")
    return result


# Library functions a call can be compared with where the comparison must not depend on the
# torch build (its random streams, say): `twin` runs in the same process as the call.
TWINS = {"F.dropout": torch.nn.functional.dropout}


def _call(spec: dict, inputs: Outputs, lookup: Lookup) -> tuple[Outputs, dict]:
    """Call a function: `repeat` times with the same arguments, optionally backward."""
    fn = lookup(spec["module"], spec["target"])
    tensors = {name: t.clone() for name, t in inputs.items()}
    for name in spec.get("grad_of", ()):
        tensors[name].requires_grad_(True)
    args = [_resolve(a, tensors) for a in spec.get("args", ())]
    kwargs = {k: _resolve(v, tensors) for k, v in spec.get("kwargs", {}).items()}
    outputs: Outputs = {}
    seed_torch(spec.get("seed", 0))
    repeat = spec.get("repeat", 1)
    for i in range(repeat):
        out = _as_tensor(fn(*args, **kwargs), spec["target"])
        # each call's output as it was then: a function that works in place returns the
        # same tensor every call, and the next call would rewrite the earlier "output"
        outputs[out_key(i)] = out.clone() if repeat > 1 else out
    twin = spec.get("twin")
    if twin:  # the library's function, same arguments, same seed, in this same process
        fresh = {name: t.clone() for name, t in inputs.items()}
        seed_torch(spec.get("seed", 0))
        outputs["twin"] = TWINS[twin](
            *[_resolve(a, fresh) for a in spec.get("args", ())],
            **{k: _resolve(v, fresh) for k, v in spec.get("kwargs", {}).items()},
        )
    upstream = spec.get("upstream")
    if upstream:
        (outputs["out"] * inputs[upstream]).sum().backward()
        for name in spec.get("grad_of", ()):
            grad = tensors[name].grad
            outputs[f"grad:{name}"] = torch.zeros_like(tensors[name]) if grad is None else grad
    for a in spec.get("args", ()):
        if isinstance(a, dict) and "tensor" in a:
            outputs[f"after:{a['tensor']}"] = tensors[a["tensor"]]
    return outputs, {}


def get_path(module: nn.Module, path: str) -> Any:
    target: Any = module
    parts = path.split(".")
    for i, part in enumerate(parts):
        if not hasattr(target, part):
            absent = ".".join(parts[: i + 1])
            raise ContractError(
                f"{type(module).__name__} has no attribute '{absent}', which the exercise's "
                "docstring names: this check loads weights into it, so it could not run (the "
                "structure check says what the module has instead)"
            )
        target = getattr(target, part)
    return target


def weights_in(inputs: Outputs) -> dict[str, torch.Tensor]:
    """The inputs named "w:<path>", by path: the weights a check loads into the module."""
    return {k[len(WEIGHT_PREFIX) :]: v for k, v in inputs.items() if k.startswith(WEIGHT_PREFIX)}


def load_weights(module: nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Copy tensors into the module through the contract's attribute names."""
    with torch.no_grad():
        for path, value in weights.items():
            target = get_path(module, path)
            if target is None:
                raise ContractError(
                    f"'{path}' is None: an nn.Linear built with bias=False has no bias "
                    "(was qkv_bias passed on?)"
                )
            if not isinstance(target, torch.Tensor):
                raise ContractError(f"'{path}' is a {type(target).__name__}, not a tensor")
            if tuple(target.shape) != tuple(value.shape):
                raise ContractError(
                    f"'{path}' has shape {tuple(target.shape)}, expected {tuple(value.shape)}"
                )
            target.copy_(value)


def describe(module: nn.Module) -> dict:
    """The module's structure as JSON: parameters, buffers, submodules, plain attributes."""
    persistent = set(module.state_dict(keep_vars=True))
    plain_tensors, attrs = {}, {}
    for prefix, sub in module.named_modules():
        for name, value in vars(sub).items():
            if name.startswith("_") or name == "training":
                continue
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(value, torch.Tensor):
                plain_tensors[full] = list(value.shape)
            elif isinstance(value, (bool, int, float, str)) and not prefix:
                attrs[name] = value
    return {
        "type": type(module).__name__,
        "params": {n: list(p.shape) for n, p in module.named_parameters() if p.requires_grad},
        "frozen": sorted(n for n, p in module.named_parameters() if not p.requires_grad),
        "buffers": {
            n: {"shape": list(b.shape), "dtype": str(b.dtype), "persistent": n in persistent}
            for n, b in module.named_buffers()
        },
        "plain_tensors": plain_tensors,
        "modules": {n: type(m).__name__ for n, m in module.named_modules() if n},
        "attrs": attrs,
        "dropout": {n: m.p for n, m in module.named_modules() if isinstance(m, nn.Dropout)},
        "num_params": sum(p.numel() for p in module.parameters() if p.requires_grad),
    }


def build_module(spec: dict, lookup: Lookup) -> nn.Module:
    factory = lookup(spec["module"], spec["target"])
    seed_torch(spec.get("init_seed", 0))
    module = factory(**spec.get("init", {}))
    if not isinstance(module, nn.Module):
        raise ContractError(f"{spec['target']}(...) gave {type(module).__name__}, not an nn.Module")
    return module


class SameDevice(TorchFunctionMode):
    """Refuse an operation that mixes tensors of two devices, as CUDA kernels do.

    The device check runs the module on PyTorch's meta device, which has no memory and so no
    GPU is needed; but some meta kernels (in-place masked_fill_, for one) accept a CPU
    argument that a CUDA kernel would refuse. Under this mode they refuse it too. Moving
    tensors between devices (`.to`, `copy_`) stays allowed, and so do 0-dim CPU tensors, as
    on CUDA.
    """

    MOVES = frozenset(
        {
            "to",
            "copy_",
            "type_as",
            "cpu",
            "cuda",
            "new_tensor",
            "new_zeros",
            "new_ones",
            "new_empty",
            "new_full",
        }
    )

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") not in self.MOVES:
            flat, _ = tree_flatten((args, kwargs))
            devices = {t.device.type for t in flat if isinstance(t, torch.Tensor) and t.dim() > 0}
            if len(devices) > 1:
                raise RuntimeError(
                    "Expected all tensors to be on the same device, but found at least two "
                    f"devices, {' and '.join(sorted(devices))}! (in {getattr(func, '__name__', func)})"
                )
        return func(*args, **kwargs)


def _module(spec: dict, inputs: Outputs, lookup: Lookup) -> tuple[Outputs, dict]:
    """Build a module, load weights, run forward on each named input (and maybe backward)."""
    module = build_module(spec, lookup)
    info: dict = {}
    if spec.get("describe"):
        info["describe"] = describe(module)
    if spec.get("float64"):  # the trusted reference (grader.judge.expected), after describe
        module = module.double()
    weights = weights_in(inputs)
    load_weights(module, weights)
    module.train(spec.get("mode", "eval") == "train")
    device = spec.get("device")
    if device:
        module = module.to(device)
    upstream = spec.get("upstream")
    outputs: Outputs = {}
    for i, name in enumerate(spec.get("forward", ())):
        x = inputs[name].clone()
        if device:
            x = x.to(device)
        if upstream and i == 0:
            x.requires_grad_(True)
        seed_torch(spec.get("seed", 0) + i)
        with SameDevice() if device else contextlib.nullcontext():
            y = _as_tensor(module(x), f"{spec['target']}.forward")
        if device:
            info.setdefault("device_out", []).append(
                {"shape": list(y.shape), "device": str(y.device)}
            )
            continue
        outputs[out_key(i)] = y
        outputs[f"after:{name}"] = x
        if upstream and i == 0:
            (y * inputs[upstream]).sum().backward()
            outputs[f"grad:{name}"] = torch.zeros_like(x) if x.grad is None else x.grad
            for path in weights:
                grad = get_path(module, path).grad
                if grad is None:
                    info.setdefault("no_grad", []).append(path)
                    grad = torch.zeros_like(weights[path])
                outputs[f"grad:{path}"] = grad
    if spec.get("eval_too"):
        # The same weights without dropout: what the dropout checks compare against.
        module.eval()
        with torch.no_grad():
            outputs["eval"] = module(inputs[spec["forward"][0]].clone())
    return outputs, info


def _transfer(spec: dict, inputs: Outputs, lookup: Lookup) -> tuple[Outputs, dict]:
    """Exercise 3.1: build v1 and v2, load weights into v2, copy v2 -> v1, run both."""
    v1_cls = lookup(spec["module"], "SelfAttention_v1")
    v2_cls = lookup(spec["module"], "SelfAttention_v2")
    copy = lookup(spec["module"], spec["target"])
    seed_torch(1)
    v1 = v1_cls(**spec["init"])
    seed_torch(2)
    v2 = v2_cls(**spec["init"])
    if spec.get("float64"):  # the trusted reference, built as the learner's then converted
        v1, v2 = v1.double(), v2.double()
    load_weights(v2, weights_in(inputs))
    returned = copy(v2, v1)
    outputs: Outputs = {}
    for name in ("W_query", "W_key", "W_value"):
        weight = _as_tensor(get_path(v1, name), f"SelfAttention_v1.{name}")
        outputs[f"v1:{name}"] = weight.detach().clone()  # as copied, before v2 changes below
    x = inputs["x"]
    outputs["out"] = _as_tensor(v1(x.clone()), "SelfAttention_v1.forward")
    outputs["out_v2"] = _as_tensor(v2(x.clone()), "SelfAttention_v2.forward")
    # Does v1 still depend on v2's tensors? Change v2's weights and run v1 again.
    with torch.no_grad():
        for name in ("W_query", "W_key", "W_value"):
            get_path(v2, name).weight.add_(1.0)
    outputs["out_after_v2_changed"] = _as_tensor(v1(x.clone()), "SelfAttention_v1.forward")
    return outputs, {"returned": type(returned).__name__}


PROBES = {"call": _call, "module": _module, "transfer": _transfer}


def run_probe(spec: dict, inputs: Outputs, lookup: Lookup) -> tuple[Outputs, dict]:
    """Carry out a "call", "module" or "transfer" probe (the timing probes are timing.py's:
    the worker's harness sends each probe to its module)."""
    return PROBES[spec["kind"]](spec, inputs, lookup)
