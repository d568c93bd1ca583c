"""How robust are the CPU speed checks? Run them many times and print the ratio distributions.

    python tests/speed_study.py [--runs 20] [--busy] [--learner] [--device cuda]
    python tests/speed_study.py --batch 5 [--jobs 2] [--busy]

For each submission (the reference, the three correct styles in tests/submissions/, and three
slow-but-correct ones: a loop over heads, over tokens, over rows) it runs each speed check
`--runs` times in one grading session (warm workers, as a real grading is) and prints, per
check, how many runs passed and the min / median / max of the median-of-rounds ratio.
`--busy` keeps the other core busy with a spinning process meanwhile. `--batch N` grades N
copies of each submission with `attention-grade batch --jobs J --no-hidden` instead (whole
gradings, J of them at once, as a class is graded) and prints the same table from their
grading.json files. `--learner` grades as a learner's copy does (against the fixtures, the
speed checks racing PyTorch's kernels in grader/baselines): "passed" then counts "would pass"
predictions, and the ratios are the estimated ones (to the reference's). The README's "Speed"
tables come from this script; tests/test_speed.py checks the same cases a few times.
`--device cuda` studies the GPU speed checks instead (the book's GPT-2 size; README, "GPU").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import copy_solutions  # noqa: E402
from test_speed import HEAD_LOOP, MHA_SPLIT_TO_END, ROW_LOOP  # noqa: E402

from grader import paths  # noqa: E402
from grader.batch import main as batch  # noqa: E402
from grader.judge.engine import Grading, Options  # noqa: E402

EXERCISES = ("attention_scores", "CausalAttention", "MultiHeadAttention")
SLOWED = {  # the exercise each slow submission slows down
    "loop over rows": "attention_scores",
    "loop over tokens": "CausalAttention",
    "loop over heads": "MultiHeadAttention",
}

TOKEN_LOOP = """        outputs = []
        for t in range(num_tokens):  # one query token at a time
            scores = queries[:, t : t + 1] @ keys[:, : t + 1].transpose(1, 2)
            weights = self.dropout(torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1))
            outputs.append(weights @ values[:, : t + 1])
        return torch.cat(outputs, dim=1)
"""
CAUSAL_FROM = "        # keys.transpose(1, 2): (b, num_tokens, d_out) -> (b, d_out, num_tokens)\n"


def slow_submissions(root: Path) -> dict[str, Path]:
    mha = (paths.SOLUTIONS / "multihead_attention.py").read_text()
    start = mha.index(MHA_SPLIT_TO_END)
    head_loop = mha[:start] + HEAD_LOOP + mha[mha.index("        # END SOLUTION", start) :]
    causal = (paths.SOLUTIONS / "causal_attention.py").read_text()
    start = causal.index(CAUSAL_FROM)
    token_loop = (
        causal[:start] + TOKEN_LOOP + causal[causal.index("        # END SOLUTION", start) :]
    )
    return {
        "loop over heads": copy_solutions(
            root / "heads", files={"multihead_attention.py": head_loop}
        ),
        "loop over tokens": copy_solutions(
            root / "tokens", files={"causal_attention.py": token_loop}
        ),
        "loop over rows": copy_solutions(
            root / "rows", {"simple_attention": [("    return inputs @ inputs.T\n", ROW_LOOP)]}
        ),
    }


def spin() -> None:
    while True:
        pass


def ratio_of(result) -> float | None:
    """The ratio to the reference's: measured, or as a learner's copy estimates it."""
    text = result.note or result.problem
    found = re.search(r"about ([0-9.]+)x the reference's", text) or re.search(
        r"per call: ([0-9.]+)x", text
    )
    return float(found.group(1)) if found else None


def study(
    name: str, folder: Path, runs: int, only: tuple[str, ...], learner: bool, device: str
) -> list:
    """Each exercise's speed check on `device`, `runs` times, in one grading session."""
    options = Options(only=only, hidden=False, use_solutions=False if learner else None)
    with Grading(folder, options) as grading:
        steps = [s for s in grading.steps if s.check.name == f"speed_{device}"]
        if learner:
            steps = [_with_share(step) for step in steps]
        found = {step.exercise.name: ([], 0) for step in steps}
        for _ in range(runs):
            for step in steps:
                result = grading.run(step)
                ratios, passed = found[step.exercise.name]
                if (ratio := ratio_of(result)) is not None:
                    ratios.append(ratio)
                elif result.status != "passed":
                    print(f"  {name} {step.exercise.name}: {result.status}: {result.problem[:200]}")
                found[step.exercise.name] = (ratios, passed + (result.status == "passed"))
    rows = []
    for exercise, (ratios, passed) in found.items():
        rows.append((name, exercise, passed, runs, ratios))
        print(f"{name:18s} {exercise:20s} passed {passed}/{runs}  ratios {ratios}", flush=True)
    return rows


