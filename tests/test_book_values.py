"""The reference solutions reproduce the values printed in chapter 3 of the book.

Expected numbers are the book's printed outputs (ch03.ipynb), 4 decimals, so they are
compared with atol=1e-4. Values marked "re-run" are not printed in the book; they come
from re-running the book's code (see research/book-facts.md). Exercise 3.2 uses the
values of the current book code, not the stale ones pasted in the exercise solutions.
"""

import importlib.util
import platform
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

if importlib.util.find_spec("solutions") is None:  # let the tests run from any directory
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from solutions.causal_attention import (  # noqa: E402
    CausalAttention,
    attention_dropout,
    causal_mask,
    mask_and_renormalize,
    masked_attention_weights,
)
from solutions.multihead_attention import (  # noqa: E402
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    gpt2_small_attention,
    wrapper_with_2d_output,
)
from solutions.self_attention import (  # noqa: E402
    SelfAttention_v1,
    SelfAttention_v2,
    copy_v2_weights_into_v1,
)
from solutions.simple_attention import (  # noqa: E402
    attention_scores,
    attention_scores_for_query,
    context_vectors,
    normalize_by_sum,
    softmax_naive,
    softmax_stable,
)

ATOL = 1e-4  # the book prints 4 decimals

# "Your journey starts with one step", shape (num_tokens, d_in) = (6, 3)
INPUTS = torch.tensor(
    [
        [0.43, 0.15, 0.89],  # Your     (x^1)
        [0.55, 0.87, 0.66],  # journey  (x^2)
        [0.57, 0.85, 0.64],  # starts   (x^3)
        [0.22, 0.58, 0.33],  # with     (x^4)
        [0.77, 0.25, 0.10],  # one      (x^5)
        [0.05, 0.80, 0.55],  # step     (x^6)
    ]
)
BATCH = torch.stack((INPUTS, INPUTS), dim=0)  # (2, 6, 3): two identical sequences

ALL_SCORES = [
    [0.9995, 0.9544, 0.9422, 0.4753, 0.4576, 0.6310],
    [0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865],
    [0.9422, 1.4754, 1.4570, 0.8296, 0.7154, 1.0605],
    [0.4753, 0.8434, 0.8296, 0.4937, 0.3474, 0.6565],
    [0.4576, 0.7070, 0.7154, 0.3474, 0.6654, 0.2935],
    [0.6310, 1.0865, 1.0605, 0.6565, 0.2935, 0.9450],
]
ALL_WEIGHTS = [
    [0.2098, 0.2006, 0.1981, 0.1242, 0.1220, 0.1452],
    [0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581],
    [0.1390, 0.2369, 0.2326, 0.1242, 0.1108, 0.1565],
    [0.1435, 0.2074, 0.2046, 0.1462, 0.1263, 0.1720],
    [0.1526, 0.1958, 0.1975, 0.1367, 0.1879, 0.1295],
    [0.1385, 0.2184, 0.2128, 0.1420, 0.0988, 0.1896],
]
# §3.5.1: causal weights from the seed-789 SelfAttention_v2 scores (both approaches agree)
CAUSAL_WEIGHTS = [
    [1.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000],
    [0.5517, 0.4483, 0.0000, 0.0000, 0.0000, 0.0000],
    [0.3800, 0.3097, 0.3103, 0.0000, 0.0000, 0.0000],
    [0.2758, 0.2460, 0.2462, 0.2319, 0.0000, 0.0000],
    [0.2175, 0.1983, 0.1984, 0.1888, 0.1971, 0.0000],
    [0.1935, 0.1663, 0.1666, 0.1542, 0.1666, 0.1529],
]
# §3.5.3: CausalAttention(3, 2, 6, 0.0) after torch.manual_seed(123), one sequence
CAUSAL_ATTENTION_OUT = [
    [-0.4519, 0.2216],
    [-0.5874, 0.0058],
    [-0.6300, -0.0632],
    [-0.5675, -0.0843],
    [-0.5526, -0.0981],
    [-0.5299, -0.1081],
]


def assert_close(actual, expected, atol=ATOL):
    expected = torch.as_tensor(expected, dtype=actual.dtype)
    assert actual.shape == expected.shape, f"shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    torch.testing.assert_close(actual.detach(), expected, atol=atol, rtol=0)


