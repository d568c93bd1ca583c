"""Einsum style, section 3.6: reshape/permute for the heads, einsum for every product."""

import math

import torch
import torch.nn as nn

from .causal_attention import CausalAttention


class MultiHeadAttentionWrapper(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.heads = nn.ModuleList(
            CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)
            for _ in range(num_heads)
        )

    def forward(self, x):
        return torch.cat([head(x) for head in self.heads], dim=2)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        if d_out % num_heads:
            raise ValueError("d_out must be a multiple of num_heads")
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        pos = torch.arange(context_length)
        self.register_buffer("mask", pos.reshape(1, -1) > pos.reshape(-1, 1))

    def _heads(self, layer, x):
        b, t, _ = x.shape
        y = torch.einsum("bti,oi->bto", x, layer.weight)
        if layer.bias is not None:
            y = y + layer.bias
        return y.reshape(b, t, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x):
        b, t, _ = x.shape
        q = self._heads(self.W_query, x) / math.sqrt(self.head_dim)
        k = self._heads(self.W_key, x)
        v = self._heads(self.W_value, x)
        scores = torch.einsum("bhqd,bhkd->bhqk", q, k)
        scores = scores.masked_fill(self.mask[:t, :t], float("-inf"))
        weights = self.dropout(torch.softmax(scores, dim=-1))
        ctx = torch.einsum("bhqk,bhkd->bhqd", weights, v)
        ctx = ctx.permute(0, 2, 1, 3).reshape(b, t, self.d_out)
        merged = torch.einsum("bti,oi->bto", ctx, self.out_proj.weight) + self.out_proj.bias
        return merged


def gpt2_small_attention():
    return MultiHeadAttention(768, 768, 1024, 0.0, num_heads=12)


def wrapper_with_2d_output(d_in, context_length, dropout=0.0):
    return MultiHeadAttentionWrapper(d_in, 1, context_length, dropout, num_heads=2)
