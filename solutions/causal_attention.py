"""Book §3.5: hiding future words with causal attention.

The building blocks (mask, renormalisation, masked softmax, dropout) as free
functions, then the compact ``CausalAttention`` module that works on batches
of shape (b, num_tokens, d_in).
"""

import torch
import torch.nn.functional as F
from torch import nn


def causal_mask(context_length):
    """The causal mask: True where a query position must not see a key position.

    Book §3.5.1, "Applying a causal attention mask".

    Entry [i, j] is True when j > i (a future token), i.e. everything above the
    diagonal; the diagonal itself stays visible.

    Args:
        context_length: the number of tokens T.

    Returns:
        A bool tensor, shape (context_length, context_length).
    """
    # BEGIN SOLUTION
    return torch.triu(torch.ones(context_length, context_length, dtype=torch.bool), diagonal=1)
    # END SOLUTION


def mask_and_renormalize(attn_weights):
    """Zero the weights of future tokens, then renormalise every row to sum to 1.

    Book §3.5.1, "Applying a causal attention mask" (the first, two-step approach:
    mask after the softmax, then renormalise).

    Rules: must not modify ``attn_weights`` in place.

    Args:
        attn_weights: attention weights, shape (..., num_tokens, num_tokens).

    Returns:
        The masked, renormalised weights, same shape as ``attn_weights``.
    """
    # BEGIN SOLUTION
    num_tokens = attn_weights.shape[-1]
    mask = causal_mask(num_tokens).to(attn_weights.device)
    masked_simple = attn_weights.masked_fill(mask, 0.0)
    return masked_simple / masked_simple.sum(dim=-1, keepdim=True)
    # END SOLUTION


def masked_attention_weights(attn_scores, d_k):
    """Causal attention weights straight from the scores (the efficient approach).

    Book §3.5.1, "Applying a causal attention mask".

    Fill the scores above the diagonal with ``-inf``, divide by sqrt(d_k), then
    softmax over the last dimension: the future tokens get weight exactly 0.
    ``torch.softmax`` is allowed here.

    Rules: must not modify ``attn_scores`` in place (``masked_fill``, not
    ``masked_fill_``).
    Do not call ``torch.nn.functional.scaled_dot_product_attention`` or use
    ``nn.MultiheadAttention``: the point is to write the attention yourself.

    Args:
        attn_scores: unnormalised scores, shape (..., num_tokens, num_tokens).
        d_k: the key dimension used for scaling.

    Returns:
        attn_weights, same shape as ``attn_scores``; every row sums to 1.
    """
    # BEGIN SOLUTION
    num_tokens = attn_scores.shape[-1]
    mask = causal_mask(num_tokens).to(attn_scores.device)
    masked = attn_scores.masked_fill(mask, -torch.inf)
    return torch.softmax(masked / d_k**0.5, dim=-1)
    # END SOLUTION


def attention_dropout(attn_weights, p, training=True):
    """Dropout on attention weights.

    Book §3.5.2, "Masking additional attention weights with dropout".

    In training, zero each weight with probability ``p`` and scale the
    survivors by 1 / (1 - p), so the expected value is unchanged; when not
    training, return the weights unchanged. ``torch.nn.functional.dropout``
    (or ``nn.Dropout``) is allowed.

    Rules: must not modify ``attn_weights`` in place.

    Args:
        attn_weights: attention weights, any shape, e.g. (b, num_tokens, num_tokens).
        p: the probability of zeroing a weight, 0 <= p < 1.
        training: apply dropout (True) or act as the identity (False).

    Returns:
        A tensor of the same shape as ``attn_weights``.
    """
    # BEGIN SOLUTION
    return F.dropout(attn_weights, p=p, training=training)
    # END SOLUTION


class CausalAttention(nn.Module):
    """Single-head causal self-attention with dropout, for batched input.

    Book §3.5.3, "Implementing a compact causal attention class".

    Rules: create, in this order, ``d_out``; ``W_query``, ``W_key``,
    ``W_value`` (each ``nn.Linear(d_in, d_out, bias=qkv_bias)``);
    ``dropout = nn.Dropout(dropout)``; and the buffer ``mask`` with
    ``self.register_buffer("mask", torch.triu(torch.ones(context_length,
    context_length), diagonal=1))`` (float 0/1, persistent, so it follows
    ``.to(device)`` and is in the ``state_dict``).
    Do not call ``torch.nn.functional.scaled_dot_product_attention`` or use
    ``nn.MultiheadAttention``: the point is to write the attention yourself.

    Args:
        d_in: size of each input embedding.
        d_out: size of each output context vector.
        context_length: the longest sequence the module supports.
        dropout: dropout probability for the attention weights.
        qkv_bias: whether the three projections have a bias term.
    """

    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        # BEGIN SOLUTION
        self.d_out = d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer(
            "mask", torch.triu(torch.ones(context_length, context_length), diagonal=1)
        )
        # END SOLUTION

    def forward(self, x):
        """Causal scaled dot-product attention over a batch of sequences.

        Book §3.5.3, "Implementing a compact causal attention class".

        Mask with ``self.mask`` sliced to ``[:num_tokens, :num_tokens]`` so any
        num_tokens <= context_length works; softmax of attn_scores / sqrt(d_k)
        over the last dimension; dropout on the attention weights (after the
        softmax, before multiplying by the values). Use ``keys.transpose(1, 2)``,
        not ``keys.T``, on 3-D tensors.

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

        # keys.transpose(1, 2): (b, num_tokens, d_out) -> (b, d_out, num_tokens)
        attn_scores = queries @ keys.transpose(1, 2)  # (b, num_tokens, num_tokens)
        attn_scores.masked_fill_(self.mask[:num_tokens, :num_tokens].bool(), -torch.inf)
        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)
        attn_weights = self.dropout(attn_weights)

        context_vec = attn_weights @ values  # (b, num_tokens, d_out)
        return context_vec
        # END SOLUTION
