"""The fused baseline for `attention-grade bench`: PyTorch's own multi-head attention.

It keeps the contract's layer names (W_query, W_key, W_value, out_proj), so the very weights
that the learner's module gets load here too, and hands them to
`torch.nn.functional.multi_head_attention_forward`, which, without attention weights to
return, runs `scaled_dot_product_attention` with the causal flag. The exercises forbid these
functions (the point there is to write attention yourself); here they are the yardstick.
Only d_in == d_out, as at the GPT-2 size that bench uses.
"""

from __future__ import annotations

import torch
from torch import nn


class FusedMultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        if d_in != d_out:
            raise ValueError("the fused baseline needs d_in == d_out")
        self.num_heads, self.p = num_heads, dropout
        for name in ("W_query", "W_key", "W_value"):
            setattr(self, name, nn.Linear(d_in, d_out, bias=qkv_bias))
        self.out_proj = nn.Linear(d_out, d_out)

    def forward(self, x):
        num_tokens = x.shape[1]
        tokens_first = x.transpose(0, 1)  # the functional API wants (num_tokens, b, d)
        layers = (self.W_query, self.W_key, self.W_value)
        biases = None if self.W_query.bias is None else torch.cat([m.bias for m in layers])
        future = torch.ones(num_tokens, num_tokens, dtype=torch.bool, device=x.device).triu(1)
        out, _ = torch.nn.functional.multi_head_attention_forward(
            tokens_first,
            tokens_first,
            tokens_first,
            x.shape[-1],
            self.num_heads,
            in_proj_weight=None,
            in_proj_bias=biases,
            bias_k=None,
            bias_v=None,
            add_zero_attn=False,
            dropout_p=self.p,
            out_proj_weight=self.out_proj.weight,
            out_proj_bias=self.out_proj.bias,
            training=self.training,
            need_weights=False,
            attn_mask=future,
            is_causal=True,
            use_separate_proj_weight=True,
            q_proj_weight=self.W_query.weight,
            k_proj_weight=self.W_key.weight,
            v_proj_weight=self.W_value.weight,
        )
        return out.transpose(0, 1)
