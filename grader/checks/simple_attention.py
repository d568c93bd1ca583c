"""Checks for exercises/simple_attention.py (book §3.3): scores, normalisation, context."""

from __future__ import annotations

from grader.checks import speed
from grader.checks.criteria import AllOf, Close, Grads, ShapeDType, SumsToOne
from grader.checks.spec import Check, Exercise
from grader.checks.vocabulary import (
    TOY,
    TOY_SCORES_2,
    TOY_TEXT,
    TOY_WEIGHTS,
    Run,
    book_values,
    causal_scores,
    function_probe,
    inputs_unchanged,
    random_values,
    weights_out,
)
from grader.worker.watch import SOFTMAX_CALLS

MODULE = "simple_attention"


def _unchanged(tries: str, run: Run, names: tuple[str, ...]) -> Check:
    return inputs_unchanged(
        run,
        tries,
        names,
        title="inputs not modified in place",
        advice="an in-place operation (a method ending in _, or x[...] = ...) on an argument",
    )


def _shape_and_dtype(run: Run, tries: str, advice: str) -> Check:
    return run.check(
        name="shape", title="shape and dtype", tries=tries, judge=ShapeDType(), advice=advice
    )


def _normalising(
    name: str,
    arg: str,
    low: float,
    high: float,
    dim: int,
    *,
    rows_advice: str = "",
    dim_advice: str,
) -> tuple[Check, Check]:
    """Two checks of a function that normalises `arg` along `dim` (the results sum to 1): the
    rows of a (4, 7) matrix (dim=-1, also a hidden check), and dim `dim` of a (3, 4, 5) tensor;
    the values drawn in [low, high]."""
    span = f"in [{low:g}, {high:g}]"
    return (
        Check(
            name="values_2d",
            title="rows of a matrix (dim=-1)",
            tries=f"{name}({arg}, dim=-1), {arg} (4, 7) {span}",
            probe=function_probe(arg, dim=-1),
            inputs=lambda rng: {arg: rng.uniform(4, 7, low=low, high=high)},
            judge=AllOf((Close(), SumsToOne())),
            randomized=True,
            advice=rows_advice,
            picture="out",
        ),
        Check(
            name="dim",
            title="respects dim",
            tries=f"{name}({arg}, dim={dim}), {arg} (3, 4, 5) {span}",
            probe=function_probe(arg, dim=dim),
            inputs=lambda rng: {arg: rng.uniform(3, 4, 5, low=low, high=high)},
            judge=AllOf((Close(), SumsToOne(dim=dim))),
            advice=dim_advice,
            picture="out",
        ),
    )


def _unchanged_4x7(name: str, arg: str, low: float, high: float) -> Check:
    """`arg` left alone by the call, on a (4, 7) tensor in [low, high]."""
    return _unchanged(
        f"{name}({arg}) on a (4, 7) tensor",
        Run(function_probe(arg), lambda rng: {arg: rng.uniform(4, 7, low=low, high=high)}),
        (arg,),
    )


def _softmax(name: str, dim: int, dim_advice: str) -> tuple[Check, ...]:
    """The checks both softmax exercises start with: the book's weights for x^(2), rows of a
    matrix, and dim `dim` of a (3, 4, 5) tensor, values in [-3, 3]."""
    return (
        weights_out(
            book_values(
                "the book's softmax weights for x^(2)",
                f"{name}(scores) on the book's scores for x^(2)",
                {"scores": TOY_SCORES_2},
            )
        ),
        *_normalising(name, "x", -3, 3, dim=dim, dim_advice=dim_advice),
    )


_QUERY_RUN = Run(
    function_probe("inputs", "query"),
    lambda rng: {"inputs": rng.uniform(9, 5), "query": rng.uniform(5)},
)

