"""Building blocks for writing checks: probe specs, shared runs, the book's toy data, inputs.

Inputs are made only from `Rng` draws, literals and exact tensor operations (indexing,
stacking, identity matrices), so that they are bit-identical on every machine; see
`grader.rng`. Literal values from the book are copied as printed (four decimals).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from grader.checks.criteria import Close, Unchanged
from grader.checks.spec import Check, Inputs
from grader.rng import Rng
from grader.worker.probes import tensor_ref

# "Your journey starts with one step", embedded in three dimensions (book §3.3.1).
TOY = torch.tensor(
    [
        [0.43, 0.15, 0.89],  # Your     (x^1)
        [0.55, 0.87, 0.66],  # journey  (x^2)
        [0.57, 0.85, 0.64],  # starts   (x^3)
        [0.22, 0.58, 0.33],  # with     (x^4)
        [0.77, 0.25, 0.10],  # one      (x^5)
        [0.05, 0.80, 0.55],  # step     (x^6)
    ]
)
TOY_TEXT = "the book's six-token input ('Your journey starts with one step', 3-d embeddings)"
TOY_BATCH_TEXT = "the book's batch: the six-token input stacked twice, shape (2, 6, 3)"

# The attention scores of x^(2) against every token, as printed in §3.3.1.
TOY_SCORES_2 = torch.tensor([0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865])

# Softmax-normalised scores of all tokens, as printed in §3.3.2.
TOY_WEIGHTS = torch.tensor(
    [
        [0.2098, 0.2006, 0.1981, 0.1242, 0.1220, 0.1452],
        [0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581],
        [0.1390, 0.2369, 0.2326, 0.1242, 0.1108, 0.1565],
        [0.1435, 0.2074, 0.2046, 0.1462, 0.1263, 0.1720],
        [0.1526, 0.1958, 0.1975, 0.1367, 0.1879, 0.1295],
        [0.1385, 0.2184, 0.2128, 0.1420, 0.0988, 0.1896],
    ]
)

# §3.5.1: the scores of SelfAttention_v2 (seed 789) on the toy input, and their softmax.
V2_SCORES = torch.tensor(
    [
        [0.2899, 0.0716, 0.0760, -0.0138, 0.1344, -0.0511],
        [0.4656, 0.1723, 0.1751, 0.0259, 0.1771, 0.0085],
        [0.4594, 0.1703, 0.1731, 0.0259, 0.1745, 0.0090],
        [0.2642, 0.1024, 0.1036, 0.0186, 0.0973, 0.0122],
        [0.2183, 0.0874, 0.0882, 0.0177, 0.0786, 0.0144],
        [0.3408, 0.1270, 0.1290, 0.0198, 0.1290, 0.0078],
    ]
)
V2_WEIGHTS = torch.tensor(
    [
        [0.1921, 0.1646, 0.1652, 0.1550, 0.1721, 0.1510],
        [0.2041, 0.1659, 0.1662, 0.1496, 0.1665, 0.1477],
        [0.2036, 0.1659, 0.1662, 0.1498, 0.1664, 0.1480],
        [0.1869, 0.1667, 0.1668, 0.1571, 0.1661, 0.1564],
        [0.1830, 0.1669, 0.1670, 0.1588, 0.1658, 0.1585],
        [0.1935, 0.1663, 0.1666, 0.1542, 0.1666, 0.1529],
    ]
)


def toy_batch() -> torch.Tensor:
    return torch.stack((TOY, TOY))


# -- probe specs --------------------------------------------------------------------------


def function_probe(
    *args,
    repeat: int = 1,
    grad_of=(),
    upstream: str | None = None,
    twin: str | None = None,
    **kwargs,
) -> dict:
    """Call the exercise's function. Strings in args/kwargs name input tensors; `twin` (a key
    of probes.TWINS) also runs that library function on the same arguments and seed."""

    def ref(v):
        return tensor_ref(v) if isinstance(v, str) else v

    spec = {
        "kind": "call",
        "args": [ref(a) for a in args],
        "kwargs": {k: ref(v) for k, v in kwargs.items()},
    }
    if repeat != 1:
        spec["repeat"] = repeat
    if twin:
        spec["twin"] = twin
    if upstream:
        spec.update(grad_of=list(grad_of), upstream=upstream)
    return spec


def module_probe(init: dict, forward=("x",), mode: str = "eval", **options) -> dict:
    """Build the exercise's module with `init`, load every `w:` input, run forward.

    options: upstream (input name of dL/dout), describe (bool), device ("meta"),
    eval_too (bool), init_seed, seed, target (another name than the exercise's).
    """
    return {"kind": "module", "init": init, "forward": list(forward), "mode": mode, **options}


# -- runs, and checks that recur ----------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """What several checks of an exercise run alike: a probe spec and the inputs it runs on."""

    probe: dict
    inputs: Inputs

    def check(self, **fields) -> Check:
        """A check of this run; `fields` are Check's others (name, title, tries, judge, ...)."""
        return Check(probe=self.probe, inputs=self.inputs, **fields)


def book_values(title: str, tries: str, tensors: dict[str, torch.Tensor], **kwargs) -> Check:
    """The book's printed values: the exercise's function called on copies of the book's
    `tensors`, passed in order as positional arguments, and on `kwargs`."""
    return Check(
        name="book",
        title=title,
        tries=tries,
        probe=function_probe(*tensors, **kwargs),
        inputs=lambda rng: {name: t.clone() for name, t in tensors.items()},
        judge=Close(),
    )


def weights_out(check: Check, key: str = "out") -> Check:
    """`check` with its output `key` declared as attention weights (`Check.picture`)."""
    return replace(check, picture=key)


def random_values(
    run: Run,
    *,
    title: str,
    tries: str,
    name: str = "values_random",
    points: int = 2,
    advice: str = "",
    picture: str = "",
) -> Check:
    """The values on random inputs, against the reference's; worth two points by default and
    also run as a hidden check, on a seed drawn at grading time. `picture`: see Check."""
    return run.check(
        name=name,
        title=title,
        tries=tries,
        judge=Close(),
        points=points,
        randomized=True,
        advice=advice,
        picture=picture,
    )


def inputs_unchanged(
    run: Run,
    tries: str,
    names: tuple[str, ...],
    *,
    title: str = "input not modified in place",
    advice: str = "",
) -> Check:
    """The input tensors `names` are bit for bit what they were before the call."""
    return run.check(
        name="inputs_unchanged", title=title, tries=tries, judge=Unchanged(names), advice=advice
    )


# -- inputs -------------------------------------------------------------------------------


def linear(rng: Rng, name: str, d_in: int, d_out: int, bias: bool, scale: float = 0.5) -> dict:
    """Weights for an nn.Linear(d_in, d_out) called `name`, in nn.Linear's layout."""
    w = {f"w:{name}.weight": rng.uniform(d_out, d_in, low=-scale, high=scale)}
    if bias:
        w[f"w:{name}.bias"] = rng.uniform(d_out, low=-scale, high=scale)
    return w


def qkv(
    rng: Rng, d_in: int, d_out: int, bias: bool = False, prefix: str = "", scale: float = 0.5
) -> dict:
    """W_query, W_key, W_value as nn.Linear(d_in, d_out) weights, names under `prefix`."""
    weights = {}
    for name in ("W_query", "W_key", "W_value"):
        weights.update(linear(rng, prefix + name, d_in, d_out, bias, scale))
    return weights


def tokens(rng: Rng, *shape: int, scale: float = 1.0) -> torch.Tensor:
    """Token embeddings; every batch row is drawn separately, so rows differ."""
    return rng.uniform(*shape, low=-scale, high=scale)


def perturbed_after(rng: Rng, x: torch.Tensor, t: int) -> torch.Tensor:
    """x with every token from position t on replaced (for the causality checks)."""
    x2 = x.clone()
    x2[..., t:, :] = rng.uniform(*x2[..., t:, :].shape, low=-1.0, high=1.0)
    return x2


def causal_scores(rng: Rng, *shape: int, scale: float = 3.0) -> torch.Tensor:
    """Scores with -inf above the diagonal, as a masked softmax sees them."""
    scores = rng.uniform(*shape, low=-scale, high=scale)
    t = shape[-1]
    return scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))


