"""How a check decides: small criterion objects that compare what came back with what is expected.

A criterion (a check's `judge`) sees the check's inputs, the reference's reply (`expected`, None
for criteria that need none) and the learner's reply (`got`). It returns a `Verdict`: passed or
not, a message saying what was expected and what came back, and an optional note that is shown
even on a pass (for a correct but unusual structure). Criteria are only called with a successful
reply unless they define `on_error`: a raised exception is otherwise reported by the engine
itself. A criterion that compares attention weights also says what a picture of a failure
shows (`sight`: the expected and the learner's weights and the wrong entries, as tensors; see
`Check.picture` and grader.report.pictures).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import reduce
from math import exp, lgamma, log
from typing import TYPE_CHECKING

import torch

from grader.checks.compare import difference, error_ratio, fmt_shape, tolerance_text

if TYPE_CHECKING:
    from grader.protocol import Reply


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str = ""
    note: str = ""
    diagnosis: str = ""  # the id of a mistake the criterion itself recognised
    # The largest difference from the expected values as a share of the tolerance, for the
    # criteria that compare values (the numerical margin; see compare.error_ratio).
    error_ratio: float | None = None
    # False where the message already says what to change (a rename, say): the check's
    # general advice would only distract from it.
    advise: bool = True


PASS = Verdict(True)


@dataclass(frozen=True)
class Sight:
    """What a failed check's picture shows, as tensors: the learner's attention weights, the
    expected ones (None where the check compares with no reference) and the entries the check
    finds wrong (bool, the learner's shape; None where no entry is singled out)."""

    got: torch.Tensor
    expected: torch.Tensor | None = None
    wrong: torch.Tensor | None = None
    rows_sum_to_one: bool = False  # each row should sum to 1: the picture shows the sums
    labels: tuple[str, str] = ("expected", "yours")
    marks: str = "outside the tolerance"  # what a marked entry means
    what: str = ""  # what the tensors are, where not the output itself


def wrong_entries(
    expected: torch.Tensor, got: torch.Tensor, atol: float, rtol: float
) -> torch.Tensor | None:
    """The entries of `got` off `expected` by more than atol + rtol * |expected| (bool, None
    when the shapes differ); matching -inf, inf and NaN count as equal, as in `difference`."""
    if tuple(got.shape) != tuple(expected.shape):
        return None
    e = expected.detach().to(torch.float64)
    g = got.detach().to(torch.float64)
    same_special = (e == g) | (torch.isnan(e) & torch.isnan(g))
    return ~same_special & ~((g - e).abs() <= atol + rtol * e.abs())


def rows_sum_to_one(weights: torch.Tensor, atol: float = 1e-4) -> bool:
    """Whether every row (last dim) of `weights` sums to 1: softmax outputs do."""
    if weights.dim() == 0 or not weights.is_floating_point() or weights.numel() == 0:
        return False
    sums = weights.detach().to(torch.float64).sum(dim=-1)
    return bool(((sums - 1).abs() <= atol).all())


class Criterion:
    """The base of every check's judge: how the engine asks whether a reply passes."""

    needs_expected = True

    def __call__(self, inputs: dict, expected: Reply | None, got: Reply) -> Verdict:
        raise NotImplementedError

    def on_error(self, got: Reply) -> Verdict | None:
        """A verdict for a reply that is not "ok", or None to let the engine report it."""
        return None

    def matches(self, inputs: dict, other: Reply, got: Reply) -> bool:
        """Whether `got` passes when `other` (a known mistake's reply) is taken as expected."""
        try:
            return self(inputs, other, got).passed
        except Exception:  # a variant's outputs may lack what this criterion reads
            return False

    @property
    def tolerance(self) -> str:
        return ""

    def reads(self, keys: Iterable[str]) -> set[str]:
        """Which of the expected reply's outputs this criterion reads (what fixtures must keep)."""
        return set(keys) if self.needs_expected else set()

    def sight(self, key: str, inputs: dict, expected: Reply | None, got: Reply) -> Sight | None:
        """The attention weights in output `key` as a failed check's picture shows them, or
        None where this criterion has nothing to show (see `Check.picture`)."""
        return None


class ReadsInfo(Criterion):
    """A criterion that reads only the expected reply's info (the module's description, the
    devices it ran on), no output tensor: facts the worker reports about the module, which
    the judge credits only where the submission does not reach into the worker
    (grader/judge/reach_ins.py)."""

    def reads(self, keys):
        return set()


def self_reported(judge: Criterion) -> bool:
    """Whether the verdict rests on facts the worker reports (a ReadsInfo, alone or in a
    combination) rather than on tensors the judge compares."""
    if isinstance(judge, ReadsInfo):
        return True
    return any(self_reported(j) for j in getattr(judge, "judges", ()))


def _largest(ratios: list[float | None]) -> float | None:
    known = [r for r in ratios if r is not None]
    return max(known) if known else None


def _missing(key: str) -> Verdict:
    return Verdict(False, f"no '{key}' came back")


@dataclass(frozen=True)
class Close(Criterion):
    """Values match the reference within atol + rtol * |expected|."""

    keys: tuple[str, ...] = ("out",)
    atol: float = 1e-5
    rtol: float = 1e-4
    explain: str = ""  # a sentence added to a failure: what it means in this check

    def __call__(self, inputs, expected, got):
        problems, ratios = [], []
        for key in self.keys:
            if key not in got.outputs:
                return _missing(key)
            what = "output" if key == "out" else key
            e, g = expected.outputs[key], got.outputs[key]
            diff = difference(e, g, self.atol, self.rtol, what)
            if diff:
                problems.append(diff)
            ratios.append(error_ratio(e, g, self.atol, self.rtol))
        if problems and self.explain:
            problems.append(self.explain)
        return Verdict(not problems, "\n".join(problems), error_ratio=_largest(ratios))

    @property
    def tolerance(self):
        return tolerance_text(self.atol, self.rtol)

    def reads(self, keys):
        return set(keys) & set(self.keys)

    def sight(self, key, inputs, expected, got):
        if key not in self.keys or key not in got.outputs or expected is None:
            return None
        e, g = expected.outputs.get(key), got.outputs[key]
        if e is None:
            return None
        return Sight(g, e, wrong_entries(e, g, self.atol, self.rtol), rows_sum_to_one(e))


@dataclass(frozen=True)
class ShapeDType(Criterion):
    """Shape and dtype are the reference's (values are another check's business)."""

    key: str = "out"

    def __call__(self, inputs, expected, got):
        if self.key not in got.outputs:
            return _missing(self.key)
        e, g = expected.outputs[self.key], got.outputs[self.key]
        # The reference runs in float64 (see grader.judge.expected) on the float32 question.
        want = torch.float32 if e.dtype == torch.float64 else e.dtype
        problems = []
        if tuple(e.shape) != tuple(g.shape):
            problems.append(f"expected shape {fmt_shape(e)}, got {fmt_shape(g)}")
        if want != g.dtype:
            problems.append(f"expected dtype {want}, got {g.dtype}")
        return Verdict(not problems, "; ".join(problems))

    def reads(self, keys):
        return set(keys) & {self.key}


@dataclass(frozen=True)
class SumsToOne(Criterion):
    """Every slice along `dim` sums to 1 (no reference needed)."""

    key: str = "out"
    dim: int = -1
    atol: float = 1e-5
    needs_expected = False

    def __call__(self, inputs, expected, got):
        if self.key not in got.outputs:
            return _missing(self.key)
        sums = got.outputs[self.key].to(torch.float64).sum(dim=self.dim)
        diff = difference(torch.ones_like(sums), sums, self.atol, 0.0, f"sums along dim {self.dim}")
        return Verdict(not diff, diff or "")

    def sight(self, key, inputs, expected, got):
        if key != self.key or key not in got.outputs or self.dim != -1:
            return None
        return Sight(got.outputs[key], rows_sum_to_one=True, marks="")


@dataclass(frozen=True)
class Unchanged(Criterion):
    """The listed inputs are bit-for-bit what they were before the call."""

    names: tuple[str, ...] = ("x",)
    needs_expected = False

    def __call__(self, inputs, expected, got):
        for name in self.names:
            after = got.outputs.get(f"after:{name}")
            if after is None:
                return _missing(f"after:{name}")
            diff = difference(inputs[name], after, 0.0, 0.0, f"input '{name}' after the call")
            if diff:
                return Verdict(
                    False,
                    f"the call modified its input '{name}' in place: {diff}",
                    diagnosis="inputs_modified_in_place",
                )
        return PASS


@dataclass(frozen=True)
class Same(Criterion):
    """Two outputs of one reply agree, optionally only on the first `upto` tokens (dim -2)."""

    a: str = "out"
    b: str = "out1"
    upto: int | None = None
    atol: float = 1e-6
    what: str = "the two outputs"
    explain: str = ""  # what a difference means, appended to the message
    diagnosis: str = ""  # the mistake a difference reveals, if it reveals one
    needs_expected = False

    def __call__(self, inputs, expected, got):
        if self.a not in got.outputs or self.b not in got.outputs:
            return _missing(self.b)
        x, y = got.outputs[self.a], got.outputs[self.b]
        if self.upto is not None:
            if x.dim() < 2 or y.dim() < 2:
                return Verdict(
                    False,
                    f"{self.what}: expected outputs of shape (..., tokens, features), got "
                    f"{fmt_shape(x)} and {fmt_shape(y)}",
                )
            x, y = x[..., : self.upto, :], y[..., : self.upto, :]
        diff = difference(x, y, self.atol, 0.0, self.what)
        if not diff:
            return PASS
        return Verdict(
            False, diff + (f"\n{self.explain}" if self.explain else ""), diagnosis=self.diagnosis
        )


@dataclass(frozen=True)
class Differ(Criterion):
    """Two outputs of one reply differ somewhere (e.g. two dropout draws)."""

    a: str = "out"
    b: str = "out1"
    what: str = "the two outputs"
    diagnosis: str = ""  # the mistake identical outputs reveal, if they reveal one
    needs_expected = False

    def __call__(self, inputs, expected, got):
        if self.a not in got.outputs or self.b not in got.outputs:
            return _missing(self.b)
        if torch.equal(got.outputs[self.a], got.outputs[self.b]):
            return Verdict(False, f"{self.what} are identical", diagnosis=self.diagnosis)
        return PASS


@dataclass(frozen=True)
class Raises(Criterion):
    """The call must raise one of the exception types the contract names.

    Any other error is no refusal: a NameError, an ImportError or a TypeError from a broken
    constructor would otherwise earn the points of a check the code never passed.
    """

    needs_expected = False

    types: tuple[str, ...] = ("ValueError", "AssertionError")
    diagnosis: str = ""

    def __call__(self, inputs, expected, got):
        return Verdict(False, "no error was raised", diagnosis=self.diagnosis)

    def on_error(self, got):
        if got.status != "error" or got.info.get("phase") == "import":
            return None  # the module never ran: reported as the error it is
        error = got.error or {}
        raised = str(error.get("type", ""))
        if raised in self.types:
            return Verdict(True)
        message = str(error.get("message", ""))[:200]
        return Verdict(
            False,
            f"raised {raised or 'an error'}: {message}\n"
            f"that is not a refusal: raise {' or '.join(self.types)} for it",
        )


@dataclass(frozen=True)
class Grads(Criterion):
    """Every parameter and input gradient matches the reference's."""

    atol: float = 1e-4
    rtol: float = 1e-3

    def __call__(self, inputs, expected, got):
        missing = sorted(set(got.info.get("no_grad", [])) - set(expected.info.get("no_grad", [])))
        if missing:
            return Verdict(
                False,
                "no gradient reached "
                + ", ".join(missing)
                + " (is it used through .data, .detach() or under torch.no_grad()?)",
            )
        problems, ratios = [], []
        for key in sorted(k for k in expected.outputs if k.startswith("grad:")):
            if key not in got.outputs:
                return _missing(key)
            e, g = expected.outputs[key], got.outputs[key]
            diff = difference(e, g, self.atol, self.rtol, f"gradient of {key[5:]}")
            if diff:
                problems.append(diff)
            ratios.append(error_ratio(e, g, self.atol, self.rtol))
        return Verdict(not problems, "\n".join(problems[:4]), error_ratio=_largest(ratios))

    @property
    def tolerance(self):
        return tolerance_text(self.atol, self.rtol)

    def reads(self, keys):
        return {k for k in keys if k.startswith("grad:")}


def _describe(reply: Reply) -> dict:
    """The module's description ({} if none); a worker's was checked against wire.DESCRIBE."""
    found = reply.info.get("describe")
    return found if isinstance(found, dict) else {}


@dataclass(frozen=True)
class Structure(ReadsInfo):
    """The contract's trainable parameters, by name and shape, and submodule types.

    Extra or missing parameters change what the module computes or trains, so they fail.
    A mask that is not a registered buffer only earns a note here (its device behaviour is
    judged by the device check).
    """

    module_types: tuple[tuple[str, str], ...] = ()  # (submodule path, class name) pairs

    def matches(self, inputs, other, got):
        a, b = _describe(other), _describe(got)
        return a.get("params") == b.get("params") and a.get("modules") == b.get("modules")

    def __call__(self, inputs, expected, got):
        exp, mine = _describe(expected), _describe(got)
        problems = []
        exp_p, my_p = exp.get("params", {}), mine.get("params", {})
        if missing := sorted(set(exp_p) - set(my_p)):
            problems.append("missing parameters: " + ", ".join(missing))
        if extra := sorted(set(my_p) - set(exp_p)):
            problems.append(
                "unexpected parameters: "
                + ", ".join(f"{name} {_shape(my_p[name])}" for name in extra)
            )
        for name in sorted(set(exp_p) & set(my_p)):
            if exp_p[name] != my_p[name]:
                problems.append(
                    f"{name} has shape {tuple(my_p[name])}, expected {tuple(exp_p[name])}"
                )
        for path, type_name in self.module_types:
            found = mine.get("modules", {}).get(path)
            if found != type_name:
                problems.append(f"'{path}' should be a {type_name}, found {found or 'nothing'}")
        fixes = _renames(exp_p, my_p, missing, extra)
        if fixes:
            problems[-1] += "\n" + "\n".join(fixes)
        note = ""
        if "mask" in exp.get("buffers", {}) and "mask" not in mine.get("buffers", {}):
            note = (
                "no buffer named 'mask': the book registers it with register_buffer so that it "
                "follows .to(device) and is saved in state_dict"
            )
        return Verdict(not problems, "; ".join(problems), note, advise=not fixes)


def _shape(shape) -> str:
    return str(tuple(shape)) if isinstance(shape, (list, tuple)) else str(shape)


def _renames(want: dict, have: dict, missing: list, extra: list) -> list[str]:
    """The renames that would turn the unexpected parameters into the missing ones: same
    parameter name (weight, bias) and shape under another layer name, or a plain parameter
    where the contract has a layer of that name."""
    fixes = {}
    for m in missing:
        layer, _, leaf = m.rpartition(".")
        for x in extra:
            their_layer, _, their_leaf = x.rpartition(".")
            if their_layer and leaf == their_leaf and want[m] == have[x] and layer:
                fixes.setdefault(their_layer, f"rename self.{their_layer} to self.{layer}")
            elif not their_layer and x == layer:
                fixes.setdefault(
                    x,
                    f"self.{x} is a plain parameter where the exercise has a layer: make it "
                    f"nn.Linear (its weight is {m}, shape {_shape(want[m])})",
                )
            elif not layer and their_layer == m:
                fixes.setdefault(
                    m,
                    f"self.{m} is a layer where the exercise has a plain parameter: make it "
                    f"nn.Parameter of shape {_shape(want[m])}",
                )
    return ["to fix: " + text for text in fixes.values()]


@dataclass(frozen=True)
class DescribeEquals(ReadsInfo):
    """A field of the module's description equals the reference's (e.g. num_params)."""

    field: str
    label: str

    def __call__(self, inputs, expected, got):
        e, g = _describe(expected).get(self.field), _describe(got).get(self.field)
        if e == g:
            return PASS
        e_text = f"{e:,}" if isinstance(e, int) else e
        g_text = f"{g:,}" if isinstance(g, int) else g
        return Verdict(False, f"{self.label}: expected {e_text}, got {g_text}")


@dataclass(frozen=True)
class MaskShape(ReadsInfo):
    """The causal mask (a buffer, or a plain attribute) is context_length x context_length."""

    diagnosis: str = ""

    def __call__(self, inputs, expected, got):
        want = _describe(expected)["buffers"]["mask"]["shape"]
        mine = _describe(got)
        shape = mine.get("buffers", {}).get("mask", {}).get("shape") or mine.get(
            "plain_tensors", {}
        ).get("mask")
        if shape is None:
            return Verdict(
                True, note="no attribute named 'mask': the context length was not checked"
            )
        if list(shape) == list(want):
            return PASS
        return Verdict(
            False,
            f"the mask is {tuple(shape)}, expected {tuple(want)} (context_length)",
            diagnosis=self.diagnosis,
        )


@dataclass(frozen=True)
class FollowsDevice(ReadsInfo):
    """The module runs after `.to(device)` with inputs on that device: here the meta device,
    with operations that mix devices refused as on CUDA (see probes.SameDevice)."""

    needs_expected = True

    def __call__(self, inputs, expected, got):
        e = expected.info.get("device_out", [])
        g = got.info.get("device_out", [])
        if e == g:
            return PASS
        return Verdict(False, f"on the device the output was {g}, expected {e}")

    def on_error(self, got):
        message = (got.error or {}).get("message", "")
        if got.status == "error" and "meta" in message and "device" not in message.lower():
            return Verdict(
                True, note="could not be checked: an operation has no meta-device kernel"
            )
        return None


@dataclass(frozen=True)
class AllOf(Criterion):
    judges: tuple[Criterion, ...] = field(default_factory=tuple)

    @property
    def needs_expected(self):  # type: ignore[override]
        return any(j.needs_expected for j in self.judges)

    def matches(self, inputs, other, got):
        # Only the parts that compare with the expected reply say whether a mistake matches.
        return all(j.matches(inputs, other, got) for j in self.judges if j.needs_expected)

    def __call__(self, inputs, expected, got):
        notes, ratios = [], []
        for judge in self.judges:
            verdict = judge(inputs, expected, got)
            if not verdict.passed:
                return verdict
            if verdict.note:
                notes.append(verdict.note)
            ratios.append(verdict.error_ratio)
        return Verdict(True, note="; ".join(notes), error_ratio=_largest(ratios))

    @property
    def tolerance(self):
        return "; ".join(t for j in self.judges if (t := j.tolerance))

    def reads(self, keys):
        keys = list(keys)
        return set().union(*(j.reads(keys) for j in self.judges))

    def sight(self, key, inputs, expected, got):
        """The parts' pictures as one: the first expected values, every part's wrong entries."""
        sights = [s for j in self.judges if (s := j.sight(key, inputs, expected, got)) is not None]
        if not sights:
            return None
        wrong = [s.wrong for s in sights if s.wrong is not None]
        first = next((s for s in sights if s.expected is not None), sights[0])
        return replace(
            first,
            wrong=reduce(torch.logical_or, wrong) if wrong else None,
            rows_sum_to_one=any(s.rows_sum_to_one for s in sights),
            marks="; ".join(dict.fromkeys(s.marks for s in sights if s.marks)),
        )


@dataclass(frozen=True)
class ZeroAboveDiagonal(Criterion):
    """Every entry above the diagonal of the last two dims is exactly 0."""

    key: str = "out"
    needs_expected = False

    def __call__(self, inputs, expected, got):
        if self.key not in got.outputs:
            return _missing(self.key)
        out = got.outputs[self.key]
        if out.dim() < 2 or out.shape[-1] != out.shape[-2]:
            return Verdict(
                False,
                f"expected attention weights of shape (..., T, T), got {fmt_shape(out)}: "
                "there is no diagonal to check above",
            )
        bad = int((out.triu(1) != 0).sum())
        if bad:
            return Verdict(
                False, f"{bad} weights above the diagonal are not 0: future tokens leak in"
            )
        return PASS

    def sight(self, key, inputs, expected, got):
        out = got.outputs.get(key) if key == self.key else None
        if out is None or out.dim() < 2 or out.shape[-1] != out.shape[-2]:
            return None
        return Sight(out, wrong=out.triu(1) != 0, marks="not 0 above the diagonal")


# -- dropout -----------------------------------------------------------------------------


def binomial_bounds(n: int, p: float, tail: float = 1e-7) -> tuple[int, int]:
    """Counts k with P(X < k) < tail and P(X > k) < tail for X ~ Binomial(n, p)."""
    log_pmf = [
        lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) + k * log(p) + (n - k) * log(1 - p)
        for k in range(n + 1)
    ]
    pmf = [exp(v) for v in log_pmf]
    low, acc = 0, 0.0
    while acc + pmf[low] < tail:
        acc += pmf[low]
        low += 1
    high, acc = n, 0.0
    while acc + pmf[high] < tail:
        acc += pmf[high]
        high -= 1
    return low, high


