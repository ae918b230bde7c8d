"""Symbolic proof obligations of the THEORY.md items, each checked with SymPy.

Every function here states one algebraic step of a definition or result, builds it
on a small symbolic instance, and returns ``(verified, detail)``. ``verified`` is
``True`` only when SymPy reduced the claim to ``0`` (identities), proved a sign
from declared assumptions (inequalities), or found the claimed set exactly
(``solveset``/``linsolve``). Nothing is sampled numerically to decide an
obligation. Constants of the claims are keyword arguments, so the tests can pass a
deliberately wrong sign or constant and watch the same check reject it.

Helpers for inequalities:

* :func:`nonneg` - ``expr >= 0`` from SymPy's assumptions on the symbols, after
  ``factor``/``simplify``/``together`` rewrites;
* :func:`nonneg_on` - ``expr(t) >= 0`` for ``t`` in ``[lo, hi]``, by the
  barycentric substitution ``t = (lo*y + hi*x)/(x + y)`` with ``x, y > 0``
  (a polynomial/rational claim on the open interval, extended by continuity).

Size (about 940 lines): a table of short proof obligations, one function per
result, registered in :data:`OBLIGATIONS`; splitting it would scatter the table.
"""

from __future__ import annotations

import itertools
from typing import Callable

import sympy as sp

from ._budget import try_within_budget
from ._parse import Z
from ._piecewise import combine, is_zero_exact, pieces, prove_zero
from .activations import get_activation
from .symmetries import _alpha, _c, neuron_invariance, prove_symmetry

Check = tuple[bool, str]

__all__ = ["nonneg", "nonneg_on", "zero", "OBLIGATIONS", "KINDS", "obligation_kind"]


# ------------------------------------------------------------------------------ helpers


def zero(e: sp.Basic) -> bool:
    """``True`` iff ``e`` (expression or matrix) is proved identically zero."""
    if isinstance(e, sp.MatrixBase):
        return all(is_zero_exact(x) for x in e)
    return is_zero_exact(e)


def nonneg(e: sp.Expr) -> bool:
    """``True`` iff SymPy proves ``e >= 0`` from the symbols' assumptions.

    Examples
    --------
    >>> x = sp.Symbol("x", positive=True)
    >>> nonneg((x - 1)**2 + x), nonneg(x - 1)
    (True, False)
    """
    forms = (lambda x: x, sp.factor, lambda x: sp.factor(sp.together(sp.expand(x))), sp.simplify,
             lambda x: sp.factor(sp.simplify(x)))
    for form in forms:
        r = try_within_budget(lambda: form(e), 4.0)
        if r is not None and r.is_nonnegative is True:
            return True
    return False


def nonneg_on(e: sp.Expr, t: sp.Symbol, lo: sp.Expr, hi: sp.Expr) -> bool:
    """``True`` iff ``e >= 0`` is proved for every ``t`` in ``[lo, hi]``.

    Examples
    --------
    >>> t = sp.Symbol("t", real=True)
    >>> nonneg_on(t * (1 - t), t, 0, 1), nonneg_on(t - sp.Rational(1, 2), t, 0, 1)
    (True, False)
    """
    x, y = sp.symbols("x_bary y_bary", positive=True)
    return nonneg(sp.together(e.subs(t, (lo * y + hi * x) / (x + y))))


def _vec(name: str, n: int, **assumptions) -> sp.Matrix:
    return sp.Matrix(sp.symbols(f"{name}1:{n + 1}", **assumptions))


def _mat(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, sp.symbols(f"{name}1:{rows * cols + 1}", real=True))


def _dot(a: sp.Matrix, b: sp.Matrix) -> sp.Expr:
    return (a.T * b)[0]


def _ok(flag: bool, yes: str, no: str) -> Check:
    return (bool(flag), yes if flag else no)


#: A rational orthonormal 3 x 2 basis (columns (1,2,2)/3 and (2,1,-2)/3).
U_RATIONAL = sp.Matrix([[1, 2], [2, 1], [2, -2]]) / 3


# ------------------------------------------------------------------------------ D1 - D7


def d1_coherence_sum() -> Check:
    """sum_j ||U^T e_j||^2 = r (so nu >= r/d) and ||U^T e_j||^2 <= 1 (projection)."""
    U = U_RATIONAL
    d, r = U.shape
    if U.T * U != sp.eye(r):
        return False, "U is not orthonormal"
    norms = [sum(x**2 for x in U[j, :]) for j in range(d)]
    P = U * U.T
    proj = zero(P * P - P) and zero(P - P.T)
    rest = all(zero(1 - norms[j] - sum(x**2 for x in ((sp.eye(d) - P)[:, j]))) for j in range(d))
    th = sp.Symbol("theta", real=True)
    Ut = sp.Matrix([sp.cos(th), sp.sin(th)])
    rot = zero(sum(x**2 for x in Ut) - 1)
    ok = zero(sum(norms) - r) and proj and rest and rot
    return _ok(ok, f"sum of row norms = {r} = r (d = {d}); 1 - ||U^T e_j||^2 = ||(I-P) e_j||^2 >= 0; "
               "cos^2 + sin^2 = 1 for U(theta)", "coherence identities failed")


def d1_affine_on_support() -> Check:
    """On x = xbar + U s the pre-activation is a . s + c with a = U^T w, c = w . xbar + b."""
    U = U_RATIONAL
    w, xbar, s = _vec("w", 3, real=True), _vec("xbar", 3, real=True), _vec("s", 2, real=True)
    b = sp.Symbol("b", real=True)
    a, c = U.T * w, _dot(w, xbar) + b
    return _ok(zero(_dot(w, xbar + U * s) + b - (_dot(a, s) + c)),
               "w.(xbar + U s) + b - (a.s + c) expands to 0", "pre-activation not affine in (a, c)")


def d2_strictly_increasing_preimage() -> Check:
    """Strictly increasing sigma: the constraint is linear, z = sigma^{-1}(h) (sigmoid: logit)."""
    s = 1 / (1 + sp.exp(-Z))
    return _ok(zero(sp.log(s / (1 - s)) - Z), "logit(sigmoid(z)) simplifies to z",
               "logit(sigmoid(z)) != z")


def d2_relu_preimages() -> Check:
    """ReLU: preimage of h > 0 is {h}; of 0 is (-oo, 0] (an interval: a convex constraint)."""
    h = sp.Symbol("h", positive=True)
    relu = sp.Max(0, Z)
    pos = sp.solveset(sp.Eq(relu, h), Z, sp.S.Reals)
    nul = sp.solveset(sp.Eq(relu, 0), Z, sp.S.Reals)
    ok = pos == sp.FiniteSet(h) and nul == sp.Interval(-sp.oo, 0)
    return _ok(ok, f"solveset: relu = h > 0 -> {pos}; relu = 0 -> {nul}", f"got {pos}, {nul}")


def d3_swap_cost_structure() -> Check:
    """Delta_in(i,j) = Delta_in(j,i), Delta_in(i,i) = 0, and the cost change of the
    transposition (i j) over the identity is Delta_in(i, j) (3 x 3 symbolic K)."""
    n = 3
    K = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"K_{i}{j}", real=True))

    def delta(i, j):
        return K[i, j] + K[j, i] - K[i, i] - K[j, j]

    def cost(perm):
        return sum(K[i, perm[i]] for i in range(n))

    ident = tuple(range(n))
    ok = all(zero(delta(i, j) - delta(j, i)) for i in range(n) for j in range(n))
    ok &= all(zero(delta(i, i)) for i in range(n))
    for i, j in itertools.combinations(range(n), 2):
        perm = list(ident)
        perm[i], perm[j] = j, i
        ok &= zero(cost(perm) - cost(ident) - delta(i, j))
    return _ok(ok, "symmetry, zero diagonal, cost(tau_ij) - cost(id) = Delta_in(i,j) for all 3 transpositions",
               "swap-cost identities failed")


