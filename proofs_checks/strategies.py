"""Hypothesis strategies for networks, data and pairs of networks (public).

Plain functions returning strategies, in the style of ``hypothesis.extra``: every
option is keyword-only and validated on first use (a bad option raises
:class:`~neuronid.errors.InvalidOptionError` when the strategy is first drawn
from, not when it is defined, so a module-level definition never breaks test
collection). Ranges are given as an ``int`` (fixed) or a ``(low, high)`` pair
(inclusive). Weights are generated from integer seeds with numpy (shrinking moves
towards small sizes and seeds).

- :func:`structures`: a :class:`StructureSpec` (kind, sizes, activations, masks and
  fixed parts through a structure seed) whose :meth:`~StructureSpec.build` makes
  networks of that one structure;
- :func:`networks`: a :class:`~neuronid.numerics.network.Network`;
- :func:`supports`: an orthonormal basis ``U`` (``d x rank``), optionally with a
  target subspace coherence ``nu(U) = max_j ||U^T e_j||^2`` (D1);
- :func:`datasets`: data ``X`` (``n x d``), optionally in a rank-``r`` subspace;
- :func:`targets`: labels or real targets for a loss;
- :func:`network_pairs`: two independent networks of one structure and data
  (a :class:`Pair`);
- :func:`identified_pairs`: ``B`` obtained from ``A`` by *effective* symmetries that
  leave the function on the data unchanged (a :class:`Pair` that lists the
  :class:`Move` s applied);
- :func:`run_certificate_property`: the T4 certificate's property harness without
  hypothesis (random pairs from a numpy generator; for benchmarks and long runs).

The module is longer than most (about 900 lines) because it is one concept, the
public generators of test cases; the moves and the coherence construction need their
helpers next to the strategies that use them.

Moves of :func:`identified_pairs` and T2's identity correspondence (H3: neuron ``i``
computes the same function on the data in A and in B):

=============  ===============================================================  ==========
move           what changes                                                     keeps H3
=============  ===============================================================  ==========
``nullspace``  trainable entries of a row move by ``delta`` with                yes
               ``X^l (m * delta) = 0`` (the null space of the layer's support,
               restricted to the row's trainable entries): pre-activations on
               the data are unchanged
``rescale``    ReLU / leaky-ReLU neuron: incoming row and bias times            no (``h_i``
               ``alpha > 0``, outgoing column over ``alpha`` (D7, P6)           scales)
``signflip``   odd activation (tanh, hard tanh, identity): incoming row, bias   no
               and outgoing column negated (D7)
``permute``    interchangeable neurons (same activation, masks and fixed        no
               parts) permuted, rows and next-layer columns (P2)
=============  ===============================================================  ==========

``rescale`` and ``signflip`` need the neuron's fixed parts (incoming row, outgoing
column) to be zero; ``nullspace`` never touches fixed parts or masked entries.

Examples
--------
>>> from hypothesis import given, settings
>>> @settings(max_examples=5, deadline=None)
... @given(identified_pairs(moves=("nullspace",), kinds=("standard",)))
... def check(pair):
...     assert pair.keeps_identity and pair.max_output_difference <= 1e-9 * pair.output_scale
>>> check()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from hypothesis import strategies as st

from neuronid.numerics.activations import parse_activation
from neuronid.numerics.alignment import output_scale, permute_network
from neuronid.numerics.certificate import FLOAT_SLACK, certificate, exceeds_bound, path_outputs
from neuronid.numerics.losses import loss_per_sample
from neuronid.numerics.network import Layer, Network
from neuronid.numerics.paths import barriers, path_grid
from neuronid.numerics.structures import sigma_asymmetric_mlp, standard_mlp, syre_mlp, w_mlp
from neuronid.errors import InvalidOptionError, UnknownActivationError

__all__ = [
    "run_certificate_property",
    "KINDS",
    "DEFAULT_ACTIVATIONS",
    "MONOTONE_ACTIVATIONS",
    "MOVES",
    "StructureSpec",
    "Move",
    "Pair",
    "structures",
    "networks",
    "supports",
    "coherence",
    "datasets",
    "targets",
    "network_pairs",
    "identified_pairs",
]

#: structure kinds (THEORY.md section 0)
KINDS = ("standard", "w-mlp", "syre", "sigma-asym")
#: activations drawn by default (catalogue names with numba kernels)
DEFAULT_ACTIVATIONS = (
    "relu", "leaky_relu:0.1", "tanh", "sigmoid", "gelu", "softplus", "elu", "silu", "hard_tanh", "identity",
)
#: non-decreasing activations of the catalogue (T2's H2)
MONOTONE_ACTIVATIONS = ("relu", "leaky_relu:0.1", "tanh", "sigmoid", "softplus", "elu", "hard_tanh", "identity")
#: effective symmetries :func:`identified_pairs` can apply
MOVES = ("nullspace", "rescale", "signflip", "permute")
#: moves that keep identity correspondence (T2's H3)
IDENTITY_KEEPING = frozenset({"nullspace"})

_HOMOGENEOUS = ("relu", "leaky_relu")
_ODD = ("tanh", "hard_tanh", "identity")
_SEED = st.integers(0, 2**32 - 1)


# --------------------------------------------------------------------------- validation
def _range(name: str, value, *, minimum: int, maximum: int | None = None) -> tuple[int, int]:
    """An int or an inclusive ``(low, high)`` pair -> ``(low, high)``."""
    if isinstance(value, (bool, np.bool_)):
        raise InvalidOptionError(f"{name} must be an int or a (low, high) pair of ints, found {value!r}")
    if isinstance(value, Integral):
        lo = hi = int(value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, Integral) and not isinstance(v, (bool, np.bool_)) for v in value
    ):
        lo, hi = int(value[0]), int(value[1])
    else:
        raise InvalidOptionError(f"{name} must be an int or a (low, high) pair of ints, found {value!r}")
    if lo > hi:
        raise InvalidOptionError(f"{name}: low {lo} is greater than high {hi}")
    if lo < minimum:
        raise InvalidOptionError(f"{name} must be >= {minimum}, found {value!r}")
    if maximum is not None and hi > maximum:
        raise InvalidOptionError(f"{name} must be <= {maximum}, found {value!r}")
    return lo, hi


def _float_range(name: str, value, *, positive: bool = True) -> tuple[float, float]:
    if isinstance(value, (bool, np.bool_)):
        raise InvalidOptionError(f"{name} must be a number or a (low, high) pair, found {value!r}")
    if isinstance(value, Real):
        lo = hi = float(value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, Real) and not isinstance(v, (bool, np.bool_)) for v in value
    ):
        lo, hi = float(value[0]), float(value[1])
    else:
        raise InvalidOptionError(f"{name} must be a number or a (low, high) pair, found {value!r}")
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi or (positive and lo <= 0):
        raise InvalidOptionError(
            f"{name} must be finite{' and > 0' if positive else ''} with low <= high, found {value!r}"
        )
    return lo, hi


def _choices(name: str, value, valid) -> tuple:
    if isinstance(value, str):
        value = (value,)
    try:
        value = tuple(value)
    except TypeError:
        raise InvalidOptionError(f"{name} must be a sequence of names, found {value!r}") from None
    if not value:
        raise InvalidOptionError(f"{name} must not be empty; valid: {', '.join(valid)}")
    bad = [v for v in value if v not in valid]
    if bad:
        raise InvalidOptionError(f"{name}: unknown {', '.join(map(repr, bad))}; valid: {', '.join(valid)}")
    return value


def _activations(value) -> tuple:
    if isinstance(value, str):
        value = (value,)
    try:
        value = tuple(value)
    except TypeError:
        raise InvalidOptionError(f"activations must be a sequence of activation names, found {value!r}") from None
    if not value:
        raise InvalidOptionError("activations must not be empty")
    out = []
    for v in value:
        try:
            out.append(parse_activation(v).name)
        except UnknownActivationError as exc:
            raise InvalidOptionError(f"activations: {exc}") from None
    return tuple(out)


def _dtype(value):
    try:
        dt = np.dtype(value)
    except TypeError:
        raise InvalidOptionError(f"dtype must be float64 or float32, found {value!r}") from None
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise InvalidOptionError(f"dtype must be float64 or float32, found {dt}")
    return dt


def _lazy(build):
    """A strategy built (and its options validated) on first use."""
    return st.deferred(build)


# --------------------------------------------------------------------------- structures
@dataclass(frozen=True)
class StructureSpec:
    """One structure (THEORY.md section 0): networks built from it share masks, fixed
    parts and activations and differ only in their trainable parameters.

    Attributes
    ----------
    kind : one of :data:`KINDS`.
    sizes : ``(d_in, m_1, ..., d_out)``.
    activations : per hidden layer a name, or a tuple of names (sigma-asymmetric).
    n_fixed : W-MLP: fixed entries per row, per layer (``None`` otherwise).
    sigma_F : W-MLP fixed-weight scale.
    kappa : syre offset scale.
    structure_seed : seed of masks and fixed parts.
    """

    kind: str
    sizes: tuple
    activations: tuple
    n_fixed: tuple | None = None
    sigma_F: float = 0.0
    kappa: float = 0.0
    structure_seed: int = 0

    def build(self, seed: int, *, scale: float = 1.0, dtype=np.float64) -> Network:
        """A network of this structure with trainable parameters from ``seed``.

        Trainable weights and biases are PyTorch-style initialized and multiplied by
        ``scale``; ``dtype=float32`` rounds them to float32 values (stored as float64).

        >>> spec = StructureSpec("w-mlp", (3, 4, 2), ("relu",), n_fixed=(1, 1), sigma_F=1.0)
        >>> A, B = spec.build(0), spec.build(1)
        >>> A.structure_differences(B)
        []
        """
        sizes = list(self.sizes)
        acts = list(self.activations)
        if self.kind == "standard":
            net = standard_mlp(sizes, activation=acts, seed=seed)
        elif self.kind == "w-mlp":
            net = w_mlp(sizes, activation=acts, n_fixed=list(self.n_fixed), sigma_F=self.sigma_F,
                        seed=seed, structure_seed=self.structure_seed)
        elif self.kind == "syre":
            net = syre_mlp(sizes, activation=acts, kappa=self.kappa, seed=seed, structure_seed=self.structure_seed)
        else:
            net = sigma_asymmetric_mlp(sizes, activations=[list(a) for a in acts] or None, seed=seed,
                                       structure_seed=self.structure_seed)
        layers = []
        for l, layer in enumerate(net.layers):
            W, b = layer.weight * scale, layer.bias * scale
            if np.dtype(dtype) == np.float32:
                W, b = W.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)
            layers.append(Layer(W, b, layer.mask, layer.fixed, layer.activation, where=f"layer {l}"))
        return Network(layers)


def _structure_strategy(kinds, depth, width, n_inputs, n_outputs, activations):
    kinds = _choices("kinds", kinds, KINDS)
    depth = _range("depth", depth, minimum=0)
    width = _range("width", width, minimum=1)
    n_inputs = _range("n_inputs", n_inputs, minimum=1)
    n_outputs = _range("n_outputs", n_outputs, minimum=1)
    acts = _activations(activations)

    @st.composite
    def draw(draw):
        kind = draw(st.sampled_from(kinds))
        L = draw(st.integers(*depth))
        sizes = (draw(st.integers(*n_inputs)),) + tuple(draw(st.integers(*width)) for _ in range(L)) + (
            draw(st.integers(*n_outputs)),
        )
        sseed = draw(_SEED)
        if kind == "sigma-asym":
            layer_acts = tuple(
                tuple(draw(st.lists(st.sampled_from(acts), min_size=m, max_size=m))) for m in sizes[1:-1]
            )
        else:
            act = draw(st.sampled_from(acts))
            layer_acts = (act,) * L
        n_fixed = None
        sigma_F = kappa = 0.0
        if kind == "w-mlp":
            n_fixed = tuple(draw(st.integers(0, sizes[l])) for l in range(len(sizes) - 1))
            sigma_F = draw(st.sampled_from((0.0, 1.0)))
        elif kind == "syre":
            kappa = draw(st.floats(0.0, 1.0, allow_nan=False))
        return StructureSpec(kind, sizes, layer_acts, n_fixed, sigma_F, kappa, sseed)

    return draw()


def structures(
    *,
    kinds=KINDS,
    depth=(1, 3),
    width=(1, 8),
    n_inputs=(1, 6),
    n_outputs=(1, 3),
    activations=DEFAULT_ACTIVATIONS,
) -> st.SearchStrategy[StructureSpec]:
    """Structures (:class:`StructureSpec`).

    Parameters
    ----------
    kinds : subset of :data:`KINDS`.
    depth : number of hidden layers (int or inclusive range).
    width, n_inputs, n_outputs : layer sizes (int or inclusive range).
    activations : names drawn from (one per layer; one per neuron for sigma-asym).

    >>> spec = structures(kinds=("syre",), depth=1, width=3).example()
    >>> spec.kind, len(spec.sizes), spec.sizes[1]
    ('syre', 3, 3)
    """
    return _lazy(lambda: _structure_strategy(kinds, depth, width, n_inputs, n_outputs, activations))


def networks(
    *,
    kinds=KINDS,
    depth=(1, 3),
    width=(1, 8),
    n_inputs=(1, 6),
    n_outputs=(1, 3),
    activations=DEFAULT_ACTIVATIONS,
    scale=(0.5, 2.0),
    dtype=np.float64,
) -> st.SearchStrategy[Network]:
    """Networks of a drawn structure (see :func:`structures`).

    ``scale``: factor on the PyTorch-style initial trainable weights and biases
    (number or range); ``dtype``: float64, or float32 to round parameters to float32
    values (networks always compute in float64).

    >>> net = networks(kinds=("standard",), depth=2, width=4, n_inputs=3).example()
    >>> net.sizes[:3]
    [3, 4, 4]
    """

    def build():
        spec_st = _structure_strategy(kinds, depth, width, n_inputs, n_outputs, activations)
        sc = _float_range("scale", scale)
        dt = _dtype(dtype)
        return st.builds(
            lambda spec, seed, s: spec.build(seed, scale=s, dtype=dt),
            spec_st, _SEED, st.floats(*sc),
        )

    return _lazy(build)


# --------------------------------------------------------------------------- supports, data
def coherence(U) -> float:
    """Subspace coherence ``nu(U) = max_j ||U^T e_j||^2`` (D1), in ``[r/d, 1]``.

    >>> import numpy as np
    >>> coherence(np.eye(4)[:, :2]), coherence(np.full((4, 1), 0.5))
    (1.0, 0.25)
    """
    U = np.asarray(U, dtype=np.float64)
    return float(np.max(np.sum(U * U, axis=1)))


def _orth(M):
    Q, R = np.linalg.qr(M)
    return Q * np.sign(np.where(np.diag(R) == 0, 1.0, np.diag(R)))


def _polar(M):
    """The orthonormal factor of ``M`` (closest orthonormal columns)."""
    Uq, _, Vt = np.linalg.svd(M, full_matrices=False)
    return Uq @ Vt


def _spread_basis(rng, d, r, iters=300):
    """An orthonormal basis with coherence close to the minimum ``r/d``: alternate
    equalizing the row norms and re-orthonormalizing (an equal-norm tight frame)."""
    U = _polar(rng.normal(size=(d, r)))
    for _ in range(iters):
        rows = np.linalg.norm(U, axis=1, keepdims=True)
        U = _polar(U / np.maximum(rows, 1e-300) * np.sqrt(r / d))
    return U


def _basis_with_coherence(rng, d, r, target):
    """Mix the coordinate basis (coherence 1) with a spread one (coherence ~ r/d) by
    bisection on the mixing weight until ``|nu(U) - target| <= 0.01`` (or the
    closest reached)."""
    E = np.eye(d)[:, :r]
    S = _spread_basis(rng, d, r)
    best = S
    lo, hi = 0.0, 1.0  # lam = 0: E (coherence 1), lam = 1: S (low)
    for _ in range(60):
        lam = 0.5 * (lo + hi)
        U = _polar((1 - lam) * E + lam * S)
        nu = coherence(U)
        if abs(nu - target) < abs(coherence(best) - target):
            best = U
        if abs(nu - target) <= 0.01:
            break
        if nu > target:
            lo = lam
        else:
            hi = lam
    return best


def supports(*, d, rank, coherence=None) -> st.SearchStrategy[np.ndarray]:
    """Orthonormal bases ``U`` (``d x rank``, ``U^T U = I``) of rank-``rank`` supports.

    ``coherence=None``: a uniformly random (Haar) subspace. A number or a
    ``(low, high)`` range in ``[0, 1]`` (raised to at least ``rank/d``, the smallest
    possible coherence; a range entirely below it is an error when drawn): the basis
    mixes the coordinate basis (an exact-copy-like embedding, coherence 1) with a
    spread one (an equal-norm tight frame, coherence ``rank/d``), the mixing weight
    found by bisection so that ``nu(U)`` is within 0.01 of the drawn target.

    >>> import numpy as np
    >>> U = supports(d=8, rank=2, coherence=0.5).example()
    >>> U.shape, bool(np.allclose(U.T @ U, np.eye(2))), abs(coherence_of(U) - 0.5) <= 0.01
    ((8, 2), True, True)
    """

    def build():
        dd = _range("d", d, minimum=1)
        rr = _range("rank", rank, minimum=1)
        if rr[0] > dd[1]:
            raise InvalidOptionError(f"rank {rank!r} cannot exceed d {d!r}")
        coh = None if coherence is None else _float_range("coherence", coherence, positive=False)
        if coh is not None and (coh[1] > 1.0 or coh[0] < 0.0):
            raise InvalidOptionError(f"coherence must lie in [rank/d, 1], found {coherence!r}")

        @st.composite
        def draw(draw):
            dim = draw(st.integers(*dd))
            r = draw(st.integers(rr[0], min(rr[1], dim)))
            rng = np.random.default_rng(draw(_SEED))
            if coh is None:
                return _orth(rng.normal(size=(dim, r)))
            lo = max(coh[0], r / dim)
            if lo > coh[1]:
                raise InvalidOptionError(
                    f"coherence {coherence!r} is below the minimum rank/d = {r}/{dim} for d={dim}, rank={r}"
                )
            target = draw(st.floats(lo, coh[1]))
            return _basis_with_coherence(rng, dim, r, target)

        return draw()

    return _lazy(build)


coherence_of = coherence  # doctest alias (the keyword ``coherence`` shadows the function there)


def datasets(*, n=(4, 32), d=(1, 6), rank=None, scale=(0.5, 3.0)) -> st.SearchStrategy[np.ndarray]:
    """Data ``X`` (``n x d``, float64): Gaussian rows times a drawn scale.

    ``rank`` (int or range, ``<= d``): the rows lie in a random rank-``r`` linear
    subspace (a low-rank support, D1), so first-layer weights have a null space.

    >>> import numpy as np
    >>> X = datasets(n=10, d=5, rank=2).example()
    >>> X.shape, int(np.linalg.matrix_rank(X))
    ((10, 5), 2)
    """

    def build():
        nn = _range("n", n, minimum=1)
        dd = _range("d", d, minimum=1)
        rr = None if rank is None else _range("rank", rank, minimum=1)
        sc = _float_range("scale", scale)

        @st.composite
        def draw(draw):
            rows = draw(st.integers(*nn))
            dim = draw(st.integers(*dd))
            r = None if rr is None else draw(st.integers(min(rr[0], dim), min(rr[1], dim)))
            return _make_data(np.random.default_rng(draw(_SEED)), rows, dim, r, draw(st.floats(*sc)))

        return draw()

    return _lazy(build)


def _make_data(rng, n, d, r, scale):
    if r is None or r >= d:
        return rng.normal(size=(n, d)) * scale
    U = _orth(rng.normal(size=(d, r)))
    return np.ascontiguousarray(rng.normal(size=(n, r)) @ U.T * scale)


def targets(*, n: int, n_outputs: int, loss: str) -> st.SearchStrategy[np.ndarray]:
    """Targets for ``loss``: integer labels ``(n,)`` in ``[0, n_outputs)`` for ``"ce"``,
    real ``(n, n_outputs)`` for ``"mse"``.

    >>> targets(n=5, n_outputs=3, loss="ce").example().shape
    (5,)
    """

    def build():
        rows = _range("n", n, minimum=1)[0]
        o = _range("n_outputs", n_outputs, minimum=1)[0]
        if loss not in ("mse", "ce"):
            raise InvalidOptionError(f"loss must be 'mse' or 'ce', found {loss!r}")

        def make(seed):
            rng = np.random.default_rng(seed)
            if loss == "ce":
                return rng.integers(0, o, size=rows)
            return rng.normal(size=(rows, o))

        return st.builds(make, _SEED)

    return _lazy(build)


# --------------------------------------------------------------------------- pairs
@dataclass(frozen=True)
class Move:
    """One effective symmetry applied by :func:`identified_pairs`.

    ``layer``: the hidden layer (index from 0) whose neurons moved, or for
    ``nullspace`` the layer whose weights moved (the output layer included);
    ``neurons``: the rows moved; ``detail``: a readable summary; ``values``: the
    parameters, one per entry of ``neurons`` (``alpha`` for ``rescale``, ``-1.0`` for
    ``signflip``, the source neuron for ``permute``: B's neuron ``i`` is A's neuron
    ``values[k]`` for ``i = neurons[k]``; empty for ``nullspace``).
    """

    kind: str
    layer: int
    neurons: tuple
    detail: str
    values: tuple = ()

    @property
    def keeps_identity(self) -> bool:
        return self.kind in IDENTITY_KEEPING


@dataclass
class Pair:
    """Two networks of one structure and data ``X``.

    ``moves`` lists what turned A into B (empty for independent pairs, where
    ``independent`` is True). ``max_output_difference`` is ``max |f_A - f_B|`` on
    ``X`` and ``output_scale`` the magnitude of the output layer's summands
    (:func:`neuronid.numerics.alignment.output_scale`), for relative comparisons.
    """

    A: Network
    B: Network
    X: np.ndarray
    moves: tuple = ()
    independent: bool = False
    max_output_difference: float = float("nan")
    output_scale: float = float("nan")
    spec: StructureSpec | None = field(default=None, repr=False)

    @property
    def keeps_identity(self) -> bool:
        """True when every move keeps identity correspondence (T2's H3) and the pair is
        not independent."""
        return not self.independent and all(m.keeps_identity for m in self.moves)

    @property
    def move_kinds(self) -> frozenset:
        return frozenset(m.kind for m in self.moves)

    @property
    def description(self) -> str:
        if self.independent:
            return "independent pair"
        if not self.moves:
            return "B = A (no move applied)"
        return "; ".join(f"{m.kind} layer {m.layer}: {m.detail}" for m in self.moves)


def _pair_numbers(A, B, X):
    diff = float(np.max(np.abs(A.forward(X) - B.forward(X))))
    return diff, output_scale(A, X)


def _pair_options(kinds, depth, width, n_inputs, n_outputs, activations, n, scale, dtype):
    spec_st = _structure_strategy(kinds, depth, width, n_inputs, n_outputs, activations)
    nn = _range("n", n, minimum=1)
    sc = _float_range("scale", scale)
    dt = _dtype(dtype)
    return spec_st, nn, sc, dt


def network_pairs(
    *,
    kinds=KINDS,
    depth=(1, 3),
    width=(1, 8),
    n_inputs=(1, 6),
    n_outputs=(1, 3),
    activations=DEFAULT_ACTIVATIONS,
    n=(4, 32),
    scale=(0.5, 2.0),
    dtype=np.float64,
) -> st.SearchStrategy[Pair]:
    """Independent pairs: one drawn structure, two seeds (and scales), Gaussian data.

    >>> pair = network_pairs(kinds=("w-mlp",), depth=1).example()
    >>> pair.independent, pair.A.structure_differences(pair.B)
    (True, [])
    """

    def build():
        spec_st, nn, sc, dt = _pair_options(kinds, depth, width, n_inputs, n_outputs, activations, n, scale, dtype)

        @st.composite
        def draw(draw):
            spec = draw(spec_st)
            A = spec.build(draw(_SEED), scale=draw(st.floats(*sc)), dtype=dt)
            B = spec.build(draw(_SEED), scale=draw(st.floats(*sc)), dtype=dt)
            rng = np.random.default_rng(draw(_SEED))
            X = _make_data(rng, draw(st.integers(*nn)), spec.sizes[0], None, draw(st.floats(0.5, 3.0)))
            diff, out_scale = _pair_numbers(A, B, X)
            return Pair(A, B, X, (), True, diff, out_scale, spec)

        return draw()

    return _lazy(build)


def _null_space(H, tol_factor=1e3):
    """Orthonormal basis (columns) of ``{v : H v = 0}`` (numerical)."""
    n, k = H.shape
    if k == 0:
        return np.zeros((0, 0))
    _, s, Vt = np.linalg.svd(H, full_matrices=True)
    smax = s[0] if s.size else 0.0
    tol = tol_factor * max(n, k) * np.finfo(np.float64).eps * max(smax, 1e-300)
    r = int(np.sum(s > tol))
    return Vt[r:].T


def _set_layer(net: Network, l: int, *, weight=None, bias=None) -> Network:
    layers = [layer.copy() for layer in net.layers]
    old = layers[l]
    layers[l] = Layer(
        old.weight if weight is None else weight, old.bias if bias is None else bias,
        old.mask, old.fixed, old.activation, old.norm, where=f"layer {l}",
    )
    return Network(layers)


def _apply_nullspace(B, A, X, rng, move_prob):
    moves = []
    trace = A.forward(X, record=True)
    for l, layer in enumerate(A.layers):
        if rng.random() >= move_prob:
            continue
        H = trace.inputs[l]
        W = B.layers[l].weight.copy()
        rows, entries, ranks = [], 0, set()
        for i in range(layer.shape[0]):
            S = np.flatnonzero(layer.mask[i] == 1.0)
            N = _null_space(H[:, S])
            if N.shape[1] == 0:
                continue
            delta = N @ rng.normal(size=N.shape[1])
            size = float(np.exp(rng.uniform(np.log(0.25), np.log(2.0)))) * (np.linalg.norm(W[i]) + 0.5)
            W[i, S] += delta / np.linalg.norm(delta) * size
            rows.append(i)
            entries += S.size
            ranks.add(S.size - N.shape[1])
        if rows:
            B = _set_layer(B, l, weight=W)
            moves.append(Move("nullspace", l, tuple(rows),
                              f"{len(rows)} rows, {entries} trainable entries, support rank {sorted(ranks)}"))
    return B, moves


def _zero_fixed(net, l, i):
    return not np.any(net.layers[l].fixed[i]) and not np.any(net.layers[l + 1].fixed[:, i])


def _apply_scaling(B, rng, kind, move_prob):
    """``rescale`` (homogeneous activations, alpha > 0) or ``signflip`` (odd, alpha = -1)."""
    moves = []
    family = _HOMOGENEOUS if kind == "rescale" else _ODD
    for l, layer in enumerate(B.layers[:-1]):
        picked, alphas = [], []
        Wl, bl = B.layers[l].weight.copy(), B.layers[l].bias.copy()
        Wn = B.layers[l + 1].weight.copy()
        for i, name in enumerate(layer.names):
            if name.split(":")[0] not in family or not _zero_fixed(B, l, i) or rng.random() >= move_prob:
                continue
            a = float(np.exp(rng.uniform(np.log(0.25), np.log(4.0)))) if kind == "rescale" else -1.0
            Wl[i] *= a
            bl[i] *= a
            Wn[:, i] /= a
            picked.append(i)
            alphas.append(a)
        if picked:
            B = _set_layer(_set_layer(B, l, weight=Wl, bias=bl), l + 1, weight=Wn)
            detail = (f"alpha = {[round(a, 4) for a in alphas]}" if kind == "rescale"
                      else f"{len(picked)} neurons negated")
            moves.append(Move(kind, l, tuple(picked), detail, tuple(alphas)))
    return B, moves


def _apply_permutation(B, rng, move_prob):
    moves = []
    perms = []
    for l, layer in enumerate(B.layers[:-1]):
        nxt = B.layers[l + 1]
        m = layer.shape[0]
        perm = np.arange(m)
        if rng.random() < move_prob:
            groups: dict = {}
            for i in range(m):
                key = (layer.names[i], layer.mask[i].tobytes(), layer.fixed[i].tobytes(),
                       nxt.mask[:, i].tobytes(), nxt.fixed[:, i].tobytes())
                groups.setdefault(key, []).append(i)
            for idx in groups.values():
                if len(idx) > 1:
                    perm[idx] = rng.permutation(idx)
        perms.append(perm)
        moved = np.flatnonzero(perm != np.arange(m))
        if moved.size:
            moves.append(Move("permute", l, tuple(int(i) for i in moved), f"perm = {perm.tolist()}",
                              tuple(int(perm[i]) for i in moved)))
    if moves:
        B = permute_network(B, perms)
    return B, moves


def identified_pairs(
    *,
    moves=MOVES,
    kinds=KINDS,
    depth=(1, 3),
    width=(1, 8),
    n_inputs=(2, 6),
    n_outputs=(1, 3),
    activations=DEFAULT_ACTIVATIONS,
    n=(4, 32),
    rank=None,
    scale=(0.5, 2.0),
    move_prob=0.75,
) -> st.SearchStrategy[Pair]:
    """Pairs ``(A, B)`` where B computes A's function on ``X`` by effective symmetries.

    Parameters
    ----------
    moves : subset of :data:`MOVES`, applied in the order nullspace, rescale,
        signflip, permute (each where eligible, per layer with probability
        ``move_prob``). Only ``("nullspace",)`` gives pairs with identity
        correspondence (``pair.keeps_identity``) for T2's zero-barrier property;
        the others feed P6 (rescale) and T2-without-H3 counterexamples (permute).
    rank : rank of the data's linear subspace (int or range); default: drawn in
        ``[1, d - 1]`` (``d >= 2``), so the first layer's support has a null space.
    Other options as in :func:`network_pairs`.

    The strategy checks its own output: ``pair.max_output_difference`` (``|f_A - f_B|``
    on ``X``) is at most ``1e-9 * pair.output_scale`` or the draw is an internal error.

    >>> pair = identified_pairs(moves=("rescale",), kinds=("standard",), activations=("relu",)).example()
    >>> pair.keeps_identity, pair.max_output_difference <= 1e-9 * pair.output_scale
    (False, True)
    """

    def build():
        mv = _choices("moves", moves, MOVES)
        spec_st, nn, sc, _ = _pair_options(kinds, depth, width, n_inputs, n_outputs, activations, n, scale,
                                           np.float64)
        rr = None if rank is None else _range("rank", rank, minimum=1)
        if not (isinstance(move_prob, Real) and 0.0 < float(move_prob) <= 1.0):
            raise InvalidOptionError(f"move_prob must lie in (0, 1], found {move_prob!r}")

        @st.composite
        def draw(draw):
            spec = draw(spec_st)
            A = spec.build(draw(_SEED), scale=draw(st.floats(*sc)))
            d = spec.sizes[0]
            rows = draw(st.integers(*nn))
            if rr is not None:
                r = draw(st.integers(min(rr[0], d), min(rr[1], d)))
            else:
                r = draw(st.integers(1, max(1, d - 1)))
            rng = np.random.default_rng(draw(_SEED))
            X = _make_data(rng, rows, d, r, draw(st.floats(0.5, 3.0)))
            B, applied = A.copy(), []
            if "nullspace" in mv:
                B, m1 = _apply_nullspace(B, A, X, rng, move_prob)
                applied += m1
            for kind in ("rescale", "signflip"):
                if kind in mv:
                    B, m2 = _apply_scaling(B, rng, kind, move_prob)
                    applied += m2
            if "permute" in mv:
                B, m3 = _apply_permutation(B, rng, move_prob)
                applied += m3
            diff, out_scale = _pair_numbers(A, B, X)
            if not diff <= 1e-9 * out_scale:  # pragma: no cover - an internal error
                raise AssertionError(
                    f"identified_pairs: B does not compute A's function on X (difference {diff:.3g}, "
                    f"scale {out_scale:.3g}); moves: {applied}"
                )
            return Pair(A, B, X, tuple(applied), False, diff, out_scale, spec)

        return draw()

    return _lazy(build)


# ----------------------------------------------------------------------------- T4 property run (no hypothesis)
_CERTIFICATE_POOL = ("relu", "leaky_relu:0.1", "tanh", "sigmoid", "gelu", "softplus", "elu", "elu:0.5", "silu",
         "hard_tanh", "identity")


def _random_pair(rng):
    """A random pair of one structure (numpy only; see :func:`run_certificate_property`)."""
    depth = int(rng.integers(1, 4))
    sizes = [int(rng.integers(1, 7))] + [int(rng.integers(1, 9)) for _ in range(depth)] + [int(rng.integers(1, 4))]
    kind = ("standard", "w-mlp", "syre", "sigma-asym")[int(rng.integers(0, 4))]
    act = _CERTIFICATE_POOL[int(rng.integers(0, len(_CERTIFICATE_POOL)))]
    sseed = int(rng.integers(0, 2**31))
    seeds = [int(s) for s in rng.integers(0, 2**31, size=2)]
    if kind == "standard":
        nets = [standard_mlp(sizes, activation=act, seed=s) for s in seeds]
    elif kind == "w-mlp":
        n_fixed = [int(rng.integers(0, sizes[l] + 1)) for l in range(len(sizes) - 1)]
        sF = float(rng.choice([0.0, 1.0]))
        nets = [w_mlp(sizes, activation=act, n_fixed=n_fixed, sigma_F=sF, seed=s, structure_seed=sseed) for s in seeds]
    elif kind == "syre":
        nets = [syre_mlp(sizes, activation=act, kappa=float(rng.uniform(0, 1)), seed=s, structure_seed=sseed)
                for s in seeds]
    else:
        nets = [sigma_asymmetric_mlp(sizes, activations=list(_CERTIFICATE_POOL), seed=s, structure_seed=sseed) for s in seeds]
    out = []
    for net in nets:
        scale = float(np.exp(rng.uniform(np.log(0.5), np.log(4.0))))
        for layer in net.layers:
            layer.weight *= scale
            layer.bias *= scale
        out.append(net)
    return kind, out[0], out[1]


def run_certificate_property(n_pairs: int, seed: int = 0, *, steps: int = 201) -> dict:
    """Check T4 on ``n_pairs`` random pairs; count violations (must be 0). The
    hypothesis-free twin of the T4 property test, for benchmarks and long runs
    (``benchmarks/bench_certificate.py --pairs N``).

    Pairs: the four structure kinds, 1-3 hidden layers of width 1-8, 1-6 inputs,
    1-3 outputs, activations from relu, leaky_relu:0.1, tanh, sigmoid, gelu,
    softplus, elu, elu:0.5, silu, hard_tanh, identity (sigma-asymmetric: per neuron),
    weights scaled by a random factor in [0.5, 4]; 4-32 Gaussian samples. Per pair, on
    a ``steps``-point grid: the elementwise output inequality, and the four barrier
    bounds for MSE (random real targets) and CE (random labels), each with the
    relative slack :data:`FLOAT_SLACK`.

    Returns ``dict(pairs, violations, output_violations, loss_violations,
    median_tightness, ...)`` where tightness is measured ``B_lerp`` / bound per loss
    (``median_tightness_positive``: over the pairs whose measured ``B_lerp > 0``;
    many random pairs have a convex path and ``B_lerp = 0``) and
    ``output_tightness`` the largest ``|f_t - lerp f| / (t(1-t) R^L)`` per pair.
    """
    rng = np.random.default_rng(seed)
    grid = path_grid(steps)
    s = grid * (1.0 - grid)
    out = dict(pairs=0, violations=0, output_violations=0, loss_violations=0, unsupported=0, examples=[])
    tight = {"mse": [], "ce": []}
    tight_pos = {"mse": [], "ce": []}
    out_tight = []
    for _ in range(int(n_pairs)):
        kind, A, B = _random_pair(rng)
        n = int(rng.integers(4, 33))
        X = rng.normal(size=(n, A.n_inputs)) * float(rng.uniform(0.5, 3.0))
        cert = certificate(A, B, X, keep_samples=True)
        out["pairs"] += 1
        if not cert.ok:
            out["unsupported"] += 1
            continue
        F = path_outputs(A, B, X, grid)  # (T, n, o), the path kernels (independent of the certificate's)
        lerp = (1.0 - grid)[:, None, None] * F[0] + grid[:, None, None] * F[-1]
        dev = np.abs(F - lerp)
        allowed = s[:, None, None] * cert.samples[None]
        scale = np.abs(F).max() + np.abs(lerp).max()
        excess = dev - allowed * (1 + FLOAT_SLACK) - FLOAT_SLACK * scale
        bad = bool(np.any(excess > 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(allowed > 0, dev / allowed, 0.0)
        out_tight.append(float(np.max(ratio)))
        loss_bad = False
        flat = F.reshape(-1, F.shape[-1])
        for loss in ("mse", "ce"):
            if loss == "mse":
                y = rng.normal(size=(n, A.n_outputs))
                yt = np.tile(y, (grid.size, 1))
            else:
                y = rng.integers(0, A.n_outputs, size=n)
                yt = np.tile(y, grid.size)
            Lt = loss_per_sample(loss, flat, yt).reshape(grid.size, n).mean(axis=1)
            meas = barriers(grid, Lt)
            bnd = cert.barrier_bounds(Lt[0], Lt[-1], loss)
            lscale = abs(Lt[0]) + abs(Lt[-1]) + float(np.max(np.abs(Lt)))
            for k in meas:  # B_lerp, B_peak, B_mid, B_mean
                if exceeds_bound(meas[k], bnd[k], lscale):
                    loss_bad = True
                    if len(out["examples"]) < 5:
                        out["examples"].append(dict(kind=kind, loss=loss, barrier=k, measured=meas[k], bound=bnd[k]))
            if bnd["B_lerp"] > 0:
                tight[loss].append(meas["B_lerp"] / bnd["B_lerp"])
                if meas["B_lerp"] > 0:
                    tight_pos[loss].append(meas["B_lerp"] / bnd["B_lerp"])
        if bad and len(out["examples"]) < 5:
            out["examples"].append(dict(kind=kind, what="output inequality", excess=float(np.max(excess))))
        out["output_violations"] += int(bad)
        out["loss_violations"] += int(loss_bad)
        out["violations"] += int(bad or loss_bad)
    out["median_tightness"] = {k: (float(np.median(v)) if v else None) for k, v in tight.items()}
    out["positive_barrier_pairs"] = {k: len(v) for k, v in tight_pos.items()}
    out["median_tightness_positive"] = {k: (float(np.median(v)) if v else None) for k, v in tight_pos.items()}
    out["max_tightness"] = {k: (float(np.max(v)) if v else None) for k, v in tight.items()}
    out["median_output_tightness"] = float(np.median(out_tight)) if out_tight else None
    out["max_output_tightness"] = float(np.max(out_tight)) if out_tight else None
    out["steps"] = int(grid.size)
    out["seed"] = int(seed)
    out["slack"] = FLOAT_SLACK
    return out
