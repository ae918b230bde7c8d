"""The numeric fallback is conservative: enclosures contain the values, sup bounds
are never below the exact suprema, and they agree with SymPy's closed forms."""

from __future__ import annotations

import math

import mpmath
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from neuronid.theory.activations import Z, analyze, get_activation
from neuronid.theory._interval import Enclosure, IntervalUnsupported, sign_regions, sup_abs


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "gelu", "elu", "elu:0.5"])
def test_forced_numeric_agrees_with_exact(name):
    """Where SymPy has the exact constant, the numeric bound is >= it and within 1e-8."""
    act = get_activation(name)
    num = analyze(act.expr, force_numeric=True)
    assert num.lipschitz.method.startswith("numeric") and num.lipschitz.exact is None
    exact_lip = float(sp.N(act.lipschitz_exact, 30))
    assert exact_lip <= num.lipschitz.value <= exact_lip + 1e-8
    if act.curvature_exact is not None:
        exact_m = float(sp.N(act.curvature_exact, 30))
        assert exact_m <= num.curvature.value <= exact_m + 1e-8
    assert num.monotone == act.monotone


def test_forced_numeric_monotonicity_matches_symbolic():
    assert analyze(get_activation("relu").expr, force_numeric=True).monotone == "non_decreasing"
    num = analyze(Z**2, force_numeric=True)
    assert num.monotone == "non_monotone"
    (lo, hi), = num.decreasing_intervals
    assert lo == -math.inf and abs(hi) < 1e-9


def test_narrow_peak_between_grid_points_is_not_missed():
    """A peak of width 1e-4 far from any initial grid point still bounds from above."""
    f = 1 / (1 + (10**4 * (Z - sp.Rational(123457, 10**6))) ** 2)
    res = sup_abs(f, Z, -20, 20)
    assert res.upper >= 1.0 and res.upper < 1 + 1e-9


def test_sign_regions_locates_roots():
    regions = sign_regions(Z**2 - 2, Z, 0, 3)
    neg = [r for r in regions if r[2] == -1]
    pos = [r for r in regions if r[2] == 1]
    assert neg[0][0] == 0 and abs(neg[0][1] - math.sqrt(2)) < 1e-9
    assert abs(pos[0][0] - math.sqrt(2)) < 1e-9 and pos[-1][1] == 3


def test_cancellation_resolved_by_precision():
    """gelu' at z in [-19, -18] is ~1e-78 after cancellation in 1 + erf: sign still proved."""
    d1 = sp.diff(get_activation("gelu").expr, Z)
    regions = sign_regions(d1, Z, -19, -18)
    assert all(s == -1 for _, _, s in regions)


def test_unsupported_function():
    with pytest.raises(IntervalUnsupported):
        Enclosure(sp.gamma(Z), Z)


FUNCS = [sp.tanh(Z) * Z, sp.erf(Z) - sp.exp(-Z**2), sp.sin(3 * Z) + sp.cos(Z) ** 2,
         sp.log(1 + sp.exp(Z)), sp.sqrt(Z**2 + 1) / (2 + sp.cos(Z)), sp.atan(Z) * sp.sinh(Z / 4),
         sp.Abs(Z - 1) + sp.Max(Z, 0) ** 3, sp.erfc(Z) * sp.cosh(Z / 3) + sp.asinh(Z)]


@given(st.sampled_from(range(len(FUNCS))), st.floats(-8, 8), st.floats(0, 3),
       st.lists(st.floats(0, 1), min_size=1, max_size=5))
def test_enclosure_contains_values(i, lo, width, fracs):
    f = FUNCS[i]
    enc = Enclosure(f, Z)
    with mpmath.workprec(64):
        a, b = mpmath.mpf(lo), mpmath.mpf(lo + width)
        elo, ehi = enc(a, b)
    fn = sp.lambdify(Z, f, modules="mpmath")
    with mpmath.workdps(40):
        for fr in fracs:
            v = fn(mpmath.mpf(lo) + mpmath.mpf(width) * mpmath.mpf(fr))
            assert elo <= v <= ehi


@given(st.integers(1, 20), st.integers(-12, 12), st.integers(-8, 8))
def test_sup_abs_bounds_quadratic(a4, b4, c4):
    """sup |-(a)(z-b)^2 + c| on [-4, 4] has a closed form; the bound brackets it."""
    a, b, c = a4 / 4, b4 / 4, c4 / 4
    f = -sp.Rational(a4, 4) * (Z - sp.Rational(b4, 4)) ** 2 + sp.Rational(c4, 4)
    ends = [abs(-a * (x - b) ** 2 + c) for x in (-4.0, 4.0)]
    true = max(ends + [abs(c)])
    res = sup_abs(f, Z, -4, 4)
    assert res.upper >= true * (1 - 1e-15)
    assert res.upper <= true + 1e-9 * max(1, true)
    assert res.lower <= true * (1 + 1e-15)
