"""The exercises' names, module by module in the book's order, known without importing torch.

The command line's help and its check of `--only NAME` read them here, so that neither pays
for importing torch (grader.checks, which defines the exercises, does);
tests/test_startup.py checks that both agree.
"""

from __future__ import annotations

BY_MODULE: dict[str, tuple[str, ...]] = {
    "simple_attention": (
        "attention_scores_for_query",
        "attention_scores",
        "normalize_by_sum",
        "softmax_naive",
        "softmax_stable",
        "context_vectors",
    ),
    "self_attention": ("SelfAttention_v1", "SelfAttention_v2", "copy_v2_weights_into_v1"),
    "causal_attention": (
        "causal_mask",
        "mask_and_renormalize",
        "masked_attention_weights",
        "attention_dropout",
        "CausalAttention",
    ),
    "multihead_attention": (
        "MultiHeadAttentionWrapper",
        "wrapper_with_2d_output",
        "MultiHeadAttention",
        "gpt2_small_attention",
        "MultiHeadAttentionCombinedQKV",
    ),
}
NAMES: tuple[str, ...] = tuple(name for names in BY_MODULE.values() for name in names)


def unknown(name: str) -> str:
    """What is wrong with `--only name`: "" for an exercise's name, else the message
    (grader.checks.find's) that names them all."""
    if name in NAMES:
        return ""
    return f"no exercise named {name!r}; the exercises are: {', '.join(NAMES)}"
