"""Checks for exercises/self_attention.py (book §3.4): trainable query, key and value weights.

Value checks load the reference's weights into the learner's module through the contract's
attribute names, so the learner's own initialisation never matters. Whether the module also
reproduces the book's seeded numbers is a zero-point note.
"""

from __future__ import annotations

from grader.checks.build import TOY, TOY_TEXT, build, qkv
from grader.checks.judges import Close, Grads, Same, Structure, Unchanged
from grader.checks.spec import Check, Exercise
from grader.worker.watch import FUSED_ATTENTION_CALLS

MODULE = "self_attention"
D_IN, D_OUT, T = 5, 4, 7
CONFIG = f"d_in={D_IN}, d_out={D_OUT}"
SEEDED_NOTE = (
    "matters only for matching the book's printed numbers: create W_query, W_key, W_value in "
    "that order, straight after torch.manual_seed, with nothing else drawing random numbers"
)


def v1_weights(rng):
    """SelfAttention_v1 holds (d_in, d_out) matrices, as torch.rand would fill them."""
    return {
        f"w:{n}": rng.uniform(D_IN, D_OUT, low=0.0, high=1.0)
        for n in ("W_query", "W_key", "W_value")
    }


def with_x(weights: dict, rng, **extra) -> dict:
    return {**weights, "x": rng.uniform(T, D_IN), **extra}


SelfAttention_v1 = Exercise(
    name="SelfAttention_v1",
    module=MODULE,
    forbidden=FUSED_ATTENTION_CALLS,
    section="3.4.2",
    hint="queries, keys, values = x @ W; weights = softmax(queries @ keys.T / sqrt(d_k)); "
    "return weights @ values.",
    checks=(
        Check(
            "structure",
            "W_query, W_key, W_value parameters",
            f"SelfAttention_v1({CONFIG}): its parameters by name and shape",
            build({"d_in": D_IN, "d_out": D_OUT}, forward=(), describe=True),
            lambda rng: {},
            Structure(),
            advice="three nn.Parameter of shape (d_in, d_out) named W_query, W_key, W_value",
        ),
        Check(
            "values_random",
            "values with given weights",
            f"SelfAttention_v1({CONFIG}) with the reference's weights loaded, on x ({T}, {D_IN})",
            build({"d_in": D_IN, "d_out": D_OUT}),
            lambda rng: with_x(v1_weights(rng), rng),
            Close(),
            points=2,
            randomized=True,
            advice="check the scaling (divide the scores by sqrt(d_k), d_k = keys.shape[-1]) "
            "and the softmax dim (-1)",
        ),
        Check(
            "grads",
            "gradients reach every weight",
            f"backward through SelfAttention_v1({CONFIG}) with loaded weights",
            build({"d_in": D_IN, "d_out": D_OUT}, upstream="g"),
            lambda rng: with_x(v1_weights(rng), rng, g=rng.uniform(T, D_OUT)),
            Grads(),
            advice="part of the forward pass is detached (.data, .detach(), torch.no_grad())",
        ),
        Check(
            "inputs_unchanged",
            "input not modified in place",
            f"SelfAttention_v1({CONFIG}) forward on x",
            build({"d_in": D_IN, "d_out": D_OUT}),
            lambda rng: with_x(v1_weights(rng), rng),
            Unchanged(("x",)),
        ),
        Check(
            "book",
            "the book's numbers after torch.manual_seed(123)",
            f"torch.manual_seed(123); SelfAttention_v1(3, 2) on {TOY_TEXT}",
            build({"d_in": 3, "d_out": 2}, init_seed=123),
            lambda rng: {"x": TOY.clone()},
            Close(),
            points=0,
            advice=SEEDED_NOTE,
        ),
    ),
)


def v2_inputs(bias: bool):
    return lambda rng: with_x(qkv(rng, D_IN, D_OUT, bias), rng)


