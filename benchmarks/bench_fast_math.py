"""The elementwise activation kernels of path evaluation, ns per element, one thread.

What is timed: ``numerics.paths._bias_act_uniform`` (``Z = sigma(Z + b)`` in place, the
loop path evaluation runs after each layer's matrix product) on a ``rows x 512`` float64
array for relu, GELU, SiLU, tanh and sigmoid, and one ``rows x 512 x 512`` float64 GEMM
for scale (per 512-wide layer the GEMM costs ``512 * t_mul`` per activation entry, so
``ns/element / (GEMM ns per output)`` is the kernel's share of a layer). With
``--baseline REV`` the ``_fast_math`` of git revision ``REV`` is loaded next to the
current one and its maps (``evaluate``'s loops: the same scalar functions, no bias)
are timed against the current maps, interleaved in the same run (old vs new ratio).
The float32 trainer's GELU (``fast_gelu_ndtr32``, float32 arithmetic) is timed on the
same values in float32 next to the float64 ``fast_gelu_ndtr`` the float32 trainer
called before.
Repeats are interleaved; the minimum per kernel is reported with the load average.

Run: ``python benchmarks/bench_fast_math.py [--rows 10000] [--repeats 5] [--baseline main]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from neuronid.numerics import _fast_math as fm  # noqa: E402
from neuronid.numerics.activations import GELU, RELU, SIGMOID, SILU, TANH  # noqa: E402
from neuronid.numerics.io import write_json  # noqa: E402
from neuronid.numerics.paths import _bias_act_uniform  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CODES = {"relu": RELU, "gelu": GELU, "silu": SILU, "tanh": TANH, "sigmoid": SIGMOID}


def _parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--baseline", default=None, help="git revision whose _fast_math maps are timed alongside")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "fast_math.json"))
    return p.parse_args()


def _load_baseline(rev: str, folder: str):
    """The ``_fast_math`` module of git revision ``rev`` (its relative import made absolute;
    compiled without the on-disk cache)."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:numerics/_fast_math.py"], check=True,
                         capture_output=True, text=True).stdout
    src = src.replace("from ._config import JIT", "JIT = dict(nogil=True)")
    path = Path(folder) / "baseline_fast_math.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("baseline_fast_math", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _timed(fn, repeats_log, key):
    """Run ``fn`` once and append its wall time to ``repeats_log[key]``."""
    t0 = time.perf_counter()
    fn()
    repeats_log.setdefault(key, []).append(time.perf_counter() - t0)


def main(args) -> int:
    rng = np.random.default_rng(0)
    Z0 = rng.standard_normal((args.rows, 512)) * 3.0
    b = rng.standard_normal(512) * 0.1
    W = rng.standard_normal((512, 512))
    Z = Z0.copy()
    flat = Z0.reshape(-1)
    out = np.empty_like(flat)
    with tempfile.TemporaryDirectory() as folder:
        base = _load_baseline(args.baseline, folder) if args.baseline else None
        names = ["gelu", "silu", "tanh", "sigmoid"]
        for code in CODES.values():  # compile
            _bias_act_uniform(Z[:4].copy(), b, code, 0.0)
        flat32 = flat.astype(np.float32)
        out32 = np.empty_like(flat32)
        fm._MAPS32["gelu"](flat32[:64], out32[:64])
        for n in names:
            fm._MAPS[n](flat[:64], out[:64])
            if base is not None:
                base._MAPS[n](flat[:64], out[:64])
        log: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            _timed(lambda: np.dot(Z0, W), log, "gemm")
            for name, code in CODES.items():
                np.copyto(Z, Z0)
                _timed(lambda: _bias_act_uniform(Z, b, code, 0.0), log, f"bias_act {name}")
            _timed(lambda: fm._MAPS32["gelu"](flat32, out32), log, "map gelu float32")
            for n in names:
                _timed(lambda: fm._MAPS[n](flat, out), log, f"map {n} new")
                if base is not None:
                    _timed(lambda: base._MAPS[n](flat, out), log, f"map {n} {args.baseline}")
    size = Z0.size
    ns = {k: min(v) / size * 1e9 for k, v in log.items()}
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    print(f"rows {args.rows} x 512, float64, 1 thread, min of {args.repeats}; load average {' '.join(load)}")
    print(f"GEMM {args.rows}x512x512: {min(log['gemm']):.3f} s = {ns['gemm']:.1f} ns per output entry")
    for name in CODES:
        v = ns[f"bias_act {name}"]
        print(f"_bias_act_uniform {name:8s} {v:6.2f} ns/element  ({100 * v / ns['gemm']:.1f}% of the layer's GEMM)")
    for n in names:
        line = f"map {n:8s} new {ns[f'map {n} new']:6.2f} ns/element"
        if base is not None:
            old = ns[f"map {n} {args.baseline}"]
            line += f"   {args.baseline} {old:6.2f}   old/new {old / ns[f'map {n} new']:.2f}x"
        print(line)
    print(f"map gelu float32 (fast_gelu_ndtr32) {ns['map gelu float32']:6.2f} ns/element")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    write_json(Path(args.json), {"rows": args.rows, "repeats": args.repeats, "baseline": args.baseline,
                                 "loadavg": load, "ns_per_element": ns, "python": sys.version.split()[0]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(_parse()))
