"""Swap costs of D3: ``Delta_in`` from ``K``, ``Delta_out`` by rank-<=2 updates of the
next layer's shape matrices, and the streamed pairwise helpers of P4.

Part of :mod:`neuronid.numerics.costs`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from scipy.linalg import solve_triangular

from neuronid.errors import InvalidDataError

from .._config import JIT
from ..network import Layer
from ..threads import single_threaded_blas
from ..supports import Support, shape_matrices
from ._common import _EPS, _TINY, NOT_COMPUTED, OK, OUT_OF_RANGE, _progress
from ._quadratic import layer_shapes, orthonormal_columns

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
def _swap_pairs_kernel(mk, f, c0, y, GJ, J, jpos, Gd, Nu, all_pos, norm_aq, norm_vq, unorm, range_rtol, woodbury_tol,
                       well, D, direct):
    """Add next-layer neuron ``q``'s contribution to ``D[i, j]`` for every pair ``i < j``
    that the swap changes (the shift and Woodbury cases of :func:`outgoing_swap_costs`);
    the pairs neither case covers go to ``direct`` (rows ``(i, j)``: recompute directly).

    Only pairs with one input in ``J`` are visited: outside ``J`` every input has the
    same ``(m_qk, f_qk)``, so a swap of two of them changes nothing. ``G = U' S_q^+
    U'^T`` enters through its columns ``GJ = G[:, J]`` (``jpos[k]``: position of ``k``
    in ``J``, else -1) and its diagonal ``Gd``; elementwise the same formulas, in the
    same order, as the former all-pairs array code. Returns ``(shift, woodbury,
    direct)`` pair counts.
    """
    m = mk.shape[0]
    n_null = Nu.shape[1]
    n_shift = 0
    n_wood = 0
    n_direct = 0
    for a in range(J.shape[0]):
        p = J[a]
        for o in range(m):
            if o == p:
                continue
            b = jpos[o]
            if b >= 0 and b < a:  # both inputs in J: visited from the first one
                continue
            i = min(p, o)
            j = max(p, o)
            dm = mk[i] - mk[j]
            df = f[i] - f[j]
            if dm == 0.0 and df == 0.0:
                continue
            g_ij = GJ[o, a]  # G[o, p] = G[i, j] (G is symmetric)
            gPg = c0 - 2.0 * df * (y[j] - y[i]) + (df * df) * (Gd[j] - 2.0 * g_ij + Gd[i])
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
                n_shift += 1
                continue
            if well:
                inv_dm = 1.0 / dm
                C11 = inv_dm + Gd[j]
                C22 = -inv_dm + Gd[i]
                det = C11 * C22 - g_ij * g_ij
                if det != 0.0:  # singular capacitance (the array code got inf/nan here): recompute directly
                    b1 = y[j] - df * (Gd[j] - g_ij)
                    b2 = y[i] - df * (g_ij - Gd[i])
                    quad = (C22 * (b1 * b1) - 2.0 * g_ij * b1 * b2 + C11 * (b2 * b2)) / det
                    costP = gPg - quad
                    if -det >= woodbury_tol and math.isfinite(costP):
                        D[i, j] += costP - c0
                        n_wood += 1
                        continue
            direct[n_direct, 0] = i
            direct[n_direct, 1] = j
            n_direct += 1
    return n_shift, n_wood, n_direct


def _changed_inputs(mk: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Inputs outside the most common ``(m_qk, f_qk)`` class: every pair a swap
    changes has one of them."""
    best, best_count = (1.0, 0.0), -1
    for bit in (0.0, 1.0):  # mask entries are 0 or 1: the most common f per mask value
        values, counts = np.unique(f[mk == bit], return_counts=True)
        if counts.size and counts.max() > best_count:
            best, best_count = (bit, values[np.argmax(counts)]), int(counts.max())
    return np.flatnonzero((mk != best[0]) | (f != best[1]))


