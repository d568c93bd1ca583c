"""Broken implementations written without seeing the mistake catalogue (tests/heldout.py).

They start from the three correct submissions in other styles (tests/submissions/) and were
written by someone who had read neither solutions/ nor the grader, so they measure how well
the grading generalises beyond the catalogue's mistakes (solutions/mistakes.py, graded in
tests/test_broken.py). Each must lose points on its exercise, except the two ACCEPTED ones;
the feedback must name the mistake for those in NAMES (README "Naming the mistake"), show the
exception with the learner's line for those in CRASHES, and never name a wrong one. Their edits apply with the
kit's own edit function, inside the exercise's definition (the fast test at the end).
"""

from __future__ import annotations

import shutil

import pytest
from fresh_bugs import crash_shown
from heldout import BASES, BROKEN, SUBMISSIONS, mutated_source, source_path

from grader import checks
from grader.judge.engine import Options, grade
from grader.paths import MODULES

# Creating W_key before W_query is correct attention: only the zero-point note comparing with
# the book's seeded numbers sees it.
ACCEPTED = {"v1_key_created_first", "mha_key_created_first"}

# The diagnosis ids that name each mistake the kit recognises.
NAMES: dict[str, tuple[str, ...]] = {
    "causal_divide_by_dk": ("CausalAttention.scale_by_dk",),
    "causal_dropout_before_softmax": ("dropout.before_softmax",),
    "causal_dropout_in_eval": ("dropout.active_in_eval",),
    "causal_dropout_on_context": ("dropout.on_output",),
    "causal_keys_dot_T": ("CausalAttention.keys_T",),
    "causal_mask_not_sliced": ("CausalAttention.mask_not_sliced",),
    "causal_mask_plain_attribute": ("CausalAttention.mask_not_buffer",),
    "causal_scores_subscript_swapped": ("CausalAttention.queries_keys_swapped",),
    "causal_softmax_dim1": ("CausalAttention.softmax_wrong_dim",),
    "context_double_softmax": ("context_vectors.softmax_again",),
    "context_same_index": ("context_vectors.own_input_only",),
    "context_weights_transposed": ("context_vectors.weights_transposed",),
    "copy_value_from_key": ("copy_v2_weights_into_v1.value_from_key",),
    "copy_wrong_direction": ("copy_v2_weights_into_v1.reversed",),
    "dropout_ignores_training": ("attention_dropout.ignores_training",),
    "dropout_keep_prob_inverted": ("dropout.wrong_rate",),
    "dropout_renormalised_rows": ("attention_dropout.rows_renormalised",),
    "dropout_scale_one_over_p": ("dropout.p_swapped",),
    "ex32_ignores_dropout": ("wrapper_with_2d_output.dropout_ignored",),
    "ex32_one_head": (
        "wrapper_with_2d_output.changed_heads",
        "wrapper_with_2d_output.d_out_is_total",
    ),
    "ex32_total_as_d_out": (
        "wrapper_with_2d_output.changed_heads",
        "wrapper_with_2d_output.d_out_is_total",
    ),
    "gpt2_short_context": ("gpt2_small_attention.context_length",),
    "gpt2_with_qkv_bias": ("gpt2_small_attention.qkv_bias",),
    "mask_float_not_bool": ("causal_mask.float",),
    "mask_hides_diagonal": ("causal_mask.diagonal",),
    "mask_lower_triangle": ("causal_mask.wrong_triangle",),
    "masked_weights_fill_zero": ("masked_attention_weights.mask_fill_zero",),
    "masked_weights_in_place": ("inputs_modified_in_place",),
    "masked_weights_multiply_sqrt": ("masked_attention_weights.multiply_by_sqrt_dk",),
    "masked_weights_softmax_dim1": ("masked_attention_weights.softmax_wrong_dim",),
    "mha_dropout_before_softmax": ("dropout.before_softmax",),
    "mha_mask_not_sliced": ("MultiHeadAttention.mask_not_sliced",),
    "mha_merge_without_permute": ("MultiHeadAttention.merge_without_transpose",),
    "mha_no_contiguous": ("MultiHeadAttention.view_without_contiguous",),
    "mha_no_divisibility_check": ("MultiHeadAttention.no_divisibility_check",),
    "mha_no_out_proj": ("MultiHeadAttention.no_out_proj",),
    "mha_out_proj_bias_follows_qkv": (
        "MultiHeadAttention.out_proj_follows_qkv_bias",
        "MultiHeadAttention.out_proj_no_bias",
    ),
    "mha_out_proj_no_bias": ("MultiHeadAttention.out_proj_bias_not_added",),
    "mha_out_proj_untransposed": ("MultiHeadAttention.out_proj_untransposed",),
    "mha_scale_by_d_in": ("MultiHeadAttention.scale_by_d_in", "MultiHeadAttention.scale_by_d_out"),
    "mha_scale_by_d_out": ("MultiHeadAttention.scale_by_d_in", "MultiHeadAttention.scale_by_d_out"),
    "mha_split_without_permute": ("MultiHeadAttention.split_without_transpose",),
    "normalize_dim0_hardcoded": ("normalize_by_sum.dim_zero",),
    "normalize_global_sum": ("normalize_by_sum.global_sum",),
    "normalize_no_keepdim": ("normalize_by_sum.no_keepdim",),
    "query_scores_hardcoded_inputs1": ("attention_scores_for_query.book_query",),
    "query_scores_sum_over_tokens": ("attention_scores_for_query.sum_over_tokens",),
    "query_scores_total_sum": ("attention_scores_for_query.total_sum",),
    "renorm_by_original_sums": ("mask_and_renormalize.no_renormalization",),
    "renorm_in_place": ("inputs_modified_in_place",),
    "renorm_keeps_future": ("mask_and_renormalize.wrong_triangle",),
    "scores_diagonal_only": ("attention_scores.diagonal_only",),
    "scores_gram_of_features": ("attention_scores.transposed_product",),
    "scores_scaled_too_early": ("attention_scores.scaled",),
    "softmax_naive_dim0": ("softmax_naive.dim_zero",),
    "softmax_naive_exp_of_sum": ("softmax_naive.exp_of_sum",),
    "softmax_naive_last_dim_only": ("softmax_naive.dim_ignored",),
    "softmax_stable_global_max": ("softmax_stable.global_max",),
    "softmax_stable_lse_no_keepdim": ("softmax_stable.no_keepdim",),
    "softmax_stable_no_shift": ("softmax_stable.no_max_subtraction",),
    "v1_divide_by_dk": ("SelfAttention_v1.scale_by_dk",),
    "v1_scale_by_d_in": ("SelfAttention_v1.scale_by_d_in",),
    "v1_softmax_dim0": ("SelfAttention_v1.softmax_wrong_dim",),
    "v2_always_bias": ("SelfAttention_v2.qkv_bias_always",),
    "v2_no_scaling": ("SelfAttention_v2.no_scaling",),
    "v2_softmax_dim0": ("SelfAttention_v2.softmax_wrong_dim",),
    "wrapper_cat_tokens": ("MultiHeadAttentionWrapper.heads_wrong_dim",),
    "wrapper_drops_qkv_bias": ("MultiHeadAttentionWrapper.qkv_bias_ignored",),
    "wrapper_shared_head": ("MultiHeadAttentionWrapper.shared_head",),
    "wrapper_splits_d_out": ("MultiHeadAttentionWrapper.d_out_split",),
}

