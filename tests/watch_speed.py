"""How long a learner waits with `attention-grade --watch`: from saving a file to the verdict,
measured side by side with `python -c "import torch"` (and a one-off `attention-grade --only`).

    python tests/watch_speed.py [--rounds 7] [--pause 4] [--only softmax_naive | --only all]
                                [--isolation auto] [--no-speed]

It starts `attention-grade COPY --watch --fixtures --only NAME` on a copy of solutions/ (with
`--only all`, no --only: a save then re-grades simple_attention.py's six exercises, the
speed check of attention_scores included unless `--no-speed` is passed on). Each
round then saves simple_attention.py with a mistake in softmax_naive, or with its fix (in
turn), times until the report's "Total:" line, waits `--pause` seconds (the learner reading
and editing; the next spare worker is launched meanwhile) and times `python -c "import
torch"` and the same grading done once, `attention-grade COPY --fixtures -q --only NAME`.
It prints each round and the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import copy_solutions  # noqa: E402
from test_watch import RIGHT, WRONG, Watching, edit  # noqa: E402


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pause", type=float, default=4.0, help="seconds between saves")
    parser.add_argument("--only", default="softmax_naive", help="an exercise, or 'all'")
    parser.add_argument("--isolation", default="auto")
    parser.add_argument("--no-speed", action="store_true", help="passed on to attention-grade")
    args = parser.parse_args()
    only = [] if args.only == "all" else ["--only", args.only]
    with tempfile.TemporaryDirectory() as tmp:
        folder = copy_solutions(Path(tmp) / "submission")
        module = folder / "simple_attention.py"
        common = ["--fixtures", "--isolation", args.isolation, *only]
        common += ["--no-speed"] if args.no_speed else []
        once = [sys.executable, "-m", "grader", str(folder), "-q", *common]
        watching = Watching(folder, *common)
        try:
            watching.until("watching .* for changes", 300)
            saves, imports, onces = [], [], []
            for i in range(args.rounds):
                time.sleep(args.pause)
                imports.append(timed([sys.executable, "-c", "import torch"]))
                onces.append(timed(once))
                time.sleep(args.pause)
                old, new = (RIGHT, WRONG) if i % 2 == 0 else (WRONG, RIGHT)
                start = time.perf_counter()
                edit(module, old, new)
                total = watching.until("Total: ", 120)[-1].strip()
                saves.append(time.perf_counter() - start)
                watching.until("watching .* for changes")
                print(
                    f"round {i + 1}: save to verdict {saves[-1]:.2f} s ({total}); "
                    f"import torch {imports[-1]:.2f} s; one-off grading {onces[-1]:.2f} s",
                    flush=True,
                )
            watching.stop()
        finally:
            watching.kill()
    print(
        f"\nmedians of {args.rounds} rounds ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}):"
    )
    print(f"  --watch, save to verdict:  {statistics.median(saves):.2f} s")
    print(f"  python -c 'import torch':  {statistics.median(imports):.2f} s")
    print(f"  one-off attention-grade:   {statistics.median(onces):.2f} s")


if __name__ == "__main__":
    main()
