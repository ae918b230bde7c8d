"""Swap costs of D3: ``Delta_in`` from ``K``, ``Delta_out`` by rank-<=2 updates of the
next layer's shape matrices, and the streamed pairwise helpers of P4.

Part of :mod:`neuronid.numerics.costs`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from neuronid.errors import InvalidDataError

from .._config import JIT
from ..network import Layer
from ..supports import Support, single_threaded_lapack
from ._common import _EPS, _TINY, NOT_COMPUTED, OK, OUT_OF_RANGE, _progress
from ._quadratic import layer_shapes

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
