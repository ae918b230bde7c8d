"""THEORY N2: the scale symmetry of LayerNorm, proved with SymPy.

LayerNorm over a layer's ``m`` neurons (per sample, biased variance, as PyTorch)::

    u(z) = gamma * (z - mean(z)) / sqrt(var(z) + eps) + beta

For ``c > 0`` the map ``(W, b) -> (c W, c b)`` of the layer's linear part sends ``z`` to
``c z``. The obligations below prove, on a symbolic instance (``m = 3`` neurons,
``d = 2`` inputs, every entry a free symbol):

* ``centering_scales``: ``c z - mean(c z) = c (z - mean(z))``;
* ``variance_scales``: ``var(c z) = c^2 var(z)``;
* ``invariance_eps_zero``: with ``eps = 0``, ``u(c z) = u(z)`` (``c > 0``, ``var(z) > 0``);
* ``eps_factor``: for ``eps >= 0`` the normalized centered part is multiplied by
  ``rho(c) = c sqrt(V + eps) / sqrt(c^2 V + eps)`` (``V = var(z)``), and
  ``rho^2 - 1 = eps (c^2 - 1) / (c^2 V + eps)``: ``rho = 1`` exactly when ``eps = 0`` or
  ``c = 1``, so ``eps > 0`` breaks the symmetry (THEORY states the factor
  ``sqrt(var + eps) / sqrt(c^2 var + eps)`` acting on the scaled centered part
  ``c (z - mean z)``; that is the same ``rho``);
* ``path_identity``: along the straight path between ``(W, b)`` and ``(c W, c b)`` the
  pre-activation is ``z_t = ((1-t) + t c) z`` and ``s(t) = (1-t) + t c > 0`` on
  ``[0, 1]``;
* ``flat_path_eps_zero``: hence ``u(z_t) = u(z)`` for every ``t`` when ``eps = 0``: every
  point of the path computes the same function (the other layers are not touched), so
  the path has no barrier, unlike ReLU rescaling (P6).

N1's permutation step is checked too (:func:`n1_permutation_equivariance`, not a
registry item): permuting a layer's neurons together with ``gamma, beta`` permutes
LayerNorm's output the same way (mean and variance are symmetric in the neurons).

Every obligation returns ``(verified, detail)`` and takes its constants as keyword
arguments, so tests can pass a wrong one and watch the same check reject it.

>>> all(fn()[0] for _, fn in N2_OBLIGATIONS)
True
"""

from __future__ import annotations

import itertools

import sympy as sp

from .obligations import Check, zero

__all__ = ["N2_OBLIGATIONS", "layer_norm", "eps_factor", "n1_permutation_equivariance"]

_M = 3  # neurons of the symbolic instance
_D = 2  # inputs of the symbolic instance


def _zs():
    return sp.Matrix(sp.symbols(f"z1:{_M + 1}", real=True))


def _mean(z: sp.Matrix) -> sp.Expr:
    return sum(z) / z.rows


def _centered(z: sp.Matrix) -> sp.Matrix:
    return z - sp.ones(z.rows, 1) * _mean(z)


def _var(z: sp.Matrix) -> sp.Expr:
    """Biased variance over the neurons (as PyTorch's LayerNorm)."""
    cz = _centered(z)
    return sum(x**2 for x in cz) / z.rows


def layer_norm(z: sp.Matrix, gamma: sp.Matrix, beta: sp.Matrix, eps: sp.Expr, *, var: sp.Expr | None = None):
    """Symbolic LayerNorm of the column ``z``; ``var`` substitutes a symbol for ``var(z)``."""
    v = _var(z) if var is None else var
    return sp.Matrix([gamma[i] * _centered(z)[i] / sp.sqrt(v + eps) + beta[i] for i in range(z.rows)])


