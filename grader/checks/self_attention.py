"""Checks for exercises/self_attention.py (book §3.4): trainable query, key and value weights.

Value checks load the reference's weights into the learner's module through the contract's
attribute names, so the learner's own initialisation never matters. Whether the module also
reproduces the book's seeded numbers is a zero-point note.
"""

from __future__ import annotations

from grader.checks.attention_modules import (
    AttentionModule,
    ModuleConfig,
    qkv_linears,
    qkv_matrices,
    shape_text,
)
from grader.checks.criteria import Close, Same, Structure
from grader.checks.spec import Check, Exercise
from grader.checks.vocabulary import Run
from grader.worker.watch import FUSED_ATTENTION_CALLS

MODULE = "self_attention"
SEEDED_NOTE = (
    "matters only for matching the book's printed numbers: create W_query, W_key, W_value in "
    "that order, straight after torch.manual_seed, with nothing else drawing random numbers"
)

# Both classes are checked at one size, on x (tokens, d_in): no batch dimension yet.
CONFIG = ModuleConfig(d_in=5, d_out=4, tokens=7)
V1 = AttentionModule("SelfAttention_v1", CONFIG, layers=qkv_matrices)
V2 = AttentionModule("SelfAttention_v2", CONFIG, layers=qkv_linears)


SelfAttention_v1 = Exercise(
    name="SelfAttention_v1",
    module=MODULE,
    forbidden=FUSED_ATTENTION_CALLS,
    section="3.4.2",
    hint="queries, keys, values = x @ W; weights = softmax(queries @ keys.T / sqrt(d_k)); "
    "return weights @ values.",
    about=(
        "With `torch.manual_seed(123)` the book prints a first row of `[0.2996, 0.8053]` and "
        "a last of `[0.2990, 0.8040]`."
    ),
    demo=(
        "from exercises.self_attention import SelfAttention_v1\n"
        "\n"
        "torch.manual_seed(123)\n"
        "sa_v1 = SelfAttention_v1(d_in=3, d_out=2)\n"
        "sa_v1(inputs)"
    ),
    checks=(
        V1.structure(
            title="W_query, W_key, W_value parameters",
            listing="its parameters by name and shape",
            advice="three nn.Parameter of shape (d_in, d_out) named W_query, W_key, W_value",
        ),
        V1.values(
            advice="check the scaling (divide the scores by sqrt(d_k), d_k = keys.shape[-1]) "
            "and the softmax dim (-1)"
        ),
        V1.grads(
            upstream_first=True,
            advice="part of the forward pass is detached (.data, .detach(), torch.no_grad())",
        ),
        V1.inputs_unchanged(),
        V1.book(seed=123, advice=SEEDED_NOTE),
    ),
)


SelfAttention_v2 = Exercise(
    name="SelfAttention_v2",
    module=MODULE,
    forbidden=FUSED_ATTENTION_CALLS,
    section="3.4.2",
    hint="As v1, with nn.Linear(d_in, d_out, bias=qkv_bias) layers: queries = self.W_query(x).",
    about=(
        "`nn.Linear` projections. With `torch.manual_seed(789)` the first row is `[-0.0739, "
        "0.0713]`."
    ),
    demo=(
        "from exercises.self_attention import SelfAttention_v2\n"
        "\n"
        "torch.manual_seed(789)\n"
        "sa_v2 = SelfAttention_v2(d_in=3, d_out=2)\n"
        "sa_v2(inputs)"
    ),
    checks=(
        V2.structure(
            title="W_query, W_key, W_value are nn.Linear",
            listing="its parameters by name and shape",
        ),
        Check(
            name="structure_bias",
            title="qkv_bias=True adds biases",
            tries=f"{V2.called('qkv_bias=True')}: its parameters",
            probe=V2.probe(CONFIG.init(qkv_bias=True), forward=(), describe=True),
            inputs=lambda rng: {},
            judge=Structure(),
            advice="pass bias=qkv_bias to each nn.Linear",
        ),
        V2.values(advice="check the scaling by sqrt(d_k) and the softmax dim (-1)"),
        V2.values_bias(),
        V2.grads(upstream_first=True),
        V2.book(seed=789, advice=SEEDED_NOTE + "; and qkv_bias defaults to False"),
    ),
)

# Build SelfAttention_v2 and SelfAttention_v1 alike, copy v2's weights into v1 (see probes).
TRANSFER = Run({"kind": "transfer", "init": CONFIG.init()}, V2.inputs())

copy_v2_weights_into_v1 = Exercise(
    name="copy_v2_weights_into_v1",
    module=MODULE,
    section="Exercise 3.1",
    hint="nn.Linear stores its weight as (d_out, d_in); SelfAttention_v1 wants (d_in, d_out).",
    builds_on=("SelfAttention_v1", "SelfAttention_v2"),
    about="Exercise 3.1: after copying, both modules compute the same thing.",
    demo=(
        "from exercises.self_attention import copy_v2_weights_into_v1\n"
        "\n"
        "copy_v2_weights_into_v1(sa_v2, sa_v1)\n"
        "torch.allclose(sa_v1(inputs), sa_v2(inputs))  # True"
    ),
    checks=(
        TRANSFER.check(
            name="weights",
            title="v1 holds v2's weights, transposed",
            tries=f"{V2.called()} with random weights, copied into {V1.called()}; "
            "then v1's W_query, W_key, W_value",
            judge=Close(("v1:W_query", "v1:W_key", "v1:W_value"), atol=0, rtol=0),
            points=2,
            advice="transpose: sa_v1.W_query must equal sa_v2.W_query.weight.T (and likewise "
            "for W_key and W_value)",
        ),
        TRANSFER.check(
            name="outputs",
            title="both modules then agree",
            tries=f"after the copy, SelfAttention_v1 on x {shape_text(CONFIG.x_shape)} against "
            "SelfAttention_v2's output",
            judge=Close(),
        ),
        TRANSFER.check(
            name="own_storage",
            title="v1 keeps its own copy of the weights",
            tries="after the copy, v2's weights are changed in place and v1 is run again",
            judge=Same(
                "out", "out_after_v2_changed", what="v1's output after v2's weights changed"
            ),
            points=0,
            advice="nn.Parameter(sa_v2.W_query.weight.T), as the book writes it, makes v1 share "
            "v2's storage: training one then changes the other. Fine for this exercise; "
            "copy_ under torch.no_grad() (or .clone()) keeps them apart",
        ),
    ),
)

EXERCISES = (SelfAttention_v1, SelfAttention_v2, copy_v2_weights_into_v1)
