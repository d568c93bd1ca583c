"""Book §3.6: extending single-head attention to multi-head attention.

``MultiHeadAttentionWrapper`` stacks independent ``CausalAttention`` heads;
``MultiHeadAttention`` computes all heads at once by splitting the projected
queries, keys and values into ``num_heads`` pieces.
"""

import torch
from torch import nn

from .causal_attention import CausalAttention


class MultiHeadAttentionWrapper(nn.Module):
    """Multi-head attention as a list of independent causal attention heads.

    Book §3.6.1, "Stacking multiple single-head attention layers".

    Rules: ``self.heads = nn.ModuleList([CausalAttention(...) for _ in
    range(num_heads)])``, each head with the same arguments; the forward pass
    concatenates the head outputs on the last dimension. No output projection.
    Do not call ``torch.nn.functional.scaled_dot_product_attention`` or use
    ``nn.MultiheadAttention``: the point is to write the attention yourself.

    Args:
        d_in: size of each input embedding.
        d_out: size of each head's output (the total output is num_heads * d_out).
        context_length: the longest sequence the module supports.
        dropout: dropout probability for the attention weights.
        num_heads: number of heads.
        qkv_bias: whether the projections have a bias term.
    """

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        # BEGIN SOLUTION
        self.heads = nn.ModuleList(
            [
                CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)
                for _ in range(num_heads)
            ]
        )
        # END SOLUTION

    def forward(self, x):
        """Run every head and concatenate their context vectors.

        Book §3.6.1, "Stacking multiple single-head attention layers".

        Args:
            x: token embeddings, shape (b, num_tokens, d_in).

        Returns:
            context_vec, shape (b, num_tokens, num_heads * d_out).
        """
        # BEGIN SOLUTION
        return torch.cat([head(x) for head in self.heads], dim=-1)
        # END SOLUTION


class MultiHeadAttention(nn.Module):
    """Causal multi-head attention with weight splits.

    Book §3.6.2, "Implementing multi-head attention with weight splits".

    Rules: raise an error (``ValueError``; an ``assert`` vanishes under ``python -O``)
    when ``d_out`` is not divisible by ``num_heads``. Create, in this order,
    ``d_out``, ``num_heads``, ``head_dim = d_out // num_heads``; ``W_query``,
    ``W_key``, ``W_value`` (each ``nn.Linear(d_in, d_out, bias=qkv_bias)``);
    ``out_proj = nn.Linear(d_out, d_out)`` (always with a bias);
    ``dropout = nn.Dropout(dropout)``; and the ``mask`` buffer exactly as in
    ``CausalAttention``.
    Do not call ``torch.nn.functional.scaled_dot_product_attention`` or use
    ``nn.MultiheadAttention``: the point is to write the attention yourself.

    Args:
        d_in: size of each input embedding.
        d_out: total output size, split evenly across the heads.
        context_length: the longest sequence the module supports.
        dropout: dropout probability for the attention weights.
        num_heads: number of heads.
        qkv_bias: whether the query/key/value projections have a bias term.

    Raises:
        ValueError: if d_out % num_heads != 0.
    """

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        # BEGIN SOLUTION
        if d_out % num_heads != 0:
            raise ValueError(f"d_out ({d_out}) must be divisible by num_heads ({num_heads})")

        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer(
            "mask", torch.triu(torch.ones(context_length, context_length), diagonal=1)
        )
        # END SOLUTION

    def forward(self, x):
        """Causal attention for all heads at once, then the output projection.

        Book §3.6.2, "Implementing multi-head attention with weight splits".

        Split the last dimension into (num_heads, head_dim) with ``.view``, move
        the head dimension forward with ``.transpose(1, 2)``, attend per head
        (scale by sqrt(head_dim), i.e. ``keys.shape[-1]``), then undo the
        transpose and merge the heads with ``.contiguous().view(...)`` before
        ``out_proj``. Dropout goes on the attention weights.

        Args:
            x: token embeddings, shape (b, num_tokens, d_in).

        Returns:
            context_vec, shape (b, num_tokens, d_out).
        """
        # BEGIN SOLUTION
        b, num_tokens, d_in = x.shape
        keys = self.W_key(x)  # (b, num_tokens, d_out)
        queries = self.W_query(x)  # (b, num_tokens, d_out)
        values = self.W_value(x)  # (b, num_tokens, d_out)

        # Split the last dim: (b, num_tokens, d_out) -> (b, num_tokens, num_heads, head_dim)
        keys = keys.view(b, num_tokens, self.num_heads, self.head_dim)
        queries = queries.view(b, num_tokens, self.num_heads, self.head_dim)
        values = values.view(b, num_tokens, self.num_heads, self.head_dim)

        # (b, num_tokens, num_heads, head_dim) -> (b, num_heads, num_tokens, head_dim)
        keys = keys.transpose(1, 2)
        queries = queries.transpose(1, 2)
        values = values.transpose(1, 2)

        # Dot product per head; keys.transpose(2, 3) is (b, num_heads, head_dim, num_tokens)
        attn_scores = queries @ keys.transpose(2, 3)  # (b, num_heads, num_tokens, num_tokens)
        mask_bool = self.mask[:num_tokens, :num_tokens].bool()
        attn_scores.masked_fill_(mask_bool, -torch.inf)
        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)
        attn_weights = self.dropout(attn_weights)

        # (b, num_heads, num_tokens, head_dim) -> (b, num_tokens, num_heads, head_dim)
        context_vec = (attn_weights @ values).transpose(1, 2)
        # Merge the heads: (b, num_tokens, num_heads, head_dim) -> (b, num_tokens, d_out)
        context_vec = context_vec.contiguous().view(b, num_tokens, self.d_out)
        return self.out_proj(context_vec)  # (b, num_tokens, d_out)
        # END SOLUTION


