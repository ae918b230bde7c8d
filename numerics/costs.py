"""Closed-form realization costs of whole layers, swap costs and assignment margins
(THEORY.md D1-D3, P1).

What
----
For hidden layer ``L`` with support ``U`` (D1, :mod:`.supports`), neuron ``i`` has
effective coordinates ``a_i = U^T w_i`` (``w_i`` its effective weight), center
``v_i = U^T f_i`` and shape ``S_i = U^T diag(m_i) U``. P1 gives the cost for neuron
``i`` to realize the pre-activation functional ``a``:

.. math::

    C_i(a) = (a - v_i)^T S_i^+ (a - v_i) \\quad\\text{if } a - v_i \\in \\operatorname{range}(S_i),
    \\quad +\\infty \\text{ otherwise.}

:func:`cost_matrix` returns ``K[i, j] = C_i(a_j)`` for all pairs at once;
:func:`incoming_swap_costs`, :func:`outgoing_swap_costs` the swap costs
``Delta_in``, ``Delta_out`` of D3; :func:`assignment_margin` the exact margin
``gamma`` of the best non-identity permutation; :func:`transposition_margin`
``min_{i<j} Delta(i, j)``; :func:`layer_costs` everything for one layer.

What the numbers mean (stated in every result's ``semantics``)
---------------------------------------------------------------
- Strictly increasing activations, ``tau = 1``: ``K`` is the exact realization cost
  of D2 (P1).
- ReLU / hard tanh: the closed form is the cost of realizing the same
  *pre-activation*; the activation's flat pieces allow cheaper realizations, so it is
  an **upper bound** on the D2 cost (:mod:`.realization` computes the exact one).
  GELU / SiLU: also an upper bound (other preimage branches may be cheaper).
- ``tau < 1``: every cost is the cost on the PCA-truncated support (the points
  projected onto ``xbar + span(U)``), as in the paper's experiments.
- layers with a normalization (THEORY N1): neuron ``i``'s function is its
  pre-activation ``z_i`` (the linear part, before the norm), so the closed form is
  taken with the identity activation: the exact cost of realizing ``z_j``.
- sigma-asymmetric layers: a pair with different activations needs
  ``sigma_i^{-1}(h_j)`` to be affine on the (truncated) support: checked on the
  support points (strictly increasing ``sigma_i``: exact; otherwise with
  :class:`~.realization.Realizer` in effective coordinates).

Tolerances (float64)
--------------------
- eigenvalues of ``S_i`` at most ``eig_tol = eig_rtol * max(1, lambda_max)`` count as
  zero; default ``eig_rtol = 10 * max(d, r) * eps`` (``S_i <= U^T U = I``, so rounding
  in ``S_i`` is of order ``d * eps``);
- ``a - v`` lies in ``range(S_i)`` when its component in the null space has norm at
  most ``range_rtol * (||a|| + ||v||)``, default ``range_rtol = 1e-8`` (rounding gives
  ~1e-14; structurally infeasible targets give O(1));
- the batched evaluation expands ``K = a^T P a - 2 a^T P v + v^T P v`` into matrix
  products; entries whose cancellation factor ``(a^T P a + v^T P v) / K`` exceeds
  ``1e4`` are recomputed directly as ``g^T P g`` (relative error then ``< 1e-10``).

Example
-------
>>> import numpy as np
>>> from neuronid.numerics.structures import standard_mlp
>>> net = standard_mlp([4, 6, 3], activation="tanh", seed=0)
>>> X = np.random.default_rng(0).normal(size=(100, 4))
>>> lc = layer_costs(net, X, 0, tau=1.0)
>>> bool(np.allclose(lc.delta_in, 0.0, atol=1e-12))     # P2: standard layers are symmetric
True
>>> bool(lc.delta_out.max() == 0.0)                      # standard next layer: exactly 0
True
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from neuronid.errors import InvalidDataError, InvalidOptionError

from ._config import JIT
from .activations import apply_layer
from .network import Layer, Network, check_inputs
from .supports import (
    Support,
    anisotropy,
    compute_support,
    shape_eigenvalues,
    shape_matrices,
    single_threaded_lapack,
    t1_bound,
)

__all__ = [
    "EffectiveLayer",
    "QuadraticCosts",
    "CostMatrix",
    "SwapCosts",
    "Margin",
    "LayerCosts",
    "effective_layer",
    "quadratic_costs",
    "closed_form_cost",
    "cost_matrix",
    "slack",
    "incoming_swap_costs",
    "outgoing_swap_costs",
    "pair_difference_dots",
    "squared_center_distances",
    "assignment_margin",
    "transposition_margin",
    "layer_costs",
    "network_costs",
    "REASONS",
]

_EPS = np.finfo(np.float64).eps
_TINY = np.finfo(np.float64).tiny

# reason codes of non-finite (or inexact) entries
OK, OUT_OF_RANGE, NOT_AFFINE, OUT_OF_ACT_RANGE, NOT_COMPUTED, SOLVER_FAILED, SOLVER_INFEASIBLE = range(7)
#: reason code -> text (used for JSON ``*_reason`` entries)
REASONS = {
    OK: "",
    OUT_OF_RANGE: "unrealizable: the target leaves range(S_i) (the trainable entries of the neuron cannot reach it)",
    NOT_AFFINE: "unrealizable: sigma_i^{-1}(h_j) is not affine on the support (different activations)",
    OUT_OF_ACT_RANGE: "unrealizable: h_j takes values outside the range of sigma_i",
    NOT_COMPUTED: "not computed (budget exceeded; raise max_solver_pairs / max_direct)",
    SOLVER_FAILED: "solver failed (status error); the cost is unknown",
    SOLVER_INFEASIBLE: "unrealizable: the realization problem is infeasible (solver certificate)",
}

_CANCEL = 1e4  # cancellation factor above which an entry is recomputed directly
_EXPAND_MAX_R = 64  # above this rank, per-neuron triangular solves beat the expanded GEMM


def _progress(iterable, total, desc, enabled):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, leave=False)


# ============================================================== effective coordinates
@dataclass
class EffectiveLayer:
    """A layer in the effective coordinates of its support (D1).

    ``A`` (m, r): ``a_i = U^T w_i``; ``c`` (m,): ``c_i = w_i . xbar + b_i``; ``V``
    (m, r): ``v_i = U^T f_i``; ``S`` (m, r, r): ``S_i = U^T diag(m_i) U`` with
    ``eigenvalues`` (m, r) ascending; ``p``: fraction of trainable entries of the
    layer; ``trainable`` (m,): trainable entries per row; ``norm_cost`` (m,):
    ``||m_i * theta_i||^2``; ``names``: activation per neuron (``None`` for the output
    layer; ``identity`` for every neuron of a layer with a normalization, whose neuron
    functions are the pre-activations, THEORY N1).
    """

    A: np.ndarray
    c: np.ndarray
    V: np.ndarray
    S: np.ndarray
    eigenvalues: np.ndarray
    p: float
    trainable: np.ndarray
    norm_cost: np.ndarray
    names: tuple | None

    @property
    def m(self) -> int:
        return self.A.shape[0]

    @property
    def r(self) -> int:
        return self.A.shape[1]


def effective_layer(layer: Layer, support: Support, *, shapes=None) -> EffectiveLayer:
    """Effective coordinates of every neuron of ``layer`` on ``support`` (D1).
    ``shapes``: optional ``(S, eigenvalues)`` of ``layer`` on ``support``, already
    computed (:func:`layer_shapes`).

    >>> import numpy as np
    >>> from neuronid.numerics.network import Layer
    >>> from neuronid.numerics.supports import compute_support
    >>> sup = compute_support(np.eye(3), tau=1.0)
    >>> eff = effective_layer(Layer(np.ones((2, 3)), activation="relu"), sup)
    >>> eff.S.shape, eff.p
    ((2, 2, 2), 1.0)
    """
    if layer.shape[1] != support.dim:
        raise InvalidDataError(
            f"layer has {layer.shape[1]} inputs but the support has dimension {support.dim}"
        )
    W = layer.effective_weight()
    U = support.U
    S, lam = layer_shapes(layer, support) if shapes is None else shapes
    return EffectiveLayer(
        A=W @ U,
        c=W @ support.xbar + layer.bias,
        V=layer.fixed @ U,
        S=S,
        eigenvalues=lam,
        p=float(layer.mask.mean()),
        trainable=layer.mask.sum(axis=1).astype(np.int64),
        norm_cost=np.sum((layer.mask * layer.weight) ** 2, axis=1),
        names=None if layer.names is None else (
            ("identity",) * layer.shape[0] if layer.norm is not None else tuple(layer.names)),
    )


def layer_shapes(layer: Layer, support: Support) -> tuple[np.ndarray, np.ndarray]:
    """``(S, eigenvalues)``: the shape matrices ``S_i = U^T diag(m_i) U`` of every
    neuron of ``layer`` on ``support`` and their ascending eigenvalues (D1)."""
    S = shape_matrices(layer.mask, support.U)
    return S, shape_eigenvalues(S)


# ============================================================== P1 closed form
@dataclass
class QuadraticCosts:
    """``K[i, t] = C_i(A[t])`` for shapes ``S_i``, centers ``V[i]`` and targets ``A[t]``.

    ``residual[i, t]``: relative norm of the component of ``A[t] - V[i]`` outside
    ``range(S_i)`` (0 for nonsingular ``S_i``); ``null_dim[i]``: dimension of the null
    space of ``S_i``; ``eig_tol``: the eigenvalue threshold used; ``recomputed``: entries
    recomputed directly because of cancellation.
    """

    K: np.ndarray
    residual: np.ndarray
    null_dim: np.ndarray
    eig_tol: float
    recomputed: int = 0


def _expanded(P: np.ndarray, V: np.ndarray, A: np.ndarray) -> tuple[np.ndarray, int]:
    """``g^T P_i g`` with ``g = A[t] - V[i]`` through matrix products (r <= 64)."""
    r = P.shape[1]
    iu0, iu1 = np.triu_indices(r)
    weight = np.where(iu0 == iu1, 1.0, 2.0)
    Pt = P[:, iu0, iu1] * weight
    AA = A[:, iu0] * A[:, iu1]
    K1 = Pt @ AA.T
    PV = np.matmul(P, V[:, :, None])[:, :, 0]
    K3 = np.einsum("ia,ia->i", PV, V)
    K = K1 - 2.0 * (PV @ A.T) + K3[:, None]
    mag = K1 + K3[:, None]
    bad = K < mag / _CANCEL
    rows, cols = np.nonzero(bad)
    for start in range(0, rows.size, 65536):
        rr, cc = rows[start:start + 65536], cols[start:start + 65536]
        g = A[cc] - V[rr]
        K[rr, cc] = np.einsum("ka,kab,kb->k", g, P[rr], g)
    return K, int(rows.size)


def _triangular(S: np.ndarray, V: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``g^T S_i^{-1} g`` by one Cholesky factorization and triangular solve per neuron
    (for large r, where each step is a BLAS-3 call).

    All factorizations are one batched call and every call runs on one BLAS thread
    (:func:`~.supports.single_threaded_lapack`): multi-threaded BLAS on these small
    ``r x r`` problems was measured 40x slower (95 s against 2.4 s for m = 512, r = 169).
    """
    from scipy.linalg import LinAlgError, cho_factor, cho_solve, solve_triangular

    K = np.empty((S.shape[0], A.shape[0]))
    with single_threaded_lapack():
        try:
            L_all = np.linalg.cholesky(S)
        except np.linalg.LinAlgError:
            L_all = None  # some S_i is not numerically positive definite: factor one by one
        for i in range(S.shape[0]):
            G = (A - V[i]).T
            try:
                L = np.linalg.cholesky(S[i]) if L_all is None else L_all[i]
                Y = solve_triangular(L, G, lower=True, check_finite=False)
                K[i] = np.einsum("at,at->t", Y, Y)
            except (np.linalg.LinAlgError, LinAlgError):
                c = cho_factor(S[i] + 0.0)  # pragma: no cover - regular S_i factor
                K[i] = np.einsum("at,at->t", G, cho_solve(c, G))
    return K


