"""Functional style, section 3.3: torch.* functions rather than operators."""

import torch


def attention_scores_for_query(inputs, query):
    return torch.matmul(inputs, query)


def attention_scores(inputs):
    return torch.mm(inputs, inputs.t())


def normalize_by_sum(scores, dim=-1):
    return torch.div(scores, torch.sum(scores, dim=dim, keepdim=True))


def softmax_naive(x, dim=-1):
    numerator = torch.exp(x)
    return torch.div(numerator, torch.sum(numerator, dim=dim, keepdim=True))


def softmax_stable(x, dim=-1):
    # The shift does not change the result, so it needs no gradient.
    shift = x.max(dim=dim, keepdim=True).values.detach()
    numerator = torch.exp(x - shift)
    return numerator / torch.sum(numerator, dim=dim, keepdim=True)


def context_vectors(attn_weights, inputs):
    return torch.matmul(attn_weights, inputs)
