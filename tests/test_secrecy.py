"""The solutions stay secret from learner code where the sandbox cannot start.

Gradescope runs the autograder as root in a container where bubblewrap is often refused; the
kit then falls back to its confined subprocess, and as root it runs the learner's worker as
a user of its own for whom the kit's solutions, tests and fixtures are closed. A submission
that hunts the filesystem for the solutions (walks /, reads every file whose path says
"solution", greps the Python files of the kit, /tmp and /autograder for "BEGIN SOLUTION",
prints what it finds) must find nothing, while the reference's own worker runs beside it,
and its visible feedback must hold no line of the solutions: natively, through Gradescope's
run_autograder and through otter's autograder. The sandbox passes the same hunt.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from hostile import assert_nothing_left, marker
from hostile.confinement import (
    ROOT_ONLY,
    Uids,
    assert_left_nothing,
    own_user,
    python_for_everyone,
)
from test_gradescope import run_autograder as gradescope_run
from test_otter import _otter, needs_otter

from grader import paths
from grader.cli import main
from grader.integrations import otter, single_file
from grader.judge.engine import Grading, Options, grade
from grader.report import gradescope_results
from grader.rng import Rng
from grader.worker import confine, sandbox, secrecy, users

__all__ = ["own_user"]  # a fixture

NO_BWRAP = sandbox.bubblewrap_problem()
SANDBOX = pytest.param(
    "sandbox", marks=pytest.mark.skipif(bool(NO_BWRAP), reason=f"no sandbox: {NO_BWRAP}")
)
KIT = str(paths.KIT_ROOT)
STUB = (
    '    raise NotImplementedError("softmax_naive (§3.3.1): not implemented yet, see the '
    'docstring")'
)
SEED = 7

# Where the solutions' text can be read from here: every file whose path says "solution"
# under the kit, every file (of those it walks past on /) holding a solution marker line.
SEARCH = r"""
import os, re

def search(kit, skip):
    found, read = [], 0
    near = (kit, "/tmp", "/var/tmp", "/autograder")

    def take(path):
        try:
            with open(path, "rb") as f:
                data = f.read(1 << 20)
        except OSError:
            return 0
        in_kit = path.startswith(kit) and "solution" in path.lower()
        if in_kit or re.search(rb"(?m)^[ \t]*# BEGIN SOLUTION[ \t]*$", data):
            found.append((path, data.decode(errors="replace")))
        return 1

    for module in ("simple_attention", "multihead_attention", "mistakes"):
        read += take(os.path.join(kit, "solutions", module + ".py"))
    for folder, dirs, files in os.walk("/"):
        if folder == "/":
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skip]
        for name in files:
            path = os.path.join(folder, name)
            if "solution" in path.lower() or (
                name.endswith((".py", ".pyc")) and path.startswith(near)
            ):
                read += take(path)
    return found, read
"""
HUNT = """    import sys
    if not getattr(sys, "hunted_MARKER", False):  # once per worker: the walk takes seconds
        setattr(sys, "hunted_MARKER", True)
        scope = {}
        exec(SEARCH, scope)
        found, read = scope["search"](KIT, SKIP)
        for path, text in found:
            print("FOUND", path)
            print(text[:1500])
        try:
            from solutions import simple_attention  # noqa: F401
            found.append("import solutions")
        except Exception:
            pass
        print("HUNTED", len(found), "found,", read, "files read")
