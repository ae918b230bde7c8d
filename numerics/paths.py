"""Linear paths between two networks and their barriers (THEORY.md D5).

The path is ``theta(t) = (1 - t) theta_A + t theta_B`` over *effective* weights
``mask * weight + fixed`` and biases; for two networks of one structure this equals
interpolating the trainable parameters. Along it we measure the loss and (for integer
labels) the error rate on a grid of ``t`` values and summarize them by four barriers:

.. math::

    B_\\text{lerp} &= \\max_t \\, [L(t) - ((1-t) L(0) + t L(1))] \\\\
    B_\\text{peak} &= \\max_t L(t) - \\max(L(0), L(1)) \\\\
    B_\\text{mid}  &= L(1/2) - \\max(L(0), L(1)) \\\\
    B_\\text{mean} &= \\max_t L(t) - (L(0) + L(1)) / 2

A grid maximum can miss the true maximum between grid points (T4 bounds the whole
path).

Grid. ``steps=T`` gives ``t_i = i / (T - 1)``, computed by division so that
``t = 1/2`` is exact for odd ``T``; the default ``T = 21`` contains ``1/2``. For even
``T`` (or an explicit grid without ``1/2``) the point ``t = 1/2`` is *added* to the
grid, so ``B_mid`` is always a measured value and the returned grid has ``T + 1``
points.

Numerics. The path is evaluated in float64 (checks rely on it): one validation at the
boundary, then per grid point the effective weights ``W_A + t (W_B - W_A)`` (exactly
``W_A`` at ``t = 0`` and ``W_B`` at ``t = 1``; exactly ``W_A`` everywhere when
``W_A == W_B``) are written into preallocated buffers, each layer is one BLAS product
``np.matmul(h, W.T, out=Z)`` followed by one fused numba pass ``Z = sigma(Z + b)``, on
row blocks of 512 samples spread over worker threads (single-threaded BLAS each, see
:mod:`.threads`): a block's pre-activations stay in cache, memory stays bounded, and
the values do not depend on the thread count.

Normalization layers (THEORY N1). ``gamma, beta`` are interpolated like the weights
(BatchNorm: also the running statistics ``mu, v``); a normalized layer adds its bias,
normalizes, then applies the activation. With ``reset_bn=True`` the BatchNorm
statistics of every path point are instead *recomputed* on data (``reset_data``,
default the evaluation inputs), layer by layer from the input, from the interpolated
network, as Git Re-Basin's ``reset_bn_stats`` does: the mean and the *unbiased*
variance over the data (what PyTorch stores as running statistics after one pass in
training mode with ``momentum=None`` and the whole data set as one batch; that pass
normalizes with the biased variance, and so does :func:`reset_batch_norms`). The
endpoints are recomputed too, so ``t = 0`` is A with reset statistics.

Example
-------
>>> import numpy as np
>>> from neuronid.numerics.structures import standard_mlp
>>> A = standard_mlp([4, 8, 3], seed=0)
>>> B = standard_mlp([4, 8, 3], seed=1)
>>> X = np.random.default_rng(0).normal(size=(50, 4))
>>> y = np.arange(50) % 3
>>> path = linear_path(A, B, X, y, loss="ce")
>>> path.steps.shape, path.loss.shape, path.B_peak <= path.B_lerp
((21,), (21,), True)
>>> linear_path(A, A, X, y, loss="ce").B_lerp
0.0

Size (about 650 lines): kept whole; pair validation, the grid, barriers and
``PathResult``, interpolation (with norm layers) and the fused path evaluator are the
one concept "the linear path", and every part is read by the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from numba import njit

from neuronid.errors import InvalidOptionError, StructureMismatchError

from ._config import JIT
from ._fast_math import FAST_JIT
from .threads import block_workers, worker_count
from .activations import _act, apply_layer, bias_act_row, layer_dispatch
from .losses import _error_count, check_loss, check_targets, loss_per_sample
from .network import Layer, Network, Norm, check_inputs

__all__ = [
    "PathResult",
    "barriers",
    "interpolate",
    "interpolate_norms",
    "interpolated_network",
    "reset_batch_norms",
    "linear_path",
    "path_grid",
    "check_pair",
]

#: rows per block when evaluating a path: a block's pre-activations (512 x a 512-wide
#: layer = 2 MB) stay in cache between its product and its activation pass, and memory
#: stays bounded (per worker thread, two blocks of the widest layer). Measured on the
#: paper-size GELU pair of benchmarks/bench_check.py (21 points, 2 threads, process CPU
#: time, shared machine): 128 rows 11.9-12.3 s, 256 rows 11.9 s, 512 rows 11.3-11.6 s,
#: against 9.3-11.0 s for the bare products and 13.8-17.0 s for the former
#: 10,000-row evaluation.
_BLOCK_ROWS = 512

_BARRIER_KEYS = ("B_lerp", "B_peak", "B_mid", "B_mean")


# --------------------------------------------------------------------------- validation
def check_pair(A: Network, B: Network, *, allow_structure_mismatch: bool = False, what: str = "A and B") -> list[str]:
    """Check that ``A`` and ``B`` can be interpolated; return the structural differences.

    Without ``allow_structure_mismatch`` any difference (sizes, masks, fixed parts,
    activations) raises :class:`StructureMismatchError` listing them. With it, masks
    and fixed parts may differ (the path then interpolates effective weights), but
    sizes and the activation of every neuron must still agree: otherwise no single
    network represents the points of the path.
    """
    if not all(hasattr(N, "structure_differences") and hasattr(N, "layers") for N in (A, B)):
        raise InvalidOptionError(
            f"{what}: expected two neuronid Network objects, found "
            f"{type(A).__name__} and {type(B).__name__}"
        )
    diffs = A.structure_differences(B)
    if not diffs:
        return []
    if not allow_structure_mismatch:
        raise StructureMismatchError(
            f"{what} differ in structure: " + "; ".join(diffs)
            + ". Pass allow_structure_mismatch=True (CLI: --allow-structure-mismatch) to interpolate effective "
            "weights anyway "
            "(allowed when only masks or fixed parts differ)"
        )
    if A.sizes != B.sizes:
        hard = [f"sizes differ: {A.sizes} vs {B.sizes}"]
    else:
        hard = [
            f"layer {l}: activations differ" + ("" if len(set(la.names)) == 1 else " (per neuron)")
            + f" ({la.activation if isinstance(la.activation, str) else 'per-neuron'} vs "
            f"{lb.activation if isinstance(lb.activation, str) else 'per-neuron'})"
            for l, (la, lb) in enumerate(zip(A.layers[:-1], B.layers[:-1]))
            if la.names != lb.names
        ] + [
            f"layer {l}: normalizations differ ({la.norm!r} vs {lb.norm!r})"
            for l, (la, lb) in enumerate(zip(A.layers[:-1], B.layers[:-1]))
            if (la.norm is None) != (lb.norm is None) or (la.norm is not None and not la.norm.same_structure(lb.norm))
        ]
    if hard:
        raise StructureMismatchError(
            f"{what} cannot be interpolated even in effective-weight space: " + "; ".join(hard)
            + " (allow_structure_mismatch only covers differing masks or fixed parts)"
        )
    return diffs


def path_grid(steps) -> np.ndarray:
    """The ``t`` grid for ``steps``: an int ``T >= 2`` or an explicit increasing grid.

    ``T`` points ``i / (T - 1)``; ``t = 1/2`` is inserted when missing (see module
    docstring). An explicit grid must be strictly increasing, start at 0 and end at 1.

    >>> path_grid(5)
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    >>> path_grid(2)
    array([0. , 0.5, 1. ])
    """
    if isinstance(steps, (bool, np.bool_)):
        raise InvalidOptionError(f"steps must be an int >= 2 or a grid of t values, found {steps!r}")
    if isinstance(steps, Integral):
        T = int(steps)
        if T < 2:
            raise InvalidOptionError(
                f"steps must be >= 2 (a path needs both endpoints), found {T}; the default is 21"
            )
        grid = np.arange(T, dtype=np.float64) / (T - 1)
        grid[-1] = 1.0
    else:
        try:
            grid = np.array(steps, dtype=np.float64).reshape(-1) if np.ndim(steps) == 1 else None
        except (TypeError, ValueError):
            grid = None
        if grid is None:
            raise InvalidOptionError(
                f"steps must be an int >= 2 or a 1-D grid of t values, found {type(steps).__name__} "
                f"{np.shape(steps) if hasattr(steps, '__len__') else steps!r}"
            )
        if grid.size < 2 or not np.all(np.isfinite(grid)) or grid[0] != 0.0 or grid[-1] != 1.0:
            raise InvalidOptionError(
                f"an explicit grid must have >= 2 finite points from t=0 to t=1, found {grid.size} points"
                + (f" from {grid[0]} to {grid[-1]}" if grid.size else "")
            )
        if np.any(np.diff(grid) <= 0):
            raise InvalidOptionError("an explicit grid must be strictly increasing")
    if not np.any(grid == 0.5):
        grid = np.sort(np.append(grid, 0.5))
    return grid


# --------------------------------------------------------------------------- barriers
def barriers(steps, values) -> dict:
    """The four barriers of THEORY.md D5 for a curve ``values`` on the grid ``steps``.

    ``steps`` must start at 0, end at 1 and contain 1/2 exactly. The chord
    ``(1-t) L(0) + t L(1)`` is clipped to ``[min(L(0), L(1)), max(L(0), L(1))]``
    (where it lies mathematically), so rounding cannot break ``B_peak <= B_lerp``
    and a constant curve has all barriers exactly 0. Non-finite values give NaN or
    infinite barriers (values, not crashes).

    >>> barriers([0.0, 0.5, 1.0], [1.0, 3.0, 2.0])
    {'B_lerp': 1.5, 'B_peak': 1.0, 'B_mid': 1.0, 'B_mean': 1.5}
    """
    t = np.asarray(steps, dtype=np.float64).reshape(-1)
    L = np.asarray(values, dtype=np.float64).reshape(-1)
    if t.shape != L.shape:
        raise InvalidOptionError(f"barriers: steps has {t.size} points but values has {L.size}")
    if t.size < 2 or t[0] != 0.0 or t[-1] != 1.0:
        raise InvalidOptionError("barriers: the grid must start at t=0 and end at t=1 (>= 2 points)")
    mid = np.flatnonzero(t == 0.5)
    if mid.size != 1:
        raise InvalidOptionError("barriers: the grid must contain t=1/2 exactly once (B_mid needs it)")
    L0, L1 = L[0], L[-1]
    with np.errstate(invalid="ignore", over="ignore"):
        hi, lo = max(L0, L1), min(L0, L1)
        chord = np.clip((1.0 - t) * L0 + t * L1, lo, hi)
        peak = np.max(L)
        out = {
            "B_lerp": float(np.max(L - chord)),
            "B_peak": float(peak - hi),
            "B_mid": float(L[mid[0]] - hi),
            "B_mean": float(peak - (0.5 * L0 + 0.5 * L1)),
        }
    return out


@dataclass
class PathResult:
    """Losses, error rates and barriers along one linear path (THEORY.md D5).

    Attributes
    ----------
    steps : (T,) the ``t`` grid (contains 0, 1/2 and 1).
    loss : (T,) mean loss at each ``t``.
    error : (T,) error rate at each ``t``, or ``None`` for real-valued targets.
    B_lerp, B_peak, B_mid, B_mean : loss barriers.
    B_lerp_error, B_peak_error, B_mid_error, B_mean_error : error-rate barriers (``None``
        for regression).
    loss_function : ``"mse"`` or ``"ce"``.
    n_samples : samples the curve was measured on.
    structure_differences : what differed between the endpoints when
        ``allow_structure_mismatch`` let the path through (empty otherwise).
    """

    steps: np.ndarray
    loss: np.ndarray
    error: np.ndarray | None
    B_lerp: float
    B_peak: float
    B_mid: float
    B_mean: float
    B_lerp_error: float | None = None
    B_peak_error: float | None = None
    B_mid_error: float | None = None
    B_mean_error: float | None = None
    loss_function: str = ""
    n_samples: int = 0
    structure_differences: list = field(default_factory=list)

    @classmethod
    def from_curves(cls, steps, loss, error=None, **meta) -> "PathResult":
        b = barriers(steps, loss)
        be = barriers(steps, error) if error is not None else dict.fromkeys(_BARRIER_KEYS)
        return cls(
            steps=np.asarray(steps, dtype=np.float64),
            loss=np.asarray(loss, dtype=np.float64),
            error=None if error is None else np.asarray(error, dtype=np.float64),
            **b,
            **{f"{k}_error": v for k, v in be.items()},
            **meta,
        )

    def to_json(self) -> dict:
        """The ``lmc`` JSON block: plain numbers and lists, with a reason beside each
        non-finite value (:func:`neuronid.numerics.io.to_jsonable` writes it as ``null``);
        error entries ``None`` for regression."""
        out = {
            "steps": [float(t) for t in self.steps],
            "loss": [float(v) for v in self.loss],
            "error": None if self.error is None else [float(v) for v in self.error],
        }
        for key in _BARRIER_KEYS:
            out[key] = float(getattr(self, key))
            if not math.isfinite(out[key]):
                out[f"{key}_reason"] = "non-finite loss on the path"
        for key in _BARRIER_KEYS:
            value = getattr(self, f"{key}_error")
            out[f"{key}_error"] = None if value is None else float(value)
            if value is not None and not math.isfinite(value):
                out[f"{key}_error_reason"] = "non-finite error rate on the path"
        if self.error is None:
            out["error_reason"] = "real-valued targets: no error rate"
        if not np.all(np.isfinite(self.loss)):
            out["loss_reason"] = "non-finite loss values (overflow) are written as null"
        if self.structure_differences:
            out["structure_differences"] = list(self.structure_differences)
        return out


# --------------------------------------------------------------------------- interpolation
def _check_t(t) -> float:
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, Real) or not (0.0 <= float(t) <= 1.0):
        raise InvalidOptionError(f"t must be a real number in [0, 1], found {t!r}")
    return float(t)


def _lerp_into(WA, D, WB, t, out):
    """``out = W_A + t (W_B - W_A)``; exact endpoints."""
    if t == 0.0:
        np.copyto(out, WA)
    elif t == 1.0:
        np.copyto(out, WB)
    else:
        np.multiply(D, t, out=out)
        out += WA
    return out


def interpolate(A: Network, B: Network, t: float, *, allow_structure_mismatch: bool = False):
    """Effective weights and biases of the path point ``t``: ``(1-t) W_A + t W_B``.

    Computed as ``W_A + t (W_B - W_A)`` (exact at ``t = 0``, ``t = 1`` and when
    ``W_A == W_B``). Returns ``(weights, biases)``, two lists of float64 arrays.

    >>> from neuronid.numerics.structures import standard_mlp
    >>> A, B = standard_mlp([2, 3, 1], seed=0), standard_mlp([2, 3, 1], seed=1)
    >>> Ws, bs = interpolate(A, B, 0.0)
    >>> all((W == WA).all() for W, WA in zip(Ws, A.effective_weights()))
    True
    """
    check_pair(A, B, allow_structure_mismatch=allow_structure_mismatch)
    t = _check_t(t)
    weights, biases = [], []
    for WA, WB, bA, bB in zip(A.effective_weights(), B.effective_weights(), A.biases(), B.biases()):
        weights.append(_lerp_into(WA, WB - WA, WB, t, np.empty_like(WA)))
        biases.append(_lerp_into(bA, bB - bA, bB, t, np.empty_like(bA)))
    return weights, biases


def _lerp_norm(nA: Norm | None, nB: Norm | None, t: float) -> Norm | None:
    """``(1-t) Norm_A + t Norm_B`` parameter by parameter (same kind, eps and size)."""
    if nA is None:
        return None

    def mix(a, b):
        return None if a is None else _lerp_into(a, b - a, b, t, np.empty_like(a))

    return Norm(
        nA.kind, nA.eps, mix(nA.weight, nB.weight), mix(nA.bias, nB.bias),
        mix(nA.running_mean, nB.running_mean), mix(nA.running_var, nB.running_var), size=nA.size,
    )


def interpolate_norms(A: Network, B: Network, t: float, *, allow_structure_mismatch: bool = False) -> list:
    """The normalizations of path point ``t`` (THEORY N1, D5): ``gamma, beta`` (and
    BatchNorm's ``mu, v``) interpolated linearly; one :class:`Norm` or ``None`` per
    hidden layer (pass to ``Network.forward(norms=...)``)."""
    check_pair(A, B, allow_structure_mismatch=allow_structure_mismatch)
    t = _check_t(t)
    return [_lerp_norm(nA, nB, t) for nA, nB in zip(A.norms, B.norms)]


def reset_batch_norms(net: Network, X, *, norms=None, weights=None, biases=None) -> list:
    """BatchNorm statistics recomputed on ``X`` (Git Re-Basin's ``reset_bn_stats``).

    Layer by layer from the input: each batch norm's ``running_mean`` / ``running_var``
    become the mean and unbiased variance (``n - 1``; the biased one when ``n = 1``) of
    its pre-activations ``z`` over the rows of ``X``; the next layer's inputs are
    computed as PyTorch's training-mode pass computes them (normalized with the batch
    mean and *biased* variance), so the result equals Git Re-Basin's ``reset_bn_stats``
    with the whole of ``X`` as one batch. ``norms``/``weights``/``biases`` override the network's
    (a path point). Returns the new list of norms (LayerNorms and ``None`` unchanged).
    """
    X = np.ascontiguousarray(check_inputs(X, net.n_inputs, name="reset data"), dtype=np.float64)
    Ws = net.effective_weights() if weights is None else weights
    bs = net.biases() if biases is None else biases
    out = list(net.norms if norms is None else norms)
    n = X.shape[0]
    h = X
    for l, layer in enumerate(net.layers[:-1]):
        z = h @ Ws[l].T
        z += bs[l]
        norm = out[l]
        if norm is not None and norm.kind == "batch":
            mean = z.mean(axis=0)
            biased = np.mean((z - mean) ** 2, axis=0)
            out[l] = Norm("batch", norm.eps, norm.weight, norm.bias, mean, biased * n / max(n - 1, 1), size=norm.size)
            # propagate as PyTorch's training-mode pass does: batch mean, biased variance
            norm = Norm("batch", norm.eps, norm.weight, norm.bias, mean, biased, size=norm.size)
        u = z if norm is None else norm.apply(z)
        h = apply_layer(u, layer.names, layer.codes, layer.params)
    return out


def interpolated_network(
    A: Network, B: Network, t: float, *, allow_structure_mismatch: bool = False, reset_data=None
) -> Network:
    """The network at path point ``t`` (a standard-structure network).

    Every layer has ``mask = 1``, ``fixed = 0`` and ``weight`` = the interpolated
    *effective* weight, with A's activations and the interpolated normalizations
    (:func:`interpolate_norms`; with ``reset_data``, BatchNorm statistics recomputed
    on it by :func:`reset_batch_norms`). It represents the *function* of the path
    point; it does not keep A's or B's masks and fixed parts (its trainable
    parameters are not a point of either structure's parameter space).

    >>> import numpy as np
    >>> from neuronid.numerics.structures import w_mlp
    >>> A = w_mlp([3, 5, 2], n_fixed=1, seed=0)
    >>> X = np.ones((4, 3))
    >>> bool(np.array_equal(interpolated_network(A, A, 0.3)(X), A(X)))
    True
    """
    weights, biases = interpolate(A, B, t, allow_structure_mismatch=allow_structure_mismatch)
    norms = interpolate_norms(A, B, t, allow_structure_mismatch=allow_structure_mismatch)
    norms = norms + [None]
    net = Network(
        [
            Layer(W, b, activation=layer.activation, norm=norm, where=f"layer {l}")
            for l, (W, b, layer, norm) in enumerate(zip(weights, biases, A.layers, norms))
        ]
    )
    if reset_data is not None:
        net = _with_norms(net, reset_batch_norms(net, reset_data))
    return net


def _with_norms(net: Network, norms: list) -> Network:
    norms = list(norms) + [None]
    return Network(
        [Layer(layer.weight, layer.bias, layer.mask, layer.fixed, layer.activation, norm)
         for layer, norm in zip(net.layers, norms)]
    )


# --------------------------------------------------------------------------- fast path
@njit(**FAST_JIT)
def _bias_act_uniform(Z, b, code, param):
    """In place ``Z[s, i] = sigma(Z[s, i] + b[i])``, one activation for the layer."""
    for s in range(Z.shape[0]):
        bias_act_row(Z, s, b, code, param)
    return Z


@njit(**JIT)
def _bias_act_columns(Z, b, codes, params):
    """In place ``Z[s, i] = sigma_i(Z[s, i] + b[i])``, one activation per neuron."""
    n, m = Z.shape
    for s in range(n):
        for i in range(m):
            Z[s, i] = _act(codes[i], params[i], Z[s, i] + b[i])
    return Z


@njit(**JIT)
def _add_bias(Z, b):
    n, m = Z.shape
    for s in range(n):
        for i in range(m):
            Z[s, i] += b[i]
    return Z


def _layer_plan(layer: Layer):
    """How to apply a layer's bias + activation: ('linear'|'uniform'|'columns'|'external', ...)."""
    if layer.is_output:
        return ("linear",)
    codes, params = layer.codes, layer.params
    kind, code, param = layer_dispatch(codes, params)
    if kind == "external":
        return ("external", layer.names, codes, params)
    if kind == "uniform":
        return ("uniform", code, param)
    return ("columns", np.ascontiguousarray(codes), np.ascontiguousarray(params))


def _bias_activation(plan, Z, b):
    """``Z = sigma(Z + b)`` in place by the layer's plan (serial kernels: a row block
    is small and runs on one worker thread)."""
    kind = plan[0]
    if kind == "uniform":
        _bias_act_uniform(Z, b, plan[1], plan[2])
    elif kind == "columns":
        _bias_act_columns(Z, b, plan[1], plan[2])
    elif kind == "linear":
        _add_bias(Z, b)
    else:
        _add_bias(Z, b)
        apply_layer(Z, plan[1], plan[2], plan[3], out=Z)
    return Z


class _PathEvaluator:
    """Preallocated buffers for repeated forward passes at different ``t``.

    :meth:`outputs` evaluates the rows in blocks of :data:`_BLOCK_ROWS` (a block's
    pre-activations stay in cache between its matrix product and its activation pass)
    on :func:`~.threads.worker_count` threads, each with its own buffers, calling
    single-threaded BLAS and serial numba kernels (``nogil``). Every block is computed
    by the same code whatever thread takes it, so the outputs do not depend on the
    thread count.

    Internal: receives validated float64 C-contiguous data and networks that
    :func:`check_pair` accepted.
    """

    def __init__(self, A: Network, B: Network, X: np.ndarray, block_rows: int | None = None, reset_data=None):
        self.net = A
        self.normsA = A.norms + [None]
        self.normsB = B.norms + [None]
        self.norms = list(self.normsA)
        self.reset_data = reset_data if reset_data is not None and A.has_norms and any(
            n is not None and n.kind == "batch" for n in A.norms) else None
        self.WA = A.effective_weights()
        self.WB = B.effective_weights()
        self.bA = [np.ascontiguousarray(b) for b in A.biases()]
        self.bB = [np.ascontiguousarray(b) for b in B.biases()]
        self.DW = [wb - wa for wa, wb in zip(self.WA, self.WB)]
        self.Db = [bb - ba for ba, bb in zip(self.bA, self.bB)]
        self.W = [np.empty_like(w) for w in self.WA]
        self.b = [np.empty_like(b) for b in self.bA]
        self.plans = [_layer_plan(layer) for layer in A.layers]
        self.X = X
        self.n = X.shape[0]
        self.n_outputs = self.WA[-1].shape[0]
        self.rows = max(1, min(self.n, _BLOCK_ROWS if block_rows is None else block_rows))
        self.starts = range(0, self.n, self.rows)
        self.workers = min(worker_count(), len(self.starts))
        width = max((w.shape[0] for w in self.WA[:-1]), default=1)
        # per worker: ping-pong buffers for the hidden layers
        self.buffers = [(np.empty(self.rows * width), np.empty(self.rows * width)) for _ in range(self.workers)]
        self.zero = np.zeros(width)

    def set_t(self, t: float) -> None:
        for l in range(len(self.W)):
            _lerp_into(self.WA[l], self.DW[l], self.WB[l], t, self.W[l])
            _lerp_into(self.bA[l], self.Db[l], self.bB[l], t, self.b[l])
            self.norms[l] = _lerp_norm(self.normsA[l], self.normsB[l], t)
        if self.reset_data is not None:
            self.norms = reset_batch_norms(
                self.net, self.reset_data, norms=self.norms[:-1], weights=self.W, biases=self.b
            ) + [None]

    def evaluate(self, ts, consume, skip=()) -> None:
        """For each ``t`` of ``ts``: the outputs ``f_t(X)`` into one ``(n, o)`` array,
        then ``consume(k, outputs)`` (the array is reused for the next ``t``). Indices
        ``k`` in ``skip`` are neither evaluated nor consumed (the caller has them)."""
        out = np.empty((self.n, self.n_outputs))
        with block_workers(self.buffers) as run:
            for k, t in enumerate(ts):
                if k in skip:
                    continue
                self.set_t(float(t))
                run(len(self.starts), lambda i, buffers: self._block(i, buffers, out))
                consume(k, out)

    def _block(self, i: int, buffers, out) -> None:
        """Rows of block ``i`` through every layer at the current ``t``, into ``out``."""
        start = self.starts[i]
        stop = min(start + self.rows, self.n)
        r = stop - start
        h = self.X[start:stop]
        L = len(self.W)
        for l in range(L):
            m = self.W[l].shape[0]
            Z = out[start:stop] if l == L - 1 else buffers[l % 2][: r * m].reshape(r, m)
            np.matmul(h, self.W[l].T, out=Z)
            norm = self.norms[l]
            if norm is None:
                _bias_activation(self.plans[l], Z, self.b[l])
            else:
                _add_bias(Z, self.b[l])
                norm.apply(Z, out=Z)
                _bias_activation(self.plans[l], Z, self.zero[:m])
            h = Z


def linear_path(
    A: Network,
    B: Network,
    X,
    y,
    *,
    loss: str,
    steps=21,
    allow_structure_mismatch: bool = False,
    reset_bn: bool = False,
    reset_data=None,
) -> PathResult:
    """Loss and error rate along the linear path from ``A`` (t=0) to ``B`` (t=1).

    Parameters
    ----------
    A, B : Network
        Endpoints; they must share the structure unless ``allow_structure_mismatch``.
    X : (n, d) array
        Inputs (converted to float64).
    y : (n,) integer labels or (n, o) real targets
        Targets as in :mod:`neuronid.numerics.losses`.
    loss : {"mse", "ce"}
    steps : int >= 2 or 1-D grid, default 21
        Grid (see :func:`path_grid`; ``t = 1/2`` is added when missing).
    allow_structure_mismatch : bool, default False
        Interpolate effective weights when masks or fixed parts differ (sizes and
        activations must still agree). The differences are recorded in the result.
    reset_bn : bool, default False
        Recompute the BatchNorm statistics of every path point on ``reset_data``
        (default ``X``) instead of interpolating them (see the module docstring). No
        effect on networks without BatchNorm.
    reset_data : (n', d) array, optional
        The data for ``reset_bn`` (e.g. the training or matching data).

    Returns
    -------
    PathResult

    Raises
    ------
    StructureMismatchError, InvalidOptionError, InvalidDataError

    Examples
    --------
    >>> import numpy as np
    >>> from neuronid.numerics.structures import standard_mlp
    >>> A, B = standard_mlp([3, 6, 1], seed=0), standard_mlp([3, 6, 1], seed=2)
    >>> X = np.random.default_rng(1).normal(size=(20, 3)); Y = X[:, :1]
    >>> r = linear_path(A, B, X, Y, loss="mse", steps=5)
    >>> r.steps.tolist(), r.error is None, r.to_json()["B_mid_error"] is None
    ([0.0, 0.25, 0.5, 0.75, 1.0], True, True)
    """
    check_loss(loss)
    diffs = check_pair(A, B, allow_structure_mismatch=allow_structure_mismatch)
    grid = path_grid(steps)
    X = check_inputs(X, A.n_inputs)
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = check_targets(loss, y, A.n_outputs, X.shape[0])
    classify = y.dtype.kind == "i"
    if not isinstance(reset_bn, (bool, np.bool_)):
        raise InvalidOptionError(f"reset_bn must be True or False, found {reset_bn!r}")
    if reset_data is not None and not reset_bn:
        raise InvalidOptionError("reset_data is only used with reset_bn=True")
    if reset_bn:
        reset_data = X if reset_data is None else np.ascontiguousarray(
            check_inputs(reset_data, A.n_inputs, name="reset data"), dtype=np.float64)

    ev = _PathEvaluator(A, B, X, reset_data=reset_data if reset_bn else None)
    losses = np.empty(grid.size)
    errors = np.empty(grid.size) if classify else None

    def measure(k, F):
        losses[k] = np.mean(loss_per_sample(loss, F, y))
        if classify:
            errors[k] = _error_count(F, y) / X.shape[0]

    ev.evaluate(grid, measure)
    return PathResult.from_curves(
        grid, losses, errors, loss_function=loss, n_samples=int(X.shape[0]), structure_differences=diffs
    )
