"""Data sets: the one :class:`Dataset` type and the generators of THEORY E1-E3.

What
----
:class:`Dataset` is the container every layer of neuronid passes around: inputs
``X`` ``(n, d)`` float64, targets ``y`` (integer class labels ``(n,)``, real targets
``(n, o)``, or ``None``), a name and an ``info`` dict with the generator's
parameters. The generators build the synthetic data of the experiments in
THEORY.md:

- :func:`gaussian_mixture_subspace` -- E2: a Gaussian mixture in a random
  ``k``-dimensional subspace of a larger ambient space;
- :func:`parity_subspace` -- continuous parity of a latent cube, embedded likewise;
- :func:`coherence_embedding` -- E1: a 2-D latent teacher ``relu(z1 + z2)``
  embedded with a chosen subspace coherence (D1);
- :func:`digits` -- scikit-learn's bundled 8x8 digits (E3), no download;

plus :func:`train_test_split` and the CLI registry :data:`DATASETS` /
:func:`make_dataset`.

Why
---
The theory is about the *support* of a layer's inputs (D1): its intrinsic dimension
``r`` and its coherence ``nu``. These generators control both exactly, and record
them (basis, embedding, coherence) in ``info`` so that checks can compare measured
quantities with the values the data were built with.

Seeding
-------
Every random draw goes through a local ``numpy.random.Generator``; global state is
never touched. Synthetic generators split their randomness in two independent
streams, both derived with :class:`numpy.random.SeedSequence`:

- the *structure* (basis, class means, rotations, embedding) comes from ``seed``
  alone and never depends on ``n``;
- the *sample* (which points are drawn) comes from ``sample_seed``, which defaults
  to ``seed``.

So ``gaussian_mixture_subspace(50_000, k=8, seed=3)`` and
``gaussian_mixture_subspace(10_000, k=8, seed=3, sample_seed=99)`` are a training and
a test set of the same mixture. The same ``(seed, k, ambient)`` also give the same
subspace basis in :func:`gaussian_mixture_subspace` and :func:`parity_subspace`.

``info`` holds per-data-set values only (never per-sample arrays), so
:meth:`Dataset.subset` can keep it unchanged. Latent coordinates are recoverable
exactly because every embedding has orthonormal columns: ``Z = X @ info["basis"]``
(subspace generators) and ``z = X @ info["embedding"]`` (coherence).

Size (about 830 lines): kept whole; the generators share :class:`Dataset`, the
subspace construction and the registry of :func:`make_dataset`, and each is a short
function with its own documented parameters.
"""

from __future__ import annotations

import inspect
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from neuronid.errors import InvalidOptionError

__all__ = [
    "Dataset",
    "gaussian_mixture_subspace",
    "parity_subspace",
    "coherence_embedding",
    "digits",
    "train_test_split",
    "DATASETS",
    "make_dataset",
    "subspace_coherence",
]

#: Ratio between the largest possible per-direction noise std of a mixture
#: component and the default scale ``noise``; stds are log-uniform in
#: ``[noise / A, noise * A]``.
_ANISOTROPY = 2.0

#: Default ``noise`` of :func:`gaussian_mixture_subspace` is ``sep * sqrt(k) / 4``.
_NOISE_DIVISOR = 4.0

_COHERENCE_FAMILIES = ("exact_copy", "random_tight_frame")
_PARITY_TARGETS = ("label", "value")
_DIGITS_N = 1797