def both_sequences(rows):
    """The expected (2, num_tokens, d) output for BATCH, whose two sequences are identical."""
    return [rows, rows]


def seed_789_scores():
    """§3.5.1: the unscaled attention scores of the seed-789 SelfAttention_v2 (shape (6, 6))."""
    torch.manual_seed(789)
    sa_v2 = SelfAttention_v2(3, 2)
    with torch.no_grad():
        return sa_v2.W_query(INPUTS) @ sa_v2.W_key(INPUTS).T


# §3.3.1 ---------------------------------------------------------------------------------


def test_scores_for_query_x2():
    attn_scores_2 = attention_scores_for_query(INPUTS, INPUTS[1])
    assert_close(attn_scores_2, [0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865])
    assert_close(attn_scores_2[0], torch.dot(INPUTS[0], INPUTS[1]))


def test_normalize_by_sum():
    attn_weights_2 = normalize_by_sum(attention_scores_for_query(INPUTS, INPUTS[1]))
    assert_close(attn_weights_2, [0.1455, 0.2278, 0.2249, 0.1285, 0.1077, 0.1656])
    assert_close(attn_weights_2.sum(), 1.0)


@pytest.mark.parametrize("softmax", [softmax_naive, softmax_stable])
def test_softmax_on_x2_scores(softmax):
    attn_weights_2 = softmax(attention_scores_for_query(INPUTS, INPUTS[1]), dim=0)
    assert_close(attn_weights_2, [0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581])
    assert_close(attn_weights_2.sum(), 1.0)


def test_context_vector_z2():
    attn_weights_2 = softmax_stable(attention_scores_for_query(INPUTS, INPUTS[1]))
    context_vec_2 = context_vectors(attn_weights_2.unsqueeze(0), INPUTS)  # (1, 6) @ (6, 3)
    assert_close(context_vec_2, [[0.4419, 0.6515, 0.5683]])


# §3.3.2 ---------------------------------------------------------------------------------


def test_all_scores():
    assert_close(attention_scores(INPUTS), ALL_SCORES)


@pytest.mark.parametrize("softmax", [softmax_naive, softmax_stable])
def test_all_weights(softmax):
    attn_weights = softmax(attention_scores(INPUTS), dim=-1)
    assert_close(attn_weights, ALL_WEIGHTS)
    assert_close(attn_weights.sum(dim=-1), [1.0] * 6)


def test_all_context_vectors():
    attn_weights = softmax_stable(attention_scores(INPUTS))
    all_context_vecs = context_vectors(attn_weights, INPUTS)
    assert_close(
        all_context_vecs,
        [
            [0.4421, 0.5931, 0.5790],
            [0.4419, 0.6515, 0.5683],
            [0.4431, 0.6496, 0.5671],
            [0.4304, 0.6298, 0.5510],
            [0.4671, 0.5910, 0.5266],
            [0.4177, 0.6503, 0.5645],
        ],
    )


# §3.4 -----------------------------------------------------------------------------------


def test_self_attention_v1_step_by_step_values():
    """§3.4.1: the seed-123 weights drawn in Q, K, V order give the book's step-by-step values."""
    torch.manual_seed(123)
    sa_v1 = SelfAttention_v1(3, 2)
    with torch.no_grad():
        query_2 = INPUTS[1] @ sa_v1.W_query
        keys = INPUTS @ sa_v1.W_key
        values = INPUTS @ sa_v1.W_value
        attn_scores_2 = query_2 @ keys.T
        attn_weights_2 = torch.softmax(attn_scores_2 / keys.shape[-1] ** 0.5, dim=-1)
    assert_close(query_2, [0.4306, 1.4551])
    assert_close(attn_scores_2[1], 1.8524)
    assert_close(attn_scores_2, [1.2705, 1.8524, 1.8111, 1.0795, 0.5577, 1.5440])
    assert_close(attn_weights_2, [0.1500, 0.2264, 0.2199, 0.1311, 0.0906, 0.1820])
    assert_close(attn_weights_2 @ values, [0.3061, 0.8210])


def test_self_attention_v1_seed_123():
    torch.manual_seed(123)
    sa_v1 = SelfAttention_v1(3, 2)
    assert_close(
        sa_v1(INPUTS),
        [
            [0.2996, 0.8053],
            [0.3061, 0.8210],
            [0.3058, 0.8203],
            [0.2948, 0.7939],
            [0.2927, 0.7891],
            [0.2990, 0.8040],
        ],
    )


