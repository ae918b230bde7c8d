"""The theory layer's numpy activations agree with the numerics layer's kernels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuronid.theory import CATALOGUE, get_activation

from neuronid.numerics.activations import apply_activation, apply_activation_derivative

SPECS = list(CATALOGUE) + ["leaky_relu:0.2", "elu:0.5"]
GRID = np.concatenate([np.linspace(-40, 40, 4001), [0.0, -0.0, 1.0, -1.0, 1e-300, -1e-300, 1e-8, -1e-8]])


def close(a, b):
    return np.all(np.abs(a - b) <= 1e-12 + 1e-12 * np.abs(b))


@pytest.mark.parametrize("spec", SPECS)
def test_grid(spec):
    ours = get_activation(spec).numpy(GRID)
    theirs = np.asarray(apply_activation(spec, GRID.copy()), dtype=np.float64)
    assert theirs.shape == GRID.shape
    bad = ~(np.abs(ours - theirs) <= 1e-12 + 1e-12 * np.abs(theirs))
    assert not bad.any(), f"{spec}: differs at z = {GRID[bad][:5]}"


@given(st.lists(st.floats(-60, 60, allow_nan=False), min_size=1, max_size=50), st.sampled_from(SPECS))
def test_hypothesis_points(zs, spec):
    z = np.array(zs, dtype=np.float64)
    assert close(get_activation(spec).numpy(z), np.asarray(apply_activation(spec, z.copy()), dtype=np.float64))


@pytest.mark.parametrize("spec", SPECS)
def test_derivative_grid(spec):
    """sigma' too (kink convention included)."""
    ours = get_activation(spec).derivative_numpy(GRID)
    theirs = np.asarray(apply_activation_derivative(spec, GRID.copy()), dtype=np.float64)
    assert close(ours, theirs), spec
