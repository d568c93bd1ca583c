"""Timing in the worker: run the calls the judge times, on fresh inputs, and commit to results.

Nothing here measures anything: the judge holds the clock and decides how much work a request
holds (grader/judge/speed_race.py), and this process (learner code shares it, and may rewrite any
of this) only does the work. Three probes:

- "prepare" builds the function or module call on the device, warms it up and returns its
  output on the check's input, for the correctness check. It keeps the call, two pools of
  random values per input (`Fresh`: each half the range of the check's input) and one random
  +-1 vector per result tensor (`signs`), all drawn from the "key" the judge sends; then it
  runs the timed path a few times, untimed, so that its memory is in place;
- "repeat" runs the call once per pair of "offsets" in the request, call i on the input made
  from its pair (`Fresh.inputs`: a new tensor with new values every call), commits to each
  result tensor (the output; with "backward", each weight's gradient too) with its dot
  product with that tensor's +-1 vector, synchronises every GPU, and replies with those
  numbers only ("commit", one row per call);
- "reveal" computes the calls the judge names after the timing again (by their index in the
  batch and their offsets) and sends their result tensors in full, which the judge checks
  against the reference's and against the numbers committed while timed (`commit_names`
  gives their order).

Both workers fix glibc's malloc thresholds first (`steady_allocator`), so that the same code
costs the same in either.

The "bench" probe, for `attention-grade bench`, times several variants in one process with
`per_call` (CUDA events on a GPU); it informs, it awards no points.
"""

from __future__ import annotations

import ctypes
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from grader.worker import baseline
from grader.worker.probes import build_module, get_path, load_weights, weights_in

WARMUP = 4  # calls on fresh inputs at the end of "prepare"
MIN_SPAN = 1 << 16  # the least room for offsets: 2 * MIN_SPAN + 1 differences a - b
PROBES = ("prepare", "repeat", "reveal", "bench")  # the probe kinds this module carries out


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''})"


def _sync(device: str) -> None:
    """Wait for all work queued on the device: every stream of every GPU, not just one."""
    if device.startswith("cuda"):
        for index in range(torch.cuda.device_count()):
            torch.cuda.synchronize(index)


def warm_reps(run: Callable[[], object], device: str, min_time: float, warmup: int = 3) -> int:
    """Warm `run` up (allocator, kernels, autograd graph), then time one call: how many
    repetitions fill about `min_time` seconds (1 to 10,000)."""
    for _ in range(warmup):
        run()
    _sync(device)
    start = time.perf_counter()
    run()
    _sync(device)
    once = max(time.perf_counter() - start, 1e-6)
    return max(1, min(10_000, round(min_time / once)))


def per_call(
    run: Callable[[], object], device: str, min_time: float = 0.02, warmup: int = 3
) -> float:
    """Seconds per call of `run`, measured over a window of at least `min_time` seconds."""
    reps = warm_reps(run, device, min_time, warmup)
    if device.startswith("cuda"):
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        for _ in range(reps):
            run()
        end.record()
        torch.cuda.synchronize(device)
        return begin.elapsed_time(end) / 1000 / reps
    start = time.perf_counter()
    for _ in range(reps):
        run()
    return (time.perf_counter() - start) / reps


# -- what a call is ---------------------------------------------------------------------------


def _target(spec: dict, inputs: dict, lookup, device: str, dtype):
    """(forward, base, module): forward(tensors) calls the function or module once on the
    named tensors; base holds the check's own inputs on the device; module is None for a
    function."""
    if spec.get("init") is None:  # a function
        fn = lookup(spec["module"], spec["target"])
        names = list(spec["args"])
        base = {name: inputs[name].to(device, dtype) for name in names}
        return (lambda xs: fn(*[xs[name] for name in names])), base, None
    module = build_module(spec, lookup)
    load_weights(module, weights_in(inputs))
    module = module.to(device=device, dtype=dtype).train(False)
    return (lambda xs: module(xs["x"])), {"x": inputs["x"].to(device, dtype)}, module


