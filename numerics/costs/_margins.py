"""Assignment margin ``gamma`` (exact, by linear assignment) and the transposition
margin ``min_{i<j} Delta(i, j)`` of D3.

Part of :mod:`neuronid.numerics.costs`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from neuronid.errors import InvalidDataError

# ============================================================== margins
@dataclass
class Margin:
    """Assignment margin ``gamma`` (D3): cost of the best non-identity permutation minus
    the identity's. ``permutation[i]`` = the function neuron ``i`` takes in that best
    permutation; ``method``: ``"lap"`` (identity not optimal: the optimal assignment is
    the best non-identity one) or ``"min_cycle"`` (shortest cycle, Floyd-Warshall);
    ``reason`` explains ``inf``/``nan``."""

    gamma: float
    permutation: np.ndarray | None
    identity_cost: float
    best_cost: float
    method: str
    reason: str = ""

    def to_json(self) -> dict:
        return {"gamma": self.gamma, "permutation": None if self.permutation is None else self.permutation.tolist(),
                "identity_cost": self.identity_cost, "best_cost": self.best_cost, "method": self.method,
                "reason": self.reason}


def _lap(R: np.ndarray, forbid: int | None = None):
    """Linear assignment with ``inf`` entries (and optionally ``(forbid, forbid)``) as
    forbidden; returns ``(cost, perm)`` or ``(inf, None)`` if no feasible assignment."""
    C = np.array(R, dtype=np.float64, copy=True)
    if forbid is not None:
        C[forbid, forbid] = np.inf
    finite = np.isfinite(C)
    big = (float(np.max(np.abs(C[finite]))) if np.any(finite) else 1.0) * (C.shape[0] + 1) * 4.0 + 1.0
    C[~finite] = big
    rows, cols = linear_sum_assignment(C)
    if not np.all(finite[rows, cols]):
        return float("inf"), None
    perm = np.empty(C.shape[0], dtype=np.int64)
    perm[rows] = cols
    return float(np.sum(R[rows, cols])), perm


def assignment_margin(K, *, tol: float | None = None) -> Margin:
    """Exact assignment margin ``gamma`` (D3).

    With ``R[i, j] = K[i, j] - K[i, i]`` every permutation costs ``sum_i R[i, pi(i)]``
    relative to the identity, and a non-identity permutation is a union of cycles. If
    the optimal assignment of ``R`` is negative, the identity is not optimal and that
    assignment is the best non-identity one (``gamma < 0``). Otherwise no cycle is
    negative and the best non-identity permutation is a single cheapest cycle:
    all-pairs shortest paths (Floyd-Warshall, ``O(m^3)`` in NumPy) on ``R`` with the
    diagonal removed; ``gamma = min_i`` (shortest cycle through ``i``). The
    permutation is recovered by one LAP with ``(i*, i*)`` forbidden, which equals
    ``min_i LAP(K with K[i, i] forbidden) - trace K`` (the m-LAP definition).

    Rounding: ``tol`` (default ``1e-12 * scale * m``) is added to every edge before the
    shortest-cycle search, so ties within ``m * tol`` may pick either cycle; ``gamma``
    is the exact LAP cost of the cycle picked.

    ``inf`` entries are forbidden assignments; ``gamma = inf`` when no non-identity
    permutation is feasible; ``nan`` when ``K`` has ``nan`` (uncomputed) entries.

    >>> import numpy as np
    >>> K = np.array([[1.0, 2.0, 5.0], [4.0, 1.0, 2.0], [2.0, 9.0, 1.0]])
    >>> mg = assignment_margin(K)
    >>> mg.gamma, mg.permutation.tolist()
    (3.0, [1, 2, 0])
    """
    K = np.asarray(K, dtype=np.float64)
    m = K.shape[0]
    if K.ndim != 2 or K.shape != (m, m):
        raise InvalidDataError(f"assignment_margin: K must be square, found shape {K.shape}")
    diag = np.diag(K).copy()
    ident = float(np.sum(diag))
    if m < 2:
        return Margin(float("inf"), None, ident, float("inf"), "none", "a single neuron has no other assignment")
    if np.any(np.isnan(K)):
        return Margin(float("nan"), None, ident, float("nan"), "none",
                      f"{int(np.sum(np.isnan(K)))} cost entries were not computed (nan)")
    if not np.all(np.isfinite(diag)):
        return Margin(float("nan"), None, ident, float("nan"), "none",
                      "a neuron cannot realize its own function (K[i, i] = inf): check tolerances")
    with np.errstate(invalid="ignore"):
        R = K - diag[:, None]
    scale = float(np.max(np.abs(R[np.isfinite(R)]))) if np.any(np.isfinite(R)) else 1.0
    if tol is None:
        tol = 1e-12 * max(scale, 1.0) * m
    best, perm = _lap(R)
    if best < -tol:
        return Margin(best, perm, ident, ident + best, "lap")
    # Every cycle costs >= -tol here (it is a permutation), but rounding-level negative
    # cycles would make Floyd-Warshall diverge (paths looping through them). Adding
    # `tol` to every edge makes every cycle (length >= 2) cost >= +tol: no negative
    # cycle; the shift changes a k-cycle's cost by k * tol, so the cycle found is the
    # cheapest up to m * tol, and its exact cost comes from the LAP on the unshifted R.
    Dm = R + tol
    np.fill_diagonal(Dm, np.inf)
    for k in range(m):
        np.minimum(Dm, Dm[:, k:k + 1] + Dm[k:k + 1, :], out=Dm)
    cyc = np.diag(Dm)
    istar = int(np.argmin(cyc))
    shifted = float(cyc[istar])
    if not np.isfinite(shifted):
        return Margin(float("inf"), None, ident, float("inf"), "min_cycle",
                      "no feasible non-identity assignment (every other assignment is unrealizable)")
    gamma, perm = _lap(R, forbid=istar)
    if perm is None or not (gamma - 1e-9 * max(1.0, scale) <= shifted
                            <= gamma + m * tol + 1e-9 * max(1.0, abs(gamma), scale)):  # pragma: no cover
        raise RuntimeError(f"assignment_margin: LAP ({gamma}) and shortest cycle ({shifted}) disagree")
    return Margin(gamma, perm, ident, ident + gamma, "min_cycle")


def transposition_margin(Delta) -> tuple[float, tuple[int, int] | None, str]:
    """``delta = min_{i<j} Delta(i, j)`` (D3) and the minimizing pair; ``nan`` entries
    (not computed) are skipped and counted in the returned note.

    >>> import numpy as np
    >>> transposition_margin(np.array([[0.0, 2.0, 1.0], [2.0, 0.0, 3.0], [1.0, 3.0, 0.0]]))
    (1.0, (0, 2), '')
    """
    D = np.asarray(Delta, dtype=np.float64)
    m = D.shape[0]
    if m < 2:
        return float("inf"), None, "a single neuron has no transposition"
    iu = np.triu_indices(m, 1)
    vals = D[iu]
    known = ~np.isnan(vals)
    note = "" if np.all(known) else f"{int(np.sum(~known))} pairs not computed (nan) were skipped"
    if not np.any(known):
        return float("nan"), None, "no pair computed"
    k = int(np.argmin(np.where(known, vals, np.inf)))
    return float(vals[k]), (int(iu[0][k]), int(iu[1][k])), note
