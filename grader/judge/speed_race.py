"""Run a speed check: correctness first, then timed batches whose every call is checked.

The learner's worker and a reference worker (the solutions, started the same way, with the
same isolation and thread count) each prepare the call and return its output on the check's
input; a wrong answer is not timed. Then each round times one batch of calls in each worker,
on the same inputs. The learner's worker is untrusted, all of it (learner code shares its
process and can rewrite the kit's code there), so it is told what to do and never asked what
it measured or how much it did:

- **The judge decides the repetitions.** A first round of `CALIBRATION` calls in each worker
  gives the cost of a call on each side, as the judge measures it. The reference's sets the
  batch size (about `Speed.window` seconds of work); the learner's batch is shortened when its
  calls are slower (never lengthened), so that slow code stays within the deadline. Time per
  call is the judge's measurement divided by the judge's count; any count a worker reports
  is ignored.
- **Every timed call gets fresh input content.** The worker holds two pools of random values
  per input, drawn at "prepare" from the judge's key; a batch request lists one pair of
  offsets (a, b) per call, drawn by the judge (`Offsets`), and call i's input is the window
  at a of one pool plus the window at b of the other (`timing.Fresh`). No two calls of a
  check get offsets with the same a - b, so no two calls see the same tensor or share a
  value, and nothing remembered from an earlier call (by identity or by value) answers a
  later one. Making an input costs one addition, the same on both sides.
- **Every timed call's results are checked.** For each call, in its reply to the timed
  request, the worker commits to each result tensor (the output; forward and backward, also
  each weight's gradient) with its dot product with a random +-1 vector (keyed by the judge;
  no cheaper way to get it than the result itself). After the reply the judge draws
  `Speed.sample` calls of the batch, which both workers compute again and send in full: the
  learner's must match the reference's elementwise and reproduce the number it committed to
  while timed (`_reveal`); and every call's number must be within what values inside the
  elementwise tolerance allow of the reference's for the same input (`_compare`). So code
  that answers differently while timed (a forward that inspects its callers, the timed loop
  swapped for a no-op, a cache) fails the check.
- **The measure.** On the CPU: the CPU time the kernel accounts to each worker's processes
  (the whole process tree, or its cgroup: `cputime.py`), read by the judge before and after
  the request. Another process can stretch wall time (forked CPU burners, or a SIGSTOP sent
  to the reference's worker, did), not the CPU time the reference uses; and work handed to
  a thread or a child process counts. On a GPU: the wall time of the request on the judge's
  clock (CPU time does not see kernels), the worker synchronising every GPU (all streams)
  before it answers, and its commitments needing the results anyway. Without /proc (macOS,
  Windows) the CPU checks fall back to wall time, and the message says which measure it is.
- **Nothing of the learner's runs while the reference is timed.** The judge reads the CPU time
  of the learner's processes across every reference batch: a worker waiting for its next
  request uses none, so more than `IDLE_FLOOR` (or `IDLE_SHARE` of the reference's batch)
  fails the check: background threads or processes would slow the reference down.
- **The verdict** is the median of the per-round ratios (learner / reference); who goes first
  alternates from round to round.

When the reference's worker fails (a deadline, say, because a submission stopped it: at the
fallback isolation level it can reach it), the check fails with a message saying so; the
grading goes on.

Left open: a worker that rewrites the kit's timed loop could run a batch's calls as one
batched call (the offsets are in the request); that saves what batching saves, and only to
code written against this kit's internals.
"""

from __future__ import annotations

import secrets
import statistics
from dataclasses import dataclass

import torch

from grader.checks.compare import difference
from grader.checks.criteria import Verdict
from grader.checks.speed import Speed
from grader.judge import cputime
from grader.protocol import Reply
from grader.worker.timing import commit_names, fresh_names, signs, span

CALIBRATION = 3  # calls per worker in the calibrating round
MAX_REPS = 10_000
IDLE_FLOOR = 0.005  # CPU seconds the learner's worker may use while the reference is timed,
IDLE_SHARE = 0.05  # ... or this share of the reference's batch, whichever is larger
SCALE_MARGIN = 2.0  # a call's sum of |values| is taken as at most this times the largest seen
BINDING = 1e-5  # how closely a revealed tensor must reproduce what was committed for it
GRAD_TOLERANCE = (1e-4, 1e-3)  # at least this (atol, rtol) for gradients
# ... and an atol of at least this share of the gradient's largest |value|. A weight's gradient
# sums b x t terms that largely cancel, so float32 rounding is relative to those terms, not to
# the (often much smaller) result: at the GPT-2 size on a GPU, correct implementations'
# gradients differed from the reference's by up to 8.3e-4 where the gradient was 0.29, and by
# 1.4e-4 where it was 0.02 (README, "GPU"). A stale or made-up answer is off by the values'
# own size, so this still tells it apart. Values themselves are graded by the value checks.
GRAD_SCALE = 1e-2

