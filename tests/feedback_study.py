"""How well the feedback names broken implementations written in other styles.

    python tests/feedback_study.py

Grades each case of tests/heldout.py (written without seeing the catalogue), of
tests/learner_bugs.py (real learners' mistakes) and of tests/fresh_bugs.py (written after both,
before the catalogue was read again) on its exercise, and counts per set: the cases that lose
points; those whose mistake is named, by a diagnosis (a catalogued mistake, or a judge naming
its own), by a slip read in the source ("in code:"), or by the crash itself (the exception
and the learner's file and line, shown when the exercise raises); those named wrongly (a
diagnosis not listed for them). Prints one line per case and the totals, the figures of the
README's "Naming the mistake".
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import fresh_bugs  # noqa: E402
import heldout  # noqa: E402
from fresh_bugs import crash_shown  # noqa: E402
from heldout import BROKEN, SUBMISSIONS  # noqa: E402
from learner_bugs import LEARNER_BUGS  # noqa: E402
from test_heldout import ACCEPTED, NAMES  # noqa: E402

from grader.judge.engine import Options, grade  # noqa: E402


def _study(title: str, cases: list, names_of, slip_of, source=heldout.mutated_source) -> None:
    lost = named = slipped = crashed = wrong = 0
    with tempfile.TemporaryDirectory() as tmp:
        for broken in cases:
            folder = Path(tmp) / broken.id
            shutil.copytree(SUBMISSIONS / broken.base, folder)
            (folder / f"{broken.module}.py").write_text(source(broken))
            report = grade(folder, Options(only=broken.exercise, hidden=False, speed=False))
            ids = {d for r in report.results for d in r.diagnosis.split(",") if d}
            slips = {r.spotted for r in report.results if r.spotted}
            crash = crash_shown(report, broken.module)
            is_lost = report.score < report.max_score
            misnamed = bool(ids - set(names_of(broken)))
            by_slip = any(slip_of(broken) and slip_of(broken) in text for text in slips)
            lost += is_lost
            named += bool(ids) and not misnamed
            slipped += by_slip and not ids
            crashed += bool(crash) and not ids and not by_slip
            wrong += misnamed
            how = (
                ",".join(sorted(ids))
                or ("slip: " + " | ".join(slips) if slips else "")
                or (f"crash: {crash}" if crash else "-")
            )
            print(f"{broken.id:40s} lost={is_lost!s:5s} {how[:110]}", flush=True)
    print(
        f"\n{title}: {len(cases)} broken cases, {lost} lose points, {named} named by a "
        f"diagnosis, {slipped} more by a slip in the code, {crashed} more by the crash shown "
        f"with its line ({named + slipped + crashed} in all), {wrong} named wrongly\n"
    )


def main() -> None:
    _study(
        "held-out (tests/heldout.py)",
        [b for b in BROKEN if b.id not in ACCEPTED],
        lambda b: NAMES.get(b.id, ()),
        lambda b: "",
    )
    _study("learners' mistakes (tests/learner_bugs.py)", list(LEARNER_BUGS), lambda b: b.names,
           lambda b: b.spotted)  # fmt: skip
    _study("fresh cases (tests/fresh_bugs.py)", list(fresh_bugs.FRESH_BUGS), lambda b: b.names,
           lambda b: b.spotted, fresh_bugs.mutated_source)  # fmt: skip


if __name__ == "__main__":
    main()
