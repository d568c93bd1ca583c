"""The learner stubs in exercises/ are generated from solutions/ and stay in step with them.

Checks that the committed exercises/ is exactly what ``python -m grader.stubs`` writes,
that every stub raises NotImplementedError naming itself, that exercises/ and solutions/
expose the same names and signatures, and how the generator treats bad markers.
"""

import importlib
import importlib.util
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

KIT_ROOT = Path(__file__).resolve().parent.parent
if importlib.util.find_spec("solutions") is None:  # let the tests run from any directory
    sys.path.insert(0, str(KIT_ROOT))


from grader import checks, stubs  # noqa: E402
from grader.paths import MODULES  # noqa: E402
from grader.rng import Rng  # noqa: E402
from grader.worker.probes import run_probe  # noqa: E402


def first_probe(exercise) -> tuple[dict, dict]:
    """The probe spec and inputs of the exercise's first check that calls it (not a timing
    probe): the arguments every stub is tried with come from the exercise's own record."""
    for check in exercise.checks:
        spec = exercise.probe(check)
        if spec["kind"] in ("call", "module", "transfer"):
            return spec, check.inputs(Rng(0))
    raise AssertionError(f"{exercise.name} has no check that calls it")


def forward_input(exercise) -> torch.Tensor:
    """An input batch for a module's forward: the first of its checks' inputs that is not a
    weight (a module's first check, its structure, may have no inputs at all)."""
    for check in exercise.checks:
        if exercise.probe(check)["kind"] != "module":
            continue
        tensors = [t for key, t in check.inputs(Rng(0)).items() if not key.startswith("w:")]
        if tensors:
            return tensors[0]
    raise AssertionError(f"{exercise.name} has no module check with an input batch")


def stub_lookup(exercise):
    """The stub for the exercise itself, the reference for everything it builds on."""

    def lookup(module: str, name: str):
        package = "exercises" if name == exercise.name else "solutions"
        return getattr(load(package, module), name)

    return lookup


def load(package, module):
    return importlib.import_module(f"{package}.{module}")


def public_names(module):
    """Functions and classes defined (not imported) in ``module`` whose names are public."""
    return sorted(
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    )


def stub_cases(kind):
    return [
        (module, name)
        for module in MODULES
        for name in public_names(load("exercises", module))
        if inspect.isclass(getattr(load("exercises", module), name)) == (kind == "class")
    ]


# exercises/ is generated ------------------------------------------------------------------


def test_committed_exercises_match_generated():
    generated = stubs.generate(KIT_ROOT / "solutions")
    assert sorted(generated) == ["__init__.py", *sorted(f"{m}.py" for m in MODULES)]
    committed = {
        p.name: p.read_text(encoding="utf-8") for p in (KIT_ROOT / "exercises").glob("*.py")
    }
    stale = sorted(name for name in generated if committed.get(name) != generated[name])
    assert not stale, f"exercises/ is out of date ({stale}): run `python -m grader.stubs`"
    assert sorted(committed) == sorted(generated)


