"""Checks for exercises/causal_attention.py (book §3.5): the causal mask, dropout, CausalAttention."""

from __future__ import annotations

from grader.checks import speed
from grader.checks.build import (
    EVAL_MODE,
    TOY_BATCH_TEXT,
    V2_SCORES,
    V2_WEIGHTS,
    build,
    call,
    dropout_setup,
    module_checks,
    perturbed_after,
    qkv,
    tokens,
    toy_batch,
)
from grader.checks.judges import (
    AllOf,
    Close,
    Differ,
    DropoutElementwise,
    DropoutOnWeights,
    Grads,
    Same,
    ShapeDType,
    Structure,
    SumsToOne,
    Unchanged,
    ZeroAboveDiagonal,
)
from grader.checks.spec import Check, Exercise
from grader.worker.watch import FUSED_ATTENTION_CALLS

MODULE = "causal_attention"


CAUSAL_PROPERTIES = AllOf((SumsToOne(), ZeroAboveDiagonal()))

causal_mask = Exercise(
    name="causal_mask",
    module=MODULE,
    section="3.5.1",
    hint="torch.triu(torch.ones(T, T), diagonal=1) marks what lies above the diagonal.",
    checks=(
        Check(
            "dtype_shape",
            "a bool (T, T) tensor",
            "causal_mask(6)",
            call(context_length=6),
            lambda rng: {},
            ShapeDType(),
            advice="convert with .bool(): the contract's mask is a bool tensor",
        ),
        Check(
            "values",
            "True exactly above the diagonal (T=6)",
            "causal_mask(6)",
            call(context_length=6),
            lambda rng: {},
            Close(atol=0, rtol=0),
            advice="True means hidden: position j > i. diagonal=1 keeps each token visible to itself",
        ),
        Check(
            "values_other_size",
            "another size (T=11)",
            "causal_mask(11)",
            call(context_length=11),
            lambda rng: {},
            Close(atol=0, rtol=0),
        ),
    ),
)

mask_and_renormalize = Exercise(
    name="mask_and_renormalize",
    module=MODULE,
    section="3.5.1",
    hint="Multiply by the lower-triangular ones (tril), then divide each row by its sum.",
    checks=(
        Check(
            "book",
            "the book's renormalised weights",
            "mask_and_renormalize(attn_weights) on the book's 6 x 6 weights of SelfAttention_v2",
            call("attn_weights"),
            lambda rng: {"attn_weights": V2_WEIGHTS.clone()},
            Close(),
        ),
        Check(
            "batched",
            "a batch of weight matrices",
            "mask_and_renormalize(attn_weights), attn_weights (2, 3, 5, 5) in [0.1, 1]",
            call("attn_weights"),
            lambda rng: {"attn_weights": rng.uniform(2, 3, 5, 5, low=0.1, high=1)},
            Close(),
            points=2,
            randomized=True,
            advice="mask the last two dims, and sum over the last one with keepdim=True",
        ),
        Check(
            "properties",
            "rows sum to 1, zeros above the diagonal",
            "mask_and_renormalize(attn_weights), attn_weights (4, 7, 7) in [0.1, 1]",
            call("attn_weights"),
            lambda rng: {"attn_weights": rng.uniform(4, 7, 7, low=0.1, high=1)},
            CAUSAL_PROPERTIES,
        ),
        Check(
            "inputs_unchanged",
            "input not modified in place",
            "mask_and_renormalize(attn_weights) on a (4, 7, 7) tensor",
            call("attn_weights"),
            lambda rng: {"attn_weights": rng.uniform(4, 7, 7, low=0.1, high=1)},
            Unchanged(("attn_weights",)),
            advice="an in-place operation on attn_weights (*=, masked_fill_, tril_)",
        ),
    ),
)

masked_attention_weights = Exercise(
    name="masked_attention_weights",
    module=MODULE,
    forbidden=FUSED_ATTENTION_CALLS,
    section="3.5.1",
    hint="masked_fill the future positions with -inf, divide by sqrt(d_k), then softmax(dim=-1).",
    checks=(
        Check(
            "book",
            "the book's masked weights",
            "masked_attention_weights(attn_scores, d_k=2) on the book's 6 x 6 scores of "
            "SelfAttention_v2",
            call("attn_scores", d_k=2),
            lambda rng: {"attn_scores": V2_SCORES.clone()},
            Close(),
        ),
        Check(
            "batched",
            "a batch of score matrices, d_k=16",
            "masked_attention_weights(attn_scores, d_k=16), attn_scores (2, 3, 7, 7) in [-4, 4]",
            call("attn_scores", d_k=16),
            lambda rng: {"attn_scores": rng.uniform(2, 3, 7, 7, low=-4, high=4)},
            Close(),
            points=2,
            randomized=True,
            advice="scale by sqrt(d_k), not d_k; mask with -inf (not 0) before the softmax",
        ),
        Check(
            "properties",
            "rows sum to 1, zeros above the diagonal",
            "masked_attention_weights(attn_scores, d_k=4), attn_scores (4, 7, 7)",
            call("attn_scores", d_k=4),
            lambda rng: {"attn_scores": rng.uniform(4, 7, 7, low=-4, high=4)},
            CAUSAL_PROPERTIES,
        ),
        Check(
            "grad",
            "gradient",
            "backward through masked_attention_weights(attn_scores, d_k=4) for (3, 6, 6) scores",
            call("attn_scores", d_k=4, grad_of=("attn_scores",), upstream="g"),
            lambda rng: {
                "attn_scores": rng.uniform(3, 6, 6, low=-4, high=4),
                "g": rng.uniform(3, 6, 6),
            },
            Grads(),
        ),
        Check(
            "inputs_unchanged",
            "input not modified in place",
            "masked_attention_weights(attn_scores, d_k=4) on a (4, 7, 7) tensor",
            call("attn_scores", d_k=4),
            lambda rng: {"attn_scores": rng.uniform(4, 7, 7, low=-4, high=4)},
            Unchanged(("attn_scores",)),
            advice="masked_fill_ (with the underscore) changes the caller's scores; use masked_fill",
        ),
    ),
)


