"""attention-grade batch: a class graded in parallel; one bad submission never stops the batch
or changes another's score; a re-run resumes."""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import zipfile

import pytest
from conftest import copy_solutions
from hostile import DAEMONS, assert_nothing_left, in_softmax_naive, marker

from grader import paths
from grader.batch import _settings, discover, main, parser, spreadsheet_text, write_grades
from grader.worker import sandbox

NO_BWRAP = sandbox.bubblewrap_problem()
ONE = ["--only", "softmax_naive", "--timeout", "3", "-q"]  # 4 public points + 1 hidden


def zip_folder(folder, archive, inside=""):
    with zipfile.ZipFile(archive, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f"{inside}{f.name}")


def rows(out):
    with (out / "grades.csv").open() as f:
        return {row["id"]: row for row in csv.DictReader(f)}


@pytest.fixture
def klass(tmp_path):
    """A class: a right answer, a stub zip, a hang, an attacker and a broken zip."""
    folder = tmp_path / "class"
    folder.mkdir()
    copy_solutions(folder / "alice")
    zip_folder(paths.EXERCISES, folder / "bob.zip", inside="bob_hw3/")
    copy_solutions(folder / "carol", in_softmax_naive("    while True:\n        pass\n", ""))
    mark = marker()
    out = tmp_path / "out"
    forge = (  # the attacker also tries to overwrite the class's results
        f"    for p in [{str(out / 'alice' / 'results.json')!r}, {str(out / 'grades.csv')!r}]:\n"
        "        try:\n            open(p, 'w').write('{\"score\": 0}')\n"
        "        except OSError:\n            pass\n"
    )
    copy_solutions(folder / "dave", in_softmax_naive(DAEMONS + forge, mark))
    (folder / "erin.zip").write_bytes(b"not a zip")
    (folder / "notes.txt").write_text("not a submission")
    return folder, out, mark


@pytest.mark.slow
def test_a_class_is_graded_in_parallel_and_one_bad_submission_changes_nothing(klass):
    folder, out, mark = klass
    assert main([str(folder), "--out", str(out), "--jobs", "2", *ONE]) == 0
    grades = rows(out)
    assert sorted(grades) == ["alice", "bob", "carol", "dave", "erin"]
    assert grades["alice"]["total"] == grades["alice"]["max"] == grades["dave"]["total"] == "5"
    assert grades["alice"]["softmax_naive"] == "5" and grades["alice"]["softmax_stable"] == ""
    assert grades["bob"]["total"] == grades["carol"]["total"] == "0"
    assert grades["erin"]["total"] == "0" and "unreadable" in grades["erin"]["error"]
    alice = json.loads((out / "alice" / "results.json").read_text())
    assert alice["score"] == 5 and all(t["status"] == "passed" for t in alice["tests"])
    assert {t["visibility"] for t in alice["tests"]} == {"visible", "after_published"}
    carol = json.loads((out / "carol" / "grading.json").read_text())["report"]["results"]
    assert {r["status"] for r in carol} == {"timeout"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["submissions"] == 5 and summary["graded"] == 4
    assert summary["pass_rate"]["softmax_naive: respects dim"] == 0.667  # bob's stub not counted
    assert [e["id"] for e in summary["errors"]] == ["erin"]
    assert summary["isolation"].startswith("bubblewrap" if not NO_BWRAP else "subprocess")
    assert "| softmax_naive | 3 of 4 |" in (out / "summary.md").read_text()
    assert "carol" in (out / "report.html").read_text()
    assert_nothing_left(mark)


@pytest.mark.slow
def test_a_rerun_resumes_and_keeps_the_seed(tmp_path, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    copy_solutions(folder / "alice")
    out = tmp_path / "out"
    assert main([str(folder), "--out", str(out), *ONE]) == 0
    first = json.loads((out / "summary.json").read_text())
    results = out / "alice" / "results.json"
    stamp = results.stat().st_mtime_ns
    copy_solutions(folder / "bob", in_softmax_naive("", "", "    return x\n"))
    assert main([str(folder), "--out", str(out), *ONE]) == 0
    assert "1 already graded, 1 to grade" in capsys.readouterr().err
    assert results.stat().st_mtime_ns == stamp
    assert rows(out)["alice"]["total"] == "5" and rows(out)["bob"]["total"] == "1"
    assert json.loads((out / "summary.json").read_text())["seed"] == first["seed"]
    shutil.rmtree(folder / "bob")
    assert main([str(folder), "--out", str(out), "--force", *ONE]) == 0
    assert results.stat().st_mtime_ns != stamp


@pytest.mark.slow
def test_a_submission_that_kills_its_judge_costs_only_itself(tmp_path, monkeypatch):
    # Without the sandbox, learner code can signal its judge process (same user), which breaks
    # the pool and every submission still in it: those are graded again; the culprit is
    # retried alone, then reported, and no one else is charged for its deaths.
    folder = tmp_path / "class"
    folder.mkdir()
    innocents = ("alice", "bob", "carol", "dave", "erin")
    for name in innocents:
        copy_solutions(folder / name)
    kill = "    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n"
    copy_solutions(folder / "mallory", in_softmax_naive(kill, ""))
    out = tmp_path / "out"
    temporary = tmp_path / "tmp"  # the batch's temporary folders, and those of its judges
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))  # (the judges are new processes)
    monkeypatch.setattr(tempfile, "tempdir", None)
    argv = [str(folder), "--out", str(out), "--jobs", "2", "--isolation", "subprocess", *ONE]
    assert main(argv) == 0
    grades = rows(out)
    for name in innocents:
        assert grades[name]["total"] == "5" and not grades[name]["error"], grades[name]
    assert not list(out.glob(".*.started"))
    assert "judge process died" in grades["mallory"]["error"]
    assert not (out / "mallory" / "results.json").exists()
    # a killed judge's copy of its submission and its workers' homes went with the batch
    assert list(temporary.glob("attention-*")) == []


