"""The public hypothesis strategies: what they generate, and bad options."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronid.numerics.network import Network
from neuronid.proofs_checks import strategies as S
from neuronid.errors import InvalidInputError, InvalidOptionError


@settings(deadline=None)
@given(spec=S.structures(), seeds=st.tuples(st.integers(0, 99), st.integers(100, 199)))
def test_structures_build_one_structure(spec, seeds):
    assert spec.kind in S.KINDS
    assert 1 <= len(spec.sizes) - 2 <= 3 and 1 <= spec.sizes[0] <= 6 and 1 <= spec.sizes[-1] <= 3
    assert all(1 <= m <= 8 for m in spec.sizes[1:-1])
    A, B = (spec.build(s) for s in seeds)
    assert A.sizes == list(spec.sizes) and A.structure_differences(B) == []
    if spec.kind == "sigma-asym":
        assert all(isinstance(a, list) for a in A.activations)
    if spec.kind == "standard":
        assert all(np.all(layer.mask == 1) and not np.any(layer.fixed) for layer in A.layers)


@settings(deadline=None)
@given(net=S.networks(kinds=("w-mlp",), depth=2, width=(3, 4), n_inputs=5, n_outputs=2,
                      activations=("tanh", "gelu"), dtype=np.float32))
def test_networks_respect_options(net):
    assert isinstance(net, Network)
    assert net.sizes[0] == 5 and net.sizes[-1] == 2 and len(net.sizes) == 4
    assert all(3 <= m <= 4 for m in net.sizes[1:-1])
    assert set(net.activations) <= {"tanh", "gelu"}
    for layer in net.layers:  # float32 parameters, computed in float64
        assert np.array_equal(layer.weight, layer.weight.astype(np.float32).astype(np.float64))


@settings(deadline=None)
@given(U=S.supports(d=(2, 12), rank=(1, 4), coherence=(0.0, 1.0)))
def test_supports_orthonormal_with_coherence(U):
    d, r = U.shape
    assert r <= d and np.allclose(U.T @ U, np.eye(r), atol=1e-12)
    assert r / d - 1e-12 <= S.coherence(U) <= 1 + 1e-12


@settings(deadline=None)
@given(data=st.data(), d=st.integers(2, 16), frac=st.floats(0.0, 1.0))
def test_supports_hit_the_target_coherence(data, d, frac):
    r = data.draw(st.integers(1, d))
    target = r / d + frac * (1 - r / d)
    U = data.draw(S.supports(d=d, rank=r, coherence=target))
    assert U.shape == (d, r) and abs(S.coherence(U) - target) <= 0.01 + 1e-12


@settings(deadline=None)
@given(X=S.datasets(n=(6, 20), d=(3, 7), rank=2))
def test_datasets_low_rank(X):
    assert 6 <= X.shape[0] <= 20 and 3 <= X.shape[1] <= 7
    assert np.linalg.matrix_rank(X) == 2 and X.dtype == np.float64 and X.flags.c_contiguous


@settings(deadline=None)
@given(yc=S.targets(n=9, n_outputs=4, loss="ce"), ym=S.targets(n=9, n_outputs=4, loss="mse"))
def test_targets(yc, ym):
    assert yc.shape == (9,) and yc.dtype.kind == "i" and yc.min() >= 0 and yc.max() < 4
    assert ym.shape == (9, 4) and ym.dtype == np.float64


@settings(deadline=None)
@given(pair=S.network_pairs())
def test_network_pairs(pair):
    assert pair.independent and not pair.keeps_identity and pair.moves == ()
    assert pair.A.structure_differences(pair.B) == []
    assert pair.X.shape[1] == pair.A.n_inputs and 4 <= pair.X.shape[0] <= 32
    assert pair.description == "independent pair"


@settings(deadline=None)
@given(pair=S.identified_pairs())
def test_identified_pairs_preserve_function_and_structure(pair):
    A, B, X = pair.A, pair.B, pair.X
    assert not pair.independent
    assert A.structure_differences(B) == []  # the moves stay inside the structure
    assert pair.max_output_difference <= 1e-9 * pair.output_scale
    assert pair.keeps_identity == all(m.kind == "nullspace" for m in pair.moves)
    for a, b in zip(A.layers, B.layers):  # masked entries stay 0, fixed parts untouched
        assert not np.any(b.weight[a.mask == 0]) and np.array_equal(a.fixed, b.fixed)
    assert isinstance(pair.description, str)


@settings(deadline=None)
@given(pair=S.identified_pairs(moves=("nullspace",)))
def test_nullspace_pairs_keep_identity_correspondence(pair):
    """H3: every hidden neuron computes the same function on the data."""
    tA, tB = pair.A.forward(pair.X, record=True), pair.B.forward(pair.X, record=True)
    for hA, hB in zip(tA.inputs[1:], tB.inputs[1:]):
        assert np.max(np.abs(hA - hB), initial=0.0) <= 1e-9 * (np.max(np.abs(hA)) + 1.0)
    for zA, zB in zip(tA.pre, tB.pre):
        assert np.max(np.abs(zA - zB)) <= 1e-9 * (np.max(np.abs(zA)) + 1.0)


def test_nullspace_moves_happen():
    """Low-rank data: the first layer always has a null space to move in."""
    moved = []

    @settings(deadline=None, max_examples=20, derandomize=True)
    @given(S.identified_pairs(moves=("nullspace",), kinds=("standard",), move_prob=1.0, n_inputs=(3, 6)))
    def run(pair):
        moved.append(any(m.layer == 0 for m in pair.moves))
        assert not np.array_equal(pair.A.layers[0].weight, pair.B.layers[0].weight) or not moved[-1]

    run()
    assert all(moved)


@settings(deadline=None)
@given(pair=S.identified_pairs(moves=("rescale", "signflip"), kinds=("standard",), move_prob=1.0,
                               activations=("relu", "tanh")))
def test_scaling_moves_scale_hidden_outputs(pair):
    tA, tB = pair.A.forward(pair.X, record=True), pair.B.forward(pair.X, record=True)
    for move in pair.moves:
        assert not move.keeps_identity
        hA, hB = tA.inputs[move.layer + 1], tB.inputs[move.layer + 1]
        for i, a in zip(move.neurons, move.values):
            assert np.allclose(hB[:, i], a * hA[:, i], rtol=1e-12, atol=1e-12 * (np.abs(hA).max() + 1))
            assert (a > 0) == (move.kind == "rescale")


@settings(deadline=None)
@given(pair=S.identified_pairs(moves=("permute",), kinds=("standard", "sigma-asym"), move_prob=1.0))
def test_permute_moves(pair):
    tA, tB = pair.A.forward(pair.X, record=True), pair.B.forward(pair.X, record=True)
    for move in pair.moves:
        hA, hB = tA.inputs[move.layer + 1], tB.inputs[move.layer + 1]
        for i, j in zip(move.neurons, move.values):
            assert pair.A.layers[move.layer].names[j] == pair.B.layers[move.layer].names[i]
            assert np.allclose(hB[:, i], hA[:, j], rtol=1e-12, atol=1e-12 * (np.abs(hA).max() + 1))


def test_bad_options_are_lazy():
    S.networks(depth=-1)  # defining never raises
    S.supports(d=2, rank=3)


BAD = [
    (lambda: S.structures(kinds=("dense",)), "unknown 'dense'"),
    (lambda: S.structures(kinds=()), "must not be empty"),
    (lambda: S.structures(depth=(3, 1)), "greater than high"),
    (lambda: S.structures(width=0), "width must be >= 1"),
    (lambda: S.structures(n_inputs=(1.5, 2)), "pair of ints"),
    (lambda: S.structures(n_outputs=True), "pair of ints"),
    (lambda: S.structures(activations=("relu", "swishy")), "unknown activation"),
    (lambda: S.networks(scale=(0.0, 1.0)), "scale must be finite and > 0"),
    (lambda: S.networks(dtype=np.int32), "float64 or float32"),
    (lambda: S.networks(dtype="float16"), "float64 or float32"),
    (lambda: S.supports(d=2, rank=3), "cannot exceed d"),
    (lambda: S.supports(d=4, rank=1, coherence=1.5), r"\[rank/d, 1\]"),
    (lambda: S.datasets(n=0), "n must be >= 1"),
    (lambda: S.datasets(scale="big"), "scale must be a number"),
    (lambda: S.targets(n=3, n_outputs=2, loss="hinge"), "loss must be"),
    (lambda: S.network_pairs(n=(5, 2)), "greater than high"),
    (lambda: S.identified_pairs(moves=("teleport",)), "unknown 'teleport'"),
    (lambda: S.identified_pairs(move_prob=0.0), r"move_prob must lie in \(0, 1\]"),
    (lambda: S.identified_pairs(rank=0), "rank must be >= 1"),
]


@pytest.mark.parametrize("make,msg", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_options(make, msg):
    strategy = make()
    with pytest.raises(InvalidOptionError, match=msg) as info:
        strategy.validate()
    assert isinstance(info.value, InvalidInputError)


def test_supports_unreachable_coherence_is_reported():
    with pytest.raises(InvalidOptionError, match="below the minimum"):
        @settings(max_examples=1, deadline=None)
        @given(S.supports(d=4, rank=2, coherence=0.1))
        def run(U):
            pass

        run()
