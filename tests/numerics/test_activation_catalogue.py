"""One activation catalogue: the numerics accept exactly the theory layer's names, keep
closed forms that agree with the theory layer's analysis, and decide per-layer vs
per-neuron kernels in one place (issue 10)."""

import ast
from pathlib import Path

import numpy as np
import pytest

import neuronid.numerics.activations as act
from neuronid.errors import UnknownActivationError
from neuronid.theory import _names
from neuronid.theory.activations import canonical_name, get_activation

SPECS = list(_names.CATALOGUE) + ["leaky_relu:0.2", "leaky_relu:0.0", "elu:0.5"]


def test_one_name_table_and_a_kernel_for_every_name():
    assert act.CATALOGUE is _names.CATALOGUE
    assert set(act.KERNEL_CODES) == set(_names.CATALOGUE)
    assert len(set(act.KERNEL_CODES.values())) == len(act.KERNEL_CODES)


@pytest.mark.parametrize("alias, canonical", sorted(_names.ALIASES.items()) + [(" ReLU ", "relu"), ("GELU", "gelu")])
def test_both_layers_accept_the_same_aliases(alias, canonical):
    """theory accepted swish/hardtanh/linear while the numerics rejected them (issue 10)."""
    assert act.parse_activation(alias).name == canonical == canonical_name(alias)
    z = np.linspace(-3.0, 3.0, 13)
    assert np.array_equal(act.apply_activation(alias, z), act.apply_activation(canonical, z))


@pytest.mark.parametrize("spec", ["swishy", "sympy", "relu6", "leaky relu"])
def test_both_layers_reject_unknown_names(spec):
    with pytest.raises(UnknownActivationError, match="unknown activation|needs an expression"):
        canonical_name(spec)
    with pytest.raises(UnknownActivationError, match="unknown activation"):
        act.parse_activation(spec)


def test_a_name_without_a_kernel_gets_one_clear_error(monkeypatch):
    """The one place that would report a theory name the numerics cannot evaluate."""
    monkeypatch.delitem(act.KERNEL_CODES, "silu")
    act.parse_activation.cache_clear()
    try:
        with pytest.raises(UnknownActivationError, match="no numeric kernel for 'silu'"):
            act.parse_activation("swish")
    finally:
        act.parse_activation.cache_clear()


@pytest.mark.parametrize("spec", SPECS)
def test_monotonicity_table_agrees_with_the_theory_layer(spec):
    """The closed-form table is a fast path for the theory layer's proved monotonicity."""
    assert act.activation_monotonicity(spec) == get_activation(spec).monotone


@pytest.mark.parametrize("spec", [s for s in SPECS if act.activation_monotonicity(s) == "strictly_increasing"])
def test_inverse_inverts_the_kernel(spec):
    z = np.linspace(-4.0, 4.0, 33)
    back = act.inverse_activation(spec, act.apply_activation(spec, z))
    assert np.allclose(back, z, rtol=1e-6, atol=1e-9)  # float64; tanh/sigmoid saturate slowly at |z| <= 4


@pytest.mark.parametrize(
    "codes, params, expected",
    [
        ([act.RELU] * 3, [0.0] * 3, ("uniform", act.RELU, 0.0)),
        ([act.LEAKY_RELU] * 2, [0.1, 0.1], ("uniform", act.LEAKY_RELU, 0.1)),
        ([act.LEAKY_RELU] * 2, [0.1, 0.2], ("columns", act.EXTERNAL, 0.0)),
        ([act.RELU, act.TANH], [0.0, 0.0], ("columns", act.EXTERNAL, 0.0)),
        ([act.EXTERNAL, act.EXTERNAL], [0.0, 0.0], ("external", act.EXTERNAL, 0.0)),
        ([act.RELU, act.EXTERNAL], [0.0, 0.0], ("external", act.EXTERNAL, 0.0)),
    ],
)
def test_layer_dispatch(codes, params, expected):
    assert act.layer_dispatch(np.array(codes, dtype=np.int64), np.array(params)) == expected


def test_uniform_and_per_neuron_kernels_agree():
    Z = np.random.default_rng(0).normal(size=(50, 4))
    names, codes, params = act.layer_activations("gelu", 4)
    names_c, codes_c, params_c = act.layer_activations(["gelu", "gelu", "tanh", "gelu"], 4)
    uniform = act.apply_layer(Z.copy(), names, codes, params)
    mixed = act.apply_layer(Z.copy(), names_c, codes_c, params_c)
    assert np.array_equal(uniform[:, [0, 1, 3]], mixed[:, [0, 1, 3]])
    # numba's libm tanh and numpy's may differ in the last bit
    assert np.allclose(mixed[:, 2], np.tanh(Z[:, 2]), rtol=4 * np.finfo(float).eps, atol=0.0)


def test_theory_activations_does_not_import_symmetries():
    """The import loop theory/activations.py <-> theory/symmetries.py stays broken."""
    import neuronid.theory.activations as mod

    tree = ast.parse(Path(mod.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not any(name.endswith("symmetries") for name in imported)


def test_an_alias_is_stored_under_its_canonical_name(tmp_path):
    """A network built with 'swish' is a silu network; files carry the canonical name."""
    from neuronid.numerics.io import load_network, save_network
    from neuronid.numerics.structures import standard_mlp

    net = standard_mlp([3, 4, 2], activation="Swish", seed=0)
    assert net.activations == ["silu"]
    save_network(net, tmp_path / "n.npz")
    back = load_network(tmp_path / "n.npz")
    assert back.activations == ["silu"]
    X = np.random.default_rng(1).normal(size=(5, 3))
    assert np.array_equal(back.forward(X), standard_mlp([3, 4, 2], activation="silu", seed=0).forward(X))
