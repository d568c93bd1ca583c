"""Broken implementations of the mistakes real learners make, in the styles of tests/submissions/.

The bugs that public chapter-3 repositories and a learner working through the exercises
showed, which the catalogue did not name before: a `masked_fill` whose result is thrown
away (the most frequent), a `tril(..., diagonal=1)` future mask, the square root of the
scores, scaling by the number of tokens, an `assert (cond, msg)` tuple, out_proj or dropout
built and never applied, a triu mask that keeps the diagonal hidden, a mask not sliced, and
the most frequent pair (no mask and a scaling mistake). Each is written in another style than
the reference (tests/submissions/), as heldout.py's cases are, and says how it must be named:
by one of `names` (diagnosis ids: a catalogued mistake, or a judge naming its own), or by a
slip read in the source whose text contains `spotted`.
"""

from __future__ import annotations

from dataclasses import dataclass

from heldout import Broken


@dataclass(frozen=True)
class LearnerBug(Broken):
    names: tuple[str, ...] = ()  # diagnosis ids that name it rightly
    spotted: str = ""  # a part of the slip's text that names it


def _bug(id, base, module, exercise, mistake, edits, names=(), spotted=""):
    return LearnerBug(id, base, module, exercise, mistake, tuple(edits), tuple(names), spotted)


LEARNER_BUGS: tuple[LearnerBug, ...] = (
    _bug(
        "causal_masked_fill_result_lost",
        "book_style",
        "causal_attention",
        "CausalAttention",
        "masked_fill (not masked_fill_) on a line of its own: the mask is computed and lost",
        [("scores.masked_fill_(", "scores.masked_fill(")],
        names=("CausalAttention.no_mask",),
        spotted="returns a new tensor and its result is not kept",
    ),
    _bug(
        "masked_weights_fill_result_lost",
        "book_style",
        "causal_attention",
        "masked_attention_weights",
        "the masked scores are computed and thrown away; the softmax reads the unmasked ones",
        [
            (
                "scores = attn_scores.masked_fill(upper.bool(), -torch.inf)",
                "attn_scores.masked_fill(upper.bool(), -torch.inf)\n    scores = attn_scores",
            )
        ],
        names=("masked_attention_weights.no_mask",),
        spotted="returns a new tensor and its result is not kept",
    ),
    _bug(
        "masked_weights_triu_hides_diagonal",
        "book_style",
        "causal_attention",
        "masked_attention_weights",
        "triu(ones) without diagonal=1 also hides each token from itself",
        [("torch.triu(torch.ones(n, n), diagonal=1)", "torch.triu(torch.ones(n, n))")],
        names=("masked_attention_weights.mask_diagonal",),
    ),
    _bug(
        "causal_tril_future_mask",
        "book_style",
        "causal_attention",
        "CausalAttention",
        "the future mask is built with tril(..., diagonal=1)",
        [
            (
                "torch.triu(torch.ones(context_length, context_length), diagonal=1)",
                "torch.tril(torch.ones(context_length, context_length), diagonal=1)",
            )
        ],
        names=("CausalAttention.mask_tril",),
    ),  # fmt: skip
    _bug(
        "causal_sqrt_of_scores",
        "book_style",
        "causal_attention",
        "CausalAttention",
        "softmax(scores ** 0.5): the square root of the scores instead of dividing by sqrt(d_k)",
        [
            (
                "torch.softmax(scores / k.shape[-1] ** 0.5, dim=-1)",
                "torch.softmax(scores**0.5, dim=-1)",
            )
        ],
        names=("CausalAttention.sqrt_of_scores",),
    ),
    _bug(
        "causal_scale_by_num_tokens",
        "book_style",
        "causal_attention",
        "CausalAttention",
        "scaled by the square root of the number of tokens",
        [("scores / k.shape[-1] ** 0.5", "scores / n_tok**0.5")],
        names=("CausalAttention.scale_by_num_tokens",),
    ),
    _bug(
        "causal_dropout_never_applied",
        "einsum_style",
        "causal_attention",
        "CausalAttention",
        "nn.Dropout built in __init__ and never called in forward",
        [("weights = self.dropout(scores.softmax(dim=-1))", "weights = scores.softmax(dim=-1)")],
        names=("dropout.not_applied",),
        spotted="self.dropout is built in __init__ but forward never uses it",
    ),
    _bug(
        "causal_no_mask_no_scaling",
        "einsum_style",
        "causal_attention",
        "CausalAttention",
        "two mistakes: no causal mask and no scaling",
        [
            ("        q = q / math.sqrt(self.d_out)\n", ""),
            ('        scores = scores.masked_fill(future, float("-inf"))\n', ""),
        ],
        names=("CausalAttention.no_mask+no_scaling",),
    ),
    _bug(
        "mha_tuple_assert",
        "functional_style",
        "multihead_attention",
        "MultiHeadAttention",
        "assert (cond, msg): a tuple, always true, so d_out % num_heads is never checked",
        [
            (
                "if d_out % num_heads != 0:\n"
                '            raise ValueError(f"cannot split d_out={d_out} into {num_heads} heads")',
                'assert (d_out % num_heads == 0, "d_out must be divisible by num_heads")',
            )
        ],
        names=("MultiHeadAttention.no_divisibility_check",),
        spotted="asserts a tuple, which is always true",
    ),
    _bug(
        "mha_out_proj_never_applied",
        "functional_style",
        "multihead_attention",
        "MultiHeadAttention",
        "out_proj built in __init__ and never applied",
        [("return self.out_proj(context)", "return context")],
        names=("MultiHeadAttention.no_out_proj",),
        spotted="self.out_proj is built in __init__ but forward never uses it",
    ),
    _bug(
        "mha_no_mask_divide_by_dk",
        "functional_style",
        "multihead_attention",
        "MultiHeadAttention",
        "two mistakes: no causal mask, and the scores divided by head_dim, not its square root",
        [
            ("* self.head_dim**-0.5", "/ self.head_dim"),
            (
                '        scores = torch.where(self.mask[:num_tokens, :num_tokens], float("-inf"), scores)\n',
                "",
            ),
        ],
        names=("MultiHeadAttention.no_mask+scale_by_dk",),
    ),
)