# --------------------------------------------------------------------------- #
# The Dataset type
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, eq=False)
class Dataset:
    """Inputs, optional targets, a name and the generator's parameters.

    Parameters
    ----------
    X : numpy.ndarray
        ``(n, d)`` inputs; stored as C-contiguous float64.
    y : numpy.ndarray or None
        Integer class labels ``(n,)`` (stored as int64; cross-entropy tasks), real
        targets ``(n, o)`` (stored as float64; a 1-D real array becomes ``(n, 1)``;
        MSE tasks), or ``None``.
    name : str
        Short name used in reports.
    info : dict
        Per-data-set values: generator parameters, basis, coherence, ... (plain
        JSON-able values and numpy arrays). Never per-sample arrays.

    Notes
    -----
    Construction only coerces dtypes and contiguity; it does not validate shapes or
    finiteness (user files are validated by the io module). The dataclass is frozen,
    but the arrays themselves are not copied when they already have the right
    dtype and layout, and are not made read-only.

    Examples
    --------
    >>> import numpy as np
    >>> ds = Dataset(np.zeros((4, 3)), np.array([0, 2, 1, 0]), name="toy")
    >>> ds.n, ds.d, ds.task, ds.n_classes
    (4, 3, 'classification', 3)
    >>> ds.subset([1, 2]).y
    array([2, 1])
    """

    X: np.ndarray
    y: np.ndarray | None = None
    name: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "X", np.ascontiguousarray(self.X, dtype=np.float64))
        y = self.y
        if y is not None:
            y = np.asarray(y)
            if y.dtype.kind in "iub":
                y = np.ascontiguousarray(y, dtype=np.int64)
            else:
                y = np.ascontiguousarray(y, dtype=np.float64)
                if y.ndim == 1:
                    y = y.reshape(-1, 1)
            object.__setattr__(self, "y", y)

    # -- shape and task --------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of points (rows of ``X``)."""
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        """Input dimension (columns of ``X``)."""
        return int(self.X.shape[1]) if self.X.ndim > 1 else 1

    @property
    def task(self) -> str:
        """``"classification"`` (integer ``y``), ``"regression"`` (real ``y``) or
        ``"unlabelled"``."""
        if self.y is None:
            return "unlabelled"
        return "classification" if self.y.dtype == np.int64 else "regression"

    @property
    def n_classes(self) -> int | None:
        """``max label + 1`` for classification (0 when empty), else ``None``."""
        if self.task != "classification":
            return None
        return int(self.y.max()) + 1 if self.y.size else 0

    @property
    def n_outputs(self) -> int | None:
        """Network outputs the task needs: ``n_classes``, ``o``, or ``None``."""
        if self.task == "classification":
            return self.n_classes
        if self.task == "regression":
            return int(self.y.shape[1]) if self.y.ndim > 1 else 1
        return None

    # -- selection -------------------------------------------------------------
    def subset(self, index: Any) -> "Dataset":
        """Rows selected by ``index`` (a slice, integer indices or a boolean mask).

        ``name`` and ``info`` are kept (``info`` is shallow-copied).

        Examples
        --------
        >>> import numpy as np
        >>> ds = Dataset(np.arange(6.0).reshape(3, 2))
        >>> ds.subset(np.array([True, False, True])).X
        array([[0., 1.],
               [4., 5.]])
        """
        if not isinstance(index, slice):
            index = np.asarray(index)
            if index.ndim != 1:
                raise InvalidOptionError(
                    f"subset index must be a slice or a 1-D array of indices or a "
                    f"boolean mask; found an array of shape {index.shape}"
                )
            if index.dtype.kind == "b":
                if index.shape[0] != self.n:
                    raise InvalidOptionError(
                        f"subset mask has length {index.shape[0]}; expected n={self.n}"
                    )
            elif index.size == 0:
                index = index.astype(np.intp)
            elif index.dtype.kind not in "iu":
                raise InvalidOptionError(
                    f"subset index must hold integers or booleans; found dtype "
                    f"{index.dtype}"
                )
        y = None if self.y is None else self.y[index]
        return Dataset(self.X[index], y, name=self.name, info=dict(self.info))

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, n={self.n}, d={self.d}, task={self.task!r}, "
            f"n_outputs={self.n_outputs})"
        )


# --------------------------------------------------------------------------- #
# Option validation (boundary helpers)
# --------------------------------------------------------------------------- #


