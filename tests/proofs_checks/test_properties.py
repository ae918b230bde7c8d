"""Property suite over generated networks (THEORY.md T4, T2, P5, P6).

- T4: the certificate is never exceeded on a 201-point grid (outputs and losses).
- T2: identified pairs of type ``nullspace`` (identity correspondence) have zero
  barrier and a zero certificate; also for GELU/SiLU, see below.
- P5 / T2 without H2: an explicit GELU pair with equal neuron function and a
  different midpoint function (positive barrier).
- P6: a rescaled ReLU neuron's contribution along the path is multiplied by
  ``phi(t) = 1 + t(1-t)(alpha + 1/alpha - 2)``; the norm cost is minimal at the
  balanced point.
- T2 without H3: permutation pairs have a positive unaligned barrier and zero barrier
  after activation matching.

Why type-``nullspace`` pairs keep a zero barrier even for non-monotone GELU/SiLU
(T2's H2 dropped): the move changes weights only along the null space of the
layer's support, so every pre-activation on the data is unchanged at *every* point
of the path (``z_t = lerp(z_A, z_B) = z_A``), and every neuron's output is too,
whatever ``sigma``. H2 matters for pairs whose pre-activations differ while the
outputs agree, e.g. two GELU pre-activations ``z1 != z2`` with
``gelu(z1) == gelu(z2)``: then ``z_t`` moves between them and ``gelu(z_t)`` leaves
the common value (the P5 counterexample below).

Counts for a report: ``python benchmarks/bench_certificate.py --pairs N`` runs the T4
check on N random pairs (numpy-generated, independent of these strategies).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.stats import norm

from _reference import reference_path_outputs
from neuronid.numerics.alignment import align, output_scale, similarity_matrix
from neuronid.numerics.certificate import FLOAT_SLACK, certificate, certified_barriers
from neuronid.numerics.network import Layer, Network
from neuronid.numerics.paths import interpolate, linear_path
from neuronid.proofs_checks.strategies import (
    MONOTONE_ACTIVATIONS,
    identified_pairs,
    network_pairs,
    run_certificate_property,
)

GRID201 = np.linspace(0.0, 1.0, 201)
GRID21 = np.linspace(0.0, 1.0, 21)


# ----------------------------------------------------------------------------- T4
@settings(deadline=None)
@given(pair=network_pairs(), seed=st.integers(0, 2**32 - 1))
def test_certificate_never_exceeded(pair, seed):
    A, B, X = pair.A, pair.B, pair.X
    cert = certificate(A, B, X, keep_samples=True)
    assert cert.ok, cert.reason
    # outputs, elementwise
    F = reference_path_outputs(A, B, X, GRID201)
    lerp = (1 - GRID201)[:, None, None] * F[0] + GRID201[:, None, None] * F[-1]
    allowed = (GRID201 * (1 - GRID201))[:, None, None] * cert.samples[None]
    scale = np.abs(F).max() + np.abs(lerp).max()
    assert np.all(np.abs(F - lerp) <= allowed * (1 + FLOAT_SLACK) + FLOAT_SLACK * scale)
    # losses, all four barriers, over the whole path
    rng = np.random.default_rng(seed)
    n, o = X.shape[0], A.n_outputs
    for loss, y in (("mse", rng.normal(size=(n, o))), ("ce", rng.integers(0, o, size=n))):
        out = certified_barriers(A, B, X, y, loss=loss, steps=201)
        assert all(out.holds.values()), (loss, out.measured, out.bound)


def test_run_certificate_property_small():
    """The hypothesis-free T4 harness (strategies.run_certificate_property) finds no violation."""
    out = run_certificate_property(12, seed=5, steps=41)
    assert out["pairs"] == 12 and out["violations"] == 0 and out["unsupported"] == 0


# ----------------------------------------------------------------------------- T2
def _assert_zero_barrier(pair):
    A, B, X = pair.A, pair.B, pair.X
    scale = pair.output_scale
    fA = A.forward(X)
    F = reference_path_outputs(A, B, X, GRID21)
    assert np.max(np.abs(F - fA[None])) <= 1e-9 * scale
    cert = certificate(A, B, X)
    assert cert.max_norm <= 1e-9 * scale
    assert all(layer["mean_dh"] <= 1e-9 * scale for layer in cert.layers[:-1])
    path = linear_path(A, B, X, fA, loss="mse", steps=21)
    assert path.B_lerp <= (1e-9 * scale) ** 2 and path.B_peak <= (1e-9 * scale) ** 2


@settings(deadline=None)
@given(pair=identified_pairs(moves=("nullspace",), activations=MONOTONE_ACTIVATIONS))
def test_T2_identity_correspondence_zero_barrier(pair):
    assert pair.keeps_identity
    _assert_zero_barrier(pair)


@settings(deadline=None)
@given(pair=identified_pairs(moves=("nullspace",), activations=("gelu", "silu")))
def test_nullspace_pairs_zero_barrier_without_H2(pair):
    """Pre-activations agree exactly along the path, so H2 is not needed here."""
    _assert_zero_barrier(pair)


def _gelu(z):
    return z * norm.cdf(z)


def test_P5_gelu_counterexample():
    """Two realizations of one GELU neuron function whose midpoint realizes another
    (P5), and the resulting positive barrier (T2 with H2 dropped)."""
    zmin = brentq(lambda z: norm.cdf(z) + z * norm.pdf(z), -2.0, 0.0)  # gelu' = 0
    level = -0.1
    z1 = brentq(lambda z: _gelu(z) - level, -6.0, zmin)
    z2 = brentq(lambda z: _gelu(z) - level, zmin, 0.0)
    assert z1 < zmin < z2 and abs(_gelu(z1) - _gelu(z2)) < 1e-15
    # support: the single point x = 1; neuron weight z1 (A) or z2 (B), same output layer
    X = np.array([[1.0]])
    A = Network([Layer([[z1]], [0.0], activation="gelu"), Layer([[2.0]], [0.5])])
    B = Network([Layer([[z2]], [0.0], activation="gelu"), Layer([[2.0]], [0.5])])
    hA, hB = A.forward(X, record=True).inputs[1], B.forward(X, record=True).inputs[1]
    assert np.allclose(hA, hB, rtol=0, atol=1e-14)  # H1, H3, H4 hold on the support
    mid = A.forward(X, weights=interpolate(A, B, 0.5)[0], biases=interpolate(A, B, 0.5)[1])
    assert abs(mid[0, 0] - A(X)[0, 0]) > 1e-2  # the midpoint computes another function
    path = linear_path(A, B, X, A(X), loss="mse", steps=21)
    assert path.B_mid > 1e-4 and path.B_lerp > 1e-4
    # the certificate still bounds it (T4 does not need monotonicity)
    out = certified_barriers(A, B, X, A(X), loss="mse", steps=201)
    assert all(out.holds.values()) and out.bound["B_lerp"] > 0
    # the same construction with a monotone activation is impossible: tanh is injective
    assert np.tanh(z1) != np.tanh(z2)


# ----------------------------------------------------------------------------- P6
def phi(t, alpha):
    return 1 + t * (1 - t) * (alpha + 1 / alpha - 2)


@settings(deadline=None)
@given(pair=identified_pairs(moves=("rescale",), kinds=("standard", "w-mlp"), depth=1,
                             activations=("relu", "leaky_relu:0.1"), move_prob=1.0))
def test_P6_rescaled_neurons_phi(pair):
    """One hidden layer: f_t - f_A = sum_i (phi_i(t) - 1) c_i h_i exactly."""
    A, B, X = pair.A, pair.B, pair.X
    assume(pair.moves)
    (move,) = pair.moves
    H = A.forward(X, record=True).inputs[1]
    C = A.layers[1].effective_weight()
    F = reference_path_outputs(A, B, X, GRID21)
    fA = A.forward(X)
    for k, t in enumerate(GRID21):
        predicted = fA.copy()
        for i, alpha in zip(move.neurons, move.values):
            predicted += (phi(t, alpha) - 1.0) * np.outer(H[:, i], C[:, i])
        terms = np.abs(H) @ np.abs(C).T * max(phi(t, a) for a in move.values) + np.abs(A.layers[1].bias)
        assert np.all(np.abs(F[k] - predicted) <= 1e-12 * terms.max() + 1e-300)
    # the barrier factor phi(t) >= 1, > 1 inside (0, 1) unless alpha = 1
    for alpha in move.values:
        assert np.all(phi(GRID21[1:-1], alpha) >= 1.0)
        assert alpha == 1.0 or np.all(phi(GRID21[1:-1], alpha) > 1.0)


@settings(deadline=None)
@given(c=st.floats(-3, 3).filter(lambda v: abs(v) > 1e-2), w=st.lists(st.floats(-3, 3), min_size=1, max_size=5),
       b=st.floats(-2, 2), alpha=st.floats(0.05, 20.0))
def test_P6_phi_exact_and_balanced_minimum(c, w, b, alpha):
    """One neuron: the contribution at t is phi(t) times the original (to 1e-12), and
    the norm cost c^2/a^2 + a^2 ||(w, b)||^2 over the orbit is minimal at the
    balanced point |c / a| = ||a (w, b)||."""
    w = np.array(w)
    v = np.append(w, b)
    assume(np.linalg.norm(v) > 1e-2)
    x = np.random.default_rng(0).normal(size=(16, w.size))
    h = lambda wv, bv: np.maximum(x @ wv + bv, 0.0)  # noqa: E731
    base = c * h(w, b)
    for t in GRID21:
        ct = (1 - t) * c + t * c / alpha
        s = (1 - t) + t * alpha
        contrib = ct * h(s * w, s * b)
        assert np.allclose(contrib, phi(t, alpha) * base, rtol=1e-12, atol=1e-12 * np.abs(base).max())
    cost = lambda a: c**2 / a**2 + a**2 * (v @ v)  # noqa: E731
    a_star = math.sqrt(abs(c) / np.linalg.norm(v))
    assert abs(c / a_star) == pytest_approx(np.linalg.norm(a_star * v))
    grid = a_star * np.exp(np.linspace(-3, 3, 601))
    assert np.all(cost(grid) >= cost(a_star) * (1 - 1e-12))
    assert cost(a_star) == pytest_approx(2 * abs(c) * np.linalg.norm(v))


def pytest_approx(v):
    import pytest

    return pytest.approx(v, rel=1e-10)


# ----------------------------------------------------------------------------- T2 without H3
# No plain ReLU here: dead ReLUs carry no identity, and a permutation upstream of a
# layer that is dead on all the data leaves f_t = f_A (a true zero barrier, found by
# the thorough profile). With these activations no neuron is constant on
# full-rank data, and a permutation of neurons that differ on the data changes f_t.
_GENERIC = ("leaky_relu:0.1", "tanh", "sigmoid", "softplus", "elu", "gelu")


@settings(deadline=None)
@given(pair=identified_pairs(moves=("permute",), kinds=("standard",), activations=_GENERIC,
                             n_inputs=(2, 6), n=(8, 32), rank=6, width=(2, 8), move_prob=1.0))
def test_permutation_pairs_unaligned_vs_aligned(pair):
    A, B, X = pair.A, pair.B, pair.X
    assume(pair.moves)
    scale = pair.output_scale
    fA = A.forward(X)
    # some permuted neurons differ on the data
    hidden = A.forward(X, record=True).inputs[1:]
    distinct = False
    for move in pair.moves:
        H = hidden[move.layer]
        for i, j in zip(move.neurons, move.values):
            gap = np.linalg.norm(H[:, i] - H[:, j])
            distinct |= gap > 1e-3 * (np.linalg.norm(H[:, i]) + np.linalg.norm(H[:, j]))
    assume(distinct)
    unaligned = linear_path(A, B, X, fA, loss="mse", steps=21)
    assert unaligned.B_lerp > 0.0
    # activation matching recovers the permutation when no two neurons tie
    for HA in hidden:
        if HA.shape[1] > 1:
            S = similarity_matrix(HA, HA)
            top2 = np.sort(S, axis=1)[:, -2:]
            assume(np.all(top2[:, 1] - top2[:, 0] > 1e-6))
    al = align(A, B, X, method="activation")
    F = reference_path_outputs(A, al.network, X, GRID21)
    assert np.max(np.abs(F - fA[None])) <= 1e-9 * scale
    aligned = linear_path(A, al.network, X, fA, loss="mse", steps=21, allow_structure_mismatch=True)
    assert aligned.B_lerp <= (1e-9 * output_scale(A, X)) ** 2
