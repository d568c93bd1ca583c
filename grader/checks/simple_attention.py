"""Checks for exercises/simple_attention.py (book §3.3): scores, normalisation, context."""

from __future__ import annotations

from grader.checks import speed
from grader.checks.build import TOY, TOY_SCORES_2, TOY_TEXT, TOY_WEIGHTS, call, causal_scores
from grader.checks.judges import AllOf, Close, Grads, ShapeDType, SumsToOne, Unchanged
from grader.checks.spec import Check, Exercise
from grader.worker.watch import SOFTMAX_CALLS

MODULE = "simple_attention"


def _unchanged(tries: str, probe: dict, inputs, names: tuple[str, ...]) -> Check:
    return Check(
        "inputs_unchanged",
        "inputs not modified in place",
        tries,
        probe,
        inputs,
        Unchanged(names),
        advice="an in-place operation (a method ending in _, or x[...] = ...) on an argument",
    )


attention_scores_for_query = Exercise(
    name="attention_scores_for_query",
    module=MODULE,
    section="3.3.1",
    hint="The score of token i is the dot product of its embedding with the query.",
    checks=(
        Check(
            "book",
            "the book's scores for x^(2)",
            f"attention_scores_for_query(inputs, query) on {TOY_TEXT}, query = x^(2)",
            call("inputs", "query"),
            lambda rng: {"inputs": TOY.clone(), "query": TOY[1].clone()},
            Close(),
        ),
        Check(
            "shape",
            "shape and dtype",
            "attention_scores_for_query(inputs, query), inputs float32 (9, 5), query float32 (5,)",
            call("inputs", "query"),
            lambda rng: {"inputs": rng.uniform(9, 5), "query": rng.uniform(5)},
            ShapeDType(),
            advice="the result should hold one score per token: shape (T,)",
        ),
        Check(
            "values_random",
            "values on random inputs",
            "attention_scores_for_query(inputs, query), inputs (9, 5) in [-2, 2], a query that "
            "is not one of the rows",
            call("inputs", "query"),
            lambda rng: {
                "inputs": rng.uniform(9, 5, low=-2, high=2),
                "query": rng.uniform(5, low=-2, high=2),
            },
            Close(),
            points=2,
            randomized=True,
        ),
        _unchanged(
            "attention_scores_for_query(inputs, query) on random inputs",
            call("inputs", "query"),
            lambda rng: {"inputs": rng.uniform(9, 5), "query": rng.uniform(5)},
            ("inputs", "query"),
        ),
    ),
)

attention_scores = Exercise(
    name="attention_scores",
    module=MODULE,
    section="3.3.2",
    hint="All pairwise dot products at once are one matrix product: inputs @ inputs.T.",
    checks=(
        Check(
            "book",
            "the book's 6 x 6 score matrix",
            f"attention_scores(inputs) on {TOY_TEXT}",
            call("inputs"),
            lambda rng: {"inputs": TOY.clone()},
            Close(),
        ),
        Check(
            "shape",
            "shape and dtype",
            "attention_scores(inputs), inputs float32 (11, 4)",
            call("inputs"),
            lambda rng: {"inputs": rng.uniform(11, 4)},
            ShapeDType(),
            advice="scores compare every token with every token: shape (T, T), not (d, d)",
        ),
        Check(
            "values_random",
            "values on random inputs",
            "attention_scores(inputs), inputs (11, 4) in [-2, 2]",
            call("inputs"),
            lambda rng: {"inputs": rng.uniform(11, 4, low=-2, high=2)},
            Close(),
            points=2,
            randomized=True,
            advice="inputs.T @ inputs gives (d, d); the scores are inputs @ inputs.T",
        ),
        _unchanged(
            "attention_scores(inputs) on random inputs",
            call("inputs"),
            lambda rng: {"inputs": rng.uniform(11, 4)},
            ("inputs",),
        ),
        *speed.scores_checks(),
    ),
)

