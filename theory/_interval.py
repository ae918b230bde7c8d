"""Outward-rounded interval arithmetic over SymPy expressions (the numeric fallback).

When SymPy cannot find a closed form (the critical points of SiLU's derivative, the
sign of GELU's derivative), :mod:`neuronid.theory.activations` falls back to the
methods here. They are *conservative*:

* :func:`sup_abs` returns an **upper bound** of ``sup |f|`` over a finite interval:
  branch and bound on interval enclosures; on a box where the enclosure of ``f'``
  excludes 0 the enclosure is the hull of the end values (monotone), otherwise the
  intersection of the natural extension and the mean-value form
  ``f(m) + F'(X) (X - m)``; every
  elementary operation is evaluated with mpmath at ``prec`` bits and widened
  outward by ``2**(6 - prec)`` relative (64 ulps), so rounding never shrinks an
  enclosure. It also returns an attained value (a lower bound), so the true
  supremum is bracketed.
* :func:`sign_regions` splits an interval into boxes on which ``f > 0`` or
  ``f < 0`` is *proved* by an enclosure, plus tiny undecided boxes (roots, or
  values below ``1e-300`` in magnitude), retrying undecided boxes at higher
  precision to defeat cancellation (``1 + erf(x)`` for very negative ``x``).

Supported: ``+ - * /``, integer and rational powers, ``exp log erf erfc tanh sinh
cosh atan asinh sin cos Abs Max Min`` and constants. Anything else raises
:class:`IntervalUnsupported`.
"""

from __future__ import annotations

import functools
import heapq
import math
from dataclasses import dataclass
from typing import Callable

import mpmath
import sympy as sp
from mpmath import mp, mpf

from ._budget import try_within_budget

__all__ = ["IntervalUnsupported", "Enclosure", "point_evaluator", "sup_abs", "sign_regions", "SupBound"]

_INF = mpf("inf")


class IntervalUnsupported(Exception):
    """The expression contains an operation without an interval extension here."""


# --------------------------------------------------------------------------- helpers


_EPS: dict[int, mpf] = {}


def _eps() -> mpf:
    prec = mp.prec
    e = _EPS.get(prec)
    if e is None:
        e = _EPS[prec] = mpmath.ldexp(mpf(1), 6 - prec)
    return e


def _widen(lo: mpf, hi: mpf) -> tuple[mpf, mpf]:
    if lo != lo or hi != hi:  # nan
        return -_INF, _INF
    e = _eps()
    return lo - abs(lo) * e, hi + abs(hi) * e


def _mul(a, b):
    products = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]
    if any(mpmath.isnan(p) for p in products):
        return -_INF, _INF
    return _widen(min(products), max(products))


def _recip(a):
    lo, hi = a
    if lo <= 0 <= hi:
        return -_INF, _INF
    return _widen(1 / hi, 1 / lo)


def _ipow(a, n: int):
    lo, hi = a
    if n == 0:
        return mpf(1), mpf(1)
    if n < 0:
        return _recip(_ipow(a, -n))
    if n % 2 == 1:
        return _widen(lo**n, hi**n)
    if lo >= 0:
        return _widen(lo**n, hi**n)
    if hi <= 0:
        return _widen(hi**n, lo**n)
    return mpf(0), _widen(mpf(0), max(lo**n, hi**n))[1]


def _rpow(a, r: mpf):
    """x**r for a non-integer constant r (real only for x >= 0)."""
    lo, hi = a
    if hi < 0:
        return -_INF, _INF
    lo = max(lo, mpf(0))
    if r > 0:
        return _widen(mpmath.power(lo, r), mpmath.power(hi, r))
    if lo == 0:
        return _widen(mpmath.power(hi, r), _INF)
    return _widen(mpmath.power(hi, r), mpmath.power(lo, r))


def _increasing(fn):
    return lambda a: _widen(fn(a[0]), fn(a[1]))


def _log(a):
    lo, hi = a
    if hi <= 0:
        return -_INF, _INF
    low = mp.log(lo) if lo > 0 else -_INF
    return _widen(low, mp.log(hi))


def _cosh(a):
    lo, hi = a
    top = max(mp.cosh(lo), mp.cosh(hi))
    bottom = mpf(1) if lo <= 0 <= hi else min(mp.cosh(lo), mp.cosh(hi))
    return _widen(bottom, top)


