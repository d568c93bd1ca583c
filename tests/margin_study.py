"""How close does correct code come to each check's tolerance, on this torch? Print it.

    python tests/margin_study.py [--seeds 1 2 3] [--json FILE]

Grades the reference and every correct style in tests/submissions/ as an instructor grades
(hidden checks on each seed, expected values from the live reference) and as a learner's
copy grades (fixtures), and prints, per value check, the largest `error_ratio` any of them
showed: the largest difference from the float64 reference as a share of the check's
tolerance (1.0 fails; tests/test_fairness.py requires <= 0.1 everywhere). Run it under
each torch of the supported range; the README's margin table comes from this script.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_fairness import CORRECT  # noqa: E402

from grader import environment  # noqa: E402
from grader.judge.engine import Options, grade  # noqa: E402


def study(seeds: list[int]) -> dict[str, tuple[float, str]]:
    """check -> (largest error ratio, which submission and mode showed it)."""
    worst: dict[str, tuple[float, str]] = {}
    for name, folder, _ in CORRECT:
        runs = [(f"seed {s}", Options(hidden=True, seed=s)) for s in seeds]
        runs.append(("fixtures", Options(use_solutions=False, hidden=False)))
        for label, options in runs:
            for r in grade(folder, options).results:
                if r.error_ratio is None:
                    continue
                key = f"{r.exercise}/{r.check}"
                if r.error_ratio >= worst.get(key, (-1.0, ""))[0]:
                    worst[key] = (r.error_ratio, f"{name}, {label}")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", type=Path, help="also write the table as JSON")
    args = parser.parse_args()
    worst = study(args.seeds)
    print(environment.one_line())
    for key, (ratio, where) in sorted(worst.items(), key=lambda kv: -kv[1][0]):
        print(f"{ratio:8.4f}  {key:55s} {where}")
    if args.json:
        data = {"environment": environment.describe(), "worst": worst}
        args.json.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