def _check_int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    """Return ``value`` as int if it is an integer in ``[lo, hi]``, else raise."""
    rng_txt = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidOptionError(
            f"option {name}={value!r} is invalid: expected an integer {rng_txt}"
        )
    value = int(value)
    if value < lo or (hi is not None and value > hi):
        raise InvalidOptionError(
            f"option {name}={value} is out of range: expected an integer {rng_txt}"
        )
    return value


def _check_positive(name: str, value: Any) -> float:
    """Return ``value`` as float if it is a finite real > 0, else raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidOptionError(
            f"option {name}={value!r} is invalid: expected a finite real number > 0"
        )
    value = float(value)
    if not (math.isfinite(value) and value > 0.0):
        raise InvalidOptionError(
            f"option {name}={value!r} is out of range: expected a finite real "
            f"number > 0"
        )
    return value


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InvalidOptionError(
            f"option {name}={value!r} is invalid: expected one of "
            f"{', '.join(repr(c) for c in choices)}"
        )
    return value


def _check_seed(name: str, value: Any, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    return _check_int(name, value, 0)


def _streams(seed: int, sample_seed: int | None) -> tuple[np.random.Generator, ...]:
    """Independent structure and sample generators (see the module docstring)."""
    structure = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    s = seed if sample_seed is None else sample_seed
    sample = np.random.default_rng(np.random.SeedSequence(s, spawn_key=(1,)))
    return structure, sample


def _random_orthonormal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Haar-distributed ``(rows, cols)`` matrix with orthonormal columns."""
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return np.ascontiguousarray(q * signs)


def subspace_coherence(basis: np.ndarray) -> float:
    """Subspace coherence ``nu(U) = max_j ||U^T e_j||^2`` of ``span(basis)`` (D1).

    ``basis`` need not be orthonormal: unless its columns already are (to 1e-12),
    an orthonormal basis ``U`` of its column span is computed first (thin SVD,
    numerical rank). The value lies in
    ``[r / d, 1]`` for a span of dimension ``r`` in ``R^d``.

    Parameters
    ----------
    basis : numpy.ndarray
        ``(d, r)`` matrix whose columns span the subspace.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> subspace_coherence(np.eye(4)[:, :2])
    1.0
    >>> round(subspace_coherence(np.ones((4, 1))), 12)
    0.25
    """
    a = np.asarray(basis, dtype=np.float64)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.shape[1] <= a.shape[0] and np.allclose(a.T @ a, np.eye(a.shape[1]),
                                                rtol=0.0, atol=1e-12):
        return float(np.max(np.einsum("ij,ij->i", a, a)))
    u, s, _ = np.linalg.svd(a, full_matrices=False)
    tol = (s[0] if s.size else 0.0) * max(a.shape) * np.finfo(np.float64).eps
    u = u[:, s > tol]
    if u.shape[1] == 0:
        return 0.0
    return float(np.max(np.einsum("ij,ij->i", u, u)))


# --------------------------------------------------------------------------- #
# Generators
# --------------------------------------------------------------------------- #