normalize_by_sum = Exercise(
    name="normalize_by_sum",
    module=MODULE,
    section="3.3.1",
    hint="Divide every score by the sum of the scores along `dim` (keepdim=True broadcasts).",
    checks=(
        Check(
            "book",
            "the book's normalised scores for x^(2)",
            "normalize_by_sum(scores) on the book's scores for x^(2) "
            "[0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865]",
            call("scores"),
            lambda rng: {"scores": TOY_SCORES_2.clone()},
            Close(),
        ),
        Check(
            "values_2d",
            "rows of a matrix (dim=-1)",
            "normalize_by_sum(scores, dim=-1), scores (4, 7) in [0.1, 2]",
            call("scores", dim=-1),
            lambda rng: {"scores": rng.uniform(4, 7, low=0.1, high=2)},
            AllOf((Close(), SumsToOne())),
            randomized=True,
            advice="sum over the same dim you normalise, with keepdim=True",
        ),
        Check(
            "dim",
            "respects dim",
            "normalize_by_sum(scores, dim=1), scores (3, 4, 5) in [0.1, 2]",
            call("scores", dim=1),
            lambda rng: {"scores": rng.uniform(3, 4, 5, low=0.1, high=2)},
            AllOf((Close(), SumsToOne(dim=1))),
            advice="the dim argument is ignored, or the sum is taken over another dim",
        ),
        _unchanged(
            "normalize_by_sum(scores) on a (4, 7) tensor",
            call("scores"),
            lambda rng: {"scores": rng.uniform(4, 7, low=0.1, high=2)},
            ("scores",),
        ),
    ),
)

softmax_naive = Exercise(
    name="softmax_naive",
    module=MODULE,
    forbidden=SOFTMAX_CALLS,
    section="3.3.1",
    hint="softmax(x) = exp(x) / sum(exp(x)) along `dim`.",
    checks=(
        Check(
            "book",
            "the book's softmax weights for x^(2)",
            "softmax_naive(scores) on the book's scores for x^(2)",
            call("scores"),
            lambda rng: {"scores": TOY_SCORES_2.clone()},
            Close(),
        ),
        Check(
            "values_2d",
            "rows of a matrix (dim=-1)",
            "softmax_naive(x, dim=-1), x (4, 7) in [-3, 3]",
            call("x", dim=-1),
            lambda rng: {"x": rng.uniform(4, 7, low=-3, high=3)},
            AllOf((Close(), SumsToOne())),
            randomized=True,
        ),
        Check(
            "dim",
            "respects dim",
            "softmax_naive(x, dim=0), x (3, 4, 5) in [-3, 3]",
            call("x", dim=0),
            lambda rng: {"x": rng.uniform(3, 4, 5, low=-3, high=3)},
            AllOf((Close(), SumsToOne(dim=0))),
            advice="the sum runs over another dim than `dim` (keepdim=True keeps it broadcastable)",
        ),
        _unchanged(
            "softmax_naive(x) on a (4, 7) tensor",
            call("x"),
            lambda rng: {"x": rng.uniform(4, 7, low=-3, high=3)},
            ("x",),
        ),
    ),
)


def _large(rng):
    x = rng.uniform(4, 8, low=-1e4, high=1e4)
    x[1] = rng.uniform(8, low=9_990, high=10_010)  # a row where every exp(x) overflows
    x[2] = rng.uniform(8, low=-10_010, high=-9_990)  # a row where every exp(x) underflows
    return {"x": x}


