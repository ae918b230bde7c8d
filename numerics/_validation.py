"""Validation and coercion at the public boundary of the numerics (the scikit-learn
``check_array`` pattern).

Public functions validate their arguments once, here, and hand clean C-contiguous
float64 arrays to underscored cores and numba kernels, which never validate. Every
message names what was checked (and where: file, layer, tensor), what was expected
and what was found; the error class is the caller's (a subclass of
:class:`~neuronid.errors.InvalidInputError`, so the CLI exits with status 2).

One message shape for non-finite values, used everywhere in the numerics::

    <where>: <what> contains NaN or Inf (first at index <i>), <k> of <n> entries; expected finite values

Example
-------
>>> import numpy as np
>>> check_array([[1, 2], [3, 4]], what="X", ndim=2).dtype
dtype('float64')
>>> check_array(np.array([1.0, np.nan]), what="bias", where="layer 0")
Traceback (most recent call last):
...
neuronid.errors.InvalidDataError: layer 0: bias contains NaN or Inf (first at index 1), 1 of 2 entries; expected finite values
>>> check_number(0.5, what="tau", low=0.0, high=1.0, low_open=True)
0.5
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from neuronid.errors import InvalidDataError, InvalidOptionError

__all__ = ["check_array", "check_inputs", "check_number", "ensure_finite", "nonfinite_message"]

#: dtype kinds accepted as real numbers (bool, unsigned, signed, float)
_REAL_KINDS = "biuf"


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def nonfinite_message(arr: np.ndarray, what: str, *, where: str = "") -> str | None:
    """The one "NaN or Inf" message for ``arr``, or ``None`` when every entry is finite.

    >>> nonfinite_message(np.array([[0.0, np.inf]]), "'X'", where="data.npz")
    "data.npz: 'X' contains NaN or Inf (first at index (0, 1)), 1 of 2 entries; expected finite values"
    """
    bad = ~np.isfinite(arr)
    if not bad.any():
        return None
    first = np.argwhere(bad)[0]
    index = int(first[0]) if first.size == 1 else tuple(int(i) for i in first)
    return (
        f"{_prefix(where)}{what} contains NaN or Inf (first at index {index}), "
        f"{int(bad.sum())} of {arr.size} entries; expected finite values"
    )


def ensure_finite(arr: np.ndarray, what: str, *, where: str = "", error=InvalidDataError) -> np.ndarray:
    """Raise ``error`` with :func:`nonfinite_message` if ``arr`` has a NaN or Inf; return ``arr``."""
    message = nonfinite_message(arr, what, where=where)
    if message is not None:
        raise error(message)
    return arr


def check_array(value, *, what: str, where: str = "", ndim: int | None = None, shape=None,
                layout: str = "", finite: bool = True, allow_empty: bool = True, empty_noun: str = "array",
                dtype=np.float64, copy: bool = False, error=InvalidDataError) -> np.ndarray:
    """Coerce ``value`` to a C-contiguous real array of ``dtype`` and check it.

    Parameters
    ----------
    what, where : name the array (``"X"``, ``"bias"``) and its place (a file, ``"layer 2"``)
        in messages only.
    ndim : required number of dimensions (``layout`` describes them, e.g. ``"(n, d)"``).
    shape : required shape (checked after ``ndim``).
    finite : reject NaN and Inf (the one message of :func:`nonfinite_message`).
    allow_empty : accept arrays with a zero-length dimension (``empty_noun`` names
        what an empty one would be: ``"support"``, ``"data"``).
    dtype : target dtype (real inputs only: bool, integers and floats are accepted).
    copy : always return a new array (the caller keeps it).
    error : the exception class raised (an :class:`~neuronid.errors.InvalidInputError`).
    """
    prefix = _prefix(where)
    arr = np.asarray(value)
    if arr.dtype.kind not in _REAL_KINDS:
        raise error(f"{prefix}{what}: expected a real numeric array, found dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        described = f" {layout}" if layout else ""
        raise error(f"{prefix}{what}: expected a {ndim}-D array{described}, found shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise error(f"{prefix}{what} must have shape {tuple(shape)}, found {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise error(f"{prefix}{what}: empty {empty_noun}, shape {arr.shape}")
    if copy:
        arr = np.array(arr, dtype=dtype, order="C", copy=True)
    else:
        arr = np.ascontiguousarray(arr, dtype=dtype)
    if finite:
        ensure_finite(arr, what, where=where, error=error)
    return arr


def check_inputs(X, n_inputs: int, *, name: str = "X") -> np.ndarray:
    """Network inputs as a C-contiguous 2-D float array with ``n_inputs`` columns
    (float32 stays float32; other real dtypes become float64).

    >>> check_inputs(np.ones((2, 3)), 4)
    Traceback (most recent call last):
    ...
    neuronid.errors.InvalidDataError: X: the network expects 4 input features, found 3 (shape (2, 3))
    """
    arr = np.asarray(X)
    if arr.dtype.kind not in _REAL_KINDS:
        raise InvalidDataError(f"{name}: expected a real numeric array, found dtype {arr.dtype}")
    if arr.ndim != 2:
        raise InvalidDataError(f"{name}: expected a 2-D array (n, {n_inputs}), found shape {arr.shape}")
    if arr.shape[1] != n_inputs:
        raise InvalidDataError(
            f"{name}: the network expects {n_inputs} input features, found {arr.shape[1]} (shape {arr.shape})"
        )
    if arr.shape[0] == 0:
        raise InvalidDataError(f"{name}: empty data (0 rows)")
    arr = np.ascontiguousarray(arr, dtype=arr.dtype if arr.dtype.kind == "f" else np.float64)
    return ensure_finite(arr, name)


def check_number(value, *, what: str, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, hint: str = "",
                 error=InvalidOptionError) -> float:
    """A finite real number (a Python or numpy real, or a 0-d real array; not a bool, not a
    string) within ``[low, high]`` (ends open as asked), returned as a float.

    >>> check_number(-1, what="eps", low=0.0)
    Traceback (most recent call last):
    ...
    neuronid.errors.InvalidOptionError: eps must be a finite number >= 0, found -1
    """
    if low is not None and high is not None:
        expected = f"a finite number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        expected = f"a finite number {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        expected = f"a finite number {'<' if high_open else '<='} {high:g}"
    else:
        expected = "a finite number"
    tail = f"; {hint}" if hint else ""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise error(f"{what} must be {expected}, found {value!r}{tail}")
    number = float(value)
    ok = math.isfinite(number)
    if ok and low is not None:
        ok = number > low if low_open else number >= low
    if ok and high is not None:
        ok = number < high if high_open else number <= high
    if not ok:
        raise error(f"{what} must be {expected}, found {value!r}{tail}")
    return number