# Named by the crash itself: the feedback shows the exception with the line of the learner's
# code that raised it (crash_shown, in tests/fresh_bugs.py).
CRASHES = {
    "copy_without_transpose",
    "gpt2_d_out_per_head",
    "query_scores_sized_by_d_in",
    "v1_value_transposed_subscript",
}


def _grade(broken, tmp_path):
    folder = tmp_path / "submission"
    shutil.copytree(SUBMISSIONS / broken.base, folder)
    (folder / f"{broken.module}.py").write_text(mutated_source(broken))
    return grade(folder, Options(only=broken.exercise, hidden=False, speed=False))


@pytest.mark.slow
@pytest.mark.parametrize("broken", [pytest.param(b, id=b.id) for b in BROKEN])
def test_heldout_mistake(broken, tmp_path):
    report = _grade(broken, tmp_path)
    named = {d for r in report.results for d in r.diagnosis.split(",") if d}
    if broken.id in ACCEPTED:
        assert report.score == report.max_score and not named
        return
    assert report.score < report.max_score, f"{broken.id} ({broken.mistake}) lost no points"
    expected = set(NAMES.get(broken.id, ()))
    assert named <= expected, f"{broken.id} ({broken.mistake}) was named {sorted(named - expected)}"
    if expected:
        assert named, f"{broken.id} ({broken.mistake}) is no longer named"
    if broken.id in CRASHES:
        assert crash_shown(report, broken.module), f"{broken.id}: no exception shown with its line"


def test_heldout_list_is_consistent():
    ids = [b.id for b in BROKEN]
    assert len(ids) == len(set(ids)) >= 70
    assert set(NAMES) | ACCEPTED | CRASHES <= set(ids)
    assert not CRASHES & (set(NAMES) | ACCEPTED)
    assert {b.module for b in BROKEN} == set(MODULES)
    for b in BROKEN:
        assert b.base in BASES and b.edits, b.id
        assert checks.find(b.exercise).module == b.module, f"{b.id}: {b.exercise} is elsewhere"


@pytest.mark.parametrize("broken", [pytest.param(b, id=b.id) for b in BROKEN])
def test_heldout_case_applies_once_inside_its_exercise(broken):
    source = source_path(broken).read_text()
    mutated = mutated_source(broken)  # each `old` once in the exercise's code, or ValueError
    assert mutated != source
    compile(mutated, f"{broken.base}/{broken.module}.py ({broken.id})", "exec")
