"""Piecewise view of an activation and a prover for identities in ``z``.

An activation built from analytic functions and ``Abs``/``Max``/``Min`` is, after
``rewrite(Piecewise)`` and ``piecewise_fold``, a finite list of *cells* (intervals
and points of the real line) each carrying one analytic expression. Identities are
proved cell by cell: on an interval cell an analytic expression vanishes iff it
simplifies to 0 (identity theorem), on a point cell the exact value must be 0.
Affine reparametrizations ``z -> s z + t`` and sums of such pieces are computed on
the cells, so that conditions never involve symbols other than ``z``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterable

import sympy as sp

from ._budget import try_within_budget
from ._parse import Z

__all__ = ["Piece", "pieces", "affine", "combine", "prove_zero", "ZeroProof", "is_zero_exact"]

REALS = sp.Interval(-sp.oo, sp.oo)


@dataclass(frozen=True)
class Piece:
    """One cell (``sympy.Interval`` or one-point ``FiniteSet``) and its expression."""

    cell: sp.Set
    expr: sp.Expr


def _split(s: sp.Set) -> list[sp.Set]:
    if isinstance(s, sp.Union):
        out: list[sp.Set] = []
        for a in s.args:
            out.extend(_split(a))
        return out
    if isinstance(s, sp.FiniteSet):
        return [sp.FiniteSet(p) for p in s]
    if s is sp.S.Reals:
        return [REALS]
    if isinstance(s, sp.Interval) or s is sp.S.EmptySet:
        return [s] if s is not sp.S.EmptySet else []
    raise ValueError(f"cannot split the set {s}")


def _left(cell: sp.Set):
    return cell.inf


def pieces(expr: sp.Expr, z: sp.Symbol = Z) -> list[Piece]:
    """Cells of the real line and the analytic expression of ``expr`` on each.

    Examples
    --------
    >>> [(str(p.cell), p.expr) for p in pieces(sp.Max(0, Z))]
    [('Interval(-oo, 0)', 0), ('Interval.open(0, oo)', z)]
    """
    e = expr
    if e.has(sp.Abs, sp.Max, sp.Min, sp.Heaviside, sp.sign):
        e = e.rewrite(sp.Piecewise)
    e = sp.piecewise_fold(e)
    if not isinstance(e, sp.Piecewise):
        return [Piece(REALS, e)]
    out: list[Piece] = []
    for ex, s in e.as_expr_set_pairs(sp.S.Reals):
        for cell in _split(s):
            out.append(Piece(cell, ex))
    out.sort(key=lambda p: (_left(p.cell), 0 if isinstance(p.cell, sp.FiniteSet) else 1))
    merged: list[Piece] = []
    for p in out:  # merge neighbours with the same expression (a cut the fold left behind)
        if merged and sp.expand(merged[-1].expr - p.expr) == 0:
            u = sp.Union(merged[-1].cell, p.cell)
            if isinstance(u, (sp.Interval, sp.FiniteSet)):
                merged[-1] = Piece(u, p.expr)
                continue
        merged.append(p)
    return merged


def _map_cell(cell: sp.Set, s: sp.Expr, t: sp.Expr) -> sp.Set:
    """``{z : s z + t in cell}`` for a numeric ``s != 0``."""
    if isinstance(cell, sp.FiniteSet):
        return sp.FiniteSet(*[(p - t) / s for p in cell])
    lo, hi = (cell.start - t) / s, (cell.end - t) / s
    if s.is_positive:
        return sp.Interval(lo, hi, cell.left_open, cell.right_open)
    return sp.Interval(hi, lo, cell.right_open, cell.left_open)


def affine(ps: list[Piece], s: sp.Expr, t: sp.Expr = sp.S.Zero, z: sp.Symbol = Z) -> list[Piece]:
    """Pieces of ``sigma(s z + t)`` from the pieces of ``sigma``.

    ``s`` is a nonzero number, or a symbol declared positive; in the second case
    every cell must be a cone (ends in ``{-oo, 0, oo}``), which scaling maps onto
    itself, otherwise ``ValueError``.
    """
    s, t = sp.sympify(s), sp.sympify(t)
    out = []
    for p in ps:
        if s.is_number:
            cell = _map_cell(p.cell, s, t)
        else:
            if not s.is_positive or t != 0:
                raise ValueError("symbolic scaling needs a positive symbol and no shift")
            ends = [p.cell.inf, p.cell.sup]
            if any(e not in (-sp.oo, sp.oo, 0) for e in ends):
                raise ValueError(f"cell {p.cell} is not a cone: not invariant under scaling")
            cell = p.cell
        out.append(Piece(cell, p.expr.subs(z, s * z + t)))
    out.sort(key=lambda p: (_left(p.cell), 0 if isinstance(p.cell, sp.FiniteSet) else 1))
    return out


def combine(terms: Iterable[tuple[sp.Expr, list[Piece]]], extra: sp.Expr = sp.S.Zero) -> list[Piece]:
    """Pieces of ``sum_k coef_k * f_k(z) + extra`` on the common refinement of the cells."""
    cells: list[Piece] = [Piece(REALS, sp.sympify(extra))]
    for coef, ps in terms:
        new: list[Piece] = []
        for a in cells:
            for b in ps:
                inter = sp.Intersection(a.cell, b.cell)
                if inter is sp.S.EmptySet:
                    continue
                for cell in _split(inter):
                    new.append(Piece(cell, a.expr + coef * b.expr))
        cells = new
    cells.sort(key=lambda p: (_left(p.cell), 0 if isinstance(p.cell, sp.FiniteSet) else 1))
    return cells


_CHEAP_FORMS: tuple[Callable[[sp.Expr], sp.Expr], ...] = (lambda e: e, sp.expand)
_ZERO_FORMS: tuple[Callable[[sp.Expr], sp.Expr], ...] = (
    lambda e: sp.cancel(sp.together(e)),
    lambda e: sp.expand(sp.expand_log(e, force=False)),
    sp.simplify,
    lambda e: sp.simplify(e.rewrite(sp.exp)),
    lambda e: sp.simplify(sp.expand_trig(e)),
)


def is_zero_exact(e: sp.Expr, seconds: float = 4.0) -> bool:
    """True only if some exact SymPy rewriting of ``e`` is literally ``0``.

    Never uses numeric sampling; ``False`` means "not proved", not "nonzero".

    Examples
    --------
    >>> is_zero_exact(sp.tanh(Z) + sp.tanh(-Z))
    True
    >>> is_zero_exact(sp.tanh(Z) - sp.tanh(-Z))
    False
    """
    e = sp.sympify(e)
    for form in _CHEAP_FORMS:
        r = try_within_budget(lambda: form(e), seconds)
        if r is not None and r == 0:
            return True
    if _visibly_nonzero(e):
        return False  # nonzero at a point: not identically zero, skip the slow rewrites
    for form in _ZERO_FORMS:
        r = try_within_budget(lambda: form(e), seconds)
        if r is not None and r == 0:
            return True
    return False


def _visibly_nonzero(e: sp.Expr) -> bool:
    """True if ``e`` is clearly nonzero at one rational point respecting the symbols' signs."""
    rng = random.Random(12345)
    point = {}
    for s in sorted(e.free_symbols, key=str):
        v = sp.Rational(rng.randint(11, 97), rng.randint(7, 31))
        point[s] = -v if (s.is_negative or s.is_nonpositive) else v
    val = try_within_budget(lambda: sp.N(e.subs(point), 30), 2.0)
    return bool(val is not None and val.is_number and val.is_finite
                and (not val.is_real or abs(val) > sp.Float("1e-15")))


