"""The judges' verdicts and messages on hand-made replies."""

from __future__ import annotations

import torch

from grader.checks.compare import difference
from grader.checks.criteria import (
    Close,
    DropoutElementwise,
    DropoutOnWeights,
    Grads,
    Raises,
    Structure,
    SumsToOne,
    Unchanged,
    binomial_bounds,
    recover_weights,
)
from grader.protocol import Reply
from grader.rng import Rng


def reply(**outputs) -> Reply:
    return Reply("ok", outputs)


def test_difference_names_shape_first_position_and_largest_gap():
    expected = torch.zeros(2, 3)
    assert (
        difference(expected, torch.zeros(3, 2), 1e-5, 0)
        == "output: expected shape (2, 3), got (3, 2)"
    )
    got = expected.clone()
    got[0, 1], got[1, 2] = 0.5, 2.0
    message = difference(expected, got, 1e-5, 0)
    assert "2 of 6 values differ" in message
    assert "first at [0, 1]: expected 0, got 0.5" in message
    assert "largest difference 2 at [1, 2]" in message
    assert difference(expected, expected + 1e-7, 1e-5, 0) is None


def test_difference_treats_matching_infinities_as_equal_and_reports_nan():
    e = torch.tensor([1.0, float("-inf")])
    assert difference(e, e.clone(), 1e-6, 0) is None
    message = difference(e, torch.tensor([float("nan"), float("-inf")]), 1e-6, 0)
    assert "1 NaN where the expected values are numbers" in message


def test_close_and_sums_to_one():
    e = reply(out=torch.tensor([[0.25, 0.75]]))
    assert Close()({}, e, e).passed
    bad = reply(out=torch.tensor([[0.5, 0.75]]))
    assert not Close()({}, e, bad).passed
    verdict = SumsToOne()({}, None, bad)
    assert not verdict.passed and "sums along dim -1" in verdict.message


def test_unchanged_catches_in_place_edits():
    x = torch.ones(3)
    assert Unchanged(("x",))({"x": x}, None, reply(**{"after:x": x.clone()})).passed
    verdict = Unchanged(("x",))({"x": x}, None, reply(**{"after:x": x * 2}))
    assert not verdict.passed and "modified its input 'x' in place" in verdict.message


def test_grads_name_parameters_without_gradient():
    e = reply(**{"grad:W_key.weight": torch.ones(2)})
    missing = Reply("ok", {"grad:W_key.weight": torch.zeros(2)}, {"no_grad": ["W_key.weight"]})
    verdict = Grads()({}, e, missing)
    assert not verdict.passed and "no gradient reached W_key.weight" in verdict.message


def test_structure_lists_missing_extra_and_misshapen_parameters():
    want = Reply(
        "ok", info={"describe": {"params": {"W_query.weight": [2, 3]}, "buffers": {"mask": {}}}}
    )
    mine = Reply(
        "ok", info={"describe": {"params": {"W_query.weight": [3, 2], "W_query.bias": [2]}}}
    )
    verdict = Structure()({}, want, mine)
    assert not verdict.passed
    assert "unexpected parameters: W_query.bias" in verdict.message
    assert "W_query.weight has shape (3, 2), expected (2, 3)" in verdict.message
    assert "no buffer named 'mask'" in verdict.note


def test_binomial_bounds_contain_the_mean_and_exclude_far_counts():
    low, high = binomial_bounds(1000, 0.3)
    assert low < 300 < high
    assert high - low < 200 and low > 200


def _dropout_case(weights_fn):
    """A one-head case: A @ V^T out of one-hot tokens, A a causal weight matrix."""
    rng = Rng(3)
    v = rng.orthogonal(8)
    scores = rng.uniform(16, 8, 8).masked_fill(
        torch.ones(8, 8, dtype=torch.bool).triu(1), float("-inf")
    )
    a = torch.softmax(scores, dim=-1)
    inputs = {"v:0": v}
    expected = reply(eval=a @ v.T)
    return inputs, expected, reply(out=weights_fn(a, v))


def test_dropout_on_weights_accepts_dropout_and_names_each_mistake():
    judge = DropoutOnWeights(0.3, ("v:0",))
    torch.manual_seed(0)

    def correct(a, v):
        return torch.nn.functional.dropout(a, 0.3) @ v.T

    def no_rescale(a, v):
        return torch.nn.functional.dropout(a, 0.3) * 0.7 @ v.T

    def on_output(a, v):
        return torch.nn.functional.dropout(a @ v.T, 0.3)

    def keep_p(a, v):
        return torch.nn.functional.dropout(a, 0.7) @ v.T

    def none(a, v):
        return a @ v.T

    def before_softmax(a, v):
        logits = torch.nn.functional.dropout(torch.log(a.clamp_min(1e-30)), 0.3)
        future = torch.ones(8, 8, dtype=torch.bool).triu(1)
        return torch.softmax(logits.masked_fill(future, float("-inf")), dim=-1) @ v.T

    def keeps_p_rescales_right(a, v):
        return (a * (torch.rand_like(a) < 0.3) / 0.7) @ v.T

    assert judge(*_dropout_case(correct)).passed
    assert "not rescaled by 1/(1-p)" in judge(*_dropout_case(no_rescale)).message
    verdict = judge(*_dropout_case(on_output))
    assert (
        "neither 0 nor weight/(1-p)" in verdict.message and verdict.diagnosis == "dropout.on_output"
    )
    assert "p and 1-p look swapped" in judge(*_dropout_case(keep_p)).message
    assert judge(*_dropout_case(before_softmax)).diagnosis == "dropout.before_softmax"
    assert "no dropout was applied" in judge(*_dropout_case(none)).message
    assert "were dropped with p=0.3" in judge(*_dropout_case(keeps_p_rescales_right)).message


