"""Activation catalogue for the numerics: names -> integer codes -> numba kernels.

Networks store one activation code and one real parameter per hidden neuron, so a
standard layer (one activation) and a sigma-asymmetric layer (one per neuron) run the
same kernels. Names follow DESIGN.md: ``relu``, ``leaky_relu`` / ``leaky_relu:0.1``,
``gelu``, ``tanh``, ``sigmoid``, ``softplus``, ``elu`` / ``elu:0.5``, ``silu``,
``identity``, ``hard_tanh`` and ``sympy:<expression in z>``. User expressions have no
numba kernel; they are evaluated through the theory layer's numpy callable (forward
only: training needs a catalogue activation).

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

from ._config import JIT, PARALLEL_JIT, PARALLEL_MIN_ELEMENTS
from ._fast_math import fast_gelu, fast_ndtr, fast_normal_pdf, fast_sigmoid, fast_silu, fast_tanh

IDENTITY, RELU, LEAKY_RELU, GELU, TANH, SIGMOID, SOFTPLUS, ELU, SILU, HARD_TANH = range(10)
#: Code for an activation without a numba kernel (``sympy:`` expressions).
EXTERNAL = -1

#: base name -> (code, default parameter or None when the name takes no parameter)
_CATALOGUE = {
    "identity": (IDENTITY, None),
    "relu": (RELU, None),
    "leaky_relu": (LEAKY_RELU, 0.01),
    "gelu": (GELU, None),
    "tanh": (TANH, None),
    "sigmoid": (SIGMOID, None),
    "softplus": (SOFTPLUS, None),
    "elu": (ELU, 1.0),
    "silu": (SILU, None),
    "hard_tanh": (HARD_TANH, None),
}
CATALOGUE = tuple(_CATALOGUE)


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
        raise UnknownActivationError(
            f"activation must be a non-empty string, found {spec!r}; "
            f"valid: {', '.join(CATALOGUE)}, leaky_relu:<slope>, elu:<alpha>, sympy:<expression in z>"
        )
    text = spec.strip()
    if text.startswith("sympy:"):
        from neuronid.theory.activations import get_activation  # validates the expression

        info = get_activation(text)
        return Activation(name=info.name, code=EXTERNAL, param=0.0)
    base, sep, arg = text.partition(":")
    base = base.strip()
    if base not in _CATALOGUE:
        raise UnknownActivationError(
            f"unknown activation {spec!r}; valid: {', '.join(CATALOGUE)}, "
            "leaky_relu:<slope>, elu:<alpha>, sympy:<expression in z>"
        )
    code, default = _CATALOGUE[base]
    if sep:
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


@njit(**JIT)
def _act(code, param, z):
    if code == RELU:
        return z if z > 0.0 else 0.0
    if code == LEAKY_RELU:
        return z if z > 0.0 else param * z
    # tanh, sigmoid, GELU, SiLU: the vectorizable kernels of _fast_math (a few ulp,
    # stated and tested there), shared with the path evaluator
    if code == TANH:
        return fast_tanh(z)
    if code == SIGMOID:
        return fast_sigmoid(z)
    if code == GELU:
        return fast_gelu(z)
    if code == SOFTPLUS:
        # log(1 + e^z) without overflow
        if z > 0.0:
            return z + math.log1p(math.exp(-z))
        return math.log1p(math.exp(z))
    if code == ELU:
        return z if z > 0.0 else param * math.expm1(z)
    if code == SILU:
        return fast_silu(z)
    if code == HARD_TANH:
        if z > 1.0:
            return 1.0
        if z < -1.0:
            return -1.0
        return z
    return z  # IDENTITY


@njit(**JIT)
def _dact(code, param, z):
    """Derivative; at kinks the right derivative for z > 0 and left otherwise (0 at relu's 0)."""
    if code == RELU:
        return 1.0 if z > 0.0 else 0.0
    if code == LEAKY_RELU:
        return 1.0 if z > 0.0 else param
    if code == TANH:
        t = fast_tanh(z)
        return 1.0 - t * t
    if code == SIGMOID:
        s = fast_sigmoid(z)
        return s * (1.0 - s)
    if code == GELU:
        return fast_ndtr(z) + z * fast_normal_pdf(z)
    if code == SOFTPLUS:
        if z >= 0.0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)
    if code == ELU:
        return 1.0 if z > 0.0 else param * math.exp(z)
    if code == SILU:
        s = fast_sigmoid(z)
        return s * (1.0 + z * (1.0 - s))
    if code == HARD_TANH:
        return 1.0 if -1.0 < z < 1.0 else 0.0
    return 1.0  # IDENTITY


@njit(**JIT)
def activate_columns(Z, codes, params, out):
    """``out[s, i] = sigma_i(Z[s, i])``; codes/params per column (neuron)."""
    n, m = Z.shape
    for s in range(n):
        for i in range(m):
            out[s, i] = _act(codes[i], params[i], Z[s, i])
    return out


@njit(**JIT)
def activate_columns_uniform(Z, code, param, out):
    """Same as :func:`activate_columns` with one activation for the whole layer."""
    n, m = Z.shape
    for s in range(n):
        for i in range(m):
            out[s, i] = _act(code, param, Z[s, i])
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


@njit(**PARALLEL_JIT)
def activate_columns_uniform_parallel(Z, code, param, out):
    """:func:`activate_columns_uniform` with the rows spread over threads (same values)."""
    n, m = Z.shape
    for s in prange(n):
        for i in range(m):
            out[s, i] = _act(code, param, Z[s, i])
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


def layer_activations(spec, m: int, *, where: str = "") -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Parse a layer's activation entry (one name, or a list of ``m`` names).

    Returns ``(names per neuron, codes int64 (m,), params float64 (m,))``.
    """
    prefix = f"{where}: " if where else ""
    if isinstance(spec, str):
        act = parse_activation(spec)
        names = (act.name,) * m
    elif isinstance(spec, (list, tuple)):
        if len(spec) != m:
            raise UnknownActivationError(
                f"{prefix}per-neuron activation list has {len(spec)} entries, expected {m} (one per neuron)"
            )
        names = tuple(parse_activation(s).name for s in spec)
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
    if codes.size and np.all(codes == codes[0]) and np.all(params == params[0]) and codes[0] != EXTERNAL:
        return uniform(Z, codes[0], Z.dtype.type(params[0]), out)
    if np.all(codes != EXTERNAL):
        return columns(Z, codes, params.astype(Z.dtype), out)
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
        from neuronid.theory.activations import get_activation

        return np.asarray(get_activation(act.name).derivative_numpy(z), dtype=np.float64)
    kernel = derivative_columns_parallel if use_parallel_kernels(flat.size) else derivative_columns
    out = kernel(flat, np.array([act.code]), np.array([act.param]), np.empty_like(flat))
    return out.reshape(z.shape)
