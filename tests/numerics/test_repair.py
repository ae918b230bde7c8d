"""REPAIR (THEORY N3, numerics.repair): identical pairs unchanged, repaired statistics
equal the interpolated targets (1e-9) with and without norm layers, the correction is
folded into affine parameters, and it lowers the barrier of a trained aligned pair."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuronid.errors import InvalidOptionError
from neuronid.numerics.alignment import align
from neuronid.numerics.datasets import make_dataset
from neuronid.numerics.network import Layer, Network, Norm
from neuronid.numerics.paths import interpolated_network, linear_path
from neuronid.numerics.repair import (
    interpolate_statistics,
    neuron_statistics,
    repair,
    repaired_network,
    repaired_path,
)
from neuronid.numerics.structures import standard_mlp, w_mlp
from neuronid.numerics.training import TrainConfig, train

#: statistics of the repaired network vs targets: float64 rounding of a few affine
#: maps over <= 400 samples is ~1e-14 relative; 1e-9 leaves room and still fails for
#: any real error (a missing layer-by-layer recomputation is off by O(1))
STAT_TOL = 1e-9

X = np.random.default_rng(0).normal(size=(300, 5))


def _with_norm(net: Network, kind: str, seed: int) -> Network:
    """The same network with a norm after every hidden layer (random gamma/beta/stats)."""
    rng = np.random.default_rng(seed)
    layers = []
    for layer in net.layers:
        norm = None
        if not layer.is_output:
            m = layer.shape[0]
            if kind == "layer":
                norm = Norm("layer", 1e-5, rng.uniform(0.5, 1.5, m), rng.normal(size=m) * 0.1)
            elif kind == "layer-noaffine":
                norm = Norm("layer", 1e-5, size=m)
            else:
                norm = Norm("batch", 1e-5, rng.uniform(0.5, 1.5, m), rng.normal(size=m) * 0.1,
                            rng.normal(size=m) * 0.1, rng.uniform(0.5, 2.0, m))
        layers.append(Layer(layer.weight, layer.bias, layer.mask, layer.fixed, layer.activation, norm=norm))
    return Network(layers)


def _pair(norm, structure="standard"):
    make = (lambda s: standard_mlp([5, 12, 9, 3], activation="gelu", seed=s)) if structure == "standard" else (
        lambda s: w_mlp([5, 12, 9, 3], activation="gelu", n_fixed=2, seed=s))
    A, B = make(0), make(1)
    if norm:
        A, B = _with_norm(A, norm, 0), _with_norm(B, norm, 1)
    return A, B


@pytest.mark.parametrize("norm", [None, "layer", "layer-noaffine", "batch"])
@pytest.mark.parametrize("t", [0.0, 0.3, 0.5, 1.0])
def test_repaired_statistics_match_targets(norm, t):
    A, B = _pair(norm)
    R = repaired_network(A, B, t, X)
    target = interpolate_statistics(neuron_statistics(A, X), neuron_statistics(B, X), t)
    for (mean, std), (mu, sigma) in zip(neuron_statistics(R, X), target):
        scale = max(float(np.max(np.abs(sigma))), 1e-300)
        assert np.max(np.abs(mean - mu)) <= STAT_TOL * scale
        assert np.max(np.abs(std - sigma)) <= STAT_TOL * scale
    # folded into affine parameters: same module structure, no extra layers
    P = interpolated_network(A, B, t)
    assert R.sizes == P.sizes and [n is None for n in R.norms] == [n is None for n in P.norms]
    if norm is not None:  # norm layers absorb the correction, weights stay
        for lr, lp in zip(R.layers, P.layers):
            assert np.array_equal(lr.weight, lp.weight) and np.array_equal(lr.bias, lp.bias)


@pytest.mark.parametrize("norm", [None, "layer", "batch"])
@pytest.mark.parametrize("structure", ["standard", "w-mlp"])
def test_identical_pair_unchanged(norm, structure):
    A, _ = _pair(norm, structure)
    for t in (0.0, 0.25, 0.5, 1.0):
        R = repaired_network(A, A, t, X)
        assert np.array_equal(R.forward(X), interpolated_network(A, A, t).forward(X))
        assert np.array_equal(R.forward(X), A.forward(X))
    path = repaired_path(A, A, X, np.arange(300) % 3, X_align=X, loss="ce", steps=5)
    assert np.all(path.loss == path.loss[0]) and path.B_lerp == 0.0


def test_endpoints_are_the_networks():
    A, B = _pair("layer")
    y = np.arange(300) % 3
    plain = linear_path(A, B, X, y, loss="ce")
    rep = repaired_path(A, B, X, y, X_align=X, loss="ce")
    assert rep.loss[0] == pytest.approx(plain.loss[0], rel=1e-12)
    assert rep.loss[-1] == pytest.approx(plain.loss[-1], rel=1e-12)


@given(t=st.floats(0.0, 1.0), seed=st.integers(0, 50))
def test_property_statistics(t, seed):
    A = standard_mlp([5, 7, 3], activation="tanh", seed=seed)
    B = standard_mlp([5, 7, 3], activation="tanh", seed=seed + 1)
    R = repaired_network(A, B, t, X)
    (mu, sigma), = interpolate_statistics(neuron_statistics(A, X), neuron_statistics(B, X), t)
    (mean, std), = neuron_statistics(R, X)
    assert np.allclose(mean, mu, rtol=0, atol=STAT_TOL * np.max(sigma))
    assert np.allclose(std, sigma, rtol=0, atol=STAT_TOL * np.max(sigma))


def test_constant_neuron_keeps_scale():
    """A neuron constant on the data (std 0) only moves its mean (no division by 0)."""
    A = standard_mlp([5, 4, 2], seed=0)
    W = A.layers[0].weight.copy()
    W[1] = 0.0
    A = Network([Layer(W, A.layers[0].bias, activation="relu"), A.layers[1]])
    B = standard_mlp([5, 4, 2], seed=1)
    R = repaired_network(A, B, 0.5, X)
    assert np.all(np.isfinite(R.forward(X)))


def test_bad_targets():
    A, B = _pair(None)
    with pytest.raises(InvalidOptionError, match="targets for 1 hidden layers"):
        repair(A, neuron_statistics(A, X)[:1], X)
    with pytest.raises(InvalidOptionError, match="t must be"):
        repaired_network(A, B, 1.5, X)


def test_repair_lowers_barrier_of_trained_aligned_pair():
    """Measured, not a timing: REPAIR lowers the aligned barrier of two trained MLPs."""
    data = make_dataset("subspace", 1024, k=8, ambient=32, n_classes=10)
    test = make_dataset("subspace", 512, k=8, ambient=32, n_classes=10, sample_seed=9)
    nets = [train(standard_mlp([32, 48, 48, 10], seed=s), data.X, data.y,
                  TrainConfig(loss="ce", epochs=8, seed=s), progress=False).network for s in (0, 1)]
    al = align(nets[0], nets[1], data.X, method="activation")
    plain = linear_path(nets[0], al.network, test.X, test.y, loss="ce")
    rep = repaired_path(nets[0], al.network, test.X, test.y, X_align=data.X, loss="ce")
    print(f"aligned B_lerp {plain.B_lerp:.4g} -> repaired {rep.B_lerp:.4g}")
    assert rep.B_lerp < plain.B_lerp


def test_sympy_folding_algebra():
    """N3's algebra, symbolically: the correction u' = r u + c folded into (W, b) or
    (gamma, beta) gives the same u', and u' has mean mu* and std sigma* when
    r = sigma*/s, c = mu* - r m (s > 0)."""
    import sympy as sp

    w1, w2, x1, x2, b, g, be, nhat, m, s, mu, sig = sp.symbols("w1 w2 x1 x2 b gamma beta nhat m s mu sigma",
                                                                real=True)
    s, sig = sp.symbols("s sigma", positive=True)
    r = sig / s
    c = mu - r * m
    z = w1 * x1 + w2 * x2 + b
    assert sp.simplify((r * w1 * x1 + r * w2 * x2 + (r * b + c)) - (r * z + c)) == 0  # no norm: fold into W, b
    u = g * nhat + be
    assert sp.simplify(((r * g) * nhat + (r * be + c)) - (r * u + c)) == 0  # norm: fold into gamma, beta
    # statistics of an affine map of u: mean r m + c = mu*, std |r| s = sigma*
    assert sp.simplify(r * m + c - mu) == 0
    assert sp.simplify(sp.Abs(r) * s - sig) == 0


def test_doctests():
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module("neuronid.numerics.repair"), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
