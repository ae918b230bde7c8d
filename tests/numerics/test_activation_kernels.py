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


@pytest.mark.parametrize("build", [lambda s: standard_mlp([6, 40, 5], activation="gelu", seed=s),
                                   lambda s: sigma_asymmetric_mlp([6, 40, 5], seed=s, structure_seed=0)])
def test_path_outputs_do_not_depend_on_threads_or_blocks(build, monkeypatch):
    """A path point is bitwise the same on 1 or 2 worker threads (each block runs the
    same serial code whichever thread takes it); other block sizes agree to rounding (BLAS may pick another kernel, so another summation order, for
    another matrix shape: a few ulp of the short sums, far below 1e-12)."""
    A, B = build(0), build(1)
    X = np.random.default_rng(0).normal(size=(400, 6))
    outs = []
    for workers, rows in ((1, 64), (2, 64), (2, 7), (1, 512)):
        monkeypatch.setattr(paths, "worker_count", lambda w=workers: w)
        ev = paths._PathEvaluator(A, B, X, block_rows=rows)
        assert ev.workers == min(workers, -(-400 // rows))
        got = {}
        ev.evaluate([0.3], lambda k, F: got.setdefault(k, F.copy()))
        outs.append(got[0])
    assert np.array_equal(outs[0], outs[1])
    for other in outs[2:]:
        np.testing.assert_allclose(other, outs[0], rtol=1e-12, atol=1e-15)


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