def eps_factor(c: sp.Expr, V: sp.Expr, eps: sp.Expr) -> sp.Expr:
    """``rho(c) = c sqrt(V + eps) / sqrt(c^2 V + eps)``: the factor by which ``(W, b) -> (cW, cb)``
    multiplies the normalized centered part (1 when ``eps = 0``)."""
    return c * sp.sqrt(V + eps) / sp.sqrt(c**2 * V + eps)


def n2_centering(scale_power: int = 1) -> Check:
    """c z - mean(c z) = c^k (z - mean(z)) with k = 1: centering commutes with scaling."""
    c = sp.Symbol("c", positive=True)
    z = _zs()
    ok = zero(_centered(c * z) - c**scale_power * _centered(z))
    return (ok, "centered(c z) = c centered(z)" if ok else f"centered(c z) != c^{scale_power} centered(z)")


def n2_variance(scale_power: int = 2) -> Check:
    """var(c z) = c^k var(z) with k = 2 (biased variance over the neurons)."""
    c = sp.Symbol("c", positive=True)
    z = _zs()
    ok = zero(sp.expand(_var(c * z) - c**scale_power * _var(z)))
    return (ok, "var(c z) = c^2 var(z)" if ok else f"var(c z) != c^{scale_power} var(z)")


def n2_invariance(eps: sp.Expr = sp.Integer(0)) -> Check:
    """With eps = 0 and c > 0, LayerNorm(c z) = LayerNorm(z) (gamma, beta arbitrary), using the
    two scaling lemmas (var(z) = V > 0 a symbol: the division is defined)."""
    c = sp.Symbol("c", positive=True)
    V = sp.Symbol("V", positive=True)
    z = _zs()
    gamma = sp.Matrix(sp.symbols(f"gamma1:{_M + 1}", real=True))
    beta = sp.Matrix(sp.symbols(f"beta1:{_M + 1}", real=True))
    lemmas = n2_centering()[0] and n2_variance()[0]
    diff = layer_norm(c * z, gamma, beta, eps, var=c**2 * V) - layer_norm(z, gamma, beta, eps, var=V)
    ok = lemmas and zero(sp.simplify(diff))
    return (ok, "LayerNorm(c z) - LayerNorm(z) = 0 for eps = 0, c > 0" if ok
            else f"LayerNorm(c z) != LayerNorm(z) with eps = {eps}")


def n2_eps_factor(claimed: sp.Expr | None = None) -> Check:
    """For eps >= 0: LayerNorm's centered part at c z is rho(c) times the one at z, rho =
    c sqrt(V + eps)/sqrt(c^2 V + eps); rho^2 - 1 = eps (c^2 - 1)/(c^2 V + eps), so rho = 1
    iff eps = 0 or c = 1 (V > 0)."""
    c, V = sp.symbols("c V", positive=True)
    eps = sp.Symbol("eps", nonnegative=True)
    x = sp.Symbol("x", real=True)  # one centered coordinate z_i - mean(z)
    rho = eps_factor(c, V, eps) if claimed is None else claimed
    factor_ok = zero(sp.simplify(c * x / sp.sqrt(c**2 * V + eps) - rho * x / sp.sqrt(V + eps)))
    gap_ok = zero(sp.simplify(rho**2 - 1 - eps * (c**2 - 1) / (c**2 * V + eps)))
    at_zero = zero(sp.simplify(rho.subs(eps, 0) - 1))
    ok = factor_ok and gap_ok and at_zero
    return (ok, "rho = c sqrt(V+eps)/sqrt(c^2 V+eps); rho^2 - 1 = eps (c^2-1)/(c^2 V+eps); rho(eps=0) = 1" if ok
            else f"factor={factor_ok} gap={gap_ok} eps0={at_zero}")