def test_check_command_passes_on_the_kit():
    result = subprocess.run(
        [sys.executable, "-m", "grader.stubs", "--check"],
        cwd=KIT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_command_reports_a_stale_file(tmp_path, monkeypatch, capsys):
    shutil.copytree(KIT_ROOT / "solutions", tmp_path / "solutions")
    monkeypatch.setattr(stubs, "KIT_ROOT", tmp_path)
    assert stubs.main([]) == 0
    assert stubs.main(["--check"]) == 0

    stub = tmp_path / "exercises" / "causal_attention.py"
    stub.write_text(stub.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    capsys.readouterr()
    assert stubs.main(["--check"]) == 1
    assert "exercises/causal_attention.py" in capsys.readouterr().out


def test_stubs_contain_no_solution_code():
    for name, text in stubs.generate(KIT_ROOT / "solutions").items():
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, name
        assert text.startswith("# Learner stub"), name


# every stub raises NotImplementedError naming itself ----------------------------------------


def test_every_public_name_is_an_exercise():
    names = {name for module in MODULES for name in public_names(load("exercises", module))}
    assert names == {ex.name for ex in checks.EXERCISES}
    for ex in checks.EXERCISES:
        assert ex.name in public_names(load("exercises", ex.module)), ex.name


@pytest.mark.parametrize(("module", "name"), stub_cases("function"))
def test_function_stub_raises(module, name):
    exercise = checks.find(name)
    spec, inputs = first_probe(exercise)
    with pytest.raises(NotImplementedError, match=name):
        run_probe(spec, inputs, stub_lookup(exercise))


@pytest.mark.parametrize(("module", "name"), stub_cases("class"))
def test_class_stub_raises(module, name):
    exercise = checks.find(name)
    spec, inputs = first_probe(exercise)
    with pytest.raises(NotImplementedError, match=name):
        run_probe(spec, inputs, stub_lookup(exercise))

    # forward is stubbed too: build the object without running the stubbed __init__
    cls = getattr(load("exercises", module), name)
    obj = cls.__new__(cls)
    nn.Module.__init__(obj)
    with pytest.raises(NotImplementedError, match=rf"{name}\.forward"):
        obj(forward_input(exercise))


# exercises/ and solutions/ have the same interface --------------------------------------


@pytest.mark.parametrize("module", MODULES)
def test_same_public_names_and_signatures(module):
    exercise, solution = load("exercises", module), load("solutions", module)
    assert public_names(exercise) == public_names(solution)
    for name in public_names(solution):
        ours, theirs = getattr(exercise, name), getattr(solution, name)
        assert inspect.signature(ours) == inspect.signature(theirs), name
        if inspect.isclass(theirs):
            assert inspect.signature(ours.forward) == inspect.signature(theirs.forward), name
        assert inspect.getdoc(ours) == inspect.getdoc(theirs), name


def test_multihead_stub_keeps_the_relative_import():
    text = (KIT_ROOT / "exercises" / "multihead_attention.py").read_text(encoding="utf-8")
    assert "from .causal_attention import CausalAttention" in text


# the generator ----------------------------------------------------------------------------

SOURCE = '''\
import torch


class Thing:
    """Book §3.5.3, a class."""

    def forward(self, x):
        """No section here: the class docstring's is used."""
        y = 1
        # BEGIN SOLUTION
        return torch.relu(x) + y
        # END SOLUTION


def helper(x):
    """Book §3.3.1."""
    # BEGIN SOLUTION
    return x
    # END SOLUTION
'''


def test_stub_source_replaces_each_region():
    stub = stubs.stub_source(SOURCE)
    assert "return" not in stub
    assert "import torch  # noqa: F401\n" in stub
    assert (
        "        y = 1\n"
        "        # TODO: implement (see the docstring)\n"
        '        raise NotImplementedError("Thing.forward (§3.5.3): not implemented yet, see the docstring")\n'
    ) in stub
    assert (
        "    # TODO: implement (see the docstring)\n"
        '    raise NotImplementedError("helper (§3.3.1): not implemented yet, see the docstring")\n'
    ) in stub


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (SOURCE.replace("        # END SOLUTION\n", "", 1), "nested"),
        (SOURCE.removesuffix("    # END SOLUTION\n"), "never closed"),
        (SOURCE.replace("        # BEGIN SOLUTION\n", "", 1), "without a matching"),
        (SOURCE.replace("Book §3.3.1.", "No section."), "no '§<section>'"),
        ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "outside any function"),
        (SOURCE.replace("y = 1\n", "y = 1  # BEGIN SOLUTION\n"), "on a line of its own"),
    ],
    ids=["nested", "unclosed", "unopened", "no-section", "module-level", "trailing-comment"],
)
def test_bad_markers_raise_a_clear_error(source, message):
    with pytest.raises(stubs.MarkerError, match=message):
        stubs.stub_source(source)