# How far a baseline share measured on one machine may be off on another, under another torch
# build, or on the same one another day: the reference's MultiHeadAttention read 0.73x to 0.86x
# the fused kernel on the CI machine over sessions and the four builds CI grades with (the
# baselines are chosen so that no build moves a share further: grader/baselines/). A learner's
# copy predicts "would pass" only below the instructor's margin divided by this, and calls an
# estimate between that and the margin too close to tell (the loop over heads was estimated at
# 1.71x to 2.66x against 2x; correct styles at most 1.43x).
SHARE_UNCERTAINTY = 1.25

WRONG_OUTPUT = "not timed, the output is wrong"  # how a verdict on a wrong answer starts

_random = secrets.SystemRandom()


class _Stop(Exception):
    """Ends a speed check early: with the learner's failed reply (reported like any other
    error), or with a verdict."""

    def __init__(self, verdict: Verdict | None = None, reply: Reply | None = None):
        super().__init__()
        self.verdict, self.reply = verdict, reply


@dataclass
class Batch:
    """One timed request: the judge's offsets (one pair per call), its measure, and what the
    worker committed to (one number per call and result tensor)."""

    offsets: list[list[int]]
    seconds: float
    commit: torch.Tensor  # (calls, result tensors), float64

    @property
    def reps(self) -> int:
        return len(self.offsets)

    @property
    def per_call(self) -> float:
        return max(self.seconds, 1e-9) / self.reps


class Offsets:
    """Where each timed call's inputs start in the pools (see `timing.Fresh`): pairs (a, b)
    whose difference a - b no earlier call of the check has had, so that no two calls share
    an input value."""

    def __init__(self, span: int):
        self.span, self.used = span, set()

    def draw(self, k: int) -> list[list[int]]:
        if len(self.used) + k > self.span:  # half the 2 * span + 1 differences taken: start over
            self.used.clear()
        pairs = []
        while len(pairs) < k:
            a, b = _random.randint(0, self.span), _random.randint(0, self.span)
            if a - b not in self.used:
                self.used.add(a - b)
                pairs.append([a, b])
        return pairs


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def _reps(window: float, per_call: float) -> int:
    return max(1, min(MAX_REPS, round(window / max(per_call, 1e-9))))


def _failed(reply: Reply) -> str:
    error = reply.error or {}
    return f"{reply.status}: {error.get('type', '')} {error.get('message', '')}".strip()


def _round(number: int) -> str:
    return f"round {number}" if number else "the calibrating round"


def _stop(message: str) -> _Stop:
    return _Stop(Verdict(False, message))


