"""Structural symmetries of an activation (THEORY.md D7), proved with SymPy.

For an activation ``sigma`` each candidate identity is tested and, when it holds,
turned into a transformation of a neuron ``(c, w, b)`` (output weight ``c``,
incoming weights ``w``, bias ``b``; contribution ``c * sigma(w . x + b)``) that
leaves the neuron's contribution unchanged. A symmetry is *proved* only when both
steps are proved symbolically:

1. the pre-activation relation, e.g. ``(-w) . x + (-b) = -(w . x + b)``, by
   expansion with symbolic vectors ``w, x`` in R^2;
2. the contribution identity in ``u = w . x + b``, e.g.
   ``(-c) sigma(-u) - c sigma(u) = 0`` for every real ``u``, cell by cell on the
   piecewise structure of ``sigma`` (:mod:`neuronid.theory._piecewise`).

A candidate is *disproved* by a witness (a point where the identity fails with its
only possible constant), or by an argument stated in the proof (a monotone
non-constant function is not periodic). Otherwise it is *undetermined*, and nothing
is claimed. Candidates:

========================  ==========================================  ============================================
name                      identity                                    neuron transformation
========================  ==========================================  ============================================
positive_homogeneity      ``sigma(a z) = a**k sigma(z)``, ``a > 0``   ``(c, w, b) -> (c a**-k, a w, a b)``
odd                       ``sigma(-z) = -sigma(z)``                   ``(c, w, b) -> (-c, -w, -b)``
even                      ``sigma(-z) = sigma(z)``                    ``(c, w, b) -> (c, -w, -b)``
complementarity           ``sigma(-z) = K - sigma(z)``, ``K != 0``    ``(c, w, b; b_out) -> (-c, -w, -b; b_out + K c)``
relu_identity             ``sigma(z) - sigma(-z) = lam z``            ``(c, w, b) -> (c, -w, -b)`` plus the linear
                                                                      term ``lam c (w . x + b)`` (skip path)
periodicity               ``sigma(z + T) = sigma(z)``                 ``(c, w, b) -> (c, w, b + T)``
permutation               (any sigma)                                 swap ``(c_i, w_i, b_i)``, ``(c_j, w_j, b_j)``
========================  ==========================================  ============================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ._budget import BudgetExhausted, run_isolated, try_within_budget
from ._parse import Z
from ._piecewise import ZeroProof, affine, combine, is_zero_exact, pieces, prove_zero
from .activations import Activation, get_activation

__all__ = ["Symmetry", "find_symmetries", "prove_symmetry", "SYMMETRY_NAMES", "neuron_invariance",
           "undetermined_symmetries"]

SYMMETRY_NAMES = ("positive_homogeneity", "odd", "even", "complementarity", "relu_identity",
                  "periodicity", "permutation")

# Neuron symbols: output weight c, incoming weights w, input x, bias b, scale alpha.
_c = sp.Symbol("c", real=True, nonzero=True)
_alpha = sp.Symbol("alpha", positive=True)
_b = sp.Symbol("b", real=True)
_w = sp.Matrix(sp.symbols("w1 w2", real=True))
_x = sp.Matrix(sp.symbols("x1 x2", real=True))
_SAMPLE = {_c: sp.Rational(7, 3), _alpha: sp.Rational(3, 2)}


@dataclass(frozen=True)
class Symmetry:
    """One candidate symmetry of an activation and what was established about it."""

    name: str
    status: str  # proved | disproved | undetermined | not_applicable
    identity: str
    transformation: str
    constant: str | None = None
    proof: tuple[str, ...] = ()
    witness: dict | None = field(default=None)

    @property
    def proved(self) -> bool:
        return self.status == "proved"

    def to_dict(self) -> dict:
        return {"name": self.name, "transformation": self.transformation, "proved": self.proved,
                "status": self.status, "identity": self.identity, "constant": self.constant,
                "proof": list(self.proof), "witness": self.witness}


def neuron_invariance(expr: sp.Expr, c_new: sp.Expr, scale: sp.Expr, shift: sp.Expr = sp.S.Zero,
                      extra: sp.Expr = sp.S.Zero) -> tuple[ZeroProof, str]:
    """Prove that ``(c, w, b) -> (c_new, scale w, scale b + shift)`` keeps the contribution.

    The transformed neuron's pre-activation is ``scale * u + shift`` with
    ``u = w . x + b`` (checked by expansion); the claim is then
    ``c_new sigma(scale u + shift) + extra(u) - c sigma(u) = 0`` for all real
    ``u``, where ``extra`` (an expression in ``Z`` and ``c``) is what the
    transformation adds elsewhere (an output-bias shift, a linear skip term).

    Returns
    -------
    (ZeroProof, str)
        The proof outcome and a one-line description of the pre-activation step.

    Examples
    --------
    >>> import sympy as sp
    >>> from neuronid.theory.symmetries import _c
    >>> neuron_invariance(sp.tanh(Z), -_c, -1)[0].status
    'proved'
    >>> neuron_invariance(sp.tanh(Z), _c, -1)[0].status
    'disproved'
    """
    u = (_w.T * _x)[0] + _b
    new_pre = ((scale * _w).T * _x)[0] + (scale * _b + shift)
    if sp.expand(new_pre - (scale * u + shift)) != 0:  # pragma: no cover - algebra
        return ZeroProof("undetermined", "pre-activation relation failed"), ""
    pre = f"pre-activation: ({scale} w).x + ({scale} b + {shift}) = {scale}*(w.x + b) + {shift} (expanded)"
    ps = pieces(expr)
    try:
        moved = affine(ps, scale, shift)
        params = dict(_SAMPLE)
    except ValueError:
        # scaling by a symbol needs cone-shaped cells; test the claim at alpha = 3/2
        moved = affine(ps, scale.subs(_SAMPLE), shift)
        c_new, extra = c_new.subs(_alpha, _SAMPLE[_alpha]), sp.sympify(extra).subs(_alpha, _SAMPLE[_alpha])
        proof = prove_zero(combine([(c_new, moved), (-_c, ps)], extra=extra), dict(_SAMPLE))
        if proof.status == "proved":  # only proved for one alpha: not a proof
            proof = ZeroProof("undetermined", "holds at alpha = 3/2 but the cells are not cones")
        return proof, pre
    return prove_zero(combine([(c_new, moved), (-_c, ps)], extra=extra), params), pre


def _value(expr: sp.Expr, at) -> sp.Expr:
    ps = pieces(expr)
    for p in ps:
        if sp.sympify(at) in p.cell:
            return sp.nsimplify(p.expr.subs(Z, at)) if p.expr.subs(Z, at).is_Float else p.expr.subs(Z, at)
    return expr.subs(Z, at)  # pragma: no cover


def _simplest(e: sp.Expr) -> sp.Expr:
    alt = try_within_budget(lambda: sp.simplify(e), 3.0)
    return alt if alt is not None and sp.count_ops(alt) <= sp.count_ops(e) else e


def _from_proof(name, identity, transformation, constant, proof: ZeroProof, pre: str,
                note: str = "") -> Symmetry:
    steps = [pre, f"contribution identity: {proof.detail}"]
    if note:
        steps.append(note)
    return Symmetry(name, proof.status, identity, transformation, constant, tuple(s for s in steps if s),
                    proof.witness)


def _homogeneity(expr: sp.Expr) -> Symmetry:
    name = "positive_homogeneity"
    s1, s2, s4 = (_value(expr, v) for v in (1, 2, 4))
    sm1, sm2 = _value(expr, -1), _value(expr, -2)
    identity = "sigma(alpha*z) = alpha**k * sigma(z) for alpha > 0"
    if is_zero_exact(s1) and is_zero_exact(sm1):
        if not is_zero_exact(s2) or not is_zero_exact(sm2):
            return Symmetry(name, "disproved", identity, "-", None,
                            ("sigma(1) = sigma(-1) = 0 but sigma(+-2) != 0: homogeneity of any degree "
                             "would force sigma(2) = 2**k sigma(1) = 0",),
                            {"z": "2", "sigma(1)": str(s1), "sigma(2)": str(s2)})
        return Symmetry(name, "undetermined", identity, "-", None, ("sigma(+-1) = sigma(+-2) = 0",))
    base, other = (s1, s2) if not is_zero_exact(s1) else (sm1, sm2)
    ratio = _simplest(other / base)
    if not (ratio.is_positive):
        return Symmetry(name, "disproved", identity, "-", None,
                        (f"sigma(2z)/sigma(z) = {ratio} at z = +-1 is not positive, but it would be 2**k",),
                        {"z": "1", "ratio": str(ratio)})
    k = sp.nsimplify(sp.N(sp.log(ratio, 2), 30), rational=True, tolerance=1e-25)
    if k.q > 12 or not is_zero_exact(2**k * base - other):
        k = _simplest(sp.log(ratio) / sp.log(2))
    transformation = f"(c, w, b) -> (c*alpha**(-{k}), alpha*w, alpha*b), alpha > 0"
    proof, pre = neuron_invariance(expr, _c * _alpha ** (-k), _alpha)
    note = (f"the degree is forced: sigma(2)/sigma(1) = {ratio} = 2**k gives k = {k}; a failure "
            "therefore excludes every degree")
    if proof.proved:
        return _from_proof(name, f"sigma(alpha*z) = alpha**{k} * sigma(z) for alpha > 0", transformation,
                           f"k = {k}", proof, pre, note)
    return _from_proof(name, identity, "(c, w, b) -> (c*alpha**(-k), alpha*w, alpha*b), alpha > 0", None,
                       proof, pre, note)


def _reflection(expr: sp.Expr, name: str) -> Symmetry:
    if name == "odd":
        identity, transformation = "sigma(-z) = -sigma(z)", "(c, w, b) -> (-c, -w, -b)"
        proof, pre = neuron_invariance(expr, -_c, -1)
        return _from_proof(name, identity, transformation, None, proof, pre)
    if name == "even":
        identity, transformation = "sigma(-z) = sigma(z)", "(c, w, b) -> (c, -w, -b)"
        proof, pre = neuron_invariance(expr, _c, -1)
        return _from_proof(name, identity, transformation, None, proof, pre)
    if name == "complementarity":
        K = _simplest(2 * _value(expr, 0))
        identity = f"sigma(-z) = {K} - sigma(z)"
        transformation = f"(c, w, b; b_out) -> (-c, -w, -b; b_out + {K * _c})"
        if is_zero_exact(K):
            return Symmetry(name, "not_applicable", "sigma(-z) = K - sigma(z), K != 0", transformation,
                            "K = 0", ("K = 2 sigma(0) = 0: the identity would be oddness",))
        proof, pre = neuron_invariance(expr, -_c, -1, extra=K * _c)
        note = f"K is forced: z = 0 gives K = 2 sigma(0) = {K}"
        return _from_proof(name, identity, transformation, f"K = {K}", proof, pre, note)
    if name == "relu_identity":
        lam = _simplest(_value(expr, 1) - _value(expr, -1))
        identity = f"sigma(z) - sigma(-z) = {lam * Z}"
        transformation = (f"(c, w, b) -> (c, -w, -b) plus the linear term {lam * _c}*(w.x + b) "
                          "carried by a linear (skip) path")
        if is_zero_exact(lam):
            return Symmetry(name, "not_applicable", "sigma(z) - sigma(-z) = lam*z, lam != 0",
                            transformation, "lam = 0", ("lam = sigma(1) - sigma(-1) = 0: this would be evenness",))
        proof, pre = neuron_invariance(expr, _c, -1, extra=lam * _c * Z)
        note = f"lam is forced: z = 1 gives lam = sigma(1) - sigma(-1) = {lam}"
        return _from_proof(name, identity, transformation, f"lam = {lam}", proof, pre, note)
    raise ValueError(name)  # pragma: no cover


def _periodicity(act: Activation) -> Symmetry:
    name, identity = "periodicity", "sigma(z + T) = sigma(z)"
    expr = act.expr
    ps = pieces(expr)
    period = None
    if len(ps) == 1:
        period = try_within_budget(lambda: sp.periodicity(expr, Z), 4.0)
    if period is not None and period.is_positive:
        transformation = f"(c, w, b) -> (c, w, b + {period})"
        proof, pre = neuron_invariance(expr, _c, 1, shift=period)
        return _from_proof(name, f"sigma(z + {period}) = sigma(z)", transformation, f"T = {period}",
                           proof, pre)
    transformation = "(c, w, b) -> (c, w, b + T)"
    reasons = []
    for sign in (1, -1):
        lim = try_within_budget(lambda: sp.limit(expr, Z, sign * sp.oo), 4.0)
        if lim in (sp.oo, -sp.oo):
            reasons.append(f"sigma -> {lim} as z -> {'+' if sign > 0 else '-'}oo, but a continuous periodic "
                           "function is bounded")
            break
    if not reasons and act.monotone in ("strictly_increasing", "non_decreasing") \
            and act.method.get("monotone", "").startswith("symbolic"):
        reasons.append(f"sigma is {act.monotone.replace('_', ' ')} (proved) and not constant, "
                       "so sigma(z + T) = sigma(z) for all z would make it constant")
    if reasons:
        return Symmetry(name, "disproved", identity, transformation, None, tuple(reasons))
    return Symmetry(name, "undetermined", identity, transformation, None,
                    ("no period found by sympy.periodicity; nothing claimed",))


def _permutation(permute_outgoing: bool = True) -> Symmetry:
    """Swap two neurons as a *parameter transformation* and compare the layer's output.

    Neurons ``k = 0, 1`` with parameters ``(c_k, w_k, b_k)`` (``w_k`` in R^2) feed an
    output ``sum_k c_k sigma(w_k . x + b_k)`` (``sigma`` an undefined function). The
    transformation builds new parameters ``(c'_k, w'_k, b'_k) = (c_pi(k), w_pi(k),
    b_pi(k))`` with ``pi = (1 0)``, then the output is *recomputed from the new
    parameters* and compared with the old one by expansion. ``permute_outgoing=False``
    (the outgoing weights left in place) must fail: the check can fail.
    """
    f = sp.Function("sigma")
    c = list(sp.symbols("c_i c_j", real=True))
    b = list(sp.symbols("b_i b_j", real=True))
    w = [sp.Matrix(sp.symbols("wi1 wi2", real=True)), sp.Matrix(sp.symbols("wj1 wj2", real=True))]
    pi = (1, 0)

    def output(cs, ws, bs):
        return sum(cs[k] * f((ws[k].T * _x)[0] + bs[k]) for k in range(2))

    before = output(c, w, b)
    c_new = [c[pi[k]] for k in range(2)] if permute_outgoing else list(c)
    after = output(c_new, [w[pi[k]] for k in range(2)], [b[pi[k]] for k in range(2)])
    ok = sp.expand(before - after) == 0
    return Symmetry("permutation", "proved" if ok else "undetermined", "any sigma",
                    "(c_i, w_i, b_i) <-> (c_j, w_j, b_j) (swap two neurons of one layer)", None,
                    ("the layer output recomputed from the swapped parameters (c_pi(k), w_pi(k), b_pi(k)) "
                     "expands to the original sum, with sigma an undefined function"
                     if ok else "the recomputed output differs from the original",))


def find_symmetries(activation: Activation | str) -> tuple[Symmetry, ...]:
    """All D7 candidates for an activation, each proved, disproved or undetermined.

    Parameters
    ----------
    activation : Activation or str
        An :class:`~neuronid.theory.activations.Activation` or a name accepted by
        :func:`~neuronid.theory.activations.get_activation`.

    Examples
    --------
    >>> [s.name for s in find_symmetries("relu") if s.proved]
    ['positive_homogeneity', 'relu_identity', 'permutation']
    >>> [s.name for s in find_symmetries("tanh") if s.proved]
    ['odd', 'permutation']
    """
    act = get_activation(activation) if isinstance(activation, str) else activation
    if act.base != "sympy" or all((act.name, n) in _CACHE for n in SYMMETRY_NAMES):
        return _cached(act.name)
    # a user expression: prove in an isolated process with a time and memory budget
    try:
        found = run_isolated(lambda: _cached(act.name), what="proving the symmetries")
    except BudgetExhausted as exc:
        found = undetermined_symmetries(str(exc))
    for sym in found:
        _CACHE[(act.name, sym.name)] = sym
    return found


def undetermined_symmetries(reason: str) -> tuple[Symmetry, ...]:
    """Every candidate undetermined with ``reason`` (a budget ran out), except the
    permutation symmetry, which holds for any sigma."""
    return tuple(_permutation() if n == "permutation" else
                 Symmetry(n, "undetermined", "-", "-", None, (f"undetermined: {reason}",)) for n in SYMMETRY_NAMES)


_CACHE: dict[tuple[str, str], Symmetry] = {}


def prove_symmetry(activation: Activation | str, name: str) -> Symmetry:
    """One candidate of :data:`SYMMETRY_NAMES` for an activation (cached).

    Examples
    --------
    >>> prove_symmetry("sigmoid", "complementarity").constant
    'K = 1'
    """
    act = get_activation(activation) if isinstance(activation, str) else activation
    if name not in SYMMETRY_NAMES:
        raise ValueError(f"unknown symmetry {name!r}; valid: {', '.join(SYMMETRY_NAMES)}")
    key = (act.name, name)
    if key not in _CACHE:
        if name == "positive_homogeneity":
            _CACHE[key] = _homogeneity(act.expr)
        elif name == "periodicity":
            _CACHE[key] = _periodicity(act)
        elif name == "permutation":
            _CACHE[key] = _permutation()
        else:
            _CACHE[key] = _reflection(act.expr, name)
    return _CACHE[key]


def _cached(name: str) -> tuple[Symmetry, ...]:
    return tuple(prove_symmetry(name, n) for n in SYMMETRY_NAMES)
