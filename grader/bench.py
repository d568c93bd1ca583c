"""attention-grade bench: your multi-head attention next to the reference and a fused kernel.

    attention-grade bench [PATH] [--device auto|cpu|cuda] [--batch B] [--tokens T]
                          [--dtype float32 tf32 bfloat16] [--plot FILE] [--json FILE]

Times (MHA = MultiHeadAttention, SDPA = torch.nn.functional.scaled_dot_product_attention),
at the GPT-2 size (768 dimensions, 12 heads; batch 8 and 1,024 tokens on a GPU,
smaller by default on the CPU), forward and forward+backward, in each dtype (tf32: float32
tensors with TensorFloat-32 matrix products, as in the book's own benchmark): your
MultiHeadAttention, your MultiHeadAttentionWrapper (12 heads of 64), the reference
MultiHeadAttention (where solutions/ is present) and the same module computed with
torch.nn.functional.scaled_dot_product_attention. Your code runs in its worker, as when it
is graded; the timings are measured there (CUDA events on a GPU). It prints milliseconds,
achieved TFLOP/s and each variant's share of the fused kernel's speed. Informational: no
points depend on it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from grader.checks.compare import difference
from grader.checks.vocabulary import linear, qkv, tokens
from grader.errors import SubmissionError
from grader.judge.engine import Grading, Options
from grader.rng import Rng

D_MODEL, HEADS = 768, 12
MODULE = "multihead_attention"


def flops(kind: str, b: int, t: int, d: int = D_MODEL) -> float:
    """Forward FLOPs: 2 per multiply-add; the attention core counted for all T x T pairs."""
    projections = 4 if kind != "wrapper" else 3  # the wrapper has no out_proj
    return projections * 2 * b * t * d * d + 2 * 2 * b * t * t * d


def inputs_for(b: int, t: int) -> tuple[dict, dict]:
    """Weights for the multi-head modules and, split per head, the same for the wrapper."""
    rng = Rng(0)
    mha = {**qkv(rng, D_MODEL, D_MODEL), **linear(rng, "out_proj", D_MODEL, D_MODEL, True)}
    x = tokens(rng, b, t, D_MODEL)
    head_dim = D_MODEL // HEADS
    wrapper = {"x": x}
    for name in ("W_query", "W_key", "W_value"):
        blocks = mha[f"w:{name}.weight"].split(head_dim, dim=0)
        wrapper.update({f"w:heads.{h}.{name}.weight": blk.clone() for h, blk in enumerate(blocks)})
    return {**mha, "x": x}, wrapper


def variants(t: int, has_reference: bool) -> list[tuple[str, str, dict, str]]:
    """(label, kind for FLOPs, probe spec, which worker)."""
    mha = {
        "d_in": D_MODEL,
        "d_out": D_MODEL,
        "context_length": t,
        "dropout": 0.0,
        "num_heads": HEADS,
    }
    wrapper = {**mha, "d_out": D_MODEL // HEADS}
    rows = [
        (
            "yours: MHA",
            "mha",
            {"target": "MultiHeadAttention", "init": mha},
            "learner",
        ),
        (
            "yours: wrapper",
            "wrapper",
            {"target": "MultiHeadAttentionWrapper", "init": wrapper},
            "learner",
        ),
    ]
    if has_reference:
        rows.append(
            (
                "reference: MHA",
                "mha",
                {"target": "MultiHeadAttention", "init": mha},
                "reference",
            )
        )
    rows.append(
        (
            "fused: SDPA",
            "mha",
            {"target": "FusedMultiHeadAttention", "init": mha, "source": "kit"},
            "learner",
        )
    )
    return rows


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="attention-grade bench", description=__doc__.split("\n")[0])
    p.add_argument(
        "path",
        nargs="?",
        default="exercises",
        help="submission folder or .zip (default ./exercises)",
    )
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu or cuda")
    p.add_argument("--batch", type=int, help="batch size (default 8 on a GPU, 2 on the CPU)")
    p.add_argument(
        "--tokens", type=int, help="sequence length (default 1024 on a GPU, 256 on the CPU)"
    )
    p.add_argument(
        "--dtype",
        nargs="+",
        default=["float32", "bfloat16"],
        choices=["float32", "tf32", "bfloat16", "float16"],
    )
    p.add_argument(
        "--plot", type=Path, help="save a bar chart here (needs matplotlib: pip install '.[plot]')"
    )
    p.add_argument("--json", type=Path, help="write the measurements here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    console = Console()
    device = (
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    gpu = device.startswith("cuda")
    b, t = args.batch or (8 if gpu else 2), args.tokens or (1024 if gpu else 256)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            console.print(
                "--plot needs matplotlib: pip install 'attention-exercise-kit[plot]'", markup=False
            )
            return 2
    mha_inputs, wrapper_inputs = inputs_for(b, t)
    try:
        # a long benchmark is not a grading: each call has its deadline, the whole no budget
        grading = Grading(args.path, Options(timeout=900, hidden=False, budget=None))
    except SubmissionError as e:
        console.print(f"attention-grade bench: {e}", markup=False)
        return 2
    rows = []
    with grading:
        workers = {"learner": grading.session}
        if grading.reference is not None:
            workers["reference"] = grading.reference_session()
        for dtype in args.dtype:
            for backward in (False, True):
                mode = "fwd+bwd" if backward else "fwd"
                with console.status(f"timing {mode} in {dtype} on {device}..."):
                    for label, kind, spec, where in variants(t, "reference" in workers):
                        probe = {
                            "kind": "bench",
                            "module": MODULE,
                            "device": device,
                            "dtype": dtype,
                            "backward": backward,
                            **spec,
                        }
                        data = wrapper_inputs if kind == "wrapper" else mha_inputs
                        reply = workers[where].call(MODULE, probe, data)
                        rows.append(_row(label, kind, dtype, mode, reply, b, t))
        _check_outputs(rows)
    _print(console, rows, b, t)
    if args.json:
        args.json.write_text(
            json.dumps([{k: v for k, v in r.items() if k != "out"} for r in rows], indent=2)
        )
    if args.plot:
        _plot(rows, args.plot, b, t)
        console.print(f"wrote {args.plot}", markup=False)
    return 0


def _row(label, kind, dtype, mode, reply, b, t) -> dict:
    row = {"variant": label, "dtype": dtype, "mode": mode, "device": reply.info.get("device", "")}
    if not reply.ok:
        row["error"] = (
            f"{(reply.error or {}).get('type')}: {(reply.error or {}).get('message', '')}"[:160]
        )
        return row
    seconds = reply.info["seconds"]
    work = flops(kind, b, t) * (3 if mode == "fwd+bwd" else 1)  # backward ~ 2x forward
    row.update(ms=seconds * 1e3, tflops=work / seconds / 1e12, out=reply.outputs.get("out"))
    return row


def _check_outputs(rows: list[dict]) -> None:
    """Flag a learner's MultiHeadAttention whose float32 output differs from the fused one's."""
    fused = {
        (r["dtype"], r["mode"]): r.get("out") for r in rows if r["variant"].startswith("fused")
    }
    for r in rows:
        if r["variant"] == "yours: MHA" and r.get("out") is not None and r["dtype"] == "float32":
            # (tf32 and half precision differ from float32 by more than a tolerance can say)
            ref = fused.get((r["dtype"], r["mode"]))
            if ref is not None and difference(ref, r["out"], 1e-3, 1e-3):
                r["warning"] = "its output differs from the fused module's: time a correct module"


def _print(console: Console, rows: list[dict], b: int, t: int) -> None:
    device = next((r["device"] for r in rows if r.get("device")), "?")
    table = Table(
        title=f"Multi-head attention, batch {b}, {t} tokens, {D_MODEL} dims, {HEADS} heads, on {device}"
    )
    for col in ("variant", "dtype", "mode", "ms", "TFLOP/s", "share of fused speed"):
        table.add_column(
            col, justify="right" if col in ("ms", "TFLOP/s", "share of fused speed") else "left"
        )
    fused = {(r["dtype"], r["mode"]): r.get("ms") for r in rows if r["variant"].startswith("fused")}
    for r in rows:
        if "error" in r:
            table.add_row(r["variant"], r["dtype"], r["mode"], "-", "-", r["error"])
            continue
        base = fused.get((r["dtype"], r["mode"]))
        share = f"{base / r['ms']:.0%}" if base else "-"
        table.add_row(
            r["variant"], r["dtype"], r["mode"], f"{r['ms']:.2f}", f"{r['tflops']:.2f}", share
        )
    console.print(table)
    for r in rows:
        if r.get("warning"):
            console.print(
                f"warning: {r['variant']} ({r['dtype']}, {r['mode']}): {r['warning']}", markup=False
            )
    console.print(
        "FLOPs: 2 per multiply-add, the attention core counted for all T x T pairs, "
        "backward = 2 x forward.",
        style="dim",
    )


def _plot(rows: list[dict], path: Path, b: int, t: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if "ms" in r]
    groups = sorted({(r["dtype"], r["mode"]) for r in ok})
    names = list(dict.fromkeys(r["variant"] for r in ok))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        values = [
            next((r["ms"] for r in ok if r["variant"] == name and (r["dtype"], r["mode"]) == g), 0)
            for g in groups
        ]
        ax.bar([j + i * width for j in range(len(groups))], values, width, label=name)
    ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(groups))])
    ax.set_xticklabels([f"{d}\n{m}" for d, m in groups])
    ax.set_ylabel("milliseconds per call (lower is better)")
    ax.set_title(
        f"Multi-head attention, batch {b}, {t} tokens, on {ok[0]['device'] if ok else '?'}"
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
