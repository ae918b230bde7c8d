"""Activation catalogue for the numerics: names -> integer codes -> numba kernels.

Networks store one activation code and one real parameter per hidden neuron, so a
standard layer (one activation) and a sigma-asymmetric layer (one per neuron) run the
same kernels. Names follow DESIGN.md: ``relu``, ``leaky_relu`` / ``leaky_relu:0.1``,
``gelu``, ``tanh``, ``sigmoid``, ``softplus``, ``elu`` / ``elu:0.5``, ``silu``,
``identity``, ``hard_tanh`` and ``sympy:<expression in z>``. User expressions have no
numba kernel; they are evaluated through the theory layer's numpy callable (forward
only: training needs a catalogue activation).

The names (base names, aliases such as ``swish`` for ``silu``, parameter defaults) come
from the theory layer's one table (:mod:`neuronid.theory._names`, no SymPy), so the
two catalogues accept the same names; every base name there must have a kernel here
(:func:`parse_activation` says "no numeric kernel for X" otherwise, and a test checks
the two lists agree). Derived properties (monotonicity, Lipschitz and curvature
constants) are the theory layer's (:func:`neuronid.theory.activations.get_activation`);
this module keeps their closed forms for the catalogue where the numerics need them
fast (:func:`activation_monotonicity`, :func:`inverse_activation`,
:func:`preimage_intervals`), checked against the theory layer by the tests.
:func:`layer_dispatch` is the one place that decides whether a layer runs the
one-activation ("uniform") or the per-neuron ("columns") kernels.

Size (about 760 lines): one catalogue; names, kernels (one small one per activation and
derivative) and the numeric properties (inverses, preimages, monotonicity) of the same
activations belong together.

Example
-------
>>> import numpy as np
>>> apply_activation("leaky_relu:0.1", np.array([-1.0, 2.0]))
array([-0.1,  2. ])
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit, prange

from neuronid.errors import UnknownActivationError
from neuronid.theory._names import CATALOGUE, PARAMETER_DEFAULTS, split_spec, valid_names

from ._config import JIT, PARALLEL_JIT, PARALLEL_MIN_ELEMENTS
from ._fast_math import FAST_JIT, fast_gelu, fast_ndtr, fast_normal_pdf, fast_sigmoid, fast_silu, fast_tanh

IDENTITY, RELU, LEAKY_RELU, GELU, TANH, SIGMOID, SOFTPLUS, ELU, SILU, HARD_TANH = range(10)
#: Code for an activation without a numba kernel (``sympy:`` expressions).
EXTERNAL = -1

#: base name (the theory layer's CATALOGUE) -> numba kernel code
KERNEL_CODES = {
    "identity": IDENTITY,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "gelu": GELU,
    "tanh": TANH,
    "sigmoid": SIGMOID,
    "softplus": SOFTPLUS,
    "elu": ELU,
    "silu": SILU,
    "hard_tanh": HARD_TANH,
}
#: base name -> default parameter (float), for the names that take one
_DEFAULT_PARAMS = {base: float(text) for base, text in PARAMETER_DEFAULTS.items()}


@dataclass(frozen=True)
class Activation:
    """A parsed activation: canonical name, kernel code and parameter."""

    name: str
    code: int
    param: float = 0.0

    @property
    def has_kernel(self) -> bool:
        return self.code != EXTERNAL


def _format_param(value: float) -> str:
    return repr(float(value))


@lru_cache(maxsize=512)
def parse_activation(spec: str) -> Activation:
    """Parse an activation name (DESIGN.md) into an :class:`Activation`.

    Raises :class:`UnknownActivationError` naming the valid choices.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise UnknownActivationError(f"activation must be a non-empty string, found {spec!r}; valid: {valid_names()}")
    base, arg = split_spec(spec)
    if base == "sympy" and arg is not None:
        # SymPy is loaded only for user expressions (the theory layer parses and validates them)
        from neuronid.theory.activations import get_activation

        info = get_activation(spec.strip())
        return Activation(name=info.name, code=EXTERNAL, param=0.0)
    if base not in CATALOGUE:
        raise UnknownActivationError(f"unknown activation {spec!r}; valid: {valid_names()}")
    if base not in KERNEL_CODES:
        raise UnknownActivationError(
            f"activation {spec!r}: no numeric kernel for {base!r} (the theory layer knows it, the numerics "
            "cannot evaluate it); use it as sympy:<expression in z> for forward passes"
        )
    code, default = KERNEL_CODES[base], _DEFAULT_PARAMS.get(base)
    if arg is not None:
        if default is None:
            raise UnknownActivationError(f"activation {base!r} takes no parameter, found {spec!r}")
        try:
            param = float(arg)
        except ValueError:
            raise UnknownActivationError(
                f"activation {spec!r}: parameter {arg!r} is not a number"
            ) from None
        if not math.isfinite(param):
            raise UnknownActivationError(f"activation {spec!r}: parameter must be finite")
        if base == "leaky_relu" and not (0.0 <= param < 1.0):
            raise UnknownActivationError(
                f"activation {spec!r}: leaky_relu slope must lie in [0, 1), found {param}"
            )
        if base == "elu" and param <= 0.0:
            raise UnknownActivationError(f"activation {spec!r}: elu alpha must be > 0, found {param}")
    else:
        param = 0.0 if default is None else default
    name = base if default is None or param == default else f"{base}:{_format_param(param)}"
    return Activation(name=name, code=code, param=param)


