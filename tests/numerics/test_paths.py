"""Linear paths and barriers (THEORY.md D5): constructed cases, references, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _reference import reference_path_outputs
from neuronid.numerics import paths as paths_mod
from neuronid.numerics.io import to_jsonable
from neuronid.numerics.losses import error_rate, loss_value
from neuronid.numerics.paths import (
    PathResult,
    barriers,
    interpolate,
    interpolated_network,
    linear_path,
    path_grid,
)
from neuronid.numerics.structures import sigma_asymmetric_mlp, standard_mlp, syre_mlp, w_mlp
from neuronid.errors import (
    InvalidDataError,
    InvalidInputError,
    InvalidOptionError,
    StructureMismatchError,
)

SIZES = [5, 9, 7, 3]


def _data(n=120, d=5, o=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, rng.integers(0, o, size=n), rng.normal(size=(n, o))


def _pairs():
    """(name, A, B) of one structure each."""
    return [
        ("standard-relu", standard_mlp(SIZES, activation="relu", seed=0), standard_mlp(SIZES, activation="relu", seed=1)),
        ("standard-tanh", standard_mlp(SIZES, activation="tanh", seed=0), standard_mlp(SIZES, activation="tanh", seed=1)),
        (
            "standard-leaky",
            standard_mlp(SIZES, activation="leaky_relu:0.2", seed=0),
            standard_mlp(SIZES, activation="leaky_relu:0.2", seed=1),
        ),
        (
            "w-mlp",
            w_mlp(SIZES, n_fixed=2, sigma_F=1.0, seed=0, structure_seed=7),
            w_mlp(SIZES, n_fixed=2, sigma_F=1.0, seed=1, structure_seed=7),
        ),
        ("syre", syre_mlp(SIZES, kappa=0.5, seed=0, structure_seed=3), syre_mlp(SIZES, kappa=0.5, seed=1, structure_seed=3)),
        (
            "sigma-asym",
            sigma_asymmetric_mlp(SIZES, seed=0, structure_seed=5),
            sigma_asymmetric_mlp(SIZES, seed=1, structure_seed=5),
        ),
    ]


PAIRS = _pairs()
PAIR_IDS = [name for name, _, _ in PAIRS]


# --------------------------------------------------------------------------- barriers
def test_barriers_hand_computed():
    assert barriers([0.0, 0.5, 1.0], [1.0, 3.0, 2.0]) == {"B_lerp": 1.5, "B_peak": 1.0, "B_mid": 1.0, "B_mean": 1.5}


def test_barriers_hand_computed_five_points():
    # chord 2,1.75,1.5,1.25,1 -> excess 0,0.25,0.5,1.75,0 ; max L = 3 at t=0.75
    b = barriers([0, 0.25, 0.5, 0.75, 1], [2.0, 2.0, 2.0, 3.0, 1.0])
    assert b == {"B_lerp": 1.75, "B_peak": 1.0, "B_mid": 0.0, "B_mean": 1.5}


def test_barriers_convex_curve_has_negative_mid_and_zero_others():
    b = barriers([0, 0.5, 1], [1.0, 0.2, 1.0])
    assert b == {"B_lerp": 0.0, "B_peak": 0.0, "B_mid": -0.8, "B_mean": 0.0}


def test_barriers_constant_curve_exactly_zero():
    value = 0.1 + 0.2  # not representable: the chord would round without clipping
    b = barriers(path_grid(21), [value] * 21)
    assert all(v == 0.0 for v in b.values())


curves = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=20
)


@settings(deadline=None)
@given(half=curves, mid=st.floats(-1e6, 1e6), rest=curves)
def test_barrier_orderings_property(half, mid, rest):
    k = min(len(half), len(rest))
    values = np.array(half[:k] + [mid] + rest[:k])
    t = path_grid(2 * k + 1)
    b = barriers(t, values)
    assert b["B_peak"] <= b["B_lerp"]
    assert b["B_peak"] <= b["B_mean"]
    assert b["B_mid"] <= b["B_peak"]
    assert b["B_lerp"] >= 0.0 and b["B_peak"] >= 0.0


def test_path_grid():
    g = path_grid(21)
    assert g.size == 21 and g[0] == 0.0 and g[10] == 0.5 and g[-1] == 1.0
    assert np.array_equal(path_grid(4), [0.0, 1 / 3, 0.5, 2 / 3, 1.0])
    assert np.array_equal(path_grid(np.array([0.0, 0.3, 1.0])), [0.0, 0.3, 0.5, 1.0])
    for T in (3, 5, 7, 41, 101):
        assert path_grid(T)[(T - 1) // 2] == 0.5


# --------------------------------------------------------------------------- paths
@pytest.mark.parametrize("name,A,B", PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_network_with_itself_has_zero_barriers(name, A, B, loss):
    X, labels, _ = _data()
    r = linear_path(A, A.copy(), X, labels, loss=loss)
    assert np.all(r.loss == r.loss[0]) and np.all(r.error == r.error[0])
    for key in ("B_lerp", "B_peak", "B_mid", "B_mean"):
        assert getattr(r, key) == 0.0
        assert getattr(r, f"{key}_error") == 0.0


@pytest.mark.parametrize("name,A,B", PAIRS, ids=PAIR_IDS)
def test_endpoints_reproduce_networks_exactly(name, A, B):
    X, labels, _ = _data()
    for t, net in ((0.0, A), (1.0, B)):
        assert np.array_equal(interpolated_network(A, B, t)(X), net(X))
        Ws, bs = interpolate(A, B, t)
        assert all(np.array_equal(W, E) for W, E in zip(Ws, net.effective_weights()))
        assert all(np.array_equal(b, c) for b, c in zip(bs, net.biases()))
    r = linear_path(A, B, X, labels, loss="ce")
    assert r.loss[0] == loss_value("ce", A(X), labels)
    assert r.loss[-1] == loss_value("ce", B(X), labels)
    assert r.error[0] == error_rate(A(X), labels) and r.error[-1] == error_rate(B(X), labels)


@pytest.mark.parametrize("name,A,B", PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_path_matches_numpy_reference(name, A, B, loss):
    X, labels, _ = _data()
    r = linear_path(A, B, X, labels, loss=loss, steps=7)
    for k, F in enumerate(reference_path_outputs(A, B, X, r.steps)):
        if loss == "ce":
            m = F.max(axis=1, keepdims=True)
            ref = np.mean(np.log(np.exp(F - m).sum(axis=1)) + m[:, 0] - F[np.arange(len(labels)), labels])
        else:
            ref = np.mean(np.sum((F - np.eye(3)[labels]) ** 2, axis=1))
        assert r.loss[k] == pytest.approx(ref, rel=1e-12, abs=1e-14)
        assert r.error[k] == pytest.approx(np.mean(F.argmax(axis=1) != labels), abs=1.5 / len(labels))


def test_regression_targets_have_no_error_curve():
    A, B = standard_mlp(SIZES, seed=0), standard_mlp(SIZES, seed=1)
    X, _, Y = _data()
    r = linear_path(A, B, X, Y, loss="mse", steps=5)
    assert r.error is None and r.B_lerp_error is None and r.B_mean_error is None
    F = interpolated_network(A, B, 0.5)(X)
    assert r.loss[2] == pytest.approx(np.mean(np.sum((F - Y) ** 2, axis=1)), rel=1e-13)
    block = r.to_json()
    assert block["error"] is None and block["B_peak_error"] is None
    json.dumps(block)


def test_json_block_keys_and_values():
    A, B = standard_mlp(SIZES, seed=0), standard_mlp(SIZES, seed=1)
    X, labels, _ = _data()
    r = linear_path(A, B, X, labels, loss="ce", steps=5)
    block = json.loads(json.dumps(r.to_json()))
    for key in ("loss", "error", "B_lerp", "B_peak", "B_mid", "B_mean",
                "B_lerp_error", "B_peak_error", "B_mid_error", "B_mean_error"):
        assert key in block
    assert block["loss"] == r.loss.tolist() and block["B_mid"] == r.B_mid
    assert len(block["error"]) == 5


def test_non_finite_values_are_null_with_reason():
    r = PathResult.from_curves(path_grid(3), [1.0, np.inf, 1.0], None)
    raw = r.to_json()  # plain values: inf stays inf, the reason is beside it
    assert raw["B_lerp"] == np.inf and raw["B_lerp_reason"] == "non-finite loss on the path"
    block = to_jsonable(raw)  # the one place that writes nulls
    assert block["loss"][1] is None and block["B_lerp"] is None
    assert block["B_lerp_reason"] == "non-finite loss on the path" and "loss_reason" in block
    json.dumps(block, allow_nan=False)


def test_blocks_of_rows_give_the_same_curve(monkeypatch):
    A, B = PAIRS[2][1], PAIRS[2][2]
    X, labels, _ = _data(n=101)
    whole = linear_path(A, B, X, labels, loss="ce", steps=5)
    monkeypatch.setattr(paths_mod, "_BLOCK_ROWS", 16)
    blocked = linear_path(A, B, X, labels, loss="ce", steps=5)
    np.testing.assert_allclose(blocked.loss, whole.loss, rtol=1e-13)
    np.testing.assert_array_equal(blocked.error, whole.error)


def test_float32_and_integer_inputs_are_evaluated_in_float64():
    A, B = standard_mlp(SIZES, seed=0), standard_mlp(SIZES, seed=1)
    X, labels, _ = _data()
    X32 = X.astype(np.float32)
    r32 = linear_path(A, B, X32, labels, loss="ce", steps=3)
    r64 = linear_path(A, B, X32.astype(np.float64), labels, loss="ce", steps=3)
    np.testing.assert_array_equal(r32.loss, r64.loss)
    ri = linear_path(A, B, np.round(X).astype(np.int32), labels, loss="ce", steps=3)
    assert ri.loss.dtype == np.float64


def test_structure_mismatch_allowed_interpolates_effective_weights():
    A = w_mlp(SIZES, n_fixed=2, seed=0, structure_seed=1)
    B = w_mlp(SIZES, n_fixed=2, seed=1, structure_seed=2)
    X, labels, _ = _data()
    with pytest.raises(StructureMismatchError, match="masks differ") as info:
        linear_path(A, B, X, labels, loss="ce")
    assert "allow_structure_mismatch=True (CLI: --allow-structure-mismatch)" in str(info.value)
    r = linear_path(A, B, X, labels, loss="ce", steps=5, allow_structure_mismatch=True)
    assert any("masks differ" in d for d in r.structure_differences)
    assert "structure_differences" in r.to_json()
    for k, t in enumerate(r.steps):
        F = interpolated_network(A, B, t, allow_structure_mismatch=True)(X)
        assert r.loss[k] == pytest.approx(loss_value("ce", F, labels), rel=1e-13)


# --------------------------------------------------------------------------- bad input
_A = standard_mlp([4, 6, 3], seed=0)
_B = standard_mlp([4, 6, 3], seed=1)
_X = np.random.default_rng(0).normal(size=(10, 4))
_y = np.arange(10) % 3
_W1 = w_mlp([4, 6, 3], n_fixed=1, seed=0, structure_seed=1)
_W2 = w_mlp([4, 6, 3], n_fixed=1, seed=0, structure_seed=2)

BAD = [
    ("sizes", lambda: linear_path(_A, standard_mlp([4, 7, 3]), _X, _y, loss="ce"),
     StructureMismatchError, ["sizes differ", "[4, 6, 3]", "[4, 7, 3]"]),
    ("sizes-even-with-flag", lambda: linear_path(_A, standard_mlp([4, 7, 3]), _X, _y, loss="ce", allow_structure_mismatch=True),
     StructureMismatchError, ["sizes differ", "effective-weight"]),
    ("masks", lambda: linear_path(_W1, _W2, _X, _y, loss="ce"),
     StructureMismatchError, ["masks differ", "allow_structure_mismatch=True"]),
    ("activations", lambda: linear_path(_A, standard_mlp([4, 6, 3], activation="tanh"), _X, _y, loss="ce", allow_structure_mismatch=True),
     StructureMismatchError, ["activations differ", "relu", "tanh"]),
    ("steps=1", lambda: linear_path(_A, _B, _X, _y, loss="ce", steps=1), InvalidOptionError, ["steps must be >= 2", "found 1"]),
    ("steps=0", lambda: linear_path(_A, _B, _X, _y, loss="ce", steps=0), InvalidOptionError, ["steps must be >= 2"]),
    ("steps=bool", lambda: linear_path(_A, _B, _X, _y, loss="ce", steps=True), InvalidOptionError, ["steps"]),
    ("steps=float", lambda: linear_path(_A, _B, _X, _y, loss="ce", steps=2.5), InvalidOptionError, ["steps"]),
    ("grid-not-from-0", lambda: linear_path(_A, _B, _X, _y, loss="ce", steps=[0.1, 1.0]), InvalidOptionError, ["from t=0 to t=1"]),
    ("grid-unsorted", lambda: linear_path(_A, _B, _X, _y, loss="ce", steps=[0.0, 0.7, 0.2, 1.0]), InvalidOptionError, ["increasing"]),
    ("unknown-loss", lambda: linear_path(_A, _B, _X, _y, loss="hinge"), InvalidOptionError, ["unknown loss", "hinge"]),
    ("X-1d", lambda: linear_path(_A, _B, _X[:, 0], _y, loss="ce"), InvalidDataError, ["2-D"]),
    ("X-wrong-width", lambda: linear_path(_A, _B, _X[:, :3], _y, loss="ce"), InvalidDataError, ["expects 4 input features", "found 3"]),
    ("X-nan", lambda: linear_path(_A, _B, np.full((10, 4), np.nan), _y, loss="ce"), InvalidDataError, ["NaN"]),
    ("labels-out-of-range", lambda: linear_path(_A, _B, _X, _y + 1, loss="ce"), InvalidDataError, ["labels must lie in [0, 2]", "[1, 3]"]),
    ("labels-wrong-length", lambda: linear_path(_A, _B, _X, _y[:5], loss="ce"), InvalidDataError, ["5 rows", "X has 10"]),
    ("ce-real-targets", lambda: linear_path(_A, _B, _X, np.zeros((10, 3)), loss="ce"), InvalidDataError, ["integer labels"]),
    ("no-targets", lambda: linear_path(_A, _B, _X, None, loss="mse"), InvalidDataError, ["targets are required"]),
    ("t-out-of-range", lambda: interpolate(_A, _B, 1.5), InvalidOptionError, ["t must be a real number in [0, 1]", "1.5"]),
    ("not-a-network", lambda: linear_path(_A, "B.npz", _X, _y, loss="ce"), InvalidOptionError, ["Network", "str"]),
    ("barriers-no-mid", lambda: barriers([0.0, 1.0], [1.0, 2.0]), InvalidOptionError, ["t=1/2"]),
    ("barriers-length", lambda: barriers([0.0, 0.5, 1.0], [1.0, 2.0]), InvalidOptionError, ["3 points", "2"]),
]


@pytest.mark.parametrize("call,error,fragments", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input(call, error, fragments):
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, InvalidInputError) and isinstance(info.value, ValueError)
    for fragment in fragments:
        assert fragment in str(info.value)
