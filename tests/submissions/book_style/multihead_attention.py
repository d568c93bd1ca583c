"""Book style, section 3.6: view/transpose, .contiguous().view, an assert on the head split."""

import torch
import torch.nn as nn

from .causal_attention import CausalAttention


class MultiHeadAttentionWrapper(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.heads = nn.ModuleList(
            [
                CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)
                for _ in range(num_heads)
            ]
        )

    def forward(self, x):
        return torch.cat([head(x) for head in self.heads], dim=-1)


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
        self.register_buffer(
            "mask", torch.triu(torch.ones(context_length, context_length), diagonal=1)
        )

    def forward(self, x):
        b, n_tok, d_in = x.shape
        k = self.W_key(x)
        q = self.W_query(x)
        v = self.W_value(x)

        k = k.view(b, n_tok, self.num_heads, self.head_dim).transpose(1, 2)
        q = q.view(b, n_tok, self.num_heads, self.head_dim).transpose(1, 2)
        v = v.view(b, n_tok, self.num_heads, self.head_dim).transpose(1, 2)

        scores = q @ k.transpose(2, 3)
        hide = self.mask.bool()[:n_tok, :n_tok]
        scores.masked_fill_(hide, -torch.inf)
        weights = torch.softmax(scores / k.shape[-1] ** 0.5, dim=-1)
        weights = self.dropout(weights)

        ctx = (weights @ v).transpose(1, 2)
        ctx = ctx.contiguous().view(b, n_tok, self.d_out)
        return self.out_proj(ctx)


def gpt2_small_attention():
    context_length = 1024
    d_in, d_out = 768, 768
    num_heads = 12
    return MultiHeadAttention(d_in, d_out, context_length, 0.0, num_heads)


def wrapper_with_2d_output(d_in, context_length, dropout=0.0):
    d_out = 1
    return MultiHeadAttentionWrapper(d_in, d_out, context_length, dropout, num_heads=2)
