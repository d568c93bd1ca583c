"""Broken implementations written after the held-out and learner sets, to measure the naming anew.

Twenty-five mistakes a learner makes in chapter 3, spread over the exercises and written in the
styles of tests/submissions/ (einsum, functional, book). They were written from the stubs, the
correct styles and the list of held-out mistakes already named (test_heldout.py's NAMES, so as
not to repeat those), before the catalogue was read, and graded once before any entry was
added for them: that first figure is the clean measurement of how the naming generalises
(README "Naming the mistake"). Five of them turned out to be the same mistake in the same style
as a held-out case that was not named then (the book's query hard-coded, a sum without keepdim,
nn.Linear's default bias, the copy without the transpose, out_proj's bias left out by hand).

Each says how it must be named, as learner_bugs.py's cases do: by one of `names`, or by a slip
whose text contains `spotted`; the cases in CRASHES by the exception the feedback shows with
the learner's line.

The bases have no MultiHeadAttentionCombinedQKV, so `mutated_source` first appends one, correct,
in the einsum style (COMBINED_QKV), to a base that lacks it.
"""

from __future__ import annotations

import ast
import re

from heldout import source_path
from learner_bugs import LearnerBug

from grader.judge.rules import top_level
from grader.judge.variants import apply_edits
from grader.report.results import ERROR

COMBINED_QKV_NAME = "MultiHeadAttentionCombinedQKV"

COMBINED_QKV = """

class MultiHeadAttentionCombinedQKV(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        if d_out % num_heads:
            raise ValueError("d_out must be a multiple of num_heads")
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.qkv = nn.Linear(d_in, 3 * d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        pos = torch.arange(context_length)
        self.register_buffer("mask", pos.reshape(1, -1) > pos.reshape(-1, 1))

    def forward(self, x):
        b, t, _ = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(self.head_dim)
        scores = scores.masked_fill(self.mask[:t, :t], float("-inf"))
        weights = self.dropout(torch.softmax(scores, dim=-1))
        ctx = torch.einsum("bhqk,bhkd->bhqd", weights, v)
        return self.out_proj(ctx.permute(0, 2, 1, 3).reshape(b, t, self.d_out))
"""


def mutated_source(bug: LearnerBug) -> str:
    """The module of the case's base with its edits applied inside the exercise's definition,
    COMBINED_QKV appended first when the exercise is that class and the base has none."""
    source = source_path(bug).read_text()
    if top_level(ast.parse(source), bug.exercise) is None and bug.exercise == COMBINED_QKV_NAME:
        source += COMBINED_QKV
    return apply_edits(source, bug.exercise, bug.edits)


def crash_shown(report, module: str) -> str:
    """The exception a failed check shows, where its feedback gives it with a line of the
    learner's `module` ("raised TypeError: ..." then "at module.py:40 in ..."); "" if none."""
    for r in report.results:
        if not r.counts or r.status != ERROR:
            continue
        lines = r.problem.splitlines()
        raised = re.match(r"raised (\w+)", lines[0]) if lines else None
        at = [line for line in lines[1:] if re.match(rf"\s*at {module}\.py:\d+ in ", line)]
        if raised and at:
            return f"{raised.group(1)} at {at[-1].split()[1]}"
    return ""


# The cases named by the crash itself: the feedback shows the exception with the line of the
# learner's code that raised it (crash_shown).
CRASHES = {
    "copy_weights_not_transposed",
    "copy_assigns_plain_tensor",
    "causal_float_mask_in_masked_fill",
    "gpt2_head_size_as_d_out",
}


def _bug(id, base, module, exercise, mistake, edits, names=(), spotted=""):
    return LearnerBug(id, base, module, exercise, mistake, tuple(edits), tuple(names), spotted)


