"""Vectorizable elementwise ``exp``, ``Phi``, GELU, SiLU, sigmoid and ``tanh`` (float64).

Why: numba calls the scalar libm ``exp``/``erf``/``tanh`` per element (no SVML, and no
``fastmath`` is allowed in checked code), which made path evaluation with a smooth
activation 1.7-2.4x the bare matrix products. The functions here use only IEEE
additions, multiplications, fused multiply-adds (:func:`fma`, the IEEE 754 operation
``a * b + c`` rounded once, called explicitly: LLVM contracts nothing without fastmath),
divisions, comparisons and integer bit operations, so LLVM vectorizes the loops that call
them (AVX2/AVX-512) without any change of IEEE semantics: the results are the same on
every run, thread count and block size (the vector and the scalar remainder loops
execute the same operations).

Speed: the loops are throughput bound, so the polynomials use FMAs and Estrin's scheme
(short dependency chains; 1.35-2.0x faster than the mul-then-add Horner form they
replaced, ``benchmarks/bench_fast_math.py``).

Methods and accuracy (maximal errors measured against mpmath at 40 digits on dense grids
and by property tests, ``tests/numerics/test_fast_math_kernels.py``; an ulp is a unit in the last
place of the exact result; the theory's tolerance is a relative 1e-6):

* :func:`fast_exp` -- ``x = k ln2 + r`` (k by the round-to-nearest shift trick, Cody-Waite
  two-part ln2, ``|r| <= ln2/2``), degree-13 Taylor polynomial for ``e^r`` (FMAs,
  Estrin), ``2^k``
  built by integer bit operations on the exponent field and applied in two halves so
  that subnormal results are rounded once. Error <= 1 ulp (normal results; subnormal
  results: <= 1 ulp of the smallest subnormal). ``exp(+inf) = inf``, ``exp(-inf) = 0``,
  NaN propagates, overflow above 709.78 gives inf.
* :func:`fast_ndtr` (the normal CDF ``Phi``) -- for ``a = |z|`` the tail
  ``Q(a) = erfc(a/sqrt2)/2 = t/2 exp(-a^2/2 + g(y))`` with ``t = K/(K + a/sqrt2)``,
  ``K = 2.5``, ``y`` affine in ``t`` and ``g`` a degree-24 polynomial (the Chebyshev
  interpolant of the numerical recipes ``erfccheb`` idea, recomputed with mpmath, in
  monomial form, evaluated with FMAs: degrees 4-24 by Estrin's scheme, the last four
  by Horner's rule, whose final roundings keep the error of ``g`` near half an ulp: see
  :data:`_ERFC_POLY`); ``a^2`` is split exactly into two doubles (``fma(a, a, -a*a)`` is
  its rounding error) and both parts enter the exponent, so the relative error stays a
  few ulp far into the tail; ``Phi(z) = Q(|z|)`` for ``z < 0`` and ``1 - Q(z)``
  otherwise; ``t`` and ``y`` each by one FMA. Relative error <= 6 ulp (measured 4.5;
  the mul-then-add Horner form before: 4.9; pure Estrin for all 25 terms measured 6.8,
  so the low degrees stay Horner).
* :func:`fast_gelu` -- ``z Phi(z)`` (relative error <= 6 ulp, measured 4.7, everywhere, including the
  negative tail where the libm form ``z (1 + erf(z/sqrt2))/2`` lost all digits below
  ``z = -8``).
* :func:`fast_sigmoid`, :func:`fast_silu` -- ``e = exp(-|z|)``, ``1/(1 + e)`` or
  ``e/(1 + e)`` (no overflow, no cancellation); relative error <= 3 ulp.
* :func:`fast_tanh` -- Cephes' rational ``x + x^3 P(x^2)/Q(x^2)`` for ``|x| < 0.625``,
  ``1 - 2/(exp(2|x|) + 1)`` above, sign restored; relative error <= 2 ulp.
* :func:`fast_normal_pdf` -- ``exp(-z^2/2)/sqrt(2 pi)``, the square split exactly; <= 2 ulp.

The bounds are asserted by the tests (``MAX_ULP``). The kernels inline these functions
(``inline="always"``), and numba's on-disk cache does not track that dependency: after
editing this module, delete the ``*.nbi``/``*.nbc`` files under ``numerics/__pycache__``
(stale kernels otherwise keep the old arithmetic). The functions take and
return float64 scalars; float32 callers convert (one rounding, well inside float32's ulp).

Size (about 650 lines): kept whole; the float64 kernels, their float32 twins and the
array entry points are one catalogue of vectorizable transcendental functions whose
constructions and ulp bounds are easiest to check side by side.
"""