def recover_weights(out: torch.Tensor, values: list[torch.Tensor], proj=None) -> torch.Tensor:
    """Undo the value (and output) projections of an attention output, heads stacked on dim 1.

    The dropout checks feed one-hot tokens and orthogonal value matrices V_h, so a head's
    context is A_h @ V_h^T and A_h = context_h @ V_h; `proj` = (weight, bias) of out_proj,
    also orthogonal, is undone first. Works in float64.
    """
    ctx = out.to(torch.float64)
    if proj is not None:
        weight, bias = proj
        ctx = (ctx - bias.to(torch.float64)) @ weight.to(torch.float64)
    width = values[0].shape[0]
    heads = [
        ctx[..., h * width : (h + 1) * width] @ v.to(torch.float64) for h, v in enumerate(values)
    ]
    return torch.stack(heads, dim=1)  # (b, heads, T, T)


READ_BACK = "the attention weights read back from the output, (batch, heads, T, T) ="


def _snapped(weights: torch.Tensor, atol: float = 1e-4) -> torch.Tensor:
    """Weights read back from an output, with the rounding noise of a 0 (|w| <= atol, what
    the dropout judge counts as dropped) made exactly 0 for a picture."""
    return torch.where(weights.abs() <= atol, torch.zeros_like(weights), weights)


