"""Correct submissions written in other styles get full marks; the untouched stubs get none.

tests/submissions/ holds three complete, correct submissions written the way other learners
would write them (einsum and reshape/permute; torch.where, F.dropout and hand-written dropout;
the book's own idioms with other names). Each is graded on every exercise, hidden checks
included, on several fixed seeds: every counted check must pass.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if importlib.util.find_spec("grader") is None:  # let the tests run from any directory
    sys.path.insert(0, str(ROOT))

from grader.judge.engine import Options, grade  # noqa: E402
from grader.paths import MODULES  # noqa: E402

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
EXERCISES = ROOT / "exercises"
STYLES = ("einsum_style", "functional_style", "book_style")
SEEDS = (1, 2)


def _failures(report) -> list:
    return [r for r in report.results if r.counts and not r.passed]


def _describe(results) -> str:
    blocks = []
    for r in results:
        hidden = " (hidden)" if r.hidden else ""
        blocks.append(f"--- {r.exercise}/{r.check}{hidden}: {r.status}\n{r.feedback}")
    return "\n".join(blocks)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("style", STYLES)
def test_correct_style_gets_full_marks(style, seed):
    report = grade(SUBMISSIONS / style, Options(hidden=True, seed=seed))
    failed = _failures(report)
    assert not failed, (
        f"{style} (a correct submission) scored {report.score}/{report.max_score} with hidden "
        f"seed {seed}; failing checks:\n{_describe(failed)}"
    )
    assert any(r.hidden for r in report.results), "no hidden check was run"


def test_untouched_stubs_score_zero():
    report = grade(EXERCISES, Options(hidden=True, seed=SEEDS[0]))
    assert report.score == 0, f"the stubs scored {report.score}/{report.max_score}"
    counted = [r for r in report.results if r.counts]
    assert counted, "no counted check was run"
    wrong = [r for r in counted if r.status != "not attempted"]
    assert not wrong, "stub results other than 'not attempted':\n" + _describe(wrong)
    broken = [r for r in report.results if r.status in ("crashed", "error", "timeout")]
    assert not broken, "the stubs crashed a check:\n" + _describe(broken)


# -- the submissions honour the contract ------------------------------------------------


def _signatures(path: Path) -> dict[str, list[str]]:
    """Public top-level functions and classes (their __init__ and forward) -> arguments."""

    def args(fn: ast.FunctionDef) -> list[str]:
        a = fn.args
        defaults = [None] * (len(a.args) - len(a.defaults)) + [ast.unparse(d) for d in a.defaults]
        return [f"{x.arg}={d}" if d else x.arg for x, d in zip(a.args, defaults, strict=True)]

    found = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        name = getattr(node, "name", "")
        if not name or name.startswith("_"):
            continue
        if isinstance(node, ast.FunctionDef):
            found[name] = args(node)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name in ("__init__", "forward"):
                    found[f"{name}.{item.name}"] = args(item)
    return found


@pytest.mark.parametrize("style", STYLES)
def test_submission_matches_the_contract(style):
    folder = SUBMISSIONS / style
    assert (folder / "__init__.py").is_file()
    for module in MODULES:
        path = folder / f"{module}.py"
        source = path.read_text(encoding="utf-8")
        assert "solutions" not in source, f"{path} must not use the reference solutions"
        want, got = _signatures(EXERCISES / f"{module}.py"), _signatures(path)
        for name, params in want.items():
            assert got.get(name) == params, f"{path}: {name}{got.get(name)} != stub's {params}"
