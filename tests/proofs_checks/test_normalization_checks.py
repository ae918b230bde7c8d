"""THEORY N2 numerically: the rescaled path is flat for eps = 0 (property test), the eps
effect is reported otherwise, and the large-eps counterexample is saved and re-checkable."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuronid.cli import main
from neuronid.errors import InvalidOptionError
from neuronid.numerics.io import load_data, load_network
from neuronid.numerics.structures import standard_mlp, w_mlp
from neuronid.proofs_checks.normalization_checks import N2_TOL, check_n2, scale_layer


@given(
    width=st.integers(2, 12),
    depth=st.integers(1, 3),
    layer=st.integers(0, 2),
    c=st.floats(0.05, 20.0),
    activation=st.sampled_from(["gelu", "relu", "tanh"]),
    seed=st.integers(0, 2**16),
)
def test_rescaled_path_is_flat_with_eps_zero(width, depth, layer, c, activation, seed):
    net = w_mlp([4] + [width] * depth + [3], n_fixed=1, activation=activation, norm="layer", norm_eps=0.0, seed=seed)
    layer = layer % depth
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(30, 4)), rng.integers(0, 3, size=30)
    out = check_n2(net, X, y, loss="ce", layer=layer, c=c)
    n = out["numbers"]
    assert out["verdict"] == "holds", n
    assert n["max_barrier"] <= N2_TOL and n["eps_effect"] <= 1e-14  # rho = 1 exactly; float rounding only
    assert n["max_output_difference_A_B"] <= 1e-12 * max(1.0, float(np.max(np.abs(net(X)))))


def test_eps_effect_is_reported():
    net = standard_mlp([4, 8, 3], activation="gelu", norm="layer", norm_eps=1e-5, seed=1)
    X = np.random.default_rng(2).normal(size=(40, 4))
    y = np.random.default_rng(3).integers(0, 3, size=40)
    out = check_n2(net, X, y, loss="ce", c=0.01)
    n = out["numbers"]
    assert out["verdict"] == "hypotheses not met" and out["hypotheses"]["H2_eps_zero"] == "fails"
    assert n["eps_effect"] > 0 and n["max_barrier"] > N2_TOL  # small c makes eps matter: measurable
    zero_eps = check_n2(standard_mlp([4, 8, 3], activation="gelu", norm="layer", norm_eps=0.0, seed=1), X, y,
                        loss="ce", c=0.01)
    assert zero_eps["verdict"] == "holds"


def test_scale_layer_and_bad_input():
    net = w_mlp([3, 5, 2], n_fixed=1, norm="layer", seed=0)
    B = scale_layer(net, 0, 3.0)
    np.testing.assert_array_equal(B.layers[0].effective_weight(), 3.0 * net.layers[0].effective_weight())
    np.testing.assert_array_equal(B.layers[1].weight, net.layers[1].weight)
    with pytest.raises(InvalidOptionError, match="c must be a finite number > 0"):
        scale_layer(net, 0, -1.0)
    with pytest.raises(InvalidOptionError, match="out of range"):
        scale_layer(net, 1, 2.0)
    with pytest.raises(InvalidOptionError, match="followed by a LayerNorm"):
        scale_layer(standard_mlp([3, 5, 2]), 0, 2.0)


def test_counterexample_large_eps_saved_and_recheckable(tmp_path, capsys):
    out = tmp_path / "n2"
    assert main(["counterexample", "N2", "--drop", "H2", "--out", str(out), "--seed", "0"]) == 0
    printed = capsys.readouterr().out
    assert "the symmetry breaks" in printed and "neuronid lmc" in printed
    witness = json.loads((out / "witness.json").read_text())
    n = witness["numbers"]
    assert witness["id"] == "N2" and witness["dropped"] == "H2_eps_zero"
    assert n["eps"] > 0 and n["B_lerp"] > 1e-3 and n["max_output_difference_A_B"] > 1e-3
    assert witness["check"]["conclusion"] == "fails"
    # re-check from the saved files only
    A, B = load_network(out / "A.safetensors"), load_network(out / "B.safetensors")
    data = load_data(out / "data.npz")
    again = check_n2(A, data.X, data.y, loss="mse", c=n["c"])
    assert again["numbers"]["B_lerp"] == pytest.approx(n["B_lerp"], rel=1e-12)
    np.testing.assert_allclose(scale_layer(A, 0, n["c"])(data.X), B(data.X), rtol=0, atol=0)
    code = main(["lmc", str(out / "A.safetensors"), str(out / "B.safetensors"), "--data", str(out / "data.npz"),
                 "--loss", "mse", "--json", str(tmp_path / "lmc.json")])
    assert code == 0
    assert json.loads((tmp_path / "lmc.json").read_text())["unaligned"]["B_lerp"] == pytest.approx(n["B_lerp"], rel=1e-12)
