"""Network model, structures and file I/O: round trips and every bad-input case."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronid import (
    FileFormatError,
    InvalidDataError,
    InvalidNetworkError,
    InvalidOptionError,
    UnknownActivationError,
    UnsafeFileError,
)
from neuronid.numerics.activations import CATALOGUE, apply_activation, parse_activation
from neuronid.numerics.io import (
    check_data_for,
    load_data,
    load_network,
    network_tensors,
    save_data,
    save_network,
    to_jsonable,
    write_json,
)
from neuronid.numerics.network import Layer, Network
from neuronid.numerics.structures import sigma_asymmetric_mlp, standard_mlp, syre_mlp, w_mlp

NETS = {
    "standard": lambda: standard_mlp([5, 7, 6, 3], activation="tanh", seed=1),
    "w-mlp-count": lambda: w_mlp([5, 7, 6, 3], n_fixed=2, sigma_F=1.0, seed=2),
    "w-mlp-bernoulli-sigma0": lambda: w_mlp([5, 7, 3], p_fixed=0.3, sigma_F=0.0, seed=3),
    "syre": lambda: syre_mlp([5, 7, 3], kappa=0.5, activation="gelu", seed=4),
    "sigma-asym": lambda: sigma_asymmetric_mlp([5, 7, 6, 3], seed=5),
    "pool": lambda: sigma_asymmetric_mlp([5, 7, 3], activations=["relu", "tanh", "elu:0.5"], seed=6),
}


def assert_same_network(a: Network, b: Network) -> None:
    assert a.sizes == b.sizes
    for la, lb in zip(a.layers, b.layers):
        for name in ("weight", "bias", "mask", "fixed"):
            assert np.array_equal(getattr(la, name), getattr(lb, name)), name
        assert la.activation == lb.activation


# --- model --------------------------------------------------------------------------
def test_effective_weight_and_norm_cost():
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    mask = np.array([[1.0, 0.0], [1.0, 1.0]])
    fixed = np.array([[0.0, 5.0], [0.0, 0.0]])
    layer = Layer(W, mask=mask, fixed=fixed, activation="relu")
    assert np.array_equal(layer.effective_weight(), [[1.0, 5.0], [3.0, 4.0]])
    # masked theta entry (2.0) is ignored and stored as 0
    assert layer.weight[0, 1] == 0.0
    net = Network([layer, Layer(np.ones((1, 2)))])
    assert net.norm_cost() == 1.0 + 9.0 + 16.0 + 2.0


def test_forward_records_inputs_and_preactivations():
    net = standard_mlp([4, 6, 5, 2], activation="relu", seed=0)
    X = np.random.default_rng(0).normal(size=(9, 4))
    trace = net.forward(X, record=True)
    h = X
    for l, layer in enumerate(net.layers):
        assert np.array_equal(trace.inputs[l], h)
        z = h @ layer.effective_weight().T + layer.bias
        assert np.allclose(trace.pre[l], z, rtol=1e-14, atol=1e-14)
        h = z if layer.is_output else np.maximum(z, 0.0)
    assert np.allclose(trace.output, h, rtol=1e-14, atol=1e-14)
    assert np.array_equal(net(X), trace.output)


def test_structures_follow_their_definitions():
    net = w_mlp([10, 8, 4], n_fixed=[3, 2], sigma_F=2.0, seed=0)
    assert np.all((1 - net.layers[0].mask).sum(axis=1) == 3)
    assert np.all((1 - net.layers[1].mask).sum(axis=1) == 2)
    for layer in net.layers:
        assert np.all(layer.fixed[layer.mask == 1] == 0.0)
        assert np.all(layer.fixed[layer.mask == 0] != 0.0)
    zero = w_mlp([10, 8, 4], n_fixed=3, sigma_F=0.0, seed=0)
    assert all(np.all(layer.fixed == 0) for layer in zero.layers)
    # runs of one structure share masks and fixed parts, differ in weights
    a = w_mlp([10, 8, 4], n_fixed=3, seed=1, structure_seed=7)
    b = w_mlp([10, 8, 4], n_fixed=3, seed=2, structure_seed=7)
    assert a.structure_differences(b) == []
    assert not np.array_equal(a.layers[0].weight, b.layers[0].weight)
    syre = syre_mlp([10, 8, 4], kappa=0.3, seed=0)
    assert all(np.all(layer.mask == 1) and np.any(layer.fixed != 0) for layer in syre.layers)
    sig = sigma_asymmetric_mlp([10, 8, 4], seed=0)
    assert sig.layers[0].is_sigma_asymmetric and len(set(sig.layers[0].names)) == 8
    bern = w_mlp([200, 300, 2], p_fixed=0.25, seed=0)
    assert abs((1 - bern.layers[0].mask).mean() - 0.25) < 0.01  # 60,000 Bernoulli draws: 5 sd ~ 0.009


def test_structure_differences_are_named():
    a = standard_mlp([4, 5, 2], seed=0)
    assert "sizes differ" in a.structure_differences(standard_mlp([4, 6, 2]))[0]
    b = w_mlp([4, 5, 2], n_fixed=1, seed=0)
    diffs = a.structure_differences(b)
    assert any("masks differ" in d for d in diffs) and any("fixed parts differ" in d for d in diffs)
    c = standard_mlp([4, 5, 2], activation="tanh", seed=0)
    assert "activations differ" in a.structure_differences(c)[0]


def test_activation_catalogue_parses_and_matches_formulas():
    z = np.linspace(-3, 3, 61)
    ref = {
        "identity": z,
        "relu": np.maximum(z, 0),
        "leaky_relu": np.where(z > 0, z, 0.01 * z),
        "tanh": np.tanh(z),
        "sigmoid": 1 / (1 + np.exp(-z)),
        "softplus": np.log1p(np.exp(z)),
        "elu": np.where(z > 0, z, np.expm1(z)),
        "silu": z / (1 + np.exp(-z)),
        "hard_tanh": np.clip(z, -1, 1),
    }
    for name in CATALOGUE:
        parse_activation(name)
        if name in ref:
            np.testing.assert_allclose(apply_activation(name, z), ref[name], rtol=1e-14, atol=1e-15)
    assert parse_activation("leaky_relu:0.01").name == "leaky_relu"
    assert parse_activation("leaky_relu:0.2").name == "leaky_relu:0.2"


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("swishy", "unknown activation 'swishy'"),
        ("", "non-empty"),
        ("relu:2", "takes no parameter"),
        ("leaky_relu:abc", "is not a number"),
        ("leaky_relu:1.5", "[0, 1)"),
        ("elu:-1", "alpha must be > 0"),
    ],
)
def test_bad_activation_names(spec, fragment):
    with pytest.raises(UnknownActivationError, match=None) as info:
        parse_activation(spec)
    assert fragment in str(info.value)


# --- files --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(NETS))
@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_exact_round_trip(tmp_path, kind, suffix):
    net = NETS[kind]()
    path = tmp_path / f"net{suffix}"
    save_network(net, path)
    back = load_network(path)
    assert_same_network(net, back)
    X = np.random.default_rng(0).normal(size=(4, 5))
    assert np.array_equal(net(X), back(X))


@settings(deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    seed=st.integers(0, 2**16),
    suffix=st.sampled_from([".safetensors", ".npz"]),
)
def test_round_trip_property(tmp_path_factory, sizes, seed, suffix):
    net = w_mlp(sizes, p_fixed=0.3, sigma_F=0.7, seed=seed, activation="gelu")
    path = tmp_path_factory.mktemp("rt") / f"n{suffix}"
    save_network(net, path)
    assert_same_network(net, load_network(path))


def test_float32_tensors_and_missing_optionals_load(tmp_path):
    from safetensors.numpy import save_file

    W0 = np.ones((3, 2), dtype=np.float32)
    W1 = np.ones((1, 3), dtype=np.float32)
    path = tmp_path / "min.safetensors"
    save_file({"layers.0.weight": W0, "layers.1.weight": W1}, str(path),
              metadata={"neuronid": json.dumps({"format": "neuronid.mlp/1", "activations": ["relu"]})})
    net = load_network(path)
    assert net.sizes == [2, 3, 1]
    assert np.all(net.layers[0].mask == 1) and np.all(net.layers[0].bias == 0)


def test_metadata_missing_is_ok_with_explicit_activations(tmp_path):
    path = tmp_path / "nometa.npz"
    np.savez(path, **network_tensors(standard_mlp([2, 3, 1])))
    with pytest.raises(FileFormatError, match="metadata missing"):
        load_network(path)
    assert load_network(path, activations=["tanh"]).activations == ["tanh"]


def _write_npz(path, **arrays):
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def _bad_network_files(tmp_path):
    good = network_tensors(standard_mlp([2, 3, 1], seed=0))
    meta = np.array(json.dumps({"format": "neuronid.mlp/1", "activations": ["relu"]}))
    cases = {}

    def case(name, exc, fragment, **overrides):
        arrays = {**good, "metadata": meta, **overrides}
        arrays = {k: v for k, v in arrays.items() if v is not None}
        cases[name] = (_write_npz(tmp_path / f"{name}.npz", **arrays), exc, fragment)

    case("weight-missing", InvalidNetworkError, "'layers.1.weight' is missing", **{"layers.1.weight": None})
    case("wrong-shape-bias", InvalidNetworkError, "'layers.0.bias' must have shape (3,)", **{"layers.0.bias": np.zeros(4)})
    case("inconsistent-layers", InvalidNetworkError, "has 4 inputs but layer 0 has 3", **{"layers.1.weight": np.zeros((1, 4)), "layers.1.mask": np.ones((1, 4)), "layers.1.fixed": np.zeros((1, 4))})
    case("mask-not-binary", InvalidNetworkError, "mask entries must be 0 or 1", **{"layers.0.mask": np.full((3, 2), 0.5)})
    case("nan-weight", InvalidNetworkError, "NaN or Inf", **{"layers.0.weight": np.full((3, 2), np.nan)})
    case("inf-fixed", InvalidNetworkError, "NaN or Inf", **{"layers.0.fixed": np.full((3, 2), np.inf)})
    case("int-weight", InvalidNetworkError, "expected float32 or float64", **{"layers.0.weight": np.ones((3, 2), dtype=np.int64)})
    case("complex-weight", InvalidNetworkError, "dtype complex128", **{"layers.0.weight": np.ones((3, 2), dtype=complex)})
    case("weight-1d", InvalidNetworkError, "must be 2-D", **{"layers.0.weight": np.ones(3)})
    case("stray-tensor", InvalidNetworkError, "unexpected tensor 'foo'", foo=np.ones(2))
    case("bad-json", FileFormatError, "not valid JSON", metadata=np.array("{not json"))
    case("json-no-activations", FileFormatError, "key 'activations'", metadata=np.array("{}"))
    case("wrong-format", FileFormatError, "is not supported", metadata=np.array(json.dumps({"format": "other/9", "activations": ["relu"]})))
    case("unknown-activation", UnknownActivationError, "unknown activation 'swishy'", metadata=np.array(json.dumps({"activations": ["swishy"]})))
    case("activation-count", InvalidNetworkError, "need 1 hidden-layer activations, found 2", metadata=np.array(json.dumps({"activations": ["relu", "relu"]})))
    case("per-neuron-count", UnknownActivationError, "has 2 entries, expected 3", metadata=np.array(json.dumps({"activations": [["relu", "tanh"]]})))
    case("metadata-array", FileFormatError, "'metadata' must be a string", metadata=np.zeros(3))
    obj = np.empty(2, dtype=object)
    obj[:] = [1, "x"]
    cases["pickled"] = (_write_npz(tmp_path / "pickled.npz", **{**good, "metadata": meta, "layers.0.weight": obj}), UnsafeFileError, "never unpickles")
    text = tmp_path / "text.npz"
    text.write_text("this is not an archive\n")
    cases["text-as-npz"] = (text, FileFormatError, "not a valid .npz file")
    save_network(standard_mlp([2, 3, 1]), tmp_path / "full.safetensors")
    blob = (tmp_path / "full.safetensors").read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(blob[: len(blob) // 2])
    cases["truncated-safetensors"] = (tmp_path / "trunc.safetensors", FileFormatError, "not a readable safetensors file")
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00" * 5)
    cases["garbage-safetensors"] = (tmp_path / "garbage.safetensors", FileFormatError, "not a readable safetensors file")
    cases["missing"] = (tmp_path / "nope.npz", FileFormatError, "no such file")
    cases["folder"] = (tmp_path, FileFormatError, "is a folder")
    (tmp_path / "net.pt").write_bytes(b"x")
    cases["suffix"] = (tmp_path / "net.pt", FileFormatError, "unknown network file type '.pt'")
    return cases


BAD_NETWORK_CASES = [
    "weight-missing", "wrong-shape-bias", "inconsistent-layers", "mask-not-binary", "nan-weight",
    "inf-fixed", "int-weight", "complex-weight", "weight-1d", "stray-tensor", "bad-json",
    "json-no-activations", "wrong-format", "unknown-activation", "activation-count", "per-neuron-count",
    "metadata-array", "pickled", "text-as-npz", "truncated-safetensors", "garbage-safetensors", "missing",
    "folder", "suffix",
]


@pytest.mark.parametrize("name", BAD_NETWORK_CASES)
def test_bad_network_files(tmp_path, name):
    path, exc, fragment = _bad_network_files(tmp_path)[name]
    with pytest.raises(exc) as info:
        load_network(path)
    message = str(info.value)
    assert fragment in message, message
    assert "\n" not in message  # one line
    if name not in ("unknown-activation", "per-neuron-count"):
        assert str(path) in message  # names the file


def test_data_round_trip_and_bad_data(tmp_path):
    X = np.arange(12.0).reshape(4, 3)
    save_data(tmp_path / "d.npz", X, np.array([0, 1, 1, 0]))
    data = load_data(tmp_path / "d.npz")
    assert np.array_equal(data.X, X) and data.y.dtype == np.int64 and data.task == "classification"
    save_data(tmp_path / "r.npz", X, np.ones(4))
    assert load_data(tmp_path / "r.npz").y.shape == (4, 1)

    cases = [
        ({"y": np.zeros(4)}, "no array 'X'"),
        ({"X": np.zeros((0, 3))}, "is empty"),
        ({"X": np.array([[np.nan, 1.0]])}, "NaN or Inf"),
        ({"X": np.zeros(3)}, "must be 2-D"),
        ({"X": X, "y": np.array([0, 1])}, "'y' has 2 rows but 'X' has 4 rows"),
        ({"X": X, "y": np.array([0, -1, 0, 0])}, "must be >= 0"),
        ({"X": X, "y": np.array([0.0, np.inf, 0, 0])}, "'y' contains NaN or Inf"),
        ({"X": np.array([["a", "b"]])}, "must be real numbers"),
    ]
    for i, (arrays, fragment) in enumerate(cases):
        path = _write_npz(tmp_path / f"bad{i}.npz", **arrays)
        with pytest.raises(InvalidDataError) as info:
            load_data(path)
        assert fragment in str(info.value) and str(path) in str(info.value)
    (tmp_path / "d.csv").write_text("1,2")
    with pytest.raises(FileFormatError, match="data files are .npz"):
        load_data(tmp_path / "d.csv")


def test_data_checked_against_network(tmp_path):
    net = standard_mlp([3, 4, 2])
    save_data(tmp_path / "d.npz", np.zeros((4, 5)), np.array([0, 1, 1, 0]))
    with pytest.raises(InvalidDataError, match="has 5 features but the network expects 3"):
        check_data_for(net, load_data(tmp_path / "d.npz"))
    save_data(tmp_path / "e.npz", np.zeros((4, 3)), np.array([0, 1, 2, 0]))
    with pytest.raises(InvalidDataError, match=r"labels 'y' must lie in \[0, 1\]"):
        check_data_for(net, load_data(tmp_path / "e.npz"))
    with pytest.raises(InvalidDataError, match="expects 3 input features"):
        net(np.zeros((2, 4)))


@pytest.mark.parametrize(
    "call, exc, fragment",
    [
        (lambda: standard_mlp([3]), InvalidOptionError, "at least an input and an output"),
        (lambda: standard_mlp([3, 0, 2]), InvalidOptionError, "all >= 1"),
        (lambda: w_mlp([3, 4, 2]), InvalidOptionError, "exactly one of n_fixed"),
        (lambda: w_mlp([3, 4, 2], n_fixed=5), InvalidOptionError, "n_fixed for layer 0 must lie in [0, 3]"),
        (lambda: w_mlp([3, 4, 2], p_fixed=1.5), InvalidOptionError, "p_fixed for layer 0 must lie in [0, 1]"),
        (lambda: w_mlp([3, 4, 2], n_fixed=1, sigma_F=-1), InvalidOptionError, "w_mlp: sigma_F must be a finite number >= 0, found -1"),
        (lambda: syre_mlp([3, 4, 2], kappa=float("nan")), InvalidOptionError, "syre_mlp: kappa must be a finite number >= 0, found nan"),
        (lambda: standard_mlp([3, 4, 2], activation="nope"), UnknownActivationError, "unknown activation"),
        (lambda: Network([]), InvalidNetworkError, "at least one layer"),
        (lambda: Network([Layer(np.ones((2, 2)))] * 2), InvalidNetworkError, "hidden layers need an activation"),
        (lambda: Network([Layer(np.ones((2, 2)), activation="relu")]), InvalidNetworkError, "output layer has no activation"),
    ],
)
def test_bad_constructor_arguments(call, exc, fragment):
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value)


def test_json_writes_nonfinite_as_null_with_reason(tmp_path):
    obj = {"cost": float("inf"), "K": np.array([[1.0, np.inf], [np.nan, 2.0]]), "n": np.int64(3)}
    out = to_jsonable(obj)
    assert out["cost"] is None and "inf" in out["cost_reason"]
    assert out["K"] == [[1.0, None], [None, 2.0]] and "nan" in out["K_reason"] and "inf" in out["K_reason"]
    write_json(tmp_path / "x.json", obj)
    assert json.loads((tmp_path / "x.json").read_text())["n"] == 3
    with pytest.raises(FileFormatError, match="does not exist"):
        write_json(tmp_path / "nofolder" / "x.json", obj)
