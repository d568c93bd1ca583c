"""Mistake recognition and forbidden calls.

The catalogue's variants (solutions/mistakes.py) are checked in-process here: every mistake
recognised by its variant loses points and is named, live and from the fixtures. Every entry
of the catalogue graded through the worker as a broken submission is in test_broken.py, and
broken submissions written independently of the catalogue in test_heldout.py.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace

import pytest
import torch

from grader import checks, paths
from grader.checks.criteria import Close, ShapeDType
from grader.judge import reference
from grader.judge.diagnosis import diagnose
from grader.judge.engine import Grading, Options, grade
from grader.judge.expected import FromFixtures, FromReference
from grader.judge.rules import FUSED_ATTENTION_CALLS, SOFTMAX_CALLS, static_uses
from grader.judge.variants import load_catalogue
from grader.protocol import Reply
from grader.report.results import FORBIDDEN, PASSED
from grader.rng import Rng, stable_seed

CATALOGUE = load_catalogue()
VARIANTS = [m for m in CATALOGUE if m.variant]  # the rest are named by judges
VALUE_JUDGES = (Close, ShapeDType)
LIVE = FromReference(reference.load())
FIXTURES = FromFixtures(paths.FIXTURES)


def as_learner(reply: Reply) -> Reply:
    """A variant's float64 reply as a learner's float32 code would give it."""
    outputs = {
        k: v.to(torch.float32) if v.dtype == torch.float64 else v for k, v in reply.outputs.items()
    }
    return replace(reply, outputs=outputs)


def public_checks(exercise):
    for check in exercise.checks:
        if check.points and check.judge.needs_expected:
            yield check, check.inputs(Rng(stable_seed(exercise.name, check.name)))


def test_the_catalogue_covers_every_exercise_with_a_known_mistake():
    ids = [m.id for m in CATALOGUE]
    assert len(ids) == len(set(ids)) >= 90
    assert {e.name for e in checks.EXERCISES} == {m.exercise for m in CATALOGUE}


@pytest.mark.parametrize("mistake", VARIANTS, ids=lambda m: m.id)
def test_each_mistake_loses_points_and_is_named(mistake):
    exercise = checks.find(mistake.exercise)
    failed, unnamed_values, named = [], [], []
    for check, inputs in public_checks(exercise):
        got = as_learner(LIVE.mistake_reply(exercise, check, inputs, mistake.id))
        expected = LIVE.get(exercise, check, inputs)
        if got.ok and check.judge(inputs, expected, got).passed:
            continue
        failed.append(check.name)
        live = mistake.id in [m.id for m in diagnose(LIVE, exercise, check, inputs, got)]
        FIXTURES.get(exercise, check, inputs)  # the fixture's inputs digest matches
        from_fixture = mistake.id in [
            m.id for m in diagnose(FIXTURES, exercise, check, inputs, got)
        ]
        # A variant whose output is random (dropout where there should be none) is left out
        # of the fixtures, whose builds draw other numbers: only the live path can name it.
        random = not FIXTURES.mistake_reply(exercise, check, inputs, mistake.id).outputs
        assert live == from_fixture or (random and not from_fixture), check.name
        if live:
            named.append(check.name)
        elif isinstance(check.judge, VALUE_JUDGES):
            unnamed_values.append(check.name)
    assert failed, f"{mistake.id} passes every public check of {exercise.name}"
    assert named, f"{mistake.id} is named by none of {failed}"
    # Where the learner looks first, value checks, the mistake is always named. (Property
    # checks such as the dropout read-back cannot always tell a mistake's weights apart.)
    assert unnamed_values == []


def test_a_correct_submission_is_never_diagnosed(shared_report):
    report = shared_report(paths.SOLUTIONS, hidden=True, seed=1)
    assert report.all_passed
    assert not any(r.diagnosis or r.likely for r in report.results)


@pytest.mark.slow
def test_feedback_names_the_mistake_in_learner_mode(submission):
    sub = submission(
        {"MultiHeadAttention": [("return self.out_proj(context_vec)", "return context_vec")]}
    )
    report = grade(sub, Options(only="MultiHeadAttention", use_solutions=False))
    values = next(r for r in report.results if r.check == "values_random")
    assert values.diagnosis == "MultiHeadAttention.no_out_proj"
    assert "likely:   out_proj is not applied (finish with self.out_proj" in values.feedback
    assert report.expected_from == "fixtures"
    # --no-hints (exams): the mistake is still recorded for the class summary, not shown.
    quiet = grade(sub, Options(only="MultiHeadAttention", use_solutions=False, hints=False))
    values = next(r for r in quiet.results if r.check == "values_random")
    assert values.diagnosis == "MultiHeadAttention.no_out_proj"
    assert not values.likely and not values.hint and "likely:" not in values.feedback
    assert quiet.score == report.score


def test_the_variants_built_for_a_grading_go_with_it(submission, tmp_path, monkeypatch):
    # An instructor's grading builds the mistaken variants it compares with; a judge that
    # grades on (--watch, a batch's processes) must not keep them, on disk or imported.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "judge"))
    (tmp_path / "judge").mkdir()
    sub = submission(
        {"MultiHeadAttention": [("return self.out_proj(context_vec)", "return context_vec")]}
    )
    grading = Grading(sub, Options(only="MultiHeadAttention", use_solutions=True, speed=False))
    with grading:
        results = [grading.run(step) for step in grading.steps]
        built = list((tmp_path / "judge").glob("attention-variants-*/_attention_variant_*"))
    assert any(r.diagnosis == "MultiHeadAttention.no_out_proj" for r in results)
    assert built, "no variant was built: the test proves nothing"
    assert list((tmp_path / "judge").glob("attention-*")) == []  # (torch may leave its own)
    assert not {p.name for p in built} & {name.split(".")[0] for name in sys.modules}


# -- forbidden calls ----------------------------------------------------------------------

STATIC_CASES = {
    "import torch\ndef f(x):\n    return torch.softmax(x, -1)\n": ["torch.softmax"],
    "import torch.nn.functional as F\ndef f(x):\n    return F.softmax(x, dim=-1)\n": [
        "torch.nn.functional.softmax"
    ],
    "from torch.nn.functional import softmax as sm\ndef f(x):\n    return sm(x, -1)\n": [
        "torch.nn.functional.softmax"
    ],
    "def f(x):\n    return x.log_softmax(-1).exp()\n": ["torch.Tensor.log_softmax"],
    "from torch import nn\ndef f(x):\n    return nn.Softmax(dim=-1)(x)\n": ["torch.nn.Softmax"],
    "def f(x):\n    import torch\n    return torch.special.softmax(x, 0)\n": [
        "torch.special.softmax"
    ],
    # Mentions that are not uses, and other functions, are fine:
    'import torch\ndef f(x):\n    """Unlike torch.softmax, ..."""\n    return torch.exp(x)  # not torch.softmax\n': [],
    "import torch\ndef g(x):\n    return torch.softmax(x, -1)\ndef f(x):\n    return x\n": [],
    "import torch\nclass f:\n    def softmax(self, x):\n        return x\n    def go(self, x):\n        return self.softmax(x)\n": [],
}


@pytest.mark.parametrize("source", STATIC_CASES, ids=range(len(STATIC_CASES)))
def test_static_detection(source):
    assert [name for name, _ in static_uses(source, "f", SOFTMAX_CALLS)] == STATIC_CASES[source]


def test_static_detection_in_classes():
    source = (
        "import torch.nn.functional as F\nfrom torch import nn\n"
        "class MultiHeadAttention(nn.Module):\n"
        "    def __init__(self):\n        self.mha = nn.MultiheadAttention(4, 2)\n"
        "    def forward(self, q, k, v):\n        return F.scaled_dot_product_attention(q, k, v)\n"
    )
    found = static_uses(source, "MultiHeadAttention", FUSED_ATTENTION_CALLS)
    assert found == [
        ("torch.nn.MultiheadAttention", 5),
        ("torch.nn.functional.scaled_dot_product_attention", 7),
    ]


STABLE = "    shifted = x - x.amax(dim=dim, keepdim=True)\n    exp_x = torch.exp(shifted)\n    return exp_x / exp_x.sum(dim=dim, keepdim=True)"


def test_a_forbidden_call_costs_the_exercise_its_points(submission):
    sub = submission({"simple_attention": [(STABLE, "    return torch.softmax(x, dim=dim)")]})
    report = grade(sub, Options(only="softmax_stable", hidden=False))
    assert report.score == 0
    assert {r.status for r in report.results if r.counts} == {FORBIDDEN}
    assert "softmax_stable uses torch.softmax (line" in report.results[0].feedback


def test_a_forbidden_call_hidden_from_the_parser_is_seen_at_run_time(submission):
    sneaky = '    fn = getattr(torch.nn.functional, "soft" + "max")\n    return fn(x, dim=dim)'
    sub = submission({"simple_attention": [(STABLE, sneaky)]})
    report = grade(sub, Options(only="softmax_stable", hidden=False))
    assert report.score == 0
    assert "torch.nn.functional.softmax (seen while it ran)" in report.results[0].feedback


def test_allowed_uses_are_not_flagged(submission, shared_report):
    # torch.softmax is fine in CausalAttention; the wrapper is not blamed for its heads.
    report = shared_report(paths.SOLUTIONS, hidden=True, seed=1)
    causal = [r for r in report.results if r.exercise == "CausalAttention"]
    assert causal and all(r.passed for r in causal if r.counts)
    sdpa = (
        "        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)\n"
        "        attn_weights = self.dropout(attn_weights)\n\n"
        "        context_vec = attn_weights @ values  # (b, num_tokens, d_out)\n"
    )
    fused = (
        "        context_vec = torch.nn.functional.scaled_dot_product_attention(\n"
        "            queries, keys, values, is_causal=True, dropout_p=self.dropout.p if self.training else 0.0)\n"
    )
    sub = submission(
        {
            "causal_attention": [
                (
                    "        attn_scores = queries @ keys.transpose(1, 2)  # (b, num_tokens, num_tokens)\n"
                    "        attn_scores.masked_fill_(self.mask[:num_tokens, :num_tokens].bool(), -torch.inf)\n"
                    + sdpa,
                    fused,
                ),
            ]
        }
    )
    both = grade(sub, Options(only=("CausalAttention", "MultiHeadAttentionWrapper"), hidden=False))
    causal = [r for r in both.results if r.exercise == "CausalAttention"]
    wrapper = [r for r in both.results if r.exercise == "MultiHeadAttentionWrapper"]
    assert {r.status for r in causal if r.counts} == {FORBIDDEN}
    assert FORBIDDEN not in {r.status for r in wrapper}
    assert any(r.status == PASSED for r in wrapper)
