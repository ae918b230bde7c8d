"""Activations: known constants, methods, numpy callables, caching, user expressions."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from neuronid.theory import CATALOGUE, UnknownActivationError, get_activation
from neuronid.theory.activations import Z, canonical_name

GRID = np.concatenate([np.linspace(-30, 30, 1201), [0.0, -1.0, 1.0, 1e-300, -1e-300]])


def exact_equal(a: sp.Expr, b: sp.Expr) -> bool:
    return sp.simplify(a - b) == 0


def mp_reference(expr: sp.Expr, x: float) -> float:
    """sigma(x) evaluated by mpmath (independent of the numpy code) with enough digits to
    survive the cancellation in 1 + erf(x) (about x**2/4.6 digits) or exp(x) - 1 (about
    -log10|x| digits)."""
    fn = sp.lambdify(Z, expr, modules="mpmath")
    digits = 60 + int(x * x / 4) + (int(abs(math.log10(abs(x)))) if x != 0 else 0)
    with mpmath.workdps(digits):
        return float(fn(mpmath.mpf(x)))


# ------------------------------------------------------------------- known constants


def test_catalogue_names():
    assert CATALOGUE == ("identity", "relu", "leaky_relu", "gelu", "tanh", "sigmoid", "softplus",
                         "elu", "silu", "hard_tanh")
    for name in CATALOGUE:
        assert get_activation(name).name == name


def test_tanh_constants_exact():
    a = get_activation("tanh")
    assert a.monotone == "strictly_increasing"
    assert exact_equal(a.lipschitz_exact, 1) and a.lipschitz == 1.0
    assert exact_equal(a.curvature_exact, 4 / (3 * sp.sqrt(3)))
    assert a.curvature == pytest.approx(4 / (3 * math.sqrt(3)), rel=1e-15)
    assert a.curvature >= float(sp.N(4 / (3 * sp.sqrt(3)), 30)) * (1 - 1e-16)
    assert all(m.startswith("symbolic") for m in a.method.values())
    assert a.kinks == []


def test_sigmoid_constants_exact():
    a = get_activation("sigmoid")
    assert exact_equal(a.lipschitz_exact, sp.Rational(1, 4))
    assert exact_equal(a.curvature_exact, 1 / (6 * sp.sqrt(3)))
    assert a.monotone == "strictly_increasing"
    assert a.method["curvature"] == "symbolic"


def test_relu_kink_and_no_curvature():
    a = get_activation("relu")
    assert a.kinks == [(0.0, 0.0, 1.0)]
    assert a.curvature is None and a.piecewise_linear
    assert a.monotone == "non_decreasing"
    assert a.lipschitz == 1.0


def test_gelu_non_monotone_below_about_minus_075():
    a = get_activation("gelu")
    assert a.monotone == "non_monotone"
    (lo, hi), = a.decreasing_intervals
    assert lo == -math.inf and hi == pytest.approx(-0.7517915247, abs=1e-8)
    assert a.method["monotone"].startswith("numeric")
    d = a.derivative_numpy
    assert d(np.array([hi - 1e-6]))[0] < 0 < d(np.array([hi + 1e-6]))[0]
    # Lip and M have closed forms (critical points +-sqrt(2), 0, +-2)
    assert exact_equal(a.lipschitz_exact, (1 + sp.erf(1)) / 2 + sp.exp(-1) / sp.sqrt(sp.pi))
    assert exact_equal(a.curvature_exact, sp.sqrt(2 / sp.pi))


@pytest.mark.parametrize("spec, monotone, lip, curv, kinks", [
    ("identity", "strictly_increasing", 1, 0, []),
    ("leaky_relu", "strictly_increasing", 1, None, [(0.0, 0.01, 1.0)]),
    ("leaky_relu:0.2", "strictly_increasing", 1, None, [(0.0, 0.2, 1.0)]),
    ("leaky_relu:-0.5", "non_monotone", 1, None, [(0.0, -0.5, 1.0)]),
    ("softplus", "strictly_increasing", 1, sp.Rational(1, 4), []),
    ("elu", "strictly_increasing", 1, 1, []),
    ("elu:0.5", "strictly_increasing", 1, sp.Rational(1, 2), [(0.0, 0.5, 1.0)]),
    ("hard_tanh", "non_decreasing", 1, None, [(-1.0, 0.0, 1.0), (1.0, 1.0, 0.0)]),
    ("sympy:z**2", "non_monotone", sp.oo, 2, []),
    ("sympy:Abs(z)", "non_monotone", 1, None, [(0.0, -1.0, 1.0)]),
])
def test_symbolic_table(spec, monotone, lip, curv, kinks):
    a = get_activation(spec)
    assert a.monotone == monotone
    assert a.lipschitz == float(lip)
    assert a.method["lipschitz"] == "symbolic"
    if curv is None:
        assert a.curvature is None
    else:
        assert a.curvature == float(curv) and a.method["curvature"] == "symbolic"
    assert [tuple(k) for k in a.kinks] == [pytest.approx(k) for k in kinks]


def test_silu_numeric_fallback_labelled():
    a = get_activation("silu")
    assert a.monotone == "non_monotone"
    (lo, hi), = a.decreasing_intervals
    assert hi == pytest.approx(-1.2784645427, abs=1e-8)
    assert a.method["lipschitz"].startswith("numeric") and a.method["curvature"].startswith("numeric")
    assert 1.0998393 < a.lipschitz < 1.0998394
    assert 0.5 <= a.curvature < 0.5 + 1e-9  # sup |silu''| = silu''(0) = 1/2, bounded from above


@pytest.mark.parametrize("name", CATALOGUE)
def test_constants_bound_the_grid(name):
    """Lip >= max |sigma'| and M >= max |sigma''| on a dense grid (and are attained closely)."""
    a = get_activation(name)
    x = np.linspace(-12, 12, 48001)
    d1 = a.derivative_numpy(x)
    assert np.max(np.abs(d1)) <= a.lipschitz * (1 + 1e-12)
    assert np.max(np.abs(d1)) >= a.lipschitz - 1e-3
    if a.curvature is not None:
        d2 = sp.lambdify(Z, a.second_derivative, modules=[{"erf": __import__("scipy").special.erf}, "numpy"])
        vals = np.broadcast_to(np.asarray(d2(x), dtype=float), x.shape)
        assert np.nanmax(np.abs(vals)) <= a.curvature * (1 + 1e-12) + 1e-15


