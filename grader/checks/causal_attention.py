"""Checks for exercises/causal_attention.py (book §3.5): the causal mask, dropout, CausalAttention."""

from __future__ import annotations

from dataclasses import replace

from grader.checks import speed
from grader.checks.attention_modules import AttentionModule, ModuleConfig, qkv_linears, shape_text
from grader.checks.criteria import (
    AllOf,
    Close,
    Differ,
    DropoutElementwise,
    DropoutOnWeights,
    Grads,
    Same,
    ShapeDType,
    SumsToOne,
    ZeroAboveDiagonal,
)
from grader.checks.spec import Check, Exercise
from grader.checks.vocabulary import (
    V2_SCORES,
    V2_WEIGHTS,
    Run,
    book_values,
    function_probe,
    inputs_unchanged,
    random_values,
    tokens,
    weights_out,
)
from grader.worker.watch import FUSED_ATTENTION_CALLS

MODULE = "causal_attention"


def _causal_properties(run: Run, tries: str) -> Check:
    """Attention weights that need no reference: rows sum to 1, nothing above the diagonal."""
    return run.check(
        name="properties",
        title="rows sum to 1, zeros above the diagonal",
        tries=tries,
        judge=AllOf((SumsToOne(), ZeroAboveDiagonal())),
        picture="out",
    )


def _mask_of(size: int) -> Run:
    """causal_mask(size), which takes no tensors."""
    return Run(function_probe(context_length=size), lambda rng: {})


def _exact_mask(size: int, *, name: str, title: str, advice: str = "") -> Check:
    return _mask_of(size).check(
        name=name,
        title=title,
        tries=f"causal_mask({size})",
        judge=Close(atol=0, rtol=0),
        advice=advice,
        picture="out",
    )


causal_mask = Exercise(
    name="causal_mask",
    module=MODULE,
    section="3.5.1",
    hint="torch.triu(torch.ones(T, T), diagonal=1) marks what lies above the diagonal.",
    about="`True` above the diagonal, where a query must not see a key.",
    demo=("from exercises.causal_attention import causal_mask\n\ncausal_mask(6)"),
    checks=(
        _mask_of(6).check(
            name="dtype_shape",
            title="a bool (T, T) tensor",
            tries="causal_mask(6)",
            judge=ShapeDType(),
            advice="convert with .bool(): the contract's mask is a bool tensor",
        ),
        _exact_mask(
            6,
            name="values",
            title="True exactly above the diagonal (T=6)",
            advice="True means hidden: position j > i. diagonal=1 keeps each token visible to itself",
        ),
        _exact_mask(11, name="values_other_size", title="another size (T=11)"),
    ),
)

_RENORMALIZE_RUN = Run(
    function_probe("attn_weights"),
    lambda rng: {"attn_weights": rng.uniform(4, 7, 7, low=0.1, high=1)},
)

mask_and_renormalize = Exercise(
    name="mask_and_renormalize",
    module=MODULE,
    section="3.5.1",
    hint="Multiply by the lower-triangular ones (tril), then divide each row by its sum.",
    about=(
        "The book's first approach: mask the weights after the softmax, then renormalise. "
        "With `sa_v2`'s projections the second row is `[0.5517, 0.4483, 0, 0, 0, 0]`."
    ),
    demo=(
        "from exercises.causal_attention import mask_and_renormalize\n"
        "\n"
        "queries, keys = sa_v2.W_query(inputs), sa_v2.W_key(inputs)\n"
        "scores = queries @ keys.T\n"
        "weights = softmax_stable(scores / keys.shape[-1] ** 0.5)\n"
        "mask_and_renormalize(weights)"
    ),
    checks=(
        weights_out(
            book_values(
                "the book's renormalised weights",
                "mask_and_renormalize(attn_weights) on the book's 6 x 6 weights of "
                "SelfAttention_v2",
                {"attn_weights": V2_WEIGHTS},
            )
        ),
        random_values(
            Run(
                function_probe("attn_weights"),
                lambda rng: {"attn_weights": rng.uniform(2, 3, 5, 5, low=0.1, high=1)},
            ),
            name="batched",
            title="a batch of weight matrices",
            tries="mask_and_renormalize(attn_weights), attn_weights (2, 3, 5, 5) in [0.1, 1]",
            advice="mask the last two dims, and sum over the last one with keepdim=True",
            picture="out",
        ),
        _causal_properties(
            _RENORMALIZE_RUN,
            "mask_and_renormalize(attn_weights), attn_weights (4, 7, 7) in [0.1, 1]",
        ),
        inputs_unchanged(
            _RENORMALIZE_RUN,
            "mask_and_renormalize(attn_weights) on a (4, 7, 7) tensor",
            ("attn_weights",),
            advice="an in-place operation on attn_weights (*=, masked_fill_, tril_)",
        ),
    ),
)

_MASKED_RUN = Run(
    function_probe("attn_scores", d_k=4),
    lambda rng: {"attn_scores": rng.uniform(4, 7, 7, low=-4, high=4)},
)

