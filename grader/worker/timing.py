"""Timing in the worker: prepare a call once, then repeat it while the judge holds the clock.

The speed checks must not trust a clock inside the learner's process (learner code could
patch it), so they use two probes: "prepare" builds the function or module call on the
device, warms it up, returns one output for the correctness check and suggests how many
repetitions fill a window of about `min_time` seconds; "repeat" runs the prepared call that
many times, synchronising the GPU at the end, and returns nothing. The judge times "repeat"
requests with its own clock, alternating the learner's worker and a reference worker
(grader/judge/speed.py).

The "bench" probe, for `attention-grade bench`, times several variants in one process with
`per_call` (CUDA events on a GPU); it informs, it awards no points.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from grader.worker import baseline
from grader.worker.probes import build_module, load_weights, weights_in


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''})"


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


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


def _runner(spec: dict, inputs: dict, lookup, device: str, dtype=torch.float32):
    """The call to time, and the output of one call (for the correctness check)."""
    if spec.get("init") is None:  # a function
        fn = lookup(spec["module"], spec["target"])
        args = [inputs[name].to(device, dtype) for name in spec["args"]]
        return (lambda: fn(*args)), fn(*args)
    module = build_module(spec, lookup)
    load_weights(module, weights_in(inputs))
    module = module.to(device=device, dtype=dtype).train(False)
    x = inputs["x"].to(device, dtype)
    with torch.no_grad():
        out = module(x)
    if not spec.get("backward"):
        return (lambda: module(x)), out

    def forward_backward():
        module.zero_grad(set_to_none=True)
        module(x).sum().backward()

    return forward_backward, out


_prepared: dict = {}


def prepare(spec: dict, inputs: dict, lookup) -> tuple[dict, dict]:
    device = spec.get("device", "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("CUDA is not available in the worker")
    run, out = _runner(spec, inputs, lookup, device)
    reps = warm_reps(run, device, spec.get("min_time", 0.05))
    _prepared.update(run=run, device=device)
    return {"out": out.detach().to("cpu")}, {"reps": reps, "device": device_name(device)}


def repeat(spec: dict, inputs: dict, lookup) -> tuple[dict, dict]:
    if "run" not in _prepared:
        raise RuntimeError("nothing prepared to repeat (the worker restarted?)")
    run, device = _prepared["run"], _prepared["device"]
    for _ in range(int(spec["reps"])):
        run()
    _sync(device)
    return {}, {}


def bench(spec: dict, inputs: dict, lookup) -> tuple[dict, dict]:
    """Seconds per call of one variant, timed here; "source": "kit" takes the fused baseline."""
    if spec.get("source") == "kit":

        def lookup(module, name):  # the same signature as the learner's lookup
            return getattr(baseline, name)

    device, dtype = spec.get("device", "cpu"), getattr(torch, spec.get("dtype", "float32"))
    run, out = _runner(spec, inputs, lookup, device, dtype)
    seconds = per_call(run, device, spec.get("min_time", 0.2), warmup=2)
    return {"out": out.detach().float().to("cpu")}, {
        "seconds": seconds,
        "device": device_name(device),
    }