def _cos(a):
    lo, hi = a
    if not (mpmath.isfinite(lo) and mpmath.isfinite(hi)) or hi - lo >= 2 * mp.pi:
        return mpf(-1), mpf(1)
    vals = [mp.cos(lo), mp.cos(hi)]
    top, bottom = max(vals), min(vals)
    # extrema of cos at k*pi; include any that may lie in [lo, hi] (pi widened)
    pi_lo, pi_hi = _widen(+mp.pi, +mp.pi)
    k = mpmath.floor(lo / pi_hi) - 1
    while k * pi_lo <= hi + 1:
        for pk in (k * pi_lo, k * pi_hi):
            if lo <= pk <= hi:
                if int(k) % 2 == 0:
                    top = mpf(1)
                else:
                    bottom = mpf(-1)
        k += 1
    lo_v, hi_v = _widen(bottom, top)
    return max(lo_v, mpf(-1)), min(hi_v, mpf(1))


def _sin(a):
    half_pi = _widen(mp.pi / 2, mp.pi / 2)
    return _cos((a[0] - half_pi[1], a[1] - half_pi[0]))


_UNARY = {
    sp.exp: _increasing(mp.exp),
    sp.erf: _increasing(mp.erf),
    sp.tanh: _increasing(mp.tanh),
    sp.sinh: _increasing(mp.sinh),
    sp.atan: _increasing(mp.atan),
    sp.asinh: _increasing(mp.asinh),
    sp.erfc: lambda a: _widen(mp.erfc(a[1]), mp.erfc(a[0])),
    sp.log: _log,
    sp.cosh: _cosh,
    sp.cos: _cos,
    sp.sin: _sin,
}


def _abs(a):
    lo, hi = a
    if lo >= 0:
        return lo, hi
    if hi <= 0:
        return -hi, -lo
    return mpf(0), max(-lo, hi)


# ------------------------------------------------------------------------ compiler

Node = Callable[[tuple], tuple]


def _compile(e: sp.Expr, z: sp.Symbol) -> Node:
    if not e.has(z):
        cache: dict[int, tuple] = {}

        def const(box, _e=e):
            key = mp.prec
            if key not in cache:
                val = sp.N(_e, int(key * 0.30103) + 10)
                if not val.is_real or not val.is_finite:
                    raise IntervalUnsupported(f"constant {_e} is not a finite real number")
                x = mpf(sp.Float(val)._mpf_)
                cache[key] = _widen(x, x)
            return cache[key]

        return const
    if e == z:
        return lambda box: box
    if isinstance(e, sp.Add):
        parts = [_compile(a, z) for a in e.args]

        def add(box):
            lo, hi = mpf(0), mpf(0)
            for p in parts:
                plo, phi = p(box)
                lo, hi = lo + plo, hi + phi
            return _widen(lo, hi)

        return add
    if isinstance(e, sp.Mul):
        parts = [_compile(a, z) for a in e.args]

        def mul(box):
            acc = parts[0](box)
            for p in parts[1:]:
                acc = _mul(acc, p(box))
            return acc

        return mul
    if isinstance(e, sp.Pow):
        base, expo = e.args
        if expo.is_Integer:
            b = _compile(base, z)
            n = int(expo)
            return lambda box: _ipow(b(box), n)
        if expo.is_number and expo.is_real:
            b = _compile(base, z)
            r_node = _compile(expo, z)

            def rpow(box):
                bb = b(box)
                rlo, rhi = r_node(box)
                lo1, hi1 = _rpow(bb, rlo)
                lo2, hi2 = _rpow(bb, rhi)
                return min(lo1, lo2), max(hi1, hi2)

            return rpow
        return _compile(sp.exp(expo * sp.log(base), evaluate=False), z)
    if isinstance(e, sp.Abs):
        a = _compile(e.args[0], z)
        return lambda box: _abs(a(box))
    if isinstance(e, (sp.Max, sp.Min)):
        parts = [_compile(a, z) for a in e.args]
        pick = max if isinstance(e, sp.Max) else min

        def extremum(box):
            vals = [p(box) for p in parts]
            return pick(v[0] for v in vals), pick(v[1] for v in vals)

        return extremum
    fn = _UNARY.get(type(e))
    if fn is not None and len(e.args) == 1:
        a = _compile(e.args[0], z)
        return lambda box: fn(a(box))
    raise IntervalUnsupported(f"no interval extension for {type(e).__name__} in {e}")


