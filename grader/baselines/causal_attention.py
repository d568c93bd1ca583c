"""CausalAttention, computed by torch.nn.functional.scaled_dot_product_attention on its math
backend.

The math backend does what a learner's module does (matrix products, a masked softmax, the
product with the values) in PyTorch's own composite, whereas the fused CPU kernel changes
speed from one torch release to the next: the reference read 0.94x to 1.48x the fused kernel
between torch 2.13 and 2.14, but 0.97x to 1.00x the math backend (README, "Speed").
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn


def _math_backend():
    """A function that returns a context in which scaled_dot_product_attention takes its math
    backend (chosen once for this torch, not on every timed call)."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel  # torch >= 2.3
    except ImportError:
        if hasattr(torch.backends.cuda, "sdp_kernel"):  # torch 2.1, 2.2: its flags hold for the CPU
            return lambda: torch.backends.cuda.sdp_kernel(
                enable_flash=False, enable_math=True, enable_mem_efficient=False
            )
        return contextlib.nullcontext
    return lambda: sdpa_kernel(SDPBackend.MATH)


math_backend = _math_backend()


class CausalAttention(nn.Module):
    """The contract's layers (W_query, W_key, W_value); the attention itself is PyTorch's
    scaled_dot_product_attention with its causal flag, on the math backend.
    x (b, num_tokens, d_in) -> (b, num_tokens, d_out)."""

    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        for name in ("W_query", "W_key", "W_value"):
            setattr(self, name, nn.Linear(d_in, d_out, bias=qkv_bias))
        self.p = dropout

    def forward(self, x):
        queries, keys, values = self.W_query(x), self.W_key(x), self.W_value(x)
        p = self.p if self.training else 0.0
        with math_backend():
            return F.scaled_dot_product_attention(
                queries, keys, values, dropout_p=p, is_causal=True
            )