attention_scores_for_query = Exercise(
    name="attention_scores_for_query",
    module=MODULE,
    section="3.3.1",
    hint="The score of token i is the dot product of its embedding with the query.",
    about=(
        "The score of token *i* is `inputs[i] · query`. The book prints `tensor([0.9544, "
        "1.4950, 1.4754, 0.8434, 0.7070, 1.0865])`."
    ),
    demo=(
        "from exercises.simple_attention import attention_scores_for_query\n"
        "\n"
        "query = inputs[1]  # journey\n"
        "attn_scores_2 = attention_scores_for_query(inputs, query)\n"
        "attn_scores_2"
    ),
    checks=(
        book_values(
            "the book's scores for x^(2)",
            f"attention_scores_for_query(inputs, query) on {TOY_TEXT}, query = x^(2)",
            {"inputs": TOY, "query": TOY[1]},
        ),
        _shape_and_dtype(
            _QUERY_RUN,
            "attention_scores_for_query(inputs, query), inputs float32 (9, 5), query float32 (5,)",
            advice="the result should hold one score per token: shape (T,)",
        ),
        random_values(
            Run(
                function_probe("inputs", "query"),
                lambda rng: {
                    "inputs": rng.uniform(9, 5, low=-2, high=2),
                    "query": rng.uniform(5, low=-2, high=2),
                },
            ),
            title="values on random inputs",
            tries="attention_scores_for_query(inputs, query), inputs (9, 5) in [-2, 2], a query that "
            "is not one of the rows",
        ),
        _unchanged(
            "attention_scores_for_query(inputs, query) on random inputs",
            _QUERY_RUN,
            ("inputs", "query"),
        ),
    ),
)

_SCORES_RUN = Run(function_probe("inputs"), lambda rng: {"inputs": rng.uniform(11, 4)})

attention_scores = Exercise(
    name="attention_scores",
    module=MODULE,
    section="3.3.2",
    hint="All pairwise dot products at once are one matrix product: inputs @ inputs.T.",
    about=(
        "All pairs at once, in one matrix product (§3.3.2): a (6, 6) tensor whose second row "
        "is the scores above."
    ),
    demo=(
        "from exercises.simple_attention import attention_scores\n"
        "\n"
        "attn_scores = attention_scores(inputs)\n"
        "attn_scores"
    ),
    checks=(
        book_values(
            "the book's 6 x 6 score matrix",
            f"attention_scores(inputs) on {TOY_TEXT}",
            {"inputs": TOY},
        ),
        _shape_and_dtype(
            _SCORES_RUN,
            "attention_scores(inputs), inputs float32 (11, 4)",
            advice="scores compare every token with every token: shape (T, T), not (d, d)",
        ),
        random_values(
            Run(
                function_probe("inputs"), lambda rng: {"inputs": rng.uniform(11, 4, low=-2, high=2)}
            ),
            title="values on random inputs",
            tries="attention_scores(inputs), inputs (11, 4) in [-2, 2]",
            advice="inputs.T @ inputs gives (d, d); the scores are inputs @ inputs.T",
        ),
        _unchanged("attention_scores(inputs) on random inputs", _SCORES_RUN, ("inputs",)),
        *speed.scores_checks(),
    ),
)

normalize_by_sum = Exercise(
    name="normalize_by_sum",
    module=MODULE,
    section="3.3.1",
    hint="Divide every score by the sum of the scores along `dim` (keepdim=True broadcasts).",
    about=(
        "The first, naive normalisation: divide by the sum. The book prints `tensor([0.1455, "
        "0.2278, 0.2249, 0.1285, 0.1077, 0.1656])`."
    ),
    demo=(
        "from exercises.simple_attention import normalize_by_sum\n\nnormalize_by_sum(attn_scores_2)"
    ),
    checks=(
        weights_out(
            book_values(
                "the book's normalised scores for x^(2)",
                "normalize_by_sum(scores) on the book's scores for x^(2) "
                "[0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865]",
                {"scores": TOY_SCORES_2},
            )
        ),
        *_normalising(
            "normalize_by_sum",
            "scores",
            0.1,
            2,
            dim=1,
            rows_advice="sum over the same dim you normalise, with keepdim=True",
            dim_advice="the dim argument is ignored, or the sum is taken over another dim",
        ),
        _unchanged_4x7("normalize_by_sum", "scores", 0.1, 2),
    ),
)

