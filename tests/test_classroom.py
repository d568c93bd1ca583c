"""GitHub Classroom: the workflow template, and the reporter format of classroom-report."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from grader import paths
from grader.cli import main
from grader.integrations import classroom
from grader.integrations.gradescope import template


def _results(*tests) -> dict:
    return {"score": sum(t["score"] for t in tests), "tests": list(tests)}


def _test(name, score, max_score, status, output=""):
    return {
        "name": name,
        "score": score,
        "max_score": max_score,
        "status": status,
        "output": output,
    }


def test_reporter_result_has_one_test_per_check_with_its_points():
    results = _results(
        _test("softmax_stable: shape", 1, 1, "passed"),
        _test("softmax_stable: values (hidden)", 0, 2, "failed", "tried: ...\nresult: nan"),
    )
    result = classroom.reporter_result(results)
    assert result["version"] == 1 and result["status"] == "fail" and result["max_score"] == 3
    first, second = result["tests"]
    assert (first["name"], first["status"], first["score"], first["message"]) == (
        "softmax_stable: shape",
        "pass",
        1,
        "",
    )
    assert (second["status"], second["score"], second["message"]) == (
        "fail",
        0,
        "tried: ...\nresult: nan",
    )
    assert set(first) == {
        "name",
        "status",
        "score",
        "message",
        "test_code",
        "filename",
        "line_no",
        "duration",
    }
    # what the reporter posts to Classroom: the sum of the scores out of max_score
    assert sum(t["score"] for t in result["tests"]) == results["score"]
    assert classroom.reporter_result(_results(_test("a", 1, 1, "passed")))["status"] == "pass"


def test_classroom_report_prints_a_step_output(tmp_path, capsys):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results(_test("x: y", 2, 2, "passed"))))
    assert main(["classroom-report", str(path)]) == 0
    line = capsys.readouterr().out.strip()
    name, value = line.split("=", 1)
    assert name == "result"
    assert classroom.decode(value)["tests"][0]["score"] == 2
    assert main(["classroom-report", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["max_score"] == 2


def test_a_missing_or_foreign_results_json_is_an_error_worth_nothing(tmp_path):
    missing = classroom.read_results(tmp_path / "results.json")
    assert missing["status"] == "error" and missing["tests"][0]["score"] == 0
    assert missing["max_score"] == classroom.learner_max_score() > 0
    assert "was not written" in missing["tests"][0]["message"]
    (tmp_path / "other.json").write_text('{"tests": [{"score": 1}]}')
    assert classroom.read_results(tmp_path / "other.json")["status"] == "error"


def test_classroom_writes_the_workflow_into_a_checkout(tmp_path, capsys):
    assert main(["classroom", str(tmp_path)]) == 2  # not a learner's copy: no exercises/
    (tmp_path / "exercises").mkdir()
    assert main(["classroom", str(tmp_path)]) == 0
    workflow = tmp_path / ".github" / "workflows" / "classroom.yml"
    assert workflow.read_text() == template("classroom.yml")
    assert main(["classroom", str(tmp_path)]) == 2  # never overwrites silently
    assert "--force" in capsys.readouterr().err
    assert main(["classroom", str(tmp_path), "--force"]) == 0


def test_the_template_wires_the_grading_step_to_the_reporter():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load(template("classroom.yml"))
    assert workflow["name"] == "Autograding Tests"
    (job,) = workflow["jobs"].values()
    steps = {s.get("id") or s["name"]: s for s in job["steps"]}
    assert "attention-grade classroom-report results.json" in steps["attention"]["run"]
    reporter = steps["Autograding Reporter"]
    assert reporter["uses"].startswith("classroom-resources/autograding-grading-reporter@")
    runner = reporter["with"]["runners"]
    assert runner == classroom.RUNNER
    # the reporter reads <RUNNER>_RESULTS, base64 JSON
    assert reporter["env"][f"{runner.upper()}_RESULTS"] == "${{ steps.attention.outputs.result }}"


def _grading_command() -> str:
    """The `run:` script of the workflow step with id `attention`, as GitHub runs it."""
    text = template("classroom.yml")
    block = re.search(r"id: attention\n\s+run: \|\n((?:\s{10}.*\n)+)", text).group(1)
    return "\n".join(line[10:] for line in block.splitlines())


def _checkout(dest, exercises):
    """A learner's repository: the grader, the fixtures, and an exercises/ folder."""
    for part in ("grader", "fixtures"):
        shutil.copytree(
            paths.KIT_ROOT / part, dest / part, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(paths.KIT_ROOT / "pyproject.toml", dest)
    shutil.copytree(exercises, dest / "exercises", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _run_template(repo, tmp_path) -> dict:
    output = tmp_path / "github_output"
    output.write_text("")
    env = {**os.environ, "GITHUB_OUTPUT": str(output), "PYTHONPATH": str(repo)}
    # GitHub runs a step's script with `bash -e`; the kit is the checkout's (PYTHONPATH stands
    # in for the workflow's `pip install -e .`).
    done = subprocess.run(
        ["bash", "-e", "-c", _grading_command()],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    (line,) = output.read_text().splitlines()
    assert line.startswith("result=")
    return classroom.decode(line.removeprefix("result="))


@pytest.mark.slow
def test_the_template_command_on_a_fresh_checkout_reports_zero(tmp_path):
    repo = _checkout(tmp_path / "repo", paths.EXERCISES)
    result = _run_template(repo, tmp_path)
    assert result["status"] == "fail"
    assert sum(t["score"] for t in result["tests"]) == 0
    assert result["max_score"] == classroom.learner_max_score()
    assert (repo / "junit.xml").is_file()


@pytest.mark.slow
def test_the_template_command_on_the_solutions_reports_full_points(tmp_path):
    repo = _checkout(tmp_path / "repo", paths.SOLUTIONS)
    result = _run_template(repo, tmp_path)
    native = json.loads((repo / "results.json").read_text())  # written by attention-grade
    assert result["status"] == "pass"
    assert sum(t["score"] for t in result["tests"]) == native["score"] == result["max_score"]
    assert result["max_score"] == classroom.learner_max_score()
    assert len(result["tests"]) == len(native["tests"])
