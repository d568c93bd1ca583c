"""CausalAttention, computed by torch.nn.functional.scaled_dot_product_attention."""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn


class CausalAttention(nn.Module):
    """The contract's layers (W_query, W_key, W_value); the attention itself is PyTorch's fused
    kernel with its causal flag. x (b, num_tokens, d_in) -> (b, num_tokens, d_out)."""

    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        for name in ("W_query", "W_key", "W_value"):
            setattr(self, name, nn.Linear(d_in, d_out, bias=qkv_bias))
        self.p = dropout

    def forward(self, x):
        queries, keys, values = self.W_query(x), self.W_key(x), self.W_value(x)
        p = self.p if self.training else 0.0
        return F.scaled_dot_product_attention(queries, keys, values, dropout_p=p, is_causal=True)