def gaussian_mixture_subspace(
    n: int,
    *,
    k: int,
    ambient: int = 512,
    n_classes: int = 20,
    sep: float = 0.3,
    noise: float | None = None,
    seed: int = 0,
    sample_seed: int | None = None,
) -> Dataset:
    r"""Gaussian-mixture classification data in a random ``k``-dim subspace (E2).

    Latent points ``z in R^k`` of class ``c`` are
    ``z = mu_c + Q_c diag(s_c) g`` with ``g ~ N(0, I_k)``; class means
    ``mu_c ~ N(0, sep^2 I_k)``; ``Q_c`` a random rotation and ``s_c`` per-direction
    standard deviations drawn log-uniform in ``[noise/2, 2 noise]`` (rotated
    anisotropic noise). The inputs are ``X = Z B^T`` with ``B`` a random
    ``(ambient, k)`` matrix with orthonormal columns, so the centered data have
    rank exactly ``k`` (for ``n > k``).

    Parameters
    ----------
    n : int
        Number of points, ``>= n_classes`` (every class appears).
    k : int
        Intrinsic dimension, ``1 <= k <= ambient``.
    ambient : int, default 512
        Ambient dimension ``d`` (the paper's code default).
    n_classes : int, default 20
        Number of classes, ``>= 2``. Classes are balanced: labels are assigned
        round-robin (counts differ by at most one), then shuffled.
    sep : float, default 0.3
        Standard deviation of the class means (the paper's code default).
    noise : float or None, default None
        Geometric-mean noise standard deviation per latent direction. ``None``
        means ``sep * sqrt(k) / 4``; see Notes.
    seed : int, default 0
        Seeds the mixture: basis, means, rotations, noise scales. These depend only
        on ``(seed, k, ambient, n_classes, sep, noise)``, never on ``n``.
    sample_seed : int or None, default None
        Seeds the draw of the points only (``None``: ``seed``). Use another value
        for a test set of the same mixture.

    Returns
    -------
    Dataset
        ``X`` ``(n, ambient)``, ``y`` int64 labels in ``[0, n_classes)``. ``info``:
        ``generator, k, ambient, n_classes, sep, noise, anisotropy, seed,
        sample_seed, basis (ambient, k), means (n_classes, k), rotations
        (n_classes, k, k), scales (n_classes, k), coherence`` (of the basis).

    Notes
    -----
    *Default noise.* Two class means are typically ``sep * sqrt(2k)`` apart,
    while the noise along any single direction has standard deviation ``~ noise``.
    A fixed ``noise`` therefore makes the task trivial for large ``k`` and hopeless
    for small ``k`` (at ``noise = 0.15`` a linear classifier scores 22 % at ``k=2``
    but 100 % at ``k=32``). The default ``noise = sep * sqrt(k) / 4`` holds this
    pairwise signal-to-noise ratio at ``4 sqrt(2) ~ 5.7`` for every ``k``.
    Measured test accuracy (20 classes, chance 5 %; 20,000 training and 10,000 test
    points of the same mixture; mean over mixture seeds 0, 1, 2) of a
    least-squares one-vs-rest linear classifier (one-hot targets, bias) and of
    multinomial logistic regression (scikit-learn):

    ====  =======  ===========  ============
    k     noise    LS           logistic
    ====  =======  ===========  ============
    2     0.106    0.25         0.53
    8     0.212    0.69         0.81
    32    0.424    0.87         0.91
    ====  =======  ===========  ============

    well above chance and clearly below 100 % over the paper's range of ``k``
    (least squares is weak at ``k = 2``: with 20 classes in a plane most of its
    one-vs-rest scores are masked by the others).

    Examples
    --------
    >>> train = gaussian_mixture_subspace(200, k=4, ambient=16, seed=1)
    >>> test = gaussian_mixture_subspace(100, k=4, ambient=16, seed=1, sample_seed=7)
    >>> train.X.shape, train.y.dtype.name, train.n_classes
    ((200, 16), 'int64', 20)
    >>> bool((train.info["means"] == test.info["means"]).all())
    True
    """
    n_classes = _check_int("n_classes", n_classes, 2)
    n = _check_int("n", n, n_classes)
    ambient = _check_int("ambient", ambient, 1)
    k = _check_int("k", k, 1, ambient)
    sep = _check_positive("sep", sep)
    noise = sep * math.sqrt(k) / _NOISE_DIVISOR if noise is None else _check_positive(
        "noise", noise
    )
    seed = _check_seed("seed", seed)
    sample_seed = _check_seed("sample_seed", sample_seed, allow_none=True)

    rs, rx = _streams(seed, sample_seed)
    basis = _random_orthonormal(rs, ambient, k)
    means = sep * rs.standard_normal((n_classes, k))
    rotations = np.stack([_random_orthonormal(rs, k, k) for _ in range(n_classes)])
    log_a = math.log(_ANISOTROPY)
    scales = noise * np.exp(rs.uniform(-log_a, log_a, size=(n_classes, k)))

    y = np.arange(n, dtype=np.int64) % n_classes
    rx.shuffle(y)
    g = rx.standard_normal((n, k))
    z = np.empty((n, k))
    for c in range(n_classes):
        rows = y == c
        z[rows] = means[c] + (g[rows] * scales[c]) @ rotations[c].T
    info = {
        "generator": "gaussian_mixture_subspace",
        "k": k,
        "ambient": ambient,
        "n_classes": n_classes,
        "sep": sep,
        "noise": noise,
        "anisotropy": _ANISOTROPY,
        "seed": seed,
        "sample_seed": seed if sample_seed is None else sample_seed,
        "basis": basis,
        "means": means,
        "rotations": rotations,
        "scales": scales,
        "coherence": subspace_coherence(basis),
    }
    return Dataset(z @ basis.T, y, name="subspace", info=info)