def test_recover_weights_undoes_an_orthogonal_output_projection():
    rng = Rng(5)
    v0, v1, proj = rng.orthogonal(4), rng.orthogonal(4), rng.orthogonal(8)
    bias = rng.uniform(8)
    a = torch.softmax(rng.uniform(2, 2, 4, 4), dim=-1)  # (b, heads, T, T)
    ctx = torch.cat([a[:, 0] @ v0.T, a[:, 1] @ v1.T], dim=-1)
    out = ctx @ proj.T + bias
    assert torch.allclose(recover_weights(out, [v0, v1], (proj, bias)).float(), a, atol=1e-5)


def test_elementwise_dropout_rate_and_scale():
    x = Rng(1).uniform(64, 64, low=0.1, high=1.0)
    torch.manual_seed(1)
    dropped = torch.nn.functional.dropout(x, 0.3)
    inputs = {"attn_weights": x}
    assert DropoutElementwise(0.3, "rate")(inputs, None, reply(out=dropped)).passed
    assert DropoutElementwise(0.3, "scale")(inputs, None, reply(out=dropped)).passed
    unscaled = DropoutElementwise(0.3, "scale")(inputs, None, reply(out=dropped * 0.7))
    assert "multiplied by 1, expected 1/(1-p) = 1.429" in unscaled.message
    kept_p = DropoutElementwise(0.3, "rate")(
        inputs, None, reply(out=torch.nn.functional.dropout(x, 0.7))
    )
    assert not kept_p.passed


def test_raises_counts_only_the_refusals_the_contract_names():
    judge = Raises()
    refused = Reply("error", error={"type": "ValueError", "message": "d_out % num_heads"})
    asserted = Reply("error", error={"type": "AssertionError", "message": ""})
    assert judge.on_error(refused).passed and judge.on_error(asserted).passed
    # A constructor that breaks for another reason refused nothing.
    broken = Reply("error", error={"type": "NameError", "message": "name 'nn' is not defined"})
    verdict = judge.on_error(broken)
    assert not verdict.passed
    assert "NameError: name 'nn' is not defined" in verdict.message
    assert "ValueError or AssertionError" in verdict.message
    # A module that could not be imported is reported as its import error, not judged.
    failed_import = Reply("error", info={"phase": "import"}, error={"type": "ImportError"})
    assert judge.on_error(failed_import) is None
    assert not judge({}, None, Reply("ok", {})).passed


def test_shapes_and_booleans_print_as_python_prints_them():
    assert difference(torch.zeros(6), torch.zeros(1), 1e-5, 0) == (
        "output: expected shape (6,), got (1,)"
    )
    mask = torch.ones(3, 3, dtype=torch.bool).triu(diagonal=1)
    message = difference(mask, mask.T, 0, 0, "the mask")
    assert "first at [0, 1]: expected True, got False" in message


def test_rows_of_nan_get_a_sentence_of_their_own():
    expected = torch.softmax(torch.randn(2, 4, 4), dim=-1)
    got = expected.clone()
    got[1, 3] = float("nan")
    message = difference(expected, got, 1e-5, 0, "attn_weights")
    assert "1 of 8 rows are entirely NaN (the first at [1, 3])" in message
    assert "nothing but -inf" in message
    # NaN here and there, but no whole row: no such sentence.
    got = expected.clone()
    got[0, 0, 0] = float("nan")
    assert "rows are entirely NaN" not in difference(expected, got, 1e-5, 0)


def test_structure_says_which_rename_fixes_a_contract_mismatch():
    def described(params):
        return Reply("ok", info={"describe": {"params": params}})

    want = described({"W_query.weight": [4, 6], "out_proj.weight": [4, 4], "out_proj.bias": [4]})
    renamed = described(
        {"W_query.weight": [4, 6], "last_Layer.weight": [4, 4], "last_Layer.bias": [4]}
    )
    verdict = Structure()({}, want, renamed)
    assert "missing parameters: out_proj.bias, out_proj.weight" in verdict.message
    assert (
        "unexpected parameters: last_Layer.bias (4,), last_Layer.weight (4, 4)" in verdict.message
    )
    assert verdict.message.count("to fix: rename self.last_Layer to self.out_proj") == 1
    assert not verdict.advise  # the rename says it: no general advice beside it
    raw = described({"W_query": [6, 4], "out_proj.weight": [4, 4], "out_proj.bias": [4]})
    message = Structure()({}, want, raw).message
    assert "to fix: self.W_query is a plain parameter where the exercise has a layer" in message
    # a v1-style contract of plain parameters, written with layers
    assert (
        "make it nn.Parameter of shape (6, 4)"
        in Structure()(
            {}, described({"W_query": [6, 4]}), described({"W_query.weight": [4, 6]})
        ).message
    )


def test_close_explains_what_a_failure_means_in_its_check():
    judge = Close(explain="the passes agree: it is the values that are wrong")
    assert judge({}, reply(out=torch.ones(2)), reply(out=torch.ones(2))).message == ""
    message = judge({}, reply(out=torch.ones(2)), reply(out=torch.zeros(2))).message
    assert message.endswith("\nthe passes agree: it is the values that are wrong")
