"""Checks for exercises/multihead_attention.py (book §3.6, Exercises 3.2 and 3.3)."""

from __future__ import annotations

from dataclasses import replace

from grader.checks import speed
from grader.checks.attention_modules import (
    AttentionModule,
    ModuleConfig,
    arguments_text,
    fused_qkv_and_out_proj,
    qkv_and_out_proj,
    qkv_per_head,
    shape_text,
)
from grader.checks.causal_attention import DROP_P
from grader.checks.criteria import (
    AllOf,
    Close,
    DescribeEquals,
    Differ,
    DropoutOnWeights,
    MaskShape,
    Raises,
    ShapeDType,
    Structure,
)
from grader.checks.spec import Check, Exercise
from grader.checks.vocabulary import TOY_BATCH_TEXT, Run, module_probe, toy_batch
from grader.worker.watch import FUSED_ATTENTION_CALLS

MODULE = "multihead_attention"
BOOK_SEED_NOTE = (
    "matters only for matching the book's printed numbers: build the layers in the book's "
    "order (W_query, W_key, W_value, then out_proj), with bias=qkv_bias"
)


# -- the wrapper --------------------------------------------------------------------------

W_CONFIG = ModuleConfig(d_in=5, d_out=3, context_length=8, num_heads=3, batch=2, tokens=6)
WRAPPER = AttentionModule(
    "MultiHeadAttentionWrapper", W_CONFIG, layers=qkv_per_head, out_per_head=True
)


MultiHeadAttentionWrapper = Exercise(
    name="MultiHeadAttentionWrapper",
    module=MODULE,
    forbidden=FUSED_ATTENTION_CALLS,
    watch_runtime=False,
    section="3.6.1",
    hint="self.heads = nn.ModuleList of num_heads CausalAttention modules; concatenate their "
    "outputs along the last dim.",
    about=(
        "Two `CausalAttention` heads side by side: (2, 6, 4); with `torch.manual_seed(123)` "
        "the first row is `[-0.4519, 0.2216, 0.4772, 0.1063]`."
    ),
    demo=(
        "from exercises.multihead_attention import MultiHeadAttentionWrapper\n"
        "\n"
        "torch.manual_seed(123)\n"
        "mha_wrapper = MultiHeadAttentionWrapper(3, 2, context_length=6, dropout=0.0, num_heads=2)\n"
        "mha_wrapper(batch)"
    ),
    checks=(
        WRAPPER.structure(
            title="heads: a ModuleList of CausalAttention",
            module_types=(("heads", "ModuleList"),)
            + tuple((f"heads.{h}", "CausalAttention") for h in range(W_CONFIG.num_heads)),
            advice="one CausalAttention per head, in an nn.ModuleList named heads (a Python list "
            "hides the heads' parameters from the module)",
        ),
        WRAPPER.shape(
            title="output shape (b, T, num_heads * d_out)",
            advice="concatenate the heads on the last dim (dim=-1)",
        ),
        WRAPPER.values(
            title="values on distinct sequences",
            tries=f"{WRAPPER.called()} with the reference's weights, eval mode, on x "
            f"{shape_text(W_CONFIG.x_shape)} of different sequences",
            advice="each head must be its own CausalAttention, concatenated in order on dim=-1",
        ),
        WRAPPER.values_bias(advice="pass qkv_bias on to every CausalAttention head"),
        WRAPPER.causal(),
        WRAPPER.eval_mode(advice="pass dropout on to every CausalAttention head"),
        WRAPPER.train_dropout(
            ModuleConfig(d_in=8, d_out=8, context_length=8, num_heads=2, batch=16, tokens=8),
            p=DROP_P,
            title=f"train mode drops attention weights in every head (p={DROP_P})",
            reading=", reading each head's weights back",
            judge=DropoutOnWeights(DROP_P, ("v:0", "v:1")),
            advice="pass dropout on to every CausalAttention head",
        ),
        WRAPPER.grads(title="gradients reach every head"),
        WRAPPER.book(seed=123, advice=BOOK_SEED_NOTE),
    ),
)

# -- weight splits ------------------------------------------------------------------------