masked_attention_weights = Exercise(
    name="masked_attention_weights",
    module=MODULE,
    forbidden=FUSED_ATTENTION_CALLS,
    section="3.5.1",
    hint="masked_fill the future positions with -inf, divide by sqrt(d_k), then softmax(dim=-1).",
    about=(
        "The efficient way: `-inf` above the diagonal before the softmax. Same weights as above."
    ),
    demo=(
        "from exercises.causal_attention import masked_attention_weights\n"
        "\n"
        "masked_attention_weights(scores, d_k=keys.shape[-1])"
    ),
    checks=(
        weights_out(
            book_values(
                "the book's masked weights",
                "masked_attention_weights(attn_scores, d_k=2) on the book's 6 x 6 scores of "
                "SelfAttention_v2",
                {"attn_scores": V2_SCORES},
                d_k=2,
            )
        ),
        random_values(
            Run(
                function_probe("attn_scores", d_k=16),
                lambda rng: {"attn_scores": rng.uniform(2, 3, 7, 7, low=-4, high=4)},
            ),
            name="batched",
            title="a batch of score matrices, d_k=16",
            tries="masked_attention_weights(attn_scores, d_k=16), attn_scores (2, 3, 7, 7) in [-4, 4]",
            advice="scale by sqrt(d_k), not d_k; mask with -inf (not 0) before the softmax",
            picture="out",
        ),
        _causal_properties(
            _MASKED_RUN, "masked_attention_weights(attn_scores, d_k=4), attn_scores (4, 7, 7)"
        ),
        Check(
            name="grad",
            title="gradient",
            tries="backward through masked_attention_weights(attn_scores, d_k=4) for (3, 6, 6) scores",
            probe=function_probe("attn_scores", d_k=4, grad_of=("attn_scores",), upstream="g"),
            inputs=lambda rng: {
                "attn_scores": rng.uniform(3, 6, 6, low=-4, high=4),
                "g": rng.uniform(3, 6, 6),
            },
            judge=Grads(),
        ),
        inputs_unchanged(
            _MASKED_RUN,
            "masked_attention_weights(attn_scores, d_k=4) on a (4, 7, 7) tensor",
            ("attn_scores",),
            advice="masked_fill_ (with the underscore) changes the caller's scores; use masked_fill",
        ),
    ),
)


DROP_P = 0.3


def _dropout_input(rng):
    return {"attn_weights": rng.uniform(64, 64, low=0.1, high=1.0)}


def _small_weights(rng):
    return {"attn_weights": rng.uniform(6, 6, low=0.1, high=1)}


DROPOUT = f"attention_dropout(attn_weights, p={DROP_P})"
# One call of attention_dropout(attn_weights, p=DROP_P) on a (64, 64) tensor in [0.1, 1].
_DROPOUT_RUN = Run(function_probe("attn_weights", p=DROP_P), _dropout_input)


attention_dropout = Exercise(
    name="attention_dropout",
    module=MODULE,
    section="3.5.2",
    hint="Zero each weight with probability p and scale the survivors by 1/(1-p); in eval "
    "(training=False) return the weights unchanged. nn.Dropout or F.dropout may be used.",
    about="Dropout with p = 0.5 zeroes about half of the weights and doubles the others.",
    demo=(
        "from exercises.causal_attention import attention_dropout\n"
        "\n"
        "torch.manual_seed(123)\n"
        "attention_dropout(torch.ones(6, 6), p=0.5)"
    ),
    checks=(
        Check(
            name="eval_identity",
            title="identity when not training",
            tries="attention_dropout(attn_weights, p=0.5, training=False), attn_weights (6, 6)",
            probe=function_probe("attn_weights", p=0.5, training=False),
            inputs=_small_weights,
            judge=Close(atol=0, rtol=0),
            advice="dropout is for training only: with training=False nothing is dropped or scaled",
            picture="out",
        ),
        Check(
            name="p_zero",
            title="identity when p=0",
            tries="attention_dropout(attn_weights, p=0.0), attn_weights (6, 6)",
            probe=function_probe("attn_weights", p=0.0),
            inputs=_small_weights,
            judge=Close(atol=0, rtol=0),
            picture="out",
        ),
        _DROPOUT_RUN.check(
            name="rate",
            title=f"zeroes about p of the weights (p={DROP_P})",
            tries=f"{DROPOUT} on a (64, 64) tensor in [0.1, 1], counting the zeros",
            judge=DropoutElementwise(DROP_P, "rate"),
            points=2,
            advice="p is the probability of dropping a weight, not of keeping it",
        ),
        _DROPOUT_RUN.check(
            name="scale",
            title="scales the kept weights by 1/(1-p)",
            tries=f"{DROPOUT} on a (64, 64) tensor in [0.1, 1], comparing each kept weight with "
            "its input",
            judge=DropoutElementwise(DROP_P, "scale"),
            points=2,
            advice="the survivors are scaled by 1/(1-p), not by 1/p or not at all",
        ),
        Check(
            name="fresh_draws",
            title="each call draws a new mask",
            tries=f"{DROPOUT} called twice on the same (64, 64) tensor",
            probe=function_probe("attn_weights", p=DROP_P, repeat=2),
            inputs=_dropout_input,
            judge=Differ(what="the two calls' outputs", diagnosis="dropout.same_mask_every_call"),
            advice="no torch.manual_seed inside the function: the random generator must advance",
        ),
        inputs_unchanged(
            _DROPOUT_RUN,
            f"{DROPOUT} on a (64, 64) tensor",
            ("attn_weights",),
            advice="inplace=True in F.dropout or nn.Dropout changes the caller's tensor",
        ),
        Check(
            name="same_draws_as_torch",
            title="the same draws as nn.Dropout",
            tries=f"torch.manual_seed(0); {DROPOUT} against "
            "F.dropout under the same seed, in your torch",
            probe=function_probe("attn_weights", p=DROP_P, twin="F.dropout"),
            inputs=_dropout_input,
            judge=Same("out", "twin", atol=0, what="your output and F.dropout's"),
            points=0,
            advice="your dropout is random in its own way, which is fine; with nn.Dropout or "
            "F.dropout you would also reproduce the book's printed dropout example",
        ),
    ),
)

