"""Book style, section 3.3: the chapter's own idioms, with names of my own."""

import torch


def attention_scores_for_query(inputs, query):
    scores = torch.empty(inputs.shape[0])
    for i, token in enumerate(inputs):
        scores[i] = torch.dot(token, query)
    return scores


def attention_scores(inputs):
    return inputs @ inputs.T


def normalize_by_sum(scores, dim=-1):
    return scores / scores.sum(dim=dim, keepdim=True)


def softmax_naive(x, dim=-1):
    return torch.exp(x) / torch.exp(x).sum(dim=dim, keepdim=True)


def softmax_stable(x, dim=-1):
    biggest = torch.max(x, dim=dim, keepdim=True).values
    exps = torch.exp(x - biggest)
    return exps / exps.sum(dim=dim, keepdim=True)


def context_vectors(attn_weights, inputs):
    return attn_weights @ inputs