def parity_subspace(
    n: int,
    *,
    k: int,
    ambient: int,
    seed: int = 0,
    sample_seed: int | None = None,
    target: str = "label",
) -> Dataset:
    r"""Continuous parity of a latent cube, embedded in a random subspace.

    Latent ``z ~ U[-1, 1]^k``; the target is ``prod(z)`` (``target="value"``,
    an ``(n, 1)`` real target) or its sign ``1[prod(z) > 0]`` (``target="label"``,
    2 classes, balanced in expectation). Inputs ``X = Z B^T`` with ``B`` a random
    ``(ambient, k)`` matrix with orthonormal columns -- the same ``B`` as
    :func:`gaussian_mixture_subspace` for the same ``(seed, k, ambient)``.

    Parameters
    ----------
    n : int
        Number of points, ``>= 1``.
    k : int
        Latent dimension (the parity's order), ``1 <= k <= ambient``.
    ambient : int
        Ambient dimension, ``>= 1``.
    seed : int, default 0
        Seeds the basis only.
    sample_seed : int or None, default None
        Seeds the latent draw (``None``: ``seed``).
    target : {"label", "value"}, default "label"
        Class labels (int64) or the real value ``prod(z)``.

    Returns
    -------
    Dataset
        ``info``: ``generator, k, ambient, target, seed, sample_seed, basis,
        coherence``.

    Examples
    --------
    >>> ds = parity_subspace(8, k=3, ambient=5, seed=0)
    >>> ds.X.shape, ds.task, ds.n_outputs
    ((8, 5), 'classification', 2)
    >>> parity_subspace(8, k=3, ambient=5, target="value").y.shape
    (8, 1)
    """
    n = _check_int("n", n, 1)
    ambient = _check_int("ambient", ambient, 1)
    k = _check_int("k", k, 1, ambient)
    seed = _check_seed("seed", seed)
    sample_seed = _check_seed("sample_seed", sample_seed, allow_none=True)
    target = _check_choice("target", target, _PARITY_TARGETS)

    rs, rx = _streams(seed, sample_seed)
    basis = _random_orthonormal(rs, ambient, k)
    z = rx.uniform(-1.0, 1.0, size=(n, k))
    value = np.prod(z, axis=1)
    y = (value > 0).astype(np.int64) if target == "label" else value.reshape(-1, 1)
    info = {
        "generator": "parity_subspace",
        "k": k,
        "ambient": ambient,
        "target": target,
        "seed": seed,
        "sample_seed": seed if sample_seed is None else sample_seed,
        "basis": basis,
        "coherence": subspace_coherence(basis),
    }
    return Dataset(z @ basis.T, y, name="parity", info=info)