def test_exports_are_discovered(tmp_path):
    export = tmp_path / "assignment_42_export"
    export.mkdir()
    (export / "submission_metadata.yml").write_text("submission_1:\n  :submitters: []\n")
    for sid in ("submission_1", "submission_2"):
        copy_solutions(export / sid / "hw3")  # the modules may sit in a subfolder
    (export / ".DS_Store").write_text("")
    assert [e.id for e in discover(tmp_path)] == ["submission_1", "submission_2"]
    assert [e.id for e in discover(export)] == ["submission_1", "submission_2"]
    lms = tmp_path / "lms"
    lms.mkdir()
    zip_folder(paths.SOLUTIONS, lms / "alice_123.zip")
    (lms / "alice_123").mkdir()  # an unpacked copy next to its zip keeps both, by full name
    (lms / "readme.txt").write_text("")
    (lms / "bob_456.ipynb").write_text("{}")  # one file holding every exercise
    assert [e.id for e in discover(lms)] == ["alice_123", "alice_123.zip", "bob_456"]


def test_unknown_exercise_or_folder_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert main([str(tmp_path), "--out", str(tmp_path / "out"), "--only", "nope"]) == 2
    assert "no exercise named 'nope'" in capsys.readouterr().err


def test_grades_csv_neutralises_formulas_from_submissions(tmp_path):
    record = {"id": '=HYPERLINK("http://x")', "error": "+1 crashed", "report": None}
    write_grades([record, {"id": "bob", "score": 0}], tmp_path / "grades.csv")
    got = rows(tmp_path)
    assert set(got) == {'\'=HYPERLINK("http://x")', "bob"}
    assert got['\'=HYPERLINK("http://x")']["error"] == "'+1 crashed"
    assert [spreadsheet_text(t) for t in ("-2", "@a", "a=b", "")] == ["'-2", "'@a", "a=b", ""]


def test_the_budget_option_reaches_each_grading(tmp_path):
    args = parser().parse_args([str(tmp_path), "--out", str(tmp_path / "out"), "--budget", "42"])
    options, _ = _settings(args, tmp_path / "out")
    assert options.budget == 42
    args = parser().parse_args([str(tmp_path), "--out", str(tmp_path / "out"), "--budget", "0"])
    assert _settings(args, tmp_path / "out")[0].budget is None
