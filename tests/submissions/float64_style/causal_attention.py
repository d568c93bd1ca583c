"""Float64 intermediates, section 3.5: scores, mask and softmax in double precision."""

import torch
from torch import nn


def masked_attention_weights(attn_scores, d_k):
    t = attn_scores.shape[-1]
    hidden = torch.ones(t, t, dtype=torch.bool, device=attn_scores.device).triu(1)
    scores = attn_scores.double().masked_fill(hidden, float("-inf"))
    return torch.softmax(scores / d_k**0.5, dim=-1).to(attn_scores.dtype)


def project(layer, x64):
    """An nn.Linear applied in float64."""
    bias = None if layer.bias is None else layer.bias.double()
    return nn.functional.linear(x64, layer.weight.double(), bias)


class CausalAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), 1))

    def forward(self, x):
        t = x.shape[1]
        x64 = x.double()
        q, k, v = (project(layer, x64) for layer in (self.W_query, self.W_key, self.W_value))
        scores = (q @ k.transpose(1, 2)).masked_fill(self.mask.bool()[:t, :t], -torch.inf)
        weights = self.dropout(torch.softmax(scores / k.shape[-1] ** 0.5, dim=-1))
        return (weights @ v).to(x.dtype)