def coherence_embedding(
    n: int,
    *,
    family: str,
    active: int,
    copies: int = 10,
    seed: int = 0,
    sample_seed: int | None = None,
    nested: bool = False,
) -> Dataset:
    r"""Synthetic-coherence regression data (E1).

    Latent ``z ~ N(0, I_2)``, teacher ``y = relu(z_1 + z_2)`` as an ``(n, 1)``
    target, inputs ``x = A z`` in ``R^{2 copies}`` with an embedding
    ``A`` of shape ``(2 copies, 2)``:

    - ``"exact_copy"``: ``z`` copied into the first ``active`` coordinate pairs
      ``(0, 1), (2, 3), ...``, each copy scaled by ``1/sqrt(active)``;
    - ``"random_tight_frame"``: ``active`` distinct coordinate pairs chosen at
      random, pair ``j`` receiving ``R_j z / sqrt(active)`` with an independent
      random rotation ``R_j`` (a tight frame: ``A^T A = I``).

    In both families ``A`` has orthonormal columns and the coherence of its span
    (D1) is ``nu = 1 / active``.

    Parameters
    ----------
    n : int
        Number of points, ``>= 1``.
    family : {"exact_copy", "random_tight_frame"}
        Embedding family.
    active : int
        Number of active copies, ``1 <= active <= copies``.
    copies : int, default 10
        Number of coordinate pairs; ambient dimension ``2 * copies``.
    seed : int, default 0
        Seeds the embedding (pairs and rotations) only.
    sample_seed : int or None, default None
        Seeds the latent draw (``None``: ``seed``).
    nested : bool, default False
        ``"random_tight_frame"`` only: draw one permutation of all ``copies`` pairs
        and one rotation angle per pair from ``seed`` and use the first ``active``
        pairs of the permutation with their angles, so that one ``seed`` gives nested
        embeddings across ``active`` (common random numbers, as the authors' code;
        ``active`` pairs are a subset of ``active + 1`` pairs, with the same
        rotations). ``False``: pairs and angles drawn for this ``active`` alone.

    Returns
    -------
    Dataset
        ``info``: ``generator, family, active, copies, seed, sample_seed, nested,
        embedding (2 copies, 2), pairs (active,), rotations (active, 2, 2),
        coherence`` (computed from ``embedding``). ``z = X @ info["embedding"]``.

    Examples
    --------
    >>> ds = coherence_embedding(64, family="random_tight_frame", active=4, seed=0)
    >>> ds.X.shape, ds.y.shape, round(ds.info["coherence"], 12)
    ((64, 20), (64, 1), 0.25)
    """
    family = _check_choice("family", family, _COHERENCE_FAMILIES)
    n = _check_int("n", n, 1)
    copies = _check_int("copies", copies, 1)
    active = _check_int("active", active, 1, copies)
    seed = _check_seed("seed", seed)
    sample_seed = _check_seed("sample_seed", sample_seed, allow_none=True)
    if not isinstance(nested, (bool, np.bool_)):
        raise InvalidOptionError(f"nested must be True or False, found {nested!r}")

    rs, rx = _streams(seed, sample_seed)
    if family == "exact_copy":
        pairs = np.arange(active, dtype=np.int64)
        rotations = np.broadcast_to(np.eye(2), (active, 2, 2)).copy()
    else:
        if nested:
            order = rs.permutation(copies)
            angle_of_pair = rs.uniform(0.0, 2.0 * np.pi, size=copies)
            pairs = np.sort(order[:active]).astype(np.int64)
            angles = angle_of_pair[pairs]
        else:
            pairs = np.sort(rs.choice(copies, size=active, replace=False)).astype(np.int64)
            angles = rs.uniform(0.0, 2.0 * np.pi, size=active)
        c, s = np.cos(angles), np.sin(angles)
        rotations = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], 1)
    embedding = np.zeros((2 * copies, 2))
    for j, p in enumerate(pairs):
        embedding[2 * p : 2 * p + 2] = rotations[j] / math.sqrt(active)

    z = rx.standard_normal((n, 2))
    y = np.maximum(z[:, 0] + z[:, 1], 0.0).reshape(-1, 1)
    info = {
        "generator": "coherence_embedding",
        "family": family,
        "active": active,
        "copies": copies,
        "seed": seed,
        "sample_seed": seed if sample_seed is None else sample_seed,
        "nested": bool(nested),
        "embedding": embedding,
        "pairs": pairs,
        "rotations": rotations,
        "coherence": subspace_coherence(embedding),
    }
    return Dataset(z @ embedding.T, y, name=f"coherence-{family}", info=info)