class Race:
    """The learner's worker against the reference's, on one prepared call."""

    def __init__(
        self, speed: Speed, probe: dict, inputs: dict, module: str, learner, reference, rival: str
    ):
        self.speed, self.module = speed, module
        self.learner, self.reference = learner, reference
        self.rival = rival  # what the reference's worker runs, in words: "the reference"
        self.key = probe["key"]
        self.names = commit_names(probe, inputs)
        grads = (max(speed.atol, GRAD_TOLERANCE[0]), max(speed.rtol, GRAD_TOLERANCE[1]))
        self.tolerances = [(speed.atol, speed.rtol)] + [grads] * (len(self.names) - 1)
        spans = [span(inputs[name].numel()) for name in fresh_names(probe) if name in inputs]
        self.offsets = Offsets(min(spans, default=span(0)))
        # Per result tensor, from the reference's revealed ones: elements, largest sum of |x|.
        self.sizes = [0] * len(self.names)
        self.scales = [0.0] * len(self.names)
        self.peaks = [0.0] * len(self.names)  # and its largest |value|
        self.cpu = speed.device == "cpu"
        self.measure = "wall time"
        self._signs: dict[tuple[int, int], torch.Tensor] = {}

    # -- requests -----------------------------------------------------------------------
    def _reference_call(self, probe: dict, inputs: dict) -> Reply:
        reply = self.reference.call(self.module, probe, inputs)
        if not reply.ok:
            raise _stop(f"not timed: {self.rival}'s worker failed ({_failed(reply)})")
        return reply

    def check_output(self, got: Reply, probe: dict, inputs: dict) -> None:
        """The learner's output on the check's input against the reference's."""
        ref = self._reference_call(probe, inputs)
        if "out" not in got.outputs:
            raise _stop("not timed: no 'out' came back")
        wrong = difference(ref.outputs["out"], got.outputs["out"], self.speed.atol, self.speed.rtol)
        if wrong:
            raise _stop(f"{WRONG_OUTPUT}: {wrong}")

    def _batch(self, session, offsets: list[list[int]]) -> Batch:
        mine = session is self.learner
        before = cputime.reading(session) if self.cpu else None
        reply = session.call(self.module, {"kind": "repeat", "offsets": offsets}, {})
        after = cputime.reading(session) if self.cpu and reply.ok else None
        if not reply.ok:
            if mine:
                raise _Stop(reply=reply)
            raise _stop(f"not timed: {self.rival}'s worker failed ({_failed(reply)})")
        commit = reply.outputs.get("commit")
        if commit is None or tuple(commit.shape) != (len(offsets), len(self.names)):
            whose = "the timed calls' results" if mine else f"{self.rival}'s timed results"
            raise _stop(f"not timed: {whose} did not come back")
        if before is not None and after is not None:
            self.measure = "CPU time"
            seconds = cputime.used(before, after)
        else:
            seconds = reply.seconds
        return Batch(offsets, seconds, commit.to(torch.float64))

    # -- checks ---------------------------------------------------------------------------
    def _what(self, j: int) -> str:
        name = self.names[j]
        return "output" if name == "out" else f"gradient of {name.removeprefix('grad:')}"

    def _compare(self, mine: Batch, theirs: Batch, number: int) -> None:
        """Every call's commitment against the reference's for the same input: apart by no
        more than values within the elementwise tolerance can be (the reference's largest sum
        of |values| seen, times SCALE_MARGIN, standing for this call's)."""
        n = min(mine.reps, theirs.reps)
        atol = torch.tensor([self._atol(j) for j in range(len(self.names))], dtype=torch.float64)
        rtol = torch.tensor([r for _, r in self.tolerances], dtype=torch.float64)
        sizes = torch.tensor(self.sizes, dtype=torch.float64)
        scales = torch.tensor(self.scales, dtype=torch.float64)
        bound = atol * sizes + rtol * SCALE_MARGIN * scales
        ok = (mine.commit[:n] - theirs.commit[:n]).abs() <= bound  # NaN is never ok
        if bool(ok.all()):
            return
        i, j = (int(k) for k in (~ok).nonzero()[0])
        raise _stop(
            f"not counted: timed call {i + 1} of {_round(number)} gave a wrong {self._what(j)} "
            f"(it is not {self.rival}'s for the same input); every timed call gets a new input "
            "and its results are checked, so code that answers differently while timed, or "
            "reuses an earlier answer, fails here"
        )

    def _atol(self, j: int) -> float:
        """Result tensor j's atol: the check's, and for a gradient at least GRAD_SCALE of its
        largest |value| seen in the reference's revealed results."""
        atol = self.tolerances[j][0]
        return atol if self.names[j] == "out" else max(atol, GRAD_SCALE * self.peaks[j])

    def _key(self, j: int, n: int) -> torch.Tensor:
        if (j, n) not in self._signs:
            self._signs[(j, n)] = signs(self.key, j, n).to(torch.float64)
        return self._signs[(j, n)]

    def _reveal(self, mine: Batch, number: int) -> None:
        """Calls drawn after the timing, recomputed in full by both workers: the learner's must
        match the reference's and what it committed to while timed."""
        indices = sorted(_random.sample(range(mine.reps), min(self.speed.sample, mine.reps)))
        offsets = [mine.offsets[i] for i in indices]
        probe = {"kind": "reveal", "indices": indices, "offsets": offsets}
        got = self.learner.call(self.module, probe, {})
        if not got.ok:
            raise _Stop(reply=got)
        ref = self._reference_call(probe, {})
        for i in indices:
            for j, name in enumerate(self.names):
                expected, actual = ref.outputs[f"{i}:{name}"], got.outputs.get(f"{i}:{name}")
                self.sizes[j] = expected.numel()
                self.scales[j] = max(self.scales[j], float(expected.double().abs().sum()))
                peak = float(expected.double().abs().max()) if expected.numel() else 0.0
                self.peaks[j] = max(self.peaks[j], peak)
                what = f"the {self._what(j)} of timed call {i + 1} of {_round(number)}"
                if actual is None:
                    raise _stop(f"not counted: {what} did not come back")
                atol, rtol = self._atol(j), self.tolerances[j][1]
                if wrong := difference(expected, actual, atol, rtol, what):
                    raise _stop(f"not counted, wrong while timed: {wrong}")
                self._bind(actual, float(mine.commit[i, j]), j, what)

    def _bind(self, actual: torch.Tensor, committed: float, j: int, what: str) -> None:
        flat = actual.detach().to(torch.float64).reshape(-1)
        dot = float(flat @ self._key(j, flat.numel()))
        if not abs(dot - committed) <= BINDING * float(flat.abs().sum()) + 1e-9:
            raise _stop(
                f"not counted: {what}, computed again after the timing, is not the one computed "
                "while timed (code that answers differently while it is timed?)"
            )

    def _idle(self, since: dict | None, theirs: Batch) -> None:
        """The learner's tree must not have worked while the reference's batch ran."""
        now = cputime.reading(self.learner) if since is not None else None
        if now is None:
            return
        spent = cputime.used(since, now)
        if spent > max(IDLE_FLOOR, IDLE_SHARE * theirs.seconds):
            raise _stop(
                f"not counted: your worker used {_ms(spent)} of CPU time while {self.rival} "
                "was timed, between your calls (background threads or processes?); they would "
                f"slow {self.rival} down, so nothing of yours may run then"
            )

    # -- rounds ---------------------------------------------------------------------------
    def _reference_batch(self, offsets: list[list[int]]) -> Batch:
        since = cputime.reading(self.learner)
        theirs = self._batch(self.reference, offsets)
        self._idle(since, theirs)
        return theirs

    def round(self, number: int, reps_mine: int, reps_theirs: int) -> tuple[Batch, Batch]:
        """One batch in each worker on the same fresh inputs (who goes first alternates),
        then the checks of its results."""
        offsets = self.offsets.draw(max(reps_mine, reps_theirs))
        if number % 2 == 0:
            mine = self._batch(self.learner, offsets[:reps_mine])
            theirs = self._reference_batch(offsets[:reps_theirs])
        else:
            theirs = self._reference_batch(offsets[:reps_theirs])
            mine = self._batch(self.learner, offsets[:reps_mine])
        self._reveal(mine, number)
        self._compare(mine, theirs, number)
        return mine, theirs

    def run(self) -> tuple[list[float], list[float]]:
        """Seconds per call, the learner's and the reference's, round by round."""
        mine, theirs = self.round(0, CALIBRATION, CALIBRATION)
        reps_theirs = _reps(self.speed.window, theirs.per_call)
        reps_mine = min(reps_theirs, _reps(self.speed.window, mine.per_call))
        yours, reference = [], []
        for number in range(1, self.speed.rounds + 1):
            mine, theirs = self.round(number, reps_mine, reps_theirs)
            yours.append(mine.per_call)
            reference.append(theirs.per_call)
        return yours, reference


