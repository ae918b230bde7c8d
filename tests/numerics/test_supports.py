"""Supports (D1), shape matrices, anisotropy and the T1 bound.

Tolerances: float64; orthonormality and reference comparisons at 1e-12 absolute
(entries of U^T diag(m) U are sums of at most d products of numbers <= 1, so rounding
is ~d * eps ~ 1e-14)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronid.numerics.structures import standard_mlp
from neuronid.numerics.supports import (
    anisotropy,
    compute_support,
    layer_supports,
    shape_eigenvalues,
    shape_matrices,
    t1_bound,
)
from neuronid.errors import InvalidDataError, InvalidOptionError


def _subspace(rng, n, d, r, noise=0.0):
    B = np.linalg.qr(rng.normal(size=(d, r)))[0]
    X = rng.normal(size=(n, r)) @ np.diag(np.linspace(2.0, 0.5, r)) @ B.T + rng.normal(size=d)
    return X + noise * rng.normal(size=(n, d)), B


def test_exact_span_recovers_subspace():
    rng = np.random.default_rng(0)
    X, B = _subspace(rng, 200, 10, 3)
    sup = compute_support(X, tau=1.0)
    assert sup.rank == 3 == sup.numerical_rank
    assert sup.explained_variance == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(sup.U.T @ sup.U, np.eye(3), atol=1e-12)
    # same span: projector equality
    assert np.allclose(sup.U @ sup.U.T, B @ B.T, atol=1e-10)
    assert 3 / 10 - 1e-12 <= sup.coherence <= 1.0
    assert np.allclose(sup.xbar, X.mean(axis=0))
    assert any("rank-deficient" in note for note in sup.notes)


@settings(deadline=None)
@given(seed=st.integers(0, 10_000), tau=st.floats(0.05, 0.999))
def test_tau_rank_is_minimal(seed, tau):
    rng = np.random.default_rng(seed)
    X, _ = _subspace(rng, 60, 8, 6, noise=0.01)
    sup = compute_support(X, tau=tau)
    var = sup.singular_values**2
    cum = np.cumsum(var) / var.sum()
    assert cum[sup.rank - 1] >= tau - 1e-12
    if sup.rank > 1:
        assert cum[sup.rank - 2] < tau
    assert sup.explained_variance == pytest.approx(cum[sup.rank - 1])


def test_rank_monotone_in_tau():
    X, _ = _subspace(np.random.default_rng(1), 100, 12, 8, noise=0.01)
    ranks = [compute_support(X, tau=t).rank for t in (0.3, 0.6, 0.9, 0.99, 1.0)]
    assert ranks == sorted(ranks)
    assert ranks[-1] == 12  # noise makes the exact span full


def test_coordinate_support_has_coherence_one():
    X = np.zeros((5, 4))
    X[:, 0] = np.arange(5.0)
    sup = compute_support(X, tau=1.0)
    assert sup.rank == 1 and sup.coherence == pytest.approx(1.0)


def test_zero_variance_support_is_rank_zero():
    X = np.tile(np.array([1.0, -2.0, 3.0]), (7, 1))
    sup = compute_support(X, tau=0.9)
    assert sup.rank == 0 and sup.U.shape == (3, 0) and sup.coherence == 0.0
    assert "zero-variance" in sup.notes[0]
    single = compute_support(np.array([[1.0, 2.0]]), tau=1.0)
    assert single.rank == 0


def test_layer_supports_follow_trace():
    net = standard_mlp([3, 5, 2], activation="tanh", seed=0)
    trace = net.forward(np.random.default_rng(0).normal(size=(40, 3)), record=True)
    sups = layer_supports(trace, tau=1.0)
    assert [s.dim for s in sups] == [3, 5]
    assert sups[0].rank == 3


@settings(deadline=None)
@given(seed=st.integers(0, 10_000), density=st.sampled_from([0.1, 0.5, 0.9, 1.0, 0.0]))
def test_shape_matrices_match_reference(seed, density):
    """All three code paths (dense GEMM, sparse mask, sparse complement) equal
    ``U^T diag(m_i) U`` computed directly."""
    rng = np.random.default_rng(seed)
    d, r, m = 20, 4, 7
    U = np.linalg.qr(rng.normal(size=(d, r)))[0]
    mask = (rng.random((m, d)) < density).astype(float)
    S = shape_matrices(mask, U)
    ref = np.stack([U.T @ np.diag(row) @ U for row in mask])
    assert np.allclose(S, ref, atol=1e-12)
    assert np.allclose(S, S.transpose(0, 2, 1))


def test_anisotropy_is_spectral_distance():
    rng = np.random.default_rng(3)
    U = np.linalg.qr(rng.normal(size=(30, 5)))[0]
    mask = (rng.random((6, 30)) < 0.7).astype(float)
    S = shape_matrices(mask, U)
    p = mask.mean()
    ref = [np.linalg.norm(Si - p * np.eye(5), 2) for Si in S]
    assert np.allclose(anisotropy(S, p), ref, atol=1e-12)
    assert np.allclose(anisotropy(S, p, eigenvalues=shape_eigenvalues(S)), ref, atol=1e-12)


def test_t1_bound_formula_and_limits():
    p, nu, r, delta = 0.3, 0.2, 5, 0.01
    L = math.log(2 * r / delta)
    expected = (2 / 3) * 0.7 * nu * L + math.sqrt(p * 0.7) * math.sqrt(2 * nu * L)
    assert t1_bound(p, nu, r, delta) == pytest.approx(expected, rel=1e-14)
    assert t1_bound(1.0, nu, r, delta) == 0.0 and t1_bound(0.0, nu, r, delta) == 0.0
    assert t1_bound(p, nu, 0, delta) == 0.0
    assert t1_bound(p, nu, r, 0.001) > t1_bound(p, nu, r, 0.1)
    ec = t1_bound(p, nu, r, delta, model="exact_count", dim=100)
    q, ex = 0.3, nu - 0.01
    assert ec == pytest.approx((2 / 3) * ex * L + math.sqrt(2 * q * ex * L), rel=1e-14)


@pytest.mark.parametrize(
    "call, exc, fragment",
    [
        (lambda: compute_support(np.zeros((0, 3))), InvalidDataError, "empty support"),
        (lambda: compute_support(np.zeros((3, 0))), InvalidDataError, "empty support"),
        (lambda: compute_support(np.array([[1.0, np.nan]])), InvalidDataError, "NaN"),
        (lambda: compute_support(np.ones(4)), InvalidDataError, "2-D"),
        (lambda: compute_support(np.array([["a"]])), InvalidDataError, "real numeric"),
        (lambda: compute_support(np.eye(3), tau=0.0), InvalidOptionError, "(0, 1]"),
        (lambda: compute_support(np.eye(3), tau=1.5), InvalidOptionError, "(0, 1]"),
        (lambda: compute_support(np.eye(3), tau=float("nan")), InvalidOptionError, "(0, 1]"),
        (lambda: compute_support(np.eye(3), tau="x"), InvalidOptionError, "tau (explained-variance threshold) must be a finite number in (0, 1]"),
        (lambda: compute_support(np.eye(3), rank_rtol=-1.0), InvalidOptionError, "rank_rtol"),
        (lambda: shape_matrices(np.ones((2, 3)), np.eye(4)[:, :2]), InvalidDataError, "mask has 3 columns"),
        (lambda: t1_bound(0.5, 0.1, 3, 0.1, model="poisson"), InvalidOptionError, "mask model"),
        (lambda: t1_bound(0.5, 0.1, 3, 0.0), InvalidOptionError, "delta"),
        (lambda: t1_bound(1.5, 0.1, 3, 0.1), InvalidOptionError, "p (fraction"),
        (lambda: t1_bound(0.5, 0.1, 3, 0.1, model="exact_count"), InvalidOptionError, "needs dim"),
    ],
)
def test_bad_inputs(call, exc, fragment):
    with pytest.raises(exc, match=None) as info:
        call()
    assert fragment in str(info.value)