def d4_standard_layer_margin_zero() -> Check:
    """K[i, j] = ||a_j||^2 (independent of i): every assignment costs the same, margin 0."""
    n = 3
    q = sp.symbols("q0:3", nonnegative=True)
    K = sp.Matrix(n, n, lambda i, j: q[j])
    costs = [sum(K[i, p[i]] for i in range(n)) for p in itertools.permutations(range(n))]
    ok = all(zero(c - costs[0]) for c in costs)
    return _ok(ok, "all 6 permutations cost q0 + q1 + q2: margin gamma = 0", "costs differ")


def d4_mismatch_scale_invariant() -> Check:
    """The relative mismatch ||h - h'|| / ||h|| is unchanged when both are scaled by s > 0."""
    h, g = _vec("h", 2, real=True), _vec("g", 2, real=True)
    s = sp.Symbol("s", positive=True)

    def rel(u, v):
        return sp.sqrt(_dot(u - v, u - v)) / sp.sqrt(_dot(u, u))

    return _ok(zero(rel(s * h, s * g) - rel(h, g)), "s cancels", "not scale invariant")


def d5_peak_le_lerp() -> Check:
    """max(L0, L1) >= (1-t) L0 + t L1 on [0, 1], hence B_peak <= B_lerp; and
    (L0 + L1)/2 <= max(L0, L1), hence B_peak <= B_mean."""
    t = sp.Symbol("t", real=True)
    L1 = sp.Symbol("L1", real=True)
    s = sp.Symbol("s", nonnegative=True)
    L0 = L1 + s  # case L0 >= L1 (the other case is the same with t -> 1 - t)
    lerp = (1 - t) * L0 + t * L1
    case1 = nonneg_on(L0 - lerp, t, 0, 1)
    lerp2 = (1 - t) * L1 + t * L0  # case L1 >= L0 after relabelling
    case2 = nonneg_on(L0 - lerp2, t, 0, 1)
    mean = nonneg(L0 - (L0 + L1) / 2)
    return _ok(case1 and case2 and mean, "max - lerp = t*(L0 - L1) >= 0 (both cases); max - mean = |L0-L1|/2",
               "barrier ordering not proved")