def test_self_attention_v2_seed_789():
    torch.manual_seed(789)
    sa_v2 = SelfAttention_v2(3, 2)
    assert_close(
        sa_v2(INPUTS),
        [
            [-0.0739, 0.0713],
            [-0.0748, 0.0703],
            [-0.0749, 0.0702],
            [-0.0760, 0.0685],
            [-0.0763, 0.0679],
            [-0.0754, 0.0693],
        ],
    )


def test_exercise_3_1_copy_v2_weights_into_v1():
    torch.manual_seed(123)
    sa_v1 = SelfAttention_v1(3, 2)
    torch.manual_seed(123)
    sa_v2 = SelfAttention_v2(3, 2)
    own_params = [sa_v1.W_query, sa_v1.W_key, sa_v1.W_value]

    assert copy_v2_weights_into_v1(sa_v2, sa_v1) is None

    expected = [
        [-0.5337, -0.1051],
        [-0.5323, -0.1080],
        [-0.5323, -0.1079],
        [-0.5297, -0.1076],
        [-0.5311, -0.1066],
        [-0.5299, -0.1081],
    ]
    assert_close(sa_v1(INPUTS), expected)
    assert_close(sa_v2(INPUTS), expected)
    # copied in place: the same Parameter objects, no storage shared with sa_v2
    assert [sa_v1.W_query, sa_v1.W_key, sa_v1.W_value] == own_params
    v2_ptrs = {p.data_ptr() for p in sa_v2.parameters()}
    assert not v2_ptrs & {p.data_ptr() for p in sa_v1.parameters()}


# §3.5.1 ---------------------------------------------------------------------------------


def test_causal_mask():
    mask = causal_mask(6)
    assert mask.dtype == torch.bool
    assert torch.equal(mask, ~torch.tril(torch.ones(6, 6)).bool())


def test_unmasked_weights_seed_789():
    attn_scores = seed_789_scores()
    assert_close(
        softmax_stable(attn_scores / 2**0.5),
        [
            [0.1921, 0.1646, 0.1652, 0.1550, 0.1721, 0.1510],
            [0.2041, 0.1659, 0.1662, 0.1496, 0.1665, 0.1477],
            [0.2036, 0.1659, 0.1662, 0.1498, 0.1664, 0.1480],
            [0.1869, 0.1667, 0.1668, 0.1571, 0.1661, 0.1564],
            [0.1830, 0.1669, 0.1670, 0.1588, 0.1658, 0.1585],
            [0.1935, 0.1663, 0.1666, 0.1542, 0.1666, 0.1529],
        ],
    )


def test_mask_and_renormalize_seed_789():
    attn_weights = torch.softmax(seed_789_scores() / 2**0.5, dim=-1)
    before = attn_weights.clone()
    assert_close(mask_and_renormalize(attn_weights), CAUSAL_WEIGHTS)
    assert torch.equal(attn_weights, before), "mask_and_renormalize modified its input"


def test_masked_attention_weights_seed_789():
    attn_scores = seed_789_scores()
    before = attn_scores.clone()
    assert_close(masked_attention_weights(attn_scores, d_k=2), CAUSAL_WEIGHTS)
    assert torch.equal(attn_scores, before), "masked_attention_weights modified its input"


def test_softmax_stable_on_masked_scores():
    """The book's -inf-masked scores: softmax_stable must handle rows holding -inf."""
    masked = seed_789_scores().masked_fill(causal_mask(6), -torch.inf)
    assert_close(softmax_stable(masked / 2**0.5), CAUSAL_WEIGHTS)


# §3.5.2 ---------------------------------------------------------------------------------