def gpt2_small_attention():
    """Exercise 3.3: a multi-head attention module the size of the smallest GPT-2.

    Book §3.6.2, "Implementing multi-head attention with weight splits",
    Exercise 3.3, "Initializing GPT-2 size attention modules".

    12 heads, 768-dimensional input and output, a context length of 1,024,
    dropout 0.0 and no query/key/value bias: 2,360,064 trainable parameters.

    Returns:
        A ``MultiHeadAttention``; it maps (b, num_tokens, 768) -> (b, num_tokens, 768).
    """
    # BEGIN SOLUTION
    return MultiHeadAttention(
        d_in=768, d_out=768, context_length=1024, dropout=0.0, num_heads=12, qkv_bias=False
    )
    # END SOLUTION


def wrapper_with_2d_output(d_in, context_length, dropout=0.0):
    """Exercise 3.2: a two-head ``MultiHeadAttentionWrapper`` with 2-D context vectors.

    Book §3.6.1, "Stacking multiple single-head attention layers",
    Exercise 3.2, "Returning two-dimensional embedding vectors".

    Keep ``num_heads=2`` and change only the arguments (not the class) so that
    the concatenated context vectors are two-dimensional.

    Args:
        d_in: size of each input embedding.
        context_length: the longest sequence the module supports.
        dropout: dropout probability for the attention weights.

    Returns:
        A ``MultiHeadAttentionWrapper``; it maps (b, num_tokens, d_in) -> (b, num_tokens, 2).
    """
    # BEGIN SOLUTION
    return MultiHeadAttentionWrapper(d_in, 1, context_length, dropout, num_heads=2)
    # END SOLUTION


class MultiHeadAttentionCombinedQKV(nn.Module):
    """Causal multi-head attention with one projection for queries, keys and values.

    Book §3.6.2, "Implementing multi-head attention with weight splits", and the
    chapter's bonus material on other multi-head attention implementations.

    The same computation as ``MultiHeadAttention``, with the three projections fused
    into one layer: ``qkv = nn.Linear(d_in, 3 * d_out, bias=qkv_bias)``, whose output
    rows hold the queries, then the keys, then the values (rows ``0:d_out``,
    ``d_out:2*d_out`` and ``2*d_out:3*d_out`` of ``qkv.weight``).

    Rules: raise an error (``ValueError``) when ``d_out`` is not divisible by
    ``num_heads``. Create, in this order, ``d_out``, ``num_heads``,
    ``head_dim = d_out // num_heads``; ``qkv`` as above; ``out_proj =
    nn.Linear(d_out, d_out)`` (always with a bias); ``dropout = nn.Dropout(dropout)``;
    and the ``mask`` buffer exactly as in ``CausalAttention``.
    Do not call ``torch.nn.functional.scaled_dot_product_attention`` or use
    ``nn.MultiheadAttention``: the point is to write the attention yourself.

    Args:
        d_in: size of each input embedding.
        d_out: total output size, split evenly across the heads.
        context_length: the longest sequence the module supports.
        dropout: dropout probability for the attention weights.
        num_heads: number of heads.
        qkv_bias: whether the fused projection has a bias term.

    Raises:
        ValueError: if d_out % num_heads != 0.
    """

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        # BEGIN SOLUTION
        if d_out % num_heads != 0:
            raise ValueError(f"d_out ({d_out}) must be divisible by num_heads ({num_heads})")

        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.qkv = nn.Linear(d_in, 3 * d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer(
            "mask", torch.triu(torch.ones(context_length, context_length), diagonal=1)
        )
        # END SOLUTION

    def forward(self, x):
        """Causal attention for all heads at once from one fused projection.

        Book §3.6.2, "Implementing multi-head attention with weight splits".

        Project once with ``qkv``, split its last dimension into (3, num_heads,
        head_dim), move that 3 and the heads forward with ``.permute``, and take
        queries, keys and values apart; attend per head as in ``MultiHeadAttention``
        (scale by sqrt(head_dim)), merge the heads and apply ``out_proj``.

        Args:
            x: token embeddings, shape (b, num_tokens, d_in).

        Returns:
            context_vec, shape (b, num_tokens, d_out).
        """
        # BEGIN SOLUTION
        b, num_tokens, d_in = x.shape
        qkv = self.qkv(x)  # (b, num_tokens, 3 * d_out)

        # (b, num_tokens, 3 * d_out) -> (b, num_tokens, 3, num_heads, head_dim)
        qkv = qkv.view(b, num_tokens, 3, self.num_heads, self.head_dim)
        # (b, num_tokens, 3, num_heads, head_dim) -> (3, b, num_heads, num_tokens, head_dim)
        qkv = qkv.permute(2, 0, 3, 1, 4)
        queries, keys, values = qkv.unbind(0)  # each (b, num_heads, num_tokens, head_dim)

        attn_scores = queries @ keys.transpose(2, 3)  # (b, num_heads, num_tokens, num_tokens)
        mask_bool = self.mask[:num_tokens, :num_tokens].bool()
        attn_scores = attn_scores.masked_fill(mask_bool, -torch.inf)
        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)
        attn_weights = self.dropout(attn_weights)

        # (b, num_heads, num_tokens, head_dim) -> (b, num_tokens, num_heads, head_dim)
        context_vec = (attn_weights @ values).transpose(1, 2)
        # Merge the heads: (b, num_tokens, num_heads, head_dim) -> (b, num_tokens, d_out)
        context_vec = context_vec.contiguous().view(b, num_tokens, self.d_out)
        return self.out_proj(context_vec)  # (b, num_tokens, d_out)
        # END SOLUTION
