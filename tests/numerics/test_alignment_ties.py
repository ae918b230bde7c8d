"""Activation matching recovers planted permutations even with dead (constant) ReLUs and
neurons that correlation cannot tell apart (issue 11: 0/10 at widths 128 and 512 before
ties were broken by weight similarity)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from neuronid.numerics.alignment import _activation_matching, activation_matching, permute_network
from neuronid.numerics.structures import standard_mlp
from neuronid.numerics.training import TrainConfig, train


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 10))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 0)
    return X, y


@functools.lru_cache(maxsize=None)
def _network(width: int, trained: bool):
    X, y = _data()
    net = standard_mlp([10, width, width, 3], seed=0)
    if not trained:
        return net
    config = TrainConfig(loss="ce", lr=1e-2, epochs=5, batch_size=64, weight_decay=1e-2)
    return train(net, X, y, config, progress=False).network


@pytest.mark.parametrize("trained", [False, True], ids=["untrained", "trained"])
@pytest.mark.parametrize("width", [32, 128, 512])
def test_planted_permutations_are_recovered_10_of_10(width, trained):
    X, _ = _data()
    A = _network(width, trained)
    dead = [int(np.sum(np.ptp(h, axis=0) == 0)) for h in A.forward(X, record=True).inputs[1:]]
    if trained and width == 512:
        assert dead[-1] > 100  # the case that failed: many dead ReLUs
    recovered = 0
    for s in range(10):
        perms = [np.random.default_rng([s, l]).permutation(width) for l in range(2)]
        B = permute_network(A, perms)
        got = activation_matching(A, B, X)
        recovered += all(np.array_equal(g, np.argsort(p)) for g, p in zip(got, perms))
    assert recovered == 10, (width, trained, dead)


@pytest.mark.parametrize("similarity", ["correlation", "abs_correlation"])
def test_tie_breaking_keeps_the_correlation_optimum(similarity):
    X, _ = _data()
    A = _network(128, True)
    B = _network(128, False)
    perms, matrices = _activation_matching(A, B, X, similarity)
    for p, S in zip(perms, matrices):
        r, c = linear_sum_assignment(S, maximize=True)
        assert S[np.arange(p.size), p].sum() == pytest.approx(S[r, c].sum(), rel=0, abs=1e-9)
        assert np.array_equal(np.sort(p), np.arange(p.size))