def _subspace_out(W, Mk, F, U, S, lam, D, counts, notes, iu, *, eig_rtol, range_rtol, max_direct, woodbury_tol,
                  progress):
    """Delta_out on a truncated support (r' < m): per next-layer neuron ``q`` the
    quantities ``c0 = g_0^T S_q^+ g_0``, ``y = U' S_q^+ g_0`` and the needed columns and
    diagonal of ``G = U' S_q^+ U'^T`` (:func:`_complement_quantities`, else
    :func:`_eigh_quantities`), then the pairs in
    one numba pass (:func:`_swap_pairs_kernel`); the pairs neither case covers are
    recomputed directly (:func:`_direct_out`)."""
    mq, m = W.shape
    A = W @ U
    V = F @ U
    if S is None:  # shape matrices not formed (see layer_costs): the few rows needed, on demand
        S = _ShapeRows(Mk, U)
    eig_tol = eig_rtol * max(1.0, float(np.max(lam[:, -1])))
    complement = orthonormal_columns(U)
    direct = []  # (q, i, j) arrays, in (q, i, j) order
    unorm = np.linalg.norm(U, axis=1)
    norm_a = np.linalg.norm(A, axis=1)
    norm_v = np.linalg.norm(V, axis=1)
    c0s = np.empty(mq)
    n_pairs = int(iu.sum())
    r = U.shape[1]
    M = U @ U.T  # G = M + M[:, Z] C^-1 M[Z, :] for masks with few zeros Z (Woodbury, U^T U = I)
    Mdiag = np.einsum("ka,ka->k", U, U)
    chunk = 64  # eigendecompositions per batched call (bounds the (chunk, r, r) vectors)
    for start in _progress(range(0, mq, chunk), -(-mq // chunk), "Delta_out (next-layer neurons)", progress):
        stop = min(start + chunk, mq)
        # nonsingular S_q (all eigenvalues above eig_tol) with at most r zeros in the mask
        # row: the complement formula; the others: an eigendecomposition of S_q
        qs = np.arange(start, stop)
        use_eigh = (lam[qs, 0] <= eig_tol) | (np.sum(Mk[qs] == 0.0, axis=1) > r) | (not complement)
        with single_threaded_blas():  # small products too: threads cost 20x here (measured)
            eig = {} if not np.any(use_eigh) else dict(zip(qs[use_eigh], zip(*np.linalg.eigh(S[qs[use_eigh]]))))
            for q in qs:
                g0 = A[q] - V[q]
                mk, f = Mk[q], F[q]
                J = _changed_inputs(mk, f) if not (np.all(mk == mk[0]) and np.all(f == f[0])) else None
                quantities = None
                if q not in eig:
                    quantities = _complement_quantities(g0, mk, U, M, Mdiag, J)
                if quantities is None:  # eigh route (or the complement's Cholesky failed)
                    lq, vq = eig[q] if q in eig else np.linalg.eigh(S[q])
                    quantities = _eigh_quantities(g0, lq, vq, U, J, eig_tol)
                c0, y, GJ, Gd, Nu = quantities
                c0s[q] = c0
                if J is None:
                    counts["unchanged"] += n_pairs
                    continue
                all_pos = Nu is None
                jpos = np.full(m, -1, dtype=np.int64)
                jpos[J] = np.arange(J.size)
                buf = np.empty((J.size * m, 2), dtype=np.int64)
                well = lam[q, 0] > max(eig_tol, woodbury_tol * lam[q, -1])
                n_shift, n_wood, n_direct = _swap_pairs_kernel(
                    mk, f, c0, y, GJ, J.astype(np.int64), jpos, Gd, np.zeros((m, 0)) if all_pos else Nu, all_pos,
                    float(norm_a[q]), float(norm_v[q]), unorm, float(range_rtol), float(woodbury_tol), bool(well), D,
                    buf)
                counts["shift"] += int(n_shift)
                counts["woodbury"] += int(n_wood)
                counts["unchanged"] += n_pairs - int(n_shift + n_wood + n_direct)
                if n_direct:
                    pairs = buf[:n_direct]
                    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]  # (i, j) order, as before
                    direct.append(np.column_stack([np.full(n_direct, q), pairs]))
    if direct:
        _direct_out(np.concatenate(direct), A, V, S, Mk, F, U, c0s, D, counts, notes, eig_tol=eig_tol,
                    range_rtol=range_rtol, max_direct=max_direct)


class _ShapeRows:
    """``S[q]`` / ``S[array]`` of a layer's shape matrices computed on indexing
    (:func:`~..supports.shape_matrices` of those mask rows)."""

    def __init__(self, mask, U):
        self.mask, self.U = mask, U

    def __getitem__(self, rows):
        if np.ndim(rows) == 0:
            return shape_matrices(self.mask[[int(rows)]], self.U)[0]
        unique, inverse = np.unique(np.asarray(rows), return_inverse=True)
        return shape_matrices(self.mask[unique], self.U)[inverse.ravel()]


def _complement_quantities(g0, mk, U, M, Mdiag, J):
    """``(c0, y, G[:, J], diag G, None)`` of a nonsingular ``S_q = I - E^T E`` with
    ``E = U'[Z]`` (``Z``: the zeros of the mask row; ``U'^T U' = I``): by Woodbury,
    ``S_q^-1 = I + E^T C^-1 E`` with ``C = I - E E^T = I - M[Z, Z]`` (``|Z| x |Z|``),
    so ``G = M + M[:, Z] C^-1 M[Z, :]``. ``None`` when ``C`` is not numerically
    positive definite (the caller then takes the eigendecomposition)."""
    Z = np.flatnonzero(mk == 0.0)
    e = U[Z] @ g0
    try:
        L = np.linalg.cholesky(np.eye(Z.size) - M[np.ix_(Z, Z)])
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.diag(L) > 0.0):
        return None
    w = solve_triangular(L, e, lower=True, check_finite=False) if Z.size else e
    c0 = float(g0 @ g0 + w @ w)
    if J is None:
        return c0, None, None, None, None
    Zm = solve_triangular(L, M[Z], lower=True, check_finite=False) if Z.size else np.zeros((0, M.shape[0]))
    y = U @ g0 + Zm.T @ w
    Gd = Mdiag + np.einsum("ak,ak->k", Zm, Zm)
    GJ = M[:, J] + Zm.T @ Zm[:, J]
    return c0, y, np.ascontiguousarray(GJ), Gd, None


