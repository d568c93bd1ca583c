"""Known mistakes lose points on the exercise where they are made, and are named.

Every mutant of tests/mutants.py is a copy of the reference solutions with one realistic
learner mistake; grading that exercise must give less than full marks, the feedback must name
the mistake (mutants.NAMES), and the mutated module must still import (a wrong answer, not a
syntax error). The accepted variations must keep full marks. The fast tests at the end check
that the mutants still apply to the current solutions.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("grader") is None:  # let the tests run from any directory
    sys.path.insert(0, str(HERE.parent))
if importlib.util.find_spec("mutants") is None:
    sys.path.insert(0, str(HERE))

from mutants import ACCEPTED, MUTANTS, NAMES, SOLUTIONS, Mutant, reference_source  # noqa: E402

from grader import checks  # noqa: E402
from grader.judge.engine import Options, grade  # noqa: E402
from grader.paths import MODULES  # noqa: E402

# The statuses a mutant must never cause: it is a wrong answer, not a broken module.
NOT_A_WRONG_ANSWER = ("missing", "crashed", "timeout")


def _mutated_copy(mutant: Mutant, tmp_path: Path) -> Path:
    """The reference's four modules (only those: no catalogue, no caches), one mutated."""
    folder = tmp_path / "submission"
    folder.mkdir()
    for name in ("__init__", *MODULES):
        shutil.copyfile(SOLUTIONS / f"{name}.py", folder / f"{name}.py")
    path = folder / f"{mutant.module}.py"
    path.write_text(mutant.apply(path.read_text(encoding="utf-8")), encoding="utf-8")
    return folder


def _describe(report) -> str:
    lines = [f"score {report.score}/{report.max_score}"]
    for r in report.results:
        lines.append(f"  {r.check:18s} {r.status:14s} {r.points}/{r.max_points}  {r.summary}")
    return "\n".join(lines)


def _grade(mutant: Mutant, tmp_path: Path):
    return grade(_mutated_copy(mutant, tmp_path), Options(only=mutant.exercise, hidden=False))


@pytest.mark.slow
@pytest.mark.parametrize("mutant", [pytest.param(m, id=m.id) for m in MUTANTS])
def test_mistake_loses_points(mutant, tmp_path):
    report = _grade(mutant, tmp_path)
    summary = _describe(report)
    assert report.results, f"{mutant.exercise}: no checks were run"
    first = report.results[0]
    assert first.status not in NOT_A_WRONG_ANSWER, (
        f"{mutant.id} broke {mutant.module}.py instead of making a wrong answer:\n{summary}"
    )
    not_imported = [r for r in report.results if "while importing the module" in r.summary]
    assert not not_imported, f"{mutant.id}: {mutant.module}.py does not import:\n{summary}"
    assert report.score < report.max_score, (
        f"{mutant.id} ({mutant.mistake}) lost no points on {mutant.exercise}:\n{summary}"
    )
    named = {d for r in report.results for d in r.diagnosis.split(",") if d}
    assert named & set(NAMES[mutant.id]), (
        f"{mutant.id}: the feedback names {sorted(named) or 'nothing'}, expected one of "
        f"{NAMES[mutant.id]}:\n{summary}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("mutant", [pytest.param(m, id=m.id) for m in ACCEPTED])
def test_accepted_variation_keeps_full_marks(mutant, tmp_path):
    report = _grade(mutant, tmp_path)
    assert report.score == report.max_score, _describe(report)


# -- fast checks on the mutant list itself ----------------------------------------------


def test_every_old_text_occurs_exactly_once():
    problems = []
    sources = {}
    for m in MUTANTS + ACCEPTED:
        source = sources.setdefault(m.module, reference_source(m.module))
        for old, _ in m.edits:
            if (count := source.count(old)) != 1:
                problems.append(
                    f"{m.id}: {count} occurrences in solutions/{m.module}.py of {old!r}"
                )
    assert not problems, "mutants out of date with solutions/:\n" + "\n".join(problems)


@pytest.mark.parametrize("mutant", [pytest.param(m, id=m.id) for m in MUTANTS + ACCEPTED])
def test_mutant_is_valid_python_with_a_change(mutant):
    source = reference_source(mutant.module)
    mutated = mutant.apply(source)
    assert mutated != source
    compile(mutated, f"{mutant.module}.py ({mutant.id})", "exec")


def test_mutant_list_is_consistent():
    ids = [m.id for m in MUTANTS + ACCEPTED]
    assert len(ids) == len(set(ids)), "duplicate mutant ids"
    assert set(NAMES) == {m.id for m in MUTANTS}, "every mutant needs the ids that name it"
    for m in MUTANTS + ACCEPTED:
        exercise = checks.find(m.exercise)  # raises KeyError for an unknown exercise
        assert exercise.module == m.module, f"{m.id}: {m.exercise} lives in {exercise.module}"
        assert re.fullmatch(r"[A-Za-z0-9_]+", m.mistake), (
            f"{m.id}: mistake {m.mistake!r} is no slug"
        )


def test_every_exercise_has_a_mutant():
    covered = {m.exercise for m in MUTANTS}
    missing = [e.name for e in checks.EXERCISES if e.name not in covered]
    assert not missing, f"exercises without a mutant: {missing}"


# The mistakes the mutants must cover (the brief's list and the original issue's).
REQUIRED_MISTAKES = {
    "softmax_wrong_dim",
    "no_scaling",
    "scale_by_dk",
    "scale_by_d_out",
    "scale_after_softmax",
    "mask_diagonal",
    "mask_off_by_one",
    "mask_wrong_triangle",
    "mask_fill_zero",
    "mask_not_sliced",
    "mask_not_buffer",
    "dropout_before_softmax",
    "dropout_on_output",
    "dropout_no_rescale",
    "dropout_keep_p",
    "dropout_in_eval",
    "inplace_input",
    "queries_keys_swapped",
    "transfer_no_transpose",
    "transfer_swapped",
    "heads_wrong_dim",
    "heads_shared_module",
    "split_no_transpose",
    "merge_no_transpose",
    "no_out_proj",
    "out_proj_no_bias",
    "qkv_bias_ignored",
    "gpt2_wrong_bias",
    "gpt2_wrong_heads",
    "gpt2_wrong_context",
    "ex32_changed_heads",
    "no_max_subtraction",
    "global_max",
    "keys_T_on_batch",
}


def test_required_mistakes_are_covered():
    covered = {m.mistake for m in MUTANTS + ACCEPTED}
    assert not REQUIRED_MISTAKES - covered, sorted(REQUIRED_MISTAKES - covered)
    # the list must be caught in every exercise where it applies
    where = {}
    for m in MUTANTS:
        where.setdefault(m.mistake, set()).add(m.exercise)
    assert {"SelfAttention_v2", "CausalAttention", "MultiHeadAttention"} <= where[
        "softmax_wrong_dim"
    ]
    assert {
        "SelfAttention_v1",
        "SelfAttention_v2",
        "masked_attention_weights",
        "CausalAttention",
        "MultiHeadAttention",
    } <= where["no_scaling"]