M_CONFIG = ModuleConfig(d_in=6, d_out=8, context_length=10, num_heads=2, batch=3, tokens=7)
MHA = AttentionModule("MultiHeadAttention", M_CONFIG, layers=qkv_and_out_proj)
INDIVISIBLE = ModuleConfig(d_in=4, d_out=6, context_length=5, num_heads=4)
FOUR_HEADS = ModuleConfig(d_in=12, d_out=12, context_length=5, num_heads=4, batch=2, tokens=5)


SPLIT_LIKELY = (
    "split heads with .view(b, num_tokens, num_heads, head_dim) then .transpose(1, 2); "
    "scale by sqrt(head_dim); merge with .transpose(1, 2) then .contiguous().view(b, "
    "num_tokens, d_out); finish with out_proj"
)


def _split_heads_checks(
    module: AttentionModule, *, likely: str, bias_advice: str, value_weights: str
) -> tuple[Check, ...]:
    """The checks of a multi-head attention with weight splits, after its structure: the
    divisibility error, values (with bias, four heads, large inputs), causality, eval and
    train mode, gradients, device and inputs left alone. `likely` advises on wrong values;
    `value_weights` names the layer that holds the value weights, for the dropout check."""
    c = module.config
    return (
        Check(
            name="raises",
            title="refuses d_out not divisible by num_heads",
            tries=f"{module.name}({arguments_text(INDIVISIBLE.init())})",
            probe=module.probe(INDIVISIBLE.init(), forward=()),
            inputs=lambda rng: {},
            judge=Raises(diagnosis=f"{module.name}.no_divisibility_check"),
            advice="raise an error (ValueError, or an assert) when d_out % num_heads != 0",
        ),
        module.values(
            title="values with head_dim > 1 on distinct sequences",
            tries=f"{module.called()} (head_dim {c.d_out // c.num_heads}) with the "
            f"reference's weights, eval mode, on x {shape_text(c.x_shape)}: different "
            f"sequences, {c.tokens} < {c.context_length} tokens",
            points=3,
            advice=likely,
        ),
        module.values_bias(advice=bias_advice),
        Check(
            name="values_4_heads",
            title="four heads, as many tokens as context_length",
            tries=f"{module.name}({arguments_text(FOUR_HEADS.init())}) (head_dim 3) on x "
            f"{shape_text(FOUR_HEADS.x_shape)}",
            probe=module.probe(FOUR_HEADS.init()),
            inputs=module.inputs(FOUR_HEADS),
            judge=Close(),
            advice=likely,
        ),
        Check(
            name="large_inputs",
            title="inputs of magnitude 20",
            tries=f"{module.called()} on x in [-20, 20] (sharp softmax)",
            probe=module.probe(),
            inputs=module.inputs(x_scale=20.0),
            judge=Close(atol=1e-4, rtol=1e-3),
            randomized=True,
            advice="mask with -inf (a large negative fill must still dwarf the scores)",
        ),
        module.causal(
            advice="the mask must be applied to every head's scores (it broadcasts over b and "
            "heads)"
        ),
        module.eval_mode(),
        module.train_dropout(
            ModuleConfig(d_in=8, d_out=16, context_length=8, num_heads=2, batch=16, tokens=8),
            p=DROP_P,
            title=f"train mode drops attention weights (p={DROP_P})",
            reading=f" with orthogonal {value_weights} and out_proj, reading each head's "
            "weights back from the output",
            judge=DropoutOnWeights(
                DROP_P, ("v:0", "v:1"), proj=("w:out_proj.weight", "w:out_proj.bias")
            ),
            points=2,
            advice="self.dropout goes on attn_weights, after the softmax and before @ values",
        ),
        module.grads(),
        module.device(),
        module.inputs_unchanged(),
    )


MultiHeadAttention = Exercise(
    name="MultiHeadAttention",
    module=MODULE,
    forbidden=FUSED_ATTENTION_CALLS,
    section="3.6.2",
    hint="Project once with d_out = num_heads * head_dim, split the last dim into heads, attend "
    "per head as in CausalAttention, merge the heads back and apply out_proj.",
    about=(
        "All heads in one pass with weight splits. With `torch.manual_seed(123)` the book "
        "prints a first row of `[0.3190, 0.4858]`."
    ),
    demo=(
        "from exercises.multihead_attention import MultiHeadAttention\n"
        "\n"
        "torch.manual_seed(123)\n"
        "mha = MultiHeadAttention(3, 2, context_length=6, dropout=0.0, num_heads=2)\n"
        "mha(batch)"
    ),
    checks=(
        MHA.structure(
            title="W_query, W_key, W_value and out_proj",
            advice="out_proj = nn.Linear(d_out, d_out) keeps its bias whatever qkv_bias says",
        ),
        *_split_heads_checks(
            MHA,
            likely=SPLIT_LIKELY,
            bias_advice="pass bias=qkv_bias to W_query, W_key and W_value (not to out_proj)",
            value_weights="W_value",
        ),
        MHA.book(seed=123, advice=BOOK_SEED_NOTE),
        *speed.module_checks(
            MHA,
            speed.MULTIHEAD_SIZES,
            advice="all heads at once: split with view/transpose and use batched matrix "
            "products; no Python loop over heads or tokens",
        ),
    ),
)

