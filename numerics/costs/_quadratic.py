"""Effective coordinates of a layer (D1) and the P1 closed-form quadratic costs
``C_i(a) = (a - v_i)^T S_i^+ (a - v_i)`` (batched kernels and the one-neuron reference).

Part of :mod:`neuronid.numerics.costs`; the package docstring states the tolerances."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve, solve_triangular

from neuronid.errors import InvalidDataError

from ..network import Layer
from ..threads import single_threaded_blas
from ..supports import Support, orthonormal_columns, shape_eigenvalues, shape_matrices
from ._common import _EPS, _TINY

_CANCEL = 1e4  # cancellation factor above which an entry is recomputed directly
_EXPAND_MAX_R = 64  # above this rank, per-neuron triangular solves beat the expanded GEMM


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

    The shape matrices are the largest part (``m r^2`` floats: 117 MB for m = 512,
    r = 169): :meth:`release_shapes` drops them once the costs are computed
    (:func:`network_costs` does), after which ``S`` is recomputed from the mask and
    the support basis on each access (same products, same numbers) and not kept.
    """

    A: np.ndarray
    c: np.ndarray
    V: np.ndarray
    _S: np.ndarray | None
    eigenvalues: np.ndarray
    p: float
    trainable: np.ndarray
    norm_cost: np.ndarray
    names: tuple | None
    _mask: np.ndarray = field(repr=False, compare=False)
    _U: np.ndarray = field(repr=False, compare=False)

    @property
    def S(self) -> np.ndarray:
        """``(m, r, r)`` shape matrices (recomputed, not kept, after :meth:`release_shapes`)."""
        if self._S is not None:
            return self._S
        return shape_matrices(self._mask, self._U)

    def release_shapes(self) -> None:
        """Drop the stored shape matrices (``S`` is then recomputed on access)."""
        self._S = None

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
        _S=S,
        eigenvalues=lam,
        p=float(layer.mask.mean()),
        trainable=layer.mask.sum(axis=1).astype(np.int64),
        norm_cost=np.sum((layer.mask * layer.weight) ** 2, axis=1),
        names=None if layer.names is None else (
            ("identity",) * layer.shape[0] if layer.norm is not None else tuple(layer.names)),
        _mask=layer.mask.copy(),  # 0/1, small next to S; a copy so S stays that of this layer
        _U=U,
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
    (:func:`~..threads.single_threaded_blas`): multi-threaded BLAS on these small
    ``r x r`` problems was measured 40x slower (95 s against 2.4 s for m = 512, r = 169).
    """
    K = np.empty((S.shape[0], A.shape[0]))
    with single_threaded_blas():
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
        with single_threaded_blas():
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
                    with single_threaded_blas():
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
            with single_threaded_blas():
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


def complement_costs(mask, U, V, A, *, eig_tol: float, eigenvalues, range_rtol: float = 1e-8):
    """P1 closed form (:func:`quadratic_costs`) for 0/1 masks without the ``r x r``
    shape matrices; ``None`` when ``U`` is not orthonormal.

    With ``Z_i`` the zeros of mask row ``i`` and ``E = U[Z_i]``, ``S_i = I - E^T E``; when
    ``S_i`` is nonsingular (smallest eigenvalue above ``eig_tol``) and ``|Z_i| <= r``,
    Woodbury gives ``S_i^{-1} = I + E^T C^{-1} E`` with ``C = I - (U U^T)[Z_i, Z_i]``, so
    ``K[i, t] = ||g||^2 + ||L^{-1} E g||^2`` with ``g = A[t] - V[i]`` and ``C = L L^T``:
    two sums of squares (no cancellation), a ``|Z_i| x |Z_i|`` Cholesky factor instead of
    an ``r x r`` one. The other rows (singular ``S_i``, more zeros than ``r``, or ``C``
    not numerically positive definite) go through :func:`quadratic_costs` on their
    shape matrices.

    >>> import numpy as np
    >>> from neuronid.numerics.supports import shape_eigenvalues, shape_matrices
    >>> rng = np.random.default_rng(0)
    >>> U = np.linalg.qr(rng.normal(size=(8, 4)))[0]
    >>> mask = np.ones((3, 8)); mask[0, 2] = mask[1, [0, 5]] = 0.0
    >>> V, A = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    >>> S = shape_matrices(mask, U); lam = shape_eigenvalues(S)
    >>> q = complement_costs(mask, U, V, A, eig_tol=1e-12, eigenvalues=lam)
    >>> bool(np.allclose(q.K, quadratic_costs(S, V, A, eig_tol=1e-12).K, rtol=1e-12))
    True
    """
    mask = np.asarray(mask, dtype=np.float64)
    U = np.asarray(U, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    lam = np.asarray(eigenvalues, dtype=np.float64)
    m, r = V.shape
    t = A.shape[0]
    if r == 0 or not orthonormal_columns(U):
        return None
    zeros = mask == 0.0
    n_zeros = zeros.sum(axis=1)
    K = np.empty((m, t))
    residual = np.zeros((m, t))
    null_dim = np.zeros(m, dtype=np.int64)
    recomputed = 0
    regular = (lam[:, 0] > eig_tol) & (n_zeros <= r)
    M = U @ U.T
    with single_threaded_blas():  # small factorizations and solves: threads cost more than they give
        for k in np.unique(n_zeros[regular]):
            rows = np.flatnonzero(regular & (n_zeros == k))
            Z = np.nonzero(zeros[rows])[1].reshape(rows.size, k)  # each row's zeros, ascending
            try:
                L_all = np.linalg.cholesky(np.eye(k) - M[Z[:, :, None], Z[:, None, :]]) if k else None
            except np.linalg.LinAlgError:
                regular[rows] = False  # some C not positive definite: these rows from S_i
                continue
            for n, i in enumerate(rows):
                G = A - V[i]
                K[i] = np.einsum("ta,ta->t", G, G)
                if k:
                    Y = solve_triangular(L_all[n], U[Z[n]] @ G.T, lower=True, check_finite=False)
                    K[i] += np.einsum("kt,kt->t", Y, Y)
    other = np.flatnonzero(~regular)
    if other.size:
        q = quadratic_costs(shape_matrices(mask[other], U), V[other], A, eig_tol=eig_tol, range_rtol=range_rtol,
                            eigenvalues=lam[other])
        K[other], residual[other], null_dim[other], recomputed = q.K, q.residual, q.null_dim, q.recomputed
    return QuadraticCosts(K, residual, null_dim, float(eig_tol), recomputed)


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
