"""Known learner mistakes, written as small edits of the reference solutions.

Each `Mutant` replaces `old` (which must occur exactly once) with `new` in a copy of
`solutions/<module>.py`, plus the `extra` (old, new) pairs in the same module when a mistake
needs more than one edit. `exercise` is the exercise that must lose points for it, and
`mistake` a short slug naming the mistake (several mutants share a slug when the same mistake
is made in several exercises).

`MUTANTS` must each lose points and be named by the feedback (tests/test_broken.py; NAMES
lists the diagnosis ids that name each one). `ACCEPTED` are variations the kit deliberately
accepts: they must keep full marks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"


@dataclass(frozen=True)
class Mutant:
    id: str
    module: str
    old: str
    new: str
    exercise: str
    mistake: str
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def edits(self) -> tuple[tuple[str, str], ...]:
        return ((self.old, self.new), *self.extra)

    def apply(self, source: str) -> str:
        """The mutated module; raises ValueError unless every `old` occurs exactly once."""
        for old, new in self.edits:
            count = source.count(old)
            if count != 1:
                raise ValueError(f"{self.id}: expected 1 occurrence of {old!r}, found {count}")
            source = source.replace(old, new)
        return source


def reference_source(module: str) -> str:
    return (SOLUTIONS / f"{module}.py").read_text(encoding="utf-8")


SIMPLE, SELF, CAUSAL, MULTI = (
    "simple_attention",
    "self_attention",
    "causal_attention",
    "multihead_attention",
)

# -- shared snippets (indentation matters) ------------------------------------------------

# SelfAttention_v1 and SelfAttention_v2 share their score/softmax lines; the line before
# them tells the two apart.
V1_HEAD = "        values = x @ self.W_value  # (num_tokens, d_out)\n\n"
V2_HEAD = "        values = self.W_value(x)  # (num_tokens, d_out)\n\n"
SA_SCORES = "        attn_scores = queries @ keys.T  # (num_tokens, num_tokens)\n"
SA_SOFTMAX = "        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)\n"
SA_BLOCK = SA_SCORES + SA_SOFTMAX


def _sa(head: str, scores: str = SA_SCORES, softmax: str = SA_SOFTMAX) -> tuple[str, str]:
    return head + SA_BLOCK, head + scores + softmax


# causal_attention.py (CausalAttention) and multihead_attention.py (MultiHeadAttention)
CA_MASK_FILL = (
    "        attn_scores.masked_fill_(self.mask[:num_tokens, :num_tokens].bool(), -torch.inf)\n"
)
SOFTMAX = "        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)\n"
DROPOUT = "        attn_weights = self.dropout(attn_weights)\n"
MHA_MASK_FILL = "        attn_scores.masked_fill_(mask_bool, -torch.inf)\n"
BUFFER = (
    "        self.register_buffer(\n"
    '            "mask", torch.triu(torch.ones(context_length, context_length), diagonal=1)\n'
    "        )\n"
)
PLAIN_MASK = (
    "        self.mask = torch.triu(torch.ones(context_length, context_length), diagonal=1)\n"
)
QKV_LINEARS = (
    "        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)\n"
    "        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)\n"
    "        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)\n"
)
QKV_NO_BIAS = (
    "        self.W_query = nn.Linear(d_in, d_out, bias=False)\n"
    "        self.W_key = nn.Linear(d_in, d_out, bias=False)\n"
    "        self.W_value = nn.Linear(d_in, d_out, bias=False)\n"
)
MHA_SPLIT = (
    "        keys = keys.view(b, num_tokens, self.num_heads, self.head_dim)\n"
    "        queries = queries.view(b, num_tokens, self.num_heads, self.head_dim)\n"
    "        values = values.view(b, num_tokens, self.num_heads, self.head_dim)\n"
    "\n"
    "        # (b, num_tokens, num_heads, head_dim) -> (b, num_heads, num_tokens, head_dim)\n"
    "        keys = keys.transpose(1, 2)\n"
    "        queries = queries.transpose(1, 2)\n"
    "        values = values.transpose(1, 2)\n"
)
MHA_MERGE = "        context_vec = (attn_weights @ values).transpose(1, 2)\n"
MHA_RETURN = "        return self.out_proj(context_vec)  # (b, num_tokens, d_out)\n"
CA_RETURN = "        context_vec = attn_weights @ values  # (b, num_tokens, d_out)\n"
WRAPPER_HEADS = (
    "        self.heads = nn.ModuleList(\n"
    "            [\n"
    "                CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)\n"
    "                for _ in range(num_heads)\n"
    "            ]\n"
    "        )\n"
)
WRAPPER_CALL = (
    "    return MultiHeadAttentionWrapper(d_in, 1, context_length, dropout, num_heads=2)\n"
)
GPT2_CALL = (
    "        d_in=768, d_out=768, context_length=1024, dropout=0.0, num_heads=12, qkv_bias=False\n"
)
TRANSFER = (
    "        sa_v1.W_query.copy_(sa_v2.W_query.weight.T)\n"
    "        sa_v1.W_key.copy_(sa_v2.W_key.weight.T)\n"
    "        sa_v1.W_value.copy_(sa_v2.W_value.weight.T)\n"
)
DROPOUT_FN = "    return F.dropout(attn_weights, p=p, training=training)\n"
STABLE_SHIFT = "    shifted = x - x.amax(dim=dim, keepdim=True)\n"
NAIVE_NORM = "    exp_x = torch.exp(x)\n    return exp_x / exp_x.sum(dim=dim, keepdim=True)\n"
STABLE_NORM = (
    "    exp_x = torch.exp(shifted)\n    return exp_x / exp_x.sum(dim=dim, keepdim=True)\n"
)
NORMALIZE = "    return scores / scores.sum(dim=dim, keepdim=True)\n"
MAW_FILL = "    masked = attn_scores.masked_fill(mask, -torch.inf)\n"
MAW_SOFTMAX = "    return torch.softmax(masked / d_k**0.5, dim=-1)\n"
MAR_FILL = "    masked_simple = attn_weights.masked_fill(mask, 0.0)\n"
MAR_RETURN = "    return masked_simple / masked_simple.sum(dim=-1, keepdim=True)\n"
CAUSAL_MASK = (
    "    return torch.triu(torch.ones(context_length, context_length, dtype=torch.bool), "
    "diagonal=1)\n"
)


MUTANTS: tuple[Mutant, ...] = (
    # -- simple_attention.py (§3.3) --------------------------------------------------------
    Mutant(
        "scores_for_query_sum_over_tokens",
        SIMPLE,
        "    return inputs @ query  # (num_tokens, d_in) @ (d_in,) -> (num_tokens,)\n",
        "    return (inputs * query).sum(dim=0)\n",
        "attention_scores_for_query",
        "sum_wrong_dim",
    ),
    Mutant(
        "attention_scores_transposed_product",
        SIMPLE,
        "    return inputs @ inputs.T\n",
        "    return inputs.T @ inputs\n",
        "attention_scores",
        "transposed_product",
    ),
    Mutant(
        "normalize_by_sum_global_sum",
        SIMPLE,
        NORMALIZE,
        "    return scores / scores.sum()\n",
        "normalize_by_sum",
        "global_sum",
    ),
    Mutant(
        "normalize_by_sum_ignores_dim",
        SIMPLE,
        NORMALIZE,
        "    return scores / scores.sum(dim=-1, keepdim=True)\n",
        "normalize_by_sum",
        "ignores_dim",
    ),
    Mutant(
        "normalize_by_sum_inplace",
        SIMPLE,
        NORMALIZE,
        "    scores /= scores.sum(dim=dim, keepdim=True)\n    return scores\n",
        "normalize_by_sum",
        "inplace_input",
    ),
    Mutant(
        "softmax_naive_global_sum",
        SIMPLE,
        NAIVE_NORM,
        "    exp_x = torch.exp(x)\n    return exp_x / exp_x.sum()\n",
        "softmax_naive",
        "global_sum",
    ),
    Mutant(
        "softmax_naive_ignores_dim",
        SIMPLE,
        NAIVE_NORM,
        "    exp_x = torch.exp(x)\n    return exp_x / exp_x.sum(dim=-1, keepdim=True)\n",
        "softmax_naive",
        "softmax_wrong_dim",
    ),
    Mutant(
        "softmax_naive_no_keepdim",
        SIMPLE,
        NAIVE_NORM,
        "    exp_x = torch.exp(x)\n    return exp_x / exp_x.sum(dim=dim)\n",
        "softmax_naive",
        "no_keepdim",
    ),
    Mutant(
        "softmax_stable_no_max_subtraction",
        SIMPLE,
        STABLE_SHIFT,
        "    shifted = x\n",
        "softmax_stable",
        "no_max_subtraction",
    ),
    Mutant(
        "softmax_stable_global_max",
        SIMPLE,
        STABLE_SHIFT,
        "    shifted = x - x.max()\n",
        "softmax_stable",
        "global_max",
    ),
    Mutant(
        "softmax_stable_max_ignores_dim",
        SIMPLE,
        STABLE_SHIFT,
        "    shifted = x - x.amax(dim=-1, keepdim=True)\n",
        "softmax_stable",
        "softmax_wrong_dim",
    ),
    Mutant(
        "softmax_stable_sum_detached",
        SIMPLE,
        STABLE_NORM,
        "    exp_x = torch.exp(shifted)\n    return exp_x / exp_x.sum(dim=dim, keepdim=True).detach()\n",
        "softmax_stable",
        "detached_graph",
    ),
    Mutant(
        "softmax_stable_inplace",
        SIMPLE,
        STABLE_SHIFT,
        "    shifted = x.sub_(x.amax(dim=dim, keepdim=True))\n",
        "softmax_stable",
        "inplace_input",
    ),
    Mutant(
        "context_vectors_weights_transposed",
        SIMPLE,
        "    return attn_weights @ inputs\n",
        "    return attn_weights.T @ inputs\n",
        "context_vectors",
        "weights_transposed",
    ),
    # -- self_attention.py (§3.4, Exercise 3.1) ---------------------------------------------
    Mutant(
        "v1_no_scaling",
        SELF,
        *_sa(V1_HEAD, softmax="        attn_weights = torch.softmax(attn_scores, dim=-1)\n"),
        "SelfAttention_v1",
        "no_scaling",
    ),
    Mutant(
        "v1_scale_by_dk",
        SELF,
        *_sa(
            V1_HEAD,
            softmax="        attn_weights = torch.softmax(attn_scores / keys.shape[-1], dim=-1)\n",
        ),
        "SelfAttention_v1",
        "scale_by_dk",
    ),
    Mutant(
        "v1_scale_after_softmax",
        SELF,
        *_sa(
            V1_HEAD,
            softmax="        attn_weights = torch.softmax(attn_scores, dim=-1) / keys.shape[-1] ** 0.5\n",
        ),
        "SelfAttention_v1",
        "scale_after_softmax",
    ),
    Mutant(
        "v1_softmax_dim0",
        SELF,
        *_sa(
            V1_HEAD,
            softmax="        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=0)\n",
        ),
        "SelfAttention_v1",
        "softmax_wrong_dim",
    ),
    Mutant(
        "v1_queries_keys_swapped",
        SELF,
        *_sa(V1_HEAD, scores="        attn_scores = keys @ queries.T\n"),
        "SelfAttention_v1",
        "queries_keys_swapped",
    ),
    Mutant(
        "v1_weight_detached",
        SELF,
        "        queries = x @ self.W_query  # (num_tokens, d_out)\n",
        "        queries = x @ self.W_query.detach()  # (num_tokens, d_out)\n",
        "SelfAttention_v1",
        "detached_graph",
    ),
    Mutant(
        "v1_weights_linear_layout",
        SELF,
        "        self.W_query = nn.Parameter(torch.rand(d_in, d_out))\n"
        "        self.W_key = nn.Parameter(torch.rand(d_in, d_out))\n"
        "        self.W_value = nn.Parameter(torch.rand(d_in, d_out))\n",
        "        self.W_query = nn.Parameter(torch.rand(d_out, d_in))\n"
        "        self.W_key = nn.Parameter(torch.rand(d_out, d_in))\n"
        "        self.W_value = nn.Parameter(torch.rand(d_out, d_in))\n",
        "SelfAttention_v1",
        "weights_transposed",
        extra=(
            (
                "        keys = x @ self.W_key  # (num_tokens, d_out)\n"
                "        queries = x @ self.W_query  # (num_tokens, d_out)\n"
                "        values = x @ self.W_value  # (num_tokens, d_out)\n",
                "        keys = x @ self.W_key.T\n"
                "        queries = x @ self.W_query.T\n"
                "        values = x @ self.W_value.T  # (num_tokens, d_out)\n",
            ),
        ),
    ),
    Mutant(
        "v2_no_scaling",
        SELF,
        *_sa(V2_HEAD, softmax="        attn_weights = torch.softmax(attn_scores, dim=-1)\n"),
        "SelfAttention_v2",
        "no_scaling",
    ),
    Mutant(
        "v2_softmax_dim0",
        SELF,
        *_sa(
            V2_HEAD,
            softmax="        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=0)\n",
        ),
        "SelfAttention_v2",
        "softmax_wrong_dim",
    ),
    Mutant(
        "v2_scale_by_d_in",
        SELF,
        *_sa(
            V2_HEAD,
            softmax="        attn_weights = torch.softmax(attn_scores / x.shape[-1] ** 0.5, dim=-1)\n",
        ),
        "SelfAttention_v2",
        "scale_by_d_in",
    ),
    Mutant(
        "v2_qkv_bias_ignored",
        SELF,
        QKV_LINEARS,
        QKV_NO_BIAS,
        "SelfAttention_v2",
        "qkv_bias_ignored",
    ),
    Mutant(
        "v2_queries_from_W_key",
        SELF,
        "        queries = self.W_query(x)  # (num_tokens, d_out)\n",
        "        queries = self.W_key(x)  # (num_tokens, d_out)\n",
        "SelfAttention_v2",
        "wrong_projection",
    ),
    Mutant(
        "transfer_no_transpose",
        SELF,
        TRANSFER,
        "        sa_v1.W_query = nn.Parameter(sa_v2.W_query.weight)\n"
        "        sa_v1.W_key = nn.Parameter(sa_v2.W_key.weight)\n"
        "        sa_v1.W_value = nn.Parameter(sa_v2.W_value.weight)\n",
        "copy_v2_weights_into_v1",
        "transfer_no_transpose",
    ),
    Mutant(
        "transfer_swapped",
        SELF,
        TRANSFER,
        "        sa_v2.W_query.weight.copy_(sa_v1.W_query.T)\n"
        "        sa_v2.W_key.weight.copy_(sa_v1.W_key.T)\n"
        "        sa_v2.W_value.weight.copy_(sa_v1.W_value.T)\n",
        "copy_v2_weights_into_v1",
        "transfer_swapped",
    ),
    Mutant(
        "transfer_incomplete",
        SELF,
        TRANSFER,
        "        sa_v1.W_query.copy_(sa_v2.W_query.weight.T)\n"
        "        sa_v1.W_key.copy_(sa_v2.W_key.weight.T)\n",
        "copy_v2_weights_into_v1",
        "transfer_incomplete",
    ),
    # -- causal_attention.py: the building blocks (§3.5.1, §3.5.2) -------------------------
    Mutant(
        "causal_mask_diagonal",
        CAUSAL,
        CAUSAL_MASK,
        "    return torch.triu(torch.ones(context_length, context_length, dtype=torch.bool), "
        "diagonal=0)\n",
        "causal_mask",
        "mask_diagonal",
    ),
    Mutant(
        "causal_mask_off_by_one",
        CAUSAL,
        CAUSAL_MASK,
        CAUSAL_MASK.replace("diagonal=1", "diagonal=2"),
        "causal_mask",
        "mask_off_by_one",
    ),
    Mutant(
        "causal_mask_wrong_triangle",
        CAUSAL,
        CAUSAL_MASK,
        "    return torch.tril(torch.ones(context_length, context_length, dtype=torch.bool))\n",
        "causal_mask",
        "mask_wrong_triangle",
    ),
    Mutant(
        "causal_mask_float",
        CAUSAL,
        CAUSAL_MASK,
        "    return torch.triu(torch.ones(context_length, context_length), diagonal=1)\n",
        "causal_mask",
        "mask_not_bool",
    ),
    Mutant(
        "mask_and_renormalize_no_renormalize",
        CAUSAL,
        MAR_RETURN,
        "    return masked_simple\n",
        "mask_and_renormalize",
        "no_renormalize",
    ),
    Mutant(
        "mask_and_renormalize_wrong_dim",
        CAUSAL,
        MAR_RETURN,
        "    return masked_simple / masked_simple.sum(dim=0, keepdim=True)\n",
        "mask_and_renormalize",
        "softmax_wrong_dim",
    ),
    Mutant(
        "mask_and_renormalize_inplace",
        CAUSAL,
        MAR_FILL,
        "    masked_simple = attn_weights.masked_fill_(mask, 0.0)\n",
        "mask_and_renormalize",
        "inplace_input",
    ),
    Mutant(
        "masked_weights_no_scaling",
        CAUSAL,
        MAW_SOFTMAX,
        "    return torch.softmax(masked, dim=-1)\n",
        "masked_attention_weights",
        "no_scaling",
    ),
    Mutant(
        "masked_weights_scale_by_dk",
        CAUSAL,
        MAW_SOFTMAX,
        "    return torch.softmax(masked / d_k, dim=-1)\n",
        "masked_attention_weights",
        "scale_by_dk",
    ),
    Mutant(
        "masked_weights_scale_after_softmax",
        CAUSAL,
        MAW_SOFTMAX,
        "    return torch.softmax(masked, dim=-1) / d_k**0.5\n",
        "masked_attention_weights",
        "scale_after_softmax",
    ),
    Mutant(
        "masked_weights_softmax_wrong_dim",
        CAUSAL,
        MAW_SOFTMAX,
        "    return torch.softmax(masked / d_k**0.5, dim=-2)\n",
        "masked_attention_weights",
        "softmax_wrong_dim",
    ),
    Mutant(
        "masked_weights_fill_zero",
        CAUSAL,
        MAW_FILL,
        "    masked = attn_scores.masked_fill(mask, 0.0)\n",
        "masked_attention_weights",
        "mask_fill_zero",
    ),
    Mutant(
        "masked_weights_mask_after_softmax",
        CAUSAL,
        MAW_FILL + MAW_SOFTMAX,
        "    weights = torch.softmax(attn_scores / d_k**0.5, dim=-1)\n"
        "    return weights.masked_fill(mask, 0.0)\n",
        "masked_attention_weights",
        "mask_after_softmax",
    ),
    Mutant(
        "masked_weights_inplace",
        CAUSAL,
        MAW_FILL,
        "    masked = attn_scores.masked_fill_(mask, -torch.inf)\n",
        "masked_attention_weights",
        "inplace_input",
    ),
    Mutant(
        "dropout_no_rescale",
        CAUSAL,
        DROPOUT_FN,
        "    if not training:\n"
        "        return attn_weights\n"
        "    return attn_weights * (torch.rand_like(attn_weights) >= p)\n",
        "attention_dropout",
        "dropout_no_rescale",
    ),
    Mutant(
        "dropout_scale_by_1_over_p",
        CAUSAL,
        DROPOUT_FN,
        "    if not training:\n"
        "        return attn_weights\n"
        "    return attn_weights * (torch.rand_like(attn_weights) >= p) / p\n",
        "attention_dropout",
        "dropout_scale_1_over_p",
    ),
    Mutant(
        "dropout_keep_p",
        CAUSAL,
        DROPOUT_FN,
        "    return F.dropout(attn_weights, p=1 - p, training=training)\n",
        "attention_dropout",
        "dropout_keep_p",
    ),
    Mutant(
        "dropout_in_eval",
        CAUSAL,
        DROPOUT_FN,
        "    return F.dropout(attn_weights, p=p)\n",
        "attention_dropout",
        "dropout_in_eval",
    ),
    Mutant(
        "dropout_inplace",
        CAUSAL,
        DROPOUT_FN,
        "    return F.dropout(attn_weights, p=p, training=training, inplace=True)\n",
        "attention_dropout",
        "inplace_input",
    ),
    Mutant(
        "dropout_fixed_seed",
        CAUSAL,
        DROPOUT_FN,
        "    torch.manual_seed(123)\n    return F.dropout(attn_weights, p=p, training=training)\n",
        "attention_dropout",
        "dropout_fixed_seed",
    ),
    # -- causal_attention.py: CausalAttention (§3.5.3) --------------------------------------
    Mutant(
        "ca_softmax_dim1",
        CAUSAL,
        SOFTMAX,
        "        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=1)\n",
        "CausalAttention",
        "softmax_wrong_dim",
    ),
    Mutant(
        "ca_no_scaling",
        CAUSAL,
        SOFTMAX,
        "        attn_weights = torch.softmax(attn_scores, dim=-1)\n",
        "CausalAttention",
        "no_scaling",
    ),
    Mutant(
        "ca_scale_by_num_tokens",
        CAUSAL,
        SOFTMAX,
        "        attn_weights = torch.softmax(attn_scores / keys.shape[1] ** 0.5, dim=-1)\n",
        "CausalAttention",
        "scale_dk_wrong_index",
    ),
    Mutant(
        "ca_scale_after_softmax",
        CAUSAL,
        SOFTMAX,
        "        attn_weights = torch.softmax(attn_scores, dim=-1) / keys.shape[-1] ** 0.5\n",
        "CausalAttention",
        "scale_after_softmax",
    ),
    Mutant(
        "ca_keys_T_on_batch",
        CAUSAL,
        "        attn_scores = queries @ keys.transpose(1, 2)  # (b, num_tokens, num_tokens)\n",
        "        attn_scores = queries @ keys.T\n",
        "CausalAttention",
        "keys_T_on_batch",
    ),
    Mutant(
        "ca_queries_keys_swapped",
        CAUSAL,
        "        attn_scores = queries @ keys.transpose(1, 2)  # (b, num_tokens, num_tokens)\n",
        "        attn_scores = keys @ queries.transpose(1, 2)\n",
        "CausalAttention",
        "queries_keys_swapped",
    ),
    Mutant(
        "ca_mask_not_sliced",
        CAUSAL,
        CA_MASK_FILL,
        "        attn_scores.masked_fill_(self.mask.bool(), -torch.inf)\n",
        "CausalAttention",
        "mask_not_sliced",
    ),
    Mutant(
        "ca_mask_diagonal",
        CAUSAL,
        BUFFER,
        BUFFER.replace("diagonal=1", "diagonal=0"),
        "CausalAttention",
        "mask_diagonal",
    ),
    Mutant(
        "ca_mask_wrong_triangle",
        CAUSAL,
        BUFFER,
        BUFFER.replace("torch.triu(", "torch.tril(").replace(", diagonal=1", ""),
        "CausalAttention",
        "mask_wrong_triangle",
    ),
    Mutant(
        "ca_mask_polarity",
        CAUSAL,
        CA_MASK_FILL,
        "        attn_scores.masked_fill_(self.mask[:num_tokens, :num_tokens] == 0, -torch.inf)\n",
        "CausalAttention",
        "mask_polarity",
    ),
    Mutant(
        "ca_mask_fill_zero",
        CAUSAL,
        CA_MASK_FILL,
        "        attn_scores.masked_fill_(self.mask[:num_tokens, :num_tokens].bool(), 0.0)\n",
        "CausalAttention",
        "mask_fill_zero",
    ),
    Mutant(
        "ca_mask_not_buffer",
        CAUSAL,
        BUFFER,
        PLAIN_MASK,
        "CausalAttention",
        "mask_not_buffer",
    ),
    Mutant(
        "ca_dropout_before_softmax",
        CAUSAL,
        CA_MASK_FILL + SOFTMAX + DROPOUT,
        "        attn_scores = self.dropout(attn_scores)\n" + CA_MASK_FILL + SOFTMAX,
        "CausalAttention",
        "dropout_before_softmax",
    ),
    Mutant(
        "ca_dropout_on_output",
        CAUSAL,
        DROPOUT + "\n" + CA_RETURN,
        "\n        context_vec = self.dropout(attn_weights @ values)\n",
        "CausalAttention",
        "dropout_on_output",
    ),
    Mutant(
        "ca_dropout_in_eval",
        CAUSAL,
        DROPOUT,
        "        attn_weights = F.dropout(attn_weights, self.dropout.p)\n",
        "CausalAttention",
        "dropout_in_eval",
    ),
    Mutant(
        "ca_dropout_p_ignored",
        CAUSAL,
        "        self.dropout = nn.Dropout(dropout)\n",
        "        self.dropout = nn.Dropout(0.5)\n",
        "CausalAttention",
        "dropout_p_ignored",
    ),
    Mutant(
        "ca_qkv_bias_ignored",
        CAUSAL,
        QKV_LINEARS,
        QKV_NO_BIAS,
        "CausalAttention",
        "qkv_bias_ignored",
    ),
    # -- multihead_attention.py: the wrapper and Exercise 3.2 (§3.6.1) ---------------------
    Mutant(
        "wrapper_heads_wrong_dim",
        MULTI,
        "        return torch.cat([head(x) for head in self.heads], dim=-1)\n",
        "        return torch.cat([head(x) for head in self.heads], dim=1)\n",
        "MultiHeadAttentionWrapper",
        "heads_wrong_dim",
    ),
    Mutant(
        "wrapper_heads_shared_module",
        MULTI,
        WRAPPER_HEADS,
        "        head = CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)\n"
        "        self.heads = nn.ModuleList([head] * num_heads)\n",
        "MultiHeadAttentionWrapper",
        "heads_shared_module",
    ),
    Mutant(
        "wrapper_heads_plain_list",
        MULTI,
        WRAPPER_HEADS,
        "        self.heads = [\n"
        "            CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)\n"
        "            for _ in range(num_heads)\n"
        "        ]\n",
        "MultiHeadAttentionWrapper",
        "heads_plain_list",
    ),
    Mutant(
        "wrapper_dropout_not_passed",
        MULTI,
        "                CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)\n",
        "                CausalAttention(d_in, d_out, context_length, 0.0, qkv_bias)\n",
        "MultiHeadAttentionWrapper",
        "dropout_not_passed",
    ),
    Mutant(
        "ex32_changed_heads",
        MULTI,
        WRAPPER_CALL,
        "    return MultiHeadAttentionWrapper(d_in, 2, context_length, dropout, num_heads=1)\n",
        "wrapper_with_2d_output",
        "ex32_changed_heads",
    ),
    Mutant(
        "ex32_d_out_is_total",
        MULTI,
        WRAPPER_CALL,
        "    return MultiHeadAttentionWrapper(d_in, 2, context_length, dropout, num_heads=2)\n",
        "wrapper_with_2d_output",
        "ex32_d_out_is_total",
    ),
    Mutant(
        "ex32_weight_split_class",
        MULTI,
        WRAPPER_CALL,
        "    return MultiHeadAttention(d_in, 2, context_length, dropout, num_heads=2)\n",
        "wrapper_with_2d_output",
        "ex32_wrong_class",
    ),
    # -- multihead_attention.py: MultiHeadAttention (§3.6.2) -------------------------------
    Mutant(
        "mha_softmax_wrong_dim",
        MULTI,
        SOFTMAX,
        "        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-2)\n",
        "MultiHeadAttention",
        "softmax_wrong_dim",
    ),
    Mutant(
        "mha_no_scaling",
        MULTI,
        SOFTMAX,
        "        attn_weights = torch.softmax(attn_scores, dim=-1)\n",
        "MultiHeadAttention",
        "no_scaling",
    ),
    Mutant(
        "mha_scale_by_d_out",
        MULTI,
        SOFTMAX,
        "        attn_weights = torch.softmax(attn_scores / self.d_out**0.5, dim=-1)\n",
        "MultiHeadAttention",
        "scale_by_d_out",
    ),
    Mutant(
        "mha_scale_by_head_dim",
        MULTI,
        SOFTMAX,
        "        attn_weights = torch.softmax(attn_scores / self.head_dim, dim=-1)\n",
        "MultiHeadAttention",
        "scale_by_dk",
    ),
    Mutant(
        "mha_split_no_transpose",
        MULTI,
        MHA_SPLIT,
        "        keys = keys.view(b, self.num_heads, num_tokens, self.head_dim)\n"
        "        queries = queries.view(b, self.num_heads, num_tokens, self.head_dim)\n"
        "        values = values.view(b, self.num_heads, num_tokens, self.head_dim)\n",
        "MultiHeadAttention",
        "split_no_transpose",
    ),
    Mutant(
        "mha_merge_no_transpose",
        MULTI,
        MHA_MERGE,
        "        context_vec = attn_weights @ values\n",
        "MultiHeadAttention",
        "merge_no_transpose",
    ),
    Mutant(
        "mha_view_without_contiguous",
        MULTI,
        "        context_vec = context_vec.contiguous().view(b, num_tokens, self.d_out)\n",
        "        context_vec = context_vec.view(b, num_tokens, self.d_out)\n",
        "MultiHeadAttention",
        "view_without_contiguous",
    ),
    Mutant(
        "mha_no_out_proj",
        MULTI,
        MHA_RETURN,
        "        return context_vec\n",
        "MultiHeadAttention",
        "no_out_proj",
    ),
    Mutant(
        "mha_out_proj_no_bias",
        MULTI,
        "        self.out_proj = nn.Linear(d_out, d_out)\n",
        "        self.out_proj = nn.Linear(d_out, d_out, bias=qkv_bias)\n",
        "MultiHeadAttention",
        "out_proj_no_bias",
    ),
    Mutant(
        "mha_qkv_bias_ignored",
        MULTI,
        QKV_LINEARS,
        QKV_NO_BIAS,
        "MultiHeadAttention",
        "qkv_bias_ignored",
    ),
    Mutant(
        "mha_no_divisibility_check",
        MULTI,
        "        if d_out % num_heads != 0:\n"
        '            raise ValueError(f"d_out ({d_out}) must be divisible by num_heads ({num_heads})")\n',
        "",
        "MultiHeadAttention",
        "no_divisibility_check",
    ),
    Mutant(
        "mha_mask_not_sliced",
        MULTI,
        "        mask_bool = self.mask[:num_tokens, :num_tokens].bool()\n",
        "        mask_bool = self.mask.bool()\n",
        "MultiHeadAttention",
        "mask_not_sliced",
    ),
    Mutant(
        "mha_mask_diagonal",
        MULTI,
        BUFFER,
        BUFFER.replace("diagonal=1", "diagonal=0"),
        "MultiHeadAttention",
        "mask_diagonal",
    ),
    Mutant(
        "mha_mask_off_by_one",
        MULTI,
        BUFFER,
        BUFFER.replace("diagonal=1", "diagonal=2"),
        "MultiHeadAttention",
        "mask_off_by_one",
    ),
    Mutant(
        "mha_mask_fill_zero",
        MULTI,
        MHA_MASK_FILL,
        "        attn_scores.masked_fill_(mask_bool, 0.0)\n",
        "MultiHeadAttention",
        "mask_fill_zero",
    ),
    Mutant(
        "mha_no_mask",
        MULTI,
        MHA_MASK_FILL,
        "",
        "MultiHeadAttention",
        "no_mask",
    ),
    Mutant(
        "mha_mask_not_buffer",
        MULTI,
        BUFFER,
        PLAIN_MASK,
        "MultiHeadAttention",
        "mask_not_buffer",
    ),
    Mutant(
        "mha_dropout_before_softmax",
        MULTI,
        MHA_MASK_FILL + SOFTMAX + DROPOUT,
        MHA_MASK_FILL + "        attn_scores = self.dropout(attn_scores)\n" + SOFTMAX,
        "MultiHeadAttention",
        "dropout_before_softmax",
    ),
    Mutant(
        "mha_dropout_on_output",
        MULTI,
        DROPOUT,
        "",
        "MultiHeadAttention",
        "dropout_on_output",
        extra=(
            (
                MHA_MERGE,
                "        context_vec = self.dropout(attn_weights @ values).transpose(1, 2)\n",
            ),
        ),
    ),
    Mutant(
        "mha_dropout_module_in_forward",
        MULTI,
        DROPOUT,
        "        attn_weights = nn.Dropout(self.dropout.p)(attn_weights)\n",
        "MultiHeadAttention",
        "dropout_in_eval",
    ),
    # -- multihead_attention.py: Exercise 3.3 ------------------------------------------------
    Mutant(
        "gpt2_wrong_heads",
        MULTI,
        GPT2_CALL,
        GPT2_CALL.replace("num_heads=12", "num_heads=8"),
        "gpt2_small_attention",
        "gpt2_wrong_heads",
    ),
    Mutant(
        "gpt2_wrong_bias",
        MULTI,
        GPT2_CALL,
        GPT2_CALL.replace("qkv_bias=False", "qkv_bias=True"),
        "gpt2_small_attention",
        "gpt2_wrong_bias",
    ),
    Mutant(
        "gpt2_wrong_context",
        MULTI,
        GPT2_CALL,
        GPT2_CALL.replace("context_length=1024", "context_length=256"),
        "gpt2_small_attention",
        "gpt2_wrong_context",
    ),
    Mutant(
        "gpt2_d_out_per_head",
        MULTI,
        GPT2_CALL,
        GPT2_CALL.replace("d_out=768", "d_out=64"),
        "gpt2_small_attention",
        "gpt2_wrong_d_out",
    ),
    Mutant(
        "gpt2_uses_wrapper",
        MULTI,
        "    return MultiHeadAttention(\n" + GPT2_CALL + "    )\n",
        "    return MultiHeadAttentionWrapper(768, 64, 1024, 0.0, num_heads=12)\n",
        "gpt2_small_attention",
        "gpt2_wrong_class",
    ),
    Mutant(
        "wrapper_qkv_bias_not_passed",
        MULTI,
        "                CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)\n",
        "                CausalAttention(d_in, d_out, context_length, dropout)\n",
        "MultiHeadAttentionWrapper",
        "qkv_bias_ignored",
    ),
    Mutant(
        "ex32_dropout_hardcoded",
        MULTI,
        WRAPPER_CALL,
        "    return MultiHeadAttentionWrapper(d_in, 1, context_length, 0.0, num_heads=2)\n",
        "wrapper_with_2d_output",
        "dropout_not_passed",
    ),
)

# Variations the kit accepts on purpose: each must keep full marks (a note at most).
ACCEPTED: tuple[Mutant, ...] = (
    # The contract fixes GPT-2's size, heads, context length and bias, not its dropout
    # (GPT-2 itself trains with 0.1).
    Mutant(
        "gpt2_dropout",
        MULTI,
        GPT2_CALL,
        GPT2_CALL.replace("dropout=0.0", "dropout=0.1"),
        "gpt2_small_attention",
        "gpt2_wrong_dropout",
    ),
    # The book's own idiom: v1's weights become views of v2's. The values are right; the
    # shared storage only earns a zero-point note.
    Mutant(
        "transfer_shares_storage",
        SELF,
        TRANSFER,
        "        sa_v1.W_query = nn.Parameter(sa_v2.W_query.weight.T)\n"
        "        sa_v1.W_key = nn.Parameter(sa_v2.W_key.weight.T)\n"
        "        sa_v1.W_value = nn.Parameter(sa_v2.W_value.weight.T)\n",
        "copy_v2_weights_into_v1",
        "transfer_shares_storage",
    ),
)

# The diagnosis ids that name each mutant's mistake (any one of them will do).
NAMES: dict[str, tuple[str, ...]] = {
    "attention_scores_transposed_product": ("attention_scores.transposed_product",),
    "ca_dropout_before_softmax": ("dropout.before_softmax",),
    "ca_dropout_in_eval": ("dropout.active_in_eval",),
    "ca_dropout_on_output": ("dropout.on_output",),
    "ca_dropout_p_ignored": ("dropout.wrong_p",),
    "ca_keys_T_on_batch": ("CausalAttention.keys_T",),
    "ca_mask_diagonal": ("CausalAttention.mask_diagonal",),
    "ca_mask_fill_zero": ("CausalAttention.mask_fill_zero",),
    "ca_mask_not_buffer": ("CausalAttention.mask_not_buffer",),
    "ca_mask_not_sliced": ("CausalAttention.mask_not_sliced",),
    "ca_mask_polarity": ("CausalAttention.mask_inverted",),
    "ca_mask_wrong_triangle": ("CausalAttention.mask_inverted",),
    "ca_no_scaling": ("CausalAttention.no_scaling",),
    "ca_qkv_bias_ignored": ("CausalAttention.qkv_bias_ignored",),
    "ca_queries_keys_swapped": ("CausalAttention.queries_keys_swapped",),
    "ca_scale_after_softmax": ("CausalAttention.scale_after_softmax",),
    "ca_scale_by_num_tokens": ("CausalAttention.scale_by_num_tokens",),
    "ca_softmax_dim1": ("CausalAttention.softmax_wrong_dim",),
    "causal_mask_diagonal": ("causal_mask.diagonal",),
    "causal_mask_float": ("causal_mask.float",),
    "causal_mask_off_by_one": ("causal_mask.off_by_one",),
    "causal_mask_wrong_triangle": ("causal_mask.inverted",),
    "context_vectors_weights_transposed": ("context_vectors.weights_transposed",),
    "dropout_fixed_seed": ("dropout.same_mask_every_call",),
    "dropout_in_eval": ("attention_dropout.ignores_training",),
    "dropout_inplace": ("inputs_modified_in_place",),
    "dropout_keep_p": ("dropout.p_swapped", "dropout.wrong_rate"),
    "dropout_no_rescale": ("dropout.no_rescale",),
    "dropout_scale_by_1_over_p": ("dropout.p_swapped",),
    "ex32_changed_heads": ("wrapper_with_2d_output.changed_heads",),
    "ex32_d_out_is_total": ("wrapper_with_2d_output.d_out_is_total",),
    "ex32_dropout_hardcoded": ("wrapper_with_2d_output.dropout_ignored",),
    "ex32_weight_split_class": ("wrapper_with_2d_output.weight_split_class",),
    "gpt2_d_out_per_head": ("gpt2_small_attention.d_out_per_head",),
    "gpt2_uses_wrapper": ("gpt2_small_attention.wrapper",),
    "gpt2_wrong_bias": ("gpt2_small_attention.qkv_bias",),
    "gpt2_wrong_context": ("gpt2_small_attention.context_length",),
    "gpt2_wrong_heads": ("gpt2_small_attention.heads",),
    "mask_and_renormalize_inplace": ("inputs_modified_in_place",),
    "mask_and_renormalize_no_renormalize": ("mask_and_renormalize.no_renormalization",),
    "mask_and_renormalize_wrong_dim": ("mask_and_renormalize.renormalize_wrong_dim",),
    "masked_weights_fill_zero": ("masked_attention_weights.mask_fill_zero",),
    "masked_weights_inplace": ("inputs_modified_in_place",),
    "masked_weights_mask_after_softmax": ("masked_attention_weights.mask_after_softmax",),
    "masked_weights_no_scaling": ("masked_attention_weights.no_scaling",),
    "masked_weights_scale_after_softmax": ("masked_attention_weights.scale_after_softmax",),
    "masked_weights_scale_by_dk": ("masked_attention_weights.scale_by_dk",),
    "masked_weights_softmax_wrong_dim": ("masked_attention_weights.softmax_wrong_dim",),
    "mha_dropout_before_softmax": ("dropout.before_softmax",),
    "mha_dropout_module_in_forward": ("dropout.active_in_eval",),
    "mha_dropout_on_output": ("dropout.on_output",),
    "mha_mask_diagonal": ("MultiHeadAttention.mask_diagonal",),
    "mha_mask_fill_zero": ("MultiHeadAttention.mask_fill_zero",),
    "mha_mask_not_buffer": ("MultiHeadAttention.mask_not_buffer",),
    "mha_mask_not_sliced": ("MultiHeadAttention.mask_not_sliced",),
    "mha_mask_off_by_one": ("MultiHeadAttention.mask_off_by_one",),
    "mha_merge_no_transpose": ("MultiHeadAttention.merge_without_transpose",),
    "mha_no_divisibility_check": ("MultiHeadAttention.no_divisibility_check",),
    "mha_no_mask": ("MultiHeadAttention.no_mask",),
    "mha_no_out_proj": ("MultiHeadAttention.no_out_proj",),
    "mha_no_scaling": ("MultiHeadAttention.no_scaling",),
    "mha_out_proj_no_bias": ("MultiHeadAttention.out_proj_no_bias",),
    "mha_qkv_bias_ignored": ("MultiHeadAttention.qkv_bias_ignored",),
    "mha_scale_by_d_out": ("MultiHeadAttention.scale_by_d_out",),
    "mha_scale_by_head_dim": ("MultiHeadAttention.scale_by_dk",),
    "mha_softmax_wrong_dim": ("MultiHeadAttention.softmax_wrong_dim",),
    "mha_split_no_transpose": ("MultiHeadAttention.split_without_transpose",),
    "mha_view_without_contiguous": ("MultiHeadAttention.view_without_contiguous",),
    "normalize_by_sum_global_sum": ("normalize_by_sum.global_sum",),
    "normalize_by_sum_ignores_dim": ("normalize_by_sum.dim_ignored",),
    "normalize_by_sum_inplace": ("inputs_modified_in_place",),
    "scores_for_query_sum_over_tokens": ("attention_scores_for_query.sum_over_tokens",),
    "softmax_naive_global_sum": ("softmax_naive.global_sum",),
    "softmax_naive_ignores_dim": ("softmax_naive.dim_ignored",),
    "softmax_naive_no_keepdim": ("softmax_naive.no_keepdim",),
    "softmax_stable_global_max": ("softmax_stable.global_max",),
    "softmax_stable_inplace": ("inputs_modified_in_place",),
    "softmax_stable_max_ignores_dim": ("softmax_stable.max_wrong_dim",),
    "softmax_stable_no_max_subtraction": ("softmax_stable.no_max_subtraction",),
    "softmax_stable_sum_detached": ("softmax_stable.sum_detached",),
    "transfer_incomplete": ("copy_v2_weights_into_v1.incomplete",),
    "transfer_no_transpose": ("copy_v2_weights_into_v1.no_transpose",),
    "transfer_swapped": ("copy_v2_weights_into_v1.reversed",),
    "v1_no_scaling": ("SelfAttention_v1.no_scaling",),
    "v1_queries_keys_swapped": ("SelfAttention_v1.queries_keys_swapped",),
    "v1_scale_after_softmax": ("SelfAttention_v1.scale_after_softmax",),
    "v1_scale_by_dk": ("SelfAttention_v1.scale_by_dk",),
    "v1_softmax_dim0": ("SelfAttention_v1.softmax_wrong_dim",),
    "v1_weight_detached": ("SelfAttention_v1.detached_weight",),
    "v1_weights_linear_layout": ("SelfAttention_v1.linear_layout",),
    "v2_no_scaling": ("SelfAttention_v2.no_scaling",),
    "v2_qkv_bias_ignored": ("SelfAttention_v2.qkv_bias_ignored",),
    "v2_queries_from_W_key": ("SelfAttention_v2.queries_from_W_key",),
    "v2_scale_by_d_in": ("SelfAttention_v2.scale_by_d_in",),
    "v2_softmax_dim0": ("SelfAttention_v2.softmax_wrong_dim",),
    "wrapper_dropout_not_passed": ("dropout.not_applied",),
    "wrapper_heads_plain_list": ("MultiHeadAttentionWrapper.plain_list",),
    "wrapper_heads_shared_module": ("MultiHeadAttentionWrapper.shared_head",),
    "wrapper_heads_wrong_dim": ("MultiHeadAttentionWrapper.heads_wrong_dim",),
    "wrapper_qkv_bias_not_passed": ("MultiHeadAttentionWrapper.qkv_bias_ignored",),
}
