"""Checks for exercises/multihead_attention.py (book §3.6, Exercises 3.2 and 3.3)."""

from __future__ import annotations

from grader.checks import speed
from grader.checks.build import (
    EVAL_MODE,
    TOY_BATCH_TEXT,
    build,
    dropout_setup,
    linear,
    module_checks,
    perturbed_after,
    qkv,
    tokens,
    toy_batch,
)
from grader.checks.causal_attention import DROP_P
from grader.checks.judges import (
    AllOf,
    Close,
    DescribeEquals,
    Differ,
    DropoutOnWeights,
    Grads,
    MaskShape,
    Raises,
    Same,
    ShapeDType,
    Structure,
)
from grader.checks.spec import Check, Exercise
from grader.worker.watch import FUSED_ATTENTION_CALLS

MODULE = "multihead_attention"
BOOK_SEED_NOTE = (
    "matters only for matching the book's printed numbers: build the layers in the book's "
    "order (W_query, W_key, W_value, then out_proj), with bias=qkv_bias"
)


def _with(rng, weights: dict, x_shape: tuple, scale: float = 1.0, **extra) -> dict:
    return {
        **weights,
        "x": tokens(rng, *x_shape, scale=scale),
        **{k: f(rng) for k, f in extra.items()},
    }


# -- the wrapper --------------------------------------------------------------------------

W_IN, W_OUT, W_CTX, W_HEADS, W_B, W_T = 5, 3, 8, 3, 2, 6
W_CONFIG = f"d_in={W_IN}, d_out={W_OUT}, context_length={W_CTX}, num_heads={W_HEADS}"


def w_init(dropout=0.0, **kw):
    return {
        "d_in": W_IN,
        "d_out": W_OUT,
        "context_length": W_CTX,
        "dropout": dropout,
        "num_heads": W_HEADS,
        **kw,
    }


def w_weights(rng, heads=W_HEADS, d_in=W_IN, d_out=W_OUT, bias=False):
    weights = {}
    for h in range(heads):
        weights.update(qkv(rng, d_in, d_out, bias, prefix=f"heads.{h}."))
    return weights


def w_loaded(bias=False, **extra):
    return lambda rng: _with(rng, w_weights(rng, bias=bias), (W_B, W_T, W_IN), **extra)


def w_causal(rng):
    inputs = _with(rng, w_weights(rng), (W_B, W_T, W_IN))
    inputs["x_changed"] = perturbed_after(rng, inputs["x"], 3)
    return inputs


