"""numerics/_validation.py: the one boundary check of arrays and numbers (issue 10)."""

import numpy as np
import pytest

from neuronid.errors import InvalidDataError, InvalidNetworkError, InvalidOptionError
from neuronid.numerics._validation import check_array, check_inputs, check_number, nonfinite_message
from neuronid.numerics.network import Layer, Norm
from neuronid.numerics.supports import compute_support


@pytest.mark.parametrize(
    "call, exc, fragments",
    [
        (lambda: check_array(np.array(["a"]), what="X"), InvalidDataError, ["X: expected a real numeric array", "<U1"]),
        (lambda: check_array(np.ones(3), what="X", ndim=2, layout="(n, d)"), InvalidDataError,
         ["X: expected a 2-D array (n, d), found shape (3,)"]),
        (lambda: check_array(np.ones(3), what="bias", where="layer 1", shape=(4,)), InvalidDataError,
         ["layer 1: bias must have shape (4,), found (3,)"]),
        (lambda: check_array(np.ones((0, 2)), what="X", allow_empty=False, empty_noun="support"), InvalidDataError,
         ["X: empty support, shape (0, 2)"]),
        (lambda: check_array([[0.0, np.nan], [np.inf, 1.0]], what="X", error=InvalidNetworkError), InvalidNetworkError,
         ["X contains NaN or Inf (first at index (0, 1)), 2 of 4 entries; expected finite values"]),
        (lambda: check_inputs(np.ones((2, 3)), 4), InvalidDataError, ["expects 4 input features, found 3"]),
        (lambda: check_inputs(np.ones((0, 4)), 4), InvalidDataError, ["empty data"]),
        (lambda: check_inputs(np.full((2, 4), np.nan), 4, name="X_align"), InvalidDataError,
         ["X_align contains NaN or Inf (first at index (0, 0)), 8 of 8 entries"]),
        (lambda: check_number("x", what="tau", low=0.0, high=1.0, low_open=True), InvalidOptionError,
         ["tau must be a finite number in (0, 1], found 'x'"]),
        (lambda: check_number(True, what="eps", low=0.0), InvalidOptionError, ["eps must be a finite number >= 0, found True"]),
        (lambda: check_number(float("nan"), what="eps", low=0.0), InvalidOptionError, ["found nan"]),
        (lambda: check_number(1.0, what="rate", high=1.0, high_open=True, hint="lower it"), InvalidOptionError,
         ["rate must be a finite number < 1, found 1.0; lower it"]),
    ],
)
def test_bad_inputs(call, exc, fragments):
    with pytest.raises(exc) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value)


def test_one_message_shape_for_every_non_finite_array():
    """Network tensors, norms, supports and data all say the same thing (issue 10: three shapes before)."""
    messages = []
    for call in (
        lambda: Layer(np.array([[1.0, np.nan]]), activation="relu", where="layer 0"),
        lambda: Norm("layer", 1e-5, np.array([1.0, np.inf]), np.zeros(2), where="layer 0 norm"),
        lambda: compute_support(np.array([[1.0, np.nan]])),
        lambda: check_inputs(np.array([[np.nan, 1.0]]), 2),
    ):
        with pytest.raises((InvalidDataError, InvalidNetworkError)) as info:
            call()
        messages.append(str(info.value))
    for message in messages:
        assert "contains NaN or Inf (first at index " in message and message.endswith("; expected finite values")


def test_valid_arrays_pass_through_unchanged():
    X = np.arange(6, dtype=np.int32).reshape(2, 3)
    out = check_array(X, what="X", ndim=2)
    assert out.dtype == np.float64 and out.flags.c_contiguous and np.array_equal(out, X)
    f32 = np.ones((2, 3), dtype=np.float32)
    assert check_inputs(f32, 3).dtype == np.float32  # float inputs keep their precision
    assert nonfinite_message(np.ones(3), "x") is None
    assert check_number(np.float32(0.5), what="t", low=0.0, high=1.0) == 0.5


@pytest.mark.parametrize("value", ["0.5", None, [0.5], np.ones(2), 1j])
def test_check_number_accepts_only_real_numbers(value):
    with pytest.raises(InvalidOptionError, match="must be a finite number"):
        check_number(value, what="x")


def test_check_number_accepts_numpy_reals_and_0d_arrays():
    assert check_number(np.int64(2), what="x") == 2.0
    assert check_number(np.array(0.25), what="x", low=0.0) == 0.25
