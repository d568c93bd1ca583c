"""Book style, section 3.5: tril/triu masks, masked_fill_ on the local scores, nn.Dropout."""

import torch
import torch.nn as nn


def causal_mask(context_length):
    return torch.triu(torch.ones(context_length, context_length), diagonal=1).bool()


def mask_and_renormalize(attn_weights):
    n = attn_weights.shape[-1]
    lower = torch.tril(torch.ones(n, n))
    kept = attn_weights * lower
    row_sums = kept.sum(dim=-1, keepdim=True)
    return kept / row_sums


def masked_attention_weights(attn_scores, d_k):
    n = attn_scores.shape[-1]
    upper = torch.triu(torch.ones(n, n), diagonal=1)
    scores = attn_scores.masked_fill(upper.bool(), -torch.inf)
    return torch.softmax(scores / d_k**0.5, dim=-1)


def attention_dropout(attn_weights, p, training=True):
    drop = torch.nn.Dropout(p)
    drop.train(training)
    return drop(attn_weights)


class CausalAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        self.d_out = d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer(
            "mask", torch.triu(torch.ones(context_length, context_length), diagonal=1)
        )

    def forward(self, x):
        b, n_tok, d_in = x.shape
        k = self.W_key(x)
        q = self.W_query(x)
        v = self.W_value(x)

        scores = q @ k.transpose(1, 2)
        scores.masked_fill_(self.mask.bool()[:n_tok, :n_tok], -torch.inf)
        weights = torch.softmax(scores / k.shape[-1] ** 0.5, dim=-1)
        weights = self.dropout(weights)
        return weights @ v
