"""Losses and error rates, one convention for training, paths and certificates.

- ``mse``: mean over samples of ``||f(x) - y(x)||^2`` (summed over output
  coordinates, THEORY.md T4). Integer labels are turned into one-hot targets.
- ``ce``: mean over samples of the softmax cross-entropy ``-log softmax(f(x))[y]``;
  needs integer labels.
- error rate: fraction of samples with ``argmax f(x) != y`` (classification only;
  ``None`` for real-valued targets).

>>> import numpy as np
>>> loss_value("mse", np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]))
1.0
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from neuronid.errors import InvalidDataError, InvalidOptionError

from ._config import JIT
from ._validation import ensure_finite

LOSSES = ("mse", "ce")


def check_loss(loss: str) -> str:
    if loss not in LOSSES:
        raise InvalidOptionError(f"unknown loss {loss!r}; valid: {', '.join(LOSSES)}")
    return loss


@njit(**JIT)
def logsumexp_row(F, s):
    """``log(sum_k exp(F[s, k]))`` without overflow (shared by losses and training)."""
    o = F.shape[1]
    mx = F[s, 0]
    for k in range(1, o):
        if F[s, k] > mx:
            mx = F[s, k]
    acc = 0.0
    for k in range(o):
        acc += math.exp(F[s, k] - mx)
    return mx + math.log(acc)


@njit(**JIT)
def _ce_per_sample(F, labels, out):
    for s in range(F.shape[0]):
        out[s] = logsumexp_row(F, s) - F[s, labels[s]]
    return out


@njit(**JIT)
def _sq_per_sample(F, T, out):
    n, o = F.shape
    for s in range(n):
        acc = 0.0
        for k in range(o):
            d = F[s, k] - T[s, k]
            acc += d * d
        out[s] = acc
    return out


@njit(**JIT)
def _sq_per_sample_labels(F, labels, out):
    n, o = F.shape
    for s in range(n):
        acc = 0.0
        for k in range(o):
            d = F[s, k] - (1.0 if labels[s] == k else 0.0)
            acc += d * d
        out[s] = acc
    return out


@njit(**JIT)
def _error_count(F, labels):
    n, o = F.shape
    wrong = 0
    for s in range(n):
        best = 0
        for k in range(1, o):
            if F[s, k] > F[s, best]:
                best = k
        if best != labels[s]:
            wrong += 1
    return wrong


def targets_for(loss: str, y: np.ndarray, n_outputs: int) -> np.ndarray:
    """Dense targets for MSE: real targets unchanged, labels one-hot."""
    if y.dtype.kind == "i":
        T = np.zeros((y.shape[0], n_outputs))
        T[np.arange(y.shape[0]), y] = 1.0
        return T
    return y


def check_targets(loss: str, y, n_outputs: int, n: int, *, name: str = "y") -> np.ndarray:
    """Validate targets against a loss and the network's output size."""
    check_loss(loss)
    if y is None:
        raise InvalidDataError(f"{name}: targets are required to evaluate the {loss} loss, found none")
    y = np.asarray(y)
    if y.shape[0] != n:
        raise InvalidDataError(f"{name}: has {y.shape[0]} rows but X has {n}")
    if y.dtype.kind in "iub" and y.ndim == 1:
        y = y.astype(np.int64)
        if y.size and (y.min() < 0 or y.max() >= n_outputs):
            raise InvalidDataError(
                f"{name}: labels must lie in [0, {n_outputs - 1}] for a network with {n_outputs} outputs, "
                f"found range [{int(y.min())}, {int(y.max())}]"
            )
        return np.ascontiguousarray(y)
    if loss == "ce":
        raise InvalidDataError(f"{name}: cross-entropy needs integer labels of shape (n,), found {y.dtype} {y.shape}")
    if y.dtype.kind != "f":
        raise InvalidDataError(f"{name}: expected integer labels (n,) or real targets (n, o), found dtype {y.dtype}")
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] != n_outputs:
        raise InvalidDataError(
            f"{name}: real targets must have shape (n, {n_outputs}) to match the network's outputs, found {y.shape}"
        )
    return ensure_finite(np.ascontiguousarray(y, dtype=np.float64), name)


def loss_per_sample(loss: str, F: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-sample loss values (float64) for outputs ``F`` and validated targets ``y``."""
    F = np.ascontiguousarray(F, dtype=np.float64)
    out = np.empty(F.shape[0])
    if loss == "ce":
        return _ce_per_sample(F, y, out)
    if y.dtype.kind == "i":
        return _sq_per_sample_labels(F, y, out)
    return _sq_per_sample(F, np.ascontiguousarray(y, dtype=np.float64), out)


def loss_value(loss: str, F: np.ndarray, y: np.ndarray) -> float:
    """Mean loss over samples."""
    return float(np.mean(loss_per_sample(check_loss(loss), F, y)))


def error_rate(F: np.ndarray, y: np.ndarray):
    """Misclassification rate for integer labels; ``None`` for real targets."""
    if y.dtype.kind != "i":
        return None
    return _error_count(np.ascontiguousarray(F, dtype=np.float64), y) / F.shape[0]