softmax_stable = Exercise(
    name="softmax_stable",
    module=MODULE,
    forbidden=SOFTMAX_CALLS,
    section="3.3.1",
    hint="softmax(x) = softmax(x - c) for any c; subtracting the max along dim keeps exp <= 1.",
    checks=(
        Check(
            "book",
            "the book's softmax weights for x^(2)",
            "softmax_stable(scores) on the book's scores for x^(2)",
            call("scores"),
            lambda rng: {"scores": TOY_SCORES_2.clone()},
            Close(),
        ),
        Check(
            "values_2d",
            "rows of a matrix (dim=-1)",
            "softmax_stable(x, dim=-1), x (4, 7) in [-3, 3]",
            call("x", dim=-1),
            lambda rng: {"x": rng.uniform(4, 7, low=-3, high=3)},
            AllOf((Close(), SumsToOne())),
            randomized=True,
        ),
        Check(
            "dim",
            "respects dim",
            "softmax_stable(x, dim=1), x (3, 4, 5) in [-3, 3]",
            call("x", dim=1),
            lambda rng: {"x": rng.uniform(3, 4, 5, low=-3, high=3)},
            AllOf((Close(), SumsToOne(dim=1))),
            advice="the max or the sum is taken over another dim than `dim`",
        ),
        Check(
            "large",
            "inputs of magnitude 1e4",
            "softmax_stable(x), x (4, 8) with values up to 1e4 in magnitude, one row all near "
            "+1e4 (exp overflows) and one all near -1e4 (exp underflows)",
            call("x"),
            _large,
            # A correct float32 softmax may compute x - c with |x|, |c| near 1e4 (through a
            # logsumexp, say): two roundings of 1e4 * 2**-24 each in the exponent, a relative
            # error up to about 1.2e-3 in the output. Tolerance: ten times that.
            Close(atol=1e-6, rtol=10 * 2 * 10_010 * 2**-24),
            points=2,
            randomized=True,
            advice="subtract the max of each row (keepdim=True), not of the whole tensor, "
            "before exp",
        ),
        Check(
            "neg_inf",
            "rows holding -inf",
            "softmax_stable(x) on causally masked scores (2, 6, 6): -inf above the diagonal",
            call("x"),
            lambda rng: {"x": causal_scores(rng, 2, 6, 6)},
            Close(atol=1e-6),
            points=2,
            advice="masked (-inf) entries must get weight exactly 0 and never produce NaN",
        ),
        Check(
            "grad",
            "gradient",
            "backward through softmax_stable(x) for x (4, 7), compared with the reference's "
            "gradient",
            call("x", grad_of=("x",), upstream="g"),
            lambda rng: {"x": rng.uniform(4, 7, low=-3, high=3), "g": rng.uniform(4, 7)},
            Grads(),
            advice="part of the computation is detached (.detach(), .data, .item(), numpy)",
        ),
        _unchanged(
            "softmax_stable(x) on a (4, 7) tensor",
            call("x"),
            lambda rng: {"x": rng.uniform(4, 7, low=-3, high=3)},
            ("x",),
        ),
    ),
)


context_vectors = Exercise(
    name="context_vectors",
    module=MODULE,
    section="3.3.2",
    hint="Each context vector is the attention-weighted sum of the inputs: attn_weights @ inputs.",
    checks=(
        Check(
            "book",
            "the book's six context vectors",
            f"context_vectors(attn_weights, inputs) on the book's 6 x 6 weights and {TOY_TEXT}",
            call("attn_weights", "inputs"),
            lambda rng: {"attn_weights": TOY_WEIGHTS.clone(), "inputs": TOY.clone()},
            Close(),
        ),
        Check(
            "shape",
            "shape and dtype with fewer queries than tokens",
            "context_vectors(attn_weights, inputs), attn_weights (3, 7), inputs (7, 5)",
            call("attn_weights", "inputs"),
            lambda rng: {
                "attn_weights": rng.uniform(3, 7, low=0, high=1),
                "inputs": rng.uniform(7, 5),
            },
            ShapeDType(),
            advice="the result has one context vector per query row: (Tq, d)",
        ),
        Check(
            "values_random",
            "values with fewer queries than tokens",
            "context_vectors(attn_weights, inputs), attn_weights (3, 7) in [0, 1], inputs (7, 5)",
            call("attn_weights", "inputs"),
            lambda rng: {
                "attn_weights": rng.uniform(3, 7, low=0, high=1),
                "inputs": rng.uniform(7, 5),
            },
            Close(),
            points=2,
            randomized=True,
        ),
        _unchanged(
            "context_vectors(attn_weights, inputs) on random inputs",
            call("attn_weights", "inputs"),
            lambda rng: {
                "attn_weights": rng.uniform(3, 7, low=0, high=1),
                "inputs": rng.uniform(7, 5),
            },
            ("attn_weights", "inputs"),
        ),
    ),
)

EXERCISES = (
    attention_scores_for_query,
    attention_scores,
    normalize_by_sum,
    softmax_naive,
    softmax_stable,
    context_vectors,
)
