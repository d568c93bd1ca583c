"""Float64 intermediates, section 3.4: the projections and the softmax in double precision."""

import torch
from torch import nn


def attend(q, k, v):
    """softmax(q k^T / sqrt(d_k)) v in float64."""
    scores = q.double() @ k.double().transpose(-2, -1)
    weights = torch.softmax(scores / k.shape[-1] ** 0.5, dim=-1)
    return weights @ v.double()


class SelfAttention_v1(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.W_query = nn.Parameter(torch.rand(d_in, d_out))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out))

    def forward(self, x):
        x64 = x.double()
        q, k, v = (x64 @ w.double() for w in (self.W_query, self.W_key, self.W_value))
        return attend(q, k, v).to(x.dtype)


class SelfAttention_v2(nn.Module):
    def __init__(self, d_in, d_out, qkv_bias=False):
        super().__init__()
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)

    def forward(self, x):
        x64 = x.double()
        q, k, v = (
            nn.functional.linear(
                x64, layer.weight.double(), None if layer.bias is None else layer.bias.double()
            )
            for layer in (self.W_query, self.W_key, self.W_value)
        )
        return attend(q, k, v).to(x.dtype)
