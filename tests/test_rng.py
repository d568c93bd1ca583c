"""Check inputs are bit-stable: the committed fixtures depend on it."""

import torch

from grader.rng import Rng, digest, stable_seed


def test_same_seed_same_bits_and_a_pinned_stream():
    a, b = Rng(42).uniform(3, 4), Rng(42).uniform(3, 4)
    assert torch.equal(a, b)
    # Pinned: if this changes, numpy's PCG64 stream changed and every fixture is stale.
    assert digest({"a": a}) == digest({"a": Rng(42).uniform(3, 4)})
    assert Rng(42).uniform(2).tolist() == [0.5479121208190918, -0.12224312126636505]


def test_uniform_bounds_orthogonal_and_permutation():
    x = Rng(0).uniform(1000, low=-2.0, high=3.0)
    assert x.min() >= -2.0 and x.max() < 3.0 and x.dtype == torch.float32
    q = Rng(0).orthogonal(16)
    assert torch.allclose(q @ q.T, torch.eye(16), atol=1e-6)
    assert (q.abs() - 0.25).abs().max() < 1e-7  # dense: every entry is +-1/sqrt(16)
    assert sorted(Rng(0).permutation(10).tolist()) == list(range(10))


def test_stable_seed_is_a_fixed_function_of_the_names():
    assert stable_seed("softmax_stable", "large") == 3812755945  # pinned (zlib.crc32)
    assert stable_seed("a", "b") != stable_seed("a", "c")