def dropout_setup(rng: Rng, *, batch: int, heads: int, per_head_prefix: bool, proj: bool) -> dict:
    """Inputs for the train-mode dropout checks (see criteria.recover_weights).

    One-hot tokens (x = I, so T = d_in = 8) and dense orthogonal value weights make every
    head's output A_h @ W_h^T, from which the judge reads the attention weights back.
    Head h's value matrix is also given as input "v:h".
    """
    t = 8
    x = torch.eye(t).expand(batch, t, t).clone()
    inputs = {"x": x}
    value_blocks = [rng.orthogonal(t) for _ in range(heads)]
    for h, block in enumerate(value_blocks):
        inputs[f"v:{h}"] = block
    if per_head_prefix:  # the wrapper: one CausalAttention per head
        for h in range(heads):
            prefix = f"heads.{h}."
            inputs.update(linear(rng, prefix + "W_query", t, t, False))
            inputs.update(linear(rng, prefix + "W_key", t, t, False))
            inputs[f"w:{prefix}W_value.weight"] = value_blocks[h]
    else:
        d_out = heads * t
        inputs.update(linear(rng, "W_query", t, d_out, False))
        inputs.update(linear(rng, "W_key", t, d_out, False))
        inputs["w:W_value.weight"] = torch.cat(value_blocks, dim=0)
    if proj:
        d_out = heads * t
        inputs["w:out_proj.weight"] = rng.orthogonal(d_out)
        inputs["w:out_proj.bias"] = rng.uniform(d_out, low=-0.5, high=0.5)
    return inputs