# --- one scalar kernel per activation ----------------------------------------------------
# Each is compiled once per dtype and shared by every caller: the generic dispatchers
# _act / _dact below, and the one-activation layer loops of the training kernels, which
# take the kernel they need as an argument so that LLVM sees one straight-line body to
# vectorize. Before, those loops called _act / _dact with a literal code, and numba
# compiled the whole catalogue once per code and dtype (about 1.5 s each, 35 s per dtype
# on an empty cache).
@njit(**JIT)
def _relu(param, z):
    return z if z > 0.0 else 0.0


@njit(**JIT)
def _leaky_relu(param, z):
    return z if z > 0.0 else param * z


# tanh, sigmoid, GELU, SiLU: the vectorizable kernels of _fast_math (a few ulp, stated and
# tested there), shared with the path evaluator
@njit(**JIT)
def _tanh(param, z):
    return fast_tanh(z)


@njit(**JIT)
def _sigmoid(param, z):
    return fast_sigmoid(z)


@njit(**JIT)
def _gelu(param, z):
    return fast_gelu(z)


@njit(**JIT)
def _softplus(param, z):
    # log(1 + e^z) without overflow
    if z > 0.0:
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z))


@njit(**JIT)
def _elu(param, z):
    return z if z > 0.0 else param * math.expm1(z)


@njit(**JIT)
def _silu(param, z):
    return fast_silu(z)


@njit(**JIT)
def _hard_tanh(param, z):
    if z > 1.0:
        return 1.0
    if z < -1.0:
        return -1.0
    return z


@njit(**JIT)
def _identity(param, z):
    return z


# Derivatives; at kinks the right derivative for z > 0 and the left one otherwise (0 at
# relu's 0).
@njit(**JIT)
def _drelu(param, z):
    return 1.0 if z > 0.0 else 0.0


@njit(**JIT)
def _dleaky_relu(param, z):
    return 1.0 if z > 0.0 else param


@njit(**JIT)
def _dtanh(param, z):
    t = fast_tanh(z)
    return 1.0 - t * t


@njit(**JIT)
def _dsigmoid(param, z):
    s = fast_sigmoid(z)
    return s * (1.0 - s)


@njit(**JIT)
def _dgelu(param, z):
    return fast_ndtr(z) + z * fast_normal_pdf(z)