def _eigh_quantities(g0, lq, vq, U, J, eig_tol):
    """``(c0, y, G[:, J], diag G, Nu)`` from the eigendecomposition of ``S_q``
    (``P = S_q^+``); ``Nu``: null-space components of the rows of ``U'`` (``None``
    when ``S_q`` is nonsingular)."""
    pos = lq > eig_tol
    P = (vq[:, pos] / lq[pos]) @ vq[:, pos].T
    c0 = float(g0 @ P @ g0)
    if J is None:
        return c0, None, None, None, None
    UP = U @ P
    y = UP @ g0
    GJ = UP @ U[J].T
    Gd = np.einsum("ka,ka->k", UP, U)
    Nu = None if np.all(pos) else np.ascontiguousarray(U @ vq[:, ~pos])
    return c0, y, np.ascontiguousarray(GJ), Gd, Nu


#: Bytes of one ``(rows, r, r)`` stack in :func:`_direct_out` (about five are alive at once).
_DIRECT_STACK_BYTES = 32 << 20


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
    r = U.shape[1]
    # rows per block: each (rows, r, r) stack (S_q', its eigenvectors, the two outer
    # products) stays within _DIRECT_STACK_BYTES (4096 rows at r = 169 would be ~0.9 GB each)
    rows = max(1, min(4096, _DIRECT_STACK_BYTES // (8 * r * r)))
    for start in range(0, arr.shape[0], rows):
        blk = arr[start:start + rows]
        q, i, j = blk[:, 0], blk[:, 1], blk[:, 2]
        dm = Mk[q, i] - Mk[q, j]
        df = F[q, i] - F[q, j]
        ui, uj = U[i], U[j]
        SP = S[q] + dm[:, None, None] * (uj[:, :, None] * uj[:, None, :] - ui[:, :, None] * ui[:, None, :])
        g = A[q] - V[q] - df[:, None] * (uj - ui)
        with single_threaded_blas():
            lam, vec = np.linalg.eigh(SP)
        comp = np.einsum("kab,ka->kb", vec, g)
        pos = lam > eig_tol
        cost = np.sum(np.where(pos, comp**2 / np.where(pos, lam, 1.0), 0.0), axis=1)
        null = np.sqrt(np.sum(np.where(pos, 0.0, comp**2), axis=1))
        scale = np.linalg.norm(A[q], axis=1) + np.linalg.norm(V[q] + df[:, None] * (uj - ui), axis=1)
        cost = np.where(null <= range_rtol * np.maximum(scale, _TINY), cost, np.inf)
        np.add.at(D, (i, j), cost - c0s[q])
    counts["direct"] += int(arr.shape[0])
