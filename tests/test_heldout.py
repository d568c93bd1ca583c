"""Broken implementations written without seeing the mistake catalogue (tests/heldout.py).

They start from the three correct submissions in other styles (tests/submissions/) and were
written by someone who had read neither solutions/ nor the grader, so they measure how well
the grading generalises beyond the catalogue's mistakes (solutions/mistakes.py, graded in
tests/test_broken.py). Each must lose points on its exercise, except the two ACCEPTED ones;
the feedback must name the mistake for those in NAMES (the first measurement, README "Naming
the mistake") and must never name a wrong one for the others. Their edits apply with the
kit's own edit function, inside the exercise's definition (the fast test at the end).
"""

from __future__ import annotations

import shutil

import pytest
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
    "causal_mask_not_sliced": ("CausalAttention.mask_not_sliced",),
    "causal_dropout_before_softmax": ("dropout.before_softmax",),
    "causal_dropout_in_eval": ("dropout.active_in_eval",),
    "causal_dropout_on_context": ("dropout.on_output",),
    "causal_keys_dot_T": ("CausalAttention.keys_T",),
    "causal_mask_plain_attribute": ("CausalAttention.mask_not_buffer",),
    "causal_scores_subscript_swapped": ("CausalAttention.queries_keys_swapped",),
    "causal_softmax_dim1": ("CausalAttention.softmax_wrong_dim",),
    "context_weights_transposed": ("context_vectors.weights_transposed",),
    "copy_wrong_direction": ("copy_v2_weights_into_v1.reversed",),
    "dropout_ignores_training": ("attention_dropout.ignores_training",),
    "dropout_keep_prob_inverted": ("dropout.wrong_rate",),
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
    "mha_scale_by_d_in": ("MultiHeadAttention.scale_by_d_in", "MultiHeadAttention.scale_by_d_out"),
    "mha_scale_by_d_out": ("MultiHeadAttention.scale_by_d_in", "MultiHeadAttention.scale_by_d_out"),
    "mha_split_without_permute": ("MultiHeadAttention.split_without_transpose",),
    "normalize_global_sum": ("normalize_by_sum.global_sum",),
    "query_scores_sum_over_tokens": ("attention_scores_for_query.sum_over_tokens",),
    "renorm_by_original_sums": ("mask_and_renormalize.no_renormalization",),
    "renorm_in_place": ("inputs_modified_in_place",),
    "scores_gram_of_features": ("attention_scores.transposed_product",),
    "softmax_naive_last_dim_only": ("softmax_naive.dim_ignored",),
    "softmax_stable_global_max": ("softmax_stable.global_max",),
    "softmax_stable_no_shift": ("softmax_stable.no_max_subtraction",),
    "v1_divide_by_dk": ("SelfAttention_v1.scale_by_dk",),
    "v1_scale_by_d_in": ("SelfAttention_v1.scale_by_d_in",),
    "v1_softmax_dim0": ("SelfAttention_v1.softmax_wrong_dim",),
    "v2_no_scaling": ("SelfAttention_v2.no_scaling",),
    "v2_softmax_dim0": ("SelfAttention_v2.softmax_wrong_dim",),
    "wrapper_cat_tokens": ("MultiHeadAttentionWrapper.heads_wrong_dim",),
    "wrapper_drops_qkv_bias": ("MultiHeadAttentionWrapper.qkv_bias_ignored",),
    "wrapper_shared_head": ("MultiHeadAttentionWrapper.shared_head",),
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


def test_heldout_list_is_consistent():
    ids = [b.id for b in BROKEN]
    assert len(ids) == len(set(ids)) >= 70
    assert set(NAMES) | ACCEPTED <= set(ids)
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
