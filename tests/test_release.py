"""attention-grade release: the learners' copy holds nothing of the reference or the hidden
checks, and grades its own stubs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from grader import paths
from grader.release import ReleaseError, main, write_release


def marked_bodies() -> list[str]:
    """The text between every BEGIN/END SOLUTION pair in solutions/*.py (found here with a
    plain scan, independently of grader.stubs), each line stripped."""
    bodies = []
    for path in sorted(paths.SOLUTIONS.glob("*.py")):
        inside, lines = False, []
        for line in path.read_text().splitlines():
            if line.strip() == "# BEGIN SOLUTION":
                inside, lines = True, []
            elif line.strip() == "# END SOLUTION":
                inside = False
                bodies.append("\n".join(lines))
            elif inside and line.strip():
                lines.append(line.strip())
    return bodies


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    dest = tmp_path_factory.mktemp("release") / "attention-kit"
    assert main([str(dest)]) == 0
    return dest


def test_the_release_holds_the_learners_files_only(release):
    assert sorted(p.name for p in release.iterdir()) == [
        "README.md",
        "exercises",
        "fixtures",
        "grader",
        "pyproject.toml",
    ]
    names = {p.name for p in release.rglob("*")}
    assert not names & {"solutions", "mistakes.py", "tests", "stubs.py", "fixtures.py", ".ci"}
    assert not any(p.suffix == ".pyc" for p in release.rglob("*"))
    assert sorted(p.name for p in (release / "fixtures").iterdir()) == sorted(
        p.name for p in paths.FIXTURES.iterdir()
    )


def test_nothing_of_the_reference_code_is_inside(release):
    bodies = marked_bodies()
    assert len(bodies) > 20
    imports = re.compile(r"^\s*(from|import)\s+solutions\b", re.MULTILINE)
    leaks = {}
    for path in (p for p in release.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", "replace")
        flat = "\n".join(line.strip() for line in text.splitlines() if line.strip())
        assert not imports.search(text), path
        leaked = [body for body in bodies if body in flat]
        if leaked:
            leaks[str(path.relative_to(release))] = leaked[0][:80]
    assert leaks == {}


def test_no_hidden_check_data_is_inside(release):
    # Hidden checks are drawn at grading time and computed from solutions/: the fixtures hold
    # the public checks' expected values only.
    from safetensors import safe_open

    for fixture in (release / "fixtures").iterdir():
        with safe_open(str(fixture), framework="pt") as f:
            names = list(f.keys()) + list((f.metadata() or {}).keys())
        assert not [n for n in names if "hidden" in n], fixture


@pytest.mark.slow
def test_the_release_grades_its_own_stubs(release, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(release)}
    where = subprocess.run(
        [sys.executable, "-c", "import grader; print(grader.__file__)"],
        cwd=release,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip() == str(release / "grader" / "__init__.py")
    results = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "grader", "exercises", "-q", "--json", str(results)],
        cwd=release,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr  # every check fails: nothing is attempted yet
    assert "expected values: fixtures" in done.stdout
    assert "hidden checks run only when an instructor grades" in done.stdout
    tests = json.loads(results.read_text())
    assert tests["score"] == 0
    assert all("not attempted" in t["output"] for t in tests["tests"])
    assert all(t["visibility"] == "visible" for t in tests["tests"])


def test_the_learner_readme_lists_every_exercise(release):
    from grader import checks

    readme = (release / "README.md").read_text()
    assert "pip install -e ." in readme and "attention-grade" in readme
    assert all(f"`{ex.name}`" in readme for ex in checks.EXERCISES)


def test_the_learner_readme_introduces_the_notebook_and_its_extra(release):
    text = (release / "README.md").read_text()
    assert (release / "exercises" / "chapter3.ipynb").is_file()
    assert "exercises/chapter3.ipynb" in text and 'check("softmax_stable")' in text
    assert 'pip install -e ".[notebook]"' in text
    project = (release / "pyproject.toml").read_text()
    assert re.search(r'^notebook = \[.*"jupyterlab>=4"', project, re.M)


def test_a_release_is_never_written_over_or_leaking(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ReleaseError, match="not empty"):
        write_release(tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    kit = tmp_path / "kit"
    for name in ("exercises", "fixtures", "grader", "solutions"):
        (kit / name).mkdir(parents=True)
    (kit / "pyproject.toml").write_text("")
    (kit / "solutions" / "a.py").write_text(
        "def f(x):\n    # BEGIN SOLUTION\n    return x * 42\n    # END SOLUTION\n"
    )
    (kit / "grader" / "oops.py").write_text("def g(x):\n    return x * 42\n")
    with pytest.raises(ReleaseError, match="grader/oops.py"):
        write_release(tmp_path / "leaky", kit)
    assert not (tmp_path / "leaky").exists()