def _with_share(step):
    """A check whose baseline share is not measured for its device yet races with a share of
    1, so that the reference's ratio is its share (how the GPU shares were measured)."""
    if step.check.judge.baseline_share is not None:
        return step
    judge = dataclasses.replace(step.check.judge, baseline_share=1.0)
    return dataclasses.replace(step, check=dataclasses.replace(step.check, judge=judge))


def submissions(root: Path) -> dict[str, Path]:
    found = {"reference": paths.SOLUTIONS}
    found.update(
        {s: HERE / "submissions" / s for s in ("einsum_style", "functional_style", "book_style")}
    )
    found.update(slow_submissions(root))
    return found


def session_study(
    root: Path, runs: int, learner: bool, device: str, names: list[str] | None = None
) -> list[tuple]:
    rows = []
    for name, folder in submissions(root).items():
        if names and name not in names:
            continue
        only = (SLOWED[name],) if name in SLOWED else EXERCISES
        rows += study(name, folder, runs, only, learner, device)
    return rows


def batch_study(root: Path, copies: int, jobs: int) -> list[tuple]:
    """`copies` of every submission graded by `attention-grade batch --jobs jobs`."""
    folders = submissions(root / "made")
    inbox = root / "inbox"
    for name, folder in folders.items():
        for k in range(copies):
            target = inbox / f"{name.replace(' ', '_')}-{k}"
            shutil.copytree(folder, target, ignore=shutil.ignore_patterns("__pycache__"))
    batch([str(inbox), "--out", str(root / "out"), "--jobs", str(jobs), "--no-hidden", "-q"])
    found: dict[tuple[str, str], list] = {}
    for path in (root / "out").glob("*/grading.json"):
        record = json.loads(path.read_text())
        name = record["id"].rsplit("-", 1)[0].replace("_", " ").replace(" style", "_style")
        for result in (record["report"] or {}).get("results", []):
            if result["check"] == "speed_cpu":
                text = result["note"] or result["problem"]
                ratio = re.search(r"per call: ([0-9.]+)x", text)
                entry = found.setdefault((name, result["exercise"]), [0, 0, []])
                entry[0] += result["status"] == "passed"
                entry[1] += 1
                if ratio:
                    entry[2].append(float(ratio.group(1)))
    rows = []
    for name in folders:
        for exercise in (SLOWED[name],) if name in SLOWED else EXERCISES:
            passed, runs, ratios = found.get((name, exercise), [0, 0, []])
            rows.append((name, exercise, passed, runs, ratios))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--busy", action="store_true", help="keep the other core busy meanwhile")
    parser.add_argument("--batch", type=int, metavar="N", help="grade N copies of each in a batch")
    parser.add_argument("--jobs", type=int, default=2, help="the batch's --jobs (default 2)")
    parser.add_argument("--learner", action="store_true", help="grade as a learner's copy does")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="which checks")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these submissions only")
    args = parser.parse_args()
    if args.batch and args.device != "cpu":
        parser.error("--batch studies the CPU checks only")
    spinner = multiprocessing.Process(target=spin, daemon=True) if args.busy else None
    if spinner:
        spinner.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.batch:
                rows = batch_study(Path(tmp), args.batch, args.jobs)
            else:
                rows = session_study(Path(tmp), args.runs, args.learner, args.device, args.only)
    finally:
        if spinner:
            spinner.terminate()
            spinner.join()
    how = f"batch --jobs {args.jobs}" if args.batch else "one session"
    how += ", a learner's copy" if args.learner else ""
    how += f", speed_{args.device}"
    print(
        f"\n| submission | check | passed | ratio min | median | max |  ({how}, "
        f"{'other core busy' if args.busy else 'idle'})"
    )
    print("|---|---|---|---|---|---|")
    for name, exercise, passed, runs, ratios in rows:
        lo, mid, hi = (min(ratios), statistics.median(ratios), max(ratios)) if ratios else (0, 0, 0)
        print(f"| {name} | {exercise} | {passed}/{runs} | {lo:.2f} | {mid:.2f} | {hi:.2f} |")


if __name__ == "__main__":
    main()