DROP_P = 0.3


def _dropout_input(rng):
    return {"attn_weights": rng.uniform(64, 64, low=0.1, high=1.0)}


attention_dropout = Exercise(
    name="attention_dropout",
    module=MODULE,
    section="3.5.2",
    hint="Zero each weight with probability p and scale the survivors by 1/(1-p); in eval "
    "(training=False) return the weights unchanged. nn.Dropout or F.dropout may be used.",
    checks=(
        Check(
            "eval_identity",
            "identity when not training",
            "attention_dropout(attn_weights, p=0.5, training=False), attn_weights (6, 6)",
            call("attn_weights", p=0.5, training=False),
            lambda rng: {"attn_weights": rng.uniform(6, 6, low=0.1, high=1)},
            Close(atol=0, rtol=0),
            advice="dropout is for training only: with training=False nothing is dropped or scaled",
        ),
        Check(
            "p_zero",
            "identity when p=0",
            "attention_dropout(attn_weights, p=0.0), attn_weights (6, 6)",
            call("attn_weights", p=0.0),
            lambda rng: {"attn_weights": rng.uniform(6, 6, low=0.1, high=1)},
            Close(atol=0, rtol=0),
        ),
        Check(
            "rate",
            f"zeroes about p of the weights (p={DROP_P})",
            f"attention_dropout(attn_weights, p={DROP_P}) on a (64, 64) tensor in [0.1, 1], "
            "counting the zeros",
            call("attn_weights", p=DROP_P),
            _dropout_input,
            DropoutElementwise(DROP_P, "rate"),
            points=2,
            advice="p is the probability of dropping a weight, not of keeping it",
        ),
        Check(
            "scale",
            "scales the kept weights by 1/(1-p)",
            f"attention_dropout(attn_weights, p={DROP_P}) on a (64, 64) tensor in [0.1, 1], "
            "comparing each kept weight with its input",
            call("attn_weights", p=DROP_P),
            _dropout_input,
            DropoutElementwise(DROP_P, "scale"),
            points=2,
            advice="the survivors are scaled by 1/(1-p), not by 1/p or not at all",
        ),
        Check(
            "fresh_draws",
            "each call draws a new mask",
            f"attention_dropout(attn_weights, p={DROP_P}) called twice on the same (64, 64) tensor",
            call("attn_weights", p=DROP_P, repeat=2),
            _dropout_input,
            Differ(what="the two calls' outputs", diagnosis="dropout.same_mask_every_call"),
            advice="no torch.manual_seed inside the function: the random generator must advance",
        ),
        Check(
            "inputs_unchanged",
            "input not modified in place",
            f"attention_dropout(attn_weights, p={DROP_P}) on a (64, 64) tensor",
            call("attn_weights", p=DROP_P),
            _dropout_input,
            Unchanged(("attn_weights",)),
            advice="inplace=True in F.dropout or nn.Dropout changes the caller's tensor",
        ),
        Check(
            "same_draws_as_torch",
            "the same draws as nn.Dropout",
            f"torch.manual_seed(0); attention_dropout(attn_weights, p={DROP_P}) against "
            "F.dropout under the same seed, in your torch",
            call("attn_weights", p=DROP_P, twin="F.dropout"),
            _dropout_input,
            Same("out", "twin", atol=0, what="your output and F.dropout's"),
            points=0,
            advice="your dropout is random in its own way, which is fine; with nn.Dropout or "
            "F.dropout you would also reproduce the book's printed dropout example",
        ),
    ),
)

# -- CausalAttention ----------------------------------------------------------------------

D_IN, D_OUT, CTX, B, T = 5, 4, 9, 3, 7
CONFIG = f"d_in={D_IN}, d_out={D_OUT}, context_length={CTX}"


def init(dropout=0.0, **kw):
    return {"d_in": D_IN, "d_out": D_OUT, "context_length": CTX, "dropout": dropout, **kw}


