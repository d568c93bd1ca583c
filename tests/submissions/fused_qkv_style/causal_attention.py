"""Fused projections, section 3.5: one matmul for queries, keys and values."""

import torch
from torch import nn

from .self_attention import fused_qkv


class CausalAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer(
            "mask", torch.triu(torch.ones(context_length, context_length, dtype=torch.bool), 1)
        )

    def forward(self, x):
        t = x.shape[1]
        q, k, v = fused_qkv(x, (self.W_query, self.W_key, self.W_value))
        scores = (q @ k.transpose(1, 2)).masked_fill(self.mask[:t, :t], -torch.inf)
        weights = self.dropout(torch.softmax(scores / k.shape[-1] ** 0.5, dim=-1))
        return weights @ v
