"""Functional style, section 3.5: torch.where masks, F.dropout, hand-written dropout."""

import torch
import torch.nn.functional as F
from torch import nn


def causal_mask(context_length):
    ones = torch.ones(context_length, context_length, dtype=torch.bool)
    return torch.triu(ones, diagonal=1)


def mask_and_renormalize(attn_weights):
    hidden = causal_mask(attn_weights.size(-1)).to(attn_weights.device)
    kept = torch.where(hidden, torch.zeros_like(attn_weights), attn_weights)
    return kept / torch.sum(kept, dim=-1, keepdim=True)


def masked_attention_weights(attn_scores, d_k):
    scaled = attn_scores * d_k**-0.5
    hidden = causal_mask(attn_scores.size(-1)).to(attn_scores.device)
    scaled = torch.where(hidden, float("-inf"), scaled)
    return F.softmax(scaled, dim=-1)


def attention_dropout(attn_weights, p, training=True):
    if not training:
        return attn_weights
    keep = torch.rand_like(attn_weights) >= p
    return torch.where(keep, attn_weights / (1 - p), torch.zeros_like(attn_weights))


class CausalAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        self.d_out = d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout_p = float(dropout)
        self.register_buffer("mask", causal_mask(context_length), persistent=False)

    def forward(self, x):
        num_tokens = x.size(1)
        query = self.W_query(x)
        key = self.W_key(x)
        value = self.W_value(x)
        scores = torch.matmul(query, key.transpose(-2, -1)) * key.size(-1) ** -0.5
        scores = torch.where(self.mask[:num_tokens, :num_tokens], float("-inf"), scores)
        weights = F.softmax(scores, dim=-1)
        weights = F.dropout(weights, self.dropout_p, self.training)
        return torch.matmul(weights, value)