"""


@pytest.fixture(scope="module")
def elsewhere() -> list[str]:
    """Folders outside the kit's reach that hold readable copies of the solutions before any
    grading (a worktree or another checkout on this machine, say): the fallback sees the
    machine's readable files, so such copies are the machine's to remove, not the kit's. The
    hunts skip them. Found by the same search, run as another user."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return []
    code = SEARCH + f"\nimport json\nprint(json.dumps([p for p, _ in search({KIT!r}, [])[0]]))"
    spec = json.dumps({"user": users.UID_FIRST + users.UID_COUNT - 1})
    command = [sys.executable, "-I", "-S", confine.__file__, spec, sys.executable, "-I", "-c"]
    with python_for_everyone():
        done = subprocess.run([*command, code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    found = [Path(p) for p in json.loads(done.stdout)]
    return sorted({str(p.parent) for p in found if not p.is_relative_to(paths.KIT_ROOT)})


def hunting(dest: Path, mark: str, skip: list[str]) -> Path:
    """The exercise stubs, with the hunt (skipping the folders `skip`) and `return x` in
    softmax_naive."""
    shutil.copytree(paths.EXERCISES, dest, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    module = dest / "simple_attention.py"
    text = module.read_text()
    assert text.count(STUB) == 1
    attack = HUNT.replace("MARKER", mark.replace("-", "_")).replace("KIT", repr(KIT))
    attack = attack.replace("SKIP", repr(skip)).replace("SEARCH", repr(SEARCH))
    module.write_text(text.replace(STUB, attack + "    return x"))
    return dest


def solution_lines() -> list[str]:
    """Every telling line of the solutions: those between the solution markers."""
    lines = []
    for path in sorted(paths.SOLUTIONS.glob("*.py")):
        inside = False
        for line in path.read_text().splitlines():
            if "# BEGIN SOLUTION" in line:
                inside = True
            elif "# END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) >= 16:
                lines.append(line.strip())
    assert len(lines) > 50
    return lines


def assert_no_solution_in(results: dict) -> None:
    text = json.dumps(results)
    leaked = [line for line in solution_lines() if line in text]
    assert leaked == [], f"the feedback holds lines of the solutions: {leaked[:3]}"


def assert_the_kit_is_closed() -> None:
    for path in secrecy.secrets_of(paths.KIT_ROOT):
        assert not path.stat().st_mode & 0o077, f"{path} is open to other users"
    assert (paths.KIT_ROOT / "grader").stat().st_mode & stat.S_IROTH


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    """softmax_naive's points for `return x` among the stubs."""
    sub = tmp_path_factory.mktemp("honest") / "sub"
    shutil.copytree(paths.EXERCISES, sub, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    module = sub / "simple_attention.py"
    module.write_text(module.read_text().replace(STUB, "    return x"))
    options = Options(only="softmax_naive", seed=SEED, sandbox_mode="subprocess")
    return grade(sub, options).score


@pytest.mark.slow
@pytest.mark.parametrize("level", [SANDBOX, pytest.param("subprocess", marks=ROOT_ONLY)])
def test_a_hunt_for_the_solutions_finds_nothing(
    tmp_path, request, monkeypatch, honest, elsewhere, level
):
    if level == "subprocess":
        request.getfixturevalue("own_user")
    mark, uids = marker(), Uids(monkeypatch).seen
    sub = hunting(tmp_path / "sub", mark, elsewhere)
    options = Options(only="softmax_naive", seed=SEED, timeout=90, sandbox_mode=level)
    start = time.monotonic()
    with Grading(sub, options) as grading:
        if level == "subprocess":
            assert "a user of its own" in grading.options.isolation
            assert_the_kit_is_closed()
        # The reference's worker runs beside the learner's, on its own copy of the solutions.
        first = grading.steps[0]
        inputs = first.check.inputs(Rng(first.seed))
        probe = first.exercise.probe(first.check)
        assert grading.reference_session().call(first.exercise.module, probe, inputs).ok
        report = grading.new_report()
        report.results = [grading.run(step) for step in grading.steps]
        grading.finish(report)
    assert time.monotonic() - start < 120
    assert any(r.hidden for r in report.results)
    printed = "\n".join(r.printed for r in report.results)
    assert "HUNTED 0 found" in printed and "FOUND" not in printed
    assert report.score <= honest
    gradescope_results.write(report, tmp_path / "results.json")
    assert_no_solution_in(json.loads((tmp_path / "results.json").read_text()))
    assert_nothing_left(mark)
    assert_left_nothing(mark, uids)


@pytest.mark.slow
@ROOT_ONLY
def test_the_hunt_finds_the_solutions_where_the_worker_stays_root(tmp_path, monkeypatch, elsewhere):
    # The control: the fallback as it was, its worker root. The hunt is not blind.
    monkeypatch.setattr(sandbox, "own_user_problem", lambda: "kept root for this test")
    sub = hunting(tmp_path / "sub", marker(), elsewhere)
    options = Options(only="softmax_naive", hidden=False, timeout=90, sandbox_mode="subprocess")
    report = grade(sub, options)
    assert "the worker runs as root" in report.isolation
    hunted = [r.printed for r in report.results if "HUNTED" in r.printed]
    assert hunted and int(hunted[0].split("HUNTED ")[1].split()[0]) > 0


# -- Gradescope's run_autograder, without the sandbox ---------------------------------------


def run_autograder(root: Path, submission: Path, args: str) -> dict:
    """Build the autograder zip, unpack it into ROOT/source as Gradescope does, and run
    run_autograder (as this process's user) on `submission`; return results.json."""
    zip_path = root.parent / "autograder.zip"
    assert main(["gradescope", str(zip_path)]) == 0
    return gradescope_run(zip_path, submission, root, args, seed=SEED, timeout=600)


@pytest.mark.slow
@ROOT_ONLY
def test_gradescope_without_the_sandbox_keeps_the_solutions_secret(
    tmp_path, own_user, monkeypatch, honest, elsewhere
):
    mark, uids = marker(), Uids(monkeypatch).seen
    # Like Gradescope's /autograder: open for search (pytest's tmp_path is private).
    root = Path(tempfile.mkdtemp(prefix="autograder-")) / "autograder"
    root.parent.chmod(0o755)
    args = "--isolation subprocess --only softmax_naive --timeout 90"
    start = time.monotonic()
    try:
        results = run_autograder(root, hunting(tmp_path / "sub", mark, elsewhere), args)
        assert time.monotonic() - start < 180
        kit = root / "source" / "kit"
        closed = [kit / "solutions", kit / "fixtures", root / "submission", root / "results"]
        closed.append(root / "submission_metadata.json")
        assert [p for p in closed if p.stat().st_mode & 0o077] == []
        assert (kit / "grader").stat().st_mode & stat.S_IROTH
    finally:
        shutil.rmtree(root.parent)
    assert "a user of its own" in results["output"]
    outputs = "\n".join(t["output"] for t in results["tests"])
    assert "HUNTED 0 found" in outputs and "FOUND" not in outputs
    assert {t["visibility"] for t in results["tests"]} == {"visible", "after_published"}
    assert results["score"] <= honest
    assert_no_solution_in(results)
    assert_nothing_left(mark)
    assert_left_nothing(mark, uids)


# -- otter's autograder ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def otter_zip(tmp_path_factory) -> Path:
    hw = tmp_path_factory.mktemp("otter") / "hw"
    assert otter.main([str(hw)]) == 0
    _otter(["generate", "-t", "hidden-tests", otter.KIT_FOLDER], hw)
    return hw / "autograder.zip"


@pytest.mark.slow
@needs_otter
def test_otters_autograder_installs_bubblewrap_and_shows_hidden_checks_once_published(otter_zip):
    with zipfile.ZipFile(otter_zip) as zf:
        setup = zf.read("setup.sh").decode()
        config = json.loads(zf.read("otter_config.json"))
    assert "apt-get install -y --no-install-recommends bubblewrap" in setup
    assert "chmod o+x /root" in setup
    assert config["show_hidden"] is True and config["force_public_test_summary"] is True
    done = subprocess.run(["bash", "-n"], input=setup, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
@needs_otter
@ROOT_ONLY
def test_otter_without_the_sandbox_keeps_the_solutions_secret(
    otter_zip, tmp_path, own_user, monkeypatch, elsewhere
):
    monkeypatch.delenv(otter.ENV_SUBMISSION, raising=False)
    mark, uids = marker(), Uids(monkeypatch).seen
    source = single_file.combine(hunting(tmp_path / "modules", mark, elsewhere))
    path = tmp_path / "sub" / "attention.py"
    path.parent.mkdir()
    path.write_text(source)
    out = tmp_path / "out"
    out.mkdir()
    start = time.monotonic()
    env = {"ATTENTION_KIT_SEED": str(SEED), otter.ENV_ISOLATION: "subprocess"}
    done = _otter(["run", "-a", str(otter_zip), "-o", str(out), str(path)], tmp_path, **env)
    assert time.monotonic() - start < 600
    results = json.loads((out / "results.json").read_text())
    summary = next(t for t in results["tests"] if t["name"] == "Public Tests")
    assert summary["visibility"] == "visible"
    questions = [t for t in results["tests"] if t is not summary]
    assert {t["visibility"] for t in questions} == {"after_published"}
    assert "HUNTED 0 found" in json.dumps(results), done.stdout[-2000:]  # as root: > 0
    assert "FOUND /" not in json.dumps(results)
    assert_no_solution_in(results)
    assert_nothing_left(mark)
    assert_left_nothing(mark, uids)
