"""Alignment by neuron permutations (THEORY.md D6): recovery of exact permutations,
function preservation, restricted matching for sigma-asymmetric layers, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from neuronid.numerics import alignment as alignment_mod
from neuronid.numerics.alignment import (
    FunctionNotPreservedError,
    align,
    aligned_path,
    activation_matching,
    check_function_preserved,
    permute_network,
    similarity_matrix,
    weight_matching,
    weight_matching_objective,
)
from neuronid.numerics.losses import loss_value
from neuronid.numerics.network import Layer, Network
from neuronid.numerics.paths import linear_path
from neuronid.numerics.structures import sigma_asymmetric_mlp, standard_mlp, syre_mlp, w_mlp
from neuronid.errors import InvalidInputError, InvalidOptionError, NeuronidError, StructureMismatchError


def _data(n=300, d=6, o=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, o, size=n)


def _random_perms(net, seed):
    rng = np.random.default_rng(seed)
    return [rng.permutation(layer.shape[0]) for layer in net.layers[:-1]]


def _inverse(perms):
    return [np.argsort(p) for p in perms]


def _max_rel_diff(F, G):
    return float(np.max(np.abs(F - G)) / max(1.0, np.max(np.abs(F))))


MLPS = [
    ("relu-2", [6, 16, 12, 3], "relu"),
    ("relu-3", [6, 16, 12, 10, 3], "relu"),
    ("tanh-2", [6, 16, 12, 3], "tanh"),
    ("tanh-3", [6, 16, 12, 10, 3], "tanh"),
]


# --------------------------------------------------------------------------- recovery
@pytest.mark.parametrize("name,sizes,act", MLPS, ids=[m[0] for m in MLPS])
@pytest.mark.parametrize(
    "method,similarity",
    [("activation", "correlation"), ("activation", "dot"), ("activation", "abs_correlation"), ("weight", "correlation")],
    ids=["act-corr", "act-dot", "act-abscorr", "weight"],
)
def test_exact_permutation_is_recovered_and_aligned_barrier_is_zero(name, sizes, act, method, similarity):
    A = standard_mlp(sizes, activation=act, seed=0)
    true = _random_perms(A, seed=len(sizes))
    B = permute_network(A, true)
    X, y = _data()
    teacher = A(X)  # MSE to A's outputs: 0 at both endpoints, > 0 wherever the function changes
    unaligned = linear_path(A, B, X, teacher, loss="mse")
    path, al = aligned_path(A, B, X, y, method=method, similarity=similarity, loss="ce")
    # neurons constant on the data (dead ReLUs) carry no identity there: they may be
    # matched among themselves in any order; all others must be recovered exactly
    hidden = A.forward(X, record=True).inputs[1:]
    for got, want, h in zip(al.perms, _inverse(true), hidden):
        live = np.ptp(h, axis=0) > 0
        assert np.array_equal(got[live], want[live])
        assert method == "activation" or np.array_equal(got, want)
    assert al.max_output_difference <= al.tolerance
    assert al.objective >= al.identity_objective
    for key in ("B_lerp", "B_peak", "B_mid", "B_mean"):
        assert abs(getattr(path, key)) <= 1e-9
        assert abs(getattr(path, f"{key}_error")) <= 1e-9
    assert unaligned.B_lerp > 1e-4  # the permutation did create a barrier
    aligned_teacher = linear_path(A, al.network, X, teacher, loss="mse")
    assert aligned_teacher.B_lerp <= 1e-20
    json.dumps(al.to_json())


def test_paper_inversion_picks_a_worse_matching():
    """D6: maximizing ``1 - |corr|`` (the paper's code) selects the least-correlated
    pairing; maximizing the correlation recovers the permutation."""
    A = standard_mlp([6, 16, 12, 3], activation="relu", seed=0)
    true = _random_perms(A, seed=1)
    B = permute_network(A, true)
    X, y = _data()
    HA = A.forward(X, record=True).inputs[1:]
    HB = B.forward(X, record=True).inputs[1:]
    inverted, ours = [], activation_matching(A, B, X)
    for ha, hb in zip(HA, HB):
        C = similarity_matrix(ha, hb, "correlation")
        _, cols = linear_sum_assignment(1.0 - np.abs(C), maximize=True)
        inverted.append(cols)
        rows = np.arange(len(cols))
        assert C[rows, cols].mean() < C[rows, ours[len(inverted) - 1]].mean() - 0.3
        assert not np.array_equal(cols, ours[len(inverted) - 1])
    bad = linear_path(A, permute_network(B, inverted), X, y, loss="ce")
    good = linear_path(A, permute_network(B, ours), X, y, loss="ce")
    assert abs(good.B_lerp) <= 1e-9 < bad.B_lerp


def test_weight_matching_deterministic_and_reports_restarts():
    A = standard_mlp([6, 10, 8, 3], seed=0)
    B = standard_mlp([6, 10, 8, 3], seed=1)
    d1, d2 = {}, {}
    p1 = weight_matching(A, B, restarts=4, seed=3, details=d1)
    p2 = weight_matching(A, B, restarts=4, seed=3, details=d2)
    assert all(np.array_equal(a, b) for a, b in zip(p1, p2)) and d1 == d2
    assert len(d1["objectives"]) == 4 and d1["objective"] == max(d1["objectives"])
    assert d1["objective"] == pytest.approx(weight_matching_objective(A, B, p1), rel=1e-12)
    # coordinate descent never ends below where it started (identity start of restart 0)
    assert d1["objectives"][0] >= weight_matching_objective(A, B, [np.arange(10), np.arange(8)]) - 1e-12
    assert all(d1["converged"])


def test_weight_matching_similarity_memo_changes_nothing(monkeypatch):
    """The memo of similarity terms (shared by the restarts) gives the runs without it:
    same permutations, objectives and sweeps; and it is hit."""
    A = standard_mlp([6, 20, 16, 12, 3], seed=0)
    B = standard_mlp([6, 20, 16, 12, 3], seed=1)
    with_memo = {}
    perms = weight_matching(A, B, restarts=4, seed=3, details=with_memo)
    calls = {"compute": 0, "total": 0}
    real = alignment_mod._layer_similarity

    def counting(WA, bA, WB, bB, perms_, l, memo=None):
        calls["total"] += 1
        return real(WA, bA, WB, bB, perms_, l, None)  # no memo: every product computed

    monkeypatch.setattr(alignment_mod, "_layer_similarity", counting)
    without = {}
    plain = weight_matching(A, B, restarts=4, seed=3, details=without)
    assert calls["total"] > 0
    assert all(np.array_equal(p, q) for p, q in zip(perms, plain))
    assert with_memo == without
    memo = {}
    WA, bA = alignment_mod._weights(A)
    WB, bB = alignment_mod._weights(B)
    ident = [np.arange(20), np.arange(16), np.arange(12)]
    first = real(WA, bA, WB, bB, ident, 1, memo)
    cached_in = memo[(1, "in")][1]
    again = real(WA, bA, WB, bB, ident, 1, memo)
    assert memo[(1, "in")][1] is cached_in and np.array_equal(first, again)
    assert np.array_equal(first, real(WA, bA, WB, bB, ident, 1))
    moved = [ident[0][::-1].copy(), ident[1], ident[2]]  # a neighbour changed: recomputed
    assert np.array_equal(real(WA, bA, WB, bB, moved, 1, memo), real(WA, bA, WB, bB, moved, 1))


def test_weight_matching_objective_includes_biases():
    A = standard_mlp([3, 4, 2], seed=0)
    ident = [np.arange(4)]
    expected = sum(np.sum(W * W) + b @ b for W, b in zip(A.effective_weights(), A.biases()))
    assert weight_matching_objective(A, A, ident) == pytest.approx(expected, rel=1e-14)


# --------------------------------------------------------------------------- permutations
def test_permute_network_moves_every_part_of_a_neuron():
    net = w_mlp([4, 5, 3, 2], n_fixed=2, sigma_F=1.0, seed=0)
    net.layers[0] = Layer(net.layers[0].weight, net.layers[0].bias, net.layers[0].mask, net.layers[0].fixed,
                          activation=["relu", "tanh", "relu", "gelu", "sigmoid"])
    net = Network(net.layers)
    p0, p1 = np.array([4, 2, 0, 1, 3]), np.array([2, 0, 1])
    P = permute_network(net, [p0, p1])
    for attr in ("weight", "mask", "fixed"):
        assert np.array_equal(getattr(P.layers[0], attr), getattr(net.layers[0], attr)[p0])
        assert np.array_equal(getattr(P.layers[1], attr), getattr(net.layers[1], attr)[np.ix_(p1, p0)])
        assert np.array_equal(getattr(P.layers[2], attr), getattr(net.layers[2], attr)[:, p1])
    assert np.array_equal(P.layers[1].bias, net.layers[1].bias[p1])
    assert P.layers[0].names == tuple(net.layers[0].names[j] for j in p0)
    X, _ = _data(d=4)
    assert _max_rel_diff(P(X), net(X)) <= 1e-12


def _structure(kind, sizes, seed):
    if kind == "standard":
        return standard_mlp(sizes, activation="tanh", seed=seed)
    if kind == "w-mlp":
        return w_mlp(sizes, n_fixed=1, sigma_F=1.0, seed=seed)
    if kind == "syre":
        return syre_mlp(sizes, kappa=1.0, seed=seed)
    return sigma_asymmetric_mlp(sizes, activations=["relu", "tanh", "leaky_relu:0.2", "gelu"], seed=seed)


@settings(deadline=None)
@given(
    kind=st.sampled_from(["standard", "w-mlp", "syre", "sigma-asym"]),
    hidden=st.lists(st.integers(1, 7), min_size=1, max_size=3),
    seed=st.integers(0, 2**16),
)
def test_permute_network_preserves_function_property(kind, hidden, seed):
    sizes = [3, *hidden, 2]
    net = _structure(kind, sizes, seed)
    perms = _random_perms(net, seed + 1)
    P = permute_network(net, perms)
    X = np.random.default_rng(seed).normal(size=(25, 3))
    diff = check_function_preserved(net, P, X)
    assert diff <= 1e-9 * alignment_mod.output_scale(net, X)
    back = permute_network(P, _inverse(perms))
    assert np.array_equal(back(X), net(X)) or _max_rel_diff(back(X), net(X)) <= 1e-13
    for a, b in zip(back.layers, net.layers):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.mask, b.mask)
        assert np.array_equal(a.fixed, b.fixed) and a.names == b.names


def test_w_mlp_permuted_copy_aligned_in_effective_weight_space():
    A = w_mlp([6, 14, 10, 3], n_fixed=2, sigma_F=1.0, seed=0)
    true = _random_perms(A, seed=9)
    B = permute_network(A, true)
    X, y = _data()
    for method in ("activation", "weight"):
        path, al = aligned_path(A, B, X, y, method=method, loss="ce", allow_structure_mismatch=True)
        assert all(np.array_equal(g, w) for g, w in zip(al.perms, _inverse(true)))
        assert abs(path.B_lerp) <= 1e-9 and abs(path.B_mean) <= 1e-9
    # two independent W-MLP runs of one structure: the permuted B has moved its masks
    B2 = w_mlp([6, 14, 10, 3], n_fixed=2, sigma_F=1.0, seed=1, structure_seed=0)
    path, al = aligned_path(A, B2, X, y, method="activation", loss="ce")
    moved = any(not np.array_equal(p, np.arange(len(p))) for p in al.perms)
    assert moved == bool(path.structure_differences)
    assert path.loss[-1] == pytest.approx(loss_value("ce", B2(X), y), rel=1e-12)


def test_sigma_asymmetric_matching_stays_within_activation_groups():
    sizes = [6, 12, 9, 3]
    pool = ["relu", "tanh", "leaky_relu:0.2"]
    A = sigma_asymmetric_mlp(sizes, activations=pool, seed=0, structure_seed=4)
    B = sigma_asymmetric_mlp(sizes, activations=pool, seed=1, structure_seed=4)
    X, y = _data()
    for method in ("activation", "weight"):
        path, al = aligned_path(A, B, X, y, method=method, loss="ce")
        assert [l.names for l in al.network.layers[:-1]] == [l.names for l in A.layers[:-1]]
        assert np.isfinite(path.B_lerp)
    true = _random_perms(A, seed=2)
    Bp = permute_network(A, true)  # its activation lists are permuted too
    for method in ("activation", "weight"):
        path, al = aligned_path(A, Bp, X, y, method=method, loss="ce", allow_structure_mismatch=True)
        assert all(np.array_equal(g, w) for g, w in zip(al.perms, _inverse(true)))
        assert abs(path.B_lerp) <= 1e-9


def test_activation_matching_uses_X_align():
    A = standard_mlp([6, 10, 3], seed=0)
    B = permute_network(A, _random_perms(A, 1))
    X, y = _data()
    _, al = aligned_path(A, B, X[:50], y[:50], method="activation", loss="ce", X_align=X[50:])
    assert al.max_output_difference <= al.tolerance


# --------------------------------------------------------------------------- similarities
def test_similarity_matrix_matches_numpy_and_handles_constant_neurons():
    rng = np.random.default_rng(0)
    HA, HB = rng.normal(size=(50, 4)), rng.normal(size=(50, 3))
    ref = np.corrcoef(HA.T, HB.T)[:4, 4:]
    np.testing.assert_allclose(similarity_matrix(HA, HB), ref, atol=1e-13)
    np.testing.assert_allclose(similarity_matrix(HA, HB, "abs_correlation"), np.abs(ref), atol=1e-13)
    np.testing.assert_allclose(similarity_matrix(HA, HB, "dot"), HA.T @ HB / 50, rtol=1e-13)
    HA[:, 1] = 0.0  # dead neuron
    HB[:, 2] = 0.7  # constant (its centered values are rounding noise)
    S = similarity_matrix(HA, HB)
    assert np.all(S[1] == 0.0) and np.all(S[:, 2] == 0.0)


def test_function_check_raises_when_a_permutation_breaks_the_function(monkeypatch):
    A = standard_mlp([4, 6, 3], seed=0)
    X, _ = _data(d=4)

    def broken(B, perms):
        P = permute_network(B, perms)
        P.layers[-1].bias[0] += 1e-6
        return P

    monkeypatch.setattr(alignment_mod, "permute_network", broken)
    with pytest.raises(FunctionNotPreservedError, match="permutations must preserve the function") as info:
        align(A, A.copy(), X, method="weight")
    assert isinstance(info.value, NeuronidError) and not isinstance(info.value, InvalidInputError)


# --------------------------------------------------------------------------- bad input
_A = standard_mlp([4, 6, 3], seed=0)
_X, _y = _data(n=20, d=4)
_S1 = sigma_asymmetric_mlp([4, 6, 3], activations=[["relu"] * 3 + ["tanh"] * 3], seed=0)
_S2 = sigma_asymmetric_mlp([4, 6, 3], activations=[["relu"] * 4 + ["tanh"] * 2], seed=0)

BAD = [
    ("unknown-similarity", lambda: align(_A, _A, _X, similarity="cosine"), InvalidOptionError,
     ["unknown similarity 'cosine'", "correlation, dot, abs_correlation"]),
    ("unknown-similarity-path", lambda: aligned_path(_A, _A, _X, _y, loss="ce", similarity="l2"), InvalidOptionError,
     ["unknown similarity"]),
    ("unknown-method", lambda: aligned_path(_A, _A, _X, _y, method="optimal-transport", loss="ce"), InvalidOptionError,
     ["unknown alignment method", "activation, weight"]),
    ("restarts=0", lambda: weight_matching(_A, _A, restarts=0), InvalidOptionError, ["restarts", ">= 1", "0"]),
    ("max_iter-float", lambda: weight_matching(_A, _A, max_iter=2.5), InvalidOptionError, ["max_iter"]),
    ("seed-negative", lambda: weight_matching(_A, _A, seed=-1), InvalidOptionError, ["seed"]),
    ("sizes", lambda: align(_A, standard_mlp([4, 7, 3]), _X), StructureMismatchError, ["different sizes", "[4, 7, 3]"]),
    ("sizes-path", lambda: aligned_path(_A, standard_mlp([4, 7, 3]), _X, _y, loss="ce"), StructureMismatchError,
     ["sizes differ"]),
    ("activations", lambda: align(_A, standard_mlp([4, 6, 3], activation="tanh"), _X), StructureMismatchError,
     ["layer 0", "activation"]),
    ("activation-counts", lambda: weight_matching(_S1, _S2), StructureMismatchError,
     ["layer 0", "3 neurons with activation 'relu'", "B has 4"]),
    ("perm-count", lambda: permute_network(_A, []), InvalidOptionError, ["expected 1 permutations"]),
    ("perm-not-permutation", lambda: permute_network(_A, [np.array([0, 0, 1, 2, 3, 4])]), InvalidOptionError,
     ["layer 0", "permutation of 0..5"]),
    ("perm-float", lambda: permute_network(_A, [np.arange(6.0)]), InvalidOptionError, ["integer"]),
    ("X-wrong-width", lambda: align(_A, _A, _X[:, :2]), InvalidInputError, ["expects 4 input features"]),
    ("X_align-wrong-width", lambda: align(_A, _A, _X, X_align=_X[:, :3]), InvalidInputError, ["X_align", "found 3"]),
    ("labels-out-of-range", lambda: aligned_path(_A, _A, _X, _y + 5, loss="ce"), InvalidInputError,
     ["labels must lie in [0, 2]"]),
    ("steps=1", lambda: aligned_path(_A, _A, _X, _y, loss="ce", steps=1), InvalidOptionError, ["steps must be >= 2"]),
    ("rtol", lambda: align(_A, _A, _X, rtol=-1.0), InvalidOptionError, ["rtol"]),
]


@pytest.mark.parametrize("call,error,fragments", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input(call, error, fragments):
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, ValueError)
    for fragment in fragments:
        assert fragment in str(info.value)