# -- Exercise 3.3 -------------------------------------------------------------------------

# What gpt2_small_attention() returns: its description (type, parameters, mask).
GPT2 = Run(module_probe({}, forward=(), describe=True), lambda rng: {})
GPT2_SMALL = ModuleConfig(d_in=768, d_out=768, context_length=1024, num_heads=12, batch=2, tokens=6)

gpt2_small_attention = Exercise(
    name="gpt2_small_attention",
    module=MODULE,
    section="Exercise 3.3",
    hint="MultiHeadAttention(d_in=768, d_out=768, context_length=1024, dropout=0.0, "
    "num_heads=12) has 2,360,064 parameters.",
    about="Exercise 3.3: the smallest GPT-2's attention has 2,360,064 parameters.",
    demo=(
        "from exercises.multihead_attention import gpt2_small_attention\n"
        "\n"
        "gpt2 = gpt2_small_attention()\n"
        "sum(p.numel() for p in gpt2.parameters())"
    ),
    checks=(
        GPT2.check(
            name="type",
            title="returns a MultiHeadAttention",
            tries="gpt2_small_attention(): the type of what it returns",
            judge=DescribeEquals("type", "type"),
        ),
        GPT2.check(
            name="num_params",
            title="2,360,064 trainable parameters",
            tries="gpt2_small_attention(): sum(p.numel() for p in module.parameters() if "
            "p.requires_grad)",
            judge=DescribeEquals("num_params", "parameters"),
            advice="768 in and out with qkv_bias=False: 3 * 768 * 768 + (768 * 768 + 768)",
        ),
        GPT2.check(
            name="config",
            title="768 dims, bias only in out_proj, context 1024",
            tries="gpt2_small_attention(): parameter names and shapes, and the mask's size",
            judge=AllOf((Structure(), MaskShape(diagnosis="gpt2_small_attention.context_length"))),
            advice="context_length=1024 sets the mask to (1024, 1024); qkv_bias=False",
        ),
        Check(
            name="values",
            title="12 heads: values with given weights",
            tries="gpt2_small_attention() with random weights loaded, eval mode, on x "
            f"{shape_text(GPT2_SMALL.x_shape)}",
            probe=module_probe({}),
            # nn.Linear's own scale at this width: with U(-0.5, 0.5) weights the scores
            # would reach the hundreds and the softmax would be one-hot, ill-conditioned.
            inputs=MHA.inputs(GPT2_SMALL, weight_scale=768**-0.5),
            judge=Close(),
            points=2,
            advice="num_heads=12 (head_dim 64): another head count changes the output",
        ),
    ),
)

# -- Exercise 3.2 -------------------------------------------------------------------------

TWO_D = {"d_in": 3, "context_length": 6}
# The reference's answer: two heads of d_out=1, on batches of two or four sequences.
TWO_D_HEADS = ModuleConfig(d_in=3, d_out=1, context_length=6, num_heads=2, batch=2, tokens=6)

