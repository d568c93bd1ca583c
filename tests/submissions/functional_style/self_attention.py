"""Functional style, section 3.4: torch.matmul, transpose(-2, -1) and F.softmax."""

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention_v1(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.W_query = nn.Parameter(torch.rand(d_in, d_out))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out))

    def forward(self, x):
        query = torch.matmul(x, self.W_query)
        key = torch.matmul(x, self.W_key)
        value = torch.matmul(x, self.W_value)
        d_k = key.size(-1)
        scores = torch.matmul(query, key.transpose(-2, -1)) * d_k**-0.5
        return torch.matmul(F.softmax(scores, dim=-1), value)


class SelfAttention_v2(nn.Module):
    def __init__(self, d_in, d_out, qkv_bias=False):
        super().__init__()
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)

    def forward(self, x):
        query, key, value = self.W_query(x), self.W_key(x), self.W_value(x)
        scores = torch.matmul(query, key.transpose(-2, -1)) * key.size(-1) ** -0.5
        return torch.matmul(F.softmax(scores, dim=-1), value)


def copy_v2_weights_into_v1(sa_v2, sa_v1):
    with torch.no_grad():
        for name in ("W_query", "W_key", "W_value"):
            getattr(sa_v1, name).copy_(getattr(sa_v2, name).weight.t())
