"""One recorded pass serves every consumer: shared supports and shape matrices across
consecutive layers (``network_costs``), and ``trace``/``traces`` parameters of
``correspondence`` and ``align`` (issue 10). Reuse must not change a single number:
results are compared exactly (the same computations on the same arrays)."""

from __future__ import annotations

import numpy as np
import pytest

from neuronid.errors import InvalidDataError
from neuronid.numerics.alignment import align
from neuronid.numerics.correspondence import correspondence
from neuronid.numerics.costs import effective_layer, layer_costs, layer_shapes, network_costs, outgoing_swap_costs
from neuronid.numerics.structures import w_mlp
from neuronid.numerics.supports import compute_support


def _pair():
    A = w_mlp([7, 9, 8, 6, 3], activation="tanh", n_fixed=3, seed=0)
    B = w_mlp([7, 9, 8, 6, 3], activation="tanh", n_fixed=3, seed=1)
    X = np.random.default_rng(3).normal(size=(80, 7))
    return A, B, X


def _same_layer_costs(a, b):
    for name in ("K", "delta_in", "delta_out", "anisotropy", "slack"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.margin.gamma == b.margin.gamma
    np.testing.assert_array_equal(a.margin.permutation, b.margin.permutation)
    np.testing.assert_array_equal(a.eff.S, b.eff.S)
    np.testing.assert_array_equal(a.eff.eigenvalues, b.eff.eigenvalues)
    np.testing.assert_array_equal(a.support.U, b.support.U)
    np.testing.assert_array_equal(a.next_support.U, b.next_support.U)
    assert a.delta_min == b.delta_min and a.t1 == b.t1


@pytest.mark.parametrize("tau", [0.9, 1.0])
def test_network_costs_shares_supports_and_shapes_without_changing_numbers(tau):
    A, _, X = _pair()
    shared = network_costs(A, X, tau=tau)
    separate = [layer_costs(A, X, l, tau=tau) for l in range(3)]
    for a, b in zip(shared, separate):
        _same_layer_costs(a, b)
    # the reuse is real: layer l's next support is layer l + 1's support (one SVD)
    for a, b in zip(shared, shared[1:]):
        assert a.next_support is b.support
    # the truncated supports exercise the subspace Delta_out with the shared shape matrices
    if tau < 1.0:
        assert any(lc.next_support.rank < lc.next_support.dim for lc in shared)
        assert any(np.any(lc.delta_out != 0.0) for lc in shared)


def test_network_costs_takes_a_trace_and_needs_data_or_trace():
    A, _, X = _pair()
    trace = A.forward(X, record=True)
    for a, b in zip(network_costs(A, trace=trace, tau=0.9), network_costs(A, X, tau=0.9)):
        _same_layer_costs(a, b)
    with pytest.raises(InvalidDataError, match="give the data X"):
        network_costs(A)


def test_precomputed_shapes_give_the_same_effective_layer_and_delta_out():
    A, _, X = _pair()
    trace = A.forward(X, record=True)
    sup = compute_support(trace.inputs[1], 0.9)
    shapes = layer_shapes(A.layers[1], sup)
    e1, e2 = effective_layer(A.layers[1], sup), effective_layer(A.layers[1], sup, shapes=shapes)
    np.testing.assert_array_equal(e1.S, e2.S)
    np.testing.assert_array_equal(e1.eigenvalues, e2.eigenvalues)
    d1 = outgoing_swap_costs(A.layers[1], sup)
    d2 = outgoing_swap_costs(A.layers[1], sup, shapes=shapes)
    np.testing.assert_array_equal(d1.D, d2.D)
    assert d1.counts == d2.counts


def test_correspondence_reuses_traces():
    A, B, X = _pair()
    traces = (A.forward(X, record=True), B.forward(X, record=True))
    for l in range(3):
        c1, c2 = correspondence(A, B, X, l), correspondence(A, B, X, l, traces=traces)
        np.testing.assert_array_equal(c1.perm, c2.perm)
        np.testing.assert_array_equal(c1.mismatch, c2.mismatch)
        assert c1.fixed_points == c2.fixed_points


@pytest.mark.parametrize("method", ["activation", "weight"])
def test_align_reuses_traces(method):
    A, B, X = _pair()
    Xa = X[:50]
    traces = [A.forward(Xa, record=True), B.forward(Xa, record=True)]
    options = {"X_align": Xa} if method == "activation" else {}
    a1 = align(A, B, X, method=method, **options)
    a2 = align(A, B, X, method=method, trace_B=B.forward(X, record=True), align_traces=traces, **options)
    for p1, p2 in zip(a1.perms, a2.perms):
        np.testing.assert_array_equal(p1, p2)
    assert a1.objective == a2.objective and a1.max_output_difference == a2.max_output_difference
    assert a1.tolerance == a2.tolerance