@functools.lru_cache(maxsize=256)
def _least_dependent(expr: sp.Expr, z: sp.Symbol) -> sp.Expr:
    """An equal form of ``expr`` with as few occurrences of ``z`` as SymPy finds.

    Interval evaluation overestimates once per repeated occurrence (the dependency
    problem): ``exp(z)/(exp(z) + 1)`` encloses badly, ``1/(1 + exp(-z))`` exactly.
    Candidates: the expression, its ``simplify``, ``expand``, and ``1/expand(1/f)``.
    """
    cands = [expr]
    rewrites = [sp.expand, lambda e: 1 / sp.expand(1 / e)]
    if sp.count_ops(expr) <= 30:  # simplify is slow on large expressions
        rewrites += [sp.simplify, lambda e: 1 / sp.expand(sp.simplify(1 / e))]
    for rewrite in rewrites:
        alt = try_within_budget(lambda: rewrite(expr), 1.0)
        if alt is not None and isinstance(alt, sp.Expr) and not alt.has(sp.zoo, sp.nan, sp.oo):
            cands.append(alt)
    return min(cands, key=lambda e: (e.count(z), sp.count_ops(e)))


def point_evaluator(expr: sp.Expr, z: sp.Symbol) -> Callable[[mpf], tuple[mpf, mpf]]:
    """Outward-rounded enclosure of ``f(x)`` at single points (no derivative needed)."""
    node = _compile(expr, z)
    return lambda x: node((x, x))


class Enclosure:
    """Interval enclosure of ``f`` on boxes ``[lo, hi]``: natural and mean-value form.

    Parameters
    ----------
    expr : sympy.Expr
        Function of ``z`` (no ``Piecewise``).
    z : sympy.Symbol
        The variable.

    Examples
    --------
    >>> import sympy as sp
    >>> z = sp.Symbol("z", real=True)
    >>> lo, hi = Enclosure(z**2 - 1, z)(mpf(-1), mpf(2))
    >>> bool(lo <= -1) and bool(hi >= 3)
    True
    """

    def __init__(self, expr: sp.Expr, z: sp.Symbol):
        self.expr = expr
        self._f = _compile(_least_dependent(expr, z), z)
        try:
            self._df = _compile(_least_dependent(sp.diff(expr, z), z), z)
        except IntervalUnsupported:  # pragma: no cover - derivative uses the same atoms
            self._df = None

    def point(self, x: mpf) -> tuple[mpf, mpf]:
        """Enclosure of ``f(x)`` (width only from rounding)."""
        return self._f((x, x))

    def __call__(self, lo: mpf, hi: mpf) -> tuple[mpf, mpf]:
        if self._df is None or lo == hi:
            return self._f((lo, hi))
        dlo, dhi = self._df((lo, hi))
        if dlo >= 0 or dhi <= 0:
            # f is monotone on the box (proved by the derivative's enclosure): the values
            # at the ends enclose it, without any dependency overestimation
            a, b = self._f((lo, lo)), self._f((hi, hi))
            return min(a[0], b[0]), max(a[1], b[1])
        nat = self._f((lo, hi))
        mid = (lo + hi) / 2
        fm = self._f((mid, mid))
        slope = _mul((dlo, dhi), (lo - mid, hi - mid))
        cen = _widen(fm[0] + slope[0], fm[1] + slope[1])
        out = (max(nat[0], cen[0]), min(nat[1], cen[1]))
        if out[0] > out[1]:  # only through rounding inconsistencies; stay safe
            return min(nat[0], cen[0]), max(nat[1], cen[1])
        return out


# --------------------------------------------------------------------------- sup|f|


@dataclass(frozen=True)
class SupBound:
    """Bracket of ``sup |f|`` on an interval: ``lower <= sup <= upper``."""

    upper: float
    lower: float
    argmax: float
    boxes: int


def _round_up(x: mpf) -> float:
    if not mpmath.isfinite(x):
        return math.inf
    return math.nextafter(float(x), math.inf)


def _round_down(x: mpf) -> float:
    return math.nextafter(float(x), -math.inf)


