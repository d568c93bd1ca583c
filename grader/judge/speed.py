"""Run a speed check: correctness first, then interleaved timing on the judge's clock.

The learner's worker and a reference worker (the solutions, started the same way, with the
same isolation and thread count) each prepare the call; the outputs are compared; then each
round times one "repeat" request to the learner's worker and one to the reference's, with
the judge's own clock around each request, so nothing the learner's code does to clocks or
timers inside its process changes the measurement. The verdict uses the median of the
per-round ratios, which rides out a busy machine better than any single measurement.
"""

from __future__ import annotations

import statistics

from grader.checks.compare import difference
from grader.checks.judges import Verdict
from grader.checks.speed import Speed
from grader.worker.launch import Reply

MAX_REPS = 10_000  # what timing.warm_reps suggests at most


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def run(
    speed: Speed, probe: dict, inputs: dict, module: str, learner, reference
) -> tuple[Reply, Verdict | None]:
    """(the learner's prepare reply, the verdict) — the verdict is None when the learner's
    worker failed, so that the engine reports the error like any other."""
    got = learner.call(module, probe, inputs)
    if not got.ok:
        return got, None
    ref = reference.call(module, probe, inputs)
    if not ref.ok:
        raise RuntimeError(f"the reference failed its speed probe: {ref.error}")
    if "out" not in got.outputs:
        return got, Verdict(False, "not timed: no 'out' came back")
    wrong = difference(ref.outputs["out"], got.outputs["out"], speed.atol, speed.rtol)
    if wrong:
        return got, Verdict(False, f"not timed, the output is wrong: {wrong}")
    reps_l, reps_r = got.info.get("reps"), int(ref.info["reps"])
    if not isinstance(reps_l, int) or not 1 <= reps_l <= MAX_REPS:  # the learner's worker's say
        return got, Verdict(False, f"not timed: the worker asked for {reps_l} repetitions")
    mine, theirs, ratios = [], [], []
    for _ in range(speed.rounds):
        a = learner.call(module, {"kind": "repeat", "reps": reps_l}, {})
        if not a.ok:
            return a, None
        b = reference.call(module, {"kind": "repeat", "reps": reps_r}, {})
        if not b.ok:
            raise RuntimeError(f"the reference failed its speed probe: {b.error}")
        mine.append(a.seconds / reps_l)
        theirs.append(b.seconds / reps_r)
        ratios.append(mine[-1] / theirs[-1])
    ratio = statistics.median(ratios)
    device = got.info.get("device", speed.device)
    summary = (
        f"on {device}: yours {_ms(statistics.median(mine))}, the reference's "
        f"{_ms(statistics.median(theirs))} per call: {ratio:.2f}x (median of {speed.rounds} "
        f"rounds: {', '.join(f'{r:.2f}' for r in ratios)}); allowed up to {speed.margin:g}x"
    )
    got.info["device"] = device
    if ratio <= speed.margin:
        return got, Verdict(True, note=summary)
    return got, Verdict(False, f"too slow {summary}")
