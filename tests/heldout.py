"""Held-out broken submissions: realistic learner mistakes the grader's authors have not seen.

Each entry starts from one of the three correct submissions under
``tests/submissions/<base>/`` and applies a few textual (old, new) edits inside the
definition of one exercise (its function or class), introducing exactly one mistake there.
They are independent, hand-written broken implementations in other styles, not a second
catalogue of mistakes: the set measures how well the grader recognises (and names)
mistakes in code written differently from the reference solution.

``mutated_source(broken)`` returns the edited module source, with the kit's own edit
function (``grader.judge.variants.apply_edits``): it raises ``ValueError`` unless every
``old`` occurs exactly once in the code of the exercise's definition (docstrings left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.judge.variants import apply_edits

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"

BASES = ("einsum_style", "functional_style", "book_style")


@dataclass(frozen=True)
class Broken:
    id: str  # short slug
    base: str  # "einsum_style", "functional_style" or "book_style"
    module: str  # "simple_attention", "self_attention", "causal_attention" or "multihead_attention"
    exercise: str  # the function or class that is now wrong; the edits apply inside it
    mistake: str  # the mistake in plain words, as a teaching assistant would name it
    edits: tuple[tuple[str, str], ...]  # (old, new): old occurs once in the exercise's code


def source_path(broken: Broken) -> Path:
    return SUBMISSIONS / broken.base / f"{broken.module}.py"


def mutated_source(broken: Broken) -> str:
    """The source of ``broken.module`` from ``broken.base`` with the edits applied inside the
    exercise's definition."""
    return apply_edits(source_path(broken).read_text(), broken.exercise, broken.edits)