SelfAttention_v2 = Exercise(
    name="SelfAttention_v2",
    module=MODULE,
    forbidden=FUSED_ATTENTION_CALLS,
    section="3.4.2",
    hint="As v1, with nn.Linear(d_in, d_out, bias=qkv_bias) layers: queries = self.W_query(x).",
    checks=(
        Check(
            "structure",
            "W_query, W_key, W_value are nn.Linear",
            f"SelfAttention_v2({CONFIG}): its parameters by name and shape",
            build({"d_in": D_IN, "d_out": D_OUT}, forward=(), describe=True),
            lambda rng: {},
            Structure((("W_query", "Linear"), ("W_key", "Linear"), ("W_value", "Linear"))),
        ),
        Check(
            "structure_bias",
            "qkv_bias=True adds biases",
            f"SelfAttention_v2({CONFIG}, qkv_bias=True): its parameters",
            build({"d_in": D_IN, "d_out": D_OUT, "qkv_bias": True}, forward=(), describe=True),
            lambda rng: {},
            Structure(),
            advice="pass bias=qkv_bias to each nn.Linear",
        ),
        Check(
            "values_random",
            "values with given weights",
            f"SelfAttention_v2({CONFIG}) with the reference's weights loaded, on x ({T}, {D_IN})",
            build({"d_in": D_IN, "d_out": D_OUT}),
            v2_inputs(False),
            Close(),
            points=2,
            randomized=True,
            advice="check the scaling by sqrt(d_k) and the softmax dim (-1)",
        ),
        Check(
            "values_bias",
            "values with qkv_bias=True",
            f"SelfAttention_v2({CONFIG}, qkv_bias=True) with weights and biases loaded",
            build({"d_in": D_IN, "d_out": D_OUT, "qkv_bias": True}),
            v2_inputs(True),
            Close(),
        ),
        Check(
            "grads",
            "gradients reach every weight",
            f"backward through SelfAttention_v2({CONFIG}) with loaded weights",
            build({"d_in": D_IN, "d_out": D_OUT}, upstream="g"),
            lambda rng: with_x(qkv(rng, D_IN, D_OUT), rng, g=rng.uniform(T, D_OUT)),
            Grads(),
        ),
        Check(
            "book",
            "the book's numbers after torch.manual_seed(789)",
            f"torch.manual_seed(789); SelfAttention_v2(3, 2) on {TOY_TEXT}",
            build({"d_in": 3, "d_out": 2}, init_seed=789),
            lambda rng: {"x": TOY.clone()},
            Close(),
            points=0,
            advice=SEEDED_NOTE + "; and qkv_bias defaults to False",
        ),
    ),
)

copy_v2_weights_into_v1 = Exercise(
    name="copy_v2_weights_into_v1",
    module=MODULE,
    section="Exercise 3.1",
    hint="nn.Linear stores its weight as (d_out, d_in); SelfAttention_v1 wants (d_in, d_out).",
    checks=(
        Check(
            "weights",
            "v1 holds v2's weights, transposed",
            f"SelfAttention_v2({CONFIG}) with random weights, copied into SelfAttention_v1({CONFIG}); "
            "then v1's W_query, W_key, W_value",
            {"kind": "transfer", "init": {"d_in": D_IN, "d_out": D_OUT}},
            v2_inputs(False),
            Close(("v1:W_query", "v1:W_key", "v1:W_value"), atol=0, rtol=0),
            points=2,
            advice="transpose: sa_v1.W_query must equal sa_v2.W_query.weight.T (and likewise "
            "for W_key and W_value)",
        ),
        Check(
            "outputs",
            "both modules then agree",
            f"after the copy, SelfAttention_v1 on x ({T}, {D_IN}) against SelfAttention_v2's output",
            {"kind": "transfer", "init": {"d_in": D_IN, "d_out": D_OUT}},
            v2_inputs(False),
            Close(),
        ),
        Check(
            "own_storage",
            "v1 keeps its own copy of the weights",
            "after the copy, v2's weights are changed in place and v1 is run again",
            {"kind": "transfer", "init": {"d_in": D_IN, "d_out": D_OUT}},
            v2_inputs(False),
            Same("out", "out_after_v2_changed", what="v1's output after v2's weights changed"),
            points=0,
            advice="nn.Parameter(sa_v2.W_query.weight.T), as the book writes it, makes v1 share "
            "v2's storage: training one then changes the other. Fine for this exercise; "
            "copy_ under torch.no_grad() (or .clone()) keeps them apart",
        ),
    ),
)

EXERCISES = (SelfAttention_v1, SelfAttention_v2, copy_v2_weights_into_v1)
