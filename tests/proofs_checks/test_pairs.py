"""measure_paths: the one orchestration of a pair's paths (``lmc`` and ``check``)."""

from __future__ import annotations

import numpy as np
import pytest

from neuronid.numerics.alignment import permute_network
from neuronid.numerics.certificate import certified_barriers
from neuronid.numerics.paths import linear_path
from neuronid.numerics.structures import w_mlp
from neuronid.proofs_checks.pairs import measure_paths


def _near_pair():
    """Two W-MLPs of one structure, B a small perturbation of A: weight matching
    returns the identity."""
    A = w_mlp([5, 12, 9, 3], n_fixed=2, sigma_F=1.0, seed=0, structure_seed=1)
    B = w_mlp([5, 12, 9, 3], n_fixed=2, sigma_F=1.0, seed=0, structure_seed=1)
    rng = np.random.default_rng(4)
    for layer in B.layers:
        layer.weight = layer.weight + 1e-3 * rng.normal(size=layer.weight.shape)
    X = np.random.default_rng(0).normal(size=(60, 5))
    y = np.arange(60) % 3
    return A, B, X, y


@pytest.mark.parametrize("certify", [False, True])
def test_identity_alignment_reuses_the_unaligned_path_with_its_values(certify):
    A, B, X, y = _near_pair()
    out = measure_paths(A, B, X, y, loss="ce", align=("weight",), steps=5, certify=certify,
                        allow_structure_mismatch=True)
    entry = out["weight"]
    assert all(np.array_equal(p, np.arange(p.size)) for p in entry.alignment.perms)
    assert entry.path is out["unaligned"].path  # reused, not recomputed
    # ... and the reused values are what the permuted B's own path gives
    if certify:
        fresh = certified_barriers(A, entry.alignment.network, X, y, loss="ce", steps=5)
        assert fresh.bound == entry.certified.bound and fresh.measured == entry.certified.measured
        fresh = fresh.path
    else:
        fresh = linear_path(A, entry.alignment.network, X, y, loss="ce", steps=5, allow_structure_mismatch=True)
    assert np.array_equal(fresh.loss, entry.path.loss) and np.array_equal(fresh.error, entry.path.error)


def test_a_non_identity_alignment_measures_its_own_path():
    A, B, X, y = _near_pair()
    perm = np.roll(np.arange(12), 1)
    Bp = permute_network(B, [perm, np.arange(9)])  # carries its masks along: structures differ
    out = measure_paths(A, Bp, X, y, loss="ce", align=("weight",), steps=5, allow_structure_mismatch=True)
    assert out["weight"].path is not out["unaligned"].path
    assert not np.array_equal(out["weight"].alignment.perms[0], np.arange(12))