BROKEN: tuple[Broken, ...] = (
    # ------------------------------------------------------------------ §3.3
    Broken(
        id="query_scores_sum_over_tokens",
        base="einsum_style",
        module="simple_attention",
        exercise="attention_scores_for_query",
        mistake="The einsum output subscript keeps the embedding index instead of the token "
        "index, so it sums over tokens and returns a (d_in,) vector instead of one score per token.",
        edits=(
            ('torch.einsum("td,d->t", inputs, query)', 'torch.einsum("td,d->d", inputs, query)'),
        ),
    ),
    Broken(
        id="query_scores_total_sum",
        base="functional_style",
        module="simple_attention",
        exercise="attention_scores_for_query",
        mistake="Multiplies element-wise and then sums over every element, returning a single "
        "scalar instead of one dot product per token.",
        edits=(("return torch.matmul(inputs, query)", "return torch.sum(inputs * query)"),),
    ),
    Broken(
        id="query_scores_hardcoded_inputs1",
        base="book_style",
        module="simple_attention",
        exercise="attention_scores_for_query",
        mistake="Hard-codes the book's running query inputs[1] instead of using the query argument.",
        edits=(("torch.dot(token, query)", "torch.dot(token, inputs[1])"),),
    ),
    Broken(
        id="query_scores_sized_by_d_in",
        base="book_style",
        module="simple_attention",
        exercise="attention_scores_for_query",
        mistake="Allocates the score vector with the embedding size (inputs.shape[1]) instead of "
        "the number of tokens, so it has the wrong length (or indexes out of range).",
        edits=(("torch.empty(inputs.shape[0])", "torch.empty(inputs.shape[1])"),),
    ),
    Broken(
        id="scores_diagonal_only",
        base="einsum_style",
        module="simple_attention",
        exercise="attention_scores",
        mistake="Reuses the same subscript for both tokens in the einsum, so it computes only each "
        "token's dot product with itself (the diagonal) instead of the full score matrix.",
        edits=(
            (
                'torch.einsum("id,jd->ij", inputs, inputs)',
                'torch.einsum("id,id->i", inputs, inputs)',
            ),
        ),
    ),
    Broken(
        id="scores_gram_of_features",
        base="functional_style",
        module="simple_attention",
        exercise="attention_scores",
        mistake="Transposes the wrong operand (inputs.T @ inputs), giving a (d_in, d_in) matrix of "
        "feature products instead of (num_tokens, num_tokens) token scores.",
        edits=(("torch.mm(inputs, inputs.t())", "torch.mm(inputs.t(), inputs)"),),
    ),
    Broken(
        id="scores_scaled_too_early",
        base="book_style",
        module="simple_attention",
        exercise="attention_scores",
        mistake="Divides the raw scores by sqrt(d_in), mixing in the scaling from §3.4 where "
        "the plain dot products are required.",
        edits=(("return inputs @ inputs.T", "return inputs @ inputs.T / inputs.shape[-1] ** 0.5"),),
    ),
    Broken(
        id="normalize_global_sum",
        base="einsum_style",
        module="simple_attention",
        exercise="normalize_by_sum",
        mistake="Divides by the sum of the whole tensor instead of the sum along dim, which is "
        "only right for 1-D input.",
        edits=(("total = scores.sum(dim, keepdim=True)", "total = scores.sum()"),),
    ),
    Broken(
        id="normalize_no_keepdim",
        base="functional_style",
        module="simple_attention",
        exercise="normalize_by_sum",
        mistake="Drops keepdim=True, so for 2-D scores the row sums broadcast along the wrong axis "
        "(each column is divided by a different row's sum).",
        edits=(
            (
                "torch.div(scores, torch.sum(scores, dim=dim, keepdim=True))",
                "torch.div(scores, torch.sum(scores, dim=dim))",
            ),
        ),
    ),
    Broken(
        id="normalize_dim0_hardcoded",
        base="book_style",
        module="simple_attention",
        exercise="normalize_by_sum",
        mistake="Hard-codes dim=0 (as in the book's 1-D example) and ignores the dim argument, so "
        "2-D scores are normalised over columns instead of rows.",
        edits=(
            (
                "scores / scores.sum(dim=dim, keepdim=True)",
                "scores / scores.sum(dim=0, keepdim=True)",
            ),
        ),
    ),
    Broken(
        id="softmax_naive_dim0",
        base="einsum_style",
        module="simple_attention",
        exercise="softmax_naive",
        mistake="Copies the book's softmax_naive with its sum over dim=0, ignoring the dim "
        "argument, so 2-D input is normalised over the wrong axis.",
        edits=(("return e / e.sum(dim, keepdim=True)", "return e / e.sum(dim=0, keepdim=True)"),),
    ),
    Broken(
        id="softmax_naive_last_dim_only",
        base="functional_style",
        module="simple_attention",
        exercise="softmax_naive",
        mistake="Always sums over the last dimension instead of the requested dim.",
        edits=(
            (
                "torch.div(numerator, torch.sum(numerator, dim=dim, keepdim=True))",
                "torch.div(numerator, torch.sum(numerator, dim=-1, keepdim=True))",
            ),
        ),
    ),
    Broken(
        id="softmax_naive_exp_of_sum",
        base="book_style",
        module="simple_attention",
        exercise="softmax_naive",
        mistake="Misplaced parenthesis: divides by exp(sum(x)) instead of sum(exp(x)).",
        edits=(
            (
                "torch.exp(x) / torch.exp(x).sum(dim=dim, keepdim=True)",
                "torch.exp(x) / torch.exp(x.sum(dim=dim, keepdim=True))",
            ),
        ),
    ),
    Broken(
        id="softmax_stable_lse_no_keepdim",
        base="einsum_style",
        module="simple_attention",
        exercise="softmax_stable",
        mistake="Drops keepdim=True on logsumexp, so for 2-D input the normaliser broadcasts "
        "against the wrong axis.",
        edits=(("torch.logsumexp(x, dim, keepdim=True)", "torch.logsumexp(x, dim)"),),
    ),
    Broken(
        id="softmax_stable_global_max",
        base="functional_style",
        module="simple_attention",
        exercise="softmax_stable",
        mistake="Subtracts the global maximum instead of the per-slice maximum along dim, so "
        "slices far below the global maximum underflow to 0/0 (NaN).",
        edits=(
            ("shift = x.max(dim=dim, keepdim=True).values.detach()", "shift = x.max().detach()"),
        ),
    ),
    Broken(
        id="softmax_stable_no_shift",
        base="book_style",
        module="simple_attention",
        exercise="softmax_stable",
        mistake="Computes the maximum but never subtracts it before exp, so large inputs overflow "
        "to inf and give NaN.",
        edits=(("exps = torch.exp(x - biggest)", "exps = torch.exp(x)"),),
    ),
    Broken(
        id="context_same_index",
        base="einsum_style",
        module="simple_attention",
        exercise="context_vectors",
        mistake="Labels the inputs' token axis with the query subscript, so each context vector is "
        "just its own input scaled by its row sum instead of a weighted sum over all tokens.",
        edits=(
            (
                'torch.einsum("qt,td->qd", attn_weights, inputs)',
                'torch.einsum("qt,qd->qd", attn_weights, inputs)',
            ),
        ),
    ),
    Broken(
        id="context_weights_transposed",
        base="functional_style",
        module="simple_attention",
        exercise="context_vectors",
        mistake="Multiplies with the transposed attention weights, so each context vector uses a "
        "column (the weights other queries give a token) instead of its own row.",
        edits=(("torch.matmul(attn_weights, inputs)", "torch.matmul(attn_weights.t(), inputs)"),),
    ),
    Broken(
        id="context_double_softmax",
        base="book_style",
        module="simple_attention",
        exercise="context_vectors",
        mistake="Applies softmax again to weights that are already normalised before "
        "multiplying by the inputs.",
        edits=(
            ("return attn_weights @ inputs", "return torch.softmax(attn_weights, dim=-1) @ inputs"),
        ),
    ),
    # ------------------------------------------------------------------ §3.4
    Broken(
        id="v1_value_transposed_subscript",
        base="einsum_style",
        module="self_attention",
        exercise="SelfAttention_v1",
        mistake="Projects the values with the nn.Linear-style subscript 'ti,oi->to', i.e. with the "
        "transposed W_value (wrong when square, a shape error otherwise).",
        edits=(
            (
                'v = torch.einsum("ti,io->to", x, self.W_value)',
                'v = torch.einsum("ti,oi->to", x, self.W_value)',
            ),
        ),
    ),
    Broken(
        id="v1_divide_by_dk",
        base="einsum_style",
        module="self_attention",
        exercise="SelfAttention_v1",
        mistake="Scales the queries by d_k instead of sqrt(d_k).",
        edits=(
            (
                'v = torch.einsum("ti,io->to", x, self.W_value)\n        q = q / math.sqrt(k.shape[-1])',
                'v = torch.einsum("ti,io->to", x, self.W_value)\n        q = q / k.shape[-1]',
            ),
        ),
    ),
    Broken(
        id="v1_scale_by_d_in",
        base="functional_style",
        module="self_attention",
        exercise="SelfAttention_v1",
        mistake="Scales by the square root of the input embedding size d_in instead of the key "
        "dimension d_out.",
        edits=(("d_k = key.size(-1)", "d_k = x.size(-1)"),),
    ),
    Broken(
        id="v1_key_created_first",
        base="book_style",
        module="self_attention",
        exercise="SelfAttention_v1",
        mistake="Creates W_key before W_query, so the seeded random weights differ from the book's.",
        edits=(
            (
                "        self.W_query = nn.Parameter(torch.rand(d_in, d_out))\n"
                "        self.W_key = nn.Parameter(torch.rand(d_in, d_out))\n",
                "        self.W_key = nn.Parameter(torch.rand(d_in, d_out))\n"
                "        self.W_query = nn.Parameter(torch.rand(d_in, d_out))\n",
            ),
        ),
    ),
    Broken(
        id="v1_softmax_dim0",
        base="book_style",
        module="self_attention",
        exercise="SelfAttention_v1",
        mistake="Takes the softmax over dim=0 (over queries) instead of over the keys.",
        edits=(
            (
                "v = x @ self.W_value\n        scores = q @ k.T\n"
                "        weights = torch.softmax(scores / k.shape[-1] ** 0.5, dim=-1)",
                "v = x @ self.W_value\n        scores = q @ k.T\n"
                "        weights = torch.softmax(scores / k.shape[-1] ** 0.5, dim=0)",
            ),
        ),
    ),
    Broken(
        id="v2_softmax_dim0",
        base="einsum_style",
        module="self_attention",
        exercise="SelfAttention_v2",
        mistake="Normalises the attention scores over dim=0 (over queries) instead of the last dimension.",
        edits=(("weights = scores.softmax(dim=-1)", "weights = scores.softmax(dim=0)"),),
    ),
    Broken(
        id="v2_always_bias",
        base="functional_style",
        module="self_attention",
        exercise="SelfAttention_v2",
        mistake="Leaves out bias=qkv_bias, so the projections always get nn.Linear's default bias.",
        edits=(
            (
                "        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)\n"
                "        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)\n"
                "        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)\n",
                "        self.W_query = nn.Linear(d_in, d_out)\n"
                "        self.W_key = nn.Linear(d_in, d_out)\n"
                "        self.W_value = nn.Linear(d_in, d_out)\n",
            ),
        ),
    ),
    Broken(
        id="v2_no_scaling",
        base="book_style",
        module="self_attention",
        exercise="SelfAttention_v2",
        mistake="Forgets to divide the scores by sqrt(d_k) before the softmax.",
        edits=(
            (
                "v = self.W_value(x)\n        scores = q @ k.T\n"
                "        weights = torch.softmax(scores / k.shape[-1] ** 0.5, dim=-1)",
                "v = self.W_value(x)\n        scores = q @ k.T\n"
                "        weights = torch.softmax(scores, dim=-1)",
            ),
        ),
    ),
    Broken(
        id="copy_without_transpose",
        base="einsum_style",
        module="self_attention",
        exercise="copy_v2_weights_into_v1",
        mistake="Copies the nn.Linear weights without transposing them (they are stored as "
        "(d_out, d_in)).",
        edits=(
            (
                "    sa_v1.W_query = nn.Parameter(sa_v2.W_query.weight.T.clone())\n"
                "    sa_v1.W_key = nn.Parameter(sa_v2.W_key.weight.T.clone())\n"
                "    sa_v1.W_value = nn.Parameter(sa_v2.W_value.weight.T.clone())\n",
                "    sa_v1.W_query = nn.Parameter(sa_v2.W_query.weight.clone())\n"
                "    sa_v1.W_key = nn.Parameter(sa_v2.W_key.weight.clone())\n"
                "    sa_v1.W_value = nn.Parameter(sa_v2.W_value.weight.clone())\n",
            ),
        ),
    ),
    Broken(
        id="copy_wrong_direction",
        base="functional_style",
        module="self_attention",
        exercise="copy_v2_weights_into_v1",
        mistake="Copies in the wrong direction: overwrites sa_v2's weights with sa_v1's instead of "
        "the other way round.",
        edits=(
            (
                "getattr(sa_v1, name).copy_(getattr(sa_v2, name).weight.t())",
                "getattr(sa_v2, name).weight.copy_(getattr(sa_v1, name).t())",
            ),
        ),
    ),
    Broken(
        id="copy_value_from_key",
        base="book_style",
        module="self_attention",
        exercise="copy_v2_weights_into_v1",
        mistake="Copy-paste slip: W_value is filled from sa_v2's W_key weights.",
        edits=(
            (
                "sa_v1.W_value.copy_(sa_v2.W_value.weight.T)",
                "sa_v1.W_value.copy_(sa_v2.W_key.weight.T)",
            ),
        ),
    ),
    # ------------------------------------------------------------------ §3.5
    Broken(
        id="mask_hides_diagonal",
        base="einsum_style",
        module="causal_attention",
        exercise="causal_mask",
        mistake="Uses >= instead of >, so the mask also hides the diagonal (each token from itself).",
        edits=(
            (
                "return idx.reshape(1, -1) > idx.reshape(-1, 1)",
                "return idx.reshape(1, -1) >= idx.reshape(-1, 1)",
            ),
        ),
    ),
    Broken(
        id="mask_lower_triangle",
        base="functional_style",
        module="causal_attention",
        exercise="causal_mask",
        mistake="Builds the mask from the wrong triangle (tril below the diagonal), hiding past "
        "tokens instead of future ones.",
        edits=(("torch.triu(ones, diagonal=1)", "torch.tril(ones, diagonal=-1)"),),
    ),
    Broken(
        id="mask_float_not_bool",
        base="book_style",
        module="causal_attention",
        exercise="causal_mask",
        mistake="Returns the float 0/1 triu matrix as in the book's buffer instead of a bool tensor.",
        edits=(
            (
                "return torch.triu(torch.ones(context_length, context_length), diagonal=1).bool()",
                "return torch.triu(torch.ones(context_length, context_length), diagonal=1)",
            ),
        ),
    ),
    Broken(
        id="renorm_by_original_sums",
        base="einsum_style",
        module="causal_attention",
        exercise="mask_and_renormalize",
        mistake="Zeroes the future weights but divides by the original row sums, so the rows are "
        "not renormalised to 1.",
        edits=(
            (
                "return kept / kept.sum(-1, keepdim=True)",
                "return kept / attn_weights.sum(-1, keepdim=True)",
            ),
        ),
    ),
    Broken(
        id="renorm_in_place",
        base="functional_style",
        module="causal_attention",
        exercise="mask_and_renormalize",
        mistake="Masks with masked_fill_ and so modifies the caller's attn_weights in place.",
        edits=(
            (
                "kept = torch.where(hidden, torch.zeros_like(attn_weights), attn_weights)",
                "kept = attn_weights.masked_fill_(hidden, 0.0)",
            ),
        ),
    ),
    Broken(
        id="renorm_keeps_future",
        base="book_style",
        module="causal_attention",
        exercise="mask_and_renormalize",
        mistake="Multiplies by the upper triangle (triu) instead of the lower one, keeping the "
        "future tokens and zeroing the past.",
        edits=(("lower = torch.tril(torch.ones(n, n))", "lower = torch.triu(torch.ones(n, n))"),),
    ),
    Broken(
        id="masked_weights_fill_zero",
        base="einsum_style",
        module="causal_attention",
        exercise="masked_attention_weights",
        mistake="Fills the future scores with 0 instead of -inf before the softmax, so future "
        "tokens still get weight.",
        edits=(
            (
                'scores = attn_scores.masked_fill(hidden, float("-inf"))',
                "scores = attn_scores.masked_fill(hidden, 0.0)",
            ),
        ),
    ),
    Broken(
        id="masked_weights_multiply_sqrt",
        base="functional_style",
        module="causal_attention",
        exercise="masked_attention_weights",
        mistake="Multiplies the scores by sqrt(d_k) instead of dividing by it (wrong sign of the exponent).",
        edits=(("scaled = attn_scores * d_k**-0.5", "scaled = attn_scores * d_k**0.5"),),
    ),
    Broken(
        id="masked_weights_softmax_dim1",
        base="functional_style",
        module="causal_attention",
        exercise="masked_attention_weights",
        mistake="Takes the softmax over dim=1, which is the last dimension only for 2-D scores; "
        "batched scores are normalised over the queries.",
        edits=(("return F.softmax(scaled, dim=-1)", "return F.softmax(scaled, dim=1)"),),
    ),
    Broken(
        id="masked_weights_in_place",
        base="book_style",
        module="causal_attention",
        exercise="masked_attention_weights",
        mistake="Uses masked_fill_ on the argument, modifying the caller's attn_scores in place.",
        edits=(
            (
                "scores = attn_scores.masked_fill(upper.bool(), -torch.inf)",
                "scores = attn_scores.masked_fill_(upper.bool(), -torch.inf)",
            ),
        ),
    ),
    Broken(
        id="dropout_ignores_training",
        base="einsum_style",
        module="causal_attention",
        exercise="attention_dropout",
        mistake="Does not pass the training flag to F.dropout, so dropout is still applied when "
        "training=False.",
        edits=(
            ("return F.dropout(attn_weights, p, training)", "return F.dropout(attn_weights, p)"),
        ),
    ),
    Broken(
        id="dropout_scale_one_over_p",
        base="functional_style",
        module="causal_attention",
        exercise="attention_dropout",
        mistake="Scales the surviving weights by 1/p instead of 1/(1 - p).",
        edits=(("attn_weights / (1 - p)", "attn_weights / p"),),
    ),
    Broken(
        id="dropout_keep_prob_inverted",
        base="functional_style",
        module="causal_attention",
        exercise="attention_dropout",
        mistake="Inverts the keep test, so each weight is kept with probability p instead of dropped "
        "with probability p.",
        edits=(
            (
                "keep = torch.rand_like(attn_weights) >= p",
                "keep = torch.rand_like(attn_weights) < p",
            ),
        ),
    ),
    Broken(
        id="dropout_renormalised_rows",
        base="book_style",
        module="causal_attention",
        exercise="attention_dropout",
        mistake="Renormalises the rows after dropout so they sum to 1 again, which undoes the "
        "1/(1 - p) scaling.",
        edits=(
            (
                "    return drop(attn_weights)",
                "    dropped = drop(attn_weights)\n"
                "    return dropped / dropped.sum(dim=-1, keepdim=True)",
            ),
        ),
    ),
    Broken(
        id="causal_scores_subscript_swapped",
        base="einsum_style",
        module="causal_attention",
        exercise="CausalAttention",
        mistake="Writes the score einsum output as 'bkq' instead of 'bqk', so the scores are "
        "transposed before masking and the softmax.",
        edits=(
            (
                'scores = torch.einsum("bqd,bkd->bqk", q, k)',
                'scores = torch.einsum("bqd,bkd->bkq", q, k)',
            ),
        ),
    ),
    Broken(
        id="causal_dropout_before_softmax",
        base="einsum_style",
        module="causal_attention",
        exercise="CausalAttention",
        mistake="Applies dropout to the masked scores before the softmax instead of to the "
        "attention weights after it.",
        edits=(
            (
                "weights = self.dropout(scores.softmax(dim=-1))",
                "weights = self.dropout(scores).softmax(dim=-1)",
            ),
        ),
    ),
    Broken(
        id="causal_divide_by_dk",
        base="einsum_style",
        module="causal_attention",
        exercise="CausalAttention",
        mistake="Scales the queries by d_out instead of sqrt(d_out).",
        edits=(("q = q / math.sqrt(self.d_out)", "q = q / self.d_out"),),
    ),
    Broken(
        id="causal_mask_not_sliced",
        base="functional_style",
        module="causal_attention",
        exercise="CausalAttention",
        mistake="Uses the full context_length mask without slicing it to [:num_tokens, :num_tokens], "
        "so sequences shorter than context_length fail.",
        edits=(
            (
                'scores = torch.where(self.mask[:num_tokens, :num_tokens], float("-inf"), scores)',
                'scores = torch.where(self.mask, float("-inf"), scores)',
            ),
        ),
    ),
    Broken(
        id="causal_dropout_in_eval",
        base="functional_style",
        module="causal_attention",
        exercise="CausalAttention",
        mistake="Calls F.dropout without self.training, so dropout stays active in eval() mode.",
        edits=(
            (
                "weights = F.dropout(weights, self.dropout_p, self.training)",
                "weights = F.dropout(weights, self.dropout_p)",
            ),
        ),
    ),
    Broken(
        id="causal_softmax_dim1",
        base="book_style",
        module="causal_attention",
        exercise="CausalAttention",
        mistake="Takes the softmax over dim=1, which for batched (b, T, T) scores normalises over "
        "the queries instead of the keys.",
        edits=(
            (
                "weights = torch.softmax(scores / k.shape[-1] ** 0.5, dim=-1)",
                "weights = torch.softmax(scores / k.shape[-1] ** 0.5, dim=1)",
            ),
        ),
    ),
    Broken(
        id="causal_dropout_on_context",
        base="book_style",
        module="causal_attention",
        exercise="CausalAttention",
        mistake="Applies dropout to the context vectors (after multiplying by the values) instead "
        "of to the attention weights.",
        edits=(
            (
                "        weights = self.dropout(weights)\n        return weights @ v",
                "        return self.dropout(weights @ v)",
            ),
        ),
    ),
    Broken(
        id="causal_mask_plain_attribute",
        base="book_style",
        module="causal_attention",
        exercise="CausalAttention",
        mistake="Stores the mask as a plain tensor attribute instead of a registered buffer, so it "
        "is not in the state_dict and does not follow .to(device).",
        edits=(
            (
                "        self.register_buffer(\n"
                '            "mask", torch.triu(torch.ones(context_length, context_length), diagonal=1)\n'
                "        )",
                "        self.mask = torch.triu(torch.ones(context_length, context_length), diagonal=1)",
            ),
        ),
    ),
    Broken(
        id="causal_keys_dot_T",
        base="book_style",
        module="causal_attention",
        exercise="CausalAttention",
        mistake="Uses k.T on the 3-D keys, which reverses all three dimensions instead of swapping "
        "the last two.",
        edits=(("scores = q @ k.transpose(1, 2)", "scores = q @ k.T"),),
    ),
    # ------------------------------------------------------------------ §3.6
    Broken(
        id="wrapper_cat_tokens",
        base="einsum_style",
        module="multihead_attention",
        exercise="MultiHeadAttentionWrapper",
        mistake="Concatenates the head outputs along the token dimension (dim=1) instead of the "
        "feature dimension.",
        edits=(
            (
                "torch.cat([head(x) for head in self.heads], dim=2)",
                "torch.cat([head(x) for head in self.heads], dim=1)",
            ),
        ),
    ),
    Broken(
        id="wrapper_splits_d_out",
        base="functional_style",
        module="multihead_attention",
        exercise="MultiHeadAttentionWrapper",
        mistake="Treats d_out as the total size and gives each head d_out // num_heads, although in "
        "the wrapper d_out is per head.",
        edits=(
            (
                "CausalAttention(d_in, d_out, context_length, dropout, qkv_bias=qkv_bias)",
                "CausalAttention(d_in, d_out // num_heads, context_length, dropout, qkv_bias=qkv_bias)",
            ),
        ),
    ),
    Broken(
        id="wrapper_drops_qkv_bias",
        base="functional_style",
        module="multihead_attention",
        exercise="MultiHeadAttentionWrapper",
        mistake="Does not pass qkv_bias on to the heads, so they never have a bias.",
        edits=(
            (
                "CausalAttention(d_in, d_out, context_length, dropout, qkv_bias=qkv_bias)",
                "CausalAttention(d_in, d_out, context_length, dropout)",
            ),
        ),
    ),
    Broken(
        id="wrapper_shared_head",
        base="book_style",
        module="multihead_attention",
        exercise="MultiHeadAttentionWrapper",
        mistake="Builds the head list by list multiplication, so all heads are the same module "
        "with shared weights.",
        edits=(
            (
                "            [\n"
                "                CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)\n"
                "                for _ in range(num_heads)\n"
                "            ]\n",
                "            [CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)] * num_heads\n",
            ),
        ),
    ),
    Broken(
        id="ex32_one_head",
        base="einsum_style",
        module="multihead_attention",
        exercise="wrapper_with_2d_output",
        mistake="Changes num_heads to 1 with d_out=2 instead of keeping two heads of size 1.",
        edits=(
            (
                "MultiHeadAttentionWrapper(d_in, 1, context_length, dropout, num_heads=2)",
                "MultiHeadAttentionWrapper(d_in, 2, context_length, dropout, num_heads=1)",
            ),
        ),
    ),
    Broken(
        id="ex32_total_as_d_out",
        base="functional_style",
        module="multihead_attention",
        exercise="wrapper_with_2d_output",
        mistake="Passes the total size 2 as d_out, forgetting that the wrapper's d_out is per head, "
        "so the output is 4-dimensional.",
        edits=(
            (
                "d_in, d_out=1, context_length=context_length",
                "d_in, d_out=2, context_length=context_length",
            ),
        ),
    ),
    Broken(
        id="ex32_ignores_dropout",
        base="book_style",
        module="multihead_attention",
        exercise="wrapper_with_2d_output",
        mistake="Hard-codes dropout 0.0 (as in the book's example) instead of passing the dropout argument.",
        edits=(
            (
                "MultiHeadAttentionWrapper(d_in, d_out, context_length, dropout, num_heads=2)",
                "MultiHeadAttentionWrapper(d_in, d_out, context_length, 0.0, num_heads=2)",
            ),
        ),
    ),
    Broken(
        id="mha_split_without_permute",
        base="einsum_style",
        module="multihead_attention",
        exercise="MultiHeadAttention",
        mistake="Reshapes the projections straight to (b, heads, T, head_dim) without the "
        "permute, scrambling tokens across heads.",
        edits=(
            (
                "return y.reshape(b, t, self.num_heads, self.head_dim).permute(0, 2, 1, 3)",
                "return y.reshape(b, self.num_heads, t, self.head_dim)",
            ),
        ),
    ),
    Broken(
        id="mha_scale_by_d_out",
        base="einsum_style",
        module="multihead_attention",
        exercise="MultiHeadAttention",
        mistake="Scales by sqrt(d_out) instead of sqrt(head_dim).",
        edits=(
            (
                "q = self._heads(self.W_query, x) / math.sqrt(self.head_dim)",
                "q = self._heads(self.W_query, x) / math.sqrt(self.d_out)",
            ),
        ),
    ),
    Broken(
        id="mha_merge_without_permute",
        base="einsum_style",
        module="multihead_attention",
        exercise="MultiHeadAttention",
        mistake="Merges the heads by reshaping (b, heads, T, head_dim) directly to (b, T, d_out) "
        "without permuting the head dimension back first.",
        edits=(
            (
                "ctx = ctx.permute(0, 2, 1, 3).reshape(b, t, self.d_out)",
                "ctx = ctx.reshape(b, t, self.d_out)",
            ),
        ),
    ),
    Broken(
        id="mha_out_proj_untransposed",
        base="einsum_style",
        module="multihead_attention",
        exercise="MultiHeadAttention",
        mistake="Applies out_proj with the subscript 'bti,io->bto', i.e. multiplies by the weight "
        "instead of its transpose.",
        edits=(
            (
                'torch.einsum("bti,oi->bto", ctx, self.out_proj.weight)',
                'torch.einsum("bti,io->bto", ctx, self.out_proj.weight)',
            ),
        ),
    ),
    Broken(
        id="mha_out_proj_no_bias",
        base="einsum_style",
        module="multihead_attention",
        exercise="MultiHeadAttention",
        mistake="Forgets to add out_proj's bias in the hand-written output projection.",
        edits=(
            (
                'merged = torch.einsum("bti,oi->bto", ctx, self.out_proj.weight) + self.out_proj.bias',
                'merged = torch.einsum("bti,oi->bto", ctx, self.out_proj.weight)',
            ),
        ),
    ),
    Broken(
        id="mha_out_proj_bias_follows_qkv",
        base="functional_style",
        module="multihead_attention",
        exercise="MultiHeadAttention",
        mistake="Gives out_proj bias=qkv_bias, although the output projection always has a bias.",
        edits=(
            (
                "self.out_proj = nn.Linear(d_out, d_out)",
                "self.out_proj = nn.Linear(d_out, d_out, bias=qkv_bias)",
            ),
        ),
    ),
    Broken(
        id="mha_no_out_proj",
        base="functional_style",
        module="multihead_attention",
        exercise="MultiHeadAttention",
        mistake="Returns the merged heads without applying out_proj.",
        edits=(("return self.out_proj(context)", "return context"),),
    ),
    Broken(
        id="mha_unflatten_order",
        base="functional_style",
        module="multihead_attention",
        exercise="MultiHeadAttention",
        mistake="Unflattens the features as (head_dim, num_heads) instead of (num_heads, head_dim), "
        "so it really computes head_dim heads of size num_heads (wrong whenever the two differ).",
        edits=(
            (
                "t.unflatten(-1, (self.num_heads, self.head_dim))",
                "t.unflatten(-1, (self.head_dim, self.num_heads))",
            ),
        ),
    ),
    Broken(
        id="mha_dropout_before_softmax",
        base="functional_style",
        module="multihead_attention",
        exercise="MultiHeadAttention",
        mistake="Applies dropout to the scores before the softmax instead of to the attention weights.",
        edits=(
            (
                "weights = F.dropout(F.softmax(scores, dim=-1), self.dropout_p, self.training)",
                "weights = F.softmax(F.dropout(scores, self.dropout_p, self.training), dim=-1)",
            ),
        ),
    ),
    Broken(
        id="mha_no_divisibility_check",
        base="functional_style",
        module="multihead_attention",
        exercise="MultiHeadAttention",
        mistake="Drops the check that d_out is divisible by num_heads, so a bad configuration is "
        "silently accepted at construction.",
        edits=(
            (
                "        if d_out % num_heads != 0:\n"
                '            raise ValueError(f"cannot split d_out={d_out} into {num_heads} heads")\n',
                "",
            ),
        ),
    ),
    Broken(
        id="mha_no_contiguous",
        base="book_style",
        module="multihead_attention",
        exercise="MultiHeadAttention",
        mistake="Calls .view on the transposed context without .contiguous(), which raises a "
        "stride error whenever head_dim > 1.",
        edits=(
            (
                "ctx = ctx.contiguous().view(b, n_tok, self.d_out)",
                "ctx = ctx.view(b, n_tok, self.d_out)",
            ),
        ),
    ),
    Broken(
        id="mha_mask_not_sliced",
        base="book_style",
        module="multihead_attention",
        exercise="MultiHeadAttention",
        mistake="Does not slice the mask to [:num_tokens, :num_tokens], so inputs shorter than "
        "context_length fail.",
        edits=(("hide = self.mask.bool()[:n_tok, :n_tok]", "hide = self.mask.bool()"),),
    ),
    Broken(
        id="mha_key_created_first",
        base="book_style",
        module="multihead_attention",
        exercise="MultiHeadAttention",
        mistake="Creates W_key before W_query, so the seeded weights differ from the book's.",
        edits=(
            (
                "        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)\n"
                "        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)\n",
                "        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)\n"
                "        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)\n",
            ),
        ),
    ),
    Broken(
        id="mha_scale_by_d_in",
        base="book_style",
        module="multihead_attention",
        exercise="MultiHeadAttention",
        mistake="Scales the scores by sqrt(d_in), the input embedding size, instead of sqrt(head_dim).",
        edits=(
            (
                "weights = torch.softmax(scores / k.shape[-1] ** 0.5, dim=-1)",
                "weights = torch.softmax(scores / d_in**0.5, dim=-1)",
            ),
        ),
    ),
    Broken(
        id="gpt2_with_qkv_bias",
        base="einsum_style",
        module="multihead_attention",
        exercise="gpt2_small_attention",
        mistake="Turns on qkv_bias (as real GPT-2 has), although the exercise asks for no "
        "query/key/value bias, giving 2,362,368 parameters instead of 2,360,064.",
        edits=(
            (
                "MultiHeadAttention(768, 768, 1024, 0.0, num_heads=12)",
                "MultiHeadAttention(768, 768, 1024, 0.0, num_heads=12, qkv_bias=True)",
            ),
        ),
    ),
    Broken(
        id="gpt2_d_out_per_head",
        base="functional_style",
        module="multihead_attention",
        exercise="gpt2_small_attention",
        mistake="Passes the per-head size 64 as d_out, as if MultiHeadAttention's d_out were per "
        "head like the wrapper's, so the output is 64-dimensional.",
        edits=(("d_in=768, d_out=768,", "d_in=768, d_out=64,"),),
    ),
    Broken(
        id="gpt2_short_context",
        base="book_style",
        module="multihead_attention",
        exercise="gpt2_small_attention",
        mistake="Uses a context length of 256 (the book's reduced training setting) instead of "
        "GPT-2's 1,024.",
        edits=(("context_length = 1024", "context_length = 256"),),
    ),
)