def d6_permutation_preserves_function(bias_permuted: bool = True) -> Check:
    """A hidden-neuron permutation P (with W1 -> P W1, b1 -> P b1, W2 -> W2 P^T) leaves
    the 2-layer network's function unchanged for any elementwise sigma."""
    f = sp.Function("sigma")
    W1, W2 = _mat("A", 3, 2), _mat("B", 2, 3)
    b1, x = _vec("c", 3, real=True), _vec("x", 2, real=True)
    P = sp.Matrix([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    net = W2 * (W1 * x + b1).applyfunc(f)
    b_new = P * b1 if bias_permuted else b1
    perm = (W2 * P.T) * (P * W1 * x + b_new).applyfunc(f)
    return _ok(zero(sp.expand(net - perm)), "W2 P^T sigma(P W1 x + P b1) = W2 sigma(W1 x + b1) (3-cycle P)",
               "function changed under the permutation")


def d6_inverted_correlation_selection() -> Check:
    """Maximizing sum(1 - |corr|) prefers the pairing with the *smaller* |corr|:
    objective(swap) - objective(identity) = (|c11| + |c22|) - (|c12| + |c21|)."""
    a11, a22, a12, a21 = sp.symbols("a11 a22 a12 a21", nonnegative=True)
    obj_id = (1 - a11) + (1 - a22)
    obj_sw = (1 - a12) + (1 - a21)
    gap = sp.Symbol("g", positive=True)  # diagonal correlations larger by g > 0
    diff = (obj_sw - obj_id).subs(a11, a12 + a21 - a22 + gap)
    return _ok(zero(obj_sw - obj_id - ((a11 + a22) - (a12 + a21))) and nonneg(diff) and diff != 0,
               "when the identity pairing is more correlated, 1 - |corr| maximization picks the swap",
               "selection identity failed")


def d7_catalogue_symmetries() -> Check:
    """relu: homogeneity (k=1) and relu(z) - relu(-z) = z; tanh: odd; sigmoid:
    complementarity (K=1); any sigma: permutations (see neuronid.theory.symmetries)."""
    want = {"relu": ("positive_homogeneity", "relu_identity", "permutation"), "tanh": ("odd",),
            "sigmoid": ("complementarity",), "leaky_relu": ("positive_homogeneity",)}
    missing = [f"{act}:{n}" for act, names in want.items() for n in names
               if not prove_symmetry(act, n).proved]
    return _ok(not missing, "all proved at neuron level (pre-activation + contribution identity)",
               f"not proved: {missing}")


# ----------------------------------------------------------------------------- P1 - P6


def p1_kkt(cost_power: int = -1) -> Check:
    """KKT for min ||theta||^2 s.t. M theta = q (M generic 2 x 3, full row rank):
    theta* = M^T S^{-1} q is feasible, orthogonal to ker M (so minimal: ||theta* + s n||^2
    = ||theta*||^2 + s^2 ||n||^2), and its cost is q^T S^{-1} q, S = M M^T."""
    M, q = _mat("m", 2, 3), _vec("q", 2, real=True)
    S = M * M.T
    Sinv = S.inv()
    theta = M.T * Sinv * q
    n = M[0, :].cross(M[1, :]).T
    s = sp.Symbol("s", real=True)
    feas = zero((M * theta - q).applyfunc(sp.cancel))
    null = zero(M * n) and zero(sp.cancel(_dot(theta, n)))
    theta2 = theta + s * n
    pyth = zero(sp.cancel(_dot(theta2, theta2) - _dot(theta, theta) - s**2 * _dot(n, n)))
    claimed = (q.T * (Sinv if cost_power == -1 else S**cost_power) * q)[0]
    cost = zero(sp.cancel(_dot(theta, theta) - claimed))
    return _ok(feas and null and pyth and cost,
               "feasibility, stationarity (theta* in row space, orthogonal to ker M), "
               "Pythagoras along ker M, cost = q^T S^{-1} q",
               f"feasible={feas} null={null} pythagoras={pyth} cost={cost}")


def p1_subspace_instance() -> Check:
    """C(a) = (a - v)^T S^+ (a - v) on U (3 x 2, rational orthonormal) with masks (1,1,0)
    (full rank) and (0,0,1) (rank 1: +inf outside range(S), exactly when M theta = a - v
    has no solution)."""
    U = U_RATIONAL
    a, v = _vec("a", 2, real=True), _vec("v", 2, real=True)
    out = []
    m = sp.diag(1, 1, 0)
    M = U.T * m
    S = M * M.T
    theta = M.pinv() * (a - v)
    out.append(zero((M * theta - (a - v)).applyfunc(sp.cancel)))
    out.append(zero(sp.cancel(_dot(theta, theta) - ((a - v).T * S.pinv() * (a - v))[0])))
    M1 = U.T * sp.diag(0, 0, 1)
    S1 = M1 * M1.T
    th = sp.Matrix(sp.symbols("th1:4", real=True))
    inside = sp.Matrix([1, -1])  # range(S1) = span((1, -1))
    outside = sp.Matrix([1, 1])
    out.append(sp.linsolve((M1, outside), *th) == sp.S.EmptySet)
    out.append(S1 * S1.pinv() * outside != outside)  # exact rationals: outside range(S1)
    t_in = M1.pinv() * inside
    out.append(zero(M1 * t_in - inside))
    out.append(zero(_dot(t_in, t_in) - (inside.T * S1.pinv() * inside)[0]))
    return _ok(all(out), "full-rank mask: least-norm cost = (a-v)^T S^+ (a-v); rank-1 mask: "
               "out-of-range target infeasible (linsolve empty), in-range cost via S^+",
               f"checks: {out}")


def p2_standard_layer() -> Check:
    """m = 1, f = 0: S = U^T U = I, so C_i(a_j) = ||a_j||^2 for every i and Delta_in = 0."""
    U = U_RATIONAL
    a1, a2 = _vec("a", 2, real=True), _vec("b", 2, real=True)
    M = U.T  # mask all ones
    S = M * M.T
    if S != sp.eye(2):
        return False, "S != I"

    def C(a):
        return (a.T * S.pinv() * a)[0]

    K = sp.Matrix([[C(a1), C(a2)], [C(a1), C(a2)]])
    delta = K[0, 1] + K[1, 0] - K[0, 0] - K[1, 1]
    return _ok(zero(C(a1) - _dot(a1, a1)) and zero(delta), "S = I, K[i,j] = ||a_j||^2, Delta_in = 0",
               "standard layer costs depend on i")


def p3_inverse_perturbation(eta_denominator: Callable[[sp.Expr, sp.Expr], sp.Expr] = lambda p, eps: p * (p - eps)
                            ) -> Check:
    """lambda in [p - eps, p + eps], 0 < eps < p: |1/lambda - 1/p| <= eps / (p (p - eps)).
    1/lambda - 1/p is decreasing (derivative -1/lambda^2), so its extremes are at the
    ends: exactly eps/(p(p-eps)) at p - eps, and eps/(p(p+eps)) <= that at p + eps."""
    eps, q = sp.symbols("eps q", positive=True)
    p = eps + q  # p > eps > 0
    lam = sp.Symbol("lam", positive=True)
    bound = eps / eta_denominator(p, eps)
    g = 1 / lam - 1 / p
    decreasing = nonneg(-sp.diff(g, lam))
    left = nonneg(bound - g.subs(lam, p - eps))
    right = nonneg(bound + g.subs(lam, p + eps))  # g(p+eps) < 0
    return _ok(decreasing and left and right,
               "g' = -1/lambda^2 < 0; g(p-eps) <= bound; -g(p+eps) <= bound",
               f"decreasing={decreasing} left={left} right={right}")


def p3_swap_bound_algebra() -> Check:
    """With |K[i,j] - ||a_j||^2/p| <= eta_i ||a_j||^2 and exact part Delta = 0 (S = pI):
    the four errors sum to (eta_i + eta_j)(||a_i||^2 + ||a_j||^2)."""
    ni, nj, ei, ej, p = sp.symbols("n_i n_j eta_i eta_j p", positive=True)
    exact = (nj / p + ni / p) - (ni / p + nj / p)
    total = ei * nj + ej * ni + ei * ni + ej * nj
    return _ok(zero(exact) and zero(total - (ei + ej) * (ni + nj)),
               "exact swap cost 0; error sum = (eta_i + eta_j)(||a_i||^2 + ||a_j||^2)", "algebra failed")


def p4_swap_cost_identity(coefficient: sp.Expr = sp.Integer(2)) -> Check:
    """S_i = S_j = p I: K[i,j] = ||a_j - v_i||^2 / p and
    Delta_in(i, j) = (2/p) (a_i - a_j) . (v_i - v_j)   (r = 3, symbolic)."""
    p = sp.Symbol("p", positive=True)
    ai, aj, vi, vj = (_vec(n, 3, real=True) for n in ("ai", "aj", "vi", "vj"))

    def K(a, v):
        return _dot(a - v, a - v) / p

    delta = K(aj, vi) + K(ai, vj) - K(ai, vi) - K(aj, vj)
    return _ok(zero(delta - coefficient / p * _dot(ai - aj, vi - vj)),
               "Delta_in - (2/p)(a_i - a_j).(v_i - v_j) expands to 0", "identity fails")


def expected_center_separation(r: int = 2) -> Check:
    """f = (1 - m) sigma_F n, m ~ Bernoulli(p) entrywise, n ~ N(0, I): E||U^T f||^2 =
    sigma_F^2 (1 - p) r, so E||v_i - v_j||^2 = 2 sigma_F^2 (1 - p) r (exact sum over all
    masks, d = 3, Gaussian second moment E[n n^T] = I)."""
    U = U_RATIONAL[:, :r]
    p = sp.Symbol("p", positive=True)
    sF = sp.Symbol("sigma_F", positive=True)
    total = sp.S.Zero
    for m in itertools.product((0, 1), repeat=3):
        prob = sp.Mul(*[(p if mj else 1 - p) for mj in m])
        D = sp.diag(*[1 - mj for mj in m])
        total += prob * sF**2 * (U.T * D * D * U).trace()  # E_n ||U^T D n||^2 = tr(D U U^T D)
    return _ok(zero(sp.expand(total - sF**2 * (1 - p) * r)),
               f"sum over 8 masks = sigma_F^2 (1 - p) r with r = {r}", "expectation differs")


def p4_center_pull() -> Check:
    """P4's consequence: the separation of centers grows as sigma_F^2 (1 - p) r (r = 1, 2)."""
    ok1, _ = expected_center_separation(1)
    ok2, _ = expected_center_separation(2)
    return _ok(ok1 and ok2, "E||U^T f||^2 = sigma_F^2 (1-p) r for r = 1 and r = 2", "failed")


def p5_monotonicity_decided() -> Check:
    """SymPy decides monotonicity: relu non-decreasing, leaky relu strictly increasing,
    z**2 non-monotone (all by the symbolic method); the preimages of non-decreasing
    relu/hard tanh are intervals, while z**2 = 1 has preimage {-1, 1}."""
    checks = []
    for spec, want in (("relu", "non_decreasing"), ("leaky_relu", "strictly_increasing"),
                       ("sympy:z**2", "non_monotone")):
        a = get_activation(spec)
        checks.append(a.monotone == want and a.method["monotone"].startswith("symbolic"))
    relu = sp.Max(0, Z)
    ht = sp.Min(1, sp.Max(-1, Z))
    checks.append(isinstance(sp.solveset(sp.Eq(relu, 0), Z, sp.S.Reals), sp.Interval))
    checks.append(isinstance(sp.solveset(sp.Eq(ht, 1), Z, sp.S.Reals), sp.Interval))
    checks.append(sp.solveset(sp.Eq(Z**2, 1), Z, sp.S.Reals) == sp.FiniteSet(-1, 1))
    return _ok(all(checks), "relu/leaky/z**2 classified symbolically; preimages as claimed",
               f"checks: {checks}")


def p5_gelu_nonconvex(level: sp.Expr = sp.Rational(-1, 20)) -> Check:
    """GELU's preimage of h = -1/20 is not an interval: gelu(-3) > h, gelu(-1) < h,
    gelu(0) > h (exact comparisons), so by continuity it has points in (-3, -1) and in
    (-1, 0) but not -1; realizations z = w.x + b of such a value form a non-convex set."""
    g = Z / 2 * (1 + sp.erf(Z / sp.sqrt(2)))
    v = [g.subs(Z, x) for x in (-3, -1, 0)]
    ok = bool(v[0] > level) and bool(v[1] < level) and bool(v[2] > level)
    return _ok(ok, f"gelu(-3) = {sp.N(v[0], 4)} > h, gelu(-1) = {sp.N(v[1], 4)} < h, gelu(0) = 0 > h",
               "the level does not separate the values")


def p6_scaling_invariance() -> Check:
    """(c, w, b) -> (c/alpha, alpha w, alpha b) leaves c relu(w.x + b) unchanged (alpha > 0)."""
    proof, pre = neuron_invariance(sp.Max(0, Z), _c / _alpha, _alpha)
    return _ok(proof.proved, f"{pre}; {proof.detail}", proof.detail)


def p6_phi(phi_constant: sp.Expr = sp.Integer(2)) -> Check:
    """Along the straight path the contribution is c relu(u) phi(t) with
    phi(t) = ((1-t) + t/alpha)((1-t) + t alpha) = 1 + t(1-t)(alpha + 1/alpha - 2);
    phi - 1 = t(1-t)(alpha-1)^2/alpha >= 0 on [0, 1]; alpha + 1/alpha = 2 iff alpha = 1."""
    t = sp.Symbol("t", real=True)
    al = sp.Symbol("alpha", positive=True)
    c = sp.Symbol("c", real=True)
    u = sp.Symbol("u", positive=True)  # relu(s u) = s relu(u) for s > 0; take u > 0 w.l.o.g.
    c_t = (1 - t) * c + t * c / al
    s_t = (1 - t) + t * al  # > 0 on [0, 1]
    phi = 1 + t * (1 - t) * (al + 1 / al - phi_constant)
    factor_ok = zero(sp.cancel(c_t * s_t * u - c * u * phi))
    positive_scale = nonneg_on(s_t, t, 0, 1)
    ge1 = nonneg_on(phi - 1, t, 0, 1)
    unique = sp.solveset(sp.Eq(al + 1 / al - 2, 0), al, sp.Interval.open(0, sp.oo)) == sp.FiniteSet(1)
    return _ok(factor_ok and positive_scale and ge1 and unique,
               "c_t * s_t = c * phi(t); s_t > 0; phi >= 1; equality iff alpha = 1",
               f"factor={factor_ok} scale>0={positive_scale} phi>=1={ge1} unique={unique}")


def p6_balanced_minimizer() -> Check:
    """g(alpha) = c^2/alpha^2 + alpha^2 n^2 (n = ||(w, b)|| > 0, |c| > 0) has the unique
    minimizer alpha*^2 = |c|/n, where |c|/alpha* = alpha* n (balanced); g - 2|c| n =
    (|c|/alpha - alpha n)^2 >= 0."""
    al, C, n = sp.symbols("alpha C n", positive=True)  # C = |c|
    g = C**2 / al**2 + al**2 * n**2
    crit = sp.solveset(sp.diff(g, al), al, sp.Interval.open(0, sp.oo))
    star = sp.sqrt(C / n)
    ok_crit = crit == sp.FiniteSet(star)
    convex = nonneg(sp.diff(g, al, 2).subs(al, star)) and sp.diff(g, al, 2).subs(al, star) != 0
    balanced = zero(C / star - star * n)
    amgm = zero(sp.expand(g - 2 * C * n - (C / al - al * n) ** 2))
    return _ok(ok_crit and convex and balanced and amgm,
               f"critical set {crit}; g'' > 0 there; |c|/alpha* = alpha* ||(w,b)||; AM-GM identity",
               f"crit={crit} convex={convex} balanced={balanced} amgm={amgm}")


def p6_sign_flip() -> Check:
    """Odd sigma (tanh): (c, w, b) -> (-c, -w, -b) keeps the contribution and the norm
    cost; with a fixed part f on a masked entry the flip needs -f = f, i.e. f = 0."""
    proof, _ = neuron_invariance(sp.tanh(Z), -_c, -1)
    c, b = sp.symbols("c b", real=True)
    w = _vec("w", 2, real=True)
    norm_same = zero(((-c) ** 2 + _dot(-w, -w) + b**2) - (c**2 + _dot(w, w) + b**2))
    f = sp.Symbol("f", real=True)
    fixed = sp.solveset(sp.Eq(-f, f), f, sp.S.Reals) == sp.FiniteSet(0)
    return _ok(proof.proved and norm_same and fixed, "flip proved; norm unchanged; fixed part forces f = 0",
               f"flip={proof.status} norm={norm_same} fixed={fixed}")


# ----------------------------------------------------------------------------- T1 - T4


def _bernstein_symbols():
    R, sig2, L = sp.symbols("R sigma2 L", positive=True)
    A = R * L / 3
    s_star = A + sp.sqrt(A**2 + 2 * sig2 * L)
    return R, sig2, L, s_star


def t1_threshold_solves_tail() -> Check:
    """s* = RL/3 + sqrt((RL/3)^2 + 2 sigma^2 L) solves s^2/2 = L (sigma^2 + R s / 3), so the
    Bernstein tail 2r exp(-(s^2/2)/(sigma^2 + R s/3)) equals 2r exp(-L) at s*."""
    R, sig2, L, s = _bernstein_symbols()
    return _ok(zero(sp.expand(s**2 / 2 - L * (sig2 + R * s / 3))), "substitution expands to 0",
               "s* does not solve the tail equation")


def t1_tail_equals_delta() -> Check:
    """With L = log(2r/delta): 2r exp(-L) = delta."""
    r, delta = sp.symbols("r delta", positive=True)
    L = sp.log(2 * r / delta)
    return _ok(zero(2 * r * sp.exp(-L) - delta), "2r exp(-log(2r/delta)) = delta", "tail != delta")


def t1_exponent_increasing() -> Check:
    """(s^2/2)/(sigma^2 + R s/3) increases in s > 0, so s >= s* gives a tail <= delta."""
    R, sig2, _, _ = _bernstein_symbols()
    s = sp.Symbol("s", positive=True)
    e = (s**2 / 2) / (sig2 + R * s / 3)
    return _ok(nonneg(sp.diff(e, s)), "derivative factors into positive terms", "not proved increasing")


def t1_threshold_upper_bound(linear_coefficient: sp.Expr = sp.Rational(2, 3)) -> Check:
    """s* <= (2/3) R L + sqrt(2 sigma^2 L): with A = RL/3, B = 2 sigma^2 L, both sides are
    >= 0 and (A + sqrt B + (c - 2/3) R L)^2 - (A^2 + B) >= 0 (squares compared)."""
    R, sig2, L, s = _bernstein_symbols()
    bound = linear_coefficient * R * L + sp.sqrt(2 * sig2 * L)
    A = R * L / 3
    both = nonneg(bound) and nonneg(s - A)
    squares = nonneg(sp.expand((bound - A) ** 2 - (A**2 + 2 * sig2 * L)))
    return _ok(both and squares, "(bound - RL/3)^2 - ((RL/3)^2 + 2 sigma^2 L) = 2 (RL/3) sqrt(2 sigma^2 L) >= 0",
               "bound below the threshold")


def t1_bernstein_parameters(variance_factor: sp.Expr = sp.Integer(1)) -> Check:
    """Matrix-Bernstein parameters of X_k = (m_k - p) u_k u_k^T (u_k = U^T e_k):
    E(m - p) = 0, E(m - p)^2 = p(1-p), |m - p| <= b = max(p, 1-p), so
    ||X_k|| = |m_k - p| ||u_k||^2 <= b nu (R = b nu); and the variance matrix
    sum_k E X_k^2 = p(1-p) sum_k ||u_k||^2 u_k u_k^T is <= p(1-p) nu I (sigma^2 <= p(1-p) nu):
    nu I - sum_k ||u_k||^2 u_k u_k^T is positive semidefinite, shown on the rational
    U (3 x 2) by its exact eigenvalues. ``variance_factor`` scales the claimed sigma^2
    (a smaller one must fail)."""
    p = sp.Symbol("p", positive=True)
    var = zero(sp.expand((1 - p) * (0 - p) ** 2 + p * (1 - p) ** 2 - p * (1 - p)))
    mean = zero(sp.expand((1 - p) * (0 - p) + p * (1 - p)))
    q = sp.Symbol("q", positive=True)  # p = 1/(1 + q) in (0, 1): 1 - p = q/(1+q) > 0
    devs_ok = all(zero(dv.subs(p, 1 / (1 + q)) - ex) for dv, ex in
                  zip((sp.Abs(0 - p), sp.Abs(1 - p)), (1 / (1 + q), q / (1 + q))))
    U = U_RATIONAL
    rows = [U[k, :].T for k in range(U.shape[0])]
    norms = [(r.T * r)[0] for r in rows]
    nu = max(norms)
    second = sp.zeros(2, 2)
    for r, n2 in zip(rows, norms):
        second += n2 * (r * r.T)  # (u u^T)^2 = ||u||^2 u u^T
    square_ok = all(zero((r * r.T) * (r * r.T) - n2 * (r * r.T)) for r, n2 in zip(rows, norms))
    gap = variance_factor * nu * sp.eye(2) - second
    eig = list(gap.eigenvals())
    psd = all(bool(sp.nsimplify(e) >= 0) for e in eig)
    ok = var and mean and devs_ok and square_ok and psd
    return _ok(ok, f"E(m-p) = 0, E(m-p)^2 = p(1-p), |m-p| in {{p, 1-p}}; (uu^T)^2 = ||u||^2 uu^T; "
               f"eigenvalues of nu I - sum ||u||^2 uu^T: {eig} >= 0 (nu = {nu})",
               f"var={var} mean={mean} devs={devs_ok} square={square_ok} psd={psd} (eigenvalues {eig})")


def t2_equal_inputs(path_sign: int = -1) -> Check:
    """T2's induction step, pre-activations: W_t lerp(h_A, h_B) - lerp(W_A h_A, W_B h_B)
    = path_sign t(1-t)(W_A - W_B)(h_A - h_B) (the sign is -1; a wrong sign fails), and
    with the biases: z_t - lerp(z_A, z_B) vanishes when h_A = h_B, so equal layer
    inputs give the interpolated pre-activation z_t = lerp(z_A, z_B) exactly."""
    t = sp.Symbol("t", real=True)
    WA, WB = _mat("A", 2, 3), _mat("B", 2, 3)
    hA, hB = _vec("hA", 3, real=True), _vec("hB", 3, real=True)
    bA, bB = _vec("bA", 2, real=True), _vec("bB", 2, real=True)
    Wt, bt = (1 - t) * WA + t * WB, (1 - t) * bA + t * bB
    ht = (1 - t) * hA + t * hB
    gap = Wt * ht + bt - ((1 - t) * (WA * hA + bA) + t * (WB * hB + bB))
    identity = zero(sp.expand(gap - path_sign * t * (1 - t) * (WA - WB) * (hA - hB)))
    equal = zero(sp.expand(gap.subs(dict(zip(hB, hA)))))
    return _ok(identity and equal, "z_t - lerp(z) = -t(1-t) dW dh (expanded), 0 when h_A = h_B",
               f"identity={identity} equal_inputs={equal}")


def t2_monotone_sandwich(require_monotone: bool = True) -> Check:
    """T2's key lemma for a general non-decreasing sigma: if sigma(a) = sigma(b) = h then
    sigma(lerp(a, b)) = h for t in [0, 1]. Steps: (1) z = lerp(a, b) lies between a and
    b (a <= b: z - a = t(b - a) >= 0, b - z = (1-t)(b - a) >= 0 on [0, 1]; a > b the same
    with t -> 1 - t); (2) monotonicity: sigma(z) in [sigma(a), sigma(b)] = [h, h];
    (3) that interval is {h}. Without monotonicity the lemma fails: sigma = z^2,
    a = -1, b = 1, t = 1/2 gives sigma(0) = 0 != 1 (``require_monotone=False``
    claims the lemma for z^2 and must fail)."""
    t, a = sp.symbols("t a", real=True)
    d = sp.Symbol("d", nonnegative=True)
    b = a + d
    z = (1 - t) * a + t * b
    between = nonneg_on(z - a, t, 0, 1) and nonneg_on(b - z, t, 0, 1)
    z_rev = (1 - t) * b + t * a  # a > b after relabelling
    between_rev = nonneg_on(z_rev - a, t, 0, 1) and nonneg_on(b - z_rev, t, 0, 1)
    h = sp.Symbol("h", real=True)
    squeeze = sp.Interval(h, h) == sp.FiniteSet(h)
    if require_monotone:
        counter = (Z**2).subs(Z, 0) != (Z**2).subs(Z, 1) and (Z**2).subs(Z, -1) == (Z**2).subs(Z, 1)
        lemma = between and between_rev and squeeze and counter
    else:  # claim it for z^2: sigma(lerp(-1, 1)) at t = 1/2 must equal sigma(-1) = sigma(1)
        lemma = between and squeeze and (Z**2).subs(Z, 0) == (Z**2).subs(Z, 1)
    return _ok(lemma, "lerp between the ends (both orders); sigma(z) in [h, h] = {h}; z^2 shows monotonicity "
               "is needed", f"between={between} between_rev={between_rev} squeeze={squeeze}")


def t2_zero_barrier() -> Check:
    """Sanity identity (not a proof step): if f_t = f_A = f_B on the data then
    L(t) - ((1-t) L(0) + t L(1)) = 0 for any loss (true for any expression Loss(f))."""
    t = sp.Symbol("t", real=True)
    Lf = sp.Function("Loss")(sp.Symbol("f"))
    return _ok(zero(sp.expand(Lf - ((1 - t) * Lf + t * Lf))), "barrier expands to 0", "nonzero barrier")


def t3_eps_assignment_is_minimizer(strict_margin: bool = True) -> Check:
    """cost(pi) <= c_min + eps, eps < gamma, and every non-minimizer costs >= c_min + gamma
    imply cost(other) - cost(pi) = s1 + s2 + (gamma - eps) > 0: pi is the minimizer."""
    cmin = sp.Symbol("c_min", real=True)
    s1, s2 = sp.symbols("s1 s2", nonnegative=True)
    eps = sp.Symbol("eps", nonnegative=True)
    d = sp.Symbol("d", positive=True) if strict_margin else sp.Symbol("d", nonpositive=True)
    gamma = eps + d
    c_pi = cmin + eps - s1
    c_other = cmin + gamma + s2
    diff = c_other - c_pi
    ok = zero(diff - (s1 + s2 + (gamma - eps))) and bool(diff.is_positive)
    return _ok(ok, "cost(other) - cost(pi) = s1 + s2 + (gamma - eps) > 0", "not proved positive")


def t3_instance() -> Check:
    """On a rational 3 x 3 cost matrix with the identity as unique minimum (margin 2), every
    assignment within eps = 1 of the minimum is the identity (exhaustive)."""
    K = sp.Matrix([[0, 1, 4], [1, 0, 5], [3, 2, 0]])
    costs = {p: sum(K[i, p[i]] for i in range(3)) for p in itertools.permutations(range(3))}
    best = min(costs.values())
    ident = (0, 1, 2)
    gamma = min(c for p, c in costs.items() if p != ident) - costs[ident]
    near = [p for p, c in costs.items() if c <= best + 1]
    return _ok(costs[ident] == best and gamma == 2 and near == [ident],
               f"identity cost {costs[ident]}, margin {gamma}, within eps=1: {near}", "instance failed")


def t4_path_identity(sign: int = -1) -> Check:
    """W_t h_t - ((1-t) W_A h_A + t W_B h_B) = -t(1-t)(W_A - W_B)(h_A - h_B) + W_t e,
    with W_t = (1-t) W_A + t W_B and h_t = (1-t) h_A + t h_B + e (2 x 3 symbolic)."""
    t = sp.Symbol("t", real=True)
    WA, WB = _mat("A", 2, 3), _mat("B", 2, 3)
    hA, hB, e = _vec("hA", 3, real=True), _vec("hB", 3, real=True), _vec("e", 3, real=True)
    Wt = (1 - t) * WA + t * WB
    ht = (1 - t) * hA + t * hB + e
    lhs = Wt * ht - ((1 - t) * WA * hA + t * WB * hB)
    rhs = sign * t * (1 - t) * (WA - WB) * (hA - hB) + Wt * e
    return _ok(zero(sp.expand(lhs - rhs)), "both sides expand to the same polynomial", "identity fails")


def t4_relu_gap(factor: sp.Expr = sp.Integer(1)) -> Check:
    """Convexity gap of ReLU, a > 0 > b = -beta: g(t) = relu(lerp) - lerp(relu).
    lerp = 0 at t0 = a/(a+beta) and decreases; on [0, t0] |g| = t beta, on [t0, 1]
    |g| = (1-t) a; both <= factor * t(1-t)(a + beta) = t(1-t)|a - b|. Same signs: g = 0."""
    t = sp.Symbol("t", real=True)
    a, be = sp.symbols("a beta", positive=True)
    b = -be
    lerp = (1 - t) * a + t * b
    t0 = a / (a + be)
    bound = factor * t * (1 - t) * (a - b)
    crossing = zero(lerp.subs(t, t0)) and nonneg(-sp.diff(lerp, t))
    left = nonneg_on(bound - t * be, t, 0, t0)       # g = lerp - (1-t) a = t b
    right = nonneg_on(bound - (1 - t) * a, t, t0, 1)  # g = 0 - (1-t) a
    # same signs: the lerp keeps the sign, so relu acts linearly (>= 0) or as 0 (<= 0): gap 0
    al, bl = sp.symbols("alpha_s beta_s", nonnegative=True)
    same_pos = nonneg_on((1 - t) * al + t * bl, t, 0, 1)
    same_neg = nonneg_on(-((1 - t) * (-al) + t * (-bl)), t, 0, 1)
    return _ok(crossing and left and right and same_pos and same_neg,
               "sign change at t0 = a/(a+|b|); |gap| <= t(1-t)|a-b| on [0,t0] and [t0,1]; "
               "same signs: lerp keeps the sign, gap 0",
               f"crossing={crossing} left={left} right={right} same_sign={same_pos and same_neg}")


def t4_relu_gap_tight(t_star: sp.Expr | None = None) -> Check:
    """Equality at t0 = a/(a + |b|): |g(t0)| = t0 beta = t0 (1 - t0)(a + beta)."""
    a, be = sp.symbols("a beta", positive=True)
    t0 = a / (a + be) if t_star is None else t_star
    return _ok(zero(sp.simplify(t0 * be - t0 * (1 - t0) * (a + be))), "t0 beta = t0 (1-t0)(a+beta)",
               "not tight at the claimed point")


def t4_leaky_gap_factor() -> Check:
    """leaky_alpha(z) = alpha z + (1 - alpha) relu(z) for all z, so the convexity gap of
    leaky ReLU is (1 - alpha) times ReLU's (the linear part has no gap)."""
    al = sp.Symbol("alpha", positive=True)
    leaky = sp.Piecewise((al * Z, Z <= 0), (Z, True))
    ps = combine([(1, pieces(leaky)), (-(1 - al), pieces(sp.Max(0, Z)))], extra=-al * Z)
    proof = prove_zero(ps, {al: sp.Rational(1, 10)})
    return _ok(proof.proved, proof.detail, proof.detail)


def t4_smooth_gap() -> Check:
    """|sigma''| <= M: (1-t) f(a) + t f(b) - f(x_t) = int_a^b G(s) f''(s) ds with the Peano
    kernel G = (1-t)(s-a) on [a, x_t], t(b-s) on [x_t, b]; G >= 0 and
    int G = t(1-t)(b-a)^2/2, so the gap is <= (M/2) t(1-t)(a-b)^2. Identity checked on a
    generic quartic f; equality for f = M z^2/2 (tightness)."""
    t = sp.Symbol("t", real=True)
    a = sp.Symbol("a", real=True)
    h = sp.Symbol("h", positive=True)  # b = a + h
    b = a + h
    s = sp.Symbol("s", real=True)
    xt = a + t * h
    G1, G2 = (1 - t) * (s - a), t * (b - s)
    coeffs = sp.symbols("k0:5", real=True)
    f = sum(k * s**i for i, k in enumerate(coeffs))
    f2 = sp.diff(f, s, 2)
    integral = sp.integrate(G1 * f2, (s, a, xt)) + sp.integrate(G2 * f2, (s, xt, b))
    gap = (1 - t) * f.subs(s, a) + t * f.subs(s, b) - f.subs(s, xt)
    ident = zero(sp.expand(integral - gap))
    total = zero(sp.expand(sp.integrate(G1, (s, a, xt)) + sp.integrate(G2, (s, xt, b)) - t * (1 - t) * h**2 / 2))
    # G1 on [a, x_t] with s = a + u (u >= 0); G2 on [x_t, b] with s = b - v (v >= 0)
    u, v = sp.symbols("u v", nonnegative=True)
    g1 = nonneg_on(G1.subs(s, a + u), t, 0, 1)
    g2 = nonneg_on(G2.subs(s, b - v), t, 0, 1)
    M = sp.Symbol("M", positive=True)
    q = M * s**2 / 2
    tight = zero(sp.expand(q.subs(s, xt) - ((1 - t) * q.subs(s, a) + t * q.subs(s, b))
                           + M / 2 * t * (1 - t) * h**2))
    return _ok(ident and total and g1 and g2 and tight,
               "Peano identity (quartic), kernel >= 0, integral t(1-t)(b-a)^2/2, equality for M z^2/2",
               f"identity={ident} integral={total} kernel>=0={g1 and g2} tight={tight}")


def t4_mse_algebra() -> Check:
    """MSE step: lerp(||u||^2) - ||lerp u||^2 = t(1-t)||u_A - u_B||^2 >= 0 (so ||lerp f - y||^2
    averages to <= lerp L) and (sqrt(P) + q)^2 = P + 2 sqrt(P) q + q^2 gives
    L(t) - lerp L <= 2 sqrt(lerp L) t(1-t) rho + (t(1-t) rho)^2."""
    t = sp.Symbol("t", real=True)
    uA, uB = _vec("uA", 2, real=True), _vec("uB", 2, real=True)
    lerp = (1 - t) * uA + t * uB
    conv = zero(sp.expand((1 - t) * _dot(uA, uA) + t * _dot(uB, uB) - _dot(lerp, lerp)
                          - t * (1 - t) * _dot(uA - uB, uA - uB)))
    P, rho = sp.symbols("P rho", nonnegative=True)
    q = t * (1 - t) * rho
    sq = zero(sp.expand((sp.sqrt(P) + q) ** 2 - P - (2 * sp.sqrt(P) * t * (1 - t) * rho + q**2)))
    return _ok(conv and sq, "convexity identity and square expansion", f"conv={conv} square={sq}")


def t4_ce_gradient_bound(bound: sp.Expr = sp.Integer(2)) -> Check:
    """Cross-entropy: ||softmax - e_y||^2 <= 2 (3 classes; p >= 0, sum p = 1): with the
    constraint homogenized, bound*(sum p)^2 - ||p - e_1 (sum p)||^2 has nonnegative terms."""
    p1, p2, p3 = sp.symbols("p1 p2 p3", nonnegative=True)
    S = p1 + p2 + p3
    e = bound * S**2 - ((p1 - S) ** 2 + p2**2 + p3**2)
    return _ok(nonneg(sp.expand(e)), f"{bound}(sum p)^2 - ||p - e_y||^2 = {sp.expand(e)}",
               f"not nonnegative: {sp.expand(e)}")


def t4_box_mse(factor: sp.Expr = sp.Integer(2)) -> Check:
    """Per-sample box bound, MSE: (u + e - y)^2 - (u - y)^2 = 2 (u - y) e + e^2 <=
    factor |u - y| |e| + e^2 with factor = 2 (both signs of u - y and e checked; a
    smaller factor must fail), so with |e_k| <= s R_k the excess is at most
    sum_k 2 |u_k - y_k| s R_k + (s R_k)^2; mean_x loss(u) <= lerp L by convexity."""
    u, y, e = sp.symbols("u y e", real=True)
    expand = zero(sp.expand((u + e - y) ** 2 - (u - y) ** 2 - (2 * (u - y) * e + e**2)))
    q, r = sp.symbols("q r", nonnegative=True)  # |u - y| = q, |e| = r
    cases = all(nonneg(sp.expand(factor * q * r + r**2 - (2 * (sq * q) * (se * r) + r**2)))
                for sq in (1, -1) for se in (1, -1))
    return _ok(expand and cases, "(u+e-y)^2 - (u-y)^2 = 2(u-y)e + e^2 <= 2|u-y||e| + e^2 (4 sign cases)",
               f"expand={expand} cases={cases}")


def t4_box_ce_vertex(sign_target: int = -1) -> Check:
    """Per-sample box bound, cross-entropy (3 classes, target 1): dCE/dz_1 = p_1 - 1 <= 0
    and dCE/dz_j = p_j >= 0 (j != 1), so CE increases coordinate-wise toward the vertex
    e*_1 = -b_1, e*_j = +b_j: that vertex maximizes CE(u + e) over the box |e| <= b.
    ``sign_target = +1`` (the wrong vertex) must fail."""
    z = sp.symbols("z1:4", real=True)
    ce = sp.log(sum(sp.exp(zi) for zi in z)) - z[0]
    soft = [sp.exp(zi) / sum(sp.exp(zj) for zj in z) for zi in z]
    grads = [sp.diff(ce, zi) for zi in z]
    exact = zero(sp.simplify(grads[0] - (soft[0] - 1))) and all(
        zero(sp.simplify(grads[j] - soft[j])) for j in (1, 2))
    # direction of increase for the target coordinate: -sign(dCE/dz_1) = +1 needs e_1 -> -b_1
    target_ok = nonneg(sp.simplify(sign_target * grads[0]))
    others_ok = all(nonneg(sp.simplify(grads[j])) for j in (1, 2))
    return _ok(exact and target_ok and others_ok,
               "dCE/dz_y = p_y - 1 <= 0, dCE/dz_j = p_j >= 0: the maximizing vertex is e_y = -b_y, e_j = +b_j",
               f"gradients={exact} target={target_ok} others={others_ok}")


def t4_identical_pair_zero() -> Check:
    """Sanity identity (not a proof step): with W_A = W_B, h_A = h_B, z_A = z_B the
    recursion gives R^l = Lip * max|W| R^{l-1} + 0, so R^0 = 0 yields R^l = 0 (T2)."""
    Lip, Wabs, R0 = sp.symbols("Lip Wabs R0", nonnegative=True)
    dW, dh, gap = 0, 0, 0
    R1 = Lip * (dW * dh + Wabs * R0) + gap
    return _ok(zero(R1.subs(R0, 0)), "one step of the recursion maps R = 0 to 0", "nonzero")


def t4_gap_curvature_green(kernel_scale: sp.Expr = sp.Integer(1)) -> Check:
    """T4 combined gap rule, curvature part: for phi(u) = s(lerp(a, b)) at u,
    phi'' = (b - a)^2 s''; G(t) = phi(t) - lerp(phi(0), phi(1)) = -int_0^1 K(t,u) phi''(u) du
    with the Green's function K = u(1-t) (u <= t), t(1-u) (u >= t); K >= 0 and
    int_0^1 K du = t(1-t)/2, so |G| <= (M/2) t(1-t) (a-b)^2 when |s''| <= M.
    Identity on a generic quartic phi; ``kernel_scale`` != 1 must fail."""
    t = sp.Symbol("t", real=True)
    u = sp.Symbol("u", real=True)
    k = sp.symbols("k0:5", real=True)
    phi = sum(c * u**i for i, c in enumerate(k))
    phi2 = sp.diff(phi, u, 2)
    K1, K2 = kernel_scale * u * (1 - t), kernel_scale * t * (1 - u)
    G = phi.subs(u, t) - ((1 - t) * phi.subs(u, 0) + t * phi.subs(u, 1))
    green = zero(sp.expand(G + sp.integrate(K1 * phi2, (u, 0, t)) + sp.integrate(K2 * phi2, (u, t, 1))))
    mass = zero(sp.expand(sp.integrate(K1, (u, 0, t)) + sp.integrate(K2, (u, t, 1)) - t * (1 - t) / 2))
    v = sp.Symbol("v", nonnegative=True)
    kpos = nonneg_on(K1.subs(u, t * v / (1 + v)), t, 0, 1) and nonneg_on(K2.subs(u, (t + v) / (1 + v)), t, 0, 1)
    a, b = sp.symbols("a b", real=True)
    sfun = sp.Function("s")
    chain = zero(sp.simplify(sp.diff(sfun(a + u * (b - a)), u, 2)
                             - (b - a) ** 2 * sp.Subs(sp.diff(sfun(Z), Z, 2), Z, a + u * (b - a)).doit()))
    return _ok(green and mass and kpos and chain,
               "G = -int K phi'' (quartic), int K = t(1-t)/2, K >= 0, phi'' = (b-a)^2 s''",
               f"green={green} mass={mass} kernel>=0={kpos} chain={chain}")


def t4_gap_kink(factor: sp.Expr = sp.Integer(1)) -> Check:
    """T4 combined gap rule, kink part: sigma = s_0 + sum_k J_k relu(z - c_k) with s_0 C^1
    (checked on ELU(alpha): s_0 = elu - (1 - alpha) relu has equal one-sided slopes at 0).
    For relu(z - c) with a = c - A < c < b = c + B: lerp(a, b) - c = lerp(a - c, b - c)
    (translation), G = -t B on [0, t0], -(1-t) A on [t0, 1] (t0 = A/(A+B)) and
    |G| <= factor t(1-t)(A + B) = t(1-t) |a - b| (``factor`` < 1 must fail)."""
    t = sp.Symbol("t", real=True)
    A, B, c, al = sp.symbols("A B c alpha", positive=True)
    a, b = c - A, c + B
    lerp = (1 - t) * a + t * b
    translation = zero(sp.expand(lerp - c - ((1 - t) * (a - c) + t * (b - c))))
    t0 = A / (A + B)
    w = lerp - c  # increasing in t, zero at t0
    crossing = zero(sp.simplify(w.subs(t, t0))) and nonneg(sp.diff(w, t))
    chord = t * B  # lerp(relu(a - c), relu(b - c)) = (1-t) 0 + t B
    left = zero(sp.expand((0 - chord) + t * B)) and nonneg_on(factor * t * (1 - t) * (A + B) - t * B, t, 0, t0)
    right = zero(sp.expand((w - chord) + (1 - t) * A)) and nonneg_on(
        factor * t * (1 - t) * (A + B) - (1 - t) * A, t, t0, 1)
    elu = sp.Piecewise((al * (sp.exp(Z) - 1), Z <= 0), (Z, True))
    J = 1 - al
    s0_left = sp.diff(al * (sp.exp(Z) - 1), Z).subs(Z, 0)  # relu' = 0 on the left
    s0_right = sp.diff(Z, Z) - J  # relu' = 1 on the right
    c1 = zero(sp.simplify(s0_left - s0_right)) and zero(elu.subs(Z, 0))
    return _ok(translation and crossing and left and right and c1,
               "translation; sign change at t0 = A/(A+B); |G| <= t(1-t)(A+B) on [0,t0] and [t0,1]; "
               "ELU - (1-alpha) relu is C^1 at 0",
               f"translation={translation} crossing={crossing} left={left} right={right} C1={c1}")


def t4_gap_cap(kappa_monotone: sp.Expr = sp.Integer(1)) -> Check:
    """T4 combined gap rule, cap: G = (1-t)(sigma(z) - sigma(a)) + t(sigma(z) - sigma(b))
    for z = lerp(a, b) (any sigma), |z - a| = t dz, |z - b| = (1-t) dz, so
    |G| <= 2 Lip t(1-t) dz; for monotone sigma the brackets have opposite signs and
    |x + y| <= max(|x|, |y|), so |G| <= Lip t(1-t) dz (``kappa_monotone`` < 1 must fail)."""
    t, a = sp.symbols("t a", real=True)
    dz, Lip = sp.symbols("dz Lip", positive=True)
    b = a + dz
    z = (1 - t) * a + t * b
    f = sp.Function("sigma")
    split = zero(sp.expand((1 - t) * (f(z) - f(a)) + t * (f(z) - f(b)) - (f(z) - ((1 - t) * f(a) + t * f(b)))))
    dists = zero(sp.expand(z - a - t * dz)) and zero(sp.expand(b - z - (1 - t) * dz))
    general = zero(sp.expand((1 - t) * Lip * t * dz + t * Lip * (1 - t) * dz - 2 * Lip * t * (1 - t) * dz))
    q, r = sp.symbols("q r", nonnegative=True)  # x = p >= 0 >= y = -q; case p = q + r and q = p + r
    opposite = (zero(sp.Max(q + r, q) - sp.Abs((q + r) - q) - q)
                and zero(sp.Max(q, q + r) - sp.Abs(q - (q + r)) - q))
    each = (1 - t) * Lip * t * dz  # both weighted brackets are at most Lip t(1-t) dz
    monotone = zero(sp.expand(each - t * Lip * (1 - t) * dz)) and nonneg_on(
        kappa_monotone * Lip * t * (1 - t) * dz - each, t, 0, 1)
    return _ok(split and dists and general and opposite and monotone,
               "G split into two brackets; distances t dz, (1-t) dz; 2 Lip cap; opposite signs give Lip cap",
               f"split={split} distances={dists} general={general} opposite={opposite} monotone={monotone}")


# ----------------------------------------------------------------------------- E1 - E3


def e1_exact_copy_coherence() -> Check:
    """Exact-copy embedding: a active copies of z in R^2 placed in coordinate pairs, scaled
    1/sqrt(a): U^T U = I and nu = 1/a (a = 1..4, 10 copies)."""
    ok = True
    for a in range(1, 5):
        U = sp.zeros(20, 2)
        for k in range(a):
            U[2 * k, 0] = U[2 * k + 1, 1] = 1 / sp.sqrt(a)
        nu = max(sum(x**2 for x in U[j, :]) for j in range(20))
        ok &= (U.T * U == sp.eye(2)) and nu == sp.Rational(1, a)
    return _ok(ok, "orthonormal with coherence 1/a for a = 1..4", "coherence differs")


def e1_tight_frame_coherence() -> Check:
    """Random tight frame: pair k holds R(theta_k)/sqrt(a); U^T U = I and every active row
    has ||U^T e_j||^2 = 1/a for any angles (a = 3)."""
    a = 3
    th = sp.symbols("theta1:4", real=True)
    U = sp.zeros(2 * a, 2)
    for k in range(a):
        R = sp.Matrix([[sp.cos(th[k]), -sp.sin(th[k])], [sp.sin(th[k]), sp.cos(th[k])]]) / sp.sqrt(a)
        U[2 * k:2 * k + 2, :] = R
    ortho = zero((U.T * U - sp.eye(2)).applyfunc(sp.simplify))
    rows = all(zero(sp.simplify(sum(x**2 for x in U[j, :]) - sp.Rational(1, a))) for j in range(2 * a))
    return _ok(ortho and rows, "U^T U = I and row norms 1/a", "frame identities failed")


def e2_center_separation() -> Check:
    """E2: with fixed parts (sigma_F > 0) the centers separate, E||v_i - v_j||^2 =
    2 sigma_F^2 (1 - p) r, growing with the intrinsic dimension r (P4)."""
    return p4_center_pull()


#: Result ID -> list of (obligation name, check function).
OBLIGATIONS: dict[str, list[tuple[str, Callable[[], Check]]]] = {
    "D1": [("coherence_bounds", d1_coherence_sum), ("affine_on_support", d1_affine_on_support)],
    "D2": [("strictly_increasing_preimage", d2_strictly_increasing_preimage),
           ("relu_preimages_are_intervals", d2_relu_preimages)],
    "D3": [("swap_cost_structure", d3_swap_cost_structure)],
    "D4": [("standard_layer_margin_zero", d4_standard_layer_margin_zero),
           ("mismatch_scale_invariant", d4_mismatch_scale_invariant)],
    "D5": [("peak_le_lerp_and_mean", d5_peak_le_lerp)],
    "D6": [("permutation_preserves_function", d6_permutation_preserves_function),
           ("inverted_correlation_selection", d6_inverted_correlation_selection)],
    "D7": [("catalogue_symmetries_proved", d7_catalogue_symmetries)],
    "P1": [("kkt_small_instance", p1_kkt), ("pinv_cost_on_subspace", p1_subspace_instance)],
    "P2": [("standard_layer_costs", p2_standard_layer)],
    "P3": [("inverse_perturbation_bound", p3_inverse_perturbation),
           ("swap_bound_algebra", p3_swap_bound_algebra)],
    "P4": [("swap_cost_identity", p4_swap_cost_identity), ("center_pull", p4_center_pull)],
    "P5": [("monotonicity_decided", p5_monotonicity_decided), ("gelu_preimage_not_interval", p5_gelu_nonconvex)],
    "P6": [("scaling_invariance", p6_scaling_invariance), ("phi_factor", p6_phi),
           ("balanced_minimizer", p6_balanced_minimizer), ("sign_flip", p6_sign_flip)],
    "T1": [("threshold_solves_tail", t1_threshold_solves_tail), ("tail_equals_delta", t1_tail_equals_delta),
           ("exponent_increasing", t1_exponent_increasing),
           ("threshold_upper_bound", t1_threshold_upper_bound),
           ("bernstein_parameters", t1_bernstein_parameters)],
    "T2": [("equal_inputs_interpolate", t2_equal_inputs), ("monotone_sandwich", t2_monotone_sandwich),
           ("zero_barrier", t2_zero_barrier)],
    "T3": [("eps_assignment_is_minimizer", t3_eps_assignment_is_minimizer), ("exhaustive_instance", t3_instance)],
    "T4": [("path_identity", t4_path_identity), ("relu_gap_bound", t4_relu_gap),
           ("relu_gap_tight", t4_relu_gap_tight), ("leaky_gap_factor", t4_leaky_gap_factor),
           ("smooth_gap_bound", t4_smooth_gap), ("mse_algebra", t4_mse_algebra),
           ("ce_gradient_bound", t4_ce_gradient_bound), ("gap_curvature_green", t4_gap_curvature_green),
           ("gap_kink", t4_gap_kink), ("gap_cap", t4_gap_cap), ("box_mse", t4_box_mse),
           ("box_ce_vertex", t4_box_ce_vertex), ("identical_pair_zero", t4_identical_pair_zero)],
    "E1": [("exact_copy_coherence", e1_exact_copy_coherence), ("tight_frame_coherence", e1_tight_frame_coherence)],
    "E2": [("center_separation", e2_center_separation)],
    "E3": [("permutation_preserves_function", d6_permutation_preserves_function),
           ("inverted_correlation_selection", d6_inverted_correlation_selection)],
}

#: Obligations that are not proof steps: a *sanity identity* is true for any
#: expression (it checks bookkeeping, not the result); a *reference* repeats another
#: item's obligation. Neither is counted as a proof.
KINDS: dict[tuple[str, str], str] = {
    ("T2", "zero_barrier"): "sanity identity",
    ("T4", "identical_pair_zero"): "sanity identity",
    ("E3", "permutation_preserves_function"): "reference (D6)",
    ("E3", "inverted_correlation_selection"): "reference (D6)",
    ("E2", "center_separation"): "reference (P4)",
}


def obligation_kind(result_id: str, name: str) -> str:
    """``"proof"``, ``"sanity identity"`` or ``"reference (<ID>)"``."""
    return KINDS.get((result_id, name), "proof")
