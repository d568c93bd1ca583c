"""attention-grade batch: grade a class's submissions in parallel, and pick up where it stopped.

    attention-grade batch SUBMISSIONS --out DIR [--jobs N] [--force] [--seed N]

SUBMISSIONS is a folder with one entry per submission, a folder or a .zip (or one .py or
.ipynb file holding every exercise); its name, minus the extension, is the submission's id.
Within a folder or zip the grader finds the four modules at the top or in a subfolder (see
`grader.judge.submission`). Two exports fit as they are, once unzipped:

- Gradescope's "Export Submissions": `submission_metadata.yml` (which maps each submission
  id to its students) and one folder per submission, `submission_<id>/`, holding the files
  the student uploaded. The export's own top folder (`assignment_<id>_export/`) may be given
  or the folder that holds it.
- an LMS export with one zip (or folder) per student: `alice_hw3.zip`, `bob_12345.zip`, ...
  (Canvas-style flat files such as `alice_123_simple_attention.py` are not grouped.)

DIR receives:
- `grades.csv`: one row per submission: id, total, max, the points of every exercise, and
  an error note for a submission that could not be graded;
- `<id>/results.json` (Gradescope's format) and `<id>/grading.json` (the full report), where
  `<id>` is the id itself when it is a short plain name (letters, digits, `._-`), and
  otherwise, or when it could be taken for one of DIR's own files, the id made safe and
  short plus a hash of the whole id (`folder_name`): a submission's name never breaks the
  batch and no two submissions share a folder; grades.csv and grading.json keep the id;
- `report.html`, `summary.md` and `summary.json`: the class at a glance
  (`grader.report.class_report`): the scores, each exercise's attempts, mean and most common
  mistake, the students to help, the failures no known mistake explains, the submissions
  that could not be graded, and what graded (seed, isolation, environment).

Each submission is graded by its own judge (a process of a pool: `--jobs`) and its own
sandboxed workers; a submission that crashes, hangs or attacks costs only itself: its calls
time out, and a judge process that dies is replaced and the submission retried. Results are
written by the judge after the submission's workers are dead, to DIR, which no worker sees.
A re-run skips the submissions that have a results.json (`--force` grades them again) and
keeps the first run's seed, so every student of a class faces the same hidden inputs.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import multiprocessing
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from grader import checks, paths
from grader.errors import SandboxError, SubmissionError
from grader.judge.engine import Options, grade
from grader.judge.variants import load_catalogue
from grader.report import gradescope_results
from grader.report.class_report import summarize, summary_html, summary_markdown
from grader.report.sanitize import clean, json_safe
from grader.worker import sandbox

GRADESCOPE_METADATA = "submission_metadata.yml"
SUBMISSION_FILES = (".zip", ".py", ".ipynb")  # besides folders; .py and .ipynb hold all exercises
ATTEMPTS = 3  # a submission whose judge process dies is tried this many times
OUTPUTS = ("grades.", "summary.", "report.")  # DIR's own files; no submission folder may
PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
HASHED = re.compile(r".*-[0-9a-f]{12}")  # what folder_name appends to every other id


@dataclass(frozen=True)
class Entry:
    id: str
    path: Path


def discover(root: Path) -> list[Entry]:
    """The submissions in `root`: its folders and .zip (.py, .ipynb) files, by name."""
    if not root.is_dir():
        raise SubmissionError(f"{root} is not a folder of submissions")
    children = [c for c in root.iterdir() if not c.name.startswith((".", "__MACOSX"))]
    if len(children) == 1 and (children[0] / GRADESCOPE_METADATA).is_file():
        return discover(children[0])  # the top folder of a Gradescope export
    entries = {}
    for child in sorted(children):
        if child.is_dir():
            entries.setdefault(child.name, Entry(child.name, child))
        elif child.suffix.lower() in SUBMISSION_FILES:
            key = child.stem if child.stem not in entries else child.name
            entries[key] = Entry(key, child)
    return sorted(entries.values(), key=lambda e: e.id)


def folder_name(submission_id: str) -> str:
    """The folder of a submission in DIR: its id when that is a short plain name, otherwise
    the id made safe and short plus a hash of the whole id. Plain names never end as hashed
    ones do, so two submissions never share a folder, and none is named like DIR's files."""
    plain = PLAIN_ID.fullmatch(submission_id) and not HASHED.fullmatch(submission_id)
    if plain and not submission_id.casefold().startswith(OUTPUTS):
        return submission_id
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", submission_id).lstrip("._-")[:60]
    digest = hashlib.sha256(submission_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{stem}-{digest}" if stem else digest


# -- one submission, in a judge process of the pool ------------------------------------------


def _start_judge(scratch: str) -> None:
    import torch

    torch.set_num_threads(1)  # the jobs share the machine's cores
    paths.use_scratch(scratch)


def grade_one(entry: Entry, out: Path, options: Options) -> dict:
    """Grade one submission and write its files; return its record (also in grading.json).

    A submission that cannot be read gets a results.json with 0 points and the reason; a
    failure of the kit itself writes nothing, so that the next run tries again."""
    folder = out / folder_name(entry.id)
    record: dict = {"id": entry.id, "source": str(entry.path), "error": "", "report": None}
    _started(out, entry).touch()  # for grade_all: this submission was being graded
    try:
        report = grade(entry.path, options)
    except SubmissionError as e:
        record.update(error=f"unreadable submission: {e}", score=0)
        results = gradescope_results.unreadable_json(str(e))
    except Exception as e:  # the kit, not the learner: leave no results.json
        record["error"] = f"grading failed: {type(e).__name__}: {e}"
        return record
    else:
        record["report"] = report.to_dict()
        results = gradescope_results.results_json(report)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "grading.json").write_text(json.dumps(json_safe(record), indent=1) + "\n")
    (folder / "results.json").write_text(
        json.dumps(json_safe(results), indent=2) + "\n"
    )  # last: "done"
    return record


