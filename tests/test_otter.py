"""otter-grader: one-file submissions, the generated assignment, and otter's own commands.

The tests marked slow run otter itself (the kit's [otter] extra) and are skipped without it:
`otter check`, `otter generate` and `otter run` must give the native grader's scores.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from grader import checks, paths
from grader.errors import SubmissionError
from grader.integrations import otter, single_file
from grader.integrations.classroom import learner_max_score
from grader.judge import unfold
from grader.judge.engine import Options, grade
from grader.report.results import FAILED, PASSED, SKIPPED, CheckResult, Report

BROKEN = ("x - x.amax(dim=dim, keepdim=True)", "x - x.amax()")  # one max for the whole tensor
HANG = (
    "def causal_mask(context_length):\n",
    "def causal_mask(context_length):\n    while True:\n        pass\n",
)
# Top-level code that leaves a mark only where otter's kernel (ipykernel) runs it.
MARKER = (
    "import sys as _sys\n"
    "if 'ipykernel' in _sys.modules:\n"
    "    open({path!r}, 'w').write('the student code ran in the kernel')\n"
)


def _attention_py(dest: Path, broken: bool = False, extra: str = "") -> Path:
    source = single_file.combine(paths.SOLUTIONS)
    if broken:
        assert source.count(BROKEN[0]) == 1
        source = source.replace(*BROKEN)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(source + extra)
    return dest


# -- one-file submissions (no otter needed) ------------------------------------------------


@pytest.mark.slow
def test_a_single_file_grades_like_the_four_modules(tmp_path):
    path = _attention_py(tmp_path / "attention.py", broken=True)
    options = Options(only="softmax_stable", seed=3)
    one_file = grade(path, options)
    folder = tmp_path / "folder"
    shutil.copytree(paths.SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "simple_attention.py").write_text(
        (folder / "simple_attention.py").read_text().replace(*BROKEN)
    )
    native = grade(folder, options)
    assert one_file.submission == str(path)
    assert [(r.check, r.hidden, r.status) for r in one_file.results] == [
        (r.check, r.hidden, r.status) for r in native.results
    ]
    assert one_file.score == native.score < native.max_score


def test_imports_between_modules_and_of_the_grader_are_left_out_line_for_line():
    source = (
        "import torch\n"
        "from .causal_attention import CausalAttention\n"
        "from exercises.simple_attention import (\n"
        "    softmax_stable,\n"
        ")\n"
        "import grader\n"
        "def softmax_naive(x, dim=-1):\n"
        "    return x\n"
    )
    out = unfold.prepare_script(source).splitlines()
    assert len(out) == len(source.splitlines())
    assert out[0] == "import torch" and out[6] == "def softmax_naive(x, dim=-1):"
    assert out[1].startswith("pass  # left out by the grader: from .causal_attention")
    assert out[2].startswith("pass  #") and out[3] == "" and out[4] == ""
    assert out[5].startswith("pass  #")
    ast.parse("\n".join(out))


def _notebook(cells: list[tuple[str, str]]) -> dict:
    return {
        "cells": [
            {"cell_type": kind, "metadata": {}, "source": text, "outputs": []}
            if kind == "code"
            else {"cell_type": kind, "metadata": {}, "source": text}
            for kind, text in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_a_notebook_keeps_its_definitions_and_drops_what_runs():
    script = unfold.notebook_script(
        _notebook(
            [
                ("markdown", "# my work"),
                ("code", "%pip install torch\n!ls\nimport torch\nfrom grader import check"),
                ("code", "SCALE = 2.0\nx = torch.ones(3)\nprint(x)\n"),
                ("code", "@torch.no_grad()\ndef softmax_naive(x, dim=-1):\n    return x * SCALE\n"),
                ("code", "check('softmax_naive')"),
                ("code", "%%timeit\nsoftmax_naive(x)"),
                ("code", "for i in range(3):\n    print(i)\nclass Foo:\n    pass"),
                ("code", "def broken(:\n"),
            ]
        )
    )
    assert "import torch" in script and "SCALE = 2.0" in script
    assert "@torch.no_grad()\ndef softmax_naive" in script and "class Foo:" in script
    for gone in ("from grader", "check(", "print(", "x = torch.ones", "%%timeit", "range(3)"):
        assert gone not in script, gone
    assert "pip install" not in script and "!ls" not in script
    assert "def broken(:" in script  # kept as it is, so the learner sees the syntax error


@pytest.mark.slow
def test_a_notebook_submission_is_graded_by_its_definitions(tmp_path):
    folder = paths.SOLUTIONS
    cells = [("code", "%matplotlib inline\nimport torch\nfrom torch import nn")]
    for module in paths.MODULES:
        tree = ast.parse((folder / f"{module}.py").read_text())
        source = (folder / f"{module}.py").read_text()
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                cells.append(("code", ast.get_source_segment(source, node)))
                cells.append(("code", f"print({node.name!r})\ncheck({node.name!r})"))
    path = tmp_path / "work.ipynb"
    path.write_text(json.dumps(_notebook(cells)))
    options = Options(only="MultiHeadAttention", hidden=False, use_solutions=False)
    report = grade(path, options)
    assert report.score == report.max_score == grade(folder, options).max_score


def test_what_cannot_be_a_single_file_submission(tmp_path):
    empty = tmp_path / "empty.py"
    empty.write_text("import torch\nprint('hello')\n")
    with pytest.raises(SubmissionError, match="defines none of the exercises"):
        grade(empty)
    nb = tmp_path / "x.ipynb"
    nb.write_text("not json")
    with pytest.raises(SubmissionError, match="not a readable notebook"):
        grade(nb)
    # A syntax error is the learner's to see: graded, every exercise fails with it.
    bad = tmp_path / "attention.py"
    bad.write_text("def softmax_naive(x:\n")
    report = grade(bad, Options(only="softmax_naive", hidden=False, use_solutions=False))
    assert report.score == 0 and "SyntaxError" in report.results[0].problem


def test_the_template_is_the_stubs_in_one_file(tmp_path):
    path = tmp_path / "attention.py"
    assert single_file.main(["--template", str(path)]) == 0
    defined = unfold.defined_exercises(path.read_text())
    assert sorted(defined) == sorted(ex.name for ex in checks.EXERCISES)
    out = tmp_path / "modules"
    assert single_file.main([str(path), str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["__init__.py", *(f"{m}.py" for m in paths.MODULES)]
    )


# -- the generated assignment (no otter needed) -----------------------------------------


def test_the_assignment_exports_every_counting_check_once(tmp_path):
    assert otter.main([str(tmp_path / "hw")]) == 0
    hw = tmp_path / "hw"
    assert json.loads((hw / "otter_config.json").read_text())["plugins"] == [otter.PLUGIN]
    assert (hw / otter.KIT_FOLDER / "solutions").is_dir()
    assert "-e /autograder/source/files/attention-kit" in (hw / "requirements.txt").read_text()
    totals = {}
    for folder in ("tests", "hidden-tests"):
        files = sorted((hw / folder).glob("*.py"))
        assert sorted(f.stem for f in files) == sorted(ex.name for ex in checks.EXERCISES)
        total = 0
        for file in files:
            tree = ast.parse(file.read_text())
            for node in tree.body:
                if isinstance(node, ast.FunctionDef):
                    (decorator,) = node.decorator_list
                    total += next(k.value.value for k in decorator.keywords if k.arg == "points")
        totals[folder] = total
    # tests/ is a learner's copy (fixtures, no speed checks); hidden-tests/ an instructor's
    # grading on a CPU: the points of the native grader in those modes.
    assert totals["tests"] == learner_max_score()
    cpu = sum(
        c.points * (2 if c.randomized else 1)
        for ex in checks.EXERCISES
        for c in ex.checks
        if c.points > 0 and getattr(c.judge, "device", "cpu") == "cpu"
    )
    assert totals["hidden-tests"] == cpu
    assert otter.main([str(hw)]) == 0  # written again in place


def test_verdict_passes_fails_with_feedback_and_counts_skipped(monkeypatch):
    report = Report(
        submission="s",
        results=[
            CheckResult("softmax_stable", "shape", "shape", PASSED, 1, 1),
            CheckResult(
                "softmax_stable",
                "large",
                "large",
                FAILED,
                0,
                2,
                hidden=True,
                tried="softmax_stable(x)",
                problem="got nan",
            ),
            CheckResult("attention_scores", "speed_cpu", "speed", SKIPPED, 0, 0),
        ],
    )
    monkeypatch.setattr(otter, "report_for", lambda mode, exercise: report)
    otter.verdict("softmax_stable", "shape")
    otter.verdict("attention_scores", "speed_cpu")
    with pytest.raises(AssertionError, match=r"failed, 0/2 points\ntried:    softmax_stable"):
        otter.verdict("softmax_stable", "large", hidden=True)
    with pytest.raises(AssertionError, match="did not run"):
        otter.verdict("softmax_stable", "large")


def test_the_kits_report_is_printed_on_the_stream_otter_check_prints_to(capfd, monkeypatch):
    report = Report(
        submission="../subs/attention.py",
        results=[
            CheckResult("softmax_stable", "shape", "output shape", PASSED, 1, 1),
            CheckResult("softmax_stable", "large", "inputs of magnitude 1e4", FAILED, 0, 2),
        ],
    )
    monkeypatch.setenv("FORCE_COLOR", "1")  # as ipykernel sets it in otter's kernel
    otter.show(report)
    out = capfd.readouterr().out
    assert "Attention exercise kit: ../subs/attention.py" in out
    assert re.search(r"softmax_stable .* 1/3 ", out) and "Total: 1/3 points" in out
    assert "\x1b[" not in out  # no colours where the stream is not a terminal
    # A terminal, as a learner's: colours, and the table even where the terminal gives no
    # width (a pseudo-terminal may say 0 columns)
    pty = pytest.importorskip("pty")
    main, terminal = pty.openpty()
    try:
        monkeypatch.setattr(sys, "stdout", types.SimpleNamespace(fileno=lambda: terminal))
        otter.show(report)
        written = b""
        while select.select([main], [], [], 0.5)[0]:
            written += os.read(main, 65536)
    finally:
        os.close(main)
        os.close(terminal)
    text = written.decode()
    assert "\x1b[" in text
    assert "Total: 1/3 points" in re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_which_file_is_the_submission_of_a_folder(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError):
        otter.submission_file(tmp_path)
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "mine.py").write_text("")
    assert otter.submission_file(tmp_path) == tmp_path / "mine.py"
    (tmp_path / "work.ipynb").write_text("{}")
    assert otter.submission_file(tmp_path) == tmp_path / "work.ipynb"
    (tmp_path / "attention.py").write_text("")
    assert otter.submission_file(tmp_path) == tmp_path / "attention.py"
    monkeypatch.chdir(tmp_path)
    assert otter.submission_file() == tmp_path / "attention.py"


def _grading_otter(monkeypatch, grading: bool) -> None:
    """Make this process look like otter's kernel (grading a file) or a notebook's kernel."""
    notebook = type("Notebook", (), {"_grading_mode": grading})
    monkeypatch.setitem(sys.modules, "otter", types.SimpleNamespace(Notebook=notebook))


def test_what_a_test_case_has_the_kit_grade(tmp_path, monkeypatch):
    (tmp_path / "attention.py").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(otter.ENV_SUBMISSION, raising=False)
    monkeypatch.setattr(otter, "otter_check_command", lambda: None)
    _grading_otter(monkeypatch, grading=False)
    # otter.Notebook().check(NAME) in a notebook: the folder's submission, NAME's exercise
    assert otter.target_for("softmax_stable") == otter.Target(
        tmp_path / "attention.py", ("softmax_stable",)
    )
    # otter grading a file without naming it (otter check whose command line is unreadable,
    # otter run without the plugin): no guess at the folder's file, a way out instead
    _grading_otter(monkeypatch, grading=True)
    with pytest.raises(AssertionError, match=f"cannot tell which file.*{otter.ENV_SUBMISSION}="):
        otter.target_for("softmax_stable")
    # the plugin, under otter run / otter grade / Gradescope: its file, every exercise
    monkeypatch.setenv(otter.ENV_SUBMISSION, "/elsewhere/x.py")
    assert otter.target_for("softmax_stable") == otter.Target(Path("/elsewhere/x.py"), None)
    # otter check FILE [-q NAME]: FILE, whatever else is around; NAME's exercise; shown
    given = tmp_path / "subs" / "mine.py"
    for question, only in (("softmax_stable", ("softmax_stable",)), (None, None)):
        command = otter.CheckCommand(given, question)
        monkeypatch.setattr(otter, "otter_check_command", lambda command=command: command)
        assert otter.target_for("softmax_stable") == otter.Target(given, only, show=True)


def test_the_kit_reads_a_process_command_line_and_folder(monkeypatch):
    argv, cwd = otter._command_line(os.getpid())
    assert argv == sys.orig_argv and cwd == Path.cwd()
    if Path("/proc/self/cmdline").exists():  # without psutil: /proc
        monkeypatch.setitem(sys.modules, "psutil", None)
        assert otter._command_line(os.getpid()) == (argv, cwd)
    assert otter._command_line(2**22 + 1) is None  # no such process


def test_an_unreadable_submission_fails_every_case_with_the_reason(tmp_path, monkeypatch):
    (tmp_path / "attention.py").write_text("print('no exercises here')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(otter.ENV_SUBMISSION, raising=False)
    monkeypatch.setattr(otter, "otter_check_command", lambda: None)
    with pytest.raises(AssertionError, match="defines none of the exercises"):
        otter.verdict("softmax_stable", "shape")


# -- otter itself (the [otter] extra) ----------------------------------------------------

needs_otter = pytest.mark.skipif(
    importlib.util.find_spec("otter") is None or importlib.util.find_spec("ipykernel") is None,
    reason="otter-grader is not installed (pip install -e '.[otter]')",
)


@pytest.mark.slow
@needs_otter
def test_otter_checks_command_line_as_otter_reads_it(tmp_path):
    def parse(line: str) -> otter.CheckCommand | None:
        return otter.parse_check_command(line.split(), tmp_path)

    assert parse("python3 /venv/bin/otter check ../subs/a.py -q softmax_stable") == (
        otter.CheckCommand(tmp_path / "../subs/a.py", "softmax_stable")
    )
    assert parse("python -m otter check -vv --question=CausalAttention -t t /a.ipynb") == (
        otter.CheckCommand(Path("/a.ipynb"), "CausalAttention")
    )
    assert parse("otter check --seed 3 x.py") == otter.CheckCommand(tmp_path / "x.py")
    for other in (
        "/venv/bin/otter run -a autograder.zip x.py",
        "python -m ipykernel_launcher -f kernel.json",
        "otter check",
        "bash",
    ):
        assert parse(other) is None, other


def _otter(args: list[str], cwd: Path, **env) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "otter", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _check_log(folder: Path):
    """The results otter check logged last in `folder` (its .OTTER_LOG)."""
    from otter.check.logs import Log

    (entry, *_) = Log.from_file(str(folder / ".OTTER_LOG"), ascending=False).entries
    return entry.results


def _check_score(folder: Path) -> tuple[float, float]:
    """otter check's own total, from the log it writes."""
    results = _check_log(folder)
    return results.total, results.possible