from __future__ import annotations

import math
import struct

import numpy as np
from numba import config, njit, types
from numba.extending import intrinsic, overload

from ._config import JIT

#: Compile flags of the elementwise kernels: ``error_model="numpy"`` drops the
#: ZeroDivisionError test of every float division (no denominator here can raise; IEEE
#: gives inf/NaN), which otherwise blocks vectorization. Not ``fastmath``: IEEE
#: semantics are kept exactly.
FAST_JIT = dict(JIT, error_model="numpy")

#: ``inline="always"`` so the callers' loops see the arithmetic (LLVM vectorizes
#: them); with the callers' own flags.
_INLINE_JIT = dict(FAST_JIT, inline="always")

if config.DISABLE_JIT:  # pure Python (NUMBA_DISABLE_JIT=1 test pass): struct does the bit casts

    def _as_float(bits):
        """The float64 whose IEEE bit pattern is the int64 ``bits``."""
        return struct.unpack("<d", struct.pack("<q", int(bits)))[0]

    def _as_int(x):
        """The IEEE bit pattern of the float64 ``x`` as an int64."""
        return struct.unpack("<q", struct.pack("<d", float(x)))[0]

    def _as_float32(bits):
        """The float32 whose IEEE bit pattern is the int32 ``bits``."""
        return np.float32(struct.unpack("<f", struct.pack("<i", int(bits)))[0])

    def _as_int32(x):
        """The IEEE bit pattern of the float32 ``x`` as an int32."""
        return struct.unpack("<i", struct.pack("<f", np.float32(x)))[0]

    def fma(a, b, c):
        """``a * b + c`` rounded once (exact integer arithmetic on the operands' binary
        fractions, then Python's correctly rounded ``int / int``; Python 3.11 has no
        ``math.fma``): the same IEEE result as the compiled instruction, float32 when
        the operands are float32 or Python numbers with at least one float32 (numpy's
        promotion of ``np.float32 * 0.5``; rounded to odd in float64, then to float32:
        one correct rounding, 53 >= 24 + 2 bits)."""
        single = (any(isinstance(v, np.float32) for v in (a, b, c))
                  and all(isinstance(v, np.float32) or type(v) in (float, int) for v in (a, b, c)))
        a, b, c = float(a), float(b), float(c)
        if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
            r = a * b + c  # inf/NaN: one rounding-free IEEE rule either way
            return np.float32(r) if single else r
        (na, da), (nb, db), (nc, dc) = a.as_integer_ratio(), b.as_integer_ratio(), c.as_integer_ratio()
        num, den = na * nb * dc + nc * da * db, da * db * dc  # exact: a b + c = num / den, den > 0
        if num == 0:
            r = a * b + c  # the sign of an exact zero as IEEE's (fma and a*b+c agree)
            return np.float32(r) if single else r
        try:
            r = num / den  # int / int is correctly rounded
        except OverflowError:
            r = math.inf if num > 0 else -math.inf
        if not single:
            return r
        if math.isfinite(r):
            rn, rd = r.as_integer_ratio()
            if rn * den != num * rd:  # inexact: round to odd ...
                if abs(rn) * den > abs(num) * rd:  # ... truncate toward zero ...
                    r = float(np.nextafter(r, 0.0))
                if struct.unpack("<q", struct.pack("<d", r))[0] & 1 == 0:  # ... and make it odd
                    r = float(np.nextafter(r, math.copysign(math.inf, r)))
        return np.float32(r)

