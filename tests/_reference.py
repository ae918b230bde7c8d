"""The one reference path evaluator of the tests: slow, obviously correct numpy.

``reference_path_outputs(A, B, X, grid)`` gives ``f_t(X)`` for every ``t`` of
``grid`` (an array ``(T, n, o)``): effective weights and biases interpolated by hand,
``(1 - t) theta_A + t theta_B`` (D5), then a plain numpy forward pass with each
neuron's activation from the table below (independent of the numba kernels). An
activation outside the table falls back to the catalogue's ``apply_activation``
(said in the function's docstring so a reader knows which part is independent).
Networks with normalization layers are refused (their tests compare with PyTorch).

Imported as ``from _reference import reference_path_outputs`` (pytest puts the
folder of ``tests/conftest.py`` on ``sys.path``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf, expit

from neuronid.numerics.activations import apply_activation


def _elu(z, a=1.0):
    return np.where(z > 0, z, a * np.expm1(np.minimum(z, 0.0)))


_TABLE = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": expit,
    "softplus": lambda z: np.logaddexp(0.0, z),
    "gelu": lambda z: 0.5 * z * (1.0 + erf(z / np.sqrt(2.0))),
    "silu": lambda z: z * expit(z),
    "hard_tanh": lambda z: np.clip(z, -1.0, 1.0),
    "elu": _elu,
}


def reference_activation(name: str, z: np.ndarray) -> np.ndarray:
    """``sigma(z)`` for one activation name: numpy from the table, parameters after a
    colon (``leaky_relu:0.1``, ``elu:0.5``); other names via ``apply_activation``."""
    base, _, param = name.partition(":")
    if base == "leaky_relu" and param:
        a = float(param)
        return np.where(z > 0, z, a * z)
    if base == "elu" and param:
        return _elu(z, float(param))
    if base in _TABLE and not param:
        return _TABLE[base](z)
    return apply_activation(name, z)


def reference_forward(Ws, bs, layers, X) -> np.ndarray:
    """Outputs of the network with weights ``Ws``, biases ``bs`` and the activations of
    ``layers`` (per neuron) on ``X``."""
    h = np.asarray(X, dtype=np.float64)
    for l, (W, b, layer) in enumerate(zip(Ws, bs, layers)):
        if layer.norm is not None:
            raise AssertionError("reference_forward: normalization layers are not covered")
        z = h @ W.T + b
        if l == len(Ws) - 1:
            return z
        h = np.empty_like(z)
        names = np.asarray(layer.names)
        for name in dict.fromkeys(layer.names):  # one call per distinct activation of the layer
            cols = names == name
            h[:, cols] = reference_activation(name, z[:, cols])
    raise AssertionError("a network has an output layer")


def reference_path_outputs(A, B, X, grid) -> np.ndarray:
    """``f_t(X)`` for every ``t`` of ``grid``: ``(T, n, o)``."""
    out = []
    for t in np.asarray(grid, dtype=np.float64):
        Ws = [(1.0 - t) * a + t * b for a, b in zip(A.effective_weights(), B.effective_weights())]
        bs = [(1.0 - t) * a + t * b for a, b in zip(A.biases(), B.biases())]
        out.append(reference_forward(Ws, bs, A.layers, X))
    return np.array(out)
