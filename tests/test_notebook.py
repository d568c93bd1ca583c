"""Jupyter: `check()` from a notebook, and the chapter notebook shipped in exercises/."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from grader import checks, paths
from grader.integrations import chapter_notebook, notebook
from grader.integrations.notebook import NotebookReport, check, find_submission, to_html
from grader.judge.engine import Options, grade
from grader.report.results import FAILED, CheckResult, Report

TOTAL = re.compile(r"Total: (\S+)/(\d+) points")


def _notebook() -> dict:
    return json.loads(chapter_notebook.NOTEBOOK.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def test_the_shipped_notebook_is_the_generated_one():
    assert chapter_notebook.main(["--check"]) == 0


def test_every_exercise_has_a_try_cell_then_a_check_cell_and_the_code_compiles():
    nb = _notebook()
    assert nb["nbformat"] == 4 and nb["metadata"]["kernelspec"]["name"] == "python3"
    cells = nb["cells"]
    checked = [
        c["metadata"]["attention_kit"]["exercise"]
        for c in cells
        if "check" in c["metadata"].get("tags", [])
    ]
    assert sorted(checked[:-1]) == sorted(ex.name for ex in checks.EXERCISES)
    assert checked[-1] is None  # the last cell checks everything
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        # IPython magics are not Python; everything else must compile.
        code = "\n".join(
            "" if line.lstrip().startswith("%") else line for line in _source(cell).splitlines()
        )
        compile(code, f"cell {i}", "exec")
        name = cell["metadata"].get("attention_kit", {}).get("exercise")
        if name:
            assert _source(cell) == f'check("{name}")'
            assert f"import {name}" in _source(cells[i - 1])  # the try cell uses it
    assert "from grader import check" in _source(cells[1])


def test_import_grader_stays_light():
    # The worker imports the grader package: `check` must not pull in torch or rich.
    code = "import sys, grader; print(sorted(m for m in ('torch', 'rich') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


@pytest.fixture(autouse=True)
def _no_spare_left():
    """check() keeps a spare worker for the next call; none may outlive a test."""
    yield
    if notebook._spares is not None:
        notebook._spares.close()


@pytest.mark.slow
def test_a_second_check_takes_a_worker_started_meanwhile():
    first = check("softmax_naive", paths.SOLUTIONS, fixtures=True, show=False)
    handed = notebook._spares.handed
    second = check("softmax_naive", paths.SOLUTIONS, fixtures=True, show=False)
    assert notebook._spares.handed == handed + 1  # the spare the first call left
    assert (second.score, second.max_score) == (first.score, first.max_score) != (0, 0)


def test_check_outside_ipython_prints_the_feedback_and_returns_the_report(capsys):
    report = check("softmax_naive", paths.SOLUTIONS, fixtures=True)
    assert isinstance(report, NotebookReport) and isinstance(report, Report)
    native = grade(
        paths.SOLUTIONS, Options(only="softmax_naive", hidden=False, use_solutions=False)
    )
    assert (report.score, report.max_score) == (native.score, native.max_score) != (0, 0)
    text = capsys.readouterr().out
    assert f"Total: {native.score:g}/{native.max_score} points" in text
    assert repr(report) == f"<Report {paths.SOLUTIONS}: {native.score:g}/{native.max_score} points>"


def test_check_says_why_it_cannot_grade(tmp_path, capsys):
    assert check("softmax_fancy", paths.SOLUTIONS) is None
    assert "no exercise named 'softmax_fancy'" in capsys.readouterr().out
    assert check("softmax_naive", tmp_path / "missing") is None
    assert "does not exist" in capsys.readouterr().out


def test_which_folder_check_grades(tmp_path, monkeypatch):
    monkeypatch.delenv("ATTENTION_KIT_SUBMISSION", raising=False)
    monkeypatch.chdir(tmp_path)
    assert find_submission() == paths.EXERCISES
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "simple_attention.py").write_text("")
    assert find_submission() == tmp_path / "exercises"
    monkeypatch.chdir(tmp_path / "exercises")
    assert find_submission() == tmp_path / "exercises"
    monkeypatch.setenv("ATTENTION_KIT_SUBMISSION", str(paths.SOLUTIONS))
    assert find_submission() == paths.SOLUTIONS
    assert find_submission("given") == paths.Path("given")


def test_html_escapes_learner_text():
    report = Report(
        submission="s",
        results=[
            CheckResult(
                "softmax_stable",
                "values",
                "values",
                FAILED,
                0,
                2,
                tried="softmax_stable(x)",
                problem="<script>alert(1)</script>",
                printed="<b>bold</b>",
                section="3.3.1",
            )
        ],
    )
    page = to_html(report)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page and "Total: 0/2 points" in page


@pytest.mark.slow
def test_the_notebook_runs_against_the_solutions_with_full_marks(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # The notebook sits in the learner's exercises/ folder; here that folder holds the solutions.
    folder = tmp_path / "exercises"
    shutil.copytree(paths.SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(chapter_notebook.NOTEBOOK, folder)
    nb = nbformat.read(folder / "chapter3.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    full = {ex.name: None for ex in checks.EXERCISES}
    seen = []
    for cell in nb.cells:
        if "check" not in cell.metadata.get("tags", []):
            continue
        name = cell.metadata["attention_kit"]["exercise"]
        # Shown once (the echo of the returned report is suppressed), as HTML and text.
        (output,) = cell.outputs
        assert output["output_type"] == "display_data"
        assert "text/html" in output["data"]
        score, max_score = TOTAL.search(output["data"]["text/plain"]).groups()
        assert float(score) == int(max_score) > 0, (name, output["data"]["text/plain"])
        seen.append(name)
    assert sorted(n for n in seen if n) == sorted(full) and seen[-1] is None