@pytest.mark.skipif(
    not (sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")),
    reason="the book's dropout pattern depends on the platform's RNG (pytorch/pytorch#121595)",
)
def test_dropout_demo_seed_123():
    ones_pattern = [
        [2.0, 2.0, 0.0, 2.0, 2.0, 0.0],
        [0.0, 0.0, 0.0, 2.0, 0.0, 2.0],
        [2.0, 2.0, 2.0, 2.0, 0.0, 2.0],
        [0.0, 2.0, 2.0, 0.0, 0.0, 2.0],
        [0.0, 2.0, 0.0, 2.0, 0.0, 2.0],
        [0.0, 2.0, 2.0, 2.0, 2.0, 0.0],
    ]
    torch.manual_seed(123)
    assert_close(nn.Dropout(0.5)(torch.ones(6, 6)), ones_pattern)
    torch.manual_seed(123)
    assert_close(attention_dropout(torch.ones(6, 6), 0.5), ones_pattern)

    attn_weights = masked_attention_weights(seed_789_scores(), d_k=2)
    torch.manual_seed(123)
    assert_close(
        attention_dropout(attn_weights, 0.5),
        [
            [2.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000],
            [0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000],
            [0.7599, 0.6194, 0.6206, 0.0000, 0.0000, 0.0000],
            [0.0000, 0.4921, 0.4925, 0.0000, 0.0000, 0.0000],
            [0.0000, 0.3966, 0.0000, 0.3775, 0.0000, 0.0000],
            [0.0000, 0.3327, 0.3331, 0.3084, 0.3331, 0.0000],
        ],
    )


# §3.5.3 and §3.6 ------------------------------------------------------------------------


def test_causal_attention_seed_123():
    torch.manual_seed(123)
    ca = CausalAttention(3, 2, context_length=6, dropout=0.0)
    assert_close(ca(BATCH), both_sequences(CAUSAL_ATTENTION_OUT))


def test_multihead_attention_wrapper_seed_123():
    torch.manual_seed(123)
    mha = MultiHeadAttentionWrapper(3, 2, context_length=6, dropout=0.0, num_heads=2)
    head_2 = [
        [0.4772, 0.1063],
        [0.5891, 0.3257],
        [0.6202, 0.3860],
        [0.5478, 0.3589],
        [0.5321, 0.3428],
        [0.5077, 0.3493],
    ]
    rows = [h1 + h2 for h1, h2 in zip(CAUSAL_ATTENTION_OUT, head_2, strict=True)]
    assert_close(mha(BATCH), both_sequences(rows))


def test_multihead_attention_seed_123():
    torch.manual_seed(123)
    mha = MultiHeadAttention(3, 2, context_length=6, dropout=0.0, num_heads=2)
    rows = [
        [0.3190, 0.4858],
        [0.2943, 0.3897],
        [0.2856, 0.3593],
        [0.2693, 0.3873],
        [0.2639, 0.3928],
        [0.2575, 0.4028],
    ]
    assert_close(mha(BATCH), both_sequences(rows))


def test_multihead_attention_d_out_4_seed_123():
    """Re-run values: the d_out=4 variant (head_dim=2) suggested in the book's notebook note."""
    torch.manual_seed(123)
    mha = MultiHeadAttention(3, 4, context_length=6, dropout=0.0, num_heads=2)
    rows = [
        [0.1184, 0.3120, -0.0847, -0.5774],
        [0.0178, 0.3221, -0.0763, -0.4225],
        [-0.0147, 0.3259, -0.0734, -0.3721],
        [-0.0116, 0.3138, -0.0708, -0.3624],
        [-0.0117, 0.2973, -0.0698, -0.3543],
        [-0.0132, 0.2990, -0.0689, -0.3490],
    ]
    assert_close(mha(BATCH), both_sequences(rows))


def test_exercise_3_2_two_dimensional_output():
    """Current-code values (the exercise solution's pasted tensor predates a softmax-dim fix)."""
    torch.manual_seed(123)
    mha = wrapper_with_2d_output(3, context_length=6)
    assert isinstance(mha, MultiHeadAttentionWrapper)
    assert len(mha.heads) == 2
    rows = [
        [-0.5740, 0.2216],
        [-0.7320, 0.0155],
        [-0.7774, -0.0546],
        [-0.6979, -0.0817],
        [-0.6538, -0.0957],
        [-0.6424, -0.1065],
    ]
    assert_close(mha(BATCH), both_sequences(rows))


def count_parameters(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_exercise_3_3_gpt2_small_parameter_count():
    mha = gpt2_small_attention()
    assert isinstance(mha, MultiHeadAttention)
    assert (mha.num_heads, mha.head_dim, mha.d_out) == (12, 64, 768)
    assert mha.mask.shape == (1024, 1024)
    assert count_parameters(mha) == 2_360_064
    with_bias = MultiHeadAttention(768, 768, 1024, 0.0, num_heads=12, qkv_bias=True)
    assert count_parameters(with_bias) == 2_362_368