@njit(**JIT)
def _dsoftplus(param, z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@njit(**JIT)
def _delu(param, z):
    return 1.0 if z > 0.0 else param * math.exp(z)


@njit(**JIT)
def _dsilu(param, z):
    s = fast_sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


@njit(**JIT)
def _dhard_tanh(param, z):
    return 1.0 if -1.0 < z < 1.0 else 0.0


@njit(**JIT)
def _didentity(param, z):
    return 1.0


@njit(**JIT)
def _act(code, param, z):
    """``sigma(z)`` for the activation with this kernel code."""
    if code == RELU:
        return _relu(param, z)
    if code == LEAKY_RELU:
        return _leaky_relu(param, z)
    if code == TANH:
        return _tanh(param, z)
    if code == SIGMOID:
        return _sigmoid(param, z)
    if code == GELU:
        return _gelu(param, z)
    if code == SOFTPLUS:
        return _softplus(param, z)
    if code == ELU:
        return _elu(param, z)
    if code == SILU:
        return _silu(param, z)
    if code == HARD_TANH:
        return _hard_tanh(param, z)
    return _identity(param, z)


@njit(**JIT)
def _dact(code, param, z):
    """``sigma'(z)``; at kinks the right derivative for z > 0 and left otherwise."""
    if code == RELU:
        return _drelu(param, z)
    if code == LEAKY_RELU:
        return _dleaky_relu(param, z)
    if code == TANH:
        return _dtanh(param, z)
    if code == SIGMOID:
        return _dsigmoid(param, z)
    if code == GELU:
        return _dgelu(param, z)
    if code == SOFTPLUS:
        return _dsoftplus(param, z)
    if code == ELU:
        return _delu(param, z)
    if code == SILU:
        return _dsilu(param, z)
    if code == HARD_TANH:
        return _dhard_tanh(param, z)
    return _didentity(param, z)


@njit(**FAST_JIT)
def bias_act_row(Z, s, b, code, param):
    """In place ``Z[s, i] = sigma(Z[s, i] + b[i])`` for one row, one activation for the layer.

    The one row kernel of every forward pass (paths, recorded passes, the certificate):
    one branch-free loop per activation (the same scalar functions as :func:`_act`, so
    the results are identical) so LLVM vectorizes it: the piecewise-linear ones by
    selects, GELU/SiLU/sigmoid/tanh by the pure-arithmetic kernels of :mod:`._fast_math`
    (a per-element ``_act(code, ...)`` dispatch kept the loop scalar). In place on
    purpose: with a separate output that may alias ``Z`` LLVM's runtime overlap check
    sends the aliased call to the scalar loop (measured 10x slower for GELU).
    """
    m = Z.shape[1]
    if code == RELU:
        for i in range(m):
            v = Z[s, i] + b[i]
            Z[s, i] = v if v > 0.0 else 0.0
    elif code == LEAKY_RELU:
        for i in range(m):
            v = Z[s, i] + b[i]
            Z[s, i] = v if v > 0.0 else param * v
    elif code == IDENTITY:
        for i in range(m):
            Z[s, i] = Z[s, i] + b[i]
    elif code == GELU:
        for i in range(m):
            Z[s, i] = fast_gelu(Z[s, i] + b[i])
    elif code == SILU:
        for i in range(m):
            Z[s, i] = fast_silu(Z[s, i] + b[i])
    elif code == SIGMOID:
        for i in range(m):
            Z[s, i] = fast_sigmoid(Z[s, i] + b[i])
    elif code == TANH:
        for i in range(m):
            Z[s, i] = fast_tanh(Z[s, i] + b[i])
    else:
        for i in range(m):
            Z[s, i] = _act(code, param, Z[s, i] + b[i])



@njit(**JIT)
def activate_columns(Z, codes, params, out):
    """``out[s, i] = sigma_i(Z[s, i])``; codes/params per column (neuron)."""
    n, m = Z.shape
    for s in range(n):
        for i in range(m):
            out[s, i] = _act(codes[i], params[i], Z[s, i])
    return out


@njit(**FAST_JIT)
def activate_columns_uniform(Z, code, param, out):
    """Same as :func:`activate_columns` with one activation for the whole layer (the
    vectorized row kernel on a copy of each row, zero bias: ``z + 0.0`` is ``z``)."""
    zero = np.zeros(Z.shape[1], dtype=Z.dtype)
    for s in range(Z.shape[0]):
        out[s, :] = Z[s, :]
        bias_act_row(out, s, zero, code, param)
    return out


@njit(**JIT)
def derivative_columns(Z, codes, params, out):
    """``out[s, i] = sigma_i'(Z[s, i])``."""
    n, m = Z.shape
    for s in range(n):
        for i in range(m):
            out[s, i] = _dact(codes[i], params[i], Z[s, i])
    return out


@njit(**PARALLEL_JIT)
def activate_columns_parallel(Z, codes, params, out):
    """:func:`activate_columns` with the rows spread over threads (same values)."""
    n, m = Z.shape
    for s in prange(n):
        for i in range(m):
            out[s, i] = _act(codes[i], params[i], Z[s, i])
    return out


@njit(**dict(PARALLEL_JIT, error_model="numpy"))
def activate_columns_uniform_parallel(Z, code, param, out):
    """:func:`activate_columns_uniform` with the rows spread over threads (same values)."""
    zero = np.zeros(Z.shape[1], dtype=Z.dtype)
    for s in prange(Z.shape[0]):
        out[s, :] = Z[s, :]
        bias_act_row(out, np.int64(s), zero, code, param)  # one row index type: one compile
    return out


@njit(**PARALLEL_JIT)
def derivative_columns_parallel(Z, codes, params, out):
    """:func:`derivative_columns` with the rows spread over threads (same values)."""
    n, m = Z.shape
    for s in prange(n):
        for i in range(m):
            out[s, i] = _dact(codes[i], params[i], Z[s, i])
    return out


def use_parallel_kernels(size: int) -> bool:
    """Whether an elementwise pass over ``size`` entries should use the row-parallel
    kernels: from :data:`PARALLEL_MIN_ELEMENTS` entries, and only from the main thread
    (numba's workqueue threading layer, the fallback where neither TBB nor OpenMP is
    available, aborts on parallel launches from several threads at once)."""
    return size >= PARALLEL_MIN_ELEMENTS and threading.current_thread() is threading.main_thread()


def _columns_kernels(Z):
    """The (per-neuron, uniform) activation kernels for an array of this size."""
    if use_parallel_kernels(Z.size):
        return activate_columns_parallel, activate_columns_uniform_parallel
    return activate_columns, activate_columns_uniform


#: :func:`layer_dispatch` kinds
UNIFORM, COLUMNS, EXTERNAL_LAYER = "uniform", "columns", "external"


def layer_dispatch(codes: np.ndarray, params: np.ndarray) -> tuple[str, int, float]:
    """How a layer's activations run, decided in one place for every caller (forward
    passes, paths, the certificate, training):

    - ``("uniform", code, param)``: every neuron has the same kernel activation and
      parameter (the one-activation kernels);
    - ``("columns", -1, 0.0)``: every neuron has a kernel, not all the same (the
      per-neuron kernels, sigma-asymmetric layers);
    - ``("external", -1, 0.0)``: some neuron is a ``sympy:`` expression (no kernel).

    >>> layer_dispatch(np.array([RELU, RELU]), np.zeros(2))
    ('uniform', 1, 0.0)
    >>> layer_dispatch(np.array([RELU, TANH]), np.zeros(2))[0]
    'columns'
    """
    if np.any(codes == EXTERNAL):
        return EXTERNAL_LAYER, EXTERNAL, 0.0
    if codes.size and np.all(codes == codes[0]) and np.all(params == params[0]):
        return UNIFORM, int(codes[0]), float(params[0])
    return COLUMNS, EXTERNAL, 0.0


def layer_activations(spec, m: int, *, where: str = "") -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Parse a layer's activation entry (one name, or a list of ``m`` names).

    Returns ``(names per neuron, codes int64 (m,), params float64 (m,))``.
    """
    prefix = f"{where}: " if where else ""

    def parse(s, neuron=None):
        """:func:`parse_activation`, its error naming the layer (and neuron)."""
        try:
            return parse_activation(s)
        except UnknownActivationError as exc:
            if not prefix:
                raise
            at = prefix if neuron is None else f"{prefix}neuron {neuron}: "
            raise UnknownActivationError(f"{at}{exc}") from None

    if isinstance(spec, str):
        act = parse(spec)
        names = (act.name,) * m
    elif isinstance(spec, (list, tuple)):
        if len(spec) != m:
            raise UnknownActivationError(
                f"{prefix}per-neuron activation list has {len(spec)} entries, expected {m} (one per neuron)"
            )
        names = tuple(parse(s, i).name for i, s in enumerate(spec))
    else:
        raise UnknownActivationError(
            f"{prefix}activation must be a name or a list of names, found {type(spec).__name__}"
        )
    parsed = [parse_activation(s) for s in names]
    codes = np.array([a.code for a in parsed], dtype=np.int64)
    params = np.array([a.param for a in parsed], dtype=np.float64)
    return names, codes, params


def apply_layer(Z: np.ndarray, names, codes: np.ndarray, params: np.ndarray, out=None) -> np.ndarray:
    """Apply a layer's activations column-wise; ``sympy:`` columns via the theory layer."""
    if out is None:
        out = np.empty_like(Z)
    columns, uniform = _columns_kernels(Z)
    kind, code, param = layer_dispatch(codes, params)
    if kind == UNIFORM:
        return uniform(Z, code, Z.dtype.type(param), out)
    if kind == COLUMNS:
        return columns(Z, codes, params.astype(Z.dtype), out)
    # SymPy is loaded only for layers with user expressions (evaluated by the theory layer)
    from neuronid.theory.activations import get_activation

    internal = np.flatnonzero(codes != EXTERNAL)
    if internal.size:
        sub = np.ascontiguousarray(Z[:, internal])
        out[:, internal] = columns(sub, codes[internal], params[internal].astype(Z.dtype), np.empty_like(sub))
    external = np.flatnonzero(codes == EXTERNAL)
    for name in sorted({names[i] for i in external}):
        cols = [i for i in external if names[i] == name]
        with np.errstate(all="ignore"):
            out[:, cols] = np.asarray(get_activation(name).numpy(Z[:, cols]), dtype=Z.dtype)
    return out


def apply_activation(spec: str, z: np.ndarray) -> np.ndarray:
    """Apply one activation elementwise to an array (float64); reference entry point.

    >>> apply_activation("relu", np.array([-2.0, 0.5]))
    array([0. , 0.5])
    """
    z = np.asarray(z, dtype=np.float64)
    flat = np.ascontiguousarray(z.reshape(-1, 1))
    names, codes, params = layer_activations(spec, 1)
    return apply_layer(flat, names, codes, params).reshape(z.shape)


def apply_activation_derivative(spec: str, z: np.ndarray) -> np.ndarray:
    """Derivative of a catalogue activation elementwise (float64)."""
    act = parse_activation(spec)
    z = np.asarray(z, dtype=np.float64)
    flat = np.ascontiguousarray(z.reshape(-1, 1))
    if not act.has_kernel:
        # SymPy is loaded only for user expressions (the theory layer differentiates them)
        from neuronid.theory.activations import get_activation

        return np.asarray(get_activation(act.name).derivative_numpy(z), dtype=np.float64)
    kernel = derivative_columns_parallel if use_parallel_kernels(flat.size) else derivative_columns
    out = kernel(flat, np.array([act.code]), np.array([act.param]), np.empty_like(flat))
    return out.reshape(z.shape)


# ------------------------------------------------------------------ numeric properties
# Closed forms for the catalogue (THEORY.md D2 / P5), used by the realization costs;
# sympy: expressions are analysed by the theory layer. tests/numerics/test_activation_catalogue.py
# checks the table against the theory layer's analysis.
#: Monotonicity of the catalogue activations (THEORY.md D2 / P5).
_MONOTONE = {
    "identity": "strictly_increasing",
    "leaky_relu": "strictly_increasing",  # slope > 0; slope 0 is relu
    "tanh": "strictly_increasing",
    "sigmoid": "strictly_increasing",
    "softplus": "strictly_increasing",
    "elu": "strictly_increasing",
    "relu": "non_decreasing",
    "hard_tanh": "non_decreasing",
    "gelu": "non_monotone",
    "silu": "non_monotone",
}


def _base(name: str) -> str:
    return name.partition(":")[0]


@lru_cache(maxsize=256)
def activation_monotonicity(spec: str) -> str:
    """``"strictly_increasing"``, ``"non_decreasing"`` or ``"non_monotone"``.

    Catalogue names from a table; ``sympy:`` expressions from the theory layer's
    analysis (``neuronid.theory.activations.get_activation``).

    >>> activation_monotonicity("leaky_relu:0.1"), activation_monotonicity("relu")
    ('strictly_increasing', 'non_decreasing')
    """
    act = parse_activation(spec)
    base = _base(act.name)
    if base == "leaky_relu" and act.param == 0.0:
        return "non_decreasing"
    if base in _MONOTONE:
        return _MONOTONE[base]
    # SymPy is loaded only for user expressions, whose monotonicity the theory layer proves
    from neuronid.theory.activations import get_activation

    return get_activation(act.name).monotone


def _sigma(spec: str, z: np.ndarray) -> np.ndarray:
    return apply_activation(spec, np.asarray(z, dtype=np.float64))


def _bisect(spec: str, target: np.ndarray, lo: np.ndarray, hi: np.ndarray, increasing: bool) -> np.ndarray:
    """Vectorized bisection for ``sigma(z) = target`` on ``[lo, hi]`` (monotone piece)."""
    lo = np.array(lo, dtype=np.float64, copy=True)
    hi = np.array(hi, dtype=np.float64, copy=True)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        val = _sigma(spec, mid)
        go_right = (val < target) if increasing else (val > target)
        lo = np.where(go_right, mid, lo)
        hi = np.where(go_right, hi, mid)
        if np.all(hi - lo <= 4 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(mid))):
            break
    return 0.5 * (lo + hi)


