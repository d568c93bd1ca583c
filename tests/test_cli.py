"""attention-grade: exit codes, the table and feedback, Gradescope's results.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from grader import checks, paths
from grader.cli import main

NAIVE_BODY = "    exp_x = torch.exp(x)\n    return exp_x / exp_x.sum(dim=dim, keepdim=True)"


@pytest.mark.slow
def test_reference_passes_with_exit_0_and_writes_results_json(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert main([str(paths.SOLUTIONS), "-q", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    n = len(checks.EXERCISES)
    assert f"{n} of {n} exercises complete" in text
    results = json.loads(out.read_text())
    assert results["score"] == sum(t["score"] for t in results["tests"])
    names = {e.name for e in checks.EXERCISES}
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["name"].split(":")[0] in names
        assert test["status"] == "passed"
    assert {t["visibility"] for t in results["tests"]} == {"visible", "after_published"}


def test_a_wrong_answer_exits_1_with_feedback(submission, capsys):
    sub = submission(
        {"simple_attention": [(NAIVE_BODY, "    return torch.exp(x) / torch.exp(x).sum()")]}
    )
    assert main([str(sub), "-q", "--only", "softmax_naive", "--no-hidden"]) == 1
    text = capsys.readouterr().out
    assert "✗ respects dim  0/1" in text
    assert "tried:" in text and "result:" in text and "hint:" in text
    assert 'look at §3.3.1 "A simple self-attention mechanism without trainable weights"' in text


def test_unreadable_submission_or_unknown_exercise_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing"), "-q"]) == 2
    assert main([str(paths.SOLUTIONS), "--only", "softmax_fancy"]) == 2
    assert "no exercise named 'softmax_fancy'" in capsys.readouterr().err


@pytest.mark.slow
def test_learner_mode_uses_fixtures_and_no_hidden_checks(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert main([str(paths.SOLUTIONS), "-q", "--fixtures", "--json", str(out)]) == 0
    assert "expected values: fixtures" in capsys.readouterr().out
    tests = json.loads(out.read_text())["tests"]
    assert all(t["visibility"] == "visible" for t in tests)


@pytest.mark.slow
def test_console_script_and_module_entry_points():
    for command in (["attention-grade", "--help"], [sys.executable, "-m", "grader", "--help"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "--only NAME" in done.stdout


def test_one_file_submissions_are_graded_by_the_cli(tmp_path, capsys):
    from grader.integrations import single_file

    one = tmp_path / "attention.py"
    one.write_text(single_file.combine(paths.SOLUTIONS))
    assert main([str(one), "-q", "--only", "softmax_stable", "--no-hidden"]) == 0
    assert "1 of 1 exercises complete" in capsys.readouterr().out
    odd = tmp_path / "attention.txt"
    odd.write_text("x = 1\n")
    assert main([str(odd), "-q"]) == 2


@pytest.mark.slow
def test_an_ascii_only_terminal_gets_the_report(tmp_path):
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            str(paths.SOLUTIONS),
            "--only",
            "causal_mask",
            "--no-hidden",
            "-q",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Total: 3/3 points" in done.stdout