MultiHeadAttentionWrapper = Exercise(
    name="MultiHeadAttentionWrapper",
    module=MODULE,
    forbidden=FUSED_ATTENTION_CALLS,
    watch_runtime=False,
    section="3.6.1",
    hint="self.heads = nn.ModuleList of num_heads CausalAttention modules; concatenate their "
    "outputs along the last dim.",
    checks=(
        Check(
            "structure",
            "heads: a ModuleList of CausalAttention",
            f"MultiHeadAttentionWrapper({W_CONFIG}, dropout=0.0): its parameters and submodules",
            build(w_init(), forward=(), describe=True),
            lambda rng: {},
            Structure(
                (("heads", "ModuleList"),)
                + tuple((f"heads.{h}", "CausalAttention") for h in range(W_HEADS))
            ),
            advice="one CausalAttention per head, in an nn.ModuleList named heads (a Python list "
            "hides the heads' parameters from the module)",
        ),
        Check(
            "shape",
            "output shape (b, T, num_heads * d_out)",
            f"MultiHeadAttentionWrapper({W_CONFIG}) on x ({W_B}, {W_T}, {W_IN})",
            build(w_init()),
            w_loaded(),
            ShapeDType(),
            advice="concatenate the heads on the last dim (dim=-1)",
        ),
        Check(
            "values_random",
            "values on distinct sequences",
            f"MultiHeadAttentionWrapper({W_CONFIG}) with the reference's weights, eval mode, on x "
            f"({W_B}, {W_T}, {W_IN}) of different sequences",
            build(w_init()),
            w_loaded(),
            Close(),
            points=2,
            randomized=True,
            advice="each head must be its own CausalAttention, concatenated in order on dim=-1",
        ),
        Check(
            "values_bias",
            "values with qkv_bias=True",
            f"MultiHeadAttentionWrapper({W_CONFIG}, qkv_bias=True) with weights and biases loaded",
            build(w_init(qkv_bias=True)),
            w_loaded(bias=True),
            Close(),
            advice="pass qkv_bias on to every CausalAttention head",
        ),
        Check(
            "causal",
            "earlier outputs ignore later tokens",
            f"MultiHeadAttentionWrapper({W_CONFIG}) on x and on x with tokens 3 to {W_T - 1} "
            "replaced: outputs 0 to 2 must not change",
            build(w_init(), forward=("x", "x_changed")),
            w_causal,
            Same(upto=3, what="outputs for tokens 0-2"),
        ),
        Check(
            "eval_mode",
            "eval mode is deterministic and dropout-free",
            f"MultiHeadAttentionWrapper({W_CONFIG}, dropout=0.5) in eval mode, forward twice",
            build(w_init(dropout=0.5), forward=("x", "x")),
            w_loaded(),
            EVAL_MODE,
            advice="pass dropout on to every CausalAttention head",
        ),
        Check(
            "dropout",
            f"train mode drops attention weights in every head (p={DROP_P})",
            f"MultiHeadAttentionWrapper(d_in=8, d_out=8, context_length=8, dropout={DROP_P}, "
            "num_heads=2) in train mode on one-hot tokens, reading each head's weights back",
            build(
                {"d_in": 8, "d_out": 8, "context_length": 8, "dropout": DROP_P, "num_heads": 2},
                mode="train",
                eval_too=True,
            ),
            lambda rng: dropout_setup(rng, batch=16, heads=2, per_head_prefix=True, proj=False),
            DropoutOnWeights(DROP_P, ("v:0", "v:1")),
            advice="pass dropout on to every CausalAttention head",
        ),
        Check(
            "grads",
            "gradients reach every head",
            f"backward through MultiHeadAttentionWrapper({W_CONFIG}) with loaded weights",
            build(w_init(), upstream="g"),
            w_loaded(g=lambda rng: rng.uniform(W_B, W_T, W_HEADS * W_OUT)),
            Grads(),
        ),
        Check(
            "book",
            "the book's numbers after torch.manual_seed(123)",
            f"torch.manual_seed(123); MultiHeadAttentionWrapper(3, 2, 6, 0.0, num_heads=2) on "
            f"{TOY_BATCH_TEXT}",
            build(
                {"d_in": 3, "d_out": 2, "context_length": 6, "dropout": 0.0, "num_heads": 2},
                init_seed=123,
            ),
            lambda rng: {"x": toy_batch()},
            Close(),
            points=0,
            advice=BOOK_SEED_NOTE,
        ),
    ),
)

# -- weight splits ------------------------------------------------------------------------

M_IN, M_OUT, M_CTX, M_HEADS, M_B, M_T = 6, 8, 10, 2, 3, 7
M_CONFIG = f"d_in={M_IN}, d_out={M_OUT}, context_length={M_CTX}, num_heads={M_HEADS}"


def m_init(dropout=0.0, **kw):
    return {
        "d_in": M_IN,
        "d_out": M_OUT,
        "context_length": M_CTX,
        "dropout": dropout,
        "num_heads": M_HEADS,
        **kw,
    }


def m_weights(rng, d_in=M_IN, d_out=M_OUT, bias=False, scale=0.5):
    return {
        **qkv(rng, d_in, d_out, bias, scale=scale),
        **linear(rng, "out_proj", d_out, d_out, True, scale=scale),
    }


def m_loaded(bias=False, scale=1.0, **extra):
    return lambda rng: _with(rng, m_weights(rng, bias=bias), (M_B, M_T, M_IN), scale=scale, **extra)


def m_causal(rng):
    inputs = _with(rng, m_weights(rng), (M_B, M_T, M_IN))
    inputs["x_changed"] = perturbed_after(rng, inputs["x"], 4)
    return inputs


SPLIT_LIKELY = (
    "split heads with .view(b, num_tokens, num_heads, head_dim) then .transpose(1, 2); "
    "scale by sqrt(head_dim); merge with .transpose(1, 2) then .contiguous().view(b, "
    "num_tokens, d_out); finish with out_proj"
)