@lru_cache(maxsize=32)
def _minimum(spec: str) -> tuple[float, float]:
    """Location and value of the global minimum of a non-monotone catalogue activation
    (GELU, SiLU: one minimum, decreasing left of it, increasing right of it)."""
    a, b = -6.0, 0.0
    gr = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(200):
        c = b - gr * (b - a)
        d = a + gr * (b - a)
        fc, fd = _sigma(spec, np.array([c, d]))
        if fc < fd:
            b = d
        else:
            a = c
    z0 = 0.5 * (a + b)
    return z0, float(_sigma(spec, np.array([z0]))[0])


def inverse_activation(spec: str, h) -> np.ndarray:
    """``sigma^{-1}(h)`` for a strictly increasing activation; ``nan`` where ``h`` lies
    outside the (open) range of ``sigma`` (e.g. ``h >= 1`` for sigmoid).

    >>> import numpy as np
    >>> inverse_activation("leaky_relu:0.1", np.array([-0.1, 2.0])).tolist()
    [-1.0, 2.0]
    """
    act = parse_activation(spec)
    if activation_monotonicity(act.name) != "strictly_increasing":
        raise UnknownActivationError(f"inverse_activation: {act.name!r} is not strictly increasing")
    h = np.asarray(h, dtype=np.float64)
    base = _base(act.name)
    with np.errstate(all="ignore"):
        if base == "identity":
            return h.copy()
        if base == "leaky_relu":
            return np.where(h > 0, h, h / act.param)
        if base == "tanh":
            return np.where(np.abs(h) < 1.0, np.arctanh(np.clip(h, -1.0, 1.0)), np.nan)
        if base == "sigmoid":
            return np.where((h > 0.0) & (h < 1.0), np.log(h) - np.log1p(-h), np.nan)
        if base == "softplus":
            # log(expm1(h)) = h + log(-expm1(-h)), stable for large h
            return np.where(h > 0.0, h + np.log(-np.expm1(-h)), np.nan)
        if base == "elu":
            alpha = act.param
            return np.where(h > 0.0, h, np.where(h > -alpha, np.log1p(h / alpha), np.nan))
    # sympy expression analysed as strictly increasing: bracket, then bisection
    lo = np.full(h.shape, -1.0)
    hi = np.full(h.shape, 1.0)
    for _ in range(60):
        low = _sigma(act.name, lo) > h
        high = _sigma(act.name, hi) < h
        if not (np.any(low) or np.any(high)):
            break
        lo = np.where(low, 2.0 * lo, lo)
        hi = np.where(high, 2.0 * hi, hi)
    z = _bisect(act.name, h, lo, hi, increasing=True)
    ok = np.abs(_sigma(act.name, z) - h) <= 1e-9 * np.maximum(1.0, np.abs(h))
    return np.where(ok, z, np.nan)


