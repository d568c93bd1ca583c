"""The Gradescope autograder zip: its layout, and run_autograder outside Gradescope's container.

run_autograder runs here as on Gradescope, with AUTOGRADER_ROOT pointing at a temporary
/autograder: the zip unpacked in ROOT/source, the student's files in ROOT/submission. Nothing
is installed: ATTENTION_KIT_PYTHON is this interpreter (the test environment's torch, numpy,
rich, safetensors), and run_autograder puts the unpacked kit first on PYTHONPATH, so the kit
that grades is the one in the zip. ATTENTION_KIT_SEED fixes the hidden checks' seed so that
results.json can be compared with `grade()` on the same folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import paths
from grader.cli import main
from grader.integrations import gradescope, single_file
from grader.judge.engine import Options, grade

BROKEN = ("x - x.amax(dim=dim, keepdim=True)", "x - x.amax()")
SEED = 12345


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    assert main(["gradescope", str(out)]) == 0
    return out


def _broken(dest: Path) -> Path:
    shutil.copytree(paths.SOLUTIONS, dest, ignore=shutil.ignore_patterns("__pycache__"))
    module = dest / "simple_attention.py"
    module.write_text(module.read_text().replace(*BROKEN))
    return dest


def run_autograder(
    zip_path: Path,
    submission: Path,
    root: Path,
    args: str = "",
    seed: int = SEED,
    timeout: float = 900,
) -> dict:
    """Unpack the zip into ROOT/source, copy `submission` (a folder's files, or one file) into
    ROOT/submission, write Gradescope's submission_metadata.json, run run_autograder and
    return results.json."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    (root / "source" / "run_autograder").chmod(0o755)
    if submission.is_dir():
        shutil.copytree(submission, root / "submission")
    else:
        (root / "submission").mkdir(parents=True)
        shutil.copy(submission, root / "submission")
    (root / "submission_metadata.json").write_text('{"users": [{"email": "a@example.org"}]}')
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "ATTENTION_KIT_PYTHON": sys.executable,
        "ATTENTION_KIT_SEED": str(seed),
        "ATTENTION_KIT_ARGS": args,
    }
    done = subprocess.run(
        [str(root / "source" / "run_autograder")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


def test_the_zip_has_the_scripts_at_its_root_and_the_kit_with_its_solutions(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    for script in ("setup.sh", "run_autograder"):
        assert infos[script].external_attr >> 16 & 0o111, f"{script} is not executable"
    for name in (
        "kit/grader/cli.py",
        "kit/grader/templates/gradescope_run_autograder",
        "kit/solutions/simple_attention.py",
        "kit/fixtures/softmax_stable.safetensors",
        "kit/exercises/simple_attention.py",
        "kit/exercises/chapter3.ipynb",
        "kit/pyproject.toml",
    ):
        assert name in infos, name
    assert not [n for n in infos if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in infos if n.startswith("kit/tests/")]


def test_the_scripts_are_valid_bash(tmp_path):
    for name in ("gradescope_setup.sh", "gradescope_run_autograder"):
        path = tmp_path / name
        path.write_text(gradescope.template(name))
        done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("broken", [False, True], ids=["solutions", "broken"])
def test_run_autograder_scores_like_the_native_grader(autograder_zip, tmp_path, broken):
    folder = _broken(tmp_path / "sub") if broken else paths.SOLUTIONS
    args = "--only softmax_stable"
    results = run_autograder(autograder_zip, folder, tmp_path / "autograder", args)
    native = grade(folder, Options(only="softmax_stable", seed=SEED))
    assert results["score"] == native.score
    assert [t["name"] for t in results["tests"]] == [r.name for r in native.results if r.counts]
    assert [t["score"] for t in results["tests"]] == [r.points for r in native.results if r.counts]
    assert (native.score < native.max_score) == broken
    assert f"hidden checks drawn with seed {SEED}" not in results["output"]  # console only
    assert "Worker isolation:" in results["output"]


@pytest.mark.slow
def test_a_one_file_submission_is_graded_too(autograder_zip, tmp_path):
    path = tmp_path / "attention.py"
    path.write_text(single_file.combine(paths.SOLUTIONS))
    results = run_autograder(autograder_zip, path, tmp_path / "autograder", "--only causal_mask")
    native = grade(paths.SOLUTIONS, Options(only="causal_mask", seed=SEED))
    assert results["score"] == native.score == native.max_score > 0


def test_an_unreadable_submission_still_gets_a_results_json(autograder_zip, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "readme.txt").write_text("I could not finish")
    results = run_autograder(autograder_zip, notes, tmp_path / "autograder")
    assert results["score"] == 0 and results["tests"] == []
    assert "no exercise modules" in results["output"]
    assert "simple_attention.py" in results["output"]


@pytest.mark.slow
@pytest.mark.parametrize("broken", [False, True], ids=["solutions", "broken"])
def test_run_autograder_grades_everything_like_the_native_grader(autograder_zip, tmp_path, broken):
    folder = _broken(tmp_path / "sub") if broken else paths.SOLUTIONS
    results = run_autograder(autograder_zip, folder, tmp_path / "autograder")
    native = grade(folder, Options(seed=SEED))
    assert results["score"] == native.score
    assert len(results["tests"]) == len([r for r in native.results if r.counts])
    assert (native.score < native.max_score) == broken


def test_what_run_autograder_grades_in_the_submission_folder(tmp_path):
    (tmp_path / "a" / "hw3").mkdir(parents=True)
    (tmp_path / "a" / "hw3" / "causal_attention.py").write_text("")
    (tmp_path / "a" / "notes.ipynb").write_text("{}")
    assert gradescope.resolve(tmp_path / "a") == tmp_path / "a"  # the modules win
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "work.ipynb").write_text("{}")
    (tmp_path / "b" / "exercises.zip").write_bytes(b"")
    assert gradescope.resolve(tmp_path / "b") == tmp_path / "b" / "work.ipynb"
    (tmp_path / "c" / "__MACOSX").mkdir(parents=True)
    (tmp_path / "c" / "__MACOSX" / "x.py").write_text("")
    (tmp_path / "c" / "exercises.zip").write_bytes(b"")
    assert gradescope.resolve(tmp_path / "c") == tmp_path / "c" / "exercises.zip"
    (tmp_path / "d").mkdir()
    assert gradescope.resolve(tmp_path / "d") == tmp_path / "d"