MultiHeadAttention = Exercise(
    name="MultiHeadAttention",
    module=MODULE,
    forbidden=FUSED_ATTENTION_CALLS,
    section="3.6.2",
    hint="Project once with d_out = num_heads * head_dim, split the last dim into heads, attend "
    "per head as in CausalAttention, merge the heads back and apply out_proj.",
    checks=(
        Check(
            "structure",
            "W_query, W_key, W_value and out_proj",
            f"MultiHeadAttention({M_CONFIG}, dropout=0.0): its parameters and submodules",
            build(m_init(), forward=(), describe=True),
            lambda rng: {},
            Structure(
                (
                    ("W_query", "Linear"),
                    ("W_key", "Linear"),
                    ("W_value", "Linear"),
                    ("out_proj", "Linear"),
                )
            ),
            advice="out_proj = nn.Linear(d_out, d_out) keeps its bias whatever qkv_bias says",
        ),
        Check(
            "raises",
            "refuses d_out not divisible by num_heads",
            "MultiHeadAttention(d_in=4, d_out=6, context_length=5, dropout=0.0, num_heads=4)",
            build(
                {"d_in": 4, "d_out": 6, "context_length": 5, "dropout": 0.0, "num_heads": 4},
                forward=(),
            ),
            lambda rng: {},
            Raises(diagnosis="MultiHeadAttention.no_divisibility_check"),
            advice="raise an error (ValueError, or an assert) when d_out % num_heads != 0",
        ),
        Check(
            "values_random",
            "values with head_dim > 1 on distinct sequences",
            f"MultiHeadAttention({M_CONFIG}) (head_dim 4) with the reference's weights, eval "
            f"mode, on x ({M_B}, {M_T}, {M_IN}): different sequences, {M_T} < {M_CTX} tokens",
            build(m_init()),
            m_loaded(),
            Close(),
            points=3,
            randomized=True,
            advice=SPLIT_LIKELY,
        ),
        Check(
            "values_bias",
            "values with qkv_bias=True",
            f"MultiHeadAttention({M_CONFIG}, qkv_bias=True) with weights and biases loaded",
            build(m_init(qkv_bias=True)),
            m_loaded(bias=True),
            Close(),
            advice="pass bias=qkv_bias to W_query, W_key and W_value (not to out_proj)",
        ),
        Check(
            "values_4_heads",
            "four heads, as many tokens as context_length",
            "MultiHeadAttention(d_in=12, d_out=12, context_length=5, dropout=0.0, num_heads=4) "
            "(head_dim 3) on x (2, 5, 12)",
            build({"d_in": 12, "d_out": 12, "context_length": 5, "dropout": 0.0, "num_heads": 4}),
            lambda rng: _with(rng, m_weights(rng, 12, 12), (2, 5, 12)),
            Close(),
            advice=SPLIT_LIKELY,
        ),
        Check(
            "large_inputs",
            "inputs of magnitude 20",
            f"MultiHeadAttention({M_CONFIG}) on x in [-20, 20] (sharp softmax)",
            build(m_init()),
            m_loaded(scale=20.0),
            Close(atol=1e-4, rtol=1e-3),
            randomized=True,
            advice="mask with -inf (a large negative fill must still dwarf the scores)",
        ),
        Check(
            "causal",
            "earlier outputs ignore later tokens",
            f"MultiHeadAttention({M_CONFIG}) on x and on x with tokens 4 to {M_T - 1} replaced: "
            "outputs 0 to 3 must not change",
            build(m_init(), forward=("x", "x_changed")),
            m_causal,
            Same(upto=4, what="outputs for tokens 0-3"),
            advice="the mask must be applied to every head's scores (it broadcasts over b and heads)",
        ),
        Check(
            "eval_mode",
            "eval mode is deterministic and dropout-free",
            f"MultiHeadAttention({M_CONFIG}, dropout=0.5) in eval mode, forward twice",
            build(m_init(dropout=0.5), forward=("x", "x")),
            m_loaded(),
            EVAL_MODE,
        ),
        Check(
            "dropout",
            f"train mode drops attention weights (p={DROP_P})",
            f"MultiHeadAttention(d_in=8, d_out=16, context_length=8, dropout={DROP_P}, "
            "num_heads=2) in train mode on one-hot tokens with orthogonal W_value and out_proj, "
            "reading each head's weights back from the output",
            build(
                {"d_in": 8, "d_out": 16, "context_length": 8, "dropout": DROP_P, "num_heads": 2},
                mode="train",
                eval_too=True,
            ),
            lambda rng: dropout_setup(rng, batch=16, heads=2, per_head_prefix=False, proj=True),
            DropoutOnWeights(DROP_P, ("v:0", "v:1"), proj=("w:out_proj.weight", "w:out_proj.bias")),
            points=2,
            advice="self.dropout goes on attn_weights, after the softmax and before @ values",
        ),
        *module_checks("MultiHeadAttention", M_CONFIG, m_init(), m_loaded, (M_B, M_T, M_OUT)),
        Check(
            "book",
            "the book's numbers after torch.manual_seed(123)",
            f"torch.manual_seed(123); MultiHeadAttention(3, 2, 6, 0.0, num_heads=2) on "
            f"{TOY_BATCH_TEXT}",
            build(
                {"d_in": 3, "d_out": 2, "context_length": 6, "dropout": 0.0, "num_heads": 2},
                init_seed=123,
            ),
            lambda rng: {"x": toy_batch()},
            Close(),
            points=0,
            advice=BOOK_SEED_NOTE,
        ),
        *speed.multihead_checks(),
    ),
)

