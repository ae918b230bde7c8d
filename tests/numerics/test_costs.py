"""Closed-form costs (P1), swap costs (D3), margins, layer results.

References are slow, obviously correct loops: per-entry eigendecomposition for K,
per-pair explicit permutation of the next layer's inputs for Delta_out, enumeration
of all permutations for gamma. Tolerances: 1e-9 relative for K (expanded products
recompute cancelling entries directly, bounding the error near 1e-12), 1e-8 relative
for Delta_out (Woodbury is used only where S_q and the capacitance matrix are
conditioned better than 1e-3)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronid.numerics.costs import (
    NOT_COMPUTED,
    OK,
    OUT_OF_ACT_RANGE,
    OUT_OF_RANGE,
    assignment_margin,
    closed_form_cost,
    cost_matrix,
    incoming_swap_costs,
    layer_costs,
    network_costs,
    outgoing_swap_costs,
    pair_difference_dots,
    quadratic_costs,
    squared_center_distances,
    transposition_margin,
)
from neuronid.numerics.io import to_jsonable
from neuronid.numerics.network import Layer
from neuronid.numerics.structures import sigma_asymmetric_mlp, standard_mlp, syre_mlp, w_mlp
from neuronid.numerics.supports import compute_support, shape_matrices
from neuronid.errors import InvalidDataError, InvalidOptionError


def _compare(a, b, rtol):
    fa, fb = np.isfinite(a), np.isfinite(b)
    assert np.array_equal(fa, fb), "feasibility patterns differ"
    if fa.any():
        scale = np.abs(b[fa]) + 1e-9 * np.max(np.abs(b[fa])) + 1e-300
        assert np.max(np.abs(a[fa] - b[fa]) / scale) <= rtol


def _ref_K(layer, sup):
    U = sup.U
    W = layer.effective_weight()
    A, V = W @ U, layer.fixed @ U
    m = W.shape[0]
    K = np.empty((m, m))
    for i in range(m):
        S = U.T @ np.diag(layer.mask[i]) @ U
        for j in range(m):
            K[i, j] = closed_form_cost(S, V[i], A[j])
    return K


def _ref_out(nl, sup):
    U = sup.U
    W = nl.effective_weight()
    mq, m = W.shape

    def total(P):
        return sum(
            closed_form_cost(U.T @ P @ np.diag(nl.mask[q]) @ P @ U, U.T @ (P @ nl.fixed[q]), U.T @ W[q])
            for q in range(mq)
        )

    base = total(np.eye(m))
    D = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1, m):
            P = np.eye(m)
            P[[i, j]] = P[[j, i]]
            D[i, j] = D[j, i] = total(P) - base
    return D


# ------------------------------------------------------------------ P1 closed form
@settings(deadline=None)
@given(seed=st.integers(0, 100_000), r=st.integers(1, 6), density=st.floats(0.2, 1.0),
       sigma_f=st.sampled_from([0.0, 1.0, 10.0]))
def test_quadratic_costs_match_reference(seed, r, density, sigma_f):
    rng = np.random.default_rng(seed)
    d, m = 8, 6
    U = np.linalg.qr(rng.normal(size=(d, r)))[0]
    mask = (rng.random((m, d)) < density).astype(float)
    F = (1 - mask) * sigma_f * rng.normal(size=(m, d))
    W = mask * rng.normal(size=(m, d)) * 0.1 + F  # small theta: centers dominate (cancellation)
    A, V = W @ U, F @ U
    q = quadratic_costs(shape_matrices(mask, U), V, A)
    ref = np.array([[closed_form_cost(U.T @ np.diag(mask[i]) @ U, V[i], A[j]) for j in range(m)]
                    for i in range(m)])
    _compare(q.K, ref, 1e-9)
    # own functions are always realizable
    assert np.all(np.isfinite(np.diag(q.K)))


def test_quadratic_costs_large_rank_path():
    rng = np.random.default_rng(0)
    d, r, m = 100, 70, 5  # r > 64: per-neuron triangular solves
    U = np.linalg.qr(rng.normal(size=(d, r)))[0]
    mask = (rng.random((m, d)) < 0.95).astype(float)
    A = rng.normal(size=(m, r))
    V = rng.normal(size=(m, r)) * 0.1
    S = shape_matrices(mask, U)
    q = quadratic_costs(S, V, A)
    ref = np.array([[closed_form_cost(S[i], V[i], A[j]) for j in range(m)] for i in range(m)])
    _compare(q.K, ref, 1e-9)


def test_singular_shapes_report_unrealizable_directions():
    net = w_mlp([6, 5, 2], activation="tanh", n_fixed=2, sigma_F=0.0, seed=0)
    X = np.random.default_rng(0).normal(size=(40, 6))
    cm = cost_matrix(net.layers[0], compute_support(X, tau=1.0))
    assert np.all(cm.null_dim == 2)  # 4 trainable entries, rank 6
    off = ~np.eye(5, dtype=bool)
    assert np.all(cm.reason[np.isinf(cm.K)] == OUT_OF_RANGE)
    assert np.all(cm.residual[np.isinf(cm.K)] > 1e-3)  # structurally infeasible, far from rounding
    assert np.all(np.isfinite(np.diag(cm.K)))
    assert np.isinf(cm.K[off]).sum() >= 16
    assert "unrealizable" in cm.reason_summary()


def test_relu_costs_are_labelled_upper_bounds():
    net = w_mlp([6, 5, 2], activation="relu", n_fixed=1, sigma_F=1.0, seed=0)
    cm = cost_matrix(net.layers[0], compute_support(np.random.default_rng(0).normal(size=(30, 6)), tau=0.9))
    assert not cm.exact.any()
    assert "UPPER BOUND" in cm.semantics and "PCA-truncated" in cm.semantics


@pytest.mark.parametrize("tau", [0.9, 1.0])
@pytest.mark.parametrize("sigma_f, n_fixed", [(0.0, 1), (1.0, 1), (1.0, 3)])
def test_layer_costs_match_references(tau, sigma_f, n_fixed):
    rng = np.random.default_rng(int(10 * tau + n_fixed))
    net = w_mlp([7, 6, 5, 3], activation="tanh", n_fixed=[n_fixed, n_fixed, 2], sigma_F=sigma_f, seed=3)
    trace = net.forward(rng.normal(size=(50, 7)), record=True)
    for L in (0, 1):
        lc = layer_costs(net, trace=trace, layer=L, tau=tau)
        _compare(lc.K, _ref_K(net.layers[L], lc.support), 1e-9)
        _compare(lc.delta_out, _ref_out(net.layers[L + 1], lc.next_support), 1e-8)
        assert np.allclose(lc.delta_out, lc.delta_out.T, equal_nan=True)


def test_delta_out_paths_and_budget():
    """Woodbury, shift (S unchanged) and direct paths are all exercised; a zero budget
    leaves the direct entries nan with the reason 'not computed'."""
    rng = np.random.default_rng(5)
    net = w_mlp([7, 6, 5, 3], activation="tanh", n_fixed=[3, 3, 2], sigma_F=1.0, seed=11)
    trace = net.forward(rng.normal(size=(60, 7)), record=True)
    lc = layer_costs(net, trace=trace, layer=0, tau=0.9)
    counts = lc.delta_out_info.counts
    assert counts["shift"] > 0 and counts["direct"] > 0
    lc1 = layer_costs(net, trace=trace, layer=1, tau=0.9)
    assert lc1.delta_out_info.counts["woodbury"] > 0
    out = outgoing_swap_costs(net.layers[1], lc.next_support, max_direct=0)
    assert np.isnan(out.D).any() and np.all(out.reason[np.isnan(out.D)] == NOT_COMPUTED)
    assert "max_direct" in out.notes[0]


def test_delta_out_direct_blocks_bound_memory_and_change_nothing(monkeypatch):
    """The direct recomputations run in blocks sized by memory (r x r stacks); one-row
    blocks give the same Delta_out, bitwise."""
    from neuronid.numerics.costs import _swaps

    rng = np.random.default_rng(5)
    net = w_mlp([7, 6, 5, 3], activation="tanh", n_fixed=[3, 3, 2], sigma_F=1.0, seed=11)
    trace = net.forward(rng.normal(size=(60, 7)), record=True)
    lc = layer_costs(net, trace=trace, layer=0, tau=0.9)
    assert lc.delta_out_info.counts["direct"] > 1
    whole = outgoing_swap_costs(net.layers[1], lc.next_support)
    monkeypatch.setattr(_swaps, "_DIRECT_STACK_BYTES", 1)  # one row per block
    single = outgoing_swap_costs(net.layers[1], lc.next_support)
    assert np.array_equal(whole.D, single.D, equal_nan=True)


# ------------------------------------------------------------------ P2 and structure kinds
def test_standard_layers_are_exactly_symmetric():
    net = standard_mlp([5, 8, 6, 3], activation="relu", seed=1)
    X = np.random.default_rng(1).normal(size=(80, 5))
    for lc in network_costs(net, X, tau=0.9):
        K = lc.K
        aa = np.sum(lc.eff.A**2, axis=1)
        assert np.allclose(K, aa[None, :], rtol=0, atol=1e-14 * aa.max())  # K[i, j] = ||a_j||^2
        assert np.max(np.abs(lc.delta_in)) <= 1e-14 * K.max()
        assert np.all(lc.delta_out == 0.0)  # standard next layer: exactly 0, not just small
        assert abs(lc.gamma) <= 1e-12 * K.max() * K.shape[0]


def test_syre_layers_have_positive_swap_costs():
    net = syre_mlp([5, 6, 3], activation="tanh", kappa=2.0, seed=0)
    lc = layer_costs(net, np.random.default_rng(0).normal(size=(60, 5)), 0, tau=1.0)
    assert lc.gamma > 0 and lc.delta_min > 0
    assert np.all(lc.anisotropy < 1e-12)


def test_zero_variance_support_costs_nothing():
    net = standard_mlp([3, 4, 2], activation="tanh", seed=0)
    X = np.tile(np.array([0.5, -1.0, 2.0]), (10, 1))
    lc = layer_costs(net, X, 0, tau=0.9)
    assert lc.support.rank == 0 and np.all(lc.K == 0.0) and lc.gamma == 0.0


def test_sigma_asymmetric_cross_activation_costs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    net = sigma_asymmetric_mlp([4, 6, 3], activations=[["tanh", "relu", "leaky_relu:0.1", "sigmoid", "relu",
                                                          "tanh"]], seed=0)
    lc = layer_costs(net, X, 0, tau=1.0)
    K, reason = lc.K, lc.costs.reason
    # relu outputs are >= 0 but tanh outputs take negative values: out of relu's range
    assert np.isinf(K[1, 0]) and reason[1, 0] == OUT_OF_ACT_RANGE
    # sigmoid outputs lie in (0, 1): realizable by tanh only if arctanh(sigmoid(z)) is affine: no
    assert np.isinf(K[0, 3])
    assert np.all(np.isfinite(np.diag(K)))
    assert lc.costs.counts["cross_activation_solver"] > 0
    # relu pairs: upper bounds; tanh/sigmoid: exact
    assert not lc.costs.exact[1, 1] and lc.costs.exact[0, 0]
    # leaky relus with different slopes: the neuron whose pre-activation is positive on the
    # whole support is affine-equivalent
    W = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    lay = Layer(W, bias=np.array([10.0, 0.0]), activation=["leaky_relu:0.1", "leaky_relu:0.2"])
    cm = cost_matrix(lay, compute_support(X, tau=1.0), points=X)
    assert np.isfinite(cm.K[1, 0]) and cm.reason[1, 0] == OK  # z_0 > 0 everywhere: h_0 = z_0
    assert np.isinf(cm.K[0, 1])  # z_1 changes sign: not affine after inversion
    assert cm.K[1, 0] == pytest.approx(1.0, rel=1e-9)


# ------------------------------------------------------------------ margins
def _brute_gamma(K):
    m = K.shape[0]
    best = np.inf
    for p in itertools.permutations(range(m)):
        if p != tuple(range(m)):
            best = min(best, sum(K[i, p[i]] for i in range(m)))
    return best - np.trace(K)


@settings(deadline=None)
@given(seed=st.integers(0, 100_000), m=st.integers(2, 6), p_inf=st.sampled_from([0.0, 0.3, 0.8]),
       shift=st.booleans())
def test_assignment_margin_matches_enumeration(seed, m, p_inf, shift):
    rng = np.random.default_rng(seed)
    K = rng.exponential(size=(m, m))
    if shift:  # make the identity costly so that gamma < 0
        K += np.diag(rng.exponential(size=m))
    K[rng.random((m, m)) < p_inf] = np.inf
    np.fill_diagonal(K, np.where(np.isfinite(np.diag(K)), np.diag(K), 1.0))
    mg = assignment_margin(K)
    g = _brute_gamma(K)
    if np.isinf(g):
        assert np.isinf(mg.gamma) and mg.permutation is None
    else:
        assert mg.gamma == pytest.approx(g, rel=1e-12, abs=1e-12)
        perm = mg.permutation
        assert not np.array_equal(perm, np.arange(m))
        assert np.sum(K[np.arange(m), perm]) - np.trace(K) == pytest.approx(g, rel=1e-12, abs=1e-12)


def test_assignment_margin_equals_m_lap_definition():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(7)
    K = rng.exponential(size=(12, 12)) + 3 * np.eye(12) * 0.0
    best = np.inf
    for i in range(12):
        C = K.copy()
        C[i, i] = 1e12
        r, c = linear_sum_assignment(C)
        best = min(best, K[r, c].sum())
    assert assignment_margin(K).gamma == pytest.approx(best - np.trace(K), rel=1e-12)


def test_margin_special_cases():
    assert np.isinf(assignment_margin(np.array([[1.0]])).gamma)
    nan = assignment_margin(np.array([[1.0, np.nan], [1.0, 1.0]]))
    assert np.isnan(nan.gamma) and "not computed" in nan.reason
    inf = assignment_margin(np.array([[1.0, np.inf], [np.inf, 1.0]]))
    assert np.isinf(inf.gamma) and "no feasible" in inf.reason
    d, pair, note = transposition_margin(np.array([[0, np.nan, 2.0], [np.nan, 0, 3.0], [2.0, 3.0, 0]]))
    assert d == 2.0 and pair == (0, 2) and "skipped" in note


def test_incoming_swap_costs_symmetric_with_inf():
    K = np.array([[1.0, np.inf, 2.0], [3.0, 1.0, 1.0], [2.0, 2.0, 0.5]])
    D = incoming_swap_costs(K)
    assert np.isinf(D[0, 1]) and np.isinf(D[1, 0])
    assert D[0, 2] == D[2, 0] == pytest.approx(2.0 + 2.0 - 1.0 - 0.5)
    assert np.all(np.diag(D) == 0)


# ------------------------------------------------------------------ slack, JSON
def test_trained_network_slack_nonnegative():
    from neuronid.numerics.training import TrainConfig, train

    rng = np.random.default_rng(0)
    X = rng.normal(size=(128, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = w_mlp([6, 10, 2], activation="tanh", n_fixed=2, sigma_F=1.0, seed=0)
    net = train(net, X, y, TrainConfig(epochs=5, lr=1e-2, batch_size=32, weight_decay=1e-2), progress=False).network
    for tau in (0.9, 1.0):
        lc = layer_costs(net, X, 0, tau=tau)
        assert np.all(lc.slack >= -1e-10 * np.maximum(lc.eff.norm_cost, 1.0))


def test_json_is_strict_with_reasons():
    net = w_mlp([6, 5, 4, 2], activation="relu", n_fixed=2, sigma_F=0.0, seed=0)
    lc = layer_costs(net, np.random.default_rng(0).normal(size=(40, 6)), 0, tau=1.0)
    assert not np.all(np.isfinite(lc.K))
    obj = to_jsonable(lc.to_json())
    text = json.dumps(obj, allow_nan=False)
    back = json.loads(text)
    for key in ("layer", "rank", "explained_variance", "coherence", "K", "delta_in", "delta_out", "delta_sum",
                "gamma", "delta_min", "slack", "anisotropy", "t1_bound"):
        assert key in back
    assert "range(S_i)" in back["K_reason"]
    assert any(v is None for row in back["K"] for v in row)
    assert back["K_nonfinite_entries"][0][2].startswith("unrealizable")


# ------------------------------------------------------------------ bad input
_NET = standard_mlp([3, 4, 4, 2], activation="tanh", seed=0)
_X = np.random.default_rng(0).normal(size=(20, 3))


@pytest.mark.parametrize(
    "call, exc, fragment",
    [
        (lambda: layer_costs(_NET, _X, 2), InvalidOptionError, "out of range: hidden layers are 0..1"),
        (lambda: layer_costs(_NET, _X, -1), InvalidOptionError, "out of range"),
        (lambda: layer_costs(_NET, _X, "0"), InvalidOptionError, "must be an integer"),
        (lambda: layer_costs(_NET, _X, 0, tau=0.0), InvalidOptionError, "(0, 1]"),
        (lambda: layer_costs(_NET, _X, 0, tau=2.0), InvalidOptionError, "(0, 1]"),
        (lambda: layer_costs(_NET, _X, 0, delta=1.0), InvalidOptionError, "delta"),
        (lambda: layer_costs(_NET, np.full((5, 3), np.nan), 0), InvalidDataError, "NaN"),
        (lambda: layer_costs(_NET, np.ones((5, 4)), 0), InvalidDataError, "expects 3 input features"),
        (lambda: layer_costs(_NET, np.ones((0, 3)), 0), InvalidDataError, "empty"),
        (lambda: layer_costs(_NET, None, 0), InvalidDataError, "give the data"),
        (lambda: cost_matrix(_NET.layers[-1], compute_support(np.ones((3, 4)) + np.eye(3, 4))),
         InvalidOptionError, "output layer"),
        (lambda: cost_matrix(sigma_asymmetric_mlp([3, 4, 2], seed=0).layers[0], compute_support(_X)),
         InvalidOptionError, "pass points="),
        (lambda: cost_matrix(_NET.layers[1], compute_support(_X)), InvalidDataError, "support has dimension"),
        (lambda: quadratic_costs(np.zeros((2, 3, 3)), np.zeros((2, 3)), np.zeros((4, 2))), InvalidDataError,
         "do not match"),
        (lambda: assignment_margin(np.ones((2, 3))), InvalidDataError, "square"),
    ],
)
def test_bad_inputs(call, exc, fragment):
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value)


@pytest.mark.parametrize("m, r", [(1, 1), (7, 3), (40, 13), (5, 0)])
def test_pair_kernels_match_the_broadcast_formulas(m, r):
    """The streamed pair helpers (used by P4) equal the (m, m, r) broadcast formulas to
    rounding: relative 1e-12 of the sum of |terms| (r <= 13 additions of float64)."""
    rng = np.random.default_rng(m * 100 + r)
    A, V = rng.normal(size=(m, r)) * 3.0, rng.normal(size=(m, r))
    dA, dV = A[:, None, :] - A[None, :, :], V[:, None, :] - V[None, :, :]
    ref = np.einsum("ijk,ijk->ij", dA, dV)
    scale = np.einsum("ijk,ijk->ij", np.abs(dA), np.abs(dV)) + 1e-300
    assert np.all(np.abs(pair_difference_dots(A, V) - ref) <= 1e-12 * scale)
    ref2 = np.sum((A[None, :, :] - V[:, None, :]) ** 2, axis=2)
    assert np.all(np.abs(squared_center_distances(A, V) - ref2) <= 1e-12 * (ref2 + 1e-300))


@pytest.mark.parametrize("A, V", [(np.zeros((3, 2)), np.zeros((3, 3))), (np.zeros(3), np.zeros(3))])
def test_pair_kernels_reject_mismatched_shapes(A, V):
    for fn in (pair_difference_dots, squared_center_distances):
        with pytest.raises(InvalidDataError, match="must be equal"):
            fn(A, V)


def test_swap_pairs_kernel_singular_capacitance_goes_direct():
    """A singular Woodbury capacitance (det = 0 exactly) must not raise inside the numba
    kernel (IEEE division, as the former array code): the pair is recomputed directly."""
    from neuronid.numerics.costs._swaps import _swap_pairs_kernel

    mk, f = np.array([1.0, 0.0]), np.zeros(2)
    G = np.array([[1.0, 0.0], [0.0, 0.0]])  # C11 = 1/dm + G11 = 1, C22 = -1/dm + G00 = 0, G01 = 0: det = 0
    J, jpos = np.array([1]), np.array([-1, 0])  # input 1 is the odd one out
    D, direct = np.zeros((2, 2)), np.zeros((2, 2), dtype=np.int64)
    n_shift, n_wood, n_direct = _swap_pairs_kernel(mk, f, 0.0, np.zeros(2), np.ascontiguousarray(G[:, J]), J, jpos,
                                                   np.diag(G).copy(), np.zeros((2, 0)), True, 1.0, 1.0, np.ones(2),
                                                   1e-8, 1e-3, True, D, direct)
    assert (n_shift, n_wood, n_direct) == (0, 0, 1) and direct[0].tolist() == [0, 1] and D[0, 1] == 0.0


@pytest.mark.parametrize("n_zeros", [0, 1, 4])
def test_delta_out_complement_route_matches_eigendecomposition(n_zeros):
    """The Woodbury complement route (nonsingular S_q = I - E^T E, few mask zeros) gives
    the same c0, y, G[:, J] and diag G as the eigendecomposition of S_q (rounding only,
    relative 1e-12: both are float64 inverses of a matrix with condition number < 10)."""
    from neuronid.numerics.costs._swaps import _complement_quantities, _eigh_quantities

    rng = np.random.default_rng(n_zeros)
    m, r = 12, 6
    U = np.linalg.qr(rng.normal(size=(m, r)))[0]
    mk = np.ones(m)
    mk[rng.choice(m, n_zeros, replace=False)] = 0.0
    f = np.where(mk == 0.0, rng.normal(size=m), 0.0)
    S = U.T @ (mk[:, None] * U)
    lam, vec = np.linalg.eigh(S)
    assert lam[0] > 0.1  # nonsingular and well conditioned: both routes apply
    g0 = rng.normal(size=r)
    J = np.flatnonzero(mk == 0.0) if n_zeros else np.array([3])
    got = _complement_quantities(g0, mk, U, U @ U.T, np.sum(U * U, axis=1), J)
    ref = _eigh_quantities(g0, lam, vec, U, J, 1e-12)
    assert got[4] is None and ref[4] is None
    for a, b in zip(got[:4], ref[:4]):
        assert np.allclose(a, b, rtol=1e-12, atol=1e-12 * np.max(np.abs(b)))


def test_complement_costs_and_eigenvalues_match_the_shape_matrices():
    """The complement formulas (no r x r shape matrices) give the P1 costs and the
    eigenvalues of the direct route: rows with few zeros (complement), with more zeros
    than r and singular S_i (fallback: inf outside the range), an all-ones row; relative
    1e-10 (float64 inverses of matrices with condition number < 1e4 here); a basis
    that is not orthonormal is refused (None)."""
    from neuronid.numerics.costs import complement_costs, quadratic_costs
    from neuronid.numerics.supports import mask_shape_eigenvalues, shape_eigenvalues, shape_matrices

    rng = np.random.default_rng(3)
    d, r = 14, 5
    U = np.linalg.qr(rng.normal(size=(d, r)))[0]
    mask = np.ones((5, d))
    mask[0, [1, 7]] = 0.0                     # complement, |Z| = 2
    mask[1, rng.choice(d, 11, replace=False)] = 0.0   # 11 zeros > r: 3 ones < r, singular S_1
    mask[2, 3] = 0.0                          # complement, |Z| = 1
    mask[4, :] = 0.0
    mask[4, :6] = 1.0                         # 8 zeros > r, 6 ones >= r
    V, A = rng.normal(size=(5, r)), rng.normal(size=(7, r))
    A[0] = V[1]                               # a target S_1 realizes (inside its range)
    S = shape_matrices(mask, U)
    lam = shape_eigenvalues(S)
    np.testing.assert_allclose(mask_shape_eigenvalues(mask, U), lam, rtol=0, atol=1e-12)
    tol = 1e-10
    got = complement_costs(mask, U, V, A, eig_tol=tol, eigenvalues=lam)
    ref = quadratic_costs(S, V, A, eig_tol=tol, eigenvalues=lam)
    assert np.array_equal(np.isfinite(got.K), np.isfinite(ref.K)) and not np.all(np.isfinite(ref.K))
    fin = np.isfinite(ref.K)
    np.testing.assert_allclose(got.K[fin], ref.K[fin], rtol=1e-10)
    assert np.array_equal(got.null_dim, ref.null_dim)
    assert complement_costs(mask, 2.0 * U, V, A, eig_tol=tol, eigenvalues=lam) is None