def _sample_points(cell: sp.Set, rng: random.Random, n: int = 3) -> list[sp.Expr]:
    if isinstance(cell, sp.FiniteSet):
        return list(cell)
    lo, hi = cell.inf, cell.sup
    pts = []
    for _ in range(n):
        frac = sp.Rational(rng.randint(1, 99), 100)
        if lo.is_finite and hi.is_finite:
            pts.append(lo + (hi - lo) * frac)
        elif lo.is_finite:
            pts.append(lo + sp.Rational(rng.randint(1, 400), 100))
        elif hi.is_finite:
            pts.append(hi - sp.Rational(rng.randint(1, 400), 100))
        else:
            pts.append(sp.Rational(rng.randint(-400, 400), 100))
    return pts


@dataclass(frozen=True)
class ZeroProof:
    """Outcome of :func:`prove_zero`: ``status`` is proved / disproved / undetermined."""

    status: str
    detail: str
    witness: dict | None = None

    @property
    def proved(self) -> bool:
        return self.status == "proved"


def prove_zero(ps: list[Piece], params: dict[sp.Symbol, sp.Expr] | None = None, *,
               seed: int = 0, z: sp.Symbol = Z) -> ZeroProof:
    """Decide whether the piecewise function ``ps`` is identically zero on the reals.

    First a numeric screen at random rational points (parameters set to the sample
    values in ``params``): a value clearly away from 0 disproves the identity and is
    returned as the witness. Then each cell is proved exactly with
    :func:`is_zero_exact` (point cells by their exact value).

    Examples
    --------
    >>> prove_zero(pieces(sp.Max(0, Z) - sp.Max(0, -Z) - Z)).status
    'proved'
    >>> prove_zero(pieces(sp.Max(0, Z) - Z)).status
    'disproved'
    """
    rng = random.Random(seed)
    params = params or {}
    for p in ps:
        for x in _sample_points(p.cell, rng):
            val = p.expr.subs(params).subs(z, x)
            num = try_within_budget(lambda: sp.N(val, 30), 2.0)
            if num is None:
                continue
            if num.is_number and (not num.is_real or abs(num) > sp.Float("1e-20")):
                used = {str(k): str(v) for k, v in params.items() if p.expr.has(k)}
                return ZeroProof("disproved", f"nonzero ({sp.N(num, 6)}) at z = {x}"
                                 + (f" with {used}" if used else ""),
                                 {"z": str(x), "value": str(sp.N(num, 12)), **used})
    for p in ps:
        target = p.expr.subs(z, list(p.cell)[0]) if isinstance(p.cell, sp.FiniteSet) else p.expr
        if not is_zero_exact(target):
            return ZeroProof("undetermined", f"could not simplify {target} to 0 on {p.cell}")
    cells = ", ".join(str(p.cell) for p in ps)
    return ZeroProof("proved", f"each cell simplifies to 0 ({cells})")
