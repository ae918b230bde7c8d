"""D7: proved symmetries per activation; nothing claimed that was not proved."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from neuronid.theory import CATALOGUE, find_symmetries, get_activation, prove_symmetry
from neuronid.theory.activations import Z
from neuronid.theory.symmetries import SYMMETRY_NAMES, _alpha, _c, neuron_invariance

EXPECTED = {
    "identity": {"positive_homogeneity", "odd", "relu_identity", "permutation"},
    "relu": {"positive_homogeneity", "relu_identity", "permutation"},
    "leaky_relu": {"positive_homogeneity", "relu_identity", "permutation"},
    "gelu": {"relu_identity", "permutation"},
    "tanh": {"odd", "permutation"},
    "sigmoid": {"complementarity", "permutation"},
    "softplus": {"relu_identity", "permutation"},
    "elu": {"permutation"},
    "silu": {"relu_identity", "permutation"},
    "hard_tanh": {"odd", "permutation"},
    "sympy:z**2": {"positive_homogeneity", "even", "permutation"},
    "sympy:z**3": {"positive_homogeneity", "odd", "permutation"},
    "sympy:sin(z)": {"odd", "periodicity", "permutation"},
    "sympy:Abs(z)": {"positive_homogeneity", "even", "permutation"},
}


@pytest.mark.parametrize("spec", list(EXPECTED))
def test_proved_sets(spec):
    syms = find_symmetries(spec)
    assert [s.name for s in syms] == list(SYMMETRY_NAMES)
    assert {s.name for s in syms if s.proved} == EXPECTED[spec]
    for s in syms:
        assert s.status in ("proved", "disproved", "undetermined", "not_applicable")


def test_constants():
    assert prove_symmetry("sigmoid", "complementarity").constant == "K = 1"
    assert prove_symmetry("relu", "relu_identity").constant == "lam = 1"
    assert prove_symmetry("leaky_relu:0.2", "relu_identity").constant == "lam = 6/5"
    assert prove_symmetry("sympy:z**2", "positive_homogeneity").constant == "k = 2"
    assert prove_symmetry("sympy:sin(z)", "periodicity").constant == "T = 2*pi"
    assert prove_symmetry("sympy:z**2", "relu_identity").status == "not_applicable"


def _neuron_check(act, sym, u, c=1.7, alpha=1.3):
    """Numerically apply the proved neuron transformation; return the change."""
    f = act.numpy
    if sym.name == "positive_homogeneity":
        k = float(sp.sympify(sym.constant.split("=")[1]))
        return c * alpha ** (-k) * f(alpha * u) - c * f(u)
    if sym.name == "odd":
        return -c * f(-u) - c * f(u)
    if sym.name == "even":
        return c * f(-u) - c * f(u)
    if sym.name == "complementarity":
        K = float(sp.sympify(sym.constant.split("=")[1]))
        return -c * f(-u) + K * c - c * f(u)
    if sym.name == "relu_identity":
        lam = float(sp.sympify(sym.constant.split("=")[1]))
        return c * f(-u) + lam * c * u - c * f(u)
    if sym.name == "periodicity":
        T = float(sp.sympify(sym.constant.split("=")[1]))
        return c * f(u + T) - c * f(u)
    return np.zeros_like(u)


@pytest.mark.parametrize("spec", list(EXPECTED))
def test_proved_transformations_hold_numerically(spec):
    act = get_activation(spec)
    u = np.linspace(-6, 6, 241)
    for s in find_symmetries(spec):
        if s.proved:
            assert np.allclose(_neuron_check(act, s, u), 0, atol=1e-12), s.name


@pytest.mark.parametrize("spec", CATALOGUE)
def test_disproofs_have_genuine_witnesses(spec):
    for s in find_symmetries(spec):
        if s.status == "disproved" and s.witness and "value" in s.witness:
            assert abs(float(s.witness["value"])) > 1e-6


def test_checker_rejects_false_transformations():
    tanh, relu = sp.tanh(Z), sp.Max(0, Z)
    assert neuron_invariance(tanh, _c, -1)[0].status == "disproved"           # tanh is not even
    assert neuron_invariance(relu, _c / _alpha**2, _alpha)[0].status == "disproved"  # wrong degree
    assert neuron_invariance(relu, _c, -1, extra=-_c * Z)[0].status == "disproved"   # wrong sign
    sig = 1 / (1 + sp.exp(-Z))
    assert neuron_invariance(sig, -_c, -1, extra=2 * _c)[0].status == "disproved"   # wrong K
    assert neuron_invariance(sig, -_c, -1, extra=_c)[0].status == "proved"


def test_to_dict_keys():
    d = prove_symmetry("tanh", "odd").to_dict()
    assert {"name", "transformation", "proved"} <= set(d) and d["proved"] is True


def test_unknown_symmetry_name():
    with pytest.raises(ValueError, match="unknown symmetry"):
        prove_symmetry("relu", "mirror")