@dataclass(frozen=True)
class DropoutOnWeights(Criterion):
    """Train mode: each attention weight is either dropped (0) or scaled by 1/(1-p), and about
    a share p is dropped. The weights are recovered from the output (see `recover_weights`);
    `value_keys` name the inputs holding each head's value matrix, `proj` out_proj's inputs.
    """

    p: float
    value_keys: tuple[str, ...]
    proj: tuple[str, str] | None = None
    tail: float = 1e-7  # chance that a correct dropout lands outside the accepted range

    def _recover(self, inputs, out):
        proj = (inputs[self.proj[0]], inputs[self.proj[1]]) if self.proj else None
        return recover_weights(out, [inputs[k] for k in self.value_keys], proj)

    def __call__(self, inputs, expected, got):
        if "out" not in got.outputs:
            return _missing("out")
        for key in ("out", "eval"):
            if key in got.outputs and got.outputs[key].shape != expected.outputs["eval"].shape:
                return Verdict(False, difference(expected.outputs["eval"], got.outputs[key], 0, 0))
        weights = self._recover(inputs, expected.outputs["eval"])  # the reference, no dropout
        if "eval" in got.outputs and difference(
            weights, self._recover(inputs, got.outputs["eval"]), 1e-4, 1e-3
        ):
            return Verdict(
                False,
                "the attention weights differ from the reference's even in eval mode; this check "
                "needs them right first (see the value checks)",
            )
        dropped_out = self._recover(inputs, got.outputs["out"])
        t = weights.shape[-1]
        lower = torch.ones(t, t, dtype=torch.bool).tril().expand_as(weights)
        is_zero, is_kept = self._dropped_or_kept(weights, dropped_out)
        is_unscaled = (dropped_out - weights).abs() <= 1e-4 + 1e-3 * weights.abs()
        n = int(lower.sum())
        if bool(is_unscaled.all()):
            return Verdict(
                False,
                "train mode gave the same weights as eval mode: no dropout was applied",
                diagnosis="dropout.not_applied",
            )
        if not bool((is_zero | is_kept).all()):
            if bool((is_zero | is_unscaled).all()):
                return Verdict(
                    False,
                    f"kept weights are not rescaled by 1/(1-p) = {1 / (1 - self.p):.4g}",
                    diagnosis="dropout.no_rescale",
                )
            kept = ~is_zero & lower
            ratios = dropped_out[kept] / weights[kept]
            scale = float(ratios.median()) if ratios.numel() else 0.0
            if scale > 1 and bool(((ratios - scale).abs() <= 1e-3 * scale).all()):
                rate = 1 - 1 / scale
                if abs(rate - self.p) > 1e-3 and abs(rate - (1 - self.p)) > 1e-3:
                    return Verdict(
                        False,
                        f"kept weights are scaled by {scale:.4g}, as dropout with p={rate:.3g} "
                        f"would; the module was built with dropout={self.p}: pass that "
                        "argument on to the dropout",
                        diagnosis="dropout.wrong_p",
                    )
            swapped = (dropped_out - weights / self.p).abs() <= 1e-4 + 1e-3 * (
                weights / self.p
            ).abs()
            if bool((is_zero | swapped).all()):
                return Verdict(
                    False,
                    "kept weights are scaled by 1/p: p and 1-p look swapped (p is the chance of "
                    "dropping a weight; the kept ones are scaled by 1/(1-p))",
                    diagnosis="dropout.p_swapped",
                )
            bad = int((~(is_zero | is_kept)).sum())
            # Dropout on the scores still leaves softmax outputs (never negative; NaN where a
            # dropped -inf became 0 * inf); dropout on the output mixes the orthogonal values
            # back in, which shows up as negative weights.
            finite = dropped_out[lower & torch.isfinite(dropped_out)]
            before = bool((finite >= -1e-4).all())
            where = (
                "before the softmax: the dropped scores still get weight"
                if before
                else "on the output (or elsewhere) instead of on the attention weights"
            )
            return Verdict(
                False,
                f"{bad} of {weights.numel()} attention weights are neither 0 nor weight/(1-p): "
                f"dropout looks applied {where}; it belongs on attn_weights, after the softmax "
                "and before they multiply the values",
                diagnosis="dropout.before_softmax" if before else "dropout.on_output",
            )
        k = int((is_zero & lower).sum())
        low, high = binomial_bounds(n, self.p, self.tail)
        if not low <= k <= high:
            return Verdict(
                False,
                f"{k} of {n} weights ({k / n:.0%}) were dropped with p={self.p}; a correct dropout "
                f"drops between {low} and {high} here",
                diagnosis="dropout.wrong_rate",
            )
        return PASS

    def _dropped_or_kept(self, weights, dropped_out):
        """Which read-back weights are dropped (0), and which kept (weight / (1 - p))."""
        scaled = weights / (1 - self.p)
        is_zero = dropped_out.abs() <= 1e-4
        is_kept = (dropped_out - scaled).abs() <= 1e-4 + 1e-3 * scaled.abs()
        return is_zero, is_kept

    def sight(self, key, inputs, expected, got):
        """The reference's weights (no dropout) beside the learner's read back from the
        output: in eval mode while those differ, else in train mode."""
        if key != "out" or expected is None or "out" not in got.outputs:
            return None
        want = expected.outputs.get("eval")
        if want is None or any(
            k in got.outputs and got.outputs[k].shape != want.shape for k in ("out", "eval")
        ):
            return None
        weights = _snapped(self._recover(inputs, want))
        if "eval" in got.outputs:
            in_eval = _snapped(self._recover(inputs, got.outputs["eval"]))
            wrong = wrong_entries(weights, in_eval, 1e-4, 1e-3)
            if wrong is not None and bool(wrong.any()):
                labels = ("expected, eval mode", "yours, eval mode")
                return Sight(
                    in_eval, weights, wrong, rows_sum_to_one=True, labels=labels, what=READ_BACK
                )
        dropped_out = _snapped(self._recover(inputs, got.outputs["out"]))
        is_zero, is_kept = self._dropped_or_kept(weights, dropped_out)
        return Sight(
            dropped_out,
            weights,
            ~(is_zero | is_kept),
            labels=("expected before dropout", "yours, train mode"),
            marks=f"neither 0 nor weight/(1-p) = weight x {1 / (1 - self.p):.4g}",
            what=READ_BACK,
        )

    @property
    def tolerance(self):
        return f"dropped count inside the central 1 - {2 * self.tail:g} of Binomial(n, p)"

    def reads(self, keys):
        return set(keys) & {"eval"}  # the train-mode output's random draws are never compared