# -- the class ------------------------------------------------------------------------------


def _load(out: Path, entry: Entry) -> dict | None:
    """The record of an earlier run, if that run finished this submission."""
    folder = out / folder_name(entry.id)
    if not (folder / "results.json").is_file() or not (folder / "grading.json").is_file():
        return None
    try:
        record = json.loads((folder / "grading.json").read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("id") == entry.id else None


def _started(out: Path, entry: Entry) -> Path:
    return out / f".{folder_name(entry.id)}.started"


def _grade_in_pool(entries: list[Entry], out: Path, options: Options, jobs: int, done) -> list:
    """Grade `entries` in one pool of `jobs` judge processes, `done(record)` as each finishes;
    return the entries whose judge process died (or that were waiting when one died)."""
    broken = []
    context = multiprocessing.get_context("spawn")  # no fork of a process that has threads
    # the judges' temporary folders, removed with the pool even where a judge was killed;
    # open for search (not listing) to the workers' own users, whose homes lie inside
    scratch = tempfile.mkdtemp(prefix="attention-batch-")
    os.chmod(scratch, 0o711)
    try:
        with ProcessPoolExecutor(
            jobs, mp_context=context, initializer=_start_judge, initargs=(scratch,)
        ) as pool:
            running = {pool.submit(grade_one, e, out, options): e for e in entries}
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    entry = running.pop(future)
                    try:
                        record = future.result()
                    except BrokenProcessPool:
                        broken.append(entry)
                        continue
                    except Exception as e:  # outside grade(): still this submission's alone
                        error = f"grading failed: {e!r}"
                        record = {"id": entry.id, "error": error, "report": None}
                    done(record)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return broken


def grade_all(entries: list[Entry], out: Path, options: Options, jobs: int, done) -> None:
    """Grade `entries` in `jobs` judge processes; `done(record)` as each one finishes.

    A judge process that dies breaks its whole pool: every submission not yet finished fails
    with it, though only one was the cause. Those that had not started go back in the queue;
    those that had are each graded again alone, where a death is their own, up to ATTEMPTS
    times before they are reported."""
    out.mkdir(parents=True, exist_ok=True)
    todo = list(entries)
    while todo:
        for entry in todo:
            _started(out, entry).unlink(missing_ok=True)
        broken = _grade_in_pool(todo, out, options, jobs, done)
        started = [e for e in broken if _started(out, e).exists()] or broken  # never stall
        todo = [e for e in broken if e not in started]
        for entry in started:
            for _ in range(ATTEMPTS):
                if not _grade_in_pool([entry], out, options, 1, done):
                    break
            else:
                done(
                    {
                        "id": entry.id,
                        "error": "grading failed: the judge process died, "
                        f"{ATTEMPTS} times, while grading this submission",
                        "report": None,
                    }
                )
    for entry in entries:
        _started(out, entry).unlink(missing_ok=True)


# A cell that starts with one of these is a formula to a spreadsheet (CSV injection): such
# text from a submission (its id, an error message) is written with a leading apostrophe,
# which spreadsheets show as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def row(record: dict, exercises: list[str]) -> dict:
    report = record.get("report") or {}
    points: Counter = Counter()
    for r in report.get("results", []):
        points[r["exercise"]] += r["points"]
    total = report.get("score", record.get("score"))
    return {
        "id": spreadsheet_text(clean(record["id"], one_line=True)),
        "total": "" if total is None else f"{total:g}",
        "max": report.get("max_score", ""),
        **{name: f"{points[name]:g}" if name in points else "" for name in exercises},
        "error": spreadsheet_text(clean(record.get("error", ""), one_line=True)),
    }


def write_grades(records: list[dict], path: Path) -> None:
    exercises = [e.name for e in checks.EXERCISES]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["id", "total", "max", *exercises, "error"])
        writer.writeheader()
        for record in sorted(records, key=lambda r: r["id"]):
            writer.writerow(row(record, exercises))


