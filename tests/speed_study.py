"""How robust are the CPU speed checks? Run them many times and print the ratio distributions.

    python tests/speed_study.py [--runs 20] [--busy]

For each submission (the reference, the three correct styles in tests/submissions/, and three
slow-but-correct ones: a loop over heads, over tokens, over rows) it runs each speed check
`--runs` times in one grading session (warm workers, as a real grading is) and prints, per
check, how many runs passed and the min / median / max of the median-of-rounds ratio.
`--busy` keeps the other core busy with a spinning process meanwhile. The README's "Speed"
table comes from this script; tests/test_speed.py checks the same cases a few times.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import copy_solutions  # noqa: E402
from test_speed import HEAD_LOOP, MHA_SPLIT_TO_END, ROW_LOOP  # noqa: E402

from grader import paths  # noqa: E402
from grader.judge.engine import Grading, Options  # noqa: E402

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


def study(name: str, folder: Path, runs: int, only: tuple[str, ...]) -> list[tuple]:
    rows = []
    for exercise in only:
        with Grading(folder, Options(only=exercise, hidden=False)) as grading:
            step = next(s for s in grading.steps if s.check.name == "speed_cpu")
            ratios, passed = [], 0
            for _ in range(runs):
                result = grading.run(step)
                text = result.note or result.problem
                found = re.search(r"per call: ([0-9.]+)x", text)
                if found:
                    ratios.append(float(found.group(1)))
                passed += result.status == "passed"
            rows.append((name, exercise, passed, runs, ratios))
            print(f"{name:18s} {exercise:20s} passed {passed}/{runs}  ratios {ratios}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--busy", action="store_true", help="keep the other core busy meanwhile")
    args = parser.parse_args()
    spinner = multiprocessing.Process(target=spin, daemon=True) if args.busy else None
    if spinner:
        spinner.start()
    exercises = ("attention_scores", "CausalAttention", "MultiHeadAttention")
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            correct = {"reference": paths.SOLUTIONS}
            correct.update(
                {
                    s: HERE / "submissions" / s
                    for s in ("einsum_style", "functional_style", "book_style")
                }
            )
            for name, folder in correct.items():
                rows += study(name, folder, args.runs, exercises)
            slow = slow_submissions(Path(tmp))
            rows += study(
                "loop over rows", slow["loop over rows"], args.runs, ("attention_scores",)
            )
            rows += study(
                "loop over tokens", slow["loop over tokens"], args.runs, ("CausalAttention",)
            )
            rows += study(
                "loop over heads", slow["loop over heads"], args.runs, ("MultiHeadAttention",)
            )
    finally:
        if spinner:
            spinner.terminate()
    print(
        f"\n| submission | check | passed | ratio min | median | max |  ({'other core busy' if args.busy else 'idle'})"
    )
    print("|---|---|---|---|---|---|")
    for name, exercise, passed, runs, ratios in rows:
        lo, mid, hi = (min(ratios), statistics.median(ratios), max(ratios)) if ratios else (0, 0, 0)
        print(f"| {name} | {exercise} | {passed}/{runs} | {lo:.2f} | {mid:.2f} | {hi:.2f} |")


if __name__ == "__main__":
    main()
