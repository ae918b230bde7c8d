"""Accuracy of the vectorizable elementwise functions (numerics/_fast_math.py).

Reference: mpmath at 40 digits. Error in ulps of the exact result: ``|computed - exact|``
divided by the spacing of the float64 nearest the exact value (for subnormal results the
smallest subnormal). The bounds ``MAX_ULP`` are the ones the module docstring states.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.polynomial import chebyshev
from numba import config, njit

from neuronid.numerics import _fast_math as fm

MAX_ULP = {"exp": 1.0, "ndtr": 6.0, "gelu": 6.0, "normal_pdf": 2.0, "sigmoid": 3.0, "silu": 3.0, "tanh": 2.0}

_EXACT = {
    "exp": mp.exp,
    "ndtr": mp.ncdf,
    "gelu": lambda x: x * mp.ncdf(x),
    "normal_pdf": mp.npdf,
    "sigmoid": lambda x: 1 / (1 + mp.exp(-x)),
    "silu": lambda x: x / (1 + mp.exp(-x)),
    "tanh": mp.tanh,
}

# Python-mode kernels (NUMBA_DISABLE_JIT=1) are slow: smaller grids there
_GRID = 300 if config.DISABLE_JIT else 3000


def erfc_polynomial_coefficients(n_terms=25, nodes=60, dps=40, constants=None):
    """The coefficients (degree 0 first) behind ``_fast_math._ERFC_POLY``: the degree-24
    Chebyshev interpolant of ``g(y) = log(erfc(x) e^{x^2} / t)`` (``t = K/(K + x)``,
    ``y = A t + B`` with the module's float constants) at ``nodes`` Chebyshev points,
    truncated to ``n_terms`` terms and converted to monomials, all in ``dps``-digit
    arithmetic (Chebyshev terms beyond the 25th are below 3e-18; the sum of the monomial
    coefficients' magnitudes is 1.7, so Horner's rule loses nothing). ``constants``:
    another ``(K, A, B)`` (the float32 polynomial ``_ERFC_POLY32``: 11 terms, ``x`` in
    [0, 14.5/sqrt2], terms beyond the 11th sum to 5e-9)."""
    with mp.workdps(dps):
        K, A, B = (mp.mpf(float(v)) for v in (constants or (fm._ERFC_K, fm._CHEB_A, fm._CHEB_B)))

        def g(y):
            t = (y - B) / A
            x = K / t - K
            return mp.log(mp.erfc(x) * mp.exp(x * x) / t)

        ys = [mp.cos(mp.pi * (j + mp.mpf(1) / 2) / nodes) for j in range(nodes)]
        vals = [g(y) for y in ys]
        cheb = [2 * mp.fsum(vals[j] * mp.cos(mp.pi * k * (j + mp.mpf(1) / 2) / nodes) for j in range(nodes)) / nodes
                for k in range(n_terms)]
        cheb[0] /= 2
        return [float(v) for v in chebyshev.cheb2poly(np.array(cheb, dtype=object))]


def ulp_errors(name, xs):
    """Errors of ``evaluate(name, xs)`` in ulps of the exact values (finite exact values)."""
    xs = np.asarray(xs, dtype=np.float64)
    got = fm.evaluate(name, xs)
    with mp.workdps(40):
        exact = [_EXACT[name](mp.mpf(float(x))) for x in xs]
        ref = np.array([float(e) for e in exact])
        residual = np.array([float(e - mp.mpf(float(r))) for e, r in zip(exact, ref)])
    spacing = np.spacing(np.abs(ref))
    with np.errstate(invalid="ignore"):
        err = np.abs((got - ref) - residual) / spacing
    overflow = np.isinf(ref)  # the exact value is beyond float64: the result must be that infinity
    err[overflow] = np.where(got[overflow] == ref[overflow], 0.0, np.inf)
    return err, got, ref


def _grid(name):
    lo, hi = {"exp": (-745.2, 709.78), "ndtr": (-38.5, 9.0), "gelu": (-38.6, 9.0), "normal_pdf": (-38.6, 38.6),
              "sigmoid": (-746.0, 40.0), "silu": (-745.0, 40.0), "tanh": (-20.0, 20.0)}[name]
    rng = np.random.default_rng(0)
    tiny = np.logspace(-320, 0, _GRID // 6)
    return np.concatenate([np.linspace(lo, hi, _GRID), rng.uniform(-4.0, 4.0, _GRID // 3),
                           rng.uniform(lo, hi, _GRID // 3), tiny, -tiny, [0.0, -0.0, 5e-324, -5e-324]])


def test_erfc_polynomial_coefficients_reproduce():
    got = erfc_polynomial_coefficients()
    np.testing.assert_allclose(got, fm._ERFC_POLY, rtol=1e-15, atol=1e-20)


@pytest.mark.parametrize("name", sorted(MAX_ULP))
def test_kernel_accuracy_on_dense_grid(name):
    err, got, ref = ulp_errors(name, _grid(name))
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP[name], (name, float(err[worst]), got[worst], ref[worst])


@pytest.mark.parametrize("name", sorted(MAX_ULP))
def test_kernel_agrees_with_scipy_and_libm(name):
    """Cross-check against independent float64 implementations (relative 1e-13: they
    are themselves a few ulp off; scipy's ndtr divides by sqrt2 first, so only |z| <= 8)."""
    from scipy import special

    ref = {"exp": np.exp, "ndtr": special.ndtr, "gelu": lambda x: x * special.ndtr(x),
           "normal_pdf": lambda x: np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi),
           "sigmoid": special.expit, "silu": lambda x: x * special.expit(x), "tanh": np.tanh}[name]
    x = np.linspace(-8.0, 8.0, 2001)
    np.testing.assert_allclose(fm.evaluate(name, x), ref(x), rtol=1e-13, atol=0)


SPECIALS = {
    "exp": [(math.inf, math.inf), (-math.inf, 0.0), (710.0, math.inf), (1e308, math.inf), (-746.0, 0.0), (-1e308, 0.0),
            (0.0, 1.0), (-0.0, 1.0)],
    "ndtr": [(math.inf, 1.0), (-math.inf, 0.0), (1e300, 1.0), (-1e300, 0.0), (40.0, 1.0), (-40.0, 0.0), (0.0, 0.5)],
    "gelu": [(math.inf, math.inf), (-math.inf, math.nan), (1e300, 1e300), (-1e300, -0.0), (0.0, 0.0), (-40.0, -0.0)],
    "normal_pdf": [(math.inf, 0.0), (-math.inf, 0.0), (1e300, 0.0), (0.0, 0.3989422804014327)],
    "sigmoid": [(math.inf, 1.0), (-math.inf, 0.0), (1e300, 1.0), (-1e300, 0.0), (0.0, 0.5), (-800.0, 0.0)],
    "silu": [(math.inf, math.inf), (-math.inf, math.nan), (1e300, 1e300), (-1e300, -0.0), (0.0, 0.0)],
    "tanh": [(math.inf, 1.0), (-math.inf, -1.0), (1e300, 1.0), (-1e300, -1.0), (0.0, 0.0), (-0.0, -0.0), (5e-324, 5e-324),
             (-5e-324, -5e-324), (1e-300, 1e-300)],
}


@pytest.mark.parametrize("name", sorted(MAX_ULP))
def test_kernel_special_values(name):
    xs, expected = (np.array([c[i] for c in SPECIALS[name]] + [math.nan]) for i in (0, 1))
    got = fm.evaluate(name, xs)
    np.testing.assert_array_equal(got, expected)
    signed = ~np.isnan(expected)  # the sign of zeros too (a NaN's sign is not specified)
    np.testing.assert_array_equal(np.signbit(got[signed]), np.signbit(expected[signed]))


@pytest.mark.parametrize("name", sorted(MAX_ULP))
@given(x=st.floats(allow_nan=True, allow_infinity=True, width=64))
def test_kernel_accuracy_any_float(name, x):
    got = float(fm.evaluate(name, np.array([x]))[0])
    if math.isnan(x):
        assert math.isnan(got)
        return
    with mp.workdps(40):
        exact = _EXACT[name](mp.mpf(x)) if math.isfinite(x) else None
    if exact is None or not mp.isfinite(exact):
        return  # infinities: test_kernel_special_values
    err, _, _ = ulp_errors(name, np.array([x]))
    assert err[0] <= MAX_ULP[name], (name, x, got, float(exact))


@njit
def _round_trip(x):
    return fm._as_float(fm._as_int(x)), fm._as_int(x)


def test_kernel_bit_casts_round_trip():
    for x in (1.0, -2.5, 5e-324, math.inf, 1.7976931348623157e308):
        back, bits = _round_trip(x)
        assert back == x and bits == np.array([x]).view(np.int64)[0]


@njit
def _gelu_ndtr_pairs(x, g, p):
    for i in range(x.size):
        g[i], p[i] = fm.fast_gelu_ndtr(x[i])


def test_kernel_fused_gelu_ndtr_is_bitwise_the_pair():
    x = np.concatenate([_grid("gelu"), [math.inf, -math.inf, math.nan, -1e300, 1e300]])
    g, p = np.empty_like(x), np.empty_like(x)
    _gelu_ndtr_pairs(x, g, p)
    np.testing.assert_array_equal(g, fm.evaluate("gelu", x))
    np.testing.assert_array_equal(p, fm.evaluate("ndtr", x))


@njit
def _fma_compiled(a, b, c):
    return fm.fma(a, b, c)


@pytest.mark.parametrize(
    "a, b, c, expected",
    [
        # (1 + 2^-30)(1 - 2^-30) - 1 = -2^-60 exactly; a * b rounds to 1 first and gives 0
        (1.0 + 2.0**-30, 1.0 - 2.0**-30, -1.0, -(2.0**-60)),
        (0.1, 10.0, -1.0, 5.551115123125783e-17),  # the rounding error of 0.1 * 10
        (1e308, 10.0, -1e308, math.inf),  # overflow of the exact result
        (2.0, 3.0, 1.0, 7.0),
        (-0.0, 1.0, 0.0, 0.0),
        (-0.0, 1.0, -0.0, -0.0),
    ],
)
def test_fma_is_fused_and_rounded_once(a, b, c, expected):
    got = _fma_compiled(a, b, c)
    assert got == expected and math.copysign(1.0, got) == math.copysign(1.0, expected)


def test_fma_compiled_agrees_with_exact_rational_rounding():
    """The compiled FMA and the exact-rational fallback of the NUMBA_DISABLE_JIT pass
    give the same doubles (the fallback is what the pure-Python kernels use)."""
    rng = np.random.default_rng(3)
    for a, b, c in rng.normal(size=(300, 3)):
        exact = float(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))
        assert _fma_compiled(a, b, c) == exact


