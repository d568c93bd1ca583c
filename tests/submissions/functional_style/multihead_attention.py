"""Functional style, section 3.6: unflatten/flatten for the heads, absolute imports."""

import torch
import torch.nn.functional as F
from torch import nn

from exercises.causal_attention import CausalAttention, causal_mask


class MultiHeadAttentionWrapper(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        heads = [
            CausalAttention(d_in, d_out, context_length, dropout, qkv_bias=qkv_bias)
            for _ in range(num_heads)
        ]
        self.heads = nn.ModuleList(heads)

    def forward(self, x):
        return torch.cat(tuple(head(x) for head in self.heads), dim=-1)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        if d_out % num_heads != 0:
            raise ValueError(f"cannot split d_out={d_out} into {num_heads} heads")
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout_p = float(dropout)
        self.register_buffer("mask", causal_mask(context_length), persistent=False)

    def _split(self, t):
        # (b, T, d_out) -> (b, T, heads, head_dim) -> (b, heads, T, head_dim)
        return t.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)

    def forward(self, x):
        num_tokens = x.size(1)
        query = self._split(self.W_query(x))
        key = self._split(self.W_key(x))
        value = self._split(self.W_value(x))
        scores = torch.matmul(query, key.transpose(-2, -1)) * self.head_dim**-0.5
        scores = torch.where(self.mask[:num_tokens, :num_tokens], float("-inf"), scores)
        weights = F.dropout(F.softmax(scores, dim=-1), self.dropout_p, self.training)
        context = torch.matmul(weights, value).transpose(1, 2).flatten(2)
        return self.out_proj(context)


def gpt2_small_attention():
    return MultiHeadAttention(d_in=768, d_out=768, context_length=1024, dropout=0.0, num_heads=12)


def wrapper_with_2d_output(d_in, context_length, dropout=0.0):
    return MultiHeadAttentionWrapper(
        d_in, d_out=1, context_length=context_length, dropout=dropout, num_heads=2
    )