def run(
    speed: Speed, probe: dict, inputs: dict, module: str, learner, reference, baseline=False
) -> tuple[Reply, Verdict | None]:
    """(the learner's prepare reply, the verdict) — the verdict is None when the learner's
    worker failed, so that the engine reports the error like any other.

    `baseline`: the `reference` worker runs grader/baselines (a learner's copy), and the
    verdict predicts the instructor's from the check's `baseline_share`."""
    probe = {**probe, "key": secrets.randbits(62)}
    got = learner.call(module, probe, inputs)
    if not got.ok:
        return got, None
    rival = "PyTorch's kernel" if baseline else "the reference"
    race = Race(speed, probe, inputs, module, learner, reference, rival)
    try:
        race.check_output(got, probe, inputs)
        mine, theirs = race.run()
    except _Stop as stop:
        return stop.reply or got, stop.verdict
    ratios = [a / b for a, b in zip(mine, theirs, strict=True)]
    ratio = statistics.median(ratios)
    device = got.info.get("device", speed.device)
    got.info["device"] = device
    measure = f" of {race.measure}" if race.measure == "CPU time" else ""
    timings = (
        f"on {device}: yours {_ms(statistics.median(mine))}, {rival}'s "
        f"{_ms(statistics.median(theirs))}{measure} per call: {ratio:.2f}x (median of "
        f"{speed.rounds} rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    if baseline:
        return got, _predicted(speed, ratio, timings)
    summary = f"{timings}; allowed up to {speed.margin:g}x"
    if ratio <= speed.margin:
        return got, Verdict(True, note=summary)
    return got, Verdict(False, f"too slow {summary}")


def _predicted(speed: Speed, ratio: float, timings: str) -> Verdict:
    """The instructor's verdict as a learner's copy predicts it: the ratio to the baseline
    over the reference's (its `baseline_share`) against the instructor's margin."""
    estimate = ratio / speed.baseline_share
    summary = (
        f"{timings}. The reference takes {speed.baseline_share:g}x PyTorch's time, so yours is "
        f"about {estimate:.2f}x the reference's, and the instructor's check allows "
        f"{speed.margin:g}x (no points here)"
    )
    if estimate <= speed.margin / SHARE_UNCERTAINTY:
        return Verdict(True, note=f"would pass the instructor's speed check {summary}")
    if estimate <= speed.margin:
        return Verdict(
            False,
            "might fail the instructor's speed check: too close to its limit for a prediction "
            f"to tell {summary}",
        )
    return Verdict(False, f"would fail the instructor's speed check, too slow {summary}")
