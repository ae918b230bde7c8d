"""The cost matrix ``K`` of a layer (D3 with P1), including pairs of neurons with
different activations (sigma-asymmetric layers), and the D3 slack.

Part of :mod:`neuronid.numerics.costs`; the package docstring says what the numbers mean."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuronid.errors import InvalidOptionError

from ..activations import activation_monotonicity, apply_layer, preimage_uncertainty
from ..network import Layer
from ..realization import Realizer
from ..supports import Support
from ._common import (
    _EPS, NOT_AFFINE, NOT_COMPUTED, OK, OUT_OF_ACT_RANGE, OUT_OF_RANGE, REASONS, SOLVER_FAILED,
    SOLVER_INFEASIBLE, _progress,
)
from ._quadratic import EffectiveLayer, complement_costs, effective_layer, quadratic_costs

# ============================================================== cost matrix of a layer
@dataclass
class CostMatrix:
    """``K[i, j] = C_i(h_j)`` for one layer (D3).

    ``reason`` (m, m) int codes (:data:`REASONS`) for non-finite entries; ``exact``
    (m, m): whether the entry is the exact minimum of D2 on the (truncated) support
    (False for ReLU/GELU upper bounds and inaccurate solves); ``residual``: relative
    range residual; ``null_dim``: null-space dimension of each ``S_i``;
    ``semantics``: what the numbers are; ``counts``: how entries were computed.
    """

    K: np.ndarray
    reason: np.ndarray
    exact: np.ndarray
    residual: np.ndarray
    null_dim: np.ndarray
    semantics: str
    counts: dict = field(default_factory=dict)
    eig_tol: float = 0.0
    kind: str = ""

    def reason_summary(self) -> str:
        """One line: what the null entries of ``K`` (in JSON) were."""
        parts = []
        for code, text in REASONS.items():
            if code == OK:
                continue
            k = int(np.sum(self.reason == code))
            if k:
                parts.append(f"{k} entries {text}")
        return "; ".join(parts)

    def nonfinite_entries(self, limit: int = 200) -> list:
        """``[[i, j, reason], ...]`` for the first ``limit`` non-finite entries."""
        rows, cols = np.nonzero(~np.isfinite(self.K))
        return [[int(i), int(j), REASONS.get(int(self.reason[i, j]), "")] for i, j in zip(rows[:limit], cols[:limit])]


def _kind(name: str) -> str:
    return activation_monotonicity(name)


def cost_matrix(layer: Layer, support: Support, *, points=None, eff: EffectiveLayer | None = None,
                eig_rtol: float | None = None, range_rtol: float = 1e-8, affine_rtol: float = 1e-8,
                max_solver_pairs: int = 2000, solver=None, progress: bool = False) -> CostMatrix:
    """Cost matrix ``K`` of a hidden layer on its support (D3 with P1).

    Parameters
    ----------
    layer : a hidden :class:`~.network.Layer`.
    support : its input support (:func:`~.supports.compute_support`).
    points : (n, d) the support points; needed only for sigma-asymmetric layers
        (pairs with different activations are checked on the points).
    eff : precomputed :func:`effective_layer` (optional).
    eig_rtol, range_rtol : tolerances (module docstring).
    affine_rtol : relative residual below which ``sigma_i^{-1}(h_j)`` counts as affine.
    max_solver_pairs : budget of cvxpy solves for pairs with different activations
        where ``sigma_i`` is not strictly increasing; beyond it entries are ``nan``.
    solver : cvxpy solver for those pairs (default CLARABEL with fallbacks).

    Examples
    --------
    >>> import numpy as np
    >>> from neuronid.numerics.structures import w_mlp
    >>> from neuronid.numerics.supports import compute_support
    >>> net = w_mlp([6, 5, 2], activation="tanh", n_fixed=2, sigma_F=0.0, seed=0)
    >>> X = np.random.default_rng(0).normal(size=(40, 6))
    >>> cm = cost_matrix(net.layers[0], compute_support(X, tau=1.0))
    >>> np.isfinite(cm.K).astype(int).tolist()   # 4 trainable < r = 6: only equal masks (0, 3) swap
    [[1, 0, 0, 1, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [1, 0, 0, 1, 0], [0, 0, 0, 0, 1]]
    """
    if layer.names is None:
        raise InvalidOptionError("cost_matrix: the output layer has no activation; costs compare hidden neurons")
    eff = effective_layer(layer, support) if eff is None else eff
    m, r = eff.m, eff.r
    if eig_rtol is None:
        eig_rtol = 10.0 * max(support.dim, r, 1) * _EPS
    eig_tol = float(eig_rtol) * max(1.0, float(np.max(eff.eigenvalues[:, -1])) if r else 1.0)
    q = complement_costs(eff._mask, eff._U, eff.V, eff.A, eig_tol=eig_tol, range_rtol=range_rtol,
                         eigenvalues=eff.eigenvalues)
    if q is None:  # a support basis that is not orthonormal: from the shape matrices
        q = quadratic_costs(eff.S, eff.V, eff.A, eig_tol=eig_tol, range_rtol=range_rtol, eigenvalues=eff.eigenvalues)
    K = q.K
    reason = np.where(np.isfinite(K), OK, OUT_OF_RANGE).astype(np.int8)
    names = eff.names
    kinds = {name: _kind(name) for name in set(names)}
    exact_row = np.array([kinds[n] == "strictly_increasing" for n in names])
    exact = np.repeat(exact_row[:, None], m, axis=1)
    counts = {"closed_form": int(m * m), "cross_activation_inverse": 0, "cross_activation_solver": 0,
              "recomputed_for_cancellation": q.recomputed}
    if len(kinds) > 1:
        if points is None:
            raise InvalidOptionError(
                "cost_matrix: sigma-asymmetric layer (different activations); pass points= (the support points) "
                "to check pairs with different activations"
            )
        _cross_activation(layer, support, eff, np.asarray(points, dtype=np.float64), K, reason, exact, counts,
                          eig_tol=eig_tol, range_rtol=range_rtol, affine_rtol=affine_rtol,
                          max_solver_pairs=max_solver_pairs, solver=solver, progress=progress)
    counts["closed_form"] = int(m * m - counts["cross_activation_inverse"] - counts["cross_activation_solver"])
    sem = _semantics(kinds, support)
    short = _short_semantics(kinds, support)
    if layer.norm is not None:
        note = f"{layer.norm.kind} norm after the linear map: neuron functions are the pre-activations z (THEORY N1)"
        sem, short = f"{note}; {sem}", f"{note}; {short}"
    return CostMatrix(K=K, reason=reason, exact=exact, residual=q.residual, null_dim=q.null_dim,
                      semantics=sem, counts=counts, eig_tol=eig_tol, kind=short)


def _short_semantics(kinds: dict, support: Support) -> str:
    exact = [n for n, k in kinds.items() if k == "strictly_increasing"]
    upper = [n for n, k in kinds.items() if k != "strictly_increasing"]
    parts = []
    if exact:
        parts.append("exact D2 cost" + (f" ({', '.join(sorted(exact))})" if upper else ""))
    if upper:
        parts.append(f"pre-activation cost = upper bound on the D2 cost ({', '.join(sorted(upper))})")
    parts.append("on the exact span" if support.tau >= 1.0 else f"on the PCA-truncated support (tau = {support.tau:g})")
    return "; ".join(parts)


def _semantics(kinds: dict, support: Support) -> str:
    parts = ["P1 closed form C_i(a_j) = (a_j - v_i)^T S_i^+ (a_j - v_i) (inf outside range(S_i))"]
    flat = sorted(n for n, k in kinds.items() if k == "non_decreasing")
    nonmono = sorted(n for n, k in kinds.items() if k == "non_monotone")
    if not flat and not nonmono:
        parts.append("exact D2 realization cost (strictly increasing activations)")
    if flat:
        parts.append(f"for {', '.join(flat)} neurons: pre-activation cost, an UPPER BOUND on the D2 realization "
                     "cost (flat pieces allow cheaper realizations; see numerics.realization)")
    if nonmono:
        parts.append(f"for {', '.join(nonmono)} neurons: pre-activation cost, an UPPER BOUND (non-monotone: "
                     "other preimage branches may be cheaper)")
    if support.tau < 1.0:
        parts.append(f"on the PCA-truncated support (tau = {support.tau:g}, rank {support.rank}, explained "
                     f"variance {support.explained_variance:.4f})")
    else:
        parts.append(f"on the exact span of the support (tau = 1, rank {support.rank})")
    if len(kinds) > 1:
        parts.append("pairs with different activations: sigma_i^{-1}(h_j) must be affine on the support")
    return "; ".join(parts)


def _cross_activation(layer, support, eff, points, K, reason, exact, counts, *, eig_tol, range_rtol,
                      affine_rtol, max_solver_pairs, solver, progress):
    """Overwrite ``K[i, j]`` for pairs with different activations (sigma-asymmetric).

    Strictly increasing ``sigma_i``: ``z* = sigma_i^{-1}(h_j)`` on the truncated support
    points must be affine, ``z* = Y a' + c'`` (least squares; relative residual at most
    ``affine_rtol`` plus the float uncertainty of the inverse), then ``K = C_i(a')``.
    Saturated targets (unbounded preimages) and other ``sigma_i``: cvxpy in effective
    coordinates, at most ``max_solver_pairs`` solves.
    """
    names = np.array(eff.names, dtype=object)
    r = eff.r
    S = eff.S  # once: after release_shapes each access recomputes them
    Y = support.coordinates(points)  # (n, r) coordinates of the truncated support points
    Z = Y @ eff.A.T + eff.c
    H = apply_layer(np.ascontiguousarray(Z), layer.names, layer.codes, layer.params)
    s2 = support.singular_values[:r] ** 2
    Ypinv = Y.T / s2[:, None] if r else np.zeros((0, Y.shape[0]))  # Y^T Y = diag(s^2)
    solver_pairs = []
    for name in sorted(set(eff.names)):
        rows = np.flatnonzero(names == name)
        cols = np.flatnonzero(names != name)
        if cols.size == 0:
            continue
        if _kind(name) != "strictly_increasing":
            solver_pairs += [(i, cols) for i in rows]
            continue
        zlo, zhi = preimage_uncertainty(name, H[:, cols])
        in_range = ~np.any(np.isnan(zlo), axis=0)
        bounded = in_range & np.all(np.isfinite(zlo) & np.isfinite(zhi), axis=0)
        Zs = np.where(np.isfinite(zlo) & np.isfinite(zhi), 0.5 * (zlo + zhi), 0.0)
        half = np.where(np.isfinite(zlo) & np.isfinite(zhi), 0.5 * (zhi - zlo), 0.0)
        Zc = Zs - Zs.mean(axis=0)
        Aprime = (Ypinv @ Zc).T  # (|cols|, r)
        res = np.linalg.norm(Zc - Y @ Aprime.T, axis=0)
        tol = affine_rtol * np.linalg.norm(Zs, axis=0) + 2.0 * np.linalg.norm(half, axis=0)
        affine = bounded & (res <= tol)
        sub = np.full((rows.size, cols.size), np.inf)
        code = np.where(in_range, NOT_AFFINE, OUT_OF_ACT_RANGE).astype(np.int8)
        code = np.broadcast_to(code, sub.shape).copy()
        if np.any(affine):
            q = quadratic_costs(S[rows], eff.V[rows], Aprime[affine], eig_tol=eig_tol,
                                range_rtol=range_rtol, eigenvalues=eff.eigenvalues[rows])
            sub[:, affine] = q.K
            code[:, affine] = np.where(np.isfinite(q.K), OK, OUT_OF_RANGE)
        K[np.ix_(rows, cols)] = sub
        reason[np.ix_(rows, cols)] = code
        exact[np.ix_(rows, cols)] = True
        counts["cross_activation_inverse"] += int(rows.size * np.sum(bounded | ~in_range))
        saturated = cols[in_range & ~bounded]
        if saturated.size:
            solver_pairs += [(i, saturated) for i in rows]
    if solver_pairs:
        _cross_solver(solver_pairs, eff, S, Y, Z, H, K, reason, exact, counts, eig_tol=eig_tol,
                      max_solver_pairs=max_solver_pairs, solver=solver, progress=progress)


def _cross_solver(pairs, eff, S, Y, Z, H, K, reason, exact, counts, *, eig_tol, max_solver_pairs, solver, progress):
    """cvxpy realizations in effective coordinates: with ``S_i = E E^T`` the cheapest
    ``theta`` with ``U^T diag(m_i) theta = E w`` has ``||theta||^2 = ||w||^2``, so neuron
    ``i`` realizes ``z = Y (v_i + E w) + c`` at cost ``||w||^2``: a problem in
    ``rank(S_i)`` variables."""
    budget = int(max_solver_pairs)
    for i, cols in _progress(pairs, len(pairs), "cross-activation costs (cvxpy)", progress):
        lam, vec = np.linalg.eigh(S[i])
        pos = lam > eig_tol
        E = vec[:, pos] * np.sqrt(lam[pos])
        n = Y.shape[0]
        if E.shape[1]:
            realizer = Realizer(Y @ E, activation=eff.names[i], offset=Y @ eff.V[i], solver=solver)
        else:
            realizer = Realizer(np.zeros((n, 1)), activation=eff.names[i], mask=np.zeros(1),
                                offset=Y @ eff.V[i], solver=solver)
        for j in cols:
            counts["cross_activation_solver"] += 1
            if budget <= 0:
                K[i, j], reason[i, j], exact[i, j] = np.nan, NOT_COMPUTED, False
                continue
            budget -= 1
            res = realizer.realize(H[:, j], z_hint=Z[:, j])
            if res.status == "infeasible":
                K[i, j] = np.inf
                reason[i, j] = OUT_OF_ACT_RANGE if res.method == "preimage" else SOLVER_INFEASIBLE
                exact[i, j] = res.exact
            elif res.status == "error":
                K[i, j], reason[i, j], exact[i, j] = np.nan, SOLVER_FAILED, False
            else:
                K[i, j], reason[i, j], exact[i, j] = res.cost, OK, res.exact


def slack(eff: EffectiveLayer, K: np.ndarray) -> np.ndarray:
    """D3 slack ``s_i = ||m_i * theta_i||^2 - K[i, i] >= 0`` (how far each trained neuron
    is from its min-norm representative)."""
    return eff.norm_cost - np.diag(K)