def commit_names(spec: dict, inputs: dict) -> list[str]:
    """The result tensors of one timed call, in the order of their commitments: the output,
    then (forward and backward) the gradient of each weight the check loads."""
    names = ["out"]
    if spec.get("init") is not None and spec.get("backward"):
        names += [f"grad:{name}" for name in sorted(weights_in(inputs))]
    return names


def _results(forward, module, spec: dict, inputs: dict) -> Callable[[dict], list[torch.Tensor]]:
    """tensors -> the result tensors of one call, in `commit_names` order."""
    if module is None or not spec.get("backward"):
        return lambda xs: [forward(xs)]
    params = [get_path(module, name) for name in sorted(weights_in(inputs))]

    def forward_backward(xs):
        module.zero_grad(set_to_none=True)
        out = forward(xs)
        out.sum().backward()
        grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in params]
        return [out.detach(), *grads]

    return forward_backward


def _runner(spec: dict, inputs: dict, lookup, device: str, dtype=torch.float32):
    """For the bench: a call to time without arguments, and the output of one call."""
    forward, base, module = _target(spec, inputs, lookup, device, dtype)
    with torch.no_grad():
        out = forward(base)
    if module is None or not spec.get("backward"):
        return (lambda: forward(base)), out

    def forward_backward():
        module.zero_grad(set_to_none=True)
        forward(base).sum().backward()

    return forward_backward, out


# -- fresh inputs and commitments --------------------------------------------------------