def digits(*, seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits (no download), shuffled.

    Parameters
    ----------
    seed : int, default 0
        Seeds the shuffle of the 1797 points.

    Returns
    -------
    Dataset
        ``X`` ``(1797, 64)`` in ``[0, 1]`` (pixel counts divided by 16), ``y``
        int64 labels 0-9.

    Raises
    ------
    InvalidOptionError
        If scikit-learn is not installed.

    Examples
    --------
    >>> ds = digits(seed=0)  # doctest: +SKIP
    >>> ds.X.shape, ds.n_classes  # doctest: +SKIP
    ((1797, 64), 10)
    """
    seed = _check_seed("seed", seed)
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - depends on the environment
        raise InvalidOptionError(
            "the digits data set needs scikit-learn: pip install 'neuronid[data]'"
        ) from None
    bunch = load_digits()
    order = np.random.default_rng(seed).permutation(bunch.data.shape[0])
    X = np.asarray(bunch.data, dtype=np.float64)[order] / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)[order]
    info = {"generator": "digits", "source": "sklearn.datasets.load_digits",
            "scale": 1.0 / 16.0, "seed": seed}
    return Dataset(X, y, name="digits", info=info)


def train_test_split(
    ds: Dataset,
    *,
    n_test: int | None = None,
    test_fraction: float | None = None,
    seed: int = 0,
) -> tuple[Dataset, Dataset]:
    """Split ``ds`` into a training and a test set at random.

    Give exactly one of ``n_test`` and ``test_fraction``. Both parts keep the
    original row order; ``info`` gains ``"split"`` (``"train"``/``"test"``) and
    ``"split_seed"``.

    Parameters
    ----------
    ds : Dataset
        Data to split, ``n >= 2``.
    n_test : int, optional
        Test set size, ``1 <= n_test <= n - 1``.
    test_fraction : float, optional
        Test set fraction in ``(0, 1)``; ``n_test = round(test_fraction * n)``,
        which must lie in ``[1, n - 1]``.
    seed : int, default 0
        Seeds the choice of test points.

    Returns
    -------
    (Dataset, Dataset)
        ``(train, test)``.

    Examples
    --------
    >>> ds = parity_subspace(10, k=2, ambient=3)
    >>> train, test = train_test_split(ds, test_fraction=0.3)
    >>> train.n, test.n
    (7, 3)
    """
    if (n_test is None) == (test_fraction is None):
        raise InvalidOptionError(
            f"give exactly one of the options n_test and test_fraction; found "
            f"n_test={n_test!r}, test_fraction={test_fraction!r}"
        )
    seed = _check_seed("seed", seed)
    if ds.n < 2:
        raise InvalidOptionError(
            f"train_test_split needs a data set with n >= 2 points; found n={ds.n}"
        )
    if test_fraction is not None:
        frac = _check_positive("test_fraction", test_fraction)
        if frac >= 1.0:
            raise InvalidOptionError(
                f"option test_fraction={test_fraction!r} is out of range: expected "
                f"a real number in (0, 1)"
            )
        n_test = int(round(frac * ds.n))
        if not 1 <= n_test <= ds.n - 1:
            raise InvalidOptionError(
                f"option test_fraction={test_fraction!r} gives n_test={n_test} for "
                f"n={ds.n}: expected a test set of 1 to {ds.n - 1} points"
            )
    else:
        n_test = _check_int("n_test", n_test, 1, ds.n - 1)
    perm = np.random.default_rng(seed).permutation(ds.n)
    test_rows = np.sort(perm[:n_test])
    train_rows = np.sort(perm[n_test:])
    out = []
    for part, rows in (("train", train_rows), ("test", test_rows)):
        sub = ds.subset(rows)
        out.append(Dataset(sub.X, sub.y, name=ds.name,
                           info={**ds.info, "split": part, "split_seed": seed}))
    return out[0], out[1]


# --------------------------------------------------------------------------- #
# Registry for the CLI
# --------------------------------------------------------------------------- #


def _coherence_exact(n: int, *, active: int, copies: int = 10, seed: int = 0,
                     sample_seed: int | None = None) -> Dataset:
    return coherence_embedding(n, family="exact_copy", active=active, copies=copies,
                               seed=seed, sample_seed=sample_seed)


def _coherence_frame(n: int, *, active: int, copies: int = 10, seed: int = 0,
                     sample_seed: int | None = None) -> Dataset:
    return coherence_embedding(n, family="random_tight_frame", active=active,
                               copies=copies, seed=seed, sample_seed=sample_seed)


def _digits_n(n: int | None = None, *, seed: int = 0) -> Dataset:
    if n is not None:
        n = _check_int("n", n, 1, _DIGITS_N)
    ds = digits(seed=seed)
    return ds if n is None else ds.subset(slice(0, n))


#: Name -> ``callable(n, *, seed=0, **options) -> Dataset``, for the CLI.
DATASETS: dict[str, Callable[..., Dataset]] = {
    "subspace": gaussian_mixture_subspace,
    "parity": parity_subspace,
    "coherence-exact": _coherence_exact,
    "coherence-frame": _coherence_frame,
    "digits": _digits_n,
}


def make_dataset(name: str, n: int | None, *, seed: int = 0, **options: Any) -> Dataset:
    """Build the registered data set ``name`` with ``n`` points.

    Parameters
    ----------
    name : str
        One of ``"subspace"``, ``"parity"``, ``"coherence-exact"``,
        ``"coherence-frame"``, ``"digits"`` (keys of :data:`DATASETS`).
    n : int or None
        Number of points. Only ``"digits"`` accepts ``None`` (all 1797 points) and
        allows at most 1797.
    seed : int, default 0
        Passed to the generator.
    **options
        The generator's keyword options (e.g. ``k=8`` for ``"subspace"``).

    Returns
    -------
    Dataset

    Raises
    ------
    InvalidOptionError
        Unknown name, missing or unknown option, or an option out of range.

    Examples
    --------
    >>> round(make_dataset("coherence-exact", 32, active=4).info["coherence"], 12)
    0.25
    >>> make_dataset("subspace", 40, k=2, ambient=8).X.shape
    (40, 8)
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise InvalidOptionError(
            f"unknown data set {name!r}: expected one of {', '.join(DATASETS)}"
        )
    fn = DATASETS[name]
    sig = inspect.signature(fn)
    if n is None and name != "digits":
        raise InvalidOptionError(
            f"option n=None is invalid for data set {name!r}: expected a number of "
            f"points >= 1"
        )
    try:
        sig.bind(n, seed=seed, **options)
    except TypeError as exc:
        accepted = [p for p in sig.parameters if p not in ("n", "seed")]
        required = [p.name for p in sig.parameters.values()
                    if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
        raise InvalidOptionError(
            f"bad options for data set {name!r} ({exc}): it accepts "
            f"{', '.join(accepted) or 'no options'}"
            + (f" and requires {', '.join(required)}" if required else "")
        ) from None
    return fn(n, seed=seed, **options)
