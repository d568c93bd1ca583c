"""Float64 intermediates, section 3.6: every head's attention and the output projection in
double precision."""

import torch
from torch import nn

from .causal_attention import project


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        assert d_out % num_heads == 0, "d_out must be divisible by num_heads"
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), 1))

    def forward(self, x):
        b, t, _ = x.shape
        x64 = x.double()
        q, k, v = (
            # (b, t, d_out) -> (b, t, heads, head_dim) -> (b, heads, t, head_dim)
            project(layer, x64).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
            for layer in (self.W_query, self.W_key, self.W_value)
        )
        scores = (q @ k.transpose(2, 3)).masked_fill(self.mask.bool()[:t, :t], -torch.inf)
        weights = self.dropout(torch.softmax(scores / self.head_dim**0.5, dim=-1))
        # (b, heads, t, head_dim) -> (b, t, heads, head_dim) -> (b, t, d_out)
        context = (weights @ v).transpose(1, 2).contiguous().view(b, t, self.d_out)
        return project(self.out_proj, context).to(x.dtype)


def gpt2_small_attention():
    return MultiHeadAttention(768, 768, 1024, 0.0, num_heads=12, qkv_bias=False)