else:

    @intrinsic
    def _as_float(typingctx, bits):
        """The float64 whose IEEE bit pattern is the int64 ``bits`` (an LLVM bitcast)."""
        if not isinstance(bits, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            value = context.cast(builder, args[0], signature.args[0], types.int64)
            return builder.bitcast(value, context.get_value_type(types.float64))

        return types.float64(bits), codegen

    @intrinsic
    def _as_int(typingctx, x):
        """The IEEE bit pattern of the float64 ``x`` as an int64 (an LLVM bitcast)."""
        if not isinstance(x, types.Float):
            return None

        def codegen(context, builder, signature, args):
            value = context.cast(builder, args[0], signature.args[0], types.float64)
            return builder.bitcast(value, context.get_value_type(types.int64))

        return types.int64(x), codegen

    @intrinsic
    def _as_float32(typingctx, bits):
        """The float32 whose IEEE bit pattern is the int32 ``bits`` (an LLVM bitcast)."""
        if not isinstance(bits, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            value = context.cast(builder, args[0], signature.args[0], types.int32)
            return builder.bitcast(value, context.get_value_type(types.float32))

        return types.float32(bits), codegen

    @intrinsic
    def _as_int32(typingctx, x):
        """The IEEE bit pattern of the float32 ``x`` as an int32 (an LLVM bitcast)."""
        if not isinstance(x, types.Float):
            return None

        def codegen(context, builder, signature, args):
            value = context.cast(builder, args[0], signature.args[0], types.float32)
            return builder.bitcast(value, context.get_value_type(types.int32))

        return types.int32(x), codegen

    @intrinsic
    def fma(typingctx, a, b, c):
        """``a * b + c`` rounded once (``llvm.fma``: the FMA instruction, scalar and in
        vectorized loops alike; an IEEE 754 operation, not a fastmath contraction)."""
        if not all(isinstance(v, types.Float) for v in (a, b, c)):
            return None
        ty = types.float64 if types.float64 in (a, b, c) else types.float32

        def codegen(context, builder, signature, args):
            vals = [context.cast(builder, v, t, ty) for v, t in zip(args, signature.args)]
            return builder.fma(*vals)

        return ty(a, b, c), codegen


_INV_LN2 = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # 32 significant bits: k * _LN2_HI is exact for |k| < 2^21
_LN2_LO = 1.90821492927058770002e-10
_SHIFT = 6755399441055744.0  # 1.5 * 2^52: x + _SHIFT rounds x to an integer kept in the low bits
_SHIFT_BITS = 0x4338000000000000  # bit pattern of _SHIFT
_EXP_MAX = 710.0  # exp overflows above 709.78
_EXP_MIN = -746.0  # exp underflows to 0 below -745.13


@njit(**_INLINE_JIT)
def _exp_parts(hi, lo):
    """``(p, s1, s2)`` with ``exp(hi + lo) = p s1 s2``: ``p`` in [0.7, 1.42], ``s1``, ``s2``
    powers of two (for finite ``hi`` in [-746, 710] and ``|lo| <= 2``)."""
    kd = (hi + lo) * _INV_LN2 + _SHIFT
    k = _as_int(kd) - _SHIFT_BITS
    kf = kd - _SHIFT
    r = (hi - kf * _LN2_HI) + fma(-kf, _LN2_LO, lo)
    # e^r = 1 + r + r^2 q(r), q the Taylor polynomial of degree 11 (terms 1/2! .. 1/13!),
    # by Estrin's scheme: short dependency chains, so the vectorized loop is not latency bound
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    q01 = fma(1.0 / 6.0, r, 0.5)
    q23 = fma(1.0 / 120.0, r, 1.0 / 24.0)
    q45 = fma(1.0 / 5040.0, r, 1.0 / 720.0)
    q67 = fma(1.0 / 362880.0, r, 1.0 / 40320.0)
    q89 = fma(1.0 / 39916800.0, r, 1.0 / 3628800.0)
    qab = fma(1.0 / 6227020800.0, r, 1.0 / 479001600.0)
    q03 = fma(q23, r2, q01)
    q47 = fma(q67, r2, q45)
    q8b = fma(qab, r2, q89)
    q = fma(q8b, r8, fma(q47, r4, q03))
    p = 1.0 + fma(r2, q, r)
    k1 = k >> 1
    k2 = k - k1
    return p, _as_float((k1 + 1023) << 52), _as_float((k2 + 1023) << 52)


@njit(**_INLINE_JIT)
def _exp_hilo(hi, lo, scale):
    """``scale * exp(hi + lo)`` for finite ``hi`` in [-746, 710], ``|lo| <= 2`` (a small
    correction the caller could not add to ``hi`` without rounding) and ``|scale|`` in
    [2^-60, 2^60]: ``scale`` is applied before the powers of two, so a subnormal result
    is rounded once."""
    p, s1, s2 = _exp_parts(hi, lo)
    return ((scale * p) * s1) * s2


@njit(**_INLINE_JIT)
def fast_exp(x):
    """``e^x`` (<= 1 ulp; inf, -inf, NaN and overflow as libm)."""
    xc = x if x < _EXP_MAX else _EXP_MAX
    xc = xc if xc > _EXP_MIN else _EXP_MIN
    e = _exp_hilo(xc, 0.0, 1.0)
    return e if x == x else x


#: Polynomial (degree 0 first) in ``y`` approximating ``g(y) = log(erfc(x) e^{x^2} / t)``,
#: ``t = K/(K + x)``, ``y = _CHEB_A t + _CHEB_B`` (maps ``x`` in [0, 27.3] onto [-1, 1]):
#: the degree-24 Chebyshev interpolant in monomial form, computed by
#: ``tests/numerics/test_fast_math_kernels.py::erfc_polynomial_coefficients`` (mpmath, 40
#: digits), which the tests compare with these.
_ERFC_K = 2.5
_CHEB_A = 2.1831501831501834
_CHEB_B = -1.1831501831501832
_ERFC_POLY = (
    -0.7986558979895569, 0.7203646285188053, 0.11222015232170965, -0.020025227474186107,
    -0.016964792083302573, 0.0003640836375475544, 0.0030605260854403857, 0.0002024196398139752,
    -0.0006231483627687678, -6.628550902956998e-05, 0.00013638100605510475, 1.4249081285932604e-05,
    -3.071377277333991e-05, -2.147017875805914e-06, 6.823165078342944e-06, 1.0895679296854107e-07,
    -1.4366971107837685e-06, 6.140984037205075e-08, 2.7593336819191993e-07, -2.474103068648284e-08,
    -4.6082401342764535e-08, 4.8261911367731754e-09, 6.052361302978705e-09, -4.3955158609826603e-10,
    -4.647029273829446e-10,
)
_SQRT1_2 = 0.7071067811865476
_A_MAX = 40.0  # Q(a) underflows to 0 from a = 38.5


@njit(**_INLINE_JIT)
def _upper_tail(a, scale):
    """``scale Q(a)`` with ``Q(a) = 1 - Phi(a) = erfc(a / sqrt2) / 2`` for ``a`` in
    [0, 40] (not NaN) and ``|scale|`` in [2^-50, 2^50] (one rounding at the end, also
    for subnormal results)."""
    t = _ERFC_K / fma(a, _SQRT1_2, _ERFC_K)
    p, s1, s2 = _tail_parts(a, t)
    return (((0.5 * t) * scale) * p) * s1 * s2


@njit(**_INLINE_JIT)
def _tail_parts(a, t):
    """``_exp_parts`` of ``-a^2/2 + g(y(t))``, so that ``Q(a) = t/2 p s1 s2``."""
    y = fma(_CHEB_A, t, _CHEB_B)
    y = y if y > -1.0 else -1.0
    # Degrees 4..24 by Estrin's scheme (pairs, then the powers y^2, y^4, y^8, y^16), the
    # last four by Horner's rule: about 9 dependent FMAs instead of 24, so the vectorized
    # loop is not latency bound, and the final roundings are Horner's (small |y c_k|
    # terms added to c_0). Unrolled: a loop here would be the innermost loop and stop
    # vectorization.
    c = _ERFC_POLY
    y2 = y * y
    y4 = y2 * y2
    y8 = y4 * y4
    y16 = y8 * y8
    p0 = fma(c[5], y, c[4])
    p1 = fma(c[7], y, c[6])
    p2 = fma(c[9], y, c[8])
    p3 = fma(c[11], y, c[10])
    p4 = fma(c[13], y, c[12])
    p5 = fma(c[15], y, c[14])
    p6 = fma(c[17], y, c[16])
    p7 = fma(c[19], y, c[18])
    p8 = fma(c[21], y, c[20])
    p9 = fma(c[23], y, c[22])
    q0 = fma(p1, y2, p0)
    q1 = fma(p3, y2, p2)
    q2 = fma(p5, y2, p4)
    q3 = fma(p7, y2, p6)
    q4 = fma(c[24], y4, fma(p9, y2, p8))
    g = fma(fma(q3, y4, q2), y8, fma(q1, y4, q0))
    g = fma(q4, y16, g)
    g = fma(g, y, c[3])
    g = fma(g, y, c[2])
    g = fma(g, y, c[1])
    g = fma(g, y, c[0])
    # -a^2/2 as hi + lo exactly (the FMA gives the rounding error of a * a; a <= 40)
    sq = a * a
    err = fma(a, a, -sq)
    return _exp_parts(-0.5 * sq, g - 0.5 * err)


@njit(**_INLINE_JIT)
def fast_gelu_ndtr(z):
    """``(fast_gelu(z), fast_ndtr(z))``, bitwise, from one tail evaluation (training keeps
    ``Phi`` for the backward pass)."""
    a = -z if z < 0.0 else z
    a = a if a < _A_MAX else _A_MAX
    t = _ERFC_K / fma(a, _SQRT1_2, _ERFC_K)
    half_t = 0.5 * t
    p, s1, s2 = _tail_parts(a, t)
    q = ((half_t * p) * s1) * s2
    phi = q if z < 0.0 else 1.0 - q
    qz = (((half_t * z) * p) * s1) * s2
    g = qz if z < 0.0 else z * (1.0 - q)
    g = g if z > -_A_MAX else z * 0.0
    return g, (phi if z == z else z)


@njit(**_INLINE_JIT)
def fast_ndtr(z):
    """``Phi(z)``, the standard normal CDF (relative error <= 6 ulp; NaN propagates)."""
    a = -z if z < 0.0 else z
    a = a if a < _A_MAX else _A_MAX
    q = _upper_tail(a, 1.0)
    p = q if z < 0.0 else 1.0 - q
    return p if z == z else z


@njit(**_INLINE_JIT)
def fast_gelu(z):
    """``z Phi(z)`` (relative error <= 6 ulp; ``z Q(|z|)`` rounded once for ``z < 0``;
    below -40, where it underflows, ``z * 0``: -0.0, and NaN at -inf as the IEEE form)."""
    a = -z if z < 0.0 else z
    a = a if a < _A_MAX else _A_MAX
    q = _upper_tail(a, z if z < 0.0 else 1.0)
    g = q if z < 0.0 else z * (1.0 - q)
    return g if z > -_A_MAX else z * 0.0


@njit(**_INLINE_JIT)
def fast_normal_pdf(z):
    """``phi(z) = exp(-z^2/2) / sqrt(2 pi)`` (the square split exactly; <= 2 ulp)."""
    a = -z if z < 0.0 else z
    a = a if a < _A_MAX else _A_MAX
    sq = a * a
    err = fma(a, a, -sq)
    p = _exp_hilo(-0.5 * sq, -0.5 * err, 0.3989422804014327)
    return p if z == z else z


_TWO64 = 18446744073709551616.0  # 2^64: keeps e^{-|z|} normal until the last product
_TWO_M64 = 5.421010862427522e-20  # 2^-64


@njit(**_INLINE_JIT)
def _sigmoid_parts(z):
    """``(s, eb)`` with ``eb = 2^64 e^{-|z|}`` and ``s = 1/(1 + e^{-|z|})`` (finite)."""
    m = z if z < 0.0 else -z
    m = m if m > _EXP_MIN else _EXP_MIN
    eb = _exp_hilo(m, 0.0, _TWO64)
    return 1.0 / (1.0 + eb * _TWO_M64), eb


@njit(**_INLINE_JIT)
def fast_sigmoid(z):
    """``1 / (1 + e^-z)`` (relative error <= 3 ulp; subnormal results rounded once; NaN
    propagates)."""
    s, eb = _sigmoid_parts(z)
    r = s if z >= 0.0 else (s * eb) * _TWO_M64
    return r if z > _EXP_MIN else (0.0 if z < 0.0 else z)


@njit(**_INLINE_JIT)
def fast_silu(z):
    """``z sigmoid(z)`` (relative error <= 3 ulp; ``z * 0`` below -746, NaN at -inf as
    the IEEE form)."""
    s, eb = _sigmoid_parts(z)
    r = z * s if z >= 0.0 else ((z * s) * eb) * _TWO_M64
    return r if z > _EXP_MIN else z * 0.0


_TANH_P0 = -9.64399179425052238628e-1
_TANH_P1 = -9.92877231001918586564e1
_TANH_P2 = -1.61468768441708447952e3
_TANH_Q0 = 1.12811678491632931402e2
_TANH_Q1 = 2.23548839060100448583e3
_TANH_Q2 = 4.84406305325125486048e3


@njit(**_INLINE_JIT)
def fast_tanh(z):
    """``tanh(z)`` (relative error <= 2 ulp; NaN propagates; ``tanh(-0.0) = -0.0``)."""
    a = -z if z < 0.0 else z
    w = a * a
    small = fma(a * w, fma(fma(_TANH_P0, w, _TANH_P1), w, _TANH_P2)
                / fma(fma(w + _TANH_Q0, w, _TANH_Q1), w, _TANH_Q2), a)
    large = 1.0 - 2.0 / (fast_exp(2.0 * a) + 1.0)
    r = small if a < 0.625 else large
    return -r if z < 0.0 else (r if z > 0.0 else z)


# ----------------------------------------------------------------- float32 GELU / Phi
# The float32 trainer's GELU: the same method in float32 arithmetic (16 AVX-512 lanes
# instead of 8, and shorter polynomials), every constant a float32 so that nothing is
# promoted to float64. Range: Q(a) rounds to 0 in float32 from a = 14.2, so the
# polynomial covers x = a/sqrt2 in [0, 14.5/sqrt2] (11 terms; the Chebyshev terms beyond
# sum to 5e-9, 0.04 float32 ulp of Q).
_F = np.float32
_F0, _F1, _FHALF, _FM_HALF = _F(0.0), _F(1.0), _F(0.5), _F(-0.5)
_A_MAX32 = _F(14.5)
_ERFC_K32 = _F(2.5)
_CHEB_A32 = _F(2.4876599311828613)
_CHEB_B32 = _F(-1.4876598119735718)
_SQRT1_2_32 = _F(0.7071067811865476)
#: degree-10 Chebyshev interpolant of ``g`` on the float32 range, monomial form, rounded
#: to float32 (``tests/numerics/test_fast_math_kernels.py`` recomputes it)
_ERFC_POLY32 = (
    _F(-0.708836555480957), _F(0.6553980708122253), _F(0.07960306853055954), _F(-0.019035223871469498),
    _F(-0.009519370272755623), _F(0.0013542124070227146), _F(0.001350025529973209), _F(-0.0001540064113214612),
    _F(-0.00019968365086242557), _F(1.7619946447666734e-05), _F(2.1757905415142886e-05),
)
_INV_LN2_32 = _F(1.4426950408889634)
_LN2_HI32 = _F(0.693145751953125)  # 15 significant bits: k * _LN2_HI32 is exact for |k| < 2^9
_LN2_LO32 = _F(1.4286068203094172e-06)
_SHIFT32 = _F(12582912.0)  # 1.5 * 2^23
_SHIFT32_BITS = 0x4B400000
_INV_FACT32 = tuple(_F(1.0 / math.factorial(k)) for k in range(8))
_INV_SQRT_2PI32 = _F(0.3989422804014327)


@njit(**_INLINE_JIT)
def _exp_parts32(hi, lo):
    """``(p, s1, s2)`` with ``exp(hi + lo) = p s1 s2`` in float32 (``p`` in [0.7, 1.42],
    ``s1``, ``s2`` powers of two; ``hi`` in [-106, 0], ``|lo| <= 2``): degree-7 Taylor
    polynomial (truncation 6e-9 relative) by FMAs."""
    kd = fma(hi + lo, _INV_LN2_32, _SHIFT32)
    k = _as_int32(kd) - _SHIFT32_BITS
    kf = kd - _SHIFT32
    r = fma(-kf, _LN2_HI32, hi) + fma(-kf, _LN2_LO32, lo)
    f = _INV_FACT32
    r2 = r * r
    q = fma(fma(fma(f[7], r, f[6]), r2, fma(f[5], r, f[4])), r2, fma(f[3], r, f[2]))
    p = _F1 + fma(r2, q, r)
    k1 = k >> 1
    k2 = k - k1
    return p, _as_float32((k1 + 127) << 23), _as_float32((k2 + 127) << 23)


@njit(**_INLINE_JIT)
def fast_gelu_ndtr32(z):
    """``(gelu(z), Phi(z))`` of a float32 ``z`` in float32 arithmetic (relative errors
    <= ``MAX_ULP32`` float32 ulp, tested against mpmath; as :func:`fast_gelu_ndtr`:
    ``z * 0`` below -14.5, NaN propagates)."""
    a = -z if z < _F0 else z
    a = a if a < _A_MAX32 else _A_MAX32
    t = _ERFC_K32 / fma(a, _SQRT1_2_32, _ERFC_K32)
    y = fma(_CHEB_A32, t, _CHEB_B32)
    y = y if y > -_F1 else -_F1
    c = _ERFC_POLY32
    y2 = y * y
    y4 = y2 * y2
    hi8 = fma(fma(c[10], y, c[9]), y2, fma(c[8], y, c[7]))
    mid = fma(fma(c[6], y, c[5]), y, c[4])
    g = fma(fma(hi8, y4, fma(mid, y, c[3])), y, c[2])
    g = fma(g, y, c[1])
    g = fma(g, y, c[0])
    sq = a * a
    err = fma(a, a, -sq)
    p, s1, s2 = _exp_parts32(_FM_HALF * sq, fma(_FM_HALF, err, g))
    half_t = _FHALF * t
    q = ((half_t * p) * s1) * s2
    phi = q if z < _F0 else _F1 - q
    qz = (((half_t * z) * p) * s1) * s2
    gl = qz if z < _F0 else z * (_F1 - q)
    gl = gl if z > -_A_MAX32 else z * _F0
    return gl, (phi if z == z else z)


@njit(**_INLINE_JIT)
def fast_normal_pdf32(z):
    """``phi(z)`` of a float32 ``z`` in float32 arithmetic (the square split exactly by an
    FMA; relative error <= ``MAX_ULP32``)."""
    a = -z if z < _F0 else z
    a = a if a < _A_MAX32 else _A_MAX32
    sq = a * a
    p, s1, s2 = _exp_parts32(_FM_HALF * sq, _FM_HALF * fma(a, a, -sq))
    r = ((_INV_SQRT_2PI32 * p) * s1) * s2
    r = r if a < _A_MAX32 else _F0
    return r if z == z else z


def gelu_ndtr_like(z):
    """``(gelu(z), Phi(z))`` in the precision of ``z``: :func:`fast_gelu_ndtr32` for a
    float32, else :func:`fast_gelu_ndtr` (the trainer's kernels are generic over the
    parameter dtype; numba picks the branch at compile time, see the overload below)."""
    return fast_gelu_ndtr32(z) if isinstance(z, np.float32) else fast_gelu_ndtr(z)


def normal_pdf_like(z):
    """``phi(z)`` in the precision of ``z`` (as :func:`gelu_ndtr_like`)."""
    return fast_normal_pdf32(z) if isinstance(z, np.float32) else fast_normal_pdf(z)


if not config.DISABLE_JIT:

    @overload(gelu_ndtr_like, inline="always")
    def _gelu_ndtr_like_impl(z):
        if z == types.float32:
            return lambda z: fast_gelu_ndtr32(z)
        return lambda z: fast_gelu_ndtr(z)

    @overload(normal_pdf_like, inline="always")
    def _normal_pdf_like_impl(z):
        if z == types.float32:
            return lambda z: fast_normal_pdf32(z)
        return lambda z: fast_normal_pdf(z)


# ----------------------------------------------------------------- array entry points
@njit(**FAST_JIT)
def _map_exp(x, out):
    for i in range(x.size):
        out[i] = fast_exp(x[i])
    return out


@njit(**FAST_JIT)
def _map_ndtr(x, out):
    for i in range(x.size):
        out[i] = fast_ndtr(x[i])
    return out


@njit(**FAST_JIT)
def _map_gelu(x, out):
    for i in range(x.size):
        out[i] = fast_gelu(x[i])
    return out


@njit(**FAST_JIT)
def _map_normal_pdf(x, out):
    for i in range(x.size):
        out[i] = fast_normal_pdf(x[i])
    return out


@njit(**FAST_JIT)
def _map_sigmoid(x, out):
    for i in range(x.size):
        out[i] = fast_sigmoid(x[i])
    return out


@njit(**FAST_JIT)
def _map_silu(x, out):
    for i in range(x.size):
        out[i] = fast_silu(x[i])
    return out


@njit(**FAST_JIT)
def _map_tanh(x, out):
    for i in range(x.size):
        out[i] = fast_tanh(x[i])
    return out


@njit(**FAST_JIT)
def _map_gelu32(x, out):
    for i in range(x.size):
        out[i] = fast_gelu_ndtr32(x[i])[0]
    return out


@njit(**FAST_JIT)
def _map_ndtr32(x, out):
    for i in range(x.size):
        out[i] = fast_gelu_ndtr32(x[i])[1]
    return out


@njit(**FAST_JIT)
def _map_normal_pdf32(x, out):
    for i in range(x.size):
        out[i] = fast_normal_pdf32(x[i])
    return out


_MAPS32 = {"gelu": _map_gelu32, "ndtr": _map_ndtr32, "normal_pdf": _map_normal_pdf32}

_MAPS = {"exp": _map_exp, "ndtr": _map_ndtr, "gelu": _map_gelu, "normal_pdf": _map_normal_pdf,
         "sigmoid": _map_sigmoid, "silu": _map_silu, "tanh": _map_tanh}


def evaluate(name: str, x) -> np.ndarray:
    """Apply the fast function ``name`` (``exp``, ``ndtr``, ``gelu``, ``normal_pdf``,
    ``sigmoid``, ``silu``, ``tanh``) elementwise to a float64 array (for tests and
    benchmarks; the kernels call the scalar functions).

    >>> evaluate("tanh", [0.0, 40.0, -np.inf]).tolist()
    [0.0, 1.0, -1.0]
    >>> abs(evaluate("exp", [1.0])[0] - math.e) <= np.spacing(math.e)  # within 1 ulp
    np.True_
    """
    flat = np.ascontiguousarray(x, dtype=np.float64)
    shape = flat.shape
    flat = flat.reshape(-1)
    return _MAPS[name](flat, np.empty_like(flat)).reshape(shape)


def evaluate32(name: str, x) -> np.ndarray:
    """Apply the float32 function ``name`` (``gelu``, ``ndtr``, ``normal_pdf``: the float32
    trainer's kernels) elementwise to a float32 array (for tests and benchmarks).

    >>> evaluate32("ndtr", [0.0, 20.0, -20.0]).tolist()
    [0.5, 1.0, 0.0]
    """
    flat = np.ascontiguousarray(x, dtype=np.float32)
    shape = flat.shape
    flat = flat.reshape(-1)
    return _MAPS32[name](flat, np.empty_like(flat)).reshape(shape)
