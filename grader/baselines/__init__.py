"""What a learner's copy times its speed checks against, in place of the reference solutions.

Each module has the exercise module's name and the contract's names (`attention_scores`,
`CausalAttention`, `MultiHeadAttention`, with the contract's layer names, so the very weights
that the learner's module gets load here too), and computes the same values with PyTorch's
own kernels: `torch.nn.functional.linear` for the scores, `scaled_dot_product_attention` on
its math backend for causal attention, `multi_head_attention_forward` for multi-head
attention. The exercises forbid these (the point there is to write attention yourself); here
they are the yardstick.

The judge runs this folder in a worker of its own, as it runs the reference in an
instructor's copy (grader/judge/engine.py); the speed checks' `baseline_share` says how the
reference compares with these on the CPU, so that a learner's copy can tell whether the
instructor's speed check would pass (grader/checks/speed.py).
"""
