"""Speed checks: the learner's attention against the reference, on the CPU and on a GPU.

Sections 3.3.2 and 3.6.2 are about doing the work in matrix products instead of Python
loops, and all heads at once. A speed check first compares one output with the reference's
(a wrong answer is not timed), then times the learner's call and the reference's in
alternating rounds, each in its own worker started the same way, on fresh inputs every call
whose results are checked, as the judge measures it (CPU time on the CPU, wall time on a GPU;
see grader/judge/speed_race.py), and passes when the median of the per-round ratios stays within
the margin.

Sizes and margins. On the CPU the sizes are small on purpose, so that per-head or per-token
Python overhead dominates: there a per-head loop measured 2.2x to 2.4x the vectorised module
and a per-token loop about 20x, while correct vectorised variants stay at or below 1.45x
(README, "Speed").
On a GPU the sizes are the book's GPT-2 ones (batch 8, 1,024 tokens, 768 dimensions, 12
heads). Measured on an H200 (README, "GPU"): correct styles at 0.97x to 1.16x the reference
for the scores, 0.87x to 1.78x for CausalAttention (the einsum style is the slow one there,
and the reference against itself read up to 1.27x) and 0.97x to 1.00x for
MultiHeadAttention; every loop failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.checks.attention_modules import AttentionModule, ModuleConfig, shape_text
from grader.checks.criteria import Criterion, tolerance_text
from grader.checks.spec import Check

# (the config timed, its margin, its baseline share) on the CPU and on a GPU, for each module
# timed. The baseline share is the reference's time over the baseline's (grader/baselines/:
# PyTorch's own kernels) at that size, as the checks measure it: a learner's copy, which has
# no reference, races the baseline instead and predicts the instructor's verdict from it. The
# CPU shares were measured on the kit's CI machine under each torch build CI grades with
# (README, "Speed"); None: not measured (the GPU ones), so a learner's copy does not time that
# check. The GPU margins were set from an
# H200's ratios (README, "GPU"): CausalAttention's 3x because a correct einsum style read up
# to 1.78x there (a per-token loop is tens of times slower), MultiHeadAttention's 1.3x because
# every correct style stayed at or below 1.00x while the loop over heads failed it.
Sizes = tuple[tuple[ModuleConfig, float, float | None], tuple[ModuleConfig, float, float | None]]
CAUSAL_SIZES: Sizes = (
    (ModuleConfig(d_in=32, d_out=32, context_length=128, batch=4, tokens=128), 2.0, 0.98),
    (ModuleConfig(d_in=768, d_out=64, context_length=1024, batch=8, tokens=1024), 3.0, None),
)
MULTIHEAD_SIZES: Sizes = (
    (
        ModuleConfig(d_in=128, d_out=128, context_length=32, num_heads=32, batch=8, tokens=32),
        2.0,
        0.78,
    ),
    (
        ModuleConfig(d_in=768, d_out=768, context_length=1024, num_heads=12, batch=8, tokens=1024),
        1.3,
        None,
    ),
)
SCORES_SHARE = 1.04  # attention_scores on the CPU: the reference's matmul over F.linear


@dataclass(frozen=True)
class Speed(Criterion):
    """Median over `rounds` of learner time / reference time must be <= margin."""

    device: str  # "cpu" or "cuda"
    margin: float
    rounds: int = 7
    window: float = 0.05  # seconds of the reference's work per timed batch
    sample: int = 2  # calls per round that both workers recompute in full after the timing
    atol: float = 1e-5  # for the output compared before timing
    rtol: float = 1e-4
    baseline_share: float | None = None  # the reference's time over the baseline's (see Sizes)
    needs_expected = False  # the reference runs in its own worker, not from the fixtures

    def __call__(self, inputs, expected, got):
        raise TypeError("speed checks are run by grader.judge.speed_race, not called directly")

    @property
    def tolerance(self):
        return (
            f"median time ratio <= {self.margin:g}; output {tolerance_text(self.atol, self.rtol)}"
        )


RACED = "timed in alternating rounds against the reference (in a learner's copy: PyTorch's kernels)"


def _where(device: str) -> str:
    return "the CPU" if device == "cpu" else "a GPU"


def _prepare(backward: bool | None, device: str, **spec) -> dict:
    probe = {"kind": "prepare", "device": device, **spec}
    if backward is not None:
        probe["backward"] = backward
    return probe


def scores_checks() -> tuple[Check, ...]:
    def check(device, t, d, margin, share):
        return Check(
            name=f"speed_{device}",
            title=f"speed on {_where(device)} ({t} tokens)",
            tries=f"attention_scores(inputs) for inputs ({t}, {d}) on {_where(device)}, {RACED}",
            probe=_prepare(None, device, args=["inputs"]),
            inputs=lambda rng: {"inputs": rng.uniform(t, d)},
            judge=Speed(device, margin, atol=1e-4, rtol=1e-4, baseline_share=share),
            points=2,
            advice="one matrix product for all pairs (inputs @ inputs.T), no Python loop over tokens",
        )

    return (check("cpu", 1024, 64, 3.0, SCORES_SHARE), check("cuda", 4096, 64, 3.0, None))


def module_checks(module: AttentionModule, sizes: Sizes, advice: str) -> tuple[Check, ...]:
    """Forward and backward of an attention module at `sizes`, on the CPU and on a GPU."""

    def check(device: str, config: ModuleConfig, margin: float, share: float | None) -> Check:
        timed = module.at(config)
        return Check(
            name=f"speed_{device}",
            title=f"speed on {_where(device)} (forward and backward)",
            tries=f"{timed.called()} forward and backward on x {shape_text(config.x_shape)} on "
            f"{_where(device)}, {RACED}",
            probe=_prepare(True, device, init=config.init()),
            inputs=timed.inputs(),
            judge=Speed(device, margin, atol=1e-4, rtol=1e-3, baseline_share=share),
            points=2,
            advice=advice,
        )

    return tuple(check(device, *size) for device, size in zip(("cpu", "cuda"), sizes, strict=True))
