"""Input supports of a layer (THEORY.md D1), per-neuron shape matrices and the T1
anisotropy bound.

What
----
:func:`compute_support` turns the inputs a layer receives on the data (rows of
``trace.inputs[l]``) into a :class:`Support`: the row mean ``xbar``, an orthonormal
basis ``U`` (``d x r``) of the top right singular vectors of the centered inputs, with
``r`` the smallest rank whose explained-variance ratio reaches ``tau``, and the
subspace coherence ``nu(U) = max_j ||U^T e_j||^2``.

:func:`shape_matrices` computes every neuron's ``S_i = U^T diag(m_i) U`` at once (one
matrix product ``mask @ Q`` with ``Q[:, (a, b)] = U[:, a] * U[:, b]`` over the upper
triangle ``a <= b``), :func:`anisotropy` the spectral distance ``||S_i - p I||`` and
:func:`t1_bound` the matrix-Bernstein bound of T1 for both mask models.

Tolerances
----------
- ``tau = 1`` means the exact span: ``r`` is the numerical rank, the number of
  singular values ``s_k > rank_rtol * s_0`` with ``rank_rtol = max(n, d) * eps``
  by default (NumPy's ``matrix_rank`` convention). For ``tau < 1``, ``r`` is the
  smallest rank with cumulative explained variance ``>= tau - 1e-12`` (the slack
  absorbs rounding in the cumulative sum), capped at the numerical rank.
- A support whose largest singular value is at most ``rank_rtol * ||X||_F`` has zero
  variance: ``r = 0``; every function on it is constant, so with free biases every
  realization cost is 0 (a value, not an error).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 6))   # a 2-D subspace of R^6
>>> sup = compute_support(X, tau=1.0)
>>> sup.rank, round(sup.explained_variance, 12)
(2, 1.0)
>>> S = shape_matrices(np.ones((3, 6)), sup.U)                 # standard neurons
>>> bool(np.allclose(S, np.eye(2)))
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from neuronid.errors import InvalidDataError, InvalidOptionError

from .threads import single_threaded_blas
from ._validation import check_array, check_number

__all__ = [
    "Support",
    "compute_support",
    "layer_supports",
    "shape_matrices",
    "shape_eigenvalues",
    "mask_shape_eigenvalues",
    "orthonormal_columns",
    "anisotropy",
    "t1_bound",
    "MASK_MODELS",
]

#: Mask models of T1: i.i.d. Bernoulli entries, or an exact number of trainable
#: entries per row (sampling without replacement, as in the paper's W-MLPs).
MASK_MODELS = ("bernoulli", "exact_count")

_EPS = np.finfo(np.float64).eps
_TAU_SLACK = 1e-12


@dataclass
class Support:
    """A layer's input support (D1).

    Attributes
    ----------
    xbar : (d,) row mean of the inputs.
    U : (d, r) orthonormal basis of the retained principal directions.
    rank : r.
    tau : the explained-variance threshold asked for.
    explained_variance : variance fraction captured by the ``r`` directions
        (1.0 for a zero-variance support).
    singular_values : all singular values of the centered inputs, descending.
    numerical_rank : rank of the centered inputs at ``rank_rtol``.
    rank_rtol : relative singular-value tolerance used for the numerical rank.
    coherence : ``nu(U) = max_j ||U^T e_j||^2`` in ``[r/d, 1]`` (0 when ``r = 0``).
    n_points, dim : number of support points and ambient dimension ``d``.
    notes : human-readable remarks (zero variance, rank capped, ...).
    """

    xbar: np.ndarray
    U: np.ndarray
    rank: int
    tau: float
    explained_variance: float
    singular_values: np.ndarray
    numerical_rank: int
    rank_rtol: float
    coherence: float
    n_points: int
    dim: int
    notes: list = field(default_factory=list)

    def coordinates(self, X) -> np.ndarray:
        """Effective coordinates ``y = U^T (x - xbar)`` of rows of ``X`` (n, r)."""
        X = np.asarray(X, dtype=np.float64)
        return (X - self.xbar) @ self.U

    def project(self, X) -> np.ndarray:
        """The PCA-truncated points ``xbar + U U^T (x - xbar)``."""
        return self.xbar + self.coordinates(X) @ self.U.T

    def to_json(self) -> dict:
        return {
            "rank": self.rank,
            "tau": self.tau,
            "explained_variance": self.explained_variance,
            "numerical_rank": self.numerical_rank,
            "rank_rtol": self.rank_rtol,
            "coherence": self.coherence,
            "n_points": self.n_points,
            "dim": self.dim,
            "notes": list(self.notes),
        }


def _check_tau(tau) -> float:
    return check_number(tau, what="tau (explained-variance threshold)", low=0.0, high=1.0, low_open=True,
                        hint="use 1 for the exact span")


def _check_support_points(X, name: str) -> np.ndarray:
    return check_array(X, what=name, ndim=2, layout="(n points, d features)", allow_empty=False,
                       empty_noun="support")


def compute_support(X, tau: float = 0.9, *, rank_rtol: float | None = None, name: str = "support") -> Support:
    """Centered PCA of the rows of ``X`` at explained-variance threshold ``tau`` (D1).

    Parameters
    ----------
    X : (n, d) array
        The inputs a layer receives on the data (``trace.inputs[l]``).
    tau : float in (0, 1], default 0.9
        Explained-variance threshold; ``1`` = exact span (numerical rank).
    rank_rtol : float, optional
        Relative singular-value tolerance of the numerical rank (default
        ``max(n, d) * eps``).
    name : str
        Used in error messages.

    Returns
    -------
    Support

    Raises
    ------
    InvalidDataError
        ``X`` empty, not 2-D, not real or not finite.
    InvalidOptionError
        ``tau`` outside (0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    >>> s = compute_support(X, tau=1.0)
    >>> s.rank, s.coherence
    (1, 1.0)
    """
    tau = _check_tau(tau)
    X = _check_support_points(X, name)
    n, d = X.shape
    if rank_rtol is None:
        rank_rtol = max(n, d) * _EPS
    rank_rtol = check_number(rank_rtol, what="rank_rtol", low=0.0)
    xbar = X.mean(axis=0)
    Xc = X - xbar
    with single_threaded_blas():  # measured 0.35 s against 2.6 s threaded for 4096 x 512 on 2 busy cores
        # tall data: the SVD of the QR factor R (d x d) has the same s and V^T without the
        # n x d left singular vectors, which are never used (LAPACK's gesdd takes the same
        # QR route: bit-identical here, 0.46 s against 0.87 s for 4096 x 784, one thread)
        _, s, Vt = np.linalg.svd(np.linalg.qr(Xc, mode="r") if n > d else Xc, full_matrices=False)
    notes = []
    scale = float(np.linalg.norm(X))
    if s.size == 0 or s[0] <= rank_rtol * max(scale, np.finfo(np.float64).tiny):
        notes.append(
            "zero-variance support (all points equal up to rounding): rank 0; every function on it "
            "is constant, so with free biases every realization cost is 0"
        )
        return Support(
            xbar=xbar, U=np.zeros((d, 0)), rank=0, tau=tau, explained_variance=1.0, singular_values=s,
            numerical_rank=0, rank_rtol=rank_rtol, coherence=0.0, n_points=n, dim=d, notes=notes,
        )
    numerical_rank = int(np.sum(s > rank_rtol * s[0]))
    var = s[:numerical_rank] ** 2
    cum = np.cumsum(var) / np.sum(s**2)
    if tau >= 1.0:
        r = numerical_rank
    else:
        r = int(np.searchsorted(cum, tau - _TAU_SLACK) + 1)
        r = min(r, numerical_rank)
    U = np.ascontiguousarray(Vt[:r].T)
    if numerical_rank < min(n, d):
        notes.append(
            f"rank-deficient support: numerical rank {numerical_rank} < min(n, d) = {min(n, d)} "
            f"(singular values <= {rank_rtol:.3g} * s_max dropped)"
        )
    coherence = _clip_coherence(float(np.max(np.einsum("ij,ij->i", U, U))), r, d) if r else 0.0
    return Support(
        xbar=xbar, U=U, rank=r, tau=tau, explained_variance=float(cum[r - 1]), singular_values=s,
        numerical_rank=numerical_rank, rank_rtol=rank_rtol, coherence=coherence, n_points=n, dim=d,
        notes=notes,
    )


#: Coherence rounding: ||U^T e_j||^2 sums r squares of orthonormal-basis entries, each
#: accurate to ~1e-16; values within this of [r/d, 1] are rounded onto the interval.
_COHERENCE_ROUNDING = 1e-12


def _clip_coherence(nu: float, r: int, d: int) -> float:
    """``nu`` clipped to ``[r/d, 1]`` (D1) when outside by rounding only; a larger
    excess is a real error and is kept, so that checks see it.

    >>> _clip_coherence(1.0000000000000007, 3, 3), _clip_coherence(0.5, 1, 2)
    (1.0, 0.5)
    """
    lo = r / d
    if 1.0 < nu <= 1.0 + _COHERENCE_ROUNDING:
        return 1.0
    if lo - _COHERENCE_ROUNDING <= nu < lo:
        return lo
    return nu


def layer_supports(trace, tau: float = 0.9, *, rank_rtol: float | None = None) -> list[Support]:
    """Supports of every layer of a recorded forward pass (``trace.inputs[l]``).

    >>> import numpy as np
    >>> from neuronid.numerics.structures import standard_mlp
    >>> net = standard_mlp([3, 4, 2], activation="tanh", seed=0)
    >>> sups = layer_supports(net.forward(np.random.default_rng(0).normal(size=(50, 3)), record=True))
    >>> [s.dim for s in sups]
    [3, 4]
    """
    return [
        compute_support(X, tau, rank_rtol=rank_rtol, name=f"inputs of layer {l}")
        for l, X in enumerate(trace.inputs)
    ]


# --------------------------------------------------------------------------------- S_i
#: max |U^T U - I| up to which a basis counts as orthonormal (an SVD basis has ~1e-15)
_ORTHONORMAL_TOL = 1e-10

#: matrices per block of :func:`shape_matrices` and :func:`shape_eigenvalues` (bounds
#: their temporaries to a block's size; each matrix is computed the same way)
_SHAPE_BLOCK = 64


def _triu(r: int):
    return np.triu_indices(r)


def _mask_and_basis(mask, U, what: str):
    """``(mask, U)`` as float64 arrays; ``mask`` (m x d) must have as many columns as
    ``U`` (d x r) has rows."""
    mask = np.asarray(mask, dtype=np.float64)
    U = np.asarray(U, dtype=np.float64)
    if U.shape[0] != mask.shape[1]:
        raise InvalidDataError(f"{what}: mask has {mask.shape[1]} columns but U has {U.shape[0]} rows")
    return mask, U


def shape_matrices(mask, U) -> np.ndarray:
    """``S_i = U^T diag(m_i) U`` for every row ``m_i`` of ``mask``: shape ``(m, r, r)``.

    One matrix product over the upper triangle: ``mask (m x d) @ Q (d x r(r+1)/2)``
    with ``Q[:, (a, b)] = U[:, a] * U[:, b]`` (measured: a dense BLAS product beats a
    sparse one for every mask density down to 2 %).

    >>> import numpy as np
    >>> U = np.eye(3)[:, :2]
    >>> shape_matrices(np.array([[1.0, 0.0, 1.0]]), U)[0].tolist()
    [[1.0, 0.0], [0.0, 0.0]]
    """
    mask, U = _mask_and_basis(mask, U, "shape_matrices")
    m, r = mask.shape[0], U.shape[1]
    out = np.empty((m, r, r))
    if r == 0:
        return out
    iu0, iu1 = _triu(r)
    # Q built column block by column block (U[:, iu0] * U[:, iu1] made two temporaries
    # of Q's size: 59 MB each for d = 512, r = 169); the same products
    Q = np.empty((U.shape[0], iu0.size))
    start = 0
    for a in range(r):
        np.multiply(U[:, a:a + 1], U[:, a:], out=Q[:, start:start + r - a])
        start += r - a
    for lo in range(0, m, _SHAPE_BLOCK):  # rows in blocks: no (m, r(r+1)/2) temporary
        tri = mask[lo:lo + _SHAPE_BLOCK] @ Q  # dense BLAS product: faster than a sparse one even for 2 % density
        block = out[lo:lo + _SHAPE_BLOCK]
        block[:, iu0, iu1] = tri
        block[:, iu1, iu0] = tri
    return out


def shape_eigenvalues(S) -> np.ndarray:
    """Eigenvalues (ascending) of a stack of symmetric matrices ``(m, r, r)``."""
    S = np.asarray(S, dtype=np.float64)
    if S.shape[-1] == 0:
        return np.zeros(S.shape[:-1])
    if S.ndim != 3:
        with single_threaded_blas():
            return np.linalg.eigvalsh(S)
    out = np.empty(S.shape[:-1])
    with single_threaded_blas():
        for lo in range(0, S.shape[0], _SHAPE_BLOCK):  # eigvalsh copies its input: in blocks
            out[lo:lo + _SHAPE_BLOCK] = np.linalg.eigvalsh(S[lo:lo + _SHAPE_BLOCK])
    return out


def orthonormal_columns(U, tol: float = _ORTHONORMAL_TOL) -> bool:
    """``max |U^T U - I| <= tol``: the complement formulas (:func:`mask_shape_eigenvalues`,
    ``costs.complement_costs``, ``Delta_out``) need it; a basis from
    :func:`compute_support` has ``~1e-15``.

    >>> import numpy as np
    >>> orthonormal_columns(np.eye(3)[:, :2]), orthonormal_columns(2.0 * np.eye(3)[:, :2])
    (True, False)
    """
    U = np.asarray(U, dtype=np.float64)
    return bool(np.max(np.abs(U.T @ U - np.eye(U.shape[1])), initial=0.0) <= tol)


def mask_shape_eigenvalues(mask, U) -> np.ndarray:
    """Ascending eigenvalues ``(m, r)`` of every ``S_i = U^T diag(m_i) U`` without
    forming the ``r x r`` matrices, for 0/1 masks and an orthonormal ``U``
    (``U^T U = I``, as :func:`compute_support` returns; otherwise, beyond
    ``_ORTHONORMAL_TOL = 1e-10``, from the shape matrices themselves).

    With ``Z_i`` the zeros of row ``i`` and ``E = U[Z_i]``, ``S_i = I - E^T E``: its
    eigenvalues are ``1 - mu`` for the eigenvalues ``mu`` of ``E E^T = (U U^T)[Z_i, Z_i]``
    (``|Z_i| x |Z_i|``) and ``r - |Z_i|`` ones. Rows with more zeros than ``r`` use
    :func:`shape_matrices` and :func:`shape_eigenvalues`. Same numbers up to rounding
    (absolute ``~ r eps``, as the direct route); measured 10x faster at m = 512,
    r = 169, |Z_i| = 64.

    >>> import numpy as np
    >>> U = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 3)))[0]
    >>> mask = np.array([[1.0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]])
    >>> bool(np.allclose(mask_shape_eigenvalues(mask, U), shape_eigenvalues(shape_matrices(mask, U))))
    True
    """
    mask, U = _mask_and_basis(mask, U, "mask_shape_eigenvalues")
    m, r = mask.shape[0], U.shape[1]
    lam = np.empty((m, r))
    if r == 0 or m == 0:
        return lam
    if not orthonormal_columns(U):  # the identity needs U^T U = I
        return shape_eigenvalues(shape_matrices(mask, U))
    zeros = mask == 0.0
    n_zeros = zeros.sum(axis=1)
    direct = n_zeros > r
    M = U @ U.T
    for k in np.unique(n_zeros[~direct]):
        rows = np.flatnonzero(n_zeros == k)
        if k == 0:
            lam[rows] = 1.0  # S_i = U^T U = I
            continue
        Z = np.nonzero(zeros[rows])[1].reshape(rows.size, k)  # each row's zeros, ascending
        mu = shape_eigenvalues(M[Z[:, :, None], Z[:, None, :]])
        lam[rows] = np.sort(np.concatenate([1.0 - mu, np.ones((rows.size, r - k))], axis=1), axis=1)
    if np.any(direct):
        lam[direct] = shape_eigenvalues(shape_matrices(mask[direct], U))
    return lam


def anisotropy(S, p: float, *, eigenvalues=None) -> np.ndarray:
    """``||S_i - p I||_2`` for each ``S_i`` of a stack ``(m, r, r)`` (spectral norm).

    >>> import numpy as np
    >>> anisotropy(np.array([np.diag([0.5, 1.0])]), 0.75).tolist()
    [0.25]
    """
    lam = shape_eigenvalues(S) if eigenvalues is None else np.asarray(eigenvalues)
    if lam.shape[-1] == 0:
        return np.zeros(lam.shape[:-1])
    return np.maximum(np.abs(lam[..., -1] - p), np.abs(lam[..., 0] - p))


def t1_bound(p: float, coherence: float, rank: int, delta: float, *, model: str = "bernoulli",
             dim: int | None = None) -> float:
    """T1's bound on ``||U^T diag(m) U - p I||`` holding with probability ``>= 1 - delta``.

    ``L = log(2r/delta)``. Both are matrix-Bernstein bounds (Tropp 2012, Thm 1.4,
    two-sided: factor ``2r``), in the form ``(2/3) R L + sqrt(2 sigma^2 L)``:

    - ``"bernoulli"`` (THEORY.md T1): i.i.d. entries ``m_j ~ Bernoulli(p)``; summands
      ``(m_j - p) u_j u_j^T`` with ``R = max(p, 1-p) nu`` and ``sigma^2 = p(1-p) nu``.
    - ``"exact_count"``: exactly ``p d`` trainable entries per row (sampling without
      replacement). We sample the smaller of the trainable / fixed sets
      (``q = min(p, 1-p)``, ``q d`` draws); with replacement, each summand
      ``u_J u_J^T - I/d`` has norm ``<= R = max(nu - 1/d, 1/d)`` and the variance
      sum is ``<= q (nu - 1/d)``. Gross & Nesme (2010) show that the trace moment
      generating function of a sum without replacement is at most that of the sum
      with replacement, so the same tail bound holds. Needs ``dim = d``.

    ``p`` in {0, 1} (deterministic masks) and ``rank = 0`` give 0.

    >>> round(t1_bound(0.5, 0.1, 4, 0.05), 6)
    0.672917
    >>> round(t1_bound(0.5, 0.1, 4, 0.05, model="exact_count", dim=100), 6)
    0.980355
    """
    if model not in MASK_MODELS:
        raise InvalidOptionError(f"mask model must be one of {', '.join(MASK_MODELS)}, found {model!r}")
    p = float(p)
    if not (0.0 <= p <= 1.0):
        raise InvalidOptionError(f"p (fraction of trainable entries) must lie in [0, 1], found {p}")
    delta = float(delta)
    if not (0.0 < delta < 1.0):
        raise InvalidOptionError(f"delta (failure probability) must lie in (0, 1), found {delta}")
    rank = int(rank)
    if rank == 0 or p in (0.0, 1.0):
        return 0.0
    nu = float(coherence)
    L = math.log(2.0 * rank / delta)
    if model == "bernoulli":
        b = max(p, 1.0 - p)
        return (2.0 / 3.0) * b * nu * L + math.sqrt(p * (1.0 - p)) * math.sqrt(2.0 * nu * L)
    if dim is None or int(dim) < 1:
        raise InvalidOptionError("t1_bound(model='exact_count') needs dim = d (the number of mask entries per row)")
    d = int(dim)
    q = min(p, 1.0 - p)
    excess = max(nu - 1.0 / d, 0.0)
    R = max(excess, 1.0 / d)
    return (2.0 / 3.0) * R * L + math.sqrt(2.0 * q * excess * L)
