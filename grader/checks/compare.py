"""Compare an expected tensor with the learner's and say, in words, how they differ."""

from __future__ import annotations

import torch


def fmt_shape(t: torch.Tensor) -> str:
    """A tensor's shape as Python prints a tuple: (2, 3), (6,), ()."""
    return str(tuple(t.shape))


def fmt_index(flat: int, shape: torch.Size) -> str:
    idx = []
    for size in reversed(shape):
        idx.append(flat % size)
        flat //= size
    return "[" + ", ".join(str(i) for i in reversed(idx)) + "]"


def fmt_value(x: float) -> str:
    if x != x or x in (float("inf"), float("-inf")):
        return str(x)
    return f"{x:.6g}" if abs(x) >= 1e-4 or x == 0 else f"{x:.3e}"


def tolerance_text(atol: float, rtol: float) -> str:
    if rtol == 0:
        return f"|got - expected| <= {atol:g}"
    return f"|got - expected| <= {atol:g} + {rtol:g} * |expected|"


def difference(
    expected: torch.Tensor, got: torch.Tensor, atol: float, rtol: float, what: str = "output"
) -> str | None:
    """None when `got` matches `expected` within tolerance, else a sentence saying how not.

    Matching positions of -inf/inf/NaN count as equal. The message gives the shapes when they
    differ, otherwise how many values are off, the first differing position, the largest
    difference and the tolerance.
    """
    if tuple(got.shape) != tuple(expected.shape):
        return f"{what}: expected shape {fmt_shape(expected)}, got {fmt_shape(got)}"
    if got.numel() == 0:
        return None
    e = expected.detach().to(torch.float64).reshape(-1)
    g = got.detach().to(torch.float64).reshape(-1)
    same_special = (e == g) | (torch.isnan(e) & torch.isnan(g))
    diff = (g - e).abs()
    bad = ~same_special & ~(diff <= atol + rtol * e.abs())  # NaN differences count as bad
    n_bad = int(bad.sum())
    if n_bad == 0:
        return None
    first = int(bad.nonzero()[0])
    finite = torch.where(bad & torch.isfinite(diff), diff, torch.zeros_like(diff))
    worst = int(finite.argmax()) if bool((finite > 0).any()) else first
    booleans = torch.bool in (expected.dtype, got.dtype)

    def value(t: torch.Tensor, i: int) -> str:
        return str(bool(t[i])) if booleans else fmt_value(float(t[i]))

    parts = [
        f"{what}: {n_bad} of {e.numel()} values differ",
        f"first at {fmt_index(first, got.shape)}: expected {value(e, first)}, "
        f"got {value(g, first)}",
    ]
    if worst != first:
        parts.append(
            f"largest difference {fmt_value(float(diff[worst]))} at {fmt_index(worst, got.shape)}"
        )
    else:
        parts.append(f"difference {fmt_value(float(diff[first]))}")
    nan = int(torch.isnan(g).sum()) - int((torch.isnan(e) & torch.isnan(g)).sum())
    if nan > 0:
        parts.append(f"{nan} NaN where the expected values are numbers")
    parts.append(f"tolerance {tolerance_text(atol, rtol)}")
    return "; ".join(parts) + _nan_rows(expected, got)


def _nan_rows(expected: torch.Tensor, got: torch.Tensor) -> str:
    """A sentence about rows that came out entirely NaN where numbers were expected: the mark
    of a softmax over a row holding a NaN or nothing but -inf."""
    if got.dim() < 2 or not got.is_floating_point() or got.shape[-1] < 2:
        return ""
    rows_g = torch.isnan(got.detach()).all(dim=-1)
    rows_e = torch.isnan(expected.detach().to(torch.float64)).all(dim=-1)
    count = int((rows_g & ~rows_e).sum())
    if not count:
        return ""
    first = fmt_index(int((rows_g & ~rows_e).reshape(-1).nonzero()[0]), rows_g.shape)
    return (
        f"\n{count} of {rows_g.numel()} rows are entirely NaN (the first at {first}): a softmax "
        "gives a row of NaN when that row of scores holds a NaN or nothing but -inf (a mask "
        "that hides every key of a query? the square root of negative scores?)"
    )


def error_ratio(
    expected: torch.Tensor, got: torch.Tensor, atol: float, rtol: float
) -> float | None:
    """The largest |got - expected| as a share of the tolerance atol + rtol * |expected|.

    1.0 is the edge of failing; a correct float32 computation stays far below it. None when
    there is no tolerance to compare with (an exact check) or nothing comparable (shapes
    differ, no values).
    """
    if (atol == 0 and rtol == 0) or tuple(got.shape) != tuple(expected.shape) or not got.numel():
        return None
    e = expected.detach().to(torch.float64).reshape(-1)
    g = got.detach().to(torch.float64).reshape(-1)
    same_special = (e == g) | (torch.isnan(e) & torch.isnan(g))
    ratio = (g - e).abs() / (atol + rtol * e.abs())
    ratio = torch.where(same_special, torch.zeros_like(ratio), ratio)
    return float(ratio.nan_to_num(nan=float("inf")).max())
