"""The class at a glance (summary.json, summary.md, report.html): stubs are not attempted,
mistakes are named in words, cascades and unexplained failures are told apart, and no
learner text becomes markup."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest
from conftest import copy_solutions

from grader import paths
from grader.batch import folder_name, main
from grader.report.class_report import summarize, summary_html, summary_markdown
from grader.report.results import ERROR, FAILED, NOT_ATTEMPTED, PASSED, CheckResult, Report

HOSTILE = "<script>alert(1)</script>\x1b[2J\x1b]0;owned\x07dave"
SETTINGS = {"seed": 7, "isolation": "subprocess", "jobs": 1, "seconds": 1.0}
DIAGONAL = "the mask also hides the diagonal"
TITLES = {("causal_mask", "causal_mask.diagonal"): DIAGONAL}
WRONG_DIM = "the softmax normalises over the wrong dimension (softmax over dim=-1)"
UPSTREAM = (
    "causal_mask fails its own checks, and masked_attention_weights runs it: fix causal_mask first"
)
# The elements report.html is made of: any other tag would be learner text become markup.
TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "div", "b", "span"}
TAGS |= {"i", "table", "thead", "tbody", "tr", "th", "td", "code", "ul", "li"}


def check(exercise: str, name: str, status: str = PASSED, **fields) -> CheckResult:
    """A 1-point check's result."""
    points = 1 if status == PASSED else 0
    return CheckResult(exercise, name, name, status, points, 1, **fields)


def submission(sid: str, failures: dict | None = None, status: str = PASSED) -> dict:
    """The record of a graded submission (as grader.batch writes it) with three exercises of
    two checks each, all with `status` but those in `failures` ((exercise, check) -> result)."""
    results = [
        (failures or {}).get((exercise, name)) or check(exercise, name, status)
        for exercise in ("softmax_naive", "causal_mask", "masked_attention_weights")
        for name in ("values", "shape")
    ]
    report = Report(sid, results, hidden_checks=True)
    return {"id": sid, "source": f"class/{sid}", "error": "", "report": report.to_dict()}


def raised(message: str) -> CheckResult:
    return check("softmax_naive", "values", ERROR, problem=f"raised ValueError: {message}")


@pytest.fixture(scope="module")
def summary() -> dict:
    carol = {
        ("causal_mask", "values"): check(
            "causal_mask",
            "values",
            FAILED,
            problem="6 of 36 values differ",
            diagnosis="causal_mask.diagonal",
        ),
        ("masked_attention_weights", "values"): check(
            "masked_attention_weights",
            "values",
            FAILED,
            problem="26 of 36 values differ",
            diagnosis="masked_attention_weights.mask_diagonal",
            upstream=UPSTREAM,
        ),
    }
    grace = {
        ("softmax_naive", "shape"): check(
            "softmax_naive", "shape", FAILED, diagnosis="softmax_naive.dim", likely=WRONG_DIM
        )
    }
    records = [
        submission("alice"),
        submission("bob", status=NOT_ATTEMPTED),  # the stubs, untouched
        submission("carol", carol),
        # the same unexplained failure, with other numbers and learner markup
        submission(HOSTILE, {("softmax_naive", "values"): raised("\x1b[31m<b>boom</b> 1.5\nat")}),
        submission("erin", {("softmax_naive", "values"): raised("\x1b[31m<b>boom</b> 2.25\nat")}),
        {
            "id": "frank",
            "source": "class/frank.zip",
            "error": "unreadable: <i>no</i>",
            "report": None,
            "score": 0,
        },
        submission("grace", grace),
    ]
    return json.loads(json.dumps(summarize(records, SETTINGS, TITLES)))  # as summary.json