# -- Exercise 3.3 -------------------------------------------------------------------------

GPT2 = build({}, forward=(), describe=True)

gpt2_small_attention = Exercise(
    name="gpt2_small_attention",
    module=MODULE,
    section="Exercise 3.3",
    hint="MultiHeadAttention(d_in=768, d_out=768, context_length=1024, dropout=0.0, "
    "num_heads=12) has 2,360,064 parameters.",
    checks=(
        Check(
            "type",
            "returns a MultiHeadAttention",
            "gpt2_small_attention(): the type of what it returns",
            GPT2,
            lambda rng: {},
            DescribeEquals("type", "type"),
        ),
        Check(
            "num_params",
            "2,360,064 trainable parameters",
            "gpt2_small_attention(): sum(p.numel() for p in module.parameters() if "
            "p.requires_grad)",
            GPT2,
            lambda rng: {},
            DescribeEquals("num_params", "parameters"),
            advice="768 in and out with qkv_bias=False: 3 * 768 * 768 + (768 * 768 + 768)",
        ),
        Check(
            "config",
            "768 dims, bias only in out_proj, context 1024",
            "gpt2_small_attention(): parameter names and shapes, and the mask's size",
            GPT2,
            lambda rng: {},
            AllOf((Structure(), MaskShape(diagnosis="gpt2_small_attention.context_length"))),
            advice="context_length=1024 sets the mask to (1024, 1024); qkv_bias=False",
        ),
        Check(
            "values",
            "12 heads: values with given weights",
            "gpt2_small_attention() with random weights loaded, eval mode, on x (2, 6, 768)",
            build({}),
            # nn.Linear's own scale at this width: with U(-0.5, 0.5) weights the scores
            # would reach the hundreds and the softmax would be one-hot, ill-conditioned.
            lambda rng: _with(rng, m_weights(rng, 768, 768, scale=768**-0.5), (2, 6, 768)),
            Close(),
            points=2,
            advice="num_heads=12 (head_dim 64): another head count changes the output",
        ),
    ),
)

# -- Exercise 3.2 -------------------------------------------------------------------------

TWO_D = {"d_in": 3, "context_length": 6}

wrapper_with_2d_output = Exercise(
    name="wrapper_with_2d_output",
    module=MODULE,
    section="Exercise 3.2",
    hint="The wrapper's output has num_heads * d_out dimensions; keep num_heads=2.",
    checks=(
        Check(
            "heads",
            "two heads",
            "wrapper_with_2d_output(d_in=3, context_length=6): its heads and parameters",
            build(TWO_D, forward=(), describe=True),
            lambda rng: {},
            Structure((("heads.0", "CausalAttention"), ("heads.1", "CausalAttention"))),
            advice="keep num_heads=2 and change d_out instead",
        ),
        Check(
            "shape",
            "two-dimensional context vectors",
            f"wrapper_with_2d_output(d_in=3, context_length=6) on {TOY_BATCH_TEXT}",
            build(TWO_D),
            lambda rng: {"x": toy_batch()},
            ShapeDType(),
            advice="num_heads * d_out = 2 with num_heads = 2",
        ),
        Check(
            "values",
            "values with given weights",
            "wrapper_with_2d_output(d_in=3, context_length=6) with random weights, eval mode, on "
            "x (2, 6, 3) of different sequences",
            build(TWO_D),
            lambda rng: _with(rng, w_weights(rng, heads=2, d_in=3, d_out=1), (2, 6, 3)),
            Close(),
            points=2,
        ),
        Check(
            "dropout",
            "passes dropout on",
            "wrapper_with_2d_output(d_in=3, context_length=6, dropout=0.5) in train mode and in "
            "eval mode on the same x (4, 6, 3)",
            build({**TWO_D, "dropout": 0.5}, mode="train", eval_too=True),
            lambda rng: _with(rng, w_weights(rng, heads=2, d_in=3, d_out=1), (4, 6, 3)),
            Differ(
                "out",
                "eval",
                what="the train-mode and eval-mode outputs",
                diagnosis="wrapper_with_2d_output.dropout_ignored",
            ),
            advice="pass the dropout argument on to the wrapper instead of a fixed value",
        ),
    ),
)

EXERCISES = (
    MultiHeadAttentionWrapper,
    wrapper_with_2d_output,
    MultiHeadAttention,
    gpt2_small_attention,
)
