"""Correct submissions written in other styles get full marks, on every torch; the untouched
stubs get none.

tests/submissions/ holds correct submissions written the way other learners would write
them: broad ones (einsum and reshape/permute; torch.where, F.dropout and hand-written
dropout; the book's own idioms with other names) and narrow ones that implement only the
exercises where their idiom matters (fused QKV projections in one matmul; every
intermediate in float64). Each is graded on the exercises it implements (the functions and
classes its modules define), with the reference solutions themselves on all of them, as an
instructor grades (hidden checks on two seeds, live reference) and as a learner's copy
grades (fixtures): every counted check of every exercise it implements must pass, and no
value check may come closer than a tenth of its tolerance (`error_ratio` <= 0.1), so that
no torch build, BLAS library or CPU can flip a verdict. CI runs these tests (marker
`matrix`) under every torch and Python of the supported range.
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

from grader import checks  # noqa: E402
from grader.paths import MODULES  # noqa: E402
from grader.report.results import NOTE  # noqa: E402

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
EXERCISES = ROOT / "exercises"
STYLES = ("einsum_style", "functional_style", "book_style", "fused_qkv_style", "float64_style")
SEEDS = (1, 2)
MARGIN = 0.1  # the largest difference a correct answer may show, as a share of the tolerance
# Float64 arithmetic is twice the work of float32 on a CPU: this style's speed is not its
# point, and a 2x speed check may rightly find it slower than the reference.
SLOW_ON_PURPOSE = ("float64_style",)


def _failures(report) -> list:
    return [r for r in report.results if r.counts and not r.passed]


def _describe(results) -> str:
    blocks = []
    for r in results:
        hidden = " (hidden)" if r.hidden else ""
        blocks.append(f"--- {r.exercise}/{r.check}{hidden}: {r.status}\n{r.feedback}")
    return "\n".join(blocks)


def implemented(folder: Path) -> tuple[str, ...]:
    """The exercises a submission defines, each in the module the contract puts it in."""
    defined = set()
    for module in MODULES:
        path = folder / f"{module}.py"
        if path.is_file():
            tree = ast.parse(path.read_text(encoding="utf-8"))
            defined |= {(module, getattr(node, "name", "")) for node in tree.body}
    return tuple(ex.name for ex in checks.EXERCISES if (ex.module, ex.name) in defined)


def _assert_full_marks_with_margin(name: str, report, what: str) -> None:
    results = report.results
    if name in SLOW_ON_PURPOSE:
        results = [r for r in results if not r.check.startswith("speed")]
    assert results, f"{name} implements no exercise"
    failed = [r for r in results if r.counts and not r.passed]
    assert not failed, f"{name} (correct) lost points {what}; failing checks:\n{_describe(failed)}"
    # a learner's copy predicts the speed checks for no points: never "would fail" either
    flagged = [r for r in results if r.check.startswith("speed") and r.status == NOTE]
    assert not flagged, f"{name} (correct) is called too slow {what}:\n{_describe(flagged)}"
    close = [r for r in results if r.error_ratio is not None and r.error_ratio > MARGIN]
    assert not close, f"{name} came within {MARGIN:g} of a tolerance {what}:\n" + "\n".join(
        f"  {r.exercise}/{r.check}{' (hidden)' if r.hidden else ''}: "
        f"error ratio {r.error_ratio:.3g}"
        for r in close
    )
    assert any(r.error_ratio is not None for r in results), "no value check reported its margin"


CORRECT = [("solutions", ROOT / "solutions")] + [(style, SUBMISSIONS / style) for style in STYLES]


def _cases(with_seeds: bool) -> list:
    """The quick tier grades the reference once each way (a report the other quick tests
    share); the other styles and the second seed are slow. CI's matrix (the other torch and
    Python builds) runs every style with the first seed and against the fixtures; the
    second seed, which changes only the hidden inputs, runs in the main environment."""
    cases = []
    for name, folder in CORRECT:
        for seed in SEEDS if with_seeds else (None,):
            quick = name == "solutions" and seed in (None, SEEDS[0])
            marks = () if quick else (pytest.mark.slow,)
            if seed in (None, SEEDS[0]):
                marks += (pytest.mark.matrix,)
            case_id = name if seed is None else f"{name}-{seed}"
            cases.append(pytest.param(name, folder, seed, marks=marks, id=case_id))
    return cases


def _only(folder: Path) -> tuple[str, ...] | None:
    """The exercises to grade: None (all) where the folder implements every exercise, so
    that the reference's grading is the one conftest's shared_report shares."""
    defined = implemented(folder)
    return None if defined == tuple(ex.name for ex in checks.EXERCISES) else defined


@pytest.mark.parametrize(("name", "folder", "seed"), _cases(with_seeds=True))
def test_correct_style_gets_full_marks(name, folder, seed, shared_report):
    report = shared_report(folder, hidden=True, seed=seed, only=_only(folder))
    _assert_full_marks_with_margin(name, report, f"with hidden seed {seed}")
    assert any(r.hidden for r in report.results), "no hidden check was run"


@pytest.mark.parametrize(("name", "folder", "seed"), _cases(with_seeds=False))
def test_correct_style_gets_full_marks_against_fixtures(name, folder, seed, shared_report):
    """As a learner's copy grades: the expected values come from the committed fixtures."""
    report = shared_report(folder, use_solutions=False, hidden=False, only=_only(folder))
    assert report.expected_from == "fixtures"
    _assert_full_marks_with_margin(name, report, "against the fixtures")


def test_the_reference_implements_every_exercise():
    assert implemented(ROOT / "solutions") == tuple(ex.name for ex in checks.EXERCISES)


def test_untouched_stubs_score_zero(shared_report):
    report = shared_report(EXERCISES, hidden=True, seed=SEEDS[0])
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
    defined = implemented(folder)
    assert defined, f"{style} implements no exercise"
    for module in MODULES:
        path = folder / f"{module}.py"
        source = path.read_text(encoding="utf-8")
        assert "solutions" not in source, f"{path} must not use the reference solutions"
        want, got = _signatures(EXERCISES / f"{module}.py"), _signatures(path)
        # only what it implements (see implemented())
        want = {name: params for name, params in want.items() if name.split(".")[0] in defined}
        for name, params in want.items():
            assert got.get(name) == params, f"{path}: {name}{got.get(name)} != stub's {params}"