softmax_naive = Exercise(
    name="softmax_naive",
    module=MODULE,
    forbidden=SOFTMAX_CALLS,
    section="3.3.1",
    hint="softmax(x) = exp(x) / sum(exp(x)) along `dim`.",
    about=(
        "`exp(x) / sum(exp(x))`. The book prints `tensor([0.1385, 0.2379, 0.2333, 0.1240, "
        "0.1082, 0.1581])`; on inputs near 1e4 it overflows to `nan`, which the next exercise"
        " fixes."
    ),
    demo=(
        "from exercises.simple_attention import softmax_naive\n"
        "\n"
        "print(softmax_naive(attn_scores_2))\n"
        "print(softmax_naive(torch.tensor([1e4, 1e4 - 1])))  # nan: exp overflows"
    ),
    checks=(
        *_softmax(
            "softmax_naive",
            dim=0,
            dim_advice="the sum runs over another dim than `dim` (keepdim=True keeps it "
            "broadcastable)",
        ),
        _unchanged_4x7("softmax_naive", "x", -3, 3),
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
    about=(
        "Subtract the maximum first: same weights as above, and `tensor([0.7311, 0.2689])` "
        "for the large inputs."
    ),
    demo=(
        "from exercises.simple_attention import softmax_stable\n"
        "\n"
        "attn_weights_2 = softmax_stable(attn_scores_2)\n"
        "print(attn_weights_2)\n"
        "print(softmax_stable(torch.tensor([1e4, 1e4 - 1])))"
    ),
    checks=(
        *_softmax(
            "softmax_stable",
            dim=1,
            dim_advice="the max or the sum is taken over another dim than `dim`",
        ),
        Check(
            name="large",
            title="inputs of magnitude 1e4",
            tries="softmax_stable(x), x (4, 8) with values up to 1e4 in magnitude, one row all near "
            "+1e4 (exp overflows) and one all near -1e4 (exp underflows)",
            probe=function_probe("x"),
            inputs=_large,
            # A correct float32 softmax may compute x - c with |x|, |c| near 1e4 (through a
            # logsumexp, say): two roundings of 1e4 * 2**-24 each in the exponent, a relative
            # error up to about 1.2e-3 in the output. Tolerance: ten times that.
            judge=Close(atol=1e-6, rtol=10 * 2 * 10_010 * 2**-24),
            points=2,
            randomized=True,
            advice="subtract the max of each row (keepdim=True), not of the whole tensor, "
            "before exp",
            picture="out",
        ),
        Check(
            name="neg_inf",
            title="rows holding -inf",
            tries="softmax_stable(x) on causally masked scores (2, 6, 6): -inf above the diagonal",
            probe=function_probe("x"),
            inputs=lambda rng: {"x": causal_scores(rng, 2, 6, 6)},
            judge=Close(atol=1e-6),
            points=2,
            advice="masked (-inf) entries must get weight exactly 0 and never produce NaN",
            picture="out",
        ),
        Check(
            name="grad",
            title="gradient",
            tries="backward through softmax_stable(x) for x (4, 7), compared with the reference's "
            "gradient",
            probe=function_probe("x", grad_of=("x",), upstream="g"),
            inputs=lambda rng: {"x": rng.uniform(4, 7, low=-3, high=3), "g": rng.uniform(4, 7)},
            judge=Grads(),
            advice="part of the computation is detached (.detach(), .data, .item(), numpy)",
        ),
        _unchanged_4x7("softmax_stable", "x", -3, 3),
    ),
)


# Fewer queries than tokens: weights (3, 7) in [0, 1], inputs (7, 5).
_CONTEXT_RUN = Run(
    function_probe("attn_weights", "inputs"),
    lambda rng: {"attn_weights": rng.uniform(3, 7, low=0, high=1), "inputs": rng.uniform(7, 5)},
)

context_vectors = Exercise(
    name="context_vectors",
    module=MODULE,
    section="3.3.2",
    hint="Each context vector is the attention-weighted sum of the inputs: attn_weights @ inputs.",
    about=(
        "Weighted sums of the inputs. The second row is the book's context vector "
        "`tensor([0.4419, 0.6515, 0.5683])`."
    ),
    demo=(
        "from exercises.simple_attention import context_vectors\n"
        "\n"
        "attn_weights = softmax_stable(attn_scores)\n"
        "context_vectors(attn_weights, inputs)"
    ),
    checks=(
        book_values(
            "the book's six context vectors",
            f"context_vectors(attn_weights, inputs) on the book's 6 x 6 weights and {TOY_TEXT}",
            {"attn_weights": TOY_WEIGHTS, "inputs": TOY},
        ),
        _CONTEXT_RUN.check(
            name="shape",
            title="shape and dtype with fewer queries than tokens",
            tries="context_vectors(attn_weights, inputs), attn_weights (3, 7), inputs (7, 5)",
            judge=ShapeDType(),
            advice="the result has one context vector per query row: (Tq, d)",
        ),
        random_values(
            _CONTEXT_RUN,
            title="values with fewer queries than tokens",
            tries="context_vectors(attn_weights, inputs), attn_weights (3, 7) in [0, 1], inputs (7, 5)",
        ),
        _unchanged(
            "context_vectors(attn_weights, inputs) on random inputs",
            _CONTEXT_RUN,
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
