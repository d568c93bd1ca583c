"""Speed checks: the learner's attention against the reference, on the CPU and on a GPU.

Sections 3.3.2 and 3.6.2 are about doing the work in matrix products instead of Python
loops, and all heads at once. A speed check first compares one output with the reference's
(a wrong answer is not timed), then times the learner's call and the reference's in
alternating rounds, each in its own worker started the same way, on fresh inputs every call
whose results are checked, as the judge measures it (CPU time on the CPU, wall time on a GPU;
see grader/judge/speed.py), and passes when the median of the per-round ratios stays within
the margin.

Sizes and margins. On the CPU the sizes are small on purpose, so that per-head or per-token
Python overhead dominates: there a per-head loop measured 2.2x to 2.4x the vectorised module
and a per-token loop about 20x, while correct vectorised variants stay at or below 1.45x
(README, "Speed").
On a GPU the sizes are the book's GPT-2 ones (batch 8, 1,024 tokens, 768 dimensions, 12
heads); those margins have not been measured on a GPU by this kit yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.checks.build import linear, qkv, tokens
from grader.checks.judges import Judge, tolerance_text
from grader.checks.spec import Check


@dataclass(frozen=True)
class Speed(Judge):
    """Median over `rounds` of learner time / reference time must be <= margin."""

    device: str  # "cpu" or "cuda"
    margin: float
    rounds: int = 7
    window: float = 0.05  # seconds of the reference's work per timed batch
    sample: int = 2  # calls per round that both workers recompute in full after the timing
    atol: float = 1e-5  # for the output compared before timing
    rtol: float = 1e-4
    needs_expected = False  # the reference runs in its own worker, not from the fixtures

    def __call__(self, inputs, expected, got):
        raise TypeError("speed checks are run by grader.judge.speed, not called directly")

    @property
    def tolerance(self):
        return (
            f"median time ratio <= {self.margin:g}; output {tolerance_text(self.atol, self.rtol)}"
        )


def _where(device: str) -> str:
    return "the CPU" if device == "cpu" else "a GPU"


def _prepare(backward: bool | None, device: str, **spec) -> dict:
    probe = {"kind": "prepare", "device": device, **spec}
    if backward is not None:
        probe["backward"] = backward
    return probe


def scores_checks() -> tuple[Check, ...]:
    def check(device, t, d, margin):
        return Check(
            f"speed_{device}",
            f"speed on {_where(device)} ({t} tokens)",
            f"attention_scores(inputs) for inputs ({t}, {d}) on {_where(device)}, timed "
            "against the reference in alternating rounds",
            _prepare(None, device, args=["inputs"]),
            lambda rng: {"inputs": rng.uniform(t, d)},
            Speed(device, margin, atol=1e-4, rtol=1e-4),
            points=2,
            advice="one matrix product for all pairs (inputs @ inputs.T), no Python loop over tokens",
        )

    return (check("cpu", 1024, 64, 3.0), check("cuda", 4096, 64, 3.0))


def causal_checks() -> tuple[Check, ...]:
    def check(device, b, t, d_in, d_out, margin):
        init = {"d_in": d_in, "d_out": d_out, "context_length": t, "dropout": 0.0}
        return Check(
            f"speed_{device}",
            f"speed on {_where(device)} (forward and backward)",
            f"CausalAttention(d_in={d_in}, d_out={d_out}, context_length={t}) forward and "
            f"backward on x ({b}, {t}, {d_in}) on {_where(device)}, timed against the "
            "reference in alternating rounds",
            _prepare(True, device, init=init),
            lambda rng: {**qkv(rng, d_in, d_out), "x": tokens(rng, b, t, d_in)},
            Speed(device, margin, atol=1e-4, rtol=1e-3),
            points=2,
            advice="batched matrix products for all tokens at once; no Python loop over tokens "
            "or sequences; build the mask once in __init__ (a buffer), not in every forward",
        )

    return (check("cpu", 4, 128, 32, 32, 2.0), check("cuda", 8, 1024, 768, 64, 1.5))


def multihead_checks() -> tuple[Check, ...]:
    def check(device, b, t, d, heads, margin):
        init = {"d_in": d, "d_out": d, "context_length": t, "dropout": 0.0, "num_heads": heads}
        return Check(
            f"speed_{device}",
            f"speed on {_where(device)} (forward and backward)",
            f"MultiHeadAttention(d_in={d}, d_out={d}, context_length={t}, num_heads={heads}) "
            f"forward and backward on x ({b}, {t}, {d}) on {_where(device)}, timed against "
            "the reference in alternating rounds",
            _prepare(True, device, init=init),
            lambda rng: {
                **qkv(rng, d, d),
                **linear(rng, "out_proj", d, d, True),
                "x": tokens(rng, b, t, d),
            },
            Speed(device, margin, atol=1e-4, rtol=1e-3),
            points=2,
            advice="all heads at once: split with view/transpose and use batched matrix "
            "products; no Python loop over heads or tokens",
        )

    return (check("cpu", 8, 32, 128, 32, 2.0), check("cuda", 8, 1024, 768, 12, 1.3))