#: relative float64 uncertainty of a target value (a few ulps of sigma's rounding)
_H_ULPS = 4.0 * np.finfo(np.float64).eps
#: a preimage interval narrower than this (relative to 1 + |z|) is a single value
_POINT_RTOL = 1e-12


def preimage_uncertainty(spec: str, h) -> tuple[np.ndarray, np.ndarray]:
    """Preimage interval of float targets under a strictly increasing activation.

    A float value ``h`` stands for any real in ``[h - u, h + u]``,
    ``u = 4 eps |h| + 1e-300`` (the rounding of ``sigma``'s output), so its preimage is
    ``[sigma^{-1}(h - u), sigma^{-1}(h + u)]``. Where that interval is narrower than
    ``1e-12 (1 + |z|)`` it is returned as the single value ``sigma^{-1}(h)`` (an
    equality constraint); where ``sigma`` saturates (tanh or sigmoid near their
    limits, including outputs rounded to exactly 1) it is a genuine interval, possibly
    unbounded (``+-inf``). ``nan`` in both: ``h`` outside the range of ``sigma``.

    >>> import numpy as np
    >>> lo, hi = preimage_uncertainty("tanh", np.array([0.5, 1.0, 2.0]))
    >>> [round(float(lo[0]), 6), round(float(hi[0]), 6)], bool(lo[1] > 17 and hi[1] == np.inf), bool(np.isnan(lo[2]))
    ([0.549306, 0.549306], True, True)
    """
    h = np.asarray(h, dtype=np.float64)
    u = _H_ULPS * np.abs(h) + 1e-300
    z = inverse_activation(spec, h)
    zlo = inverse_activation(spec, h - u)
    zhi = inverse_activation(spec, h + u)
    bad = np.isnan(zlo) & np.isnan(zhi) & np.isnan(z)
    zlo = np.where(np.isnan(zlo), -np.inf, zlo)
    zhi = np.where(np.isnan(zhi), np.inf, zhi)
    point = np.isfinite(z) & (zhi - zlo <= _POINT_RTOL * (1.0 + np.abs(z)))
    zlo = np.where(point, z, zlo)
    zhi = np.where(point, z, zhi)
    zlo[bad] = np.nan
    zhi[bad] = np.nan
    return zlo, zhi


