# Learner stub, generated from solutions/self_attention.py by `python -m grader.stubs`.
# Replace each `raise NotImplementedError(...)` with your implementation.
"""Book §3.4: self-attention with trainable weights (scaled dot-product attention).

``SelfAttention_v1`` holds raw weight matrices; ``SelfAttention_v2`` uses
``nn.Linear`` layers. Both take a single sequence of shape (num_tokens, d_in),
without a batch dimension.
"""

import torch  # noqa: F401
from torch import nn


class SelfAttention_v1(nn.Module):
    """Self-attention with raw trainable weight matrices.

    Book §3.4.2, "Implementing a compact self-attention Python class".

    Rules: create ``W_query``, ``W_key`` and ``W_value`` in that order, each
    ``nn.Parameter(torch.rand(d_in, d_out))``; the order fixes which random
    numbers each matrix gets, so seeded results match the book.
    Do not call ``torch.nn.functional.scaled_dot_product_attention`` or use
    ``nn.MultiheadAttention``: the point is to write the attention yourself.

    Args:
        d_in: size of each input embedding.
        d_out: size of each output context vector.
    """

    def __init__(self, d_in, d_out):
        super().__init__()
        # TODO: implement (see the docstring)
        raise NotImplementedError(
            "SelfAttention_v1.__init__ (§3.4.2): not implemented yet, see the docstring"
        )

    def forward(self, x):
        """Scaled dot-product attention over one sequence.

        Book §3.4.2, "Implementing a compact self-attention Python class".

        attn_scores = queries @ keys.T, softmax of attn_scores / sqrt(d_k) over
        the last dimension (d_k = ``keys.shape[-1]``), then attn_weights @ values.

        Args:
            x: token embeddings, shape (num_tokens, d_in).

        Returns:
            context_vec, shape (num_tokens, d_out).
        """
        # TODO: implement (see the docstring)
        raise NotImplementedError(
            "SelfAttention_v1.forward (§3.4.2): not implemented yet, see the docstring"
        )


class SelfAttention_v2(nn.Module):
    """Self-attention with ``nn.Linear`` projections.

    Book §3.4.2, "Implementing a compact self-attention Python class".

    Rules: create ``W_query``, ``W_key`` and ``W_value`` in that order, each
    ``nn.Linear(d_in, d_out, bias=qkv_bias)``. The forward pass is the same as
    ``SelfAttention_v1``'s.
    Do not call ``torch.nn.functional.scaled_dot_product_attention`` or use
    ``nn.MultiheadAttention``: the point is to write the attention yourself.

    Args:
        d_in: size of each input embedding.
        d_out: size of each output context vector.
        qkv_bias: whether the three projections have a bias term.
    """

    def __init__(self, d_in, d_out, qkv_bias=False):
        super().__init__()
        # TODO: implement (see the docstring)
        raise NotImplementedError(
            "SelfAttention_v2.__init__ (§3.4.2): not implemented yet, see the docstring"
        )

    def forward(self, x):
        """Scaled dot-product attention over one sequence.

        Book §3.4.2, "Implementing a compact self-attention Python class".

        Args:
            x: token embeddings, shape (num_tokens, d_in).

        Returns:
            context_vec, shape (num_tokens, d_out).
        """
        # TODO: implement (see the docstring)
        raise NotImplementedError(
            "SelfAttention_v2.forward (§3.4.2): not implemented yet, see the docstring"
        )


def copy_v2_weights_into_v1(sa_v2, sa_v1):
    """Exercise 3.1: make a ``SelfAttention_v1`` compute what a ``SelfAttention_v2`` computes.

    Book §3.4.2, "Implementing a compact self-attention Python class",
    Exercise 3.1, "Comparing SelfAttention_v1 and SelfAttention_v2".

    ``nn.Linear`` stores its weight transposed, with shape (d_out, d_in), and
    computes ``x @ weight.T``; ``SelfAttention_v1`` computes ``x @ W`` with W of
    shape (d_in, d_out). Afterwards both modules give the same output.

    Prefer copying in place under ``torch.no_grad()`` (``Tensor.copy_``), so that
    ``sa_v1`` keeps its own Parameter objects and shares no storage with
    ``sa_v2`` (``nn.Parameter(sa_v2.W_query.weight.T)``, as in the book, also
    works, but then the modules share their weights). Assumes ``sa_v2`` was
    built with ``qkv_bias=False``.

    Args:
        sa_v2: the source ``SelfAttention_v2``; it is not changed.
        sa_v1: the target ``SelfAttention_v1``, changed in place.

    Returns:
        None.
    """
    # TODO: implement (see the docstring)
    raise NotImplementedError(
        "copy_v2_weights_into_v1 (§3.4.2): not implemented yet, see the docstring"
    )
