"""Row-parallel elementwise kernels give bitwise the values of the serial ones.

The parallel kernels (``prange`` over rows) compute every element with the same code
as the serial kernels, so the comparison is exact (tolerance 0), for every catalogue
activation, on arrays above :data:`PARALLEL_MIN_ELEMENTS` (where callers use them).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from neuronid.numerics import activations as act
from neuronid.numerics import paths
from neuronid.numerics._config import PARALLEL_MIN_ELEMENTS
from neuronid.numerics.structures import sigma_asymmetric_mlp, standard_mlp

SPECS = list(act.CATALOGUE) + ["leaky_relu:0.2", "elu:0.5"]
ROWS, COLS = 260, 257  # > PARALLEL_MIN_ELEMENTS elements, odd widths


def _z(seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.normal(scale=6.0, size=(ROWS, COLS))
    Z[0, :8] = [0.0, -0.0, 1e-300, -1e-300, 40.0, -40.0, 800.0, -800.0]  # kinks, tiny, saturation, overflow
    return Z


def test_sizes_use_the_parallel_kernels():
    assert ROWS * COLS >= PARALLEL_MIN_ELEMENTS


@pytest.mark.parametrize("spec", SPECS)
def test_activation_kernel_parallel_equals_serial(spec):
    a = act.parse_activation(spec)
    Z = _z()
    serial = act.activate_columns_uniform(Z, a.code, a.param, np.empty_like(Z))
    parallel = act.activate_columns_uniform_parallel(Z, a.code, a.param, np.empty_like(Z))
    assert np.array_equal(serial, parallel, equal_nan=True)
    codes, params = np.full(COLS, a.code), np.full(COLS, a.param)
    assert np.array_equal(act.activate_columns(Z, codes, params, np.empty_like(Z)),
                          act.activate_columns_parallel(Z, codes, params, np.empty_like(Z)), equal_nan=True)
    assert np.array_equal(act.derivative_columns(Z, codes, params, np.empty_like(Z)),
                          act.derivative_columns_parallel(Z, codes, params, np.empty_like(Z)), equal_nan=True)
    # the public entry point (parallel at this size) agrees with the serial kernel too
    assert np.array_equal(act.apply_activation(spec, Z), serial, equal_nan=True)


def test_activation_kernel_per_neuron_columns():
    parsed = [act.parse_activation(SPECS[i % len(SPECS)]) for i in range(COLS)]
    codes = np.array([p.code for p in parsed])
    params = np.array([p.param for p in parsed])
    Z = _z(1)
    serial = act.activate_columns(Z, codes, params, np.empty_like(Z))
    assert np.array_equal(act.apply_layer(Z, [p.name for p in parsed], codes, params), serial, equal_nan=True)


@pytest.mark.parametrize("spec", SPECS)
def test_path_bias_activation_kernel_parallel_equals_serial(spec):
    a = act.parse_activation(spec)
    Z = _z(2)
    b = np.random.default_rng(3).normal(size=COLS)
    serial = paths._bias_act_uniform(Z.copy(), b, a.code, a.param)
    assert np.array_equal(serial, paths._bias_act_uniform_parallel(Z.copy(), b, a.code, a.param), equal_nan=True)
    codes, params = np.full(COLS, a.code), np.full(COLS, a.param)
    assert np.array_equal(paths._bias_act_columns(Z.copy(), b, codes, params),
                          paths._bias_act_columns_parallel(Z.copy(), b, codes, params), equal_nan=True)


@pytest.mark.parametrize("build", [lambda s: standard_mlp([6, 300, 5], activation="gelu", seed=s),
                                   lambda s: sigma_asymmetric_mlp([6, 300, 5], seed=s, structure_seed=0)])
def test_path_parallel_kernels_match_serial(build, monkeypatch):
    """A path point through the parallel kernels equals the serial kernels', bitwise."""
    A, B = build(0), build(1)
    X = np.random.default_rng(0).normal(size=(400, 6))
    outs = []
    for threshold in (PARALLEL_MIN_ELEMENTS, 10**12):  # parallel (400 x 300 elements), then serial
        monkeypatch.setattr(act, "PARALLEL_MIN_ELEMENTS", threshold)
        assert act.use_parallel_kernels(400 * 300) == (threshold == PARALLEL_MIN_ELEMENTS)
        ev = paths._PathEvaluator(A, B, X)
        ev.set_t(0.3)
        outs.append(np.concatenate([F.copy() for _, _, F in ev.blocks()]))
    assert 400 * 300 >= PARALLEL_MIN_ELEMENTS
    assert np.array_equal(outs[0], outs[1])


def test_worker_threads_use_the_serial_kernels():
    """Only the main thread launches parallel kernels (the workqueue layer aborts on
    concurrent launches); a worker thread gets the serial kernels and the same values."""
    Z = _z(4)
    seen = {}

    def work():
        seen["parallel"] = act.use_parallel_kernels(Z.size)
        seen["out"] = act.apply_activation("gelu", Z)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert act.use_parallel_kernels(Z.size) and seen["parallel"] is False
    assert np.array_equal(seen["out"], act.apply_activation("gelu", Z))