# -- CausalAttention ----------------------------------------------------------------------

CONFIG = ModuleConfig(d_in=5, d_out=4, context_length=9, batch=3, tokens=7)
CAUSAL = AttentionModule("CausalAttention", CONFIG, layers=qkv_linears)
ONE_TOKEN = replace(CONFIG, tokens=1)
FULL = replace(CONFIG, tokens=CONFIG.context_length)


CausalAttention = Exercise(
    name="CausalAttention",
    module=MODULE,
    forbidden=FUSED_ATTENTION_CALLS,
    section="3.5.3",
    hint="SelfAttention_v2 on batches (keys.transpose(1, 2)), plus the causal mask "
    "(a registered buffer, sliced to [:num_tokens, :num_tokens]) and dropout on the weights.",
    about=(
        "A batch of two copies of the input. With `torch.manual_seed(123)` the book prints a "
        "first row of `[-0.4519, 0.2216]` in each batch entry."
    ),
    demo=(
        "from exercises.causal_attention import CausalAttention\n"
        "\n"
        "batch = torch.stack((inputs, inputs), dim=0)  # (2, 6, 3)\n"
        "torch.manual_seed(123)\n"
        "ca = CausalAttention(d_in=3, d_out=2, context_length=batch.shape[1], dropout=0.0)\n"
        "ca(batch)"
    ),
    checks=(
        CAUSAL.structure(title="W_query, W_key, W_value are nn.Linear"),
        CAUSAL.values(
            title="values on distinct sequences shorter than context_length",
            tries=f"{CAUSAL.called()} with the reference's weights, eval mode, on x "
            f"{shape_text(CONFIG.x_shape)}: {CONFIG.batch} different sequences of "
            f"{CONFIG.tokens} < {CONFIG.context_length} tokens",
            advice="batched scores need keys.transpose(1, 2) (keys.T reverses every dim); the "
            "mask must be sliced to [:num_tokens, :num_tokens]; softmax over dim=-1",
        ),
        CAUSAL.values_bias(),
        Check(
            name="lengths",
            title="one token, and exactly context_length tokens",
            tries=f"{CAUSAL.called()} on x {shape_text(ONE_TOKEN.x_shape)} and on x "
            f"{shape_text(FULL.x_shape)}",
            probe=CAUSAL.probe(forward=("x", "x_full")),
            inputs=CAUSAL.inputs(ONE_TOKEN, x_full=lambda rng: tokens(rng, *FULL.x_shape)),
            judge=Close(("out", "out1")),
            advice="slice the mask with the input's num_tokens, not a fixed size",
        ),
        CAUSAL.causal(
            advice="the mask hides what lies above the diagonal (j > i), with -inf before softmax"
        ),
        CAUSAL.eval_mode(
            tries=f"{CAUSAL.called('dropout=0.5')} in eval mode, forward twice on x",
            advice="use self.dropout (an nn.Dropout module), which model.eval() switches off",
        ),
        CAUSAL.train_dropout(
            ModuleConfig(d_in=8, d_out=8, context_length=8, batch=32, tokens=8),
            p=DROP_P,
            title=f"train mode drops attention weights (p={DROP_P})",
            reading=" with an orthogonal W_value, reading the attention weights back from the "
            "output",
            judge=DropoutOnWeights(DROP_P, ("w:W_value.weight",)),
            points=2,
            advice="self.dropout goes on attn_weights, after the softmax and before @ values",
        ),
        CAUSAL.grads(),
        CAUSAL.device(),
        CAUSAL.inputs_unchanged(),
        CAUSAL.book(
            seed=123,
            advice="matters only for matching the book's printed numbers: create W_query, "
            "W_key, W_value in that order, with bias=qkv_bias (False)",
        ),
        *speed.module_checks(
            CAUSAL,
            speed.CAUSAL_SIZES,
            advice="batched matrix products for all tokens at once; no Python loop over tokens "
            "or sequences; build the mask once in __init__ (a buffer), not in every forward",
        ),
    ),
)

EXERCISES = (
    causal_mask,
    mask_and_renormalize,
    masked_attention_weights,
    attention_dropout,
    CausalAttention,
)
