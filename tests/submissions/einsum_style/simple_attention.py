"""Einsum style, section 3.3: attention without trainable weights, every product as einsum."""

import torch


def attention_scores_for_query(inputs, query):
    return torch.einsum("td,d->t", inputs, query)


def attention_scores(inputs):
    return torch.einsum("id,jd->ij", inputs, inputs)


def normalize_by_sum(scores, dim=-1):
    total = scores.sum(dim, keepdim=True)
    return scores / total


def softmax_naive(x, dim=-1):
    e = x.exp()
    return e / e.sum(dim, keepdim=True)


def softmax_stable(x, dim=-1):
    log_probs = x - torch.logsumexp(x, dim, keepdim=True)
    return log_probs.exp()


def context_vectors(attn_weights, inputs):
    return torch.einsum("qt,td->qd", attn_weights, inputs)
