"""Every known mistake loses points on the exercise where it is made, and is named.

Each entry of the catalogue (solutions/mistakes.py) is applied to a copy of the reference
solutions with the kit's own edit function (`apply_edits`, inside the entry's definition),
giving one realistic learner mistake. Grading that exercise must give less than full marks,
the feedback must name the mistake (its id, or one of its `names` when a judge names it), and
the mutated module must still import (a wrong answer, not a syntax error). The accepted
variations below must keep full marks. The fast tests at the end check that every entry
still applies to the current solutions, once and inside its definition.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("grader") is None:  # let the tests run from any directory
    sys.path.insert(0, str(HERE.parent))

from grader import checks  # noqa: E402
from grader.judge.engine import Options, grade  # noqa: E402
from grader.judge.rules import top_level  # noqa: E402
from grader.judge.variants import apply_edits, load_catalogue  # noqa: E402
from grader.paths import MODULES, SOLUTIONS  # noqa: E402

CATALOGUE = load_catalogue()

# The statuses a mistake must never cause: it is a wrong answer, not a broken module.
NOT_A_WRONG_ANSWER = ("missing", "crashed", "timeout")


@dataclass(frozen=True)
class Variation:
    """A change the kit accepts on purpose, as edits of the reference (like a Mistake's)."""

    id: str
    exercise: str
    edits: tuple[tuple[str, str], ...]
    target: str = ""


# Variations the kit accepts on purpose: each must keep full marks (a note at most).
ACCEPTED: tuple[Variation, ...] = (
    # The contract fixes GPT-2's size, heads, context length and bias, not its dropout
    # (GPT-2 itself trains with 0.1).
    Variation("gpt2_dropout", "gpt2_small_attention", (("dropout=0.0", "dropout=0.1"),)),
    # The book's own idiom: v1's weights become views of v2's. The values are right; the
    # shared storage only earns a zero-point note.
    Variation(
        "transfer_shares_storage",
        "copy_v2_weights_into_v1",
        tuple(
            (
                f"sa_v1.{w}.copy_(sa_v2.{w}.weight.T)",
                f"sa_v1.{w} = nn.Parameter(sa_v2.{w}.weight.T)",
            )
            for w in ("W_query", "W_key", "W_value")
        ),
    ),
)


def module_of(entry) -> str:
    return checks.find(entry.exercise).module


def reference_source(module: str) -> str:
    return (SOLUTIONS / f"{module}.py").read_text(encoding="utf-8")


def mutated_source(entry) -> str:
    """The entry's module with its edits applied inside its definition (ValueError if not)."""
    return apply_edits(
        reference_source(module_of(entry)), entry.target or entry.exercise, entry.edits
    )


def _mutated_copy(entry, tmp_path: Path) -> Path:
    """The reference's modules (only those: no catalogue, no caches), one mutated."""
    folder = tmp_path / "submission"
    folder.mkdir()
    for name in ("__init__", *MODULES):
        shutil.copyfile(SOLUTIONS / f"{name}.py", folder / f"{name}.py")
    (folder / f"{module_of(entry)}.py").write_text(mutated_source(entry), encoding="utf-8")
    return folder


def _describe(report) -> str:
    lines = [f"score {report.score}/{report.max_score}"]
    for r in report.results:
        lines.append(f"  {r.check:18s} {r.status:14s} {r.points}/{r.max_points}  {r.summary}")
    return "\n".join(lines)


def _grade(entry, tmp_path: Path):
    return grade(
        _mutated_copy(entry, tmp_path), Options(only=entry.exercise, hidden=False, speed=False)
    )


@pytest.mark.slow
@pytest.mark.parametrize("mistake", [pytest.param(m, id=m.id) for m in CATALOGUE])
def test_mistake_loses_points_and_is_named(mistake, tmp_path):
    report = _grade(mistake, tmp_path)
    summary = _describe(report)
    module = module_of(mistake)
    assert report.results, f"{mistake.exercise}: no checks were run"
    first = report.results[0]
    assert first.status not in NOT_A_WRONG_ANSWER, (
        f"{mistake.id} broke {module}.py instead of making a wrong answer:\n{summary}"
    )
    not_imported = [r for r in report.results if "while importing the module" in r.summary]
    assert not not_imported, f"{mistake.id}: {module}.py does not import:\n{summary}"
    assert report.score < report.max_score, (
        f"{mistake.id} ({mistake.title}) lost no points on {mistake.exercise}:\n{summary}"
    )
    named = {d for r in report.results for d in r.diagnosis.split(",") if d}
    names = (mistake.id, *mistake.names)
    assert named & set(names), (
        f"{mistake.id}: the feedback names {sorted(named) or 'nothing'}, expected one of "
        f"{names}:\n{summary}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("variation", [pytest.param(v, id=v.id) for v in ACCEPTED])
def test_accepted_variation_keeps_full_marks(variation, tmp_path):
    report = _grade(variation, tmp_path)
    assert report.score == report.max_score, _describe(report)


# -- fast checks on the catalogue itself ---------------------------------------------------


def _outside(source: str, target: str) -> tuple[str, str]:
    """The text of `source` before and after the top-level definition `target`."""
    node = top_level(ast.parse(source), target)
    lines = source.splitlines(keepends=True)
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return "".join(lines[: first - 1]), "".join(lines[node.end_lineno :])


@pytest.mark.parametrize("entry", [pytest.param(e, id=e.id) for e in (*CATALOGUE, *ACCEPTED)])
def test_entry_applies_once_inside_its_definition(entry):
    source = reference_source(module_of(entry))
    target = entry.target or entry.exercise
    mutated = mutated_source(entry)  # each `old` exactly once in the definition's code
    assert mutated != source
    compile(mutated, f"{module_of(entry)}.py ({entry.id})", "exec")
    assert top_level(ast.parse(mutated), target) is not None, f"{entry.id} lost {target}"
    assert _outside(mutated, target) == _outside(source, target), (
        f"{entry.id} changed code outside {target}"
    )


def test_catalogue_is_consistent():
    ids = [e.id for e in (*CATALOGUE, *ACCEPTED)]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for m in CATALOGUE:
        checks.find(m.exercise)  # raises KeyError for an unknown exercise
        assert m.title and m.fix and m.edits, m.id
        assert isinstance(m.names, tuple) and all(isinstance(n, str) for n in m.names), m.id


def test_every_exercise_has_a_known_mistake():
    covered = {m.exercise for m in CATALOGUE}
    missing = [e.name for e in checks.EXERCISES if e.name not in covered]
    assert not missing, f"exercises without a known mistake: {missing}"


# The mistakes the catalogue must cover in these exercises (the brief's list and the
# original issue's: softmax dim, scaling, mask, dropout, in-place inputs, transposes, heads,
# out_proj and bias, GPT-2's size, numerical stability).
REQUIRED: dict[str, tuple[str, ...]] = {
    "normalize_by_sum": ("in_place",),
    "softmax_naive": ("dim_ignored",),
    "softmax_stable": ("global_max", "in_place", "max_wrong_dim", "no_max_subtraction"),
    "SelfAttention_v1": (
        "no_scaling",
        "queries_keys_swapped",
        "scale_after_softmax",
        "scale_by_dk",
        "softmax_wrong_dim",
    ),
    "SelfAttention_v2": ("no_scaling", "qkv_bias_ignored", "softmax_wrong_dim"),
    "copy_v2_weights_into_v1": ("no_transpose", "reversed", "swapped"),
    "causal_mask": ("diagonal", "inverted", "off_by_one"),
    "mask_and_renormalize": ("in_place", "renormalize_wrong_dim"),
    "masked_attention_weights": (
        "in_place",
        "mask_fill_zero",
        "no_scaling",
        "scale_after_softmax",
        "scale_by_dk",
        "softmax_wrong_dim",
    ),
    "attention_dropout": ("ignores_training", "in_place", "keep_prob_as_p", "no_rescale"),
    "CausalAttention": (
        "dropout_before_softmax",
        "dropout_in_eval",
        "dropout_on_output",
        "keys_T",
        "mask_diagonal",
        "mask_fill_zero",
        "mask_inverted",
        "mask_not_buffer",
        "mask_not_sliced",
        "mask_wrong_triangle",
        "no_scaling",
        "qkv_bias_ignored",
        "queries_keys_swapped",
        "scale_after_softmax",
        "softmax_wrong_dim",
    ),
    "MultiHeadAttentionWrapper": ("heads_wrong_dim", "qkv_bias_ignored", "shared_head"),
    "MultiHeadAttention": (
        "dropout_before_softmax",
        "dropout_in_eval",
        "dropout_on_output",
        "mask_diagonal",
        "mask_fill_zero",
        "mask_not_buffer",
        "mask_not_sliced",
        "mask_off_by_one",
        "merge_without_transpose",
        "no_out_proj",
        "no_scaling",
        "out_proj_no_bias",
        "qkv_bias_ignored",
        "scale_by_d_out",
        "scale_by_dk",
        "softmax_wrong_dim",
        "split_without_transpose",
    ),
    "gpt2_small_attention": ("context_length", "heads", "qkv_bias"),
    "wrapper_with_2d_output": ("changed_heads",),
}


def test_required_mistakes_are_covered():
    ids = {m.id for m in CATALOGUE}
    required = {f"{e}.{m}" for e, mistakes in REQUIRED.items() for m in mistakes}
    assert not required - ids, sorted(required - ids)


# -- the edit function ---------------------------------------------------------------------

TWO_CLASSES = '''class A:
    """Docs: return x + 1 mentioned here."""

    def f(self, x):
        """Also here: return x + 1."""
        return x + 1


class B:
    def f(self, x):
        return x + 1
'''


def test_apply_edits_edits_only_the_target_and_never_a_docstring():
    out = apply_edits(TWO_CLASSES, "A", (("return x + 1", "return x + 2"),))
    assert out.count("return x + 2") == 1
    assert '"""Docs: return x + 1 mentioned here."""' in out
    assert '"""Also here: return x + 1."""' in out
    assert out.endswith("class B:\n    def f(self, x):\n        return x + 1\n")


@pytest.mark.parametrize(
    "target, old, message",
    [
        ("A", "return x + 3", "occurs 0 times in the code of A, not once"),
        ("A", "Docs:", "occurs 0 times in the code of A (and 1 in its docstrings"),
        ("A", "x", "occurs 2 times in the code of A (and 2 in its docstrings"),
        ("C", "x", "no top-level function or class named 'C'"),
    ],
)
def test_apply_edits_refuses_what_is_not_exactly_once(target, old, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        apply_edits(TWO_CLASSES, target, ((old, "y"),))