@dataclass(frozen=True)
class DropoutElementwise(Criterion):
    """Dropout on a plain tensor (input `source`): `aspect` "rate" counts the zeros against
    Binomial(n, p); "scale" checks that every kept entry is input / (1 - p)."""

    p: float
    aspect: str  # "rate" or "scale"
    source: str = "attn_weights"
    tail: float = 1e-7
    needs_expected = False

    def __call__(self, inputs, expected, got):
        if "out" not in got.outputs:
            return _missing("out")
        x = inputs[self.source].to(torch.float64)
        y = got.outputs["out"].to(torch.float64)
        if y.shape != x.shape:
            return Verdict(False, f"expected shape {fmt_shape(x)}, got {fmt_shape(y)}")
        zero = y == 0
        if self.aspect == "scale":
            ratio = y[~zero] / x[~zero]
            want = 1 / (1 - self.p)
            if bool(((ratio - want).abs() <= 1e-5 * want).all()):
                return PASS
            median = float(ratio.median()) if ratio.numel() else float("nan")
            diagnosis = {1.0: "dropout.no_rescale", round(1 / self.p, 4): "dropout.p_swapped"}
            return Verdict(
                False,
                f"kept weights are multiplied by {median:.4g}, expected 1/(1-p) = {want:.4g}",
                diagnosis=diagnosis.get(round(median, 4), ""),
            )
        n, k = x.numel(), int(zero.sum())
        low, high = binomial_bounds(n, self.p, self.tail)
        if low <= k <= high:
            return PASS
        return Verdict(
            False,
            f"{k} of {n} weights ({k / n:.1%}) were zeroed with p={self.p}; a correct dropout "
            f"zeroes between {low} and {high} here",
            diagnosis="dropout.wrong_rate",
        )

    @property
    def tolerance(self):
        if self.aspect == "scale":
            return "|ratio - 1/(1-p)| <= 1e-5 / (1-p)"
        return f"zero count inside the central 1 - {2 * self.tail:g} of Binomial(n, p)"
