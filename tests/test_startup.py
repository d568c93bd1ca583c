"""What a grading pays before it grades: `--help` and wrong arguments answer without torch, and
the first worker is launched ahead (grader/worker/warm.py), so that it imports torch while
the judge does, and handed to the session that needs it."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from grader import checks, exercise_names, paths
from grader.judge.engine import Options, grade
from grader.worker import sandbox
from grader.worker.warm import Spares

NO_TORCH = """
import sys
from grader.cli import main
for argv in {argvs!r}:
    try:
        print("exit", main(argv))
    except SystemExit as e:
        print("exit", e.code)
print("torch modules:", sorted(m for m in sys.modules if m.split(".")[0] == "torch"))
"""


def run_cli_without_torch(*argvs: list[str]) -> str:
    code = NO_TORCH.format(argvs=list(argvs))
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=paths.KIT_ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_help_and_wrong_arguments_do_not_import_torch():
    text = run_cli_without_torch(
        ["--help"],
        ["--only", "softmax_fancy"],
        ["--isolation", "nowhere"],
        ["--watch", "--json", "results.json"],
    )
    assert "--only NAME" in text and "--watch" in text and "softmax_stable" in text
    assert "no exercise named 'softmax_fancy'" in text
    assert "invalid choice: 'nowhere'" in text
    assert "--watch writes no files" in text
    assert text.count("exit 2") == 3 and "exit 0" in text  # --help exits 0
    assert "torch modules: []" in text


def test_the_launcher_imports_without_torch():
    # What a spare worker needs to be launched, before the judge has imported torch.
    code = (
        "import sys\n"
        "import grader.worker.warm, grader.worker.launch, grader.worker.wire\n"
        "from grader.worker import sandbox\n"
        "assert sandbox.Limits().rlimits()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_exercise_names_are_the_checks_names():
    assert tuple(ex.name for ex in checks.EXERCISES) == exercise_names.NAMES
    for module, names in exercise_names.BY_MODULE.items():
        assert names == tuple(ex.name for ex in checks.EXERCISES if ex.module == module)
    assert exercise_names.unknown("softmax_stable") == ""
    with pytest.raises(KeyError) as found:
        checks.find("softmax_fancy")
    assert exercise_names.unknown("softmax_fancy") == found.value.args[0]


def test_torch_build_is_read_without_importing_torch():
    import torch

    assert sandbox.torch_build().cuda == torch.version.cuda
    assert sandbox.torch_reserve() in (1 << 30, 4 << 30)


def test_a_spare_started_otherwise_is_not_handed_over(tmp_path):
    wrap = sandbox.configure(Options()).wrap
    with Spares() as spares:
        spares.launch(threads=2, wrap=wrap, limits=sandbox.Limits(), trusted=False)
        (spare,) = spares._waiting.values()
        how = {"threads": 1, "wrap": wrap, "limits": sandbox.Limits(), "trusted": False}
        assert spares.take(tmp_path, 60, **how) is None
        assert not spare.alive and spares.handed == 0
        assert spares._waiting == {}


@pytest.mark.slow
def test_a_spare_that_died_while_it_waited_is_not_handed_over(tmp_path):
    how = {"threads": 1, "wrap": sandbox.configure(Options()).wrap, "limits": sandbox.Limits()}
    with Spares() as spares:
        spares.launch(**how, trusted=False)
        (spare,) = spares._waiting.values()
        deadline = time.monotonic() + 120
        while spare._frames.empty() and time.monotonic() < deadline:  # its greeting
            time.sleep(0.05)
        spare.proc.kill()
        spare.proc.wait()
        assert spares.take(tmp_path, 60, **how, trusted=False) is None
        assert spares.handed == 0 and not spare.submission.exists()


@pytest.mark.slow
def test_a_spare_grades_the_submission_it_is_handed(submission):
    wrong = "    return exp_x / exp_x.sum()"
    right = "    return exp_x / exp_x.sum(dim=dim, keepdim=True)"
    broken = submission({"softmax_naive": [(right, wrong)]})
    options = Options(only="softmax_naive", use_solutions=False, speed=False)
    with Spares() as spares:
        spares.launch_early()
        options.spares = spares
        report = grade(broken, options)
        assert spares.handed == 1
        assert [r.passed for r in report.results].count(False) == 2
        assert list(spares._taken) == [False]  # it asked for a learner's worker only
        # Nothing waits now: the next grading starts its own worker, then one is launched.
        assert grade(paths.SOLUTIONS, options).all_passed
        assert spares.handed == 1
        spares.refill()
        (spare,) = spares._waiting.values()
        stage = spare.submission
        assert stage.is_dir() and not any(stage.iterdir())  # it has nothing of a learner yet
        report = grade(broken, options)
        assert spares.handed == 2 and not report.all_passed
        assert not stage.exists()  # closed with the session that took it