def loaded(bias=False, t=T, **extra):
    def make(rng):
        return {
            **qkv(rng, D_IN, D_OUT, bias),
            "x": tokens(rng, B, t, D_IN),
            **extra_inputs(rng, extra),
        }

    return make


def extra_inputs(rng, extra):
    return {name: make(rng) for name, make in extra.items()}


def causal_inputs(rng):
    inputs = {**qkv(rng, D_IN, D_OUT), "x": tokens(rng, B, T, D_IN)}
    inputs["x_changed"] = perturbed_after(rng, inputs["x"], 4)
    return inputs


def dropout_inputs(rng):
    return dropout_setup(rng, batch=32, heads=1, per_head_prefix=False, proj=False)


CausalAttention = Exercise(
    name="CausalAttention",
    module=MODULE,
    forbidden=FUSED_ATTENTION_CALLS,
    section="3.5.3",
    hint="SelfAttention_v2 on batches (keys.transpose(1, 2)), plus the causal mask "
    "(a registered buffer, sliced to [:num_tokens, :num_tokens]) and dropout on the weights.",
    checks=(
        Check(
            "structure",
            "W_query, W_key, W_value are nn.Linear",
            f"CausalAttention({CONFIG}, dropout=0.0): its parameters and submodules",
            build(init(), forward=(), describe=True),
            lambda rng: {},
            Structure((("W_query", "Linear"), ("W_key", "Linear"), ("W_value", "Linear"))),
        ),
        Check(
            "values_random",
            "values on distinct sequences shorter than context_length",
            f"CausalAttention({CONFIG}) with the reference's weights, eval mode, on x ({B}, {T}, "
            f"{D_IN}): {B} different sequences of {T} < {CTX} tokens",
            build(init()),
            loaded(),
            Close(),
            points=2,
            randomized=True,
            advice="batched scores need keys.transpose(1, 2) (keys.T reverses every dim); the "
            "mask must be sliced to [:num_tokens, :num_tokens]; softmax over dim=-1",
        ),
        Check(
            "values_bias",
            "values with qkv_bias=True",
            f"CausalAttention({CONFIG}, qkv_bias=True) with weights and biases loaded",
            build(init(qkv_bias=True)),
            loaded(bias=True),
            Close(),
        ),
        Check(
            "lengths",
            "one token, and exactly context_length tokens",
            f"CausalAttention({CONFIG}) on x ({B}, 1, {D_IN}) and on x ({B}, {CTX}, {D_IN})",
            build(init(), forward=("x", "x_full")),
            loaded(t=1, x_full=lambda rng: tokens(rng, B, CTX, D_IN)),
            Close(("out", "out1")),
            advice="slice the mask with the input's num_tokens, not a fixed size",
        ),
        Check(
            "causal",
            "earlier outputs ignore later tokens",
            f"CausalAttention({CONFIG}) on x and on x with tokens 4 to {T - 1} replaced: outputs "
            "0 to 3 must not change",
            build(init(), forward=("x", "x_changed")),
            causal_inputs,
            Same(upto=4, what="outputs for tokens 0-3"),
            advice="the mask hides what lies above the diagonal (j > i), with -inf before softmax",
        ),
        Check(
            "eval_mode",
            "eval mode is deterministic and dropout-free",
            f"CausalAttention({CONFIG}, dropout=0.5) in eval mode, forward twice on x",
            build(init(dropout=0.5), forward=("x", "x")),
            loaded(),
            EVAL_MODE,
            advice="use self.dropout (an nn.Dropout module), which model.eval() switches off",
        ),
        Check(
            "dropout",
            f"train mode drops attention weights (p={DROP_P})",
            f"CausalAttention(d_in=8, d_out=8, context_length=8, dropout={DROP_P}) in train mode "
            "on one-hot tokens with an orthogonal W_value, reading the attention weights back "
            "from the output",
            build(
                {"d_in": 8, "d_out": 8, "context_length": 8, "dropout": DROP_P},
                mode="train",
                eval_too=True,
            ),
            dropout_inputs,
            DropoutOnWeights(DROP_P, ("w:W_value.weight",)),
            points=2,
            advice="self.dropout goes on attn_weights, after the softmax and before @ values",
        ),
        *module_checks("CausalAttention", CONFIG, init(), loaded, (B, T, D_OUT)),
        Check(
            "book",
            "the book's numbers after torch.manual_seed(123)",
            f"torch.manual_seed(123); CausalAttention(3, 2, 6, 0.0) on {TOY_BATCH_TEXT}",
            build({"d_in": 3, "d_out": 2, "context_length": 6, "dropout": 0.0}, init_seed=123),
            lambda rng: {"x": toy_batch()},
            Close(),
            points=0,
            advice="matters only for matching the book's printed numbers: create W_query, "
            "W_key, W_value in that order, with bias=qkv_bias (False)",
        ),
        *speed.causal_checks(),
    ),
)

EXERCISES = (
    causal_mask,
    mask_and_renormalize,
    masked_attention_weights,
    attention_dropout,
    CausalAttention,
)
