"""Einsum style, section 3.4: queries are scaled before the product, projections by einsum."""

import math

import torch
import torch.nn as nn


def _project(layer, x):
    """x @ layer.weight.T (+ bias), written as an einsum over the last dim."""
    out = torch.einsum("...i,oi->...o", x, layer.weight)
    if layer.bias is not None:
        out = out + layer.bias
    return out


class SelfAttention_v1(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.W_query = nn.Parameter(torch.rand(d_in, d_out))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out))

    def forward(self, x):
        q = torch.einsum("ti,io->to", x, self.W_query)
        k = torch.einsum("ti,io->to", x, self.W_key)
        v = torch.einsum("ti,io->to", x, self.W_value)
        q = q / math.sqrt(k.shape[-1])
        scores = torch.einsum("qd,kd->qk", q, k)
        weights = torch.softmax(scores, dim=-1)
        return torch.einsum("qk,kd->qd", weights, v)


class SelfAttention_v2(nn.Module):
    def __init__(self, d_in, d_out, qkv_bias=False):
        super().__init__()
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)

    def forward(self, x):
        q = _project(self.W_query, x)
        k = _project(self.W_key, x)
        v = _project(self.W_value, x)
        q = q / math.sqrt(k.shape[-1])
        scores = torch.einsum("qd,kd->qk", q, k)
        weights = scores.softmax(dim=-1)
        return torch.einsum("qk,kd->qd", weights, v)


def copy_v2_weights_into_v1(sa_v2, sa_v1):
    # As in the book's solution: fresh Parameters holding the transposed Linear weights.
    sa_v1.W_query = nn.Parameter(sa_v2.W_query.weight.T.clone())
    sa_v1.W_key = nn.Parameter(sa_v2.W_key.weight.T.clone())
    sa_v1.W_value = nn.Parameter(sa_v2.W_value.weight.T.clone())
