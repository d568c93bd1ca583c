"""`pytest --pyargs grader --submission PATH` gives the CLI's verdicts, one test per check."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from grader.judge.engine import Options, grade

NAIVE_BODY = "    exp_x = torch.exp(x)\n    return exp_x / exp_x.sum(dim=dim, keepdim=True)"


def run_pytest(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "grader", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


@pytest.mark.slow
def test_same_verdicts_as_the_engine(submission, tmp_path):
    sub = submission(
        {
            "simple_attention": [(NAIVE_BODY, "    return torch.exp(x) / torch.exp(x).sum()")],
            "causal_attention": [("        attn_weights = self.dropout(attn_weights)\n", "")],
        }
    )
    junit = tmp_path / "junit.xml"
    done = run_pytest(
        "--submission",
        str(sub),
        "--grader-seed",
        "7",
        f"--junitxml={junit}",
        "-k",
        "softmax_naive or CausalAttention",
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stdout[-2000:]
    failed_in_pytest = {
        case.get("name").split("[", 1)[1][:-1]
        for case in ET.parse(junit).getroot().iter("testcase")
        if case.find("failure") is not None
    }
    ids = set()
    for exercise in ("softmax_naive", "CausalAttention"):
        report = grade(sub, Options(only=exercise, seed=7))
        ids |= {
            f"{r.exercise}::{r.check}" + ("::hidden" if r.hidden else "")
            for r in report.results
            if r.counts and not r.passed
        }
    assert failed_in_pytest == ids
    assert "CausalAttention::dropout" in ids


@pytest.mark.slow
def test_reference_passes_and_k_selects_one_exercise(tmp_path):
    from grader import paths

    done = run_pytest(
        "--submission", str(paths.SOLUTIONS), "-k", "softmax_stable", "-q", cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "9 passed" in done.stdout
