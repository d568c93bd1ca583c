# Learner stub, generated from solutions/__init__.py by `python -m grader.stubs`.
# Replace each `raise NotImplementedError(...)` with your implementation.
"""Chapter 3, "Coding Attention Mechanisms": one module per book section.

- ``simple_attention``: §3.3, self-attention without trainable weights
- ``self_attention``: §3.4, self-attention with trainable weights
- ``causal_attention``: §3.5, hiding future words with causal attention
- ``multihead_attention``: §3.6, multi-head attention
"""
