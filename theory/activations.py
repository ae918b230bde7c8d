"""Activation functions as SymPy expressions and their derived properties.

Every activation is a real expression in the symbol :data:`Z` (``z``). From it this
module derives, symbolically where SymPy can and otherwise by the conservative
numeric method of :mod:`neuronid.theory._interval` (the ``method`` mapping says which
was used for each property):

* monotonicity: ``strictly_increasing``, ``non_decreasing`` or ``non_monotone``,
  with the intervals where ``sigma' < 0``;
* the Lipschitz constant ``sup |sigma'|`` (T4's ``Lip``);
* the curvature bound ``M = sup |sigma''|`` on the smooth parts (T4's gap term),
  ``None`` for piecewise-linear functions with kinks, whose kinks and one-sided
  slopes are listed instead;
* numpy callables for ``sigma`` and ``sigma'`` (float64).

Symbolic method: on each smooth piece, the critical points of ``f`` (``f`` =
``sigma'`` or ``sigma''``) from ``solveset(f' = 0)`` on the open piece; the
supremum of ``|f|`` is the largest of ``|f|`` there and of the one-sided values or
limits at the piece's ends (``limit`` at ``+-oo``). Monotonicity from
``sigma'.is_positive`` or ``solveset(sigma' < 0)``. Every SymPy call has a time
budget; when it fails or returns a ``ConditionSet`` the numeric method is used.

Numeric method (conservative): on the window ``[-20, 20]`` (the piece, if finite)
``sup |f|`` is bounded from above by interval branch and bound with outward
rounding (a bound, never an estimate from below), and the sign of ``sigma'`` is
proved box by box (a decrease is reported only where ``sigma' < 0`` is proved); in
the tails ``|z| > 20`` the SymPy limit at ``+-oo`` and samples at ``20 * 2**k`` are
used (stated in ``method``). Monotonicity that cannot be proved is reported as
``non_monotone`` (the safe side for realization costs, D2).

Size (about 830 lines): kept whole; the symbolic and the conservative numeric
methods derive the same properties of the same expressions and share their helpers
(pieces, bounds, limits); the interval arithmetic already lives in
:mod:`._interval`, the names in :mod:`._names`.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from typing import Callable

import mpmath
import numpy as np
import scipy.special
import sympy as sp

from . import _derived_cache, _interval
from ._names import CATALOGUE, PARAMETER_DEFAULTS, split_spec
from ._names import valid_names as _valid_names
from ._budget import BudgetExhausted, run_isolated, try_within_budget
from ._parse import Z, parse_user_expression
from ._piecewise import Piece, is_zero_exact, pieces
from neuronid.errors import UnknownActivationError

__all__ = [
    "Z",
    "CATALOGUE",
    "Activation",
    "get_activation",
    "canonical_name",
    "activation_expression",
    "analyze",
    "Analysis",
    "analyze_within_budget",
    "undetermined_analysis",
    "WINDOW",
]

# the names (CATALOGUE, aliases, parameter defaults) live in ._names, shared with the numerics
_DEFAULTS = {base: sp.Rational(text) for base, text in PARAMETER_DEFAULTS.items()}
#: Half-width of the window on which the numeric fallback is rigorous.
WINDOW = 20.0
_SYMBOLIC = "symbolic"


def _parse_param(base: str, text: str, spec: str) -> sp.Rational:
    text = text.strip()
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text):
        raise UnknownActivationError(
            f"activation '{spec}': parameter '{text}' of {base} is not a finite decimal number "
            f"(for example '{base}:0.1')")
    return sp.Rational(text)


def _format_param(value: sp.Rational) -> str:
    return repr(float(value)) if value.q != 1 else str(value.p)


_split_spec = split_spec


def canonical_name(spec: str) -> str:
    """The canonical form of an activation name.

    Default parameters are dropped, parameters are printed as Python floats, and
    user expressions are printed by SymPy.

    Examples
    --------
    >>> canonical_name(" ReLU ")
    'relu'
    >>> canonical_name("leaky_relu:0.010")
    'leaky_relu'
    >>> canonical_name("elu:0.5")
    'elu:0.5'
    >>> canonical_name("sympy:z^2")
    'sympy:z**2'
    """
    base, rest = _split_spec(spec)
    if base == "sympy":
        if rest is None:
            raise UnknownActivationError("activation 'sympy' needs an expression: 'sympy:<expression in z>'")
        return "sympy:" + sp.sstr(parse_user_expression(rest))
    if base not in CATALOGUE:
        raise UnknownActivationError(f"unknown activation '{spec}'; valid: {_valid_names()}")
    if rest is None:
        return base
    if base not in _DEFAULTS:
        raise UnknownActivationError(f"activation '{spec}': {base} takes no parameter; valid: {_valid_names()}")
    value = _parse_param(base, rest, spec)
    return base if value == _DEFAULTS[base] else f"{base}:{_format_param(value)}"


def activation_expression(name: str) -> sp.Expr:
    """SymPy expression of a canonical activation name.

    Examples
    --------
    >>> activation_expression("gelu")
    z*(erf(sqrt(2)*z/2) + 1)/2
    """
    base, rest = _split_spec(name)
    if base == "sympy":
        return parse_user_expression(rest or "")
    param = _parse_param(base, rest, name) if rest is not None else _DEFAULTS.get(base)
    builders: dict[str, Callable[[], sp.Expr]] = {
        "identity": lambda: Z,
        "relu": lambda: sp.Piecewise((0, Z <= 0), (Z, True)),
        "leaky_relu": lambda: sp.Piecewise((param * Z, Z <= 0), (Z, True)),
        "gelu": lambda: Z / 2 * (1 + sp.erf(Z / sp.sqrt(2))),
        "tanh": lambda: sp.tanh(Z),
        "sigmoid": lambda: 1 / (1 + sp.exp(-Z)),
        "softplus": lambda: sp.log(1 + sp.exp(Z)),
        "elu": lambda: sp.Piecewise((param * (sp.exp(Z) - 1), Z <= 0), (Z, True)),
        "silu": lambda: Z / (1 + sp.exp(-Z)),
        "hard_tanh": lambda: sp.Piecewise((-1, Z <= -1), (Z, Z < 1), (1, True)),
    }
    if base not in builders:
        raise UnknownActivationError(f"unknown activation '{name}'; valid: {_valid_names()}")
    return builders[base]()


# ---------------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class Kink:
    """A point where the one-sided slopes of a continuous activation differ."""

    location: sp.Expr
    left_slope: sp.Expr
    right_slope: sp.Expr

    def as_floats(self) -> tuple[float, float, float]:
        return (float(self.location), float(self.left_slope), float(self.right_slope))


@dataclass(frozen=True)
class Bound:
    """``sup |f|``: a float that is never below the true value, how it was obtained."""

    value: float
    exact: sp.Expr | None
    method: str
    lower: float | None = None


@dataclass(frozen=True)
class Analysis:
    """Derived properties of an activation (see :func:`analyze`)."""

    monotone: str
    decreasing_intervals: tuple[tuple[float, float], ...]
    decreasing_set: sp.Set | None
    lipschitz: Bound
    curvature: Bound | None
    kinks: tuple[Kink, ...]
    piecewise_linear: bool
    method: dict[str, str] = field(default_factory=dict)
    #: why the analysis is undetermined (its time or memory budget ran out), else None
    undetermined: str | None = None


def undetermined_analysis(reason: str) -> Analysis:
    """The conservative :class:`Analysis` when the symbolic analysis could not finish:
    ``non_monotone``, infinite Lipschitz and curvature bounds (never below the truth),
    no kinks claimed, and the reason in ``method`` and ``undetermined``."""
    note = f"undetermined: {reason}"
    unbounded = Bound(math.inf, None, note)
    method = {"monotone": note + "; reported as non_monotone, the conservative choice",
              "lipschitz": note + "; reported as unbounded", "curvature": note + "; reported as unbounded",
              "kinks": note}
    return Analysis("non_monotone", (), None, unbounded, unbounded, (), False, method, reason)


def analyze_within_budget(expr: sp.Expr) -> Analysis:
    """:func:`analyze` in an isolated process with a CPU-time and memory budget
    (:func:`~neuronid.theory._budget.run_isolated`); past it, :func:`undetermined_analysis`.
    Used for user expressions (``sympy:...``), whose analysis may not terminate."""
    try:
        return run_isolated(lambda: analyze(expr), what="the symbolic analysis")
    except BudgetExhausted as exc:
        return undetermined_analysis(str(exc))


def _float_up(x: sp.Expr) -> float:
    """Smallest float not below the exact real number ``x`` (``inf`` for oo)."""
    if x == sp.oo:
        return math.inf
    v = sp.N(x, 40)
    f = float(v)
    return math.nextafter(f, math.inf) if sp.Float(f, 40) < v else f


def _finite_real(v) -> bool:
    return v is not None and v.is_number and v.is_real is True and v.is_finite is True


def _one_sided(e: sp.Expr, point: sp.Expr, direction: str) -> sp.Expr | None:
    """Value of ``e`` at a finite ``point`` (or the one-sided limit), or ``None``."""
    v = try_within_budget(lambda: e.subs(Z, point), 2.0)
    if _finite_real(v):
        return v
    v = try_within_budget(lambda: sp.limit(e, Z, point, direction), 4.0)
    if v is not None and (v in (sp.oo, -sp.oo) or _finite_real(v)):
        return v
    return None


def _limit_inf(e: sp.Expr, sign: int) -> sp.Expr | None:
    v = try_within_budget(lambda: sp.limit(e, Z, sign * sp.oo), 4.0)
    if v is None or v.has(sp.Limit):
        return None
    return v


def _abs_value(v: sp.Expr) -> sp.Expr:
    if v in (sp.oo, -sp.oo):
        return sp.oo
    return sp.Abs(v)


def _numeric_key(v: sp.Expr) -> sp.Float:
    return sp.oo if v == sp.oo else sp.N(v, 30)


def _sup_abs_symbolic(f: sp.Expr, cell: sp.Interval) -> sp.Expr | None:
    """Exact ``sup |f|`` over the open cell, or ``None`` when SymPy cannot decide."""
    if not f.has(Z):
        return sp.Abs(f) if _finite_real(f) else None
    fp = sp.diff(f, Z)
    inside = sp.Interval.open(cell.inf, cell.sup)
    crit = try_within_budget(lambda: sp.solveset(fp, Z, inside), 3.0)
    if crit is None:
        return None
    if crit == inside:  # f' == 0 on the cell: f is constant there
        mid = (cell.inf + cell.sup) / 2 if cell.inf.is_finite and cell.sup.is_finite else (
            cell.inf + 1 if cell.inf.is_finite else cell.sup - 1 if cell.sup.is_finite else 0)
        v = f.subs(Z, mid)
        return sp.Abs(v) if _finite_real(v) else None
    if crit is not sp.S.EmptySet and not isinstance(crit, sp.FiniteSet):
        return None
    cands: list[sp.Expr] = []
    for c in (crit if crit is not sp.S.EmptySet else ()):
        v = try_within_budget(lambda: f.subs(Z, c), 2.0)
        if not _finite_real(v):
            return None
        cands.append(sp.Abs(v))
    for end, direction, sign in ((cell.inf, "+", -1), (cell.sup, "-", 1)):
        v = _limit_inf(f, sign) if not end.is_finite else _one_sided(f, end, direction)
        if v is None or isinstance(v, sp.AccumBounds):
            return None
        if not (v in (sp.oo, -sp.oo) or _finite_real(v)):
            return None
        cands.append(_abs_value(v))
    best = max(cands, key=_numeric_key)
    if best == sp.oo:
        return sp.oo
    forms = [best]
    for rewrite in (sp.radsimp, lambda e: sp.radsimp(sp.simplify(e))):
        alt = try_within_budget(lambda: rewrite(best), 3.0)
        if alt is not None and _finite_real(alt):
            forms.append(alt)
    return min(forms, key=sp.count_ops)


def _window(cell: sp.Interval) -> tuple[float, float]:
    a = float(cell.inf) if cell.inf.is_finite else None
    b = float(cell.sup) if cell.sup.is_finite else None
    if a is None and b is None:
        return -WINDOW, WINDOW
    if a is None:
        return min(-WINDOW, b - 2 * WINDOW), b
    if b is None:
        return a, max(WINDOW, a + 2 * WINDOW)
    return a, b


def _tail_samples(f: sp.Expr, start: float, sign: int) -> float:
    """max |f| at ``start * 2**k`` (k = 1..8), each an interval upper bound."""
    point = _interval.point_evaluator(f, Z)
    top = 0.0
    for k in range(1, 9):
        x = mpmath.mpf(start) * 2**k if start != 0 else mpmath.mpf(sign) * 2**k
        for p in (64, 512):
            with mpmath.mp.workprec(p):
                lo, hi = point(x)
            if mpmath.isfinite(lo) and mpmath.isfinite(hi):
                break
        top = max(top, float(max(abs(lo), abs(hi))))
    return top


def _sup_abs_numeric(f: sp.Expr, cell: sp.Interval) -> Bound:
    a, b = _window(cell)
    tails, parts = [], []
    for end, sign in ((cell.inf, -1), (cell.sup, 1)):
        if end.is_finite:
            continue
        edge = a if sign < 0 else b
        lim = _limit_inf(f, sign)
        tail = _tail_samples(f, edge, sign)
        if lim is not None and isinstance(lim, sp.AccumBounds):
            lim_abs = max(abs(float(lim.min)), abs(float(lim.max)))
        elif lim is not None and (lim in (sp.oo, -sp.oo)):
            lim_abs = math.inf
        elif lim is not None and _finite_real(lim):
            lim_abs = _float_up(sp.Abs(lim))
        else:
            lim_abs = None
        tails.append(max(tail, lim_abs if lim_abs is not None else 0.0))
        side = "z -> -oo" if sign < 0 else "z -> +oo"
        parts.append(f"tail {side}: " + (f"SymPy limit {lim} and " if lim_abs is not None else "")
                     + f"samples at {edge:g}*2**k, k=1..8 (not rigorous)")
    floor = max(tails, default=0.0)
    if math.isinf(floor):
        return Bound(math.inf, None, "numeric (" + "; ".join(parts) + ")", lower=math.inf)
    res = _interval.sup_abs(f, Z, a, b, floor=floor)
    parts.insert(0, f"interval branch and bound on [{a:g}, {b:g}] (upper bound, rel. tol 1e-10)")
    upper = max(res.upper, floor)
    return Bound(upper, None, "numeric (" + "; ".join(parts) + ")", lower=max(res.lower, 0.0))


def _sup_abs(f: sp.Expr, cells: list[Piece], *, force_numeric: bool = False) -> Bound:
    best: Bound | None = None
    exact_all: list[sp.Expr] = []
    numeric_methods: list[str] = []
    for p in cells:
        g = f(p.expr) if callable(f) else f
        exact = None if force_numeric else _sup_abs_symbolic(g, p.cell)
        if exact is not None:
            b = Bound(_float_up(exact), exact, _SYMBOLIC)
            exact_all.append(exact)
        else:
            b = _sup_abs_numeric(g, p.cell)
            numeric_methods.append(b.method)
        if best is None or b.value > best.value:
            best = b
    assert best is not None
    if numeric_methods:
        method = numeric_methods[0] if len(numeric_methods) == 1 else "; ".join(numeric_methods)
        return Bound(best.value, None, method, lower=best.lower)
    exact = max(exact_all, key=_numeric_key)
    return Bound(best.value, exact, _SYMBOLIC)


def _positive_symbolically(d1: sp.Expr) -> bool:
    if d1.is_positive:
        return True
    alt = try_within_budget(lambda: sp.factor(sp.simplify(d1.rewrite(sp.exp))), 3.0)
    return bool(alt is not None and alt.is_positive)


def _sign_symbolic(d1: sp.Expr, cell: sp.Interval) -> tuple[sp.Set, sp.Set] | None:
    """(set where sigma' < 0, set where sigma' = 0) within the open cell, or None."""
    inside = sp.Interval.open(cell.inf, cell.sup)
    if not d1.has(Z):
        if not _finite_real(d1):
            return None
        return (inside if d1 < 0 else sp.S.EmptySet, inside if d1 == 0 else sp.S.EmptySet)
    if _positive_symbolically(d1):
        return sp.S.EmptySet, sp.S.EmptySet
    neg = try_within_budget(lambda: sp.solveset(d1 < 0, Z, inside), 3.0)
    if neg is None or neg.has(sp.ConditionSet):
        return None
    zero = try_within_budget(lambda: sp.solveset(sp.Eq(d1, 0), Z, inside), 3.0)
    if neg is None or not isinstance(neg, sp.Set) or neg.has(sp.ConditionSet) or neg.has(sp.ImageSet):
        return None
    if zero is None or not isinstance(zero, sp.Set) or zero.has(sp.ConditionSet):
        return None
    if _has_interior(zero) is None:
        return None
    return neg, zero


def _has_interior(s: sp.Set) -> bool | None:
    """Whether ``s`` contains an interval of positive length (None: cannot tell)."""
    if s is sp.S.EmptySet or isinstance(s, sp.FiniteSet):
        return False
    if isinstance(s, sp.Interval):
        return bool(s.measure > 0)
    if isinstance(s, sp.ImageSet) and s.base_sets and all(b.is_subset(sp.S.Integers) for b in s.base_sets):
        return False  # countable
    if isinstance(s, (sp.Union, sp.Complement, sp.Intersection)) and isinstance(s, sp.Union):
        parts = [_has_interior(a) for a in s.args]
        if any(p is None for p in parts):
            return None
        return any(parts)
    return None


def _sign_numeric(d1: sp.Expr, cell: sp.Interval) -> tuple[list[tuple[float, float]], bool, bool, str]:
    """(decreasing intervals, all proved positive, undecided boxes present, method)."""
    a, b = _window(cell)
    regions = _interval.sign_regions(d1, Z, a, b)
    dec: list[tuple[float, float]] = []
    undecided = False
    for i, (lo, hi, s) in enumerate(regions):
        if s == -1:
            # widen over neighbouring undecided root boxes (width <= 1e-10)
            left = regions[i - 1] if i > 0 else None
            right = regions[i + 1] if i + 1 < len(regions) else None
            lo2 = (left[0] + left[1]) / 2 if left and left[2] is None else lo
            hi2 = (right[0] + right[1]) / 2 if right and right[2] is None else hi
            dec.append((lo2, hi2))
        elif s is None:
            neighbours = {regions[j][2] for j in (i - 1, i + 1) if 0 <= j < len(regions)}
            if neighbours != {1, -1}:
                undecided = True  # not a sign change between proved boxes: unexplained
    tails = []
    for end, sign in ((cell.inf, -1), (cell.sup, 1)):
        if end.is_finite:
            continue
        lim = _limit_inf(d1, sign)
        edge_box = regions[0] if sign < 0 else regions[-1]
        if lim is not None and _finite_real(lim) and lim != 0:
            tail_sign = 1 if lim > 0 else -1
            how = f"sign of the SymPy limit {lim}"
        else:
            tail_sign = edge_box[2]
            how = "sign at the window edge" + (f" (SymPy limit {lim})" if lim is not None else "")
        tails.append(f"tail z -> {'-' if sign < 0 else '+'}oo: {how} (not rigorous)")
        if tail_sign is None:
            undecided = True
        elif tail_sign < 0:
            if sign < 0:
                if dec and dec[0][0] == a:
                    dec[0] = (-math.inf, dec[0][1])
                else:
                    dec.insert(0, (-math.inf, a))
            else:
                if dec and dec[-1][1] == b:
                    dec[-1] = (dec[-1][0], math.inf)
                else:
                    dec.append((b, math.inf))
    positive = all(s == 1 for _, _, s in regions) and not dec
    method = (f"numeric (sign of sigma' proved box by box by interval arithmetic on [{a:g}, {b:g}], "
              f"boundaries to 1e-10" + ("; " + "; ".join(tails) if tails else "") + ")")
    return dec, positive, undecided, method


def _kinks(cells: list[Piece]) -> tuple[Kink, ...]:
    out = []
    for left, right in zip(cells[:-1], cells[1:]):
        p = left.cell.sup
        if p != right.cell.inf or not p.is_finite:
            continue
        sl = _one_sided(sp.diff(left.expr, Z), p, "-")
        sr = _one_sided(sp.diff(right.expr, Z), p, "+")
        if sl is None or sr is None:
            continue
        if not is_zero_exact(sl - sr):
            out.append(Kink(p, sp.nsimplify(sl) if sl.is_Float else sl, sr))
    return tuple(out)


def _set_to_intervals(s: sp.Set) -> list[tuple[float, float]]:
    parts = s.args if isinstance(s, sp.Union) else (s,)
    out = []
    for part in parts:
        if isinstance(part, sp.Interval):
            out.append((float(part.inf), float(part.sup)))
    return sorted(out)


@functools.lru_cache(maxsize=256)
def analyze(expr: sp.Expr, *, force_numeric: bool = False) -> Analysis:
    """Derive monotonicity, ``Lip = sup|sigma'|``, ``M = sup|sigma''|`` and kinks.

    Parameters
    ----------
    expr : sympy.Expr
        A continuous real function of :data:`Z` (built from analytic functions and
        ``Abs``/``Max``/``Min``/``Piecewise``).
    force_numeric : bool
        Skip the symbolic attempts (used by the tests to compare the numeric
        fallback against exact values).

    Examples
    --------
    >>> a = analyze(sp.tanh(Z))
    >>> a.monotone, a.lipschitz.exact, a.curvature.exact
    ('strictly_increasing', 1, 4*sqrt(3)/9)
    """
    ps = pieces(expr)
    cells = [p for p in ps if isinstance(p.cell, sp.Interval) and p.cell.measure > 0]
    kinks = _kinks(cells)
    d2s = [sp.diff(p.expr, Z, 2) for p in cells]
    pl = all(sp.expand(d) == 0 for d in d2s)
    method: dict[str, str] = {"kinks": _SYMBOLIC}

    lip = _sup_abs(lambda e: sp.diff(e, Z), cells, force_numeric=force_numeric)
    method["lipschitz"] = lip.method
    if pl and kinks:
        curv = None
        method["curvature"] = "symbolic (piecewise linear: sigma'' = 0 off the kinks; see kinks)"
    else:
        curv = _sup_abs(lambda e: sp.diff(e, Z, 2), cells, force_numeric=force_numeric)
        method["curvature"] = curv.method

    dec_sets: list[sp.Set] = []
    dec_numeric: list[tuple[float, float]] = []
    flat = False
    undecided = False
    numeric_notes: list[str] = []
    for p in cells:
        d1 = sp.diff(p.expr, Z)
        sym = None if force_numeric and d1.has(Z) else _sign_symbolic(d1, p.cell)
        if sym is not None:
            neg, zero = sym
            if neg is not sp.S.EmptySet:
                dec_sets.append(neg)
            if _has_interior(zero):
                flat = True
            continue
        dec, positive, und, how = _sign_numeric(d1, p.cell)
        numeric_notes.append(how)
        dec_numeric.extend(dec)
        undecided = undecided or (und and not dec)
    decreasing = sorted(
        [iv for s in dec_sets for iv in _set_to_intervals(s)] + dec_numeric)
    merged: list[tuple[float, float]] = []
    for lo, hi in decreasing:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    if merged:
        monotone = "non_monotone"
    elif undecided:
        monotone = "non_monotone"
        numeric_notes.append("monotonicity not proved (undecided boxes); reported as non_monotone, "
                             "the conservative choice")
    elif flat:
        monotone = "non_decreasing"
    else:
        monotone = "strictly_increasing"
    if numeric_notes:
        method["monotone"] = "; ".join(numeric_notes)
        if dec_sets:
            method["monotone"] = "symbolic on some pieces; " + method["monotone"]
    else:
        method["monotone"] = "symbolic (sign of sigma' by is_positive / solveset)"
    dec_set = sp.Union(*dec_sets) if dec_sets and not numeric_notes else (
        sp.S.EmptySet if not merged and not numeric_notes else None)
    return Analysis(monotone, tuple(merged), dec_set, lip, curv, kinks, pl, method)


# ------------------------------------------------------------------------ numpy callables

_SQRT1_2 = math.sqrt(0.5)


def _as_float_array(z) -> np.ndarray:
    return np.asarray(z, dtype=np.float64)


def _catalogue_numpy(base: str, param: float | None):
    """Numerically careful float64 implementations of the catalogue (and sigma')."""
    expit = scipy.special.expit
    if base == "identity":
        return (lambda z: _as_float_array(z).copy(), lambda z: np.ones_like(_as_float_array(z)))
    if base == "relu":
        return (lambda z: np.maximum(_as_float_array(z), 0.0),
                lambda z: (_as_float_array(z) > 0).astype(np.float64))
    if base == "leaky_relu":
        a = float(param)
        return (lambda z: np.where(_as_float_array(z) > 0, _as_float_array(z), a * _as_float_array(z)),
                lambda z: np.where(_as_float_array(z) > 0, 1.0, a))
    if base == "gelu":
        def gelu(z):
            z = _as_float_array(z)
            return 0.5 * z * scipy.special.erfc(-z * _SQRT1_2)

        def dgelu(z):
            z = _as_float_array(z)
            return 0.5 * scipy.special.erfc(-z * _SQRT1_2) + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        return gelu, dgelu
    if base == "tanh":
        def dtanh(z):
            with np.errstate(over="ignore"):
                return 1.0 / np.cosh(_as_float_array(z)) ** 2
        return (lambda z: np.tanh(_as_float_array(z)), dtanh)
    if base == "sigmoid":
        def dsig(z):
            z = _as_float_array(z)
            return expit(z) * expit(-z)
        return (lambda z: expit(_as_float_array(z)), dsig)
    if base == "softplus":
        return (lambda z: np.logaddexp(0.0, _as_float_array(z)), lambda z: expit(_as_float_array(z)))
    if base == "elu":
        a = float(param)

        def elu(z):
            z = _as_float_array(z)
            return np.where(z > 0, z, a * np.expm1(np.minimum(z, 0.0)))

        def delu(z):
            z = _as_float_array(z)
            return np.where(z > 0, 1.0, a * np.exp(np.minimum(z, 0.0)))
        return elu, delu
    if base == "silu":
        def dsilu(z):
            z = _as_float_array(z)
            return expit(z) * (1.0 + z * expit(-z))
        return (lambda z: _as_float_array(z) * expit(_as_float_array(z)), dsilu)
    if base == "hard_tanh":
        return (lambda z: np.clip(_as_float_array(z), -1.0, 1.0),
                lambda z: ((_as_float_array(z) > -1) & (_as_float_array(z) < 1)).astype(np.float64))
    raise KeyError(base)  # pragma: no cover


_LAMBDIFY_MODULES = [{"erf": scipy.special.erf, "erfc": scipy.special.erfc}, "numpy"]


def _lambdify(expr: sp.Expr) -> Callable[[np.ndarray], np.ndarray]:
    fn = sp.lambdify(Z, expr, modules=_LAMBDIFY_MODULES)

    def call(z):
        z = _as_float_array(z)
        with np.errstate(all="ignore"):
            out = fn(z)
        return np.broadcast_to(np.asarray(out, dtype=np.float64), z.shape).copy()

    return call


def _piecewise_derivative(expr: sp.Expr) -> sp.Expr:
    ps = pieces(expr)
    cells = [p for p in ps if isinstance(p.cell, sp.Interval) and p.cell.measure > 0]
    if len(cells) == 1:
        return sp.diff(cells[0].expr, Z)
    args = []
    for i, p in enumerate(cells):
        cond = p.cell.as_relational(Z)
        nxt = cells[i + 1].cell if i + 1 < len(cells) else None
        if nxt is not None and p.cell.right_open and nxt.left_open and nxt.inf == p.cell.sup:
            cond = sp.Or(cond, sp.Eq(Z, p.cell.sup))  # the boundary is in no interval: left slope
        args.append((sp.diff(p.expr, Z), cond))
    args[-1] = (args[-1][0], True)
    return sp.Piecewise(*args)


# --------------------------------------------------------------------------- the object


class Activation:
    """An activation: its SymPy expression, derived properties and numpy callables.

    Obtain instances with :func:`get_activation`; properties are derived lazily
    on first access and cached.

    Attributes
    ----------
    name : str
        Canonical name (``relu``, ``leaky_relu:0.2``, ``sympy:z**2``, ...).
    expr : sympy.Expr
        Real expression in :data:`Z`.
    monotone : str
        ``strictly_increasing``, ``non_decreasing`` or ``non_monotone``.
    lipschitz : float
        ``sup |sigma'|`` (an upper bound when numeric; ``inf`` if unbounded).
    curvature : float or None
        ``sup |sigma''|`` on the smooth parts; ``None`` for piecewise-linear
        activations with kinks.
    kinks : list of (float, float, float)
        ``(location, left slope, right slope)``.
    method : dict
        Property -> ``"symbolic"`` or ``"numeric (...how...)"``.
    numpy, derivative_numpy : callable
        ``sigma`` and ``sigma'`` on float64 arrays (at a kink, the slope of the
        piece that contains the point: ``relu'(0) = 0``, ``leaky_relu'(0) = slope``).
    """

    def __init__(self, name: str, expr: sp.Expr):
        self.name = name
        self.expr = expr
        base, rest = _split_spec(name)
        self.base = base
        self.parameter = None if base == "sympy" else (
            float(_parse_param(base, rest, name)) if rest is not None else
            (float(_DEFAULTS[base]) if base in _DEFAULTS else None))

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"

    @functools.cached_property
    def analysis(self) -> Analysis:
        if self.base == "sympy":
            return analyze_within_budget(self.expr)
        return analyze(self.expr)

    @functools.cached_property
    def derivative(self) -> sp.Expr:
        """``sigma'`` as a SymPy expression, piecewise where ``sigma`` is.

        At a kink the slope of the piece that contains the point (a point that no
        interval piece contains takes the slope from the left).
        """
        return _piecewise_derivative(self.expr)

    @functools.cached_property
    def second_derivative(self) -> sp.Expr:
        return sp.diff(self.derivative, Z)

    @functools.cached_property
    def facts(self) -> dict:
        """The plain results of :attr:`analysis` (``monotone``, ``decreasing_intervals``,
        ``lipschitz``, ``curvature``, ``kinks``, ``piecewise_linear``, ``method``), read
        from the on-disk cache of derived values (:mod:`._derived_cache`) when present:
        the SymPy analysis costs 0.4-3.6 s per activation and process. An undetermined
        analysis (its budget ran out: depends on the machine) is not stored."""
        cached = _derived_cache.load("activation-facts", self.name, _FACTS_SOURCES)
        if cached is not None:
            try:
                return _facts_from_json(cached)
            except (KeyError, TypeError, ValueError):  # not an entry we wrote: derive afresh
                pass
        a = self.analysis
        facts = {
            "monotone": a.monotone,
            "decreasing_intervals": [(float(lo), float(hi)) for lo, hi in a.decreasing_intervals],
            "lipschitz": float(a.lipschitz.value),
            "curvature": None if a.curvature is None else float(a.curvature.value),
            "kinks": [tuple(float(v) for v in k.as_floats()) for k in a.kinks],
            "piecewise_linear": bool(a.piecewise_linear),
            "method": dict(a.method),
            "undetermined": a.undetermined,
        }
        if a.undetermined is None:
            _derived_cache.store("activation-facts", self.name, _FACTS_SOURCES, _facts_to_json(facts))
        return facts

    @property
    def monotone(self) -> str:
        return self.facts["monotone"]

    @property
    def undetermined(self) -> str | None:
        """Why the analysis is undetermined (its budget ran out), else ``None``. The facts
        are then the conservative values (``non_monotone``, ...), not findings: a check
        must not report such a hypothesis as failed. (Stored facts are determined ones.)"""
        return self.facts.get("undetermined")

    @property
    def decreasing_intervals(self) -> list[tuple[float, float]]:
        return list(self.facts["decreasing_intervals"])

    @property
    def lipschitz(self) -> float:
        return self.facts["lipschitz"]

    @property
    def lipschitz_exact(self) -> sp.Expr | None:
        return self.analysis.lipschitz.exact

    @property
    def curvature(self) -> float | None:
        return self.facts["curvature"]

    @property
    def curvature_exact(self) -> sp.Expr | None:
        c = self.analysis.curvature
        return None if c is None else c.exact

    @property
    def kinks(self) -> list[tuple[float, float, float]]:
        return list(self.facts["kinks"])

    @property
    def method(self) -> dict[str, str]:
        return dict(self.facts["method"])

    @property
    def piecewise_linear(self) -> bool:
        return self.facts["piecewise_linear"]

    @functools.cached_property
    def _callables(self):
        if self.base in CATALOGUE:
            return _catalogue_numpy(self.base, self.parameter)
        return _lambdify(self.expr), _lambdify(self.derivative)

    @property
    def numpy(self) -> Callable[[np.ndarray], np.ndarray]:
        return self._callables[0]

    @property
    def derivative_numpy(self) -> Callable[[np.ndarray], np.ndarray]:
        return self._callables[1]


#: The monotonicity classes an analysis reports.
_MONOTONE_CLASSES = ("strictly_increasing", "non_decreasing", "non_monotone")
#: What :attr:`Activation.facts` derives from: its on-disk cache key hashes this package.
_FACTS_SOURCES = ("neuronid.theory",)


def _facts_to_json(facts: dict) -> dict:
    """Strict JSON for :attr:`Activation.facts`: non-finite floats as ``"inf"``/``"-inf"``."""
    def num(v):
        return v if math.isfinite(v) else repr(v)

    return {
        "monotone": facts["monotone"],
        "decreasing_intervals": [[num(lo), num(hi)] for lo, hi in facts["decreasing_intervals"]],
        "lipschitz": num(facts["lipschitz"]),
        "curvature": None if facts["curvature"] is None else num(facts["curvature"]),
        "kinks": [[num(v) for v in k] for k in facts["kinks"]],
        "piecewise_linear": facts["piecewise_linear"],
        "method": facts["method"],
    }


def _facts_from_json(raw: dict) -> dict:
    """:func:`_facts_to_json` inverted, with every field's type checked."""
    if raw["monotone"] not in _MONOTONE_CLASSES or not isinstance(raw["piecewise_linear"], bool):
        raise TypeError("bad entry")
    method = raw["method"]
    if not (isinstance(method, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in method.items())):
        raise TypeError("bad entry")
    facts = {
        "monotone": raw["monotone"],
        "decreasing_intervals": [(float(lo), float(hi)) for lo, hi in raw["decreasing_intervals"]],
        "lipschitz": float(raw["lipschitz"]),
        "curvature": None if raw["curvature"] is None else float(raw["curvature"]),
        "kinks": [(float(a), float(b), float(c)) for a, b, c in raw["kinks"]],
        "piecewise_linear": raw["piecewise_linear"],
        "method": dict(method),
        "undetermined": None,  # only determined analyses are stored
    }
    bounds = [facts["lipschitz"]] + ([] if facts["curvature"] is None else [facts["curvature"]])
    if any(math.isnan(v) or v < 0 for v in bounds) or any(
            math.isnan(v) for iv in facts["decreasing_intervals"] for v in iv) or any(
            not math.isfinite(v) for k in facts["kinks"] for v in k):
        raise ValueError("bad entry")  # never produced by an analysis
    return facts


@functools.lru_cache(maxsize=256)
def _build(canonical: str) -> Activation:
    return Activation(canonical, activation_expression(canonical))


def get_activation(spec: str) -> Activation:
    """The (cached) :class:`Activation` for a name in the DESIGN.md file format.

    Parameters
    ----------
    spec : str
        ``identity``, ``relu``, ``leaky_relu[:slope]``, ``gelu``, ``tanh``,
        ``sigmoid``, ``softplus``, ``elu[:alpha]``, ``silu``, ``hard_tanh`` or
        ``sympy:<expression in z>``.

    Raises
    ------
    UnknownActivationError
        Unknown name (the message lists the valid ones) or invalid expression.

    Examples
    --------
    >>> act = get_activation("tanh")
    >>> act.lipschitz, act.monotone
    (1.0, 'strictly_increasing')
    >>> get_activation("relu").kinks
    [(0.0, 0.0, 1.0)]
    >>> get_activation("relu") is get_activation(" relu ")
    True
    """
    if not isinstance(spec, str):
        raise UnknownActivationError(
            f"activation must be a string, got {type(spec).__name__}; valid: {_valid_names()}")
    return _from_spec(spec)


@functools.lru_cache(maxsize=1024)
def _from_spec(spec: str) -> Activation:
    return _build(canonical_name(spec))