def mistake_titles() -> dict[tuple[str, str], str]:
    """(exercise, diagnosis id) -> the mistake's title, from the catalogue of known mistakes
    (solutions/mistakes.py), under its own id and the ids a judge names it by; empty where
    the kit has no solutions (the summary then words a mistake by its feedback line)."""
    titles: dict[tuple[str, str], str] = {}
    for mistake in load_catalogue():
        for name in (mistake.id, *mistake.names):
            titles.setdefault((mistake.exercise, name), mistake.title)
    return titles


def write_summaries(records: list[dict], settings: dict, out: Path) -> None:
    """summary.json, summary.md and report.html: the class at a glance."""
    summary = json_safe(summarize(records, settings, mistake_titles()))
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "summary.md").write_text(summary_markdown(summary), encoding="utf-8")
    (out / "report.html").write_text(summary_html(summary), encoding="utf-8")


# -- the command ----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    from grader.cli import add_budget_argument, add_isolation_argument

    p = argparse.ArgumentParser(
        prog="attention-grade batch",
        description="Grade every submission in a folder (folders, .zip, .py or .ipynb files, "
        "e.g. an unzipped Gradescope export) in parallel; write grades.csv, a results.json "
        "per submission and a class summary to --out. A re-run skips finished submissions.",
    )
    p.add_argument(
        "submissions", type=Path, help="folder holding one folder or file per submission"
    )
    p.add_argument("--out", type=Path, required=True, help="folder for the results")
    p.add_argument(
        "--jobs",
        type=int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help="submissions graded at once (default: half the cores)",
    )
    p.add_argument(
        "--force", action="store_true", help="grade again the submissions already graded"
    )
    p.add_argument(
        "--seed", type=int, help="seed of the hidden checks (default: the first run's, else drawn)"
    )
    p.add_argument("--only", metavar="NAME", help="grade one exercise (a function or class name)")
    p.add_argument("--no-hidden", action="store_true", help="skip the hidden checks")
    p.add_argument(
        "--fixtures", action="store_true", help="compare with the fixtures; implies --no-hidden"
    )
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per call (default 20)")
    add_budget_argument(p)
    add_isolation_argument(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def _settings(args: argparse.Namespace, out: Path) -> tuple[Options, dict]:
    seed = args.seed if args.seed is not None else _earlier_seed(out / "summary.json")
    if seed is None:
        seed = secrets.randbits(31)
    level = sandbox.choose(args.isolation)  # once, so that every submission gets the same
    if args.only:
        checks.find(args.only)  # KeyError for an unknown exercise
    options = Options(
        only=args.only,
        hidden=False if (args.no_hidden or args.fixtures) else None,
        use_solutions=False if args.fixtures else None,
        seed=seed,
        timeout=args.timeout,
        budget=args.budget or None,
        sandbox_mode="sandbox" if level == "bubblewrap" else "subprocess",
    )
    isolation = sandbox.label(level, options.limits, args.isolation)
    return options, {"seed": seed, "isolation": isolation, "jobs": args.jobs}


def _earlier_seed(path: Path) -> int | None:
    """The seed an earlier run of this batch recorded, if it did."""
    try:
        seed = json.loads(path.read_text()).get("seed")
    except (OSError, ValueError, AttributeError):  # no summary (yet), or not one of ours
        return None
    return seed if isinstance(seed, int) else None


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    err = Console(stderr=True)
    try:
        entries = discover(args.submissions)
        options, settings = _settings(args, args.out)
    except (SubmissionError, SandboxError, KeyError) as e:
        err.print(f"attention-grade batch: {e.args[0]}", markup=False)
        return 2
    if args.jobs < 1:
        err.print("attention-grade batch: --jobs must be at least 1")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    earlier = {} if args.force else {e.id: _load(args.out, e) for e in entries}
    records = [r for r in earlier.values() if r is not None]
    todo = [e for e in entries if earlier.get(e.id) is None]
    err.print(
        f"{len(entries)} submissions: {len(records)} already graded, {len(todo)} to grade "
        f"with {args.jobs} jobs; {settings['isolation']}",
        markup=False,
        highlight=False,
    )
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=args.quiet,
    )
    start = time.monotonic()
    try:
        with progress:
            task = progress.add_task("grading", total=len(todo))

            def done(record: dict) -> None:
                records.append(record)
                name = escape(clean(record["id"], one_line=True)[:80])
                progress.update(task, advance=1, description=f"graded {name}")

            grade_all(todo, args.out, options, args.jobs, done)
    except KeyboardInterrupt:
        err.print("interrupted: run the same command again to resume")
        return 130
    finally:
        write_grades(records, args.out / "grades.csv")
        write_summaries(
            records, settings | {"seconds": round(time.monotonic() - start, 1)}, args.out
        )
    errors = [r for r in records if r.get("error")]
    err.print(
        f"wrote {args.out / 'grades.csv'}, {args.out / 'summary.md'} and {args.out / 'report.html'}"
        + (f"; {len(errors)} could not be graded" if errors else ""),
        markup=False,
        highlight=False,
    )
    return 0