def test_untouched_stubs_are_not_attempted_never_failed(summary):
    rows = {row["name"]: row for row in summary["exercises"]}
    assert summary["submissions"] == 7 and summary["graded"] == 6
    assert [(r["graded"], r["attempted"]) for r in rows.values()] == [(6, 5)] * 3
    assert rows["softmax_naive"]["mean_points"] == round(7 / 5, 2)  # bob's zeros left out
    assert rows["causal_mask"]["mean_points"] == 1.8
    assert summary["pass_rate"]["causal_mask: values"] == 0.8
    assert summary["pass_rate"]["masked_attention_weights: shape"] == 1.0
    assert all("bob" not in g["submissions"] for g in summary["undiagnosed"])
    bob = summary["to_help"][0]
    assert (bob["id"], bob["attempted"], bob["exercises"]) == ("bob", 0, 3)
    assert bob["mistakes"] == bob["cascades"] == bob["undiagnosed"] == []


def test_mistakes_are_named_in_words_and_cascades_kept_apart(summary):
    rows = {row["name"]: row for row in summary["exercises"]}
    assert rows["causal_mask"]["top_mistake"] == {
        "id": "causal_mask.diagonal",
        "title": DIAGONAL,
        "submissions": 1,
    }
    # carol's masked_attention_weights fails through causal_mask: a cascade, not its mistake
    assert rows["masked_attention_weights"]["top_mistake"] is None
    assert rows["masked_attention_weights"]["cascades"] == 1
    assert rows["masked_attention_weights"]["unexplained"] == 0
    assert rows["softmax_naive"]["top_mistake"]["title"] == WRONG_DIM  # no title: its likely line
    help_rows = {row["id"]: row for row in summary["to_help"]}
    assert help_rows["carol"]["mistakes"] == [{"exercise": "causal_mask", "title": DIAGONAL}]
    assert help_rows["carol"]["cascades"] == [
        {"exercise": "masked_attention_weights", "because": ["causal_mask"]}
    ]
    assert {m["id"] for m in summary["mistakes"]} == {"causal_mask.diagonal", "softmax_naive.dim"}


def test_students_to_help_and_the_histogram(summary):
    assert [row["id"] for row in summary["to_help"]] == ["bob", "carol", HOSTILE, "erin", "grace"]
    assert summary["to_help"][1]["score"] == 4 and summary["to_help"][1]["max_score"] == 6
    bins = {b["scores"]: b["submissions"] for b in summary["histogram"]}
    assert len(bins) == 11 and sum(bins.values()) == 6
    assert (bins["0–9%"], bins["60–69%"], bins["80–89%"], bins["100%"]) == (1, 1, 3, 1)
    assert (summary["mean_score"], summary["median_score"], summary["max_score"]) == (4.17, 5, 6)


def test_unexplained_failures_are_grouped_by_message_whatever_the_numbers(summary):
    (group,) = summary["undiagnosed"]
    assert group["exercise"] == "softmax_naive"
    assert group["submissions"] == [HOSTILE, "erin"]
    assert group["message"] == "raised ValueError: <b>boom</b> 1.5"  # cleaned, first line
    assert summary["to_help"][2]["undiagnosed"] == ["softmax_naive"]
    assert {r["name"]: r["unexplained"] for r in summary["exercises"]}["softmax_naive"] == 2
    assert summary["errors"] == [{"id": "frank", "error": "unreadable: <i>no</i>"}]


def test_the_markdown_is_short_and_escapes_learner_text(summary):
    md = summary_markdown(summary)
    assert md.count("\n| ") == 4  # the header and one row per exercise
    assert f"| causal_mask | 5 of 6 | 1.8 / 2 | {DIAGONAL} (1) | – |" in md
    assert "| masked_attention_weights | 5 of 6 | 1.8 / 2 | – | 1 cascade |" in md
    assert "| softmax_naive | 5 of 6 | 1.4 / 2 | " in md and " | 2 unexplained |" in md
    assert "- **bob**: 0 / 6, attempted 0 of 3 exercises" in md
    assert "masked_attention_weights fails because causal_mask does" in md
    assert "softmax_naive, 2 submissions: raised ValueError: \\<b\\>boom\\</b\\> 1.5" in md
    assert "\\<script\\>alert(1)\\</script\\>dave" in md
    assert not re.search(r"(?<!\\)[<>\[\]]", md)  # no tag nor link the learner wrote
    assert "\x1b" not in md and "\x07" not in md and "owned" not in md