def n2_path_identity(claimed_scale: sp.Expr | None = None) -> Check:
    """z_t = ((1-t) W + t c W) h + ((1-t) b + t c b) = ((1-t) + t c) z, and s(t) = (1-t) + t c
    is positive on [0, 1] for c > 0."""
    c = sp.Symbol("c", positive=True)
    t = sp.Symbol("t", real=True)
    W = sp.Matrix(_M, _D, sp.symbols(f"w1:{_M * _D + 1}", real=True))
    b = sp.Matrix(sp.symbols(f"b1:{_M + 1}", real=True))
    h = sp.Matrix(sp.symbols(f"h1:{_D + 1}", real=True))
    s = (1 - t) + t * c if claimed_scale is None else claimed_scale
    z = W * h + b
    z_t = ((1 - t) * W + t * c * W) * h + ((1 - t) * b + t * c * b)
    identity = zero(sp.expand(z_t - s * z))
    # t = x / (x + y) with x, y > 0 covers the open interval; the endpoints give 1 and c
    x, y = sp.symbols("x_bary y_bary", positive=True)
    interior = sp.factor(sp.together(s.subs(t, x / (x + y)))).is_positive is True
    positive = interior and bool(s.subs(t, 0).is_positive) and bool(s.subs(t, 1).is_positive)
    ok = identity and positive
    return (ok, "z_t = ((1-t) + t c) z with (1-t) + t c > 0 on [0, 1]" if ok
            else f"identity={identity} positive={positive}")


def n2_flat_path(eps: sp.Expr = sp.Integer(0)) -> Check:
    """With eps = 0 the normalized output along the path, LayerNorm(s(t) z), equals LayerNorm(z)
    for every t in [0, 1] (s(t) = (1-t) + t c > 0): the path is flat."""
    V = sp.Symbol("V", positive=True)
    z = _zs()
    gamma = sp.Matrix(sp.symbols(f"gamma1:{_M + 1}", real=True))
    beta = sp.Matrix(sp.symbols(f"beta1:{_M + 1}", real=True))
    s = sp.Symbol("s", positive=True)  # s(t) = (1-t) + t c, positive by n2_path_identity
    path_ok = n2_path_identity()[0]
    diff = layer_norm(s * z, gamma, beta, eps, var=s**2 * V) - layer_norm(z, gamma, beta, eps, var=V)
    ok = path_ok and zero(sp.simplify(diff))
    return (ok, "LayerNorm(z_t) = LayerNorm(z) for all t in [0, 1] (eps = 0)" if ok
            else f"LayerNorm(s z) != LayerNorm(z) with eps = {eps}")


def n1_permutation_equivariance(permute_gamma: bool = True) -> Check:
    """THEORY N1 / D6: LayerNorm(P z; P gamma, P beta) = P LayerNorm(z; gamma, beta) for every
    permutation P (all 3! permutations of m = 3 neurons, eps a free symbol); hence the
    permuted network computes the same function. ``permute_gamma=False`` (forgetting to
    move gamma, beta) must fail."""
    z = _zs()
    gamma = sp.Matrix(sp.symbols(f"gamma1:{_M + 1}", real=True))
    beta = sp.Matrix(sp.symbols(f"beta1:{_M + 1}", real=True))
    eps = sp.Symbol("eps", positive=True)
    ok = True
    for p in itertools.permutations(range(_M)):
        P = sp.Matrix(_M, _M, lambda i, j: 1 if p[i] == j else 0)
        g, b = (P * gamma, P * beta) if permute_gamma else (gamma, beta)
        ok = ok and zero(sp.simplify(layer_norm(P * z, g, b, eps) - P * layer_norm(z, gamma, beta, eps)))
    return (ok, "LayerNorm is permutation-equivariant (gamma, beta permuted with the neurons)" if ok
            else "LayerNorm(Pz) != P LayerNorm(z) for some permutation")


#: (name, check) pairs of N2, in the format of :data:`neuronid.theory.obligations.OBLIGATIONS`
N2_OBLIGATIONS = [
    ("centering_scales", n2_centering),
    ("variance_scales", n2_variance),
    ("invariance_eps_zero", n2_invariance),
    ("eps_factor", n2_eps_factor),
    ("path_identity", n2_path_identity),
    ("flat_path_eps_zero", n2_flat_path),
]