def preimage_intervals(spec: str, h) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Preimage of each target value under ``sigma`` as up to two closed intervals.

    Returns ``(lo, hi, count)``: ``lo``, ``hi`` of shape ``(n, 2)`` (``-inf``/``inf``
    for unbounded ends; unused slots ``nan``) and ``count`` (n,) in {0, 1, 2}
    (0: ``h`` outside the range of ``sigma`` -> unrealizable). Two intervals occur
    only for non-monotone activations (GELU, SiLU: values between the minimum and 0
    have a left and a right branch).

    >>> import numpy as np
    >>> lo, hi, count = preimage_intervals("relu", np.array([2.0, 0.0, -1.0]))
    >>> lo[:, 0].tolist(), hi[:, 0].tolist(), count.tolist()
    ([2.0, -inf, nan], [2.0, 0.0, nan], [1, 1, 0])
    """
    act = parse_activation(spec)
    h = np.asarray(h, dtype=np.float64).reshape(-1)
    n = h.size
    lo = np.full((n, 2), np.nan)
    hi = np.full((n, 2), np.nan)
    count = np.zeros(n, dtype=np.int64)
    kind = activation_monotonicity(act.name)
    base = _base(act.name)
    if kind == "strictly_increasing":
        zlo, zhi = preimage_uncertainty(act.name, h)
        ok = ~(np.isnan(zlo) | np.isnan(zhi))
        lo[ok, 0] = zlo[ok]
        hi[ok, 0] = zhi[ok]
        count[ok] = 1
        return lo, hi, count
    if base in ("relu", "leaky_relu"):
        pos = h > 0.0
        zero = h == 0.0
        lo[pos, 0] = h[pos]
        hi[pos, 0] = h[pos]
        lo[zero, 0] = -np.inf
        hi[zero, 0] = 0.0
        count[pos | zero] = 1
        return lo, hi, count
    if base == "hard_tanh":
        inner = (h > -1.0) & (h < 1.0)
        lo[inner, 0] = h[inner]
        hi[inner, 0] = h[inner]
        top = h == 1.0
        lo[top, 0], hi[top, 0] = 1.0, np.inf
        bottom = h == -1.0
        lo[bottom, 0], hi[bottom, 0] = -np.inf, -1.0
        count[inner | top | bottom] = 1
        return lo, hi, count
    if base in ("gelu", "silu"):
        z0, gmin = _minimum(act.name)
        tol = 1e-14
        right = h >= gmin - tol
        at_min = right & (h <= gmin + tol)
        both = right & ~at_min & (h < 0.0)
        # right branch: increasing on [z0, inf); sigma(z) <= z for z >= 0, so z <= h + 10
        idx = np.flatnonzero(right & ~at_min)
        if idx.size:
            zr = _bisect(act.name, h[idx], np.full(idx.size, z0), np.maximum(h[idx], 0.0) + 10.0, True)
            lo[idx, 0] = zr
            hi[idx, 0] = zr
        lo[at_min, 0] = z0
        hi[at_min, 0] = z0
        count[right] = 1
        # left branch: decreasing on (-inf, z0]; sigma(-40) underflows to -0.0, so
        # preimages below -40 (|h| < 1e-300) are not enumerated
        idx = np.flatnonzero(both & (h < _sigma(act.name, np.array([-40.0]))[0]))
        if idx.size:
            zl = _bisect(act.name, h[idx], np.full(idx.size, -40.0), np.full(idx.size, z0), False)
            lo[idx, 1] = zl
            hi[idx, 1] = zl
            count[idx] = 2
        return lo, hi, count
    raise UnknownActivationError(
        f"preimage_intervals: activation {act.name!r} ({kind}) is not supported for realization; "
        "use a catalogue activation or a strictly increasing sympy expression"
    )
