"""The known mistakes of chapter 3, as minimal edits of the reference solutions.

Every mistake the kit knows is written here once. The grader builds each mistaken variant
from these edits and runs a failed check on it too: when the learner's output matches a
variant's, the feedback names the mistake and the direction of the fix. Matching is
behavioural (outputs, structure, or the error raised), so it works whatever the learner's
code looks like. Some mistakes are named instead by the judge that sees them (the dropout
judges, the input-mutation check, the divisibility check): those entries have
`variant=False`, and `names` lists the diagnosis ids such a judge gives them. The kit's
tests grade every entry as a broken submission: it must lose points and be named by its id
or one of its `names`.

This file stays hidden with the solutions; a learner's copy of the kit carries only the
variants' outputs on the public checks, in fixtures/, and their titles and fixes.

Each edit is (old, new): `old` must occur exactly once in the code of `target` (the
exercise's function or class unless given; docstrings do not count and are never edited),
and is replaced by `new` (grader.judge.variants.apply_edits).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    id: str
    exercise: str
    title: str  # what the mistake is
    fix: str  # the direction of the fix, never the code
    edits: tuple[tuple[str, str], ...]
    target: str = ""  # the function or class to edit (default: the exercise)
    names: tuple[str, ...] = ()  # other diagnosis ids that name it (judges naming their own)
    variant: bool = True  # False: no variant is matched; a judge names the mistake itself


SOFTMAX_TITLE = "the softmax normalises over the wrong dimension"
SOFTMAX_FIX = "each query's weights (the last dim) must sum to 1: softmax over dim=-1"
NO_SCALE_TITLE = "the scores are not scaled"
NO_SCALE_FIX = "divide the scores by sqrt(d_k), d_k = keys.shape[-1], before the softmax"
DK_TITLE = "the scores are divided by d_k instead of its square root"
DK_FIX = "scale by sqrt(d_k) (d_k ** 0.5), not d_k"
MULTIPLY_TITLE = "the scores are multiplied by sqrt(d_k) instead of divided by it"
MULTIPLY_FIX = "divide by sqrt(d_k): the exponent of d_k is -0.5 when you multiply"
AFTER_TITLE = "the scaling is applied after the softmax"
AFTER_FIX = "scale the scores before the softmax; afterwards the rows no longer sum to 1"
SWAP_TITLE = "queries and keys are swapped"
SWAP_FIX = (
    "scores[i, j] = query_i · key_j: queries @ keys transposed, not keys @ queries transposed"
)
DIAG_TITLE = "the mask also hides the diagonal (each token from itself)"
DIAG_FIX = "mask only the future: j > i, i.e. triu(..., diagonal=1)"
TRIANGLE_TITLE = "the mask hides the past instead of the future"
TRIANGLE_FIX = "hide what lies above the diagonal (later tokens), keep what lies below"
ZERO_TITLE = "masked scores are filled with 0 instead of -inf"
ZERO_FIX = "fill with -inf before the softmax so masked weights become exactly 0"
SLICE_TITLE = "the mask is not sliced to the sequence length"
SLICE_FIX = "use mask[:num_tokens, :num_tokens]: inputs may be shorter than context_length"
BUFFER_TITLE = "the mask is a plain attribute, not a registered buffer"
BUFFER_FIX = "self.register_buffer('mask', ...) so .to(device) moves it with the module"
BIAS_TITLE = "qkv_bias is ignored"
BIAS_FIX = "pass bias=qkv_bias to the query, key and value layers"
BIAS_ALWAYS_TITLE = "qkv_bias is ignored: the layers always get nn.Linear's default bias"
OFF_BY_ONE_TITLE = "the mask starts one diagonal too late, so each token sees the next one"
OFF_BY_ONE_FIX = "hide every j > i: triu(..., diagonal=1)"
TRIL_TITLE = (
    "the mask is tril(..., diagonal=1): it hides the past, the diagonal and the next token, "
    "and shows the rest of the future (a last row with nothing left to see is NaN)"
)
TRIL_FIX = "the future lies above the diagonal: triu(..., diagonal=1)"
INVERTED_TITLE = "the mask is inverted: it hides each token and its past instead of its future"
INVERTED_FIX = "True (or 1) must mark the positions to hide: the future, above the diagonal"
# qkv_bias ignored: every projection built without a bias.
BIAS_EDITS = tuple(
    (
        f"self.{name} = nn.Linear(d_in, d_out, bias=qkv_bias)",
        f"self.{name} = nn.Linear(d_in, d_out, bias=False)",
    )
    for name in ("W_query", "W_key", "W_value")
)
# qkv_bias ignored the other way: every projection built with nn.Linear's default bias.
BIAS_ALWAYS_EDITS = tuple(
    (
        f"self.{name} = nn.Linear(d_in, d_out, bias=qkv_bias)",
        f"self.{name} = nn.Linear(d_in, d_out)",
    )
    for name in ("W_query", "W_key", "W_value")
)
# Mistakes named by a judge: a variant would not be matched (its outputs are random, or it is
# the input's change, not the output, that is wrong).
IN_PLACE = "inputs_modified_in_place"
DIM_ZERO_TITLE = "the sum is over dim=0, as in the book's 1-D example, whatever `dim` says"
NO_KEEPDIM_TITLE = (
    "the sum drops the summed dimension (no keepdim), so the division broadcasts wrongly"
)
NO_KEEPDIM_FIX = "keep the dimension: .sum(dim=dim, keepdim=True)"
TRANSPOSE_T_TITLE = "keys.T on a batch reverses every dimension"
TRANSPOSE_T_FIX = "transpose only the last two dims: keys.transpose(1, 2)"


def _scaling(exercise: str, scale: str = "keys.shape[-1] ** 0.5", batched: bool = False):
    """The scaling mistakes of a class whose softmax line divides by `scale`."""
    line = f"torch.softmax(attn_scores / {scale}, dim=-1)"
    mistakes = [
        Mistake(
            f"{exercise}.no_scaling",
            exercise,
            NO_SCALE_TITLE,
            NO_SCALE_FIX,
            ((line, "torch.softmax(attn_scores, dim=-1)"),),
        ),
        Mistake(
            f"{exercise}.scale_by_dk",
            exercise,
            DK_TITLE,
            DK_FIX,
            ((line, "torch.softmax(attn_scores / keys.shape[-1], dim=-1)"),),
        ),
        Mistake(
            f"{exercise}.scale_after_softmax",
            exercise,
            AFTER_TITLE,
            AFTER_FIX,
            ((line, "torch.softmax(attn_scores, dim=-1) / keys.shape[-1] ** 0.5"),),
        ),
        Mistake(
            f"{exercise}.softmax_wrong_dim",
            exercise,
            SOFTMAX_TITLE,
            SOFTMAX_FIX,
            ((line, line.replace("dim=-1", "dim=-2")),),
        ),
        Mistake(
            f"{exercise}.sqrt_of_scores",
            exercise,
            "the scores are raised to the power 0.5 instead of divided by sqrt(d_k)",
            "divide the scores by d_k ** 0.5; the square root of a negative score is NaN",
            ((line, "torch.softmax(attn_scores**0.5, dim=-1)"),),
        ),
        Mistake(
            f"{exercise}.multiply_by_sqrt_dk",
            exercise,
            MULTIPLY_TITLE,
            MULTIPLY_FIX,
            ((line, f"torch.softmax(attn_scores * {scale}, dim=-1)"),),
        ),
    ]
    mistakes.append(
        Mistake(
            f"{exercise}.scale_by_d_in",
            exercise,
            "the scores are scaled by the input size, not the key dimension",
            "scale by sqrt of the keys' last dimension (the head dimension)",
            ((line, "torch.softmax(attn_scores / x.shape[-1] ** 0.5, dim=-1)"),),
        )
    )
    if batched:
        mistakes.append(
            Mistake(
                f"{exercise}.scale_by_num_tokens",
                exercise,
                "the scores are scaled by the number of tokens (num_tokens, or keys.shape[1] "
                "for batched keys), not the key dimension",
                "take the key dimension from the last axis: keys.shape[-1]",
                ((line, "torch.softmax(attn_scores / keys.shape[1] ** 0.5, dim=-1)"),),
            )
        )
    return mistakes


SIMPLE = [
    Mistake(
        "attention_scores.transposed_product",
        "attention_scores",
        "the product is inputs.T @ inputs, which compares dimensions, not tokens",
        "scores compare tokens with tokens: a (T, d) @ (d, T) product gives (T, T)",
        (("inputs @ inputs.T", "inputs.T @ inputs"),),
    ),
    Mistake(
        "attention_scores.not_transposed",
        "attention_scores",
        "the product is inputs @ inputs: the second operand is not transposed",
        "compare tokens with tokens: multiply by the transpose, a (T, d) @ (d, T) product",
        (("inputs @ inputs.T", "inputs @ inputs"),),
    ),
    Mistake(
        "attention_scores.diagonal_only",
        "attention_scores",
        "only each token's score with itself (the diagonal) is computed",
        "score every pair of tokens: entry [i, j] is inputs[i] · inputs[j], shape (T, T)",
        (("inputs @ inputs.T", "(inputs * inputs).sum(dim=-1)"),),
    ),
    Mistake(
        "attention_scores.scaled",
        "attention_scores",
        "the scores are divided by sqrt(d_in), a scaling that comes only with trainable "
        "weights (§3.4)",
        "here the scores are the plain dot products, with no scaling",
        (("inputs @ inputs.T", "inputs @ inputs.T / inputs.shape[-1] ** 0.5"),),
    ),
    Mistake(
        "normalize_by_sum.global_sum",
        "normalize_by_sum",
        "the scores are divided by the sum of the whole tensor",
        "sum along `dim` only (keepdim=True), so each slice sums to 1",
        (("scores.sum(dim=dim, keepdim=True)", "scores.sum()"),),
    ),
    Mistake(
        "normalize_by_sum.dim_ignored",
        "normalize_by_sum",
        "the `dim` argument is ignored",
        "sum along the `dim` you are given",
        (("scores.sum(dim=dim, keepdim=True)", "scores.sum(dim=-1, keepdim=True)"),),
    ),
    Mistake(
        "normalize_by_sum.dim_zero",
        "normalize_by_sum",
        DIM_ZERO_TITLE,
        "sum along the `dim` you are given",
        (("scores.sum(dim=dim, keepdim=True)", "scores.sum(dim=0, keepdim=True)"),),
    ),
    Mistake(
        "normalize_by_sum.no_keepdim",
        "normalize_by_sum",
        NO_KEEPDIM_TITLE,
        NO_KEEPDIM_FIX,
        (("scores.sum(dim=dim, keepdim=True)", "scores.sum(dim=dim)"),),
    ),
    Mistake(
        "softmax_naive.global_sum",
        "softmax_naive",
        "the exponentials are divided by the sum of the whole tensor",
        "sum along `dim` only (keepdim=True)",
        (("exp_x.sum(dim=dim, keepdim=True)", "exp_x.sum()"),),
    ),
    Mistake(
        "softmax_naive.dim_ignored",
        "softmax_naive",
        "the `dim` argument is ignored",
        "sum along the `dim` you are given",
        (("exp_x.sum(dim=dim, keepdim=True)", "exp_x.sum(dim=-1, keepdim=True)"),),
    ),
    Mistake(
        "softmax_naive.dim_zero",
        "softmax_naive",
        DIM_ZERO_TITLE,
        "sum along the `dim` you are given",
        (("exp_x.sum(dim=dim, keepdim=True)", "exp_x.sum(dim=0, keepdim=True)"),),
    ),
    Mistake(
        "softmax_naive.no_keepdim",
        "softmax_naive",
        NO_KEEPDIM_TITLE,
        NO_KEEPDIM_FIX,
        (("exp_x.sum(dim=dim, keepdim=True)", "exp_x.sum(dim=dim)"),),
    ),
    Mistake(
        "softmax_naive.exp_of_sum",
        "softmax_naive",
        "the denominator is the exponential of the sum, not the sum of the exponentials",
        "exponentiate first, then sum the exponentials along dim",
        (
            (
                "exp_x / exp_x.sum(dim=dim, keepdim=True)",
                "exp_x / torch.exp(x.sum(dim=dim, keepdim=True))",
            ),
        ),
    ),
    Mistake(
        "softmax_stable.no_max_subtraction",
        "softmax_stable",
        "the maximum is not subtracted, so exp overflows (inf/inf = NaN) for large inputs",
        "subtract the maximum along dim (keepdim=True) before exp",
        (("x - x.amax(dim=dim, keepdim=True)", "x"),),
    ),
    Mistake(
        "softmax_stable.global_max",
        "softmax_stable",
        "one maximum over the whole tensor is subtracted, so rows far below it underflow "
        "to 0/0 = NaN",
        "subtract each slice's own maximum: amax(dim=dim, keepdim=True)",
        (("x.amax(dim=dim, keepdim=True)", "x.max()"),),
    ),
    Mistake(
        "softmax_stable.dim_ignored",
        "softmax_stable",
        "the `dim` argument is ignored",
        "take the max and the sum along the `dim` you are given",
        (
            ("x.amax(dim=dim, keepdim=True)", "x.amax(dim=-1, keepdim=True)"),
            ("exp_x.sum(dim=dim, keepdim=True)", "exp_x.sum(dim=-1, keepdim=True)"),
        ),
    ),
    Mistake(
        "softmax_stable.max_wrong_dim",
        "softmax_stable",
        "the maximum is taken over another dimension than the sum",
        "subtract the maximum along the same `dim` you normalise over",
        (("x.amax(dim=dim, keepdim=True)", "x.amax(dim=-1, keepdim=True)"),),
    ),
    Mistake(
        "softmax_stable.no_keepdim",
        "softmax_stable",
        "what is subtracted along dim (the maximum, or a logsumexp) drops that dimension "
        "(no keepdim), so it broadcasts along the wrong axis",
        "keep the reduced dimension (keepdim=True) so each slice is shifted by its own value",
        (("x - x.amax(dim=dim, keepdim=True)", "x - x.amax(dim=dim)"),),
    ),
    Mistake(
        "softmax_stable.log_of_softmax",
        "softmax_stable",
        "it returns the logarithm of the softmax: the final exponential is missing",
        "the result must be probabilities: exponentiate the shifted values, then divide by "
        "their sum",
        (
            (
                "return exp_x / exp_x.sum(dim=dim, keepdim=True)",
                "return shifted - torch.log(exp_x.sum(dim=dim, keepdim=True))",
            ),
        ),
    ),
    Mistake(
        "softmax_stable.sum_detached",
        "softmax_stable",
        "part of the computation is detached, so the gradient is wrong",
        "keep every step in the autograd graph (no .detach(), .data or .item())",
        (
            (
                "exp_x / exp_x.sum(dim=dim, keepdim=True)",
                "exp_x / exp_x.sum(dim=dim, keepdim=True).detach()",
            ),
        ),
    ),
    Mistake(
        "normalize_by_sum.in_place",
        "normalize_by_sum",
        "the scores are divided in place, which changes the caller's tensor",
        "return a new tensor: scores / scores.sum(...), not scores /= ...",
        (
            (
                "    return scores / scores.sum(dim=dim, keepdim=True)\n",
                "    scores /= scores.sum(dim=dim, keepdim=True)\n    return scores\n",
            ),
        ),
        names=(IN_PLACE,),
        variant=False,
    ),
    Mistake(
        "softmax_stable.in_place",
        "softmax_stable",
        "the maximum is subtracted in place, which changes the caller's tensor",
        "compute x - max into a new tensor (no sub_ or -=)",
        (("x - x.amax(dim=dim, keepdim=True)", "x.sub_(x.amax(dim=dim, keepdim=True))"),),
        names=(IN_PLACE,),
        variant=False,
    ),
    Mistake(
        "attention_scores_for_query.sum_over_tokens",
        "attention_scores_for_query",
        "the products are summed over the tokens instead of over the embedding dimension",
        "each token's score sums inputs[i, k] * query[k] over k (the last dim)",
        (("return inputs @ query", "return (inputs * query).sum(dim=0)"),),
    ),
    Mistake(
        "attention_scores_for_query.total_sum",
        "attention_scores_for_query",
        "every product is summed into one number instead of one score per token",
        "sum over the embedding dimension only (the last dim), one score per token",
        (("return inputs @ query", "return (inputs * query).sum()"),),
    ),
    Mistake(
        "attention_scores_for_query.book_query",
        "attention_scores_for_query",
        "the book's query inputs[1] is used instead of the `query` argument",
        "score the tokens against the query you are given",
        (("return inputs @ query", "return inputs @ inputs[1]"),),
    ),
    Mistake(
        "context_vectors.weights_transposed",
        "context_vectors",
        "the attention weights are used transposed (column i instead of row i)",
        "context vector i weighs the inputs with row i of the weights: sum_j w[i, j] * x[j]",
        (("attn_weights @ inputs", "attn_weights.T @ inputs"),),
    ),
    Mistake(
        "context_vectors.own_input_only",
        "context_vectors",
        "each context vector is only its own token's input, scaled by its row of weights "
        "summed, instead of a weighted sum over all tokens",
        "context vector i sums over every token j: w[i, j] * x[j], one matrix product",
        (("attn_weights @ inputs", "attn_weights.sum(dim=-1, keepdim=True) * inputs"),),
    ),
    Mistake(
        "context_vectors.softmax_again",
        "context_vectors",
        "the weights go through a softmax again",
        "the attention weights are already normalised: multiply them by the inputs as they are",
        (("attn_weights @ inputs", "torch.softmax(attn_weights, dim=-1) @ inputs"),),
    ),
]

SELF = [
    *_scaling("SelfAttention_v1"),
    Mistake(
        "SelfAttention_v1.queries_keys_swapped",
        "SelfAttention_v1",
        SWAP_TITLE,
        SWAP_FIX,
        (("attn_scores = queries @ keys.T  #", "attn_scores = keys @ queries.T  #"),),
    ),
    *_scaling("SelfAttention_v2"),
    Mistake(
        "SelfAttention_v2.queries_keys_swapped",
        "SelfAttention_v2",
        SWAP_TITLE,
        SWAP_FIX,
        (("attn_scores = queries @ keys.T  #", "attn_scores = keys @ queries.T  #"),),
    ),
    Mistake(
        "SelfAttention_v2.qkv_bias_ignored",
        "SelfAttention_v2",
        BIAS_TITLE,
        BIAS_FIX,
        BIAS_EDITS,
    ),
    Mistake(
        "SelfAttention_v2.qkv_bias_always",
        "SelfAttention_v2",
        BIAS_ALWAYS_TITLE,
        BIAS_FIX,
        BIAS_ALWAYS_EDITS,
    ),
    Mistake(
        "copy_v2_weights_into_v1.no_transpose",
        "copy_v2_weights_into_v1",
        "the weights are copied without transposing them",
        "nn.Linear stores (d_out, d_in); SelfAttention_v1 needs (d_in, d_out): transpose",
        (
            (
                "sa_v1.W_query.copy_(sa_v2.W_query.weight.T)",
                "sa_v1.W_query.data = sa_v2.W_query.weight.clone()",
            ),
            (
                "sa_v1.W_key.copy_(sa_v2.W_key.weight.T)",
                "sa_v1.W_key.data = sa_v2.W_key.weight.clone()",
            ),
            (
                "sa_v1.W_value.copy_(sa_v2.W_value.weight.T)",
                "sa_v1.W_value.data = sa_v2.W_value.weight.clone()",
            ),
        ),
    ),
    Mistake(
        "copy_v2_weights_into_v1.swapped",
        "copy_v2_weights_into_v1",
        "two of the weight matrices are copied into each other's place",
        "copy W_query into W_query, W_key into W_key and W_value into W_value",
        (
            (
                "sa_v1.W_query.copy_(sa_v2.W_query.weight.T)",
                "sa_v1.W_query.copy_(sa_v2.W_key.weight.T)",
            ),
            (
                "sa_v1.W_key.copy_(sa_v2.W_key.weight.T)",
                "sa_v1.W_key.copy_(sa_v2.W_query.weight.T)",
            ),
        ),
    ),
]

MASK_LINE = "attn_scores.masked_fill_(self.mask[:num_tokens, :num_tokens].bool(), -torch.inf)"
SOFTMAX_LINE = "        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)\n"
DROPOUT_LINE = "        attn_weights = self.dropout(attn_weights)\n"
MHA_FILL = "        attn_scores.masked_fill_(mask_bool, -torch.inf)\n"
DROPOUT_FN = "    return F.dropout(attn_weights, p=p, training=training)\n"
EVAL_IDENTITY = "    if not training:\n        return attn_weights\n"
DROPOUT_BEFORE_TITLE = "dropout is applied to the scores, before the softmax"
DROPOUT_BEFORE_FIX = "apply dropout to the attention weights, after the softmax"
DROPOUT_OUTPUT_TITLE = "dropout is applied to the context vectors instead of the attention weights"
DROPOUT_OUTPUT_FIX = "apply dropout to the attention weights, before multiplying by the values"
DROPOUT_EVAL_TITLE = "dropout stays active in eval mode"
DROPOUT_EVAL_FIX = "use the module's self.dropout, which model.eval() switches off"
BUFFER_LINE = 'self.register_buffer(\n            "mask", torch.triu(torch.ones(context_length, context_length), diagonal=1)\n        )'
MHA_MASK = "mask_bool = self.mask[:num_tokens, :num_tokens].bool()"


def _mask_mistakes(exercise: str, mask_line: str, fill_line: str) -> list[Mistake]:
    """Mask mistakes of a class that builds its mask with BUFFER_LINE and slices it in
    `mask_line`, filling with -inf in `fill_line`."""
    return [
        Mistake(
            f"{exercise}.mask_diagonal",
            exercise,
            DIAG_TITLE,
            DIAG_FIX,
            ((BUFFER_LINE, BUFFER_LINE.replace("diagonal=1", "diagonal=0")),),
        ),
        Mistake(
            f"{exercise}.mask_wrong_triangle",
            exercise,
            TRIANGLE_TITLE,
            TRIANGLE_FIX,
            (
                (
                    BUFFER_LINE,
                    BUFFER_LINE.replace("torch.triu", "torch.tril").replace(
                        "diagonal=1", "diagonal=-1"
                    ),
                ),
            ),
        ),
        Mistake(
            f"{exercise}.mask_tril",
            exercise,
            TRIL_TITLE,
            TRIL_FIX,
            ((BUFFER_LINE, BUFFER_LINE.replace("torch.triu", "torch.tril")),),
        ),
        Mistake(
            f"{exercise}.mask_fill_zero",
            exercise,
            ZERO_TITLE,
            ZERO_FIX,
            ((fill_line, fill_line.replace("-torch.inf", "0.0")),),
        ),
        Mistake(
            f"{exercise}.mask_not_sliced",
            exercise,
            SLICE_TITLE,
            SLICE_FIX,
            ((mask_line, mask_line.replace("[:num_tokens, :num_tokens]", "")),),
        ),
        Mistake(
            f"{exercise}.mask_not_buffer",
            exercise,
            BUFFER_TITLE,
            BUFFER_FIX,
            (
                (
                    BUFFER_LINE,
                    "self.mask = torch.triu(torch.ones(context_length, context_length), diagonal=1)",
                ),
            ),
        ),
        Mistake(
            f"{exercise}.mask_off_by_one",
            exercise,
            OFF_BY_ONE_TITLE,
            OFF_BY_ONE_FIX,
            ((BUFFER_LINE, BUFFER_LINE.replace("diagonal=1", "diagonal=2")),),
        ),
        Mistake(
            f"{exercise}.mask_inverted",
            exercise,
            INVERTED_TITLE,
            INVERTED_FIX,
            (
                (
                    BUFFER_LINE,
                    BUFFER_LINE.replace("torch.triu", "torch.tril").replace(", diagonal=1", ""),
                ),
            ),
        ),
        Mistake(
            f"{exercise}.no_mask",
            exercise,
            "no causal mask is applied",
            "fill the scores above the diagonal with -inf before the softmax, and keep the "
            "result: masked_fill returns a new tensor, masked_fill_ changes the scores in place",
            ((fill_line, "pass"),),
        ),
    ]


CAUSAL = [
    Mistake(
        "causal_mask.diagonal", "causal_mask", DIAG_TITLE, DIAG_FIX, (("diagonal=1", "diagonal=0"),)
    ),
    Mistake(
        "causal_mask.wrong_triangle",
        "causal_mask",
        TRIANGLE_TITLE,
        TRIANGLE_FIX,
        (("torch.triu(", "torch.tril("), ("diagonal=1", "diagonal=-1")),
    ),
    Mistake(
        "causal_mask.tril",
        "causal_mask",
        TRIL_TITLE,
        TRIL_FIX,
        (("torch.triu(", "torch.tril("),),
    ),
    Mistake(
        "causal_mask.off_by_one",
        "causal_mask",
        OFF_BY_ONE_TITLE,
        OFF_BY_ONE_FIX,
        (("diagonal=1", "diagonal=2"),),
    ),
    Mistake(
        "causal_mask.float",
        "causal_mask",
        "the mask holds 0.0/1.0 floats, not booleans",
        "make it a bool tensor (dtype=torch.bool, or .bool())",
        ((", dtype=torch.bool", ""),),
    ),
    Mistake(
        "causal_mask.inverted",
        "causal_mask",
        "True marks the visible positions instead of the hidden ones",
        "True must mean 'hide this position': the future, above the diagonal",
        (("torch.triu(", "~torch.triu("),),
    ),
    Mistake(
        "mask_and_renormalize.no_renormalization",
        "mask_and_renormalize",
        "the masked weights are not renormalised",
        "divide each row by its new sum",
        (
            (
                "return masked_simple / masked_simple.sum(dim=-1, keepdim=True)",
                "return masked_simple",
            ),
        ),
    ),
    Mistake(
        "mask_and_renormalize.renormalize_wrong_dim",
        "mask_and_renormalize",
        "the rows are renormalised over the wrong dimension",
        "each row (the last dim) must sum to 1",
        (("sum(dim=-1, keepdim=True)", "sum(dim=-2, keepdim=True)"),),
    ),
    Mistake(
        "mask_and_renormalize.softmax_renormalization",
        "mask_and_renormalize",
        "the rows are renormalised with a second softmax, which gives the zeroed future "
        "weights a share again",
        "divide each masked row by its sum: the softmax of a 0 is not 0",
        (
            (
                "return masked_simple / masked_simple.sum(dim=-1, keepdim=True)",
                "return torch.softmax(masked_simple, dim=-1)",
            ),
        ),
    ),
    Mistake(
        "mask_and_renormalize.wrong_triangle",
        "mask_and_renormalize",
        TRIANGLE_TITLE,
        TRIANGLE_FIX,
        (("attn_weights.masked_fill(mask, 0.0)", "attn_weights.masked_fill(mask.T, 0.0)"),),
    ),
    Mistake(
        "mask_and_renormalize.mask_diagonal",
        "mask_and_renormalize",
        DIAG_TITLE,
        DIAG_FIX,
        (
            (
                "causal_mask(num_tokens)",
                "torch.ones(num_tokens, num_tokens, dtype=torch.bool).triu()",
            ),
        ),
    ),
    Mistake(
        "masked_attention_weights.no_scaling",
        "masked_attention_weights",
        NO_SCALE_TITLE,
        "divide the scores by sqrt(d_k) before the softmax",
        (("masked / d_k**0.5", "masked"),),
    ),
    Mistake(
        "masked_attention_weights.scale_by_dk",
        "masked_attention_weights",
        DK_TITLE,
        DK_FIX,
        (("masked / d_k**0.5", "masked / d_k"),),
    ),
    Mistake(
        "masked_attention_weights.multiply_by_sqrt_dk",
        "masked_attention_weights",
        MULTIPLY_TITLE,
        MULTIPLY_FIX,
        (("masked / d_k**0.5", "masked * d_k**0.5"),),
    ),
    Mistake(
        "masked_attention_weights.scale_by_num_tokens",
        "masked_attention_weights",
        "the scores are scaled by the number of tokens, not by the d_k you are given",
        "divide by sqrt(d_k), the argument: the keys' size, not the sequence length",
        (("masked / d_k**0.5", "masked / num_tokens**0.5"),),
    ),
    Mistake(
        "masked_attention_weights.scale_after_softmax",
        "masked_attention_weights",
        AFTER_TITLE,
        AFTER_FIX,
        (("torch.softmax(masked / d_k**0.5, dim=-1)", "torch.softmax(masked, dim=-1) / d_k**0.5"),),
    ),
    Mistake(
        "masked_attention_weights.softmax_wrong_dim",
        "masked_attention_weights",
        SOFTMAX_TITLE,
        SOFTMAX_FIX,
        (("dim=-1)", "dim=-2)"),),
    ),
    Mistake(
        "masked_attention_weights.mask_fill_zero",
        "masked_attention_weights",
        ZERO_TITLE,
        ZERO_FIX,
        (("masked_fill(mask, -torch.inf)", "masked_fill(mask, 0.0)"),),
    ),
    Mistake(
        "masked_attention_weights.mask_after_softmax",
        "masked_attention_weights",
        "the mask is applied after the softmax, without renormalising",
        "mask with -inf before the softmax (or renormalise the rows afterwards)",
        (
            (
                "torch.softmax(masked / d_k**0.5, dim=-1)",
                "torch.softmax(attn_scores / d_k**0.5, dim=-1).masked_fill(mask, 0.0)",
            ),
        ),
    ),
    Mistake(
        "masked_attention_weights.mask_wrong_triangle",
        "masked_attention_weights",
        TRIANGLE_TITLE,
        TRIANGLE_FIX,
        (("masked_fill(mask, -torch.inf)", "masked_fill(mask.T, -torch.inf)"),),
    ),
    Mistake(
        "masked_attention_weights.mask_diagonal",
        "masked_attention_weights",
        DIAG_TITLE,
        DIAG_FIX,
        (
            (
                "mask = causal_mask(num_tokens).to(attn_scores.device)",
                "mask = torch.ones(num_tokens, num_tokens, dtype=torch.bool).triu()",
            ),
        ),
    ),
    Mistake(
        "masked_attention_weights.no_mask",
        "masked_attention_weights",
        "no causal mask is applied",
        "fill the scores above the diagonal with -inf before the softmax, and keep the "
        "result: masked_fill returns a new tensor",
        (("masked = attn_scores.masked_fill(mask, -torch.inf)", "masked = attn_scores"),),
    ),
    Mistake(
        "mask_and_renormalize.in_place",
        "mask_and_renormalize",
        "the weights are masked in place, which changes the caller's tensor",
        "use masked_fill (a new tensor), not masked_fill_",
        (("attn_weights.masked_fill(mask, 0.0)", "attn_weights.masked_fill_(mask, 0.0)"),),
        names=(IN_PLACE,),
        variant=False,
    ),
    Mistake(
        "masked_attention_weights.in_place",
        "masked_attention_weights",
        "the scores are masked in place, which changes the caller's tensor",
        "use masked_fill (a new tensor), not masked_fill_",
        (
            (
                "attn_scores.masked_fill(mask, -torch.inf)",
                "attn_scores.masked_fill_(mask, -torch.inf)",
            ),
        ),
        names=(IN_PLACE,),
        variant=False,
    ),
    Mistake(
        "attention_dropout.no_rescale",
        "attention_dropout",
        "the surviving weights are not rescaled",
        "scale the kept weights by 1 / (1 - p) so the expected value is unchanged",
        (
            (
                DROPOUT_FN,
                f"{EVAL_IDENTITY}    return attn_weights * (torch.rand_like(attn_weights) >= p)\n",
            ),
        ),
        names=("dropout.no_rescale",),
        variant=False,
    ),
    Mistake(
        "attention_dropout.scale_one_over_p",
        "attention_dropout",
        "the surviving weights are scaled by 1 / p instead of 1 / (1 - p)",
        "p is the probability of dropping: the kept weights are scaled by 1 / (1 - p)",
        (
            (
                DROPOUT_FN,
                f"{EVAL_IDENTITY}    return attn_weights * (torch.rand_like(attn_weights) >= p) / p\n",
            ),
        ),
        names=("dropout.p_swapped",),
        variant=False,
    ),
    Mistake(
        "attention_dropout.keep_prob_as_p",
        "attention_dropout",
        "dropout is given the probability of keeping a weight, 1 - p, instead of p",
        "p is the probability of zeroing a weight: pass p itself",
        (("p=p, training=training", "p=1 - p, training=training"),),
        names=("dropout.p_swapped", "dropout.wrong_rate"),
        variant=False,
    ),
    Mistake(
        "attention_dropout.in_place",
        "attention_dropout",
        "dropout is applied in place, which changes the caller's tensor",
        "return a new tensor (no inplace=True)",
        (("training=training)", "training=training, inplace=True)"),),
        names=(IN_PLACE,),
        variant=False,
    ),
    Mistake(
        "attention_dropout.rows_renormalised",
        "attention_dropout",
        "the rows are renormalised after dropout, which undoes the 1 / (1 - p) scaling and "
        "changes the weights even when nothing is dropped",
        "return dropout's output as it is: it only zeroes and rescales",
        (
            (
                DROPOUT_FN,
                "    dropped = F.dropout(attn_weights, p=p, training=training)\n"
                "    return dropped / dropped.sum(dim=-1, keepdim=True)\n",
            ),
        ),
    ),
    Mistake(
        "attention_dropout.fixed_seed",
        "attention_dropout",
        "the random seed is reset on every call, so every call drops the same weights",
        "never seed inside the function; the caller owns the random state",
        ((DROPOUT_FN, "    torch.manual_seed(123)\n" + DROPOUT_FN),),
        names=("dropout.same_mask_every_call",),
        variant=False,
    ),
    *_scaling("CausalAttention", batched=True),
    Mistake(
        "CausalAttention.queries_keys_swapped",
        "CausalAttention",
        SWAP_TITLE,
        SWAP_FIX,
        (("queries @ keys.transpose(1, 2)", "keys @ queries.transpose(1, 2)"),),
    ),
    Mistake(
        "CausalAttention.keys_T",
        "CausalAttention",
        TRANSPOSE_T_TITLE,
        TRANSPOSE_T_FIX,
        (("queries @ keys.transpose(1, 2)", "queries @ keys.T"),),
    ),
    Mistake(
        "CausalAttention.qkv_bias_ignored",
        "CausalAttention",
        BIAS_TITLE,
        BIAS_FIX,
        BIAS_EDITS,
    ),
    Mistake(
        "CausalAttention.qkv_bias_always",
        "CausalAttention",
        BIAS_ALWAYS_TITLE,
        BIAS_FIX,
        BIAS_ALWAYS_EDITS,
    ),
    *_mask_mistakes("CausalAttention", MASK_LINE, MASK_LINE),
    Mistake(
        "CausalAttention.dropout_before_softmax",
        "CausalAttention",
        DROPOUT_BEFORE_TITLE,
        DROPOUT_BEFORE_FIX,
        (
            (
                f"        {MASK_LINE}\n{SOFTMAX_LINE}{DROPOUT_LINE}",
                f"        attn_scores = self.dropout(attn_scores)\n        {MASK_LINE}\n{SOFTMAX_LINE}",
            ),
        ),
        names=("dropout.before_softmax",),
        variant=False,
    ),
    Mistake(
        "CausalAttention.dropout_on_output",
        "CausalAttention",
        DROPOUT_OUTPUT_TITLE,
        DROPOUT_OUTPUT_FIX,
        (
            (
                f"{DROPOUT_LINE}\n        context_vec = attn_weights @ values",
                "\n        context_vec = self.dropout(attn_weights @ values)",
            ),
        ),
        names=("dropout.on_output",),
        variant=False,
    ),
    Mistake(
        "CausalAttention.dropout_in_eval",
        "CausalAttention",
        DROPOUT_EVAL_TITLE,
        DROPOUT_EVAL_FIX,
        (
            (
                "attn_weights = self.dropout(attn_weights)",
                "attn_weights = F.dropout(attn_weights, self.dropout.p)",
            ),
        ),
        names=("dropout.active_in_eval",),
        variant=False,
    ),
    Mistake(
        "CausalAttention.dropout_p_ignored",
        "CausalAttention",
        "the dropout rate is fixed instead of the `dropout` argument",
        "build the dropout layer with the rate you are given: nn.Dropout(dropout)",
        (("nn.Dropout(dropout)", "nn.Dropout(0.5)"),),
        names=("dropout.wrong_p",),
        variant=False,
    ),
]

MHA_SOFTMAX = "torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)"
SPLIT = (
    "        keys = keys.view(b, num_tokens, self.num_heads, self.head_dim)\n"
    "        queries = queries.view(b, num_tokens, self.num_heads, self.head_dim)\n"
    "        values = values.view(b, num_tokens, self.num_heads, self.head_dim)\n"
)
TRANSPOSE = (
    "        keys = keys.transpose(1, 2)\n"
    "        queries = queries.transpose(1, 2)\n"
    "        values = values.transpose(1, 2)\n"
)


def _merge_and_out_proj(exercise: str) -> list[Mistake]:
    """The merge and output mistakes of a class that ends, as MultiHeadAttention does, with
    `(attn_weights @ values).transpose(1, 2)` and `return self.out_proj(context_vec)`."""
    return [
        Mistake(
            f"{exercise}.merge_without_transpose",
            exercise,
            "the heads are merged without transposing back first",
            "transpose (b, num_heads, num_tokens, head_dim) back to (b, num_tokens, num_heads, "
            "head_dim) before the view to (b, num_tokens, d_out)",
            (("(attn_weights @ values).transpose(1, 2)", "(attn_weights @ values)"),),
        ),
        Mistake(
            f"{exercise}.no_out_proj",
            exercise,
            "out_proj is not applied",
            "finish with self.out_proj on the merged heads",
            (("return self.out_proj(context_vec)", "return context_vec"),),
        ),
        Mistake(
            f"{exercise}.out_proj_bias_not_added",
            exercise,
            "out_proj's bias is never added: only its weight is applied",
            "apply the whole layer, self.out_proj(...), or add its bias as well",
            (
                (
                    "return self.out_proj(context_vec)",
                    "return context_vec @ self.out_proj.weight.T",
                ),
            ),
        ),
        Mistake(
            f"{exercise}.out_proj_untransposed",
            exercise,
            "out_proj's weight is applied untransposed: nn.Linear computes x @ weight.T",
            "call self.out_proj(...), or multiply by the transpose of its weight",
            (
                (
                    "return self.out_proj(context_vec)",
                    "return context_vec @ self.out_proj.weight + self.out_proj.bias",
                ),
            ),
        ),
    ]


MULTIHEAD = [
    Mistake(
        "MultiHeadAttentionWrapper.dropout_not_passed",
        "MultiHeadAttentionWrapper",
        "the heads are built without the dropout rate",
        "pass dropout on to every CausalAttention head",
        (
            (
                "CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)",
                "CausalAttention(d_in, d_out, context_length, 0.0, qkv_bias)",
            ),
        ),
        names=("dropout.not_applied",),
        variant=False,
    ),
    Mistake(
        "MultiHeadAttention.no_divisibility_check",
        "MultiHeadAttention",
        "no error is raised when d_out is not divisible by num_heads",
        "raise a ValueError when d_out % num_heads != 0 (an assert vanishes under python -O)",
        (
            (
                "        if d_out % num_heads != 0:\n"
                '            raise ValueError(f"d_out ({d_out}) must be divisible by num_heads ({num_heads})")\n',
                "",
            ),
        ),
        variant=False,
    ),
    Mistake(
        "MultiHeadAttention.dropout_before_softmax",
        "MultiHeadAttention",
        DROPOUT_BEFORE_TITLE,
        DROPOUT_BEFORE_FIX,
        (
            (
                f"{MHA_FILL}{SOFTMAX_LINE}{DROPOUT_LINE}",
                f"{MHA_FILL}        attn_scores = self.dropout(attn_scores)\n{SOFTMAX_LINE}",
            ),
        ),
        names=("dropout.before_softmax",),
        variant=False,
    ),
    Mistake(
        "MultiHeadAttention.dropout_on_output",
        "MultiHeadAttention",
        DROPOUT_OUTPUT_TITLE,
        DROPOUT_OUTPUT_FIX,
        (
            (DROPOUT_LINE, ""),
            (
                "context_vec = (attn_weights @ values).transpose(1, 2)",
                "context_vec = self.dropout(attn_weights @ values).transpose(1, 2)",
            ),
        ),
        names=("dropout.on_output",),
        variant=False,
    ),
    Mistake(
        "MultiHeadAttention.dropout_in_eval",
        "MultiHeadAttention",
        DROPOUT_EVAL_TITLE,
        DROPOUT_EVAL_FIX,
        (
            (
                "attn_weights = self.dropout(attn_weights)",
                "attn_weights = nn.Dropout(self.dropout.p)(attn_weights)",
            ),
        ),
        names=("dropout.active_in_eval",),
        variant=False,
    ),
    Mistake(
        "wrapper_with_2d_output.dropout_ignored",
        "wrapper_with_2d_output",
        "the dropout argument is not passed on",
        "build the wrapper with the dropout you are given",
        (
            (
                "MultiHeadAttentionWrapper(d_in, 1, context_length, dropout, num_heads=2)",
                "MultiHeadAttentionWrapper(d_in, 1, context_length, 0.0, num_heads=2)",
            ),
        ),
        variant=False,
    ),
    Mistake(
        "MultiHeadAttentionWrapper.heads_wrong_dim",
        "MultiHeadAttentionWrapper",
        "the heads' context vectors are joined along the wrong dimension",
        "concatenate the heads' context vectors along the last dim (dim=-1)",
        (("dim=-1)", "dim=1)"),),
    ),
    Mistake(
        "MultiHeadAttentionWrapper.d_out_split",
        "MultiHeadAttentionWrapper",
        "each head gets d_out // num_heads, but the wrapper's d_out is the size of one head",
        "give every head the full d_out: the wrapper's output has num_heads * d_out dims",
        (
            (
                "CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)",
                "CausalAttention(d_in, d_out // num_heads, context_length, dropout, qkv_bias)",
            ),
        ),
    ),
    Mistake(
        "MultiHeadAttentionWrapper.shared_head",
        "MultiHeadAttentionWrapper",
        "every head is the same module, so all heads share one set of weights",
        "build a new CausalAttention for each head (a list comprehension, not [head] * n)",
        (
            (
                "[\n                CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)\n"
                "                for _ in range(num_heads)\n            ]",
                "[CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)] * num_heads",
            ),
        ),
    ),
    *_scaling("MultiHeadAttention"),
    Mistake(
        "MultiHeadAttention.scale_by_d_out",
        "MultiHeadAttention",
        "the scores are scaled by d_out instead of the head dimension",
        "each head's keys have head_dim = d_out // num_heads dims: scale by sqrt(head_dim)",
        ((MHA_SOFTMAX, "torch.softmax(attn_scores / self.d_out ** 0.5, dim=-1)"),),
    ),
    Mistake(
        "MultiHeadAttention.split_without_transpose",
        "MultiHeadAttention",
        "the heads are split with a view to (b, num_heads, num_tokens, head_dim) and no "
        "transpose, which mixes tokens across heads",
        "view as (b, num_tokens, num_heads, head_dim), then transpose(1, 2)",
        (
            (
                SPLIT
                + "\n        # (b, num_tokens, num_heads, head_dim) -> (b, num_heads, num_tokens, head_dim)\n"
                + TRANSPOSE,
                SPLIT.replace("num_tokens, self.num_heads", "self.num_heads, num_tokens"),
            ),
        ),
    ),
    Mistake(
        "MultiHeadAttention.split_dims_swapped",
        "MultiHeadAttention",
        "the last dim is split as (head_dim, num_heads) instead of (num_heads, head_dim), "
        "which makes head_dim heads of num_heads features each",
        "split d_out as (num_heads, head_dim): each head takes its own block of head_dim features",
        ((SPLIT, SPLIT.replace("self.num_heads, self.head_dim", "self.head_dim, self.num_heads")),),
    ),
    *_merge_and_out_proj("MultiHeadAttention"),
    Mistake(
        "MultiHeadAttention.out_proj_no_bias",
        "MultiHeadAttention",
        "out_proj has no bias",
        "out_proj = nn.Linear(d_out, d_out) keeps its bias whatever qkv_bias says",
        (
            (
                "self.out_proj = nn.Linear(d_out, d_out)",
                "self.out_proj = nn.Linear(d_out, d_out, bias=False)",
            ),
        ),
    ),
    Mistake(
        "MultiHeadAttention.out_proj_follows_qkv_bias",
        "MultiHeadAttention",
        "out_proj's bias follows qkv_bias",
        "out_proj always has a bias; qkv_bias is for the query, key and value layers",
        (
            (
                "self.out_proj = nn.Linear(d_out, d_out)",
                "self.out_proj = nn.Linear(d_out, d_out, bias=qkv_bias)",
            ),
        ),
    ),
    Mistake(
        "MultiHeadAttention.qkv_bias_ignored",
        "MultiHeadAttention",
        BIAS_TITLE,
        BIAS_FIX,
        BIAS_EDITS,
    ),
    Mistake(
        "MultiHeadAttention.qkv_bias_always",
        "MultiHeadAttention",
        BIAS_ALWAYS_TITLE,
        BIAS_FIX,
        BIAS_ALWAYS_EDITS,
    ),
    Mistake(
        "MultiHeadAttention.queries_keys_swapped",
        "MultiHeadAttention",
        SWAP_TITLE,
        SWAP_FIX,
        (("queries @ keys.transpose(2, 3)", "keys @ queries.transpose(2, 3)"),),
    ),
    *_mask_mistakes(
        "MultiHeadAttention", MHA_MASK, "attn_scores.masked_fill_(mask_bool, -torch.inf)"
    ),
    Mistake(
        "gpt2_small_attention.qkv_bias",
        "gpt2_small_attention",
        "the query, key and value layers have a bias",
        "GPT-2 size here means qkv_bias=False",
        (("qkv_bias=False", "qkv_bias=True"),),
    ),
    Mistake(
        "gpt2_small_attention.heads",
        "gpt2_small_attention",
        "the number of heads is not 12",
        "the smallest GPT-2 has 12 heads (head_dim 64)",
        (("num_heads=12", "num_heads=8"),),
    ),
    Mistake(
        "gpt2_small_attention.context_length",
        "gpt2_small_attention",
        "the context length is not 1,024",
        "the smallest GPT-2 reads up to 1,024 tokens",
        (("context_length=1024", "context_length=768"),),
    ),
    Mistake(
        "wrapper_with_2d_output.changed_heads",
        "wrapper_with_2d_output",
        "num_heads was changed instead of d_out",
        "keep num_heads=2 and make each head's d_out 1",
        (
            (
                "MultiHeadAttentionWrapper(d_in, 1, context_length, dropout, num_heads=2)",
                "MultiHeadAttentionWrapper(d_in, 2, context_length, dropout, num_heads=1)",
            ),
        ),
    ),
    Mistake(
        "wrapper_with_2d_output.d_out_is_total",
        "wrapper_with_2d_output",
        "d_out was set to the total size, but the wrapper's d_out is per head",
        "the output has num_heads * d_out dimensions: with 2 heads, d_out is 1",
        (
            (
                "MultiHeadAttentionWrapper(d_in, 1, context_length, dropout, num_heads=2)",
                "MultiHeadAttentionWrapper(d_in, 2, context_length, dropout, num_heads=2)",
            ),
        ),
    ),
    Mistake(
        "wrapper_with_2d_output.weight_split_class",
        "wrapper_with_2d_output",
        "it returns a MultiHeadAttention, not the wrapper",
        "the exercise changes the wrapper's arguments",
        (
            (
                "MultiHeadAttentionWrapper(d_in, 1, context_length, dropout, num_heads=2)",
                "MultiHeadAttention(d_in, 2, context_length, dropout, num_heads=2)",
            ),
        ),
    ),
    Mistake(
        "gpt2_small_attention.wrapper",
        "gpt2_small_attention",
        "it returns a MultiHeadAttentionWrapper",
        "the exercise asks for the weight-split MultiHeadAttention",
        (
            ("return MultiHeadAttention(", "return MultiHeadAttentionWrapper("),
            ("d_in=768, d_out=768,", "d_in=768, d_out=64,"),
        ),
    ),
    Mistake(
        "gpt2_small_attention.d_out_per_head",
        "gpt2_small_attention",
        "d_out is the size of one head",
        "MultiHeadAttention's d_out is the total: 768",
        (("d_out=768", "d_out=64"),),
    ),
    Mistake(
        "attention_dropout.ignores_training",
        "attention_dropout",
        "dropout is applied even when training=False",
        "when not training, return the weights unchanged",
        (("training=training", "training=True"),),
    ),
    Mistake(
        "SelfAttention_v1.linear_layout",
        "SelfAttention_v1",
        "the weights are stored as (d_out, d_in), nn.Linear's layout",
        "SelfAttention_v1 keeps (d_in, d_out) matrices and computes x @ W",
        (
            (
                "nn.Parameter(torch.rand(d_in, d_out))\n        self.W_key",
                "nn.Parameter(torch.rand(d_out, d_in))\n        self.W_key",
            ),
            (
                "self.W_key = nn.Parameter(torch.rand(d_in, d_out))",
                "self.W_key = nn.Parameter(torch.rand(d_out, d_in))",
            ),
            (
                "self.W_value = nn.Parameter(torch.rand(d_in, d_out))",
                "self.W_value = nn.Parameter(torch.rand(d_out, d_in))",
            ),
            ("keys = x @ self.W_key ", "keys = x @ self.W_key.T "),
            ("queries = x @ self.W_query ", "queries = x @ self.W_query.T "),
            ("values = x @ self.W_value ", "values = x @ self.W_value.T "),
        ),
    ),
    Mistake(
        "SelfAttention_v1.detached_weight",
        "SelfAttention_v1",
        "a weight is used detached, so it gets no gradient",
        "use the parameters themselves (no .detach() or .data) so gradients reach them",
        (("queries = x @ self.W_query ", "queries = x @ self.W_query.detach() "),),
    ),
    Mistake(
        "SelfAttention_v2.queries_from_W_key",
        "SelfAttention_v2",
        "the queries come from the key layer",
        "queries = self.W_query(x)",
        (("queries = self.W_query(x)", "queries = self.W_key(x)"),),
    ),
    Mistake(
        "SelfAttention_v2.keys_from_W_query",
        "SelfAttention_v2",
        "the keys come from the query layer",
        "project the keys with W_key",
        (("keys = self.W_key(x)", "keys = self.W_query(x)"),),
    ),
    Mistake(
        "copy_v2_weights_into_v1.value_from_key",
        "copy_v2_weights_into_v1",
        "W_value is copied from sa_v2's key layer",
        "copy each matrix from the layer of the same name: W_value from sa_v2.W_value",
        (
            (
                "sa_v1.W_value.copy_(sa_v2.W_value.weight.T)",
                "sa_v1.W_value.copy_(sa_v2.W_key.weight.T)",
            ),
        ),
    ),
    Mistake(
        "copy_v2_weights_into_v1.incomplete",
        "copy_v2_weights_into_v1",
        "not every weight matrix is copied",
        "copy W_query, W_key and W_value",
        (("        sa_v1.W_value.copy_(sa_v2.W_value.weight.T)\n", ""),),
    ),
    Mistake(
        "copy_v2_weights_into_v1.reversed",
        "copy_v2_weights_into_v1",
        "the weights are copied from v1 into v2, not from v2 into v1",
        "copy sa_v2's weights into sa_v1",
        (
            (
                "sa_v1.W_query.copy_(sa_v2.W_query.weight.T)",
                "sa_v2.W_query.weight.copy_(sa_v1.W_query.T)",
            ),
            ("sa_v1.W_key.copy_(sa_v2.W_key.weight.T)", "sa_v2.W_key.weight.copy_(sa_v1.W_key.T)"),
            (
                "sa_v1.W_value.copy_(sa_v2.W_value.weight.T)",
                "sa_v2.W_value.weight.copy_(sa_v1.W_value.T)",
            ),
        ),
    ),
    Mistake(
        "MultiHeadAttentionWrapper.qkv_bias_ignored",
        "MultiHeadAttentionWrapper",
        BIAS_TITLE,
        "pass qkv_bias on to every CausalAttention head",
        (
            (
                "CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)",
                "CausalAttention(d_in, d_out, context_length, dropout)",
            ),
        ),
    ),
    Mistake(
        "MultiHeadAttentionWrapper.plain_list",
        "MultiHeadAttentionWrapper",
        "the heads are kept in a plain Python list, which hides their parameters from the module",
        "wrap the list in nn.ModuleList so the heads are registered",
        (("        self.heads = nn.ModuleList(", "        self.heads = list("),),
    ),
    Mistake(
        "MultiHeadAttention.view_without_contiguous",
        "MultiHeadAttention",
        "the transposed context is merged with .view, which needs contiguous memory",
        "call .contiguous() before .view (or use .reshape)",
        (("context_vec.contiguous().view(", "context_vec.view("),),
    ),
]

COMBINED_SPLIT = "qkv.view(b, num_tokens, 3, self.num_heads, self.head_dim)"
COMBINED_PERMUTE = "qkv.permute(2, 0, 3, 1, 4)"
COMBINED_FILL = "attn_scores = attn_scores.masked_fill(mask_bool, -torch.inf)"

COMBINED = [
    *_scaling("MultiHeadAttentionCombinedQKV"),
    Mistake(
        "MultiHeadAttentionCombinedQKV.heads_before_qkv",
        "MultiHeadAttentionCombinedQKV",
        "qkv's output is split as (num_heads, 3, head_dim), which mixes queries, keys and "
        "values across heads",
        "qkv's output holds all queries, then all keys, then all values: view it as (b, "
        "num_tokens, 3, num_heads, head_dim)",
        (
            (COMBINED_SPLIT, "qkv.view(b, num_tokens, self.num_heads, 3, self.head_dim)"),
            (COMBINED_PERMUTE, "qkv.permute(3, 0, 2, 1, 4)"),
        ),
    ),
    *_merge_and_out_proj("MultiHeadAttentionCombinedQKV"),
    *(
        mistake
        for mistake in _mask_mistakes("MultiHeadAttentionCombinedQKV", MHA_MASK, COMBINED_FILL)
        if mistake.id.endswith((".mask_diagonal", ".mask_not_sliced", ".no_mask"))
    ),
]

# The pairs of mistakes learners most often make together in one class. A pair's output
# matches neither mistake's variant alone, so each pair is an entry of its own: both
# entries' edits at once, named by both.
FREQUENT_PAIRS = (
    ("no_mask", "no_scaling"),
    ("no_mask", "scale_by_dk"),
    ("no_mask", "softmax_wrong_dim"),
    ("mask_diagonal", "no_scaling"),
)


def _pairs(mistakes: list[Mistake], exercise: str) -> list[Mistake]:
    by_id = {m.id: m for m in mistakes}
    pairs = []
    for a, b in FREQUENT_PAIRS:
        first, second = by_id[f"{exercise}.{a}"], by_id[f"{exercise}.{b}"]
        pairs.append(
            Mistake(
                f"{exercise}.{a}+{b}",
                exercise,
                f"two mistakes at once: {first.title}, and {second.title}",
                f"{first.fix}; and {second.fix}",
                first.edits + second.edits,
            )
        )
    return pairs


MISTAKES: tuple[Mistake, ...] = (
    *SIMPLE,
    *SELF,
    *CAUSAL,
    *_pairs(CAUSAL, "CausalAttention"),
    *MULTIHEAD,
    *_pairs(MULTIHEAD, "MultiHeadAttention"),
    *COMBINED,
)
