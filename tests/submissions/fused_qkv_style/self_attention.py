"""Fused projections, section 3.4: queries, keys and values from one matmul against the three
weight matrices stacked, split afterwards."""

import torch
import torch.nn.functional as F
from torch import nn


def fused_qkv(x, layers):
    """x @ [W_q; W_k; W_v]^T (+ biases) in one F.linear call, split into three tensors."""
    weight = torch.cat([layer.weight for layer in layers], dim=0)  # (3 * d_out, d_in)
    biases = [layer.bias for layer in layers]
    bias = None if biases[0] is None else torch.cat(biases)
    return F.linear(x, weight, bias).chunk(len(layers), dim=-1)


class SelfAttention_v2(nn.Module):
    def __init__(self, d_in, d_out, qkv_bias=False):
        super().__init__()
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)

    def forward(self, x):
        q, k, v = fused_qkv(x, (self.W_query, self.W_key, self.W_value))
        weights = torch.softmax(q @ k.transpose(-2, -1) / k.shape[-1] ** 0.5, dim=-1)
        return weights @ v