def quadratic_costs(S, V, A, *, eig_tol: float | None = None, range_rtol: float = 1e-8,
                    eigenvalues=None) -> QuadraticCosts:
    """P1 closed form ``K[i, t] = (A[t] - V[i])^T S_i^+ (A[t] - V[i])`` (``inf`` outside
    ``range(S_i)``), vectorized over neurons and targets.

    Neurons with nonsingular ``S_i`` (smallest eigenvalue above ``eig_tol``) use
    ``P_i = S_i^{-1}`` and two matrix products over all pairs; the others an
    eigendecomposition with the null-space residual test.

    Parameters
    ----------
    S : (m, r, r) shapes; V : (m, r) centers; A : (t, r) targets.
    eig_tol : eigenvalue threshold (default ``10 * max(r, 1) * eps * max(1, lambda_max)``).
    range_rtol : relative residual tolerance of the range test.
    eigenvalues : (m, r) ascending eigenvalues of ``S`` if already known.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.array([np.diag([2.0, 0.0])])
    >>> q = quadratic_costs(S, np.zeros((1, 2)), np.array([[2.0, 0.0], [0.0, 1.0]]))
    >>> q.K.tolist(), q.null_dim.tolist()
    ([[2.0, inf]], [1])
    """
    S = np.asarray(S, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    m, r = V.shape
    t = A.shape[0]
    if S.shape != (m, r, r) or A.shape[1:] != (r,):
        raise InvalidDataError(f"quadratic_costs: shapes S {S.shape}, V {V.shape}, A {A.shape} do not match")
    if r == 0:
        return QuadraticCosts(np.zeros((m, t)), np.zeros((m, t)), np.zeros(m, dtype=np.int64), 0.0)
    if eig_tol is None:
        if eigenvalues is not None:
            top = float(np.max(np.asarray(eigenvalues)[:, -1])) if m else 1.0
        else:  # lambda_max <= trace
            top = float(np.max(np.trace(S, axis1=1, axis2=2))) if m else 1.0
        eig_tol = 10.0 * r * _EPS * max(1.0, top)
    eig_tol = float(eig_tol)
    K = np.empty((m, t))
    residual = np.zeros((m, t))
    null_dim = np.zeros(m, dtype=np.int64)
    recomputed = 0
    P_all = None
    if eigenvalues is not None:
        lam = np.asarray(eigenvalues, dtype=np.float64)
        null_dim = np.sum(lam <= eig_tol, axis=1).astype(np.int64)
        regular_mask = null_dim == 0
    elif r <= _EXPAND_MAX_R:
        # No eigenvalues given: invert everything; S_i is certified nonsingular at eig_tol
        # by lambda_min(S_i) >= 1 / ||S_i^{-1}||_F (with a factor 10 of safety) and a
        # successful Cholesky factorization; the rest goes through eigh below.
        with single_threaded_lapack():
            try:
                np.linalg.cholesky(S)
                chol_ok = True
            except np.linalg.LinAlgError:
                chol_ok = False
            if chol_ok:
                P_all = np.linalg.inv(S)
        if P_all is not None:
            regular_mask = 1.0 / np.linalg.norm(P_all, axis=(1, 2)) > 10.0 * eig_tol
        else:
            lam = shape_eigenvalues(S)
            regular_mask = lam[:, 0] > eig_tol
    else:
        lam = shape_eigenvalues(S)
        regular_mask = lam[:, 0] > eig_tol
    regular = np.flatnonzero(regular_mask)
    if regular.size:
        if r <= _EXPAND_MAX_R:
            chunk = max(1, int(4_000_000 // max(t * r, 1)))
            for start in range(0, regular.size, chunk):
                idx = regular[start:start + chunk]
                if P_all is not None:
                    P = P_all[idx]
                else:
                    with single_threaded_lapack():
                        P = np.linalg.inv(S[idx])
                P = 0.5 * (P + P.transpose(0, 2, 1))
                K[idx], n_fix = _expanded(P, V[idx], A)
                recomputed += n_fix
        else:
            K[regular] = _triangular(S[regular], V[regular], A)
    singular = np.flatnonzero(~regular_mask)
    if singular.size:
        norm_a = np.linalg.norm(A, axis=1)
        chunk = max(1, int(2_000_000 // max(t * r, 1)))
        for start in range(0, singular.size, chunk):
            idx = singular[start:start + chunk]
            with single_threaded_lapack():
                lam_s, vec = np.linalg.eigh(S[idx])
            null_dim[idx] = np.sum(lam_s <= eig_tol, axis=1)
            T = np.matmul(A[None, :, :] - V[idx][:, None, :], vec)  # components along eigenvectors
            pos = lam_s > eig_tol
            inv = np.where(pos, 1.0 / np.where(pos, lam_s, 1.0), 0.0)
            T2 = T * T
            Ki = np.matmul(T2, inv[:, :, None])[:, :, 0]
            null = np.sqrt(np.matmul(T2, (~pos).astype(np.float64)[:, :, None])[:, :, 0])
            scale = norm_a[None, :] + np.linalg.norm(V[idx], axis=1)[:, None]
            rel = np.where(scale > 0, null / np.maximum(scale, _TINY), 0.0)
            Ki[rel > range_rtol] = np.inf
            K[idx] = Ki
            residual[idx] = rel
    finite = np.isfinite(K)
    if np.any(K[finite] < 0):
        K[finite & (K < 0)] = 0.0  # rounding below 0 (entries that are 0 in exact arithmetic)
    return QuadraticCosts(K, residual, null_dim, eig_tol, recomputed)


def closed_form_cost(S_i, v_i, a, *, eig_tol: float | None = None, range_rtol: float = 1e-8) -> float:
    """P1 for one neuron and one target (reference implementation, eigendecomposition).

    >>> import numpy as np
    >>> closed_form_cost(np.diag([0.5, 1.0]), np.zeros(2), np.array([1.0, 1.0]))
    3.0
    """
    S_i = np.asarray(S_i, dtype=np.float64)
    g = np.asarray(a, dtype=np.float64) - np.asarray(v_i, dtype=np.float64)
    if g.size == 0:
        return 0.0
    lam, vec = np.linalg.eigh(S_i)
    if eig_tol is None:
        eig_tol = 10.0 * g.size * _EPS * max(1.0, float(lam[-1]))
    comp = vec.T @ g
    pos = lam > eig_tol
    null = float(np.linalg.norm(comp[~pos]))
    scale = float(np.linalg.norm(a) + np.linalg.norm(v_i))
    if scale > 0 and null > range_rtol * scale:
        return float("inf")
    return float(np.sum(comp[pos] ** 2 / lam[pos]))


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
    from .realization import activation_monotonicity

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
    from .realization import preimage_uncertainty

    names = np.array(eff.names, dtype=object)
    r = eff.r
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
            q = quadratic_costs(eff.S[rows], eff.V[rows], Aprime[affine], eig_tol=eig_tol,
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
        _cross_solver(solver_pairs, eff, Y, Z, H, K, reason, exact, counts, eig_tol=eig_tol,
                      max_solver_pairs=max_solver_pairs, solver=solver, progress=progress)


def _cross_solver(pairs, eff, Y, Z, H, K, reason, exact, counts, *, eig_tol, max_solver_pairs, solver, progress):
    """cvxpy realizations in effective coordinates: with ``S_i = E E^T`` the cheapest
    ``theta`` with ``U^T diag(m_i) theta = E w`` has ``||theta||^2 = ||w||^2``, so neuron
    ``i`` realizes ``z = Y (v_i + E w) + c`` at cost ``||w||^2``: a problem in
    ``rank(S_i)`` variables."""
    from .realization import Realizer

    budget = int(max_solver_pairs)
    for i, cols in _progress(pairs, len(pairs), "cross-activation costs (cvxpy)", progress):
        lam, vec = np.linalg.eigh(eff.S[i])
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


# ============================================================== pairwise helpers
@njit(**JIT)
def _pair_difference_dots(A, V, out):
    m, r = A.shape
    for i in range(m):
        for j in range(m):
            acc = 0.0
            for k in range(r):
                acc += (A[i, k] - A[j, k]) * (V[i, k] - V[j, k])
            out[i, j] = acc
    return out


@njit(**JIT)
def _squared_center_distances(A, V, out):
    m, r = A.shape
    for i in range(m):
        for j in range(m):
            acc = 0.0
            for k in range(r):
                e = A[j, k] - V[i, k]
                acc += e * e
            out[i, j] = acc
    return out


def _paired_rows(what: str, A, V) -> tuple[np.ndarray, np.ndarray]:
    """``A`` and ``V`` as contiguous float64 ``(m, r)`` arrays of equal shape."""
    A = np.ascontiguousarray(A, dtype=np.float64)
    V = np.ascontiguousarray(V, dtype=np.float64)
    if A.ndim != 2 or A.shape != V.shape:
        raise InvalidDataError(f"{what}: A {A.shape} and V {V.shape} must be equal (m, r) arrays")
    return A, V


def pair_difference_dots(A, V) -> np.ndarray:
    """``out[i, j] = (a_i - a_j) . (v_i - v_j)`` (the P4 identity's right-hand side)
    for rows of ``A`` and ``V`` (m, r), streamed over pairs: no ``(m, m, r)``
    temporary (354 MB for m = 512, r = 169). Equals
    ``np.einsum("ijk,ijk->ij", A[:, None] - A[None], V[:, None] - V[None])`` up to the
    order of the ``r`` additions (relative ``r * eps`` of the sum of ``|terms|``).

    >>> import numpy as np
    >>> pair_difference_dots(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]])).tolist()
    [[0.0, 2.0], [2.0, 0.0]]
    """
    A, V = _paired_rows("pair_difference_dots", A, V)
    return _pair_difference_dots(A, V, np.empty((A.shape[0], A.shape[0])))


def squared_center_distances(A, V) -> np.ndarray:
    """``out[i, j] = ||a_j - v_i||^2`` for rows of ``A`` and ``V`` (m, r), streamed
    over pairs (no ``(m, m, r)`` temporary); equals
    ``np.sum((A[None] - V[:, None]) ** 2, axis=2)`` up to the order of the additions.

    >>> import numpy as np
    >>> squared_center_distances(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]])).tolist()
    [[1.0, 9.0], [0.0, 4.0]]
    """
    A, V = _paired_rows("squared_center_distances", A, V)
    return _squared_center_distances(A, V, np.empty((A.shape[0], A.shape[0])))


# ============================================================== swap costs
def incoming_swap_costs(K) -> np.ndarray:
    """``Delta_in(i, j) = K[i,j] + K[j,i] - K[i,i] - K[j,j]`` (D3), zero diagonal.

    >>> import numpy as np
    >>> incoming_swap_costs(np.array([[1.0, 3.0], [2.0, 1.0]])).tolist()
    [[0.0, 3.0], [3.0, 0.0]]
    """
    K = np.asarray(K, dtype=np.float64)
    d = np.diag(K)
    with np.errstate(invalid="ignore"):
        D = K + K.T - d[:, None] - d[None, :]
    np.fill_diagonal(D, 0.0)
    return D


@dataclass
class SwapCosts:
    """``Delta_out`` of one layer: matrix, reason codes, and how entries were computed."""

    D: np.ndarray
    reason: np.ndarray
    counts: dict
    notes: list = field(default_factory=list)


def outgoing_swap_costs(next_layer: Layer, next_support: Support, *, eig_rtol: float | None = None,
                        range_rtol: float = 1e-8, max_direct: int = 20000, woodbury_tol: float = 1e-3,
                        progress: bool = False, shapes=None) -> SwapCosts:
    """``Delta_out(i, j)`` (D3): change of the next layer's summed minimal costs when its
    inputs ``i`` and ``j`` are exchanged (masks and fixed parts stay in place).

    With transposition ``P``, next-layer neuron ``q`` keeps ``a_q = U'^T w_q`` and gets
    ``S = U'^T P diag(m_q) P U' = S_q + (m_qi - m_qj)(u_j u_j^T - u_i u_i^T)`` and
    ``v = U'^T P f_q = v_q + (f_qi - f_qj)(u_j - u_i)`` (``u_k`` = row ``k`` of ``U'``):
    a rank-<=2 update. Per ``q``, all pairs at once:

    - ``m_qi = m_qj``: ``S`` unchanged; the cost is a quadratic in ``f_qi - f_qj``
      through ``G = U' S_q^+ U'^T`` and ``y = U' S_q^+ g_0`` (range test on the null
      space when ``S_q`` is singular);
    - otherwise Woodbury's identity with the 2x2 capacitance matrix ``C`` when ``S_q``
      is well conditioned (``lambda_min >= woodbury_tol * lambda_max``) and
      ``-det C = det S_P / det S_q >= woodbury_tol``; the remaining pairs are recomputed
      directly (eigendecomposition of ``S_P``), at most ``max_direct`` of them (then
      ``nan``, reason "not computed").
    - a full-rank support (``r' = m``, ``U'`` square): exact coordinate formula (the
      function fixes ``w`` completely: the swap is feasible only where masked entries
      keep their fixed values).

    For standard next layers (``m_q = 1``, ``f_q = 0``) ``Delta_out = 0`` exactly.
    ``shapes``: optional ``(S, eigenvalues)`` of ``next_layer`` on ``next_support``,
    already computed (:func:`layer_shapes`; the next layer's own costs need them too).

    >>> import numpy as np
    >>> from neuronid.numerics.structures import standard_mlp
    >>> from neuronid.numerics.supports import compute_support
    >>> net = standard_mlp([3, 4, 2], activation="tanh", seed=0)
    >>> H = net.forward(np.random.default_rng(0).normal(size=(30, 3)), record=True).inputs[1]
    >>> float(outgoing_swap_costs(net.layers[1], compute_support(H, tau=1.0)).D.max())
    0.0
    """
    W = next_layer.effective_weight()
    Mk = next_layer.mask
    F = next_layer.fixed
    mq, m = W.shape
    if next_support.dim != m:
        raise InvalidDataError(f"outgoing_swap_costs: next layer has {m} inputs, support dimension {next_support.dim}")
    U = next_support.U
    r = U.shape[1]
    D = np.zeros((m, m))
    counts = {"unchanged": 0, "shift": 0, "woodbury": 0, "direct": 0, "full_rank": 0, "not_computed": 0}
    notes = []
    iu = np.triu(np.ones((m, m), dtype=bool), 1)
    if r == 0 or m < 2:
        if r == 0:
            notes.append("zero-variance support of the next layer: every cost is 0")
        return SwapCosts(D, np.zeros((m, m), dtype=np.int8), counts, notes)
    if eig_rtol is None:
        eig_rtol = 10.0 * max(m, r) * _EPS
    if r == m:
        _full_rank_out(W, Mk, F, D, counts, range_rtol)
        notes.append("full-rank support (r' = m): exact coordinate formula")
    else:
        S, lam = layer_shapes(next_layer, next_support) if shapes is None else shapes
        _subspace_out(W, Mk, F, U, S, lam, D, counts, notes, iu, eig_rtol=eig_rtol, range_rtol=range_rtol,
                      max_direct=max_direct, woodbury_tol=woodbury_tol, progress=progress)
    D = np.where(iu, D, 0.0)
    D = D + D.T
    reason = np.where(np.isnan(D), NOT_COMPUTED, np.where(np.isinf(D), OUT_OF_RANGE, OK)).astype(np.int8)
    if next_support.tau < 1.0:
        notes.append(f"on the PCA-truncated support of the next layer (tau = {next_support.tau:g}, rank {r})")
    return SwapCosts(D, reason, counts, notes)


def _full_rank_out(W, Mk, F, D, counts, range_rtol):
    for q in range(W.shape[0]):
        w, mk, f = W[q], Mk[q], F[q]
        dm = mk[:, None] - mk[None, :]
        change = dm * (w[None, :] ** 2 - w[:, None] ** 2)
        tol = range_rtol * (np.max(np.abs(w)) + np.max(np.abs(f)) + _TINY)
        ok_i = (mk[:, None] == 1.0) | (np.abs(w[None, :] - f[:, None]) <= tol)  # coordinate i gets w_j
        ok_j = (mk[None, :] == 1.0) | (np.abs(w[:, None] - f[None, :]) <= tol)  # coordinate j gets w_i
        D += np.where(ok_i & ok_j, change, np.inf)
    counts["full_rank"] += int(W.shape[0] * W.shape[1] * (W.shape[1] - 1) // 2)


#: status codes of one (neuron q, pair i < j) in :func:`_swap_pairs_kernel`
_PAIR_UNCHANGED, _PAIR_SHIFT, _PAIR_WOODBURY, _PAIR_DIRECT = range(4)


@njit(**JIT)
def _swap_pairs_kernel(mk, f, c0, y, G, Nu, all_pos, norm_aq, norm_vq, unorm, range_rtol, woodbury_tol, well,
                       D, status):
    """Add next-layer neuron ``q``'s contribution to ``D[i, j]`` for every pair ``i < j``
    (the shift and Woodbury cases of :func:`outgoing_swap_costs`) and write each pair's
    case to ``status`` (:data:`_PAIR_DIRECT`: recompute directly).

    Elementwise the same formulas, in the same order, as the former array expressions,
    but streamed over pairs: no ``(m, m)`` temporaries and no ``(m, m, r)`` null-space
    difference. Returns the number of pairs needing a direct recomputation.
    """
    m = mk.shape[0]
    n_null = Nu.shape[1]
    n_direct = 0
    for i in range(m):
        for j in range(i + 1, m):
            dm = mk[i] - mk[j]
            df = f[i] - f[j]
            if dm == 0.0 and df == 0.0:
                status[i, j] = _PAIR_UNCHANGED
                continue
            g_ij = G[i, j]
            gPg = c0 - 2.0 * df * (y[j] - y[i]) + (df * df) * (G[j, j] - 2.0 * g_ij + G[i, i])
            if dm == 0.0:
                cost = gPg
                if not all_pos:
                    sq = 0.0
                    for k in range(n_null):
                        e = Nu[j, k] - Nu[i, k]
                        sq += e * e
                    diff = math.sqrt(sq) * abs(df)
                    scale = norm_aq + norm_vq + abs(df) * (unorm[i] + unorm[j])
                    if not diff <= range_rtol * scale:
                        cost = math.inf
                D[i, j] += cost - c0
                status[i, j] = _PAIR_SHIFT
                continue
            if well:
                inv_dm = 1.0 / dm
                C11 = inv_dm + G[j, j]
                C22 = -inv_dm + G[i, i]
                det = C11 * C22 - g_ij * g_ij
                if det == 0.0:  # singular capacitance (the array code got inf/nan here): recompute directly
                    status[i, j] = _PAIR_DIRECT
                    n_direct += 1
                    continue
                b1 = y[j] - df * (G[j, j] - g_ij)
                b2 = y[i] - df * (g_ij - G[i, i])
                quad = (C22 * (b1 * b1) - 2.0 * g_ij * b1 * b2 + C11 * (b2 * b2)) / det
                costP = gPg - quad
                if -det >= woodbury_tol and math.isfinite(costP):
                    D[i, j] += costP - c0
                    status[i, j] = _PAIR_WOODBURY
                    continue
            status[i, j] = _PAIR_DIRECT
            n_direct += 1
    return n_direct


def _subspace_out(W, Mk, F, U, S, lam, D, counts, notes, iu, *, eig_rtol, range_rtol, max_direct, woodbury_tol,
                  progress):
    """Delta_out on a truncated support (r' < m): per next-layer neuron ``q`` the
    matrices ``P = S_q^+``, ``G = U' P U'^T`` and ``y = U' P g_0`` (BLAS), then every
    pair in one numba pass (:func:`_swap_pairs_kernel`); the pairs neither case covers
    are recomputed directly (:func:`_direct_out`)."""
    mq, m = W.shape
    A = W @ U
    V = F @ U
    eig_tol = eig_rtol * max(1.0, float(np.max(lam[:, -1])))
    direct = []  # (q, i, j) arrays, in (q, i, j) order
    unorm = np.linalg.norm(U, axis=1)
    norm_a = np.linalg.norm(A, axis=1)
    norm_v = np.linalg.norm(V, axis=1)
    c0s = np.empty(mq)
    status = np.zeros((m, m), dtype=np.int8)
    n_pairs = int(iu.sum())
    chunk = 64  # eigendecompositions per batched call (bounds the (chunk, r, r) vectors)
    for start in _progress(range(0, mq, chunk), -(-mq // chunk), "Delta_out (next-layer neurons)", progress):
        stop = min(start + chunk, mq)
        with single_threaded_lapack():  # small products too: threads cost 20x here (measured)
            _subspace_chunk(start, stop, S, A, V, U, Mk, F, lam, eig_tol, woodbury_tol, range_rtol, unorm,
                            norm_a, norm_v, c0s, status, iu, n_pairs, D, counts, direct)
    if direct:
        _direct_out(np.concatenate(direct), A, V, S, Mk, F, U, c0s, D, counts, notes, eig_tol=eig_tol,
                    range_rtol=range_rtol, max_direct=max_direct)


def _subspace_chunk(start, stop, S, A, V, U, Mk, F, lam, eig_tol, woodbury_tol, range_rtol, unorm, norm_a, norm_v,
                    c0s, status, iu, n_pairs, D, counts, direct):
    """Next-layer neurons ``start:stop`` of :func:`_subspace_out`."""
    m = U.shape[0]
    no_null = np.zeros((m, 0))
    lqs, vqs = np.linalg.eigh(S[start:stop])
    for q in range(start, stop):
        g0 = A[q] - V[q]
        lq, vq = lqs[q - start], vqs[q - start]
        well = lam[q, 0] > max(eig_tol, woodbury_tol * lam[q, -1])
        pos = lq > eig_tol
        P = (vq[:, pos] / lq[pos]) @ vq[:, pos].T
        c0 = float(g0 @ P @ g0)
        c0s[q] = c0
        mk, f = Mk[q], F[q]
        if np.all(mk == mk[0]) and np.all(f == f[0]):
            counts["unchanged"] += n_pairs
            continue
        UP = U @ P
        y = UP @ g0
        G = UP @ U.T
        all_pos = bool(np.all(pos))
        Nu = no_null if all_pos else np.ascontiguousarray(U @ vq[:, ~pos])  # null components of rows u_k
        n_direct = _swap_pairs_kernel(mk, f, c0, y, G, Nu, all_pos, float(norm_a[q]), float(norm_v[q]), unorm,
                                      float(range_rtol), float(woodbury_tol), bool(well), D, status)
        tri = status[iu]
        counts["unchanged"] += int(np.count_nonzero(tri == _PAIR_UNCHANGED))
        counts["shift"] += int(np.count_nonzero(tri == _PAIR_SHIFT))
        counts["woodbury"] += int(np.count_nonzero(tri == _PAIR_WOODBURY))
        if n_direct:
            ii, jj = np.nonzero((status == _PAIR_DIRECT) & iu)
            direct.append(np.column_stack([np.full(ii.size, q), ii, jj]))


def _direct_out(direct, A, V, S, Mk, F, U, c0s, D, counts, notes, *, eig_tol, range_rtol, max_direct):
    arr = np.asarray(direct, dtype=np.int64)
    n_skip = max(0, arr.shape[0] - int(max_direct))
    if n_skip:
        skipped = arr[int(max_direct):]
        D[skipped[:, 1], skipped[:, 2]] = np.nan
        counts["not_computed"] += int(n_skip)
        notes.append(f"{n_skip} (neuron, pair) updates needed a direct recomputation beyond max_direct = {max_direct}: "
                     "those Delta_out entries are nan")
        arr = arr[: int(max_direct)]
    for start in range(0, arr.shape[0], 4096):
        blk = arr[start:start + 4096]
        q, i, j = blk[:, 0], blk[:, 1], blk[:, 2]
        dm = Mk[q, i] - Mk[q, j]
        df = F[q, i] - F[q, j]
        ui, uj = U[i], U[j]
        SP = S[q] + dm[:, None, None] * (uj[:, :, None] * uj[:, None, :] - ui[:, :, None] * ui[:, None, :])
        g = A[q] - V[q] - df[:, None] * (uj - ui)
        with single_threaded_lapack():
            lam, vec = np.linalg.eigh(SP)
        comp = np.einsum("kab,ka->kb", vec, g)
        pos = lam > eig_tol
        cost = np.sum(np.where(pos, comp**2 / np.where(pos, lam, 1.0), 0.0), axis=1)
        null = np.sqrt(np.sum(np.where(pos, 0.0, comp**2), axis=1))
        scale = np.linalg.norm(A[q], axis=1) + np.linalg.norm(V[q] + df[:, None] * (uj - ui), axis=1)
        cost = np.where(null <= range_rtol * np.maximum(scale, _TINY), cost, np.inf)
        np.add.at(D, (i, j), cost - c0s[q])
    counts["direct"] += int(arr.shape[0])


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
    from scipy.optimize import linear_sum_assignment

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


# ============================================================== one layer, everything
@dataclass
class LayerCosts:
    """Everything of D1-D3 (and the T1 bound) for one hidden layer."""

    layer: int
    support: Support
    next_support: Support
    eff: EffectiveLayer
    costs: CostMatrix
    slack: np.ndarray
    delta_in: np.ndarray
    delta_out: np.ndarray
    delta_out_info: SwapCosts | None
    margin: Margin
    delta_min: float
    delta_min_pair: tuple | None
    anisotropy: np.ndarray
    t1: dict
    notes: list = field(default_factory=list)

    @property
    def K(self) -> np.ndarray:
        return self.costs.K

    @property
    def delta(self) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return self.delta_in + self.delta_out

    @property
    def gamma(self) -> float:
        return self.margin.gamma

    def summary(self) -> dict:
        """A few scalars for tables.

        Medians over the finite off-diagonal entries: ``median_delta_in`` (the paper's
        swap cost ``Delta_in``), ``median_delta_out`` and ``median_delta_sum`` (of
        ``Delta = Delta_in + Delta_out``; ``median_delta`` is the same sum, kept for
        existing readers). ``negative_delta_fraction`` is over the sum.
        """
        K = self.K
        off = ~np.eye(K.shape[0], dtype=bool)
        D = self.delta[off] if K.shape[0] > 1 else np.zeros(0)
        fin = D[np.isfinite(D)]

        def _median(M):
            vals = M[off] if K.shape[0] > 1 else np.zeros(0)
            vals = vals[np.isfinite(vals)]
            return float(np.median(vals)) if vals.size else float("nan")
        return {
            "layer": self.layer,
            "neurons": int(K.shape[0]),
            "rank": self.support.rank,
            "explained_variance": self.support.explained_variance,
            "coherence": self.support.coherence,
            "p": self.eff.p,
            "max_anisotropy": float(np.max(self.anisotropy)) if self.anisotropy.size else 0.0,
            "t1_bound": self.t1["bound"],
            "gamma": self.gamma,
            "delta_min": self.delta_min,
            "unrealizable_fraction": float(np.mean(~np.isfinite(K[off]))) if K.shape[0] > 1 else 0.0,
            "negative_delta_fraction": float(np.mean(fin < 0)) if fin.size else float("nan"),
            "median_delta_in": _median(self.delta_in),
            "median_delta_out": _median(self.delta_out),
            "median_delta_sum": float(np.median(fin)) if fin.size else float("nan"),
            "median_delta": float(np.median(fin)) if fin.size else float("nan"),
            "mean_slack": float(np.mean(self.slack)),
        }

    def to_json(self) -> dict:
        """JSON-ready dict (``neuronid.numerics.io.to_jsonable`` turns ``inf`` into
        ``null`` with ``<key>_reason`` entries; the specific reasons are set here)."""
        K = self.K
        out = {
            "layer": self.layer,
            "neurons": int(K.shape[0]),
            "rank": self.support.rank,
            "explained_variance": self.support.explained_variance,
            "coherence": self.support.coherence,
            "tau": self.support.tau,
            "support": self.support.to_json(),
            "next_support": self.next_support.to_json(),
            "activations": sorted(set(self.eff.names)),
            "semantics": self.costs.semantics,
            "K_exact": bool(np.all(self.costs.exact)),
        }
        if not np.all(np.isfinite(K)):
            out["K_reason"] = "null entries: " + self.costs.reason_summary()
            out["K_nonfinite_entries"] = self.costs.nonfinite_entries()
        out["K"] = K
        out["null_dims"] = self.costs.null_dim
        out["cost_counts"] = self.costs.counts
        # the paper's swap cost is Delta_in; the sum Delta_in + Delta_out is labelled as the sum
        for key, mat, info in (("delta_in", self.delta_in, None), ("delta_out", self.delta_out, self.delta_out_info),
                               ("delta_sum", self.delta, None)):
            if not np.all(np.isfinite(mat)):
                n_inf, n_nan = int(np.sum(np.isinf(mat))), int(np.sum(np.isnan(mat)))
                out[f"{key}_reason"] = (f"null entries: {n_inf} unrealizable swaps (+inf: a needed cost is "
                                        f"unrealizable), {n_nan} not computed (nan)")
            out[key] = mat
        if self.delta_out_info is not None:
            out["delta_out_counts"] = self.delta_out_info.counts
            out["delta_out_notes"] = self.delta_out_info.notes
        out["gamma"] = self.margin.gamma
        if not np.isfinite(self.margin.gamma):
            out["gamma_reason"] = self.margin.reason or "non-finite"
        out["gamma_permutation"] = None if self.margin.permutation is None else self.margin.permutation
        out["gamma_method"] = self.margin.method
        out["delta_min"] = self.delta_min
        if not np.isfinite(self.delta_min):
            out["delta_min_reason"] = ("every transposition is unrealizable" if self.delta_min == np.inf
                                       else "no pair computed")
        out["delta_min_pair"] = None if self.delta_min_pair is None else list(self.delta_min_pair)
        out["slack"] = self.slack
        out["norm_cost"] = self.eff.norm_cost
        out["p"] = self.eff.p
        out["anisotropy"] = self.anisotropy
        out["t1_bound"] = self.t1["bound"]
        out["t1"] = dict(self.t1)
        out["notes"] = list(self.notes) + list(self.support.notes)
        return out


def _check_layer_index(net: Network, layer) -> int:
    n_hidden = len(net.layers) - 1
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise InvalidOptionError(f"layer must be an integer, found {layer!r}")
    idx = int(layer)
    if n_hidden == 0:
        raise InvalidOptionError("the network has no hidden layer (only a linear output layer): no neurons to compare")
    if not 0 <= idx < n_hidden:
        raise InvalidOptionError(
            f"layer {idx} is out of range: hidden layers are 0..{n_hidden - 1} (layer {n_hidden} is the linear "
            "output layer, whose neurons are not interchangeable)"
        )
    return idx


def _check_delta(delta) -> float:
    try:
        delta = float(delta)
    except (TypeError, ValueError):
        raise InvalidOptionError(f"delta must be a number in (0, 1), found {delta!r}") from None
    if not 0.0 < delta < 1.0:
        raise InvalidOptionError(f"delta (T1 failure probability) must lie in (0, 1), found {delta}")
    return delta


def layer_costs(net: Network, X=None, layer: int = 0, *, trace=None, tau: float = 0.9, delta: float = 0.05,
                compute_delta_out: bool = True, eig_rtol: float | None = None, range_rtol: float = 1e-8,
                rank_rtol: float | None = None, max_direct: int = 20000, max_solver_pairs: int = 2000,
                solver=None, progress: bool = False, shared: dict | None = None) -> LayerCosts:
    """Supports, cost matrix, swap costs, margins and the T1 bound of hidden layer
    ``layer`` (indexed from 0) on data ``X`` (D1-D3, P1, T1).

    Parameters
    ----------
    net : the network.
    X : (n, d_in) data (ignored when ``trace`` is given).
    layer : hidden layer index (0 = first weight matrix); its support is
        ``trace.inputs[layer]``, ``Delta_out`` uses ``trace.inputs[layer + 1]``.
    trace : a recorded forward pass (``net.forward(X, record=True)``) to reuse.
    tau : explained-variance threshold of both supports (D1).
    delta : failure probability of the T1 bound.
    compute_delta_out : skip ``Delta_out`` (zeros) when False.
    max_direct, max_solver_pairs, solver : budgets and solver (see
        :func:`outgoing_swap_costs`, :func:`cost_matrix`).
    progress : tqdm progress bars on stderr.
    shared : optional dict, the same for consecutive layers of one network on one
        trace (:func:`network_costs` passes one): layer ``l``'s next support and the
        next layer's shape matrices are layer ``l + 1``'s support and shape matrices,
        computed once and kept here.

    Returns
    -------
    LayerCosts
    """
    idx = _check_layer_index(net, layer)
    delta = _check_delta(delta)
    if trace is None:
        if X is None:
            raise InvalidDataError("layer_costs: give the data X (or a recorded trace)")
        X = check_inputs(X, net.n_inputs)
        trace = net.forward(X, record=True)
    lay = net.layers[idx]
    pts = trace.inputs[idx]
    support = _support_of(shared, trace, idx, tau, rank_rtol)
    next_support = _support_of(shared, trace, idx + 1, tau, rank_rtol)
    eff = effective_layer(lay, support, shapes=_shapes_of(shared, net, idx, support))
    cm = cost_matrix(lay, support, points=pts, eff=eff, eig_rtol=eig_rtol, range_rtol=range_rtol,
                     max_solver_pairs=max_solver_pairs, solver=solver, progress=progress)
    K = cm.K
    d_in = incoming_swap_costs(K)
    notes = []
    if compute_delta_out:
        next_shapes = _shapes_of(shared, net, idx + 1, next_support) if next_support.rank < next_support.dim \
            else None  # a full-rank next support uses the coordinate formula: no shape matrices
        out = outgoing_swap_costs(net.layers[idx + 1], next_support, eig_rtol=eig_rtol, range_rtol=range_rtol,
                                  max_direct=max_direct, progress=progress, shapes=next_shapes)
        d_out = out.D
    else:
        out = None
        d_out = np.zeros_like(d_in)
        notes.append("Delta_out not computed (compute_delta_out=False): reported as 0")
    margin = assignment_margin(K)
    with np.errstate(invalid="ignore"):
        dmin, pair, note = transposition_margin(d_in + d_out)
    if note:
        notes.append(f"delta_min: {note}")
    aniso = anisotropy(eff.S, eff.p, eigenvalues=eff.eigenvalues)
    counts = eff.trainable
    model = "exact_count" if np.all(counts == counts[0]) else "bernoulli"
    d = support.dim
    t1 = {
        "delta": delta,
        "p": eff.p,
        "coherence": support.coherence,
        "rank": support.rank,
        "bernoulli": t1_bound(eff.p, support.coherence, support.rank, delta, model="bernoulli"),
        "exact_count": t1_bound(eff.p, support.coherence, support.rank, delta, model="exact_count", dim=d),
        "mask_model": model,
    }
    t1["bound"] = t1[model]
    t1["violations"] = int(np.sum(aniso > t1["bound"]))
    sl = slack(eff, K)
    tol = 1e-8 * np.maximum(eff.norm_cost, 1e-300) + 1e-12
    if np.any(sl < -tol):
        notes.append(f"{int(np.sum(sl < -tol))} neurons have negative slack beyond rounding: check tolerances")
    return LayerCosts(layer=idx, support=support, next_support=next_support, eff=eff, costs=cm, slack=sl,
                      delta_in=d_in, delta_out=d_out, delta_out_info=out, margin=margin, delta_min=dmin,
                      delta_min_pair=pair, anisotropy=aniso, t1=t1, notes=notes)


def _support_of(shared, trace, idx: int, tau, rank_rtol) -> Support:
    """The support of ``trace.inputs[idx]`` (D1), from ``shared`` when an earlier layer
    computed it on the same trace and threshold."""
    pts = trace.inputs[idx]
    key = ("support", idx, tau, rank_rtol)
    hit = None if shared is None else shared.get(key)
    if hit is not None and hit[0] is pts:
        return hit[1]
    support = compute_support(pts, tau, rank_rtol=rank_rtol, name=f"inputs of layer {idx}")
    if shared is not None:
        shared[key] = (pts, support)
    return support


def _shapes_of(shared, net: Network, idx: int, support: Support):
    """``(S, eigenvalues)`` of layer ``idx`` on ``support``, from ``shared`` when an
    earlier layer computed them on the same support object."""
    key = ("shapes", idx)
    hit = None if shared is None else shared.get(key)
    if hit is not None and hit[0] is support and hit[1] is net.layers[idx]:
        return hit[2]
    shapes = layer_shapes(net.layers[idx], support)
    if shared is not None:
        shared[key] = (support, net.layers[idx], shapes)
    return shapes


def network_costs(net: Network, X=None, layers=None, *, trace=None, **options) -> list[LayerCosts]:
    """:func:`layer_costs` for several hidden layers (default: all), one forward pass
    (or ``trace``, a recorded pass to reuse). Consecutive layers share their common
    support and shape matrices (layer ``l``'s next support is layer ``l + 1``'s).

    >>> import numpy as np
    >>> from neuronid.numerics.structures import syre_mlp
    >>> net = syre_mlp([3, 5, 4, 2], activation="tanh", seed=0)
    >>> res = network_costs(net, np.random.default_rng(0).normal(size=(60, 3)), tau=1.0)
    >>> [lc.layer for lc in res], [lc.K.shape for lc in res]
    ([0, 1], [(5, 5), (4, 4)])
    """
    if trace is None:
        if X is None:
            raise InvalidDataError("network_costs: give the data X (or a recorded trace)")
        X = check_inputs(X, net.n_inputs)
        trace = net.forward(X, record=True)
    if layers is None:
        layers = range(len(net.layers) - 1)
    elif isinstance(layers, (int, np.integer)):
        layers = [layers]
    shared = options.pop("shared", None)
    shared = {} if shared is None else shared
    return [layer_costs(net, layer=l, trace=trace, shared=shared, **options) for l in layers]
