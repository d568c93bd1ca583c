"""Float64 intermediates, section 3.3: every sum and product in double precision, the result
returned in the caller's dtype."""


def attention_scores_for_query(inputs, query):
    return (inputs.double() @ query.double()).to(inputs.dtype)


def attention_scores(inputs):
    x = inputs.double()
    return (x @ x.T).to(inputs.dtype)


def normalize_by_sum(scores, dim=-1):
    s = scores.double()
    return (s / s.sum(dim=dim, keepdim=True)).to(scores.dtype)


def softmax_naive(x, dim=-1):
    e = x.double().exp()
    return (e / e.sum(dim=dim, keepdim=True)).to(x.dtype)


def softmax_stable(x, dim=-1):
    d = x.double()
    e = (d - d.max(dim=dim, keepdim=True).values).exp()
    return (e / e.sum(dim=dim, keepdim=True)).to(x.dtype)


def context_vectors(attn_weights, inputs):
    return (attn_weights.double() @ inputs.double()).to(inputs.dtype)
