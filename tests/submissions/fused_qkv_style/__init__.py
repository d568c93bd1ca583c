"""Fused projections: one matmul computes queries, keys and values (the weights concatenated)."""