@pytest.fixture(scope="module")
def assignment(tmp_path_factory):
    hw = tmp_path_factory.mktemp("otter") / "hw"
    assert otter.main([str(hw)]) == 0
    return hw


def _student(assignment: Path, folder: Path) -> Path:
    """A student's folder as handed out: tests/ and the blank attention.py."""
    shutil.copytree(assignment / "tests", folder / "tests")
    shutil.copy2(assignment / "attention.py", folder / "attention.py")
    return folder


@pytest.mark.slow
@needs_otter
def test_otter_check_grades_the_file_it_is_given_and_shows_the_points(
    assignment, tmp_path, monkeypatch
):
    monkeypatch.delenv(otter.ENV_SUBMISSION, raising=False)
    student = _student(assignment, tmp_path / "student")
    good = _attention_py(tmp_path / "subs" / "good" / "attention.py")
    # otter check ../subs/good/attention.py, beside the blank attention.py: the given file
    done = _otter(["check", "../subs/good/attention.py"], student)
    results = _check_log(student)
    assert results.total == results.possible == learner_max_score(), done.stdout
    # The kit's report, as attention-grade prints it, above otter's own verdict: the file,
    # each exercise's points (otter's, question for question) and the total.
    assert f"Attentionexercisekit:{good}" in re.sub(r"\s", "", done.stdout)  # title, wrapped
    total = f"Total: {results.total:g}/{results.possible:g} points"
    assert done.stdout.index(total) < done.stdout.index("All tests passed!")
    for name, question in results.results.items():
        assert re.search(rf"{name} .* {question.score:g}/{question.possible:g} ", done.stdout)


