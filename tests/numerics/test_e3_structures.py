"""W-MLP options behind E3's paper model: one ``sigma_F`` per layer (the paper's mask
constants 1, 1, 0.5, 0.25) and the authors' ``N(0, 1/fan_in)`` initialization."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuronid.errors import InvalidOptionError
from neuronid.numerics.structures import FAN_IN, syre_mlp, w_mlp

SIZES = [20, 16, 16, 4]


def test_scalar_sigma_equals_the_same_value_for_every_layer():
    a = w_mlp(SIZES, n_fixed=[3, 4, 8], sigma_F=0.7, seed=1, structure_seed=5)
    b = w_mlp(SIZES, n_fixed=[3, 4, 8], sigma_F=[0.7, 0.7, 0.7], seed=1, structure_seed=5)
    for la, lb in zip(a.layers, b.layers):
        assert np.array_equal(la.fixed, lb.fixed) and np.array_equal(la.mask, lb.mask)
        assert np.array_equal(la.weight, lb.weight)


@given(st.lists(st.floats(0.0, 4.0, allow_nan=False), min_size=3, max_size=3))
def test_fixed_part_is_sigma_l_times_the_unit_draw(sigmas):
    """Per layer the fixed part is exactly ``sigma_l * (1-mask) * n`` with the draws
    ``n`` and masks of the ``sigma_F = 1`` network (same structure seed)."""
    unit = w_mlp(SIZES, n_fixed=[3, 4, 8], sigma_F=1.0, seed=0, structure_seed=2)
    net = w_mlp(SIZES, n_fixed=[3, 4, 8], sigma_F=sigmas, seed=0, structure_seed=2)
    for l, (lu, ln) in enumerate(zip(unit.layers, net.layers)):
        assert np.array_equal(ln.mask, lu.mask)
        assert np.array_equal(ln.fixed, sigmas[l] * lu.fixed)


def test_fixed_part_sd_follows_the_mask_constants():
    consts = [1.0, 0.5, 0.25]
    net = w_mlp([200, 200, 200, 50], n_fixed=[40, 40, 100], sigma_F=consts, seed=0)
    for layer, c in zip(net.layers, consts):
        vals = layer.fixed[layer.mask == 0]
        # >= 5,000 N(0, c^2) draws: sd within 5 % (about 5 standard errors)
        assert abs(vals.std() / c - 1.0) < 0.05
        assert np.all(layer.fixed[layer.mask == 1] == 0.0)


def test_fan_in_init_is_the_authors_sparse_linear():
    net = w_mlp([400, 300, 10], n_fixed=[10, 100], sigma_F=1.0, seed=0, init_std=FAN_IN)
    for layer in net.layers:
        d = layer.shape[1]
        trainable = layer.weight[layer.mask == 1]  # fixed entries hold no trainable value
        assert abs(trainable.std() * np.sqrt(d) - 1.0) < 0.05  # N(0, 1/d): >= 2,000 draws
        assert np.all(np.abs(layer.bias) <= 1.0 / np.sqrt(d)) and layer.bias.std() > 0
    syre = syre_mlp([400, 300, 10], kappa=0.1, seed=0, init_std=FAN_IN)
    assert abs(syre.layers[0].weight.std() * 20.0 - 1.0) < 0.05


@pytest.mark.parametrize("kwargs,needle", [
    ({"sigma_F": [1.0, 1.0]}, "expected 3 per-layer values"),
    ({"sigma_F": [1.0, -0.5, 1.0]}, "sigma_F for layer 1"),
    ({"sigma_F": [1.0, float("nan"), 1.0]}, "sigma_F for layer 1"),
    ({"sigma_F": float("inf")}, "sigma_F must be"),
    ({"sigma_F": "1"}, "sigma_F must be"),
    ({"sigma_F": True}, "sigma_F must be"),
    ({"sigma_F": 1.0, "init_std": "xavier"}, "init_std"),
])
def test_bad_options(kwargs, needle):
    with pytest.raises(InvalidOptionError, match=needle):
        w_mlp(SIZES, n_fixed=2, seed=0, **kwargs)