def test_the_page_escapes_learner_text_and_stands_alone(summary):
    page = summary_html(summary)
    assert set(re.findall(r"<([a-zA-Z0-9]+)", page)) <= TAGS
    assert "&lt;script&gt;alert(1)&lt;/script&gt;dave" in page
    assert "&lt;b&gt;boom&lt;/b&gt; 1.5" in page and "&lt;i&gt;no&lt;/i&gt;" in page
    assert "\x1b" not in page and "\x07" not in page and "owned" not in page
    assert "http" not in page.replace('http-equiv="Content-Security-Policy"', "")
    cascade = "<code>masked_attention_weights</code> fails because <code>causal_mask</code> does"
    assert DIAGONAL in page and cascade in page
    assert summary["environment"]["torch"] in page


def test_no_submission_folder_is_named_like_the_page():
    assert folder_name("report.html") != "report.html"
    assert folder_name("Report.HTML") != "Report.HTML"


def test_a_resumed_batch_graded_in_two_environments_says_so():
    older = submission("alice")
    older["report"]["environment"] = {**older["report"]["environment"], "torch": "2.1.2"}
    summary = summarize([older, submission("bob")], SETTINGS)
    assert sorted(e["submissions"] for e in summary["graded_with"]) == [1, 1]
    assert "torch 2.1.2" in summary_html(summary)


def test_an_empty_class_still_has_a_report():
    empty = summarize([], SETTINGS)
    assert empty["exercises"] == empty["to_help"] == empty["undiagnosed"] == []
    assert "No submission was graded." in summary_html(empty)
    assert "Every graded submission has full marks." in summary_markdown(empty)


# -- in a browser -----------------------------------------------------------------------------


def distinct_bytes(png: bytes) -> int:
    """How many byte values the PNG's decompressed image data holds (2 or so when blank)."""
    data, at = b"", 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        if png[at + 4 : at + 8] == b"IDAT":
            data += png[at + 8 : at + 8 + length]
        at += 12 + length
    return len(set(zlib.decompress(data)))


def chromium(page: Path, *flags: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp()
    try:
        return subprocess.run(
            [
                shutil.which("chromium"),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--window-size=1200,1600",
                *flags,
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.slow
def test_the_page_renders_in_a_browser(summary, tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("no chromium here")
    page = tmp_path / "report.html"
    page.write_text(summary_html(summary), encoding="utf-8")
    dom = chromium(page, "--dump-dom").stdout
    assert dom.count("<tr>") == 1 + 3 + 1 + 5 + 1 + 1 + 1 + 1 + 10  # headers, rows, settings
    assert "<script" not in dom and "&lt;script&gt;alert(1)" in dom
    shot = tmp_path / "report.png"
    chromium(page, f"--screenshot={shot}")
    assert shot.read_bytes().startswith(b"\x89PNG") and distinct_bytes(shot.read_bytes()) > 50


# -- a class graded --------------------------------------------------------------------------


@pytest.mark.slow
def test_a_graded_class_gets_its_report(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    copy_solutions(folder / "alice")
    shutil.copytree(paths.EXERCISES, folder / "bob")  # the stubs as handed out
    dim_ignored = [("exp_x.sum(dim=dim, keepdim=True)", "exp_x.sum(dim=-1, keepdim=True)")]
    copy_solutions(folder / "<i>carol\x1b[31m", {"softmax_naive": dim_ignored})
    out = tmp_path / "out"
    argv = [str(folder), "--out", str(out), "--jobs", "2", "--only", "softmax_naive", "-q"]
    assert main([*argv, "--no-hidden", "--timeout", "5"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    (row,) = summary["exercises"]
    assert (row["graded"], row["attempted"], row["max_points"]) == (3, 2, 4)
    assert row["top_mistake"]["title"] == "the `dim` argument is ignored"
    assert [r["id"] for r in summary["to_help"]] == ["bob", "<i>carol\x1b[31m"]
    page = (out / "report.html").read_text()
    assert "the `dim` argument is ignored" in page and "&lt;i&gt;carol" in page
    assert "| softmax_naive | 2 of 3 |" in (out / "summary.md").read_text()
