"""Einsum style, section 3.5: arange masks, a mask built on the fly, einsum products."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def causal_mask(context_length):
    idx = torch.arange(context_length)
    return idx.reshape(1, -1) > idx.reshape(-1, 1)


def mask_and_renormalize(attn_weights):
    n = attn_weights.shape[-1]
    rows = torch.arange(n, device=attn_weights.device)
    visible = rows.reshape(1, -1) <= rows.reshape(-1, 1)
    kept = attn_weights * visible
    return kept / kept.sum(-1, keepdim=True)


def masked_attention_weights(attn_scores, d_k):
    n = attn_scores.shape[-1]
    hidden = causal_mask(n).to(attn_scores.device)
    scores = attn_scores.masked_fill(hidden, float("-inf"))
    return torch.softmax(scores / math.sqrt(d_k), dim=-1)


def attention_dropout(attn_weights, p, training=True):
    return F.dropout(attn_weights, p, training)


def _project(layer, x):
    out = torch.einsum("bti,oi->bto", x, layer.weight)
    if layer.bias is not None:
        out = out + layer.bias
    return out


class CausalAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        self.d_out = d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        self.context_length = context_length  # no buffer: the mask is built in forward

    def forward(self, x):
        b, t, _ = x.shape
        q = _project(self.W_query, x)
        k = _project(self.W_key, x)
        v = _project(self.W_value, x)
        q = q / math.sqrt(self.d_out)
        scores = torch.einsum("bqd,bkd->bqk", q, k)
        pos = torch.arange(t, device=x.device)
        future = pos.reshape(1, t) > pos.reshape(t, 1)
        scores = scores.masked_fill(future, float("-inf"))
        weights = self.dropout(scores.softmax(dim=-1))
        return torch.einsum("bqk,bkd->bqd", weights, v)