def sup_abs(expr: sp.Expr, z: sp.Symbol, a: float, b: float, *, rel_tol: float = 1e-10,
            max_boxes: int = 20000, prec: int = 64, floor: float = 0.0) -> SupBound:
    """Rigorous upper bound (and attained lower bound) of ``sup |f|`` on ``[a, b]``.

    Parameters
    ----------
    expr, z : sympy.Expr, sympy.Symbol
        The function and its variable.
    a, b : float
        Finite interval ends, ``a < b``.
    rel_tol : float
        Stop when ``upper - lower <= rel_tol * max(1, lower)``.
    max_boxes : int
        Work limit; when reached, the current (looser but still valid) bound is
        returned.
    prec : int
        Working precision in bits.
    floor : float
        A value the caller already knows the final answer reaches (for example a
        limit at infinity); boxes whose bound is below ``floor + tol`` are not
        refined. ``upper`` stays a valid bound on ``[a, b]``.

    Examples
    --------
    >>> import sympy as sp
    >>> z = sp.Symbol("z", real=True)
    >>> res = sup_abs(1 - sp.tanh(z)**2, z, -5, 5)
    >>> res.lower <= 1.0 <= res.upper < 1 + 1e-9
    True
    """
    enc = Enclosure(expr, z)
    with mp.workprec(prec):
        A, B, floor = mpf(a), mpf(b), mpf(floor)
        best, arg = mpf(0), A
        heap: list = []
        settled = mpf(0)
        n0 = 64
        edges = [A + (B - A) * k / n0 for k in range(n0 + 1)]
        for x in edges:  # attained values at the grid points, endpoints included
            lo, hi = enc.point(x)
            val = min(abs(lo), abs(hi)) if lo * hi > 0 else mpf(0)
            if val > best:
                best, arg = val, x
        for lo_x, hi_x in zip(edges[:-1], edges[1:]):
            lo, hi = enc(lo_x, hi_x)
            heapq.heappush(heap, (-max(abs(lo), abs(hi)), lo_x, hi_x))
        count = n0
        while heap:
            neg_ub, lo_x, hi_x = heap[0]
            ub = -neg_ub
            target = max(best, floor)
            if ub <= target + rel_tol * max(1, target) or count >= max_boxes:
                break
            heapq.heappop(heap)
            mid = (lo_x + hi_x) / 2
            if hi_x - lo_x <= mpf(1e-13) * max(1, abs(mid)):
                settled = max(settled, ub)
                continue
            plo, phi = enc.point(mid)
            val = min(abs(plo), abs(phi)) if plo * phi > 0 else mpf(0)
            if val > best:
                best, arg = val, mid
            for c_lo, c_hi in ((lo_x, mid), (mid, hi_x)):
                lo, hi = enc(c_lo, c_hi)
                heapq.heappush(heap, (-max(abs(lo), abs(hi)), c_lo, c_hi))
            count += 2
        upper = max(best, settled, -heap[0][0] if heap else mpf(0))
        return SupBound(_round_up(upper), _round_down(best), float(arg), count)


# ----------------------------------------------------------------------- sign of f


def sign_regions(expr: sp.Expr, z: sp.Symbol, a: float, b: float, *, min_width: float = 1e-10,
                 negligible: float = 1e-300, max_boxes: int = 40000,
                 precisions: tuple[int, ...] = (64, 256, 1024)) -> list[tuple[float, float, int | None]]:
    """Cover ``[a, b]`` by boxes on which the sign of ``f`` is proved.

    Returns
    -------
    list of (lo, hi, sign)
        Sorted, adjacent boxes merged; ``sign`` is ``+1`` or ``-1`` when an
        enclosure proves it on the whole box, ``None`` when undecided (a box
        narrower than ``min_width``, typically around a root, or one where
        ``|f| < negligible``).

    Examples
    --------
    >>> import sympy as sp
    >>> z = sp.Symbol("z", real=True)
    >>> [(round(lo, 6), round(hi, 6), s) for lo, hi, s in sign_regions(z**2 - 1, z, 0, 3)
    ...  if s is not None]
    [(0.0, 1.0, -1), (1.0, 3.0, 1)]
    """
    enc = Enclosure(expr, z)
    out: list[tuple[mpf, mpf, int | None]] = []
    with mp.workprec(max(precisions)):
        stack = [(mpf(a), mpf(b))]
    count = 0
    while stack:
        lo_x, hi_x = stack.pop()
        count += 1
        sign, small = None, False
        for p in precisions:
            with mp.workprec(p):
                lo, hi = enc(lo_x, hi_x)
                if lo > 0:
                    sign = 1
                elif hi < 0:
                    sign = -1
                small = max(abs(lo), abs(hi)) < negligible
                if sign is not None or small:
                    break
                plo, phi = enc.point((lo_x + hi_x) / 2)
                if plo > 0 or phi < 0:
                    break  # the midpoint's sign is clear: the box is just too wide
                # the midpoint's sign is hidden by rounding: retry at higher precision
        if sign is not None or small or hi_x - lo_x <= min_width or count >= max_boxes:
            out.append((lo_x, hi_x, sign))
            continue
        mid = (lo_x + hi_x) / 2
        stack.append((mid, hi_x))
        stack.append((lo_x, mid))
    out.sort(key=lambda t: t[0])
    merged: list[tuple[float, float, int | None]] = []
    for lo_x, hi_x, s in out:
        if merged and merged[-1][2] == s:
            merged[-1] = (merged[-1][0], float(hi_x), s)
        else:
            merged.append((float(lo_x), float(hi_x), s))
    return merged