@pytest.mark.slow
@needs_otter
def test_otter_check_q_grades_only_that_exercise(assignment, tmp_path, monkeypatch):
    monkeypatch.delenv(otter.ENV_SUBMISSION, raising=False)
    student = _student(assignment, tmp_path / "student")
    marker = tmp_path / "ran-in-otter-kernel"
    bad = _attention_py(
        tmp_path / "subs" / "bad" / "attention.py",
        broken=True,
        extra=MARKER.format(path=str(marker)),
    )
    # Another exercise hangs: each of its calls (and of those built on it) would wait out
    # its 20 s deadline, minutes in all, were the whole file graded.
    source = bad.read_text()
    assert source.count(HANG[0]) == 1
    bad.write_text(source.replace(*HANG))
    start = time.monotonic()
    done = _otter(["check", str(bad), "-q", "softmax_stable"], student)
    seconds = time.monotonic() - start
    native = grade(bad, otter.options_for(otter.PUBLIC, ("softmax_stable",)))
    assert 0 < native.score < native.max_score
    assert _check_score(student) == (native.score, native.max_score), done.stdout
    assert f"Total: {native.score:g}/{native.max_score} points" in done.stdout
    assert "causal_mask" not in done.stdout  # nor any other exercise
    assert seconds < 150, f"otter check -q took {seconds:.0f} s"
    assert "AssertionError: softmax_stable: inputs of magnitude 1e4: failed" in done.stdout
    assert "likely:" in done.stdout  # the kit's feedback, in otter's report
    # otter check has no plugins: otter itself runs the file in its kernel first (the
    # checks still run in the kit's worker). otter run does not: see below.
    assert marker.exists()