@pytest.mark.parametrize("name", list(CATALOGUE) + ["leaky_relu:0.3", "elu:2"])
def test_numpy_matches_sympy_reference(name):
    a = get_activation(name)
    xs = np.array([-25.0, -7.5, -1.0, -0.3, 0.0, 0.3, 1.0, 2.5, 7.5, 25.0])
    got = a.numpy(xs)
    assert got.dtype == np.float64 and got.shape == xs.shape
    for x, g in zip(xs, got):
        ref = mp_reference(a.expr, x)
        assert g == pytest.approx(ref, rel=1e-13, abs=1e-300)
    dgot = a.derivative_numpy(xs[xs != 0])
    for x, g in zip(xs[xs != 0], dgot):
        ref = mp_reference(a.derivative, x)
        assert g == pytest.approx(ref, rel=1e-12, abs=1e-300)


@given(st.floats(-40, 40, allow_nan=False))
def test_numpy_matches_reference_property(x):
    for name in ("gelu", "silu", "softplus", "sigmoid", "elu", "tanh"):
        a = get_activation(name)
        assert a.numpy(np.array([x]))[0] == pytest.approx(mp_reference(a.expr, x), rel=1e-12, abs=1e-300)


def test_kink_derivative_convention():
    assert get_activation("relu").derivative_numpy(np.array([0.0]))[0] == 0.0
    assert get_activation("leaky_relu:0.2").derivative_numpy(np.array([0.0]))[0] == 0.2
    assert get_activation("hard_tanh").derivative_numpy(np.array([-1.0, 1.0])).tolist() == [0.0, 0.0]


def test_caching_and_canonical_names():
    assert get_activation("relu") is get_activation(" ReLU ")
    assert get_activation("leaky_relu") is get_activation("leaky_relu:0.01")
    assert get_activation("elu:1.0") is get_activation("elu")
    assert canonical_name("leaky_relu:0.20") == "leaky_relu:0.2"
    assert canonical_name("sympy:z^2") == "sympy:z**2"
    assert get_activation("hardtanh").name == "hard_tanh"


def test_unknown_activation_lists_valid_names():
    with pytest.raises(UnknownActivationError, match="valid: identity, relu") as info:
        get_activation("swishy")
    assert isinstance(info.value, ValueError)


@pytest.mark.slow
def test_mish_user_expression():
    a = get_activation("sympy:z*tanh(softplus(z))")  # mish: everything numeric
    assert a.monotone == "non_monotone"
    (lo, hi), = a.decreasing_intervals
    assert hi == pytest.approx(-1.19243, abs=1e-4)
    x = np.linspace(-5, 5, 11)
    assert np.allclose(a.numpy(x), x * np.tanh(np.log1p(np.exp(x))), rtol=1e-14)


def test_user_expressions():
    a = get_activation("sympy:z**3 - 3*z")
    assert a.monotone == "non_monotone" and a.decreasing_intervals == [(-1.0, 1.0)]
    assert a.method["monotone"].startswith("symbolic")
    x = np.linspace(-5, 5, 11)
    assert np.allclose(a.numpy(x), x**3 - 3 * x, rtol=1e-14)
    b = get_activation("sympy:z + sin(z)/2")
    assert b.monotone == "strictly_increasing" and b.method["monotone"].startswith("symbolic")
    assert 1.5 <= b.lipschitz < 1.5 + 1e-9
    c = get_activation("sympy:sqrt(Max(0, z))")
    assert c.lipschitz == math.inf and c.monotone == "non_decreasing"
    assert c.numpy(np.array([4.0, -1.0])).tolist() == [2.0, 0.0]


def test_constant_derivative_broadcasts():
    a = get_activation("sympy:3*z + 1")
    assert a.derivative_numpy(np.zeros((2, 3))).shape == (2, 3)
    assert a.lipschitz == 3.0 and a.curvature == 0.0


def test_user_derivative_at_kinks():
    """User piecewise expressions: sigma' at a kink is the slope of the containing piece."""
    x = np.array([-1.0, 0.0, 1.0])
    assert get_activation("sympy:Max(0, z)").derivative_numpy(x).tolist() == [0.0, 0.0, 1.0]
    assert get_activation("sympy:Min(1, Max(-1, z))").derivative_numpy(x).tolist() == [0.0, 1.0, 0.0]
    assert get_activation("sympy:relu(z) - relu(-z)").derivative_numpy(x).tolist() == [1.0, 1.0, 1.0]
    assert get_activation("sympy:z").numpy(x).tolist() == [-1.0, 0.0, 1.0]
