"""Book §3.3: a simple self-attention mechanism without trainable weights.

Every function works on plain tensors; there are no parameters yet. The
running example is the book's six three-dimensional token embeddings for
"Your journey starts with one step", shape (num_tokens, d_in) = (6, 3).
"""

import torch


def attention_scores_for_query(inputs, query):
    """Attention scores of one query against every input token.

    Book §3.3.1, "A simple self-attention mechanism without trainable weights".

    The score of token i is the dot product ``inputs[i] · query``.

    Args:
        inputs: token embeddings, shape (num_tokens, d_in).
        query: the query vector, shape (d_in,).

    Returns:
        attn_scores, shape (num_tokens,).
    """
    # BEGIN SOLUTION
    return inputs @ query  # (num_tokens, d_in) @ (d_in,) -> (num_tokens,)
    # END SOLUTION


def attention_scores(inputs):
    """Attention scores of every token against every other token.

    Book §3.3.2, "Computing attention weights for all input tokens".

    Entry [i, j] is the dot product ``inputs[i] · inputs[j]``. Use one matrix
    product, not Python loops.

    Args:
        inputs: token embeddings, shape (num_tokens, d_in).

    Returns:
        attn_scores, shape (num_tokens, num_tokens).
    """
    # BEGIN SOLUTION
    return inputs @ inputs.T
    # END SOLUTION


def normalize_by_sum(scores, dim=-1):
    """Normalize scores so they sum to 1 along ``dim`` (the book's first, naive attempt).

    Book §3.3.1, "A simple self-attention mechanism without trainable weights".

    Divide by the sum along ``dim``, keeping that dimension (``keepdim=True``) so
    the division broadcasts for inputs of any rank.

    Args:
        scores: a tensor of any shape, e.g. (num_tokens,) or (num_tokens, num_tokens).
        dim: the dimension to normalize over.

    Returns:
        A tensor of the same shape as ``scores`` whose slices along ``dim`` sum to 1.
    """
    # BEGIN SOLUTION
    return scores / scores.sum(dim=dim, keepdim=True)
    # END SOLUTION


def softmax_naive(x, dim=-1):
    """The textbook softmax ``exp(x) / sum(exp(x))`` along ``dim``.

    Book §3.3.1, "A simple self-attention mechanism without trainable weights".

    Deliberately not stabilised: it overflows for large inputs (try 1e4), which
    is what ``softmax_stable`` fixes.

    Rules: do not call ``torch.softmax``, ``torch.nn.functional.softmax``,
    ``Tensor.softmax``, ``nn.Softmax`` or any ``log_softmax``.

    Args:
        x: a tensor of any shape.
        dim: the dimension to normalize over.

    Returns:
        A tensor of the same shape as ``x``; slices along ``dim`` sum to 1.
    """
    # BEGIN SOLUTION
    exp_x = torch.exp(x)
    return exp_x / exp_x.sum(dim=dim, keepdim=True)
    # END SOLUTION


def softmax_stable(x, dim=-1):
    """A numerically stable softmax along ``dim``.

    Book §3.3.1, "A simple self-attention mechanism without trainable weights"
    (the book switches to ``torch.softmax`` here; you write it yourself).

    Subtract the maximum along ``dim`` (``keepdim=True``) before ``exp``: the
    result is mathematically unchanged, but ``exp`` never overflows. It must
    give finite, correct results for inputs of magnitude 1e4 and for rows that
    hold some ``-inf`` entries (those get weight 0; a row is never all ``-inf``).

    Rules: do not call ``torch.softmax``, ``torch.nn.functional.softmax``,
    ``Tensor.softmax``, ``nn.Softmax`` or any ``log_softmax``.

    Args:
        x: a tensor of any shape.
        dim: the dimension to normalize over.

    Returns:
        A tensor of the same shape as ``x``; slices along ``dim`` sum to 1.
    """
    # BEGIN SOLUTION
    shifted = x - x.amax(dim=dim, keepdim=True)
    exp_x = torch.exp(shifted)
    return exp_x / exp_x.sum(dim=dim, keepdim=True)
    # END SOLUTION


def context_vectors(attn_weights, inputs):
    """Context vectors: each is the attention-weighted sum of the input tokens.

    Book §3.3.2, "Computing attention weights for all input tokens".

    Row i is ``sum_j attn_weights[i, j] * inputs[j]``, computed as one matrix
    product.

    Args:
        attn_weights: attention weights, shape (num_queries, num_tokens).
        inputs: token embeddings, shape (num_tokens, d_in).

    Returns:
        context_vec, shape (num_queries, d_in).
    """
    # BEGIN SOLUTION
    return attn_weights @ inputs
    # END SOLUTION