wrapper_with_2d_output = Exercise(
    name="wrapper_with_2d_output",
    module=MODULE,
    section="Exercise 3.2",
    hint="The wrapper's output has num_heads * d_out dimensions; keep num_heads=2.",
    about="Exercise 3.2: still two heads, but two-dimensional context vectors.",
    demo=(
        "from exercises.multihead_attention import wrapper_with_2d_output\n"
        "\n"
        "wrapper_with_2d_output(d_in=3, context_length=6)(batch).shape  # (2, 6, 2)"
    ),
    checks=(
        Check(
            name="heads",
            title="two heads",
            tries="wrapper_with_2d_output(d_in=3, context_length=6): its heads and parameters",
            probe=module_probe(TWO_D, forward=(), describe=True),
            inputs=lambda rng: {},
            judge=Structure((("heads.0", "CausalAttention"), ("heads.1", "CausalAttention"))),
            advice="keep num_heads=2 and change d_out instead",
        ),
        Check(
            name="shape",
            title="two-dimensional context vectors",
            tries=f"wrapper_with_2d_output(d_in=3, context_length=6) on {TOY_BATCH_TEXT}",
            probe=module_probe(TWO_D),
            inputs=lambda rng: {"x": toy_batch()},
            judge=ShapeDType(),
            advice="num_heads * d_out = 2 with num_heads = 2",
        ),
        Check(
            name="values",
            title="values with given weights",
            tries="wrapper_with_2d_output(d_in=3, context_length=6) with random weights, eval mode, on "
            "x (2, 6, 3) of different sequences",
            probe=module_probe(TWO_D),
            inputs=WRAPPER.inputs(TWO_D_HEADS),
            judge=Close(),
            points=2,
        ),
        Check(
            name="dropout",
            title="passes dropout on",
            tries="wrapper_with_2d_output(d_in=3, context_length=6, dropout=0.5) in train mode and in "
            "eval mode on the same x (4, 6, 3)",
            probe=module_probe({**TWO_D, "dropout": 0.5}, mode="train", eval_too=True),
            inputs=WRAPPER.inputs(replace(TWO_D_HEADS, batch=4)),
            judge=Differ(
                "out",
                "eval",
                what="the train-mode and eval-mode outputs",
                diagnosis="wrapper_with_2d_output.dropout_ignored",
            ),
            advice="pass the dropout argument on to the wrapper instead of a fixed value",
        ),
    ),
)

# -- one fused projection (the chapter's bonus variant) ----------------------------------------

COMBINED = AttentionModule("MultiHeadAttentionCombinedQKV", M_CONFIG, layers=fused_qkv_and_out_proj)

MultiHeadAttentionCombinedQKV = Exercise(
    name="MultiHeadAttentionCombinedQKV",
    module=MODULE,
    forbidden=FUSED_ATTENTION_CALLS,
    section="3.6.2",
    hint="One qkv = nn.Linear(d_in, 3 * d_out): view its output as (b, num_tokens, 3, "
    "num_heads, head_dim), permute the 3 and the heads forward, unbind into queries, keys "
    "and values, then attend as in MultiHeadAttention.",
    about=(
        "The same attention with one fused projection for queries, keys and values, as "
        "efficient implementations write it. Given `mha`'s weights stacked into `qkv`, it "
        "computes exactly what `mha` does."
    ),
    demo=(
        "from exercises.multihead_attention import MultiHeadAttentionCombinedQKV\n"
        "\n"
        "fused = MultiHeadAttentionCombinedQKV(3, 2, context_length=6, dropout=0.0, num_heads=2)\n"
        "w = [mha.W_query.weight, mha.W_key.weight, mha.W_value.weight]\n"
        "with torch.no_grad():\n"
        "    fused.qkv.weight.copy_(torch.cat(w))  # the queries', keys' and values' rows\n"
        "    fused.out_proj.load_state_dict(mha.out_proj.state_dict())\n"
        "torch.allclose(fused(batch), mha(batch), atol=1e-6)  # True"
    ),
    checks=(
        COMBINED.structure(
            title="qkv (d_in -> 3 * d_out) and out_proj",
            advice="one qkv = nn.Linear(d_in, 3 * d_out, bias=qkv_bias) and out_proj = "
            "nn.Linear(d_out, d_out), which keeps its bias whatever qkv_bias says",
        ),
        *_split_heads_checks(
            COMBINED,
            likely="qkv's output holds all queries, then all keys, then all values: view it as "
            "(b, num_tokens, 3, num_heads, head_dim), permute to (3, b, num_heads, num_tokens, "
            "head_dim) and unbind; scale by sqrt(head_dim); merge the heads back before out_proj",
            bias_advice="pass bias=qkv_bias to qkv (not to out_proj)",
            value_weights="value rows of qkv",
        ),
    ),
)


EXERCISES = (
    MultiHeadAttentionWrapper,
    wrapper_with_2d_output,
    MultiHeadAttention,
    gpt2_small_attention,
    MultiHeadAttentionCombinedQKV,
)