FRESH_BUGS: tuple[LearnerBug, ...] = (
    # ------------------------------------------------------------------ §3.3
    _bug(
        "query_scores_book_query_hardcoded",
        "book_style",
        "simple_attention",
        "attention_scores_for_query",
        "the book's query inputs[1] is written into the loop instead of the query argument",
        [("torch.dot(token, query)", "torch.dot(token, inputs[1])")],
        names=("attention_scores_for_query.book_query",),
    ),
    _bug(
        "scores_inputs_times_inputs",
        "functional_style",
        "simple_attention",
        "attention_scores",
        "inputs @ inputs, without transposing the second operand",
        [("torch.mm(inputs, inputs.t())", "torch.mm(inputs, inputs)")],
        names=("attention_scores.not_transposed",),
    ),
    _bug(
        "normalize_sum_without_keepdim",
        "functional_style",
        "simple_attention",
        "normalize_by_sum",
        "the sum loses its dimension (no keepdim), so a matrix is divided by the wrong sums",
        [("torch.sum(scores, dim=dim, keepdim=True)", "torch.sum(scores, dim=dim)")],
        names=("normalize_by_sum.no_keepdim",),
    ),
    _bug(
        "softmax_stable_max_without_keepdim",
        "book_style",
        "simple_attention",
        "softmax_stable",
        "the maximum loses its dimension (no keepdim): each row is shifted by another's maximum",
        [("torch.max(x, dim=dim, keepdim=True).values", "torch.max(x, dim=dim).values")],
        names=("softmax_stable.no_keepdim",),
    ),
    _bug(
        "softmax_stable_returns_log",
        "einsum_style",
        "simple_attention",
        "softmax_stable",
        "x - logsumexp(x) is returned without exp: the log of the softmax",
        [("return log_probs.exp()", "return log_probs")],
        names=("softmax_stable.log_of_softmax",),
    ),
    # ------------------------------------------------------------------ §3.4
    _bug(
        "v1_multiply_by_sqrt_dk",
        "functional_style",
        "self_attention",
        "SelfAttention_v1",
        "the scores are multiplied by sqrt(d_k) instead of divided by it",
        [("* d_k**-0.5", "* d_k**0.5")],
        names=("SelfAttention_v1.multiply_by_sqrt_dk",),
    ),
    _bug(
        "v2_keys_from_query_layer",
        "einsum_style",
        "self_attention",
        "SelfAttention_v2",
        "a copy-paste slip: the keys are projected with W_query",
        [("k = _project(self.W_key, x)", "k = _project(self.W_query, x)")],
        names=("SelfAttention_v2.keys_from_W_query",),
        spotted="self.W_key is built in __init__ but forward never uses it",
    ),
    _bug(
        "v2_linear_default_bias",
        "functional_style",
        "self_attention",
        "SelfAttention_v2",
        "nn.Linear(d_in, d_out) without bias=qkv_bias: the projections always have a bias",
        [
            (
                "self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)",
                "self.W_query = nn.Linear(d_in, d_out)",
            ),
            (
                "self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)",
                "self.W_key = nn.Linear(d_in, d_out)",
            ),
            (
                "self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)",
                "self.W_value = nn.Linear(d_in, d_out)",
            ),
        ],
        names=("SelfAttention_v2.qkv_bias_always",),
    ),
    _bug(
        "copy_weights_not_transposed",
        "einsum_style",
        "self_attention",
        "copy_v2_weights_into_v1",
        "the nn.Linear weights are copied as they are, not transposed",
        [
            ("sa_v2.W_query.weight.T.clone()", "sa_v2.W_query.weight.clone()"),
            ("sa_v2.W_key.weight.T.clone()", "sa_v2.W_key.weight.clone()"),
            ("sa_v2.W_value.weight.T.clone()", "sa_v2.W_value.weight.clone()"),
        ],
    ),
    _bug(
        "copy_assigns_plain_tensor",
        "functional_style",
        "self_attention",
        "copy_v2_weights_into_v1",
        "setattr puts a plain tensor where a Parameter is registered (a TypeError)",
        [
            (
                "getattr(sa_v1, name).copy_(getattr(sa_v2, name).weight.t())",
                "setattr(sa_v1, name, getattr(sa_v2, name).weight.t())",
            )
        ],
    ),
    # ------------------------------------------------------------------ §3.5
    _bug(
        "renorm_by_softmax",
        "functional_style",
        "causal_attention",
        "mask_and_renormalize",
        "a second softmax instead of dividing by the row sums: the zeroed weights come back",
        [("return kept / torch.sum(kept, dim=-1, keepdim=True)", "return F.softmax(kept, dim=-1)")],
        names=("mask_and_renormalize.softmax_renormalization",),
    ),
    _bug(
        "masked_weights_zeroed_after_softmax",
        "einsum_style",
        "causal_attention",
        "masked_attention_weights",
        "softmax first, then the future weights set to 0: the rows no longer sum to 1",
        [
            (
                'scores = attn_scores.masked_fill(hidden, float("-inf"))\n'
                "    return torch.softmax(scores / math.sqrt(d_k), dim=-1)",
                "weights = torch.softmax(attn_scores / math.sqrt(d_k), dim=-1)\n"
                "    return weights.masked_fill(hidden, 0.0)",
            )
        ],
        names=("masked_attention_weights.mask_after_softmax",),
    ),
    _bug(
        "masked_weights_scale_by_num_tokens",
        "book_style",
        "causal_attention",
        "masked_attention_weights",
        "the d_k argument is ignored: scaled by the square root of the number of tokens",
        [("scores / d_k**0.5", "scores / n**0.5")],
        names=("masked_attention_weights.scale_by_num_tokens",),
    ),
    _bug(
        "dropout_survivors_not_scaled",
        "functional_style",
        "causal_attention",
        "attention_dropout",
        "the kept weights are not scaled by 1 / (1 - p)",
        [("attn_weights / (1 - p)", "attn_weights")],
        names=("dropout.no_rescale",),
    ),
    _bug(
        "dropout_in_place",
        "book_style",
        "causal_attention",
        "attention_dropout",
        "nn.Dropout(p, inplace=True): the caller's weights are changed",
        [("torch.nn.Dropout(p)", "torch.nn.Dropout(p, inplace=True)")],
        names=("inputs_modified_in_place",),
    ),
    _bug(
        "causal_float_mask_in_masked_fill",
        "book_style",
        "causal_attention",
        "CausalAttention",
        "the float 0/1 buffer is given to masked_fill_ without .bool() (a RuntimeError)",
        [("self.mask.bool()[:n_tok, :n_tok]", "self.mask[:n_tok, :n_tok]")],
    ),
    _bug(
        "causal_mask_comparison_reversed",
        "einsum_style",
        "causal_attention",
        "CausalAttention",
        "the mask built on the fly compares the positions the wrong way round: it hides the past",
        [
            (
                "future = pos.reshape(1, t) > pos.reshape(t, 1)",
                "future = pos.reshape(t, 1) > pos.reshape(1, t)",
            )
        ],
        names=("CausalAttention.mask_wrong_triangle",),
    ),
    _bug(
        "causal_where_arguments_swapped",
        "functional_style",
        "causal_attention",
        "CausalAttention",
        "torch.where(mask, scores, -inf): the future is kept and everything else hidden",
        [
            (
                'torch.where(self.mask[:num_tokens, :num_tokens], float("-inf"), scores)',
                'torch.where(self.mask[:num_tokens, :num_tokens], scores, float("-inf"))',
            )
        ],
        names=("CausalAttention.mask_inverted",),
    ),
    # ------------------------------------------------------------------ §3.6
    _bug(
        "wrapper_stacks_heads",
        "einsum_style",
        "multihead_attention",
        "MultiHeadAttentionWrapper",
        "torch.stack instead of torch.cat: a new last dimension instead of longer vectors",
        [
            (
                "torch.cat([head(x) for head in self.heads], dim=2)",
                "torch.stack([head(x) for head in self.heads], dim=-1)",
            )
        ],
        names=("MultiHeadAttentionWrapper.heads_wrong_dim",),
    ),
    _bug(
        "wrapper_heads_in_plain_list",
        "functional_style",
        "multihead_attention",
        "MultiHeadAttentionWrapper",
        "the heads kept in a plain list: their parameters are not registered",
        [("self.heads = nn.ModuleList(heads)", "self.heads = heads")],
        names=("MultiHeadAttentionWrapper.plain_list",),
    ),
    _bug(
        "mha_head_dim_true_division",
        "book_style",
        "multihead_attention",
        "MultiHeadAttention",
        "head_dim = d_out / num_heads: a float, which .view refuses (a TypeError)",
        [("self.head_dim = d_out // num_heads", "self.head_dim = d_out / num_heads")],
        spotted="makes self.head_dim a float",
    ),
    _bug(
        "mha_softmax_over_queries",
        "functional_style",
        "multihead_attention",
        "MultiHeadAttention",
        "softmax over dim=-2, the queries, instead of the keys",
        [("F.softmax(scores, dim=-1)", "F.softmax(scores, dim=-2)")],
        names=("MultiHeadAttention.softmax_wrong_dim",),
    ),
    _bug(
        "mha_out_proj_bias_dropped",
        "einsum_style",
        "multihead_attention",
        "MultiHeadAttention",
        "the hand-written output projection leaves out out_proj's bias",
        [(" + self.out_proj.bias", "")],
        names=("MultiHeadAttention.out_proj_bias_not_added",),
    ),
    _bug(
        "gpt2_head_size_as_d_out",
        "book_style",
        "multihead_attention",
        "gpt2_small_attention",
        "d_out = 64, the size of one head, instead of 768",
        [("d_in, d_out = 768, 768", "d_in, d_out = 768, 64")],
    ),
    _bug(
        "combined_qkv_split_heads_before_three",
        "einsum_style",
        "multihead_attention",
        "MultiHeadAttentionCombinedQKV",
        "the fused output split as (num_heads, 3, head_dim) instead of (3, num_heads, head_dim)",
        [
            (
                "reshape(b, t, 3, self.num_heads, self.head_dim)",
                "reshape(b, t, self.num_heads, 3, self.head_dim)",
            ),
            ("permute(2, 0, 3, 1, 4)", "permute(3, 0, 2, 1, 4)"),
        ],
        names=("MultiHeadAttentionCombinedQKV.heads_before_qkv",),
    ),
)