# ------------------------------------------------------------ float32 GELU / Phi / phi
#: float32 ulp bounds of the float32 trainer's kernels (measured maxima 5.0, 4.3 and 1.9:
#: the float32 divisions, products and the coefficients' float32 rounding; 6 float32
#: ulp = 3.6e-7 relative, inside the theory's 1e-6)
MAX_ULP32 = {"gelu": 6.0, "ndtr": 5.0, "normal_pdf": 2.5}


def ulp_errors32(name, xs):
    """Errors of ``evaluate32(name, xs)`` in float32 ulps of the exact values (for
    subnormal results the smallest float32 subnormal)."""
    xs = np.asarray(xs, dtype=np.float32)
    got = fm.evaluate32(name, xs).astype(np.float64)
    with mp.workdps(40):
        exact = [_EXACT[name](mp.mpf(float(x))) for x in xs]
        ref = np.array([float(e) for e in exact])  # within 2^-53 relative of exact: far below a float32 ulp
    spacing = np.maximum(np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64), 2.0**-149)
    return np.abs(got - ref) / spacing, got, ref


def _grid32(name):
    rng = np.random.default_rng(0)
    tiny = np.logspace(-45, 0, _GRID // 6)
    return np.concatenate([np.linspace(-15.0, 15.0, _GRID), rng.uniform(-4.0, 4.0, _GRID // 3), tiny, -tiny,
                           [0.0, -0.0, 1e-45, -1e-45, 14.2, -14.2, 14.5, -14.5]]).astype(np.float32)


def test_erfc_polynomial32_coefficients_reproduce():
    got = erfc_polynomial_coefficients(11, 40, 40, (fm._ERFC_K32, fm._CHEB_A32, fm._CHEB_B32))
    np.testing.assert_array_equal(np.array(got, dtype=np.float32), np.array(fm._ERFC_POLY32))


@pytest.mark.parametrize("name", sorted(MAX_ULP32))
def test_kernel32_accuracy_on_dense_grid(name):
    err, got, ref = ulp_errors32(name, _grid32(name))
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP32[name], (name, float(err[worst]), got[worst], ref[worst])


@pytest.mark.parametrize("name", sorted(MAX_ULP32))
@given(x=st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_kernel32_accuracy_any_float(name, x):
    err, got, ref = ulp_errors32(name, np.array([x], dtype=np.float32))
    assert err[0] <= MAX_ULP32[name], (name, x, got[0], ref[0])


SPECIALS32 = {
    "gelu": [(math.inf, math.inf), (-math.inf, math.nan), (3e38, 3e38), (-3e38, -0.0), (0.0, 0.0), (-20.0, -0.0)],
    "ndtr": [(math.inf, 1.0), (-math.inf, 0.0), (3e38, 1.0), (-3e38, 0.0), (20.0, 1.0), (-20.0, 0.0), (0.0, 0.5)],
    "normal_pdf": [(math.inf, 0.0), (-math.inf, 0.0), (3e38, 0.0), (20.0, 0.0), (0.0, 0.3989422804014327)],
}


@pytest.mark.parametrize("name", sorted(MAX_ULP32))
def test_kernel32_special_values(name):
    xs, expected = (np.array([c[i] for c in SPECIALS32[name]] + [math.nan], dtype=np.float32) for i in (0, 1))
    got = fm.evaluate32(name, xs)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    signed = ~np.isnan(expected)
    np.testing.assert_array_equal(np.signbit(got[signed]), np.signbit(expected[signed]))


@pytest.mark.parametrize(
    "a, b, c",
    [(1.0 + 2.0**-12, 1.0 - 2.0**-12, -1.0), (0.1, 10.0, -1.0), (3.0, 1.0 / 3.0, -1.0), (1e-20, 1e-20, 1e-45)],
)
def test_fma32_is_rounded_once_to_float32(a, b, c):
    a, b, c = np.float32(a), np.float32(b), np.float32(c)
    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    got = float(_fma_compiled(a, b, c))  # numba boxes a float32 result as a Python float
    assert float(np.float32(got)) == got  # a float32 value
    # the float32 nearest the exact value (ties are not among these cases)
    candidates = [np.float32(float(exact)), np.nextafter(np.float32(float(exact)), np.float32(np.inf)),
                  np.nextafter(np.float32(float(exact)), np.float32(-np.inf))]
    nearest = min(candidates, key=lambda v: abs(Fraction(float(v)) - exact))
    assert np.float32(got) == nearest