def _seed(key: int, what: str, index: int) -> int:
    digest = hashlib.blake2b(f"{key}/{what}/{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % 2**63


def signs(key: int, index: int, n: int) -> torch.Tensor:
    """The +-1 vector (float32, on the CPU) that result tensor `index` is committed with."""
    generator = torch.Generator().manual_seed(_seed(key, "signs", index))
    return torch.randint(0, 2, (n,), generator=generator).mul_(2).sub_(1).float()


def fresh_names(spec: dict) -> list[str]:
    """The inputs that every timed call gets afresh: a function's arguments, a module's x."""
    return list(spec.get("args", ())) if spec.get("init") is None else ["x"]


def span(n: int) -> int:
    """How far into its pools a call's window may start, for an input of n elements."""
    return max(n, MIN_SPAN)


def pools(key: int, index: int, base: torch.Tensor) -> torch.Tensor:
    """Two rows of n + span(n) random values, each half the range of the check's input."""
    n = base.numel()
    low, high = (float(base.min()), float(base.max())) if n else (0.0, 0.0)
    generator = torch.Generator().manual_seed(_seed(key, "pools", index))
    values = torch.rand(2, n + span(n), generator=generator)
    return values.mul_((high - low) / 2).add_(low / 2).to(base.device)


@dataclass
class Fresh:
    """Where a call's inputs come from: the pools of each input, and its shape."""

    pools: dict[str, torch.Tensor]
    shapes: dict[str, tuple[int, ...]]

    def inputs(self, a: int, b: int) -> dict[str, torch.Tensor]:
        """The inputs at offsets (a, b): the window at a of one pool plus the window at b of
        the other, a new tensor of new values for every (a, b) with a new a - b."""
        made = {}
        for name, pool in self.pools.items():
            n = math.prod(self.shapes[name])
            if not (0 <= a <= pool.shape[1] - n and 0 <= b <= pool.shape[1] - n):
                raise ValueError(f"offsets ({a}, {b}) outside the pools")
            made[name] = (pool[0, a : a + n] + pool[1, b : b + n]).view(self.shapes[name])
        return made


@dataclass
class Prepared:
    device: str
    results: Callable[[dict], list[torch.Tensor]]
    fresh: Fresh
    keys: list[torch.Tensor]  # one +-1 vector per result tensor, on the device
    names: list[str]

    def call(self, offsets) -> list[torch.Tensor]:
        a, b = (int(k) for k in offsets)
        return self.results(self.fresh.inputs(a, b))


_prepared: dict[str, Prepared] = {}


def _current() -> Prepared:
    if "timed" not in _prepared:
        raise RuntimeError("nothing prepared to time (the worker restarted?)")
    return _prepared["timed"]


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


def steady_allocator() -> None:
    """Make glibc's malloc keep freed memory and serve blocks below 32 MiB from its heap.

    By default its thresholds move with the allocation history: a process may give a freed
    block back to the system and fault it in again on every call (kernel time), and whether
    it does differs from one process to the next for the same code, which once made the same
    code cost twice as much in one worker as in another. Both workers set the same fixed
    thresholds before anything is timed. Without glibc (macOS, Windows, musl) nothing changes.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
    except (OSError, AttributeError):
        pass


def prepare(spec: dict, inputs: dict, lookup) -> tuple[dict, dict]:
    device = spec.get("device", "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("CUDA is not available in the worker")
    _prepared.clear()
    steady_allocator()
    forward, base, module = _target(spec, inputs, lookup, device, torch.float32)
    with torch.no_grad():
        out = forward(base)
    results = _results(forward, module, spec, inputs)
    for _ in range(3):  # warm up: allocator, kernels, autograd graph
        found = results(base)
    _sync(device)
    key = int(spec.get("key", 0))
    keys = [signs(key, j, t.numel()).to(device) for j, t in enumerate(found)]
    names = fresh_names(spec)
    fresh = Fresh(
        {name: pools(key, i, base[name]) for i, name in enumerate(names)},
        {name: tuple(base[name].shape) for name in names},
    )
    timed = Prepared(device, results, fresh, keys, commit_names(spec, inputs))
    _prepared["timed"] = timed
    _commit(timed, [[k, 2 * k + 1] for k in range(WARMUP)])  # the timed path, untimed
    return {"out": out.detach().to("cpu")}, {"device": device_name(device)}


def repeat(spec: dict, inputs: dict, lookup) -> tuple[dict, dict]:
    """The timed batch: one call per pair of offsets, one number per result tensor each."""
    offsets = spec["offsets"]
    if not offsets:
        raise ValueError("no calls asked for")
    return {"commit": _commit(_current(), offsets)}, {}


def _commit(timed: Prepared, offsets: list) -> torch.Tensor:
    sums = []
    for pair in offsets:
        results = timed.call(pair)
        with torch.no_grad():
            for result, key in zip(results, timed.keys, strict=True):
                sums.append(torch.dot(result.reshape(-1).to(key.dtype), key))
    _sync(timed.device)
    return torch.stack(sums).view(len(offsets), -1).to("cpu", torch.float64)


def reveal(spec: dict, inputs: dict, lookup) -> tuple[dict, dict]:
    """Recompute calls of a batch (their index in it, their offsets) and send their result
    tensors in full."""
    timed = _current()
    outputs = {}
    for i, pair in zip(spec["indices"], spec["offsets"], strict=True):
        for name, result in zip(timed.names, timed.call(pair), strict=True):
            outputs[f"{int(i)}:{name}"] = result.detach()
    return outputs, {}


def bench(spec: dict, inputs: dict, lookup) -> tuple[dict, dict]:
    """Seconds per call of one variant, timed here; "source": "kit" takes the fused baseline."""
    if spec.get("source") == "kit":

        def lookup(module, name):  # the same signature as the learner's lookup
            return getattr(baseline, name)

    device, name = spec.get("device", "cpu"), spec.get("dtype", "float32")
    # "tf32": float32 tensors whose matrix products use TensorFloat-32 (the book's benchmark)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = name == "tf32"
    dtype = torch.float32 if name == "tf32" else getattr(torch, name)
    run, out = _runner(spec, inputs, lookup, device, dtype)
    seconds = per_call(run, device, spec.get("min_time", 0.2), warmup=2)
    return {"out": out.detach().float().to("cpu")}, {
        "seconds": seconds,
        "device": device_name(device),
    }