@pytest.mark.slow
@needs_otter
def test_otter_check_cannot_hang_in_the_kits_part(assignment, tmp_path, monkeypatch):
    """Top-level code that never ends where the kit imports the file (not in otter's kernel,
    which otter runs first and without a deadline: there it would hang otter check, before
    any of the kit's code): the kit's import deadline ends it, and the checks fail saying so."""
    monkeypatch.delenv(otter.ENV_SUBMISSION, raising=False)
    student = _student(assignment, tmp_path / "student")
    path = _attention_py(
        student / "attention.py",
        extra="import sys\nwhile 'ipykernel' not in sys.modules:\n    pass\n",
    )
    done = _otter(["check", path.name, "-q", "softmax_naive"], student)
    total, possible = _check_score(student)
    assert total == 0 and possible > 0
    assert "while importing the module" in done.stdout and "no answer within" in done.stdout


@pytest.mark.slow
@needs_otter
def test_otter_generate_and_run_give_the_native_scores_without_running_student_code_in_otter(
    assignment, tmp_path, monkeypatch
):
    monkeypatch.delenv(otter.ENV_SUBMISSION, raising=False)
    _otter(["generate", "-t", "hidden-tests", otter.KIT_FOLDER], assignment)
    zip_path = assignment / "autograder.zip"
    assert zip_path.is_file()
    marker = tmp_path / "ran-in-otter-kernel"
    path = _attention_py(
        tmp_path / "sub" / "attention.py", broken=True, extra=MARKER.format(path=str(marker))
    )
    out = tmp_path / "out"
    out.mkdir()
    done = _otter(
        ["run", "-a", str(zip_path), "-o", str(out), str(path)], tmp_path, ATTENTION_KIT_SEED="5"
    )
    results = json.loads((out / "results.json").read_text())
    scored = [t for t in results["tests"] if "score" in t and t["score"] is not None]
    native = grade(path, Options(seed=5))
    assert sum(t["score"] for t in scored) == native.score < native.max_score, done.stdout
    assert sum(t["max_score"] for t in scored) == native.max_score
    assert not marker.exists(), "otter's kernel executed the student's code"
