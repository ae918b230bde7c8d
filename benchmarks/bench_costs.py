"""Cost matrices and cvxpy realizations: vectorized / parametrized vs naive loops.

1. ``K`` for one W-MLP layer, ``m = 512`` neurons, ``d = 784`` inputs, support rank
   ``r = 32`` (the paper's MNIST setting: 64 fixed entries per row, ``sigma_F = 1``),
   from ``(U, mask, fixed, W)`` to the full matrix:

   (a) ``neuronid``: :func:`~neuronid.numerics.supports.shape_matrices` +
       :func:`~neuronid.numerics.costs.quadratic_costs` (one product for all ``S_i``,
       batched eigenvalues and inverses, ``K`` by two matrix products, range tests);
   (b) ``loop_pinv_M``: the least-norm route of P1 per neuron,
       ``theta = M_i^+ (a_j - v_i)`` with ``M_i = U^T diag(m_i)`` (``np.linalg.pinv`` of
       the ``r x d`` matrix), costs ``||theta||^2`` for all targets at once (timed
       once: it takes tens of seconds);
   (b') ``loop_pinv_S``: per neuron ``S_i = U^T diag(m_i) U``, ``np.linalg.pinv(S_i)``
       (``r x r``) and the quadratic forms of all targets (vectorized over targets) --
       a loop that already uses the reduction to ``r x r`` matrices.
   Targets: (a) >= 10x faster than the per-neuron pseudo-inverse loop and under 2 s.
   Both (a) and (b') need ``m^2 r^2 / 2`` multiply-adds at least (one quadratic form
   with a different ``S_i^+`` per pair), so against (b') the gain is the removed
   per-neuron overhead and the halved flops, not an order of magnitude.

2. ReLU realizations with cvxpy, ``n = 500`` support points, ``d = 64``, 20 targets:

   (c) ``resolve``: one :class:`~neuronid.numerics.realization.Realizer` (problem built
       once with Parameters, DPP), re-solved per target;
   (d) ``rebuild``: a new :class:`Realizer` per target (same formulation, compiled
       each time);
   (e) ``rebuild_plain``: a plain cvxpy problem with the target as constants per target
       (``z[active] == h``, ``z[inactive] <= 0``) -- what one writes without Parameters.
   Target: (c) >= 5x faster than rebuilding.

Every method runs once as warm-up, then ``--repeats`` interleaved times; medians are
reported. Both cost computations must agree (relative 1e-9); the realizations must
agree (relative 1e-6). Results go to ``benchmarks/results/costs.json`` (atomic write).

Usage: ``python benchmarks/bench_costs.py [--repeats 3] [--threads 1] [--targets 20] [--skip-slow]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path


def _parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--m", type=int, default=512)
    p.add_argument("--d", type=int, default=784)
    p.add_argument("--r", type=int, default=32)
    p.add_argument("--n-fixed", type=int, default=64)
    p.add_argument("--n", type=int, default=500, help="support points of the realization benchmark")
    p.add_argument("--d-real", type=int, default=64, help="dimension of the realization benchmark")
    p.add_argument("--targets", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads (default 1: on a shared 2-core machine, threads oversubscribe and "
                        "timings of small-matrix work scatter by 10x)")
    p.add_argument("--skip-slow", action="store_true", help="skip the pinv(M_i) loop (tens of seconds)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "costs.json"))
    return p.parse_args()


ARGS = _parse() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from neuronid.numerics.costs import quadratic_costs  # noqa: E402
from neuronid.numerics.io import write_json  # noqa: E402
from neuronid.numerics.realization import Realizer  # noqa: E402
from neuronid.numerics.supports import shape_matrices  # noqa: E402


def k_problem(m, d, r, n_fixed, seed=0):
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.normal(size=(d, r)))[0]
    mask = np.ones((m, d))
    for i in range(m):
        mask[i, rng.choice(d, size=n_fixed, replace=False)] = 0.0
    F = (1 - mask) * rng.normal(size=(m, d))
    W = mask * rng.uniform(-1, 1, size=(m, d)) / np.sqrt(d) + F
    return U, mask, F, W


def k_vectorized(U, mask, F, W):
    return quadratic_costs(shape_matrices(mask, U), F @ U, W @ U).K


def k_loop_M(U, mask, F, W):
    A, V = W @ U, F @ U
    m = mask.shape[0]
    K = np.empty((m, m))
    for i in range(m):
        Mp = np.linalg.pinv(U.T * mask[i])  # (d, r): theta = M_i^+ (a - v_i)
        T = Mp @ (A - V[i]).T
        K[i] = np.sum(T * T, axis=0)
    return K


def k_loop(U, mask, F, W):
    A, V = W @ U, F @ U
    m = mask.shape[0]
    K = np.empty((m, m))
    for i in range(m):
        Sp = np.linalg.pinv(U.T @ (mask[i][:, None] * U))
        D = A - V[i]
        K[i] = np.sum((D @ Sp) * D, axis=1)
    return K


def relu_problem(n, d, t, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    H = [np.maximum(X @ rng.normal(size=d) + rng.normal(), 0.0) for _ in range(t)]
    return X, H


def resolve(X, H):
    R = Realizer(X, activation="relu")
    return [R.realize(h).cost for h in H]


def rebuild(X, H):
    return [Realizer(X, activation="relu").realize(h).cost for h in H]


def rebuild_plain(X, H):
    import cvxpy as cp

    out = []
    for h in H:
        act = h > 0
        theta, b = cp.Variable(X.shape[1]), cp.Variable()
        z = X @ theta + b
        prob = cp.Problem(cp.Minimize(cp.sum_squares(theta)), [z[act] == h[act], z[~act] <= 0])
        prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
        out.append(prob.value)
    return out


def _time(fn, *args):
    t = time.perf_counter()
    res = fn(*args)
    return time.perf_counter() - t, res


def main():
    a = ARGS
    U, mask, F, W = k_problem(a.m, a.d, a.r, a.n_fixed)
    X, H = relu_problem(a.n, a.d_real, a.targets)
    methods_k = {"neuronid": k_vectorized, "loop_pinv_S": k_loop}
    methods_r = {"resolve": resolve, "rebuild": rebuild, "rebuild_plain": rebuild_plain}
    times = {k: [] for k in [*methods_k, *methods_r]}
    results = {}
    for name, fn in methods_k.items():  # warm-up
        results[name] = fn(U, mask, F, W)
    for name, fn in methods_r.items():
        results[name] = fn(X, H[:2])
    for _ in range(a.repeats):
        for name, fn in methods_k.items():
            dt, results[name] = _time(fn, U, mask, F, W)
            times[name].append(dt)
        for name, fn in methods_r.items():
            dt, results[name] = _time(fn, X, H)
            times[name].append(dt)
    if not a.skip_slow:
        dt, results["loop_pinv_M"] = _time(k_loop_M, U, mask, F, W)
        times["loop_pinv_M"] = [dt]
    med = {k: float(np.median(v)) for k, v in times.items()}
    Ka = results["neuronid"]
    k_err = max(float(np.max(np.abs(Ka - results[k]) / np.maximum(np.abs(results[k]), 1e-300)))
                for k in ("loop_pinv_S", "loop_pinv_M") if k in results)
    ra, rb, rc = (np.array(results[k]) for k in ("resolve", "rebuild", "rebuild_plain"))
    r_err = float(max(np.max(np.abs(ra - rb) / rb), np.max(np.abs(ra - rc) / rc)))
    out = {
        "benchmark": "costs",
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "threads": a.threads},
        "K": {"m": a.m, "d": a.d, "r": a.r, "n_fixed": a.n_fixed,
              "seconds": {k: med[k] for k in ("neuronid", "loop_pinv_S", "loop_pinv_M") if k in med},
              "speedup_vs_loop_pinv_M": med["loop_pinv_M"] / med["neuronid"] if "loop_pinv_M" in med else None,
              "speedup_vs_loop_pinv_S": med["loop_pinv_S"] / med["neuronid"], "max_relative_difference": k_err,
              "target": ">= 10x faster than the per-neuron pseudo-inverse loop and < 2 s"},
        "relu_realization": {"n": a.n, "d": a.d_real, "targets": a.targets,
                             "seconds": {k: med[k] for k in methods_r},
                             "seconds_per_target": {k: med[k] / a.targets for k in methods_r},
                             "speedup_vs_rebuild": med["rebuild"] / med["resolve"],
                             "speedup_vs_rebuild_plain": med["rebuild_plain"] / med["resolve"],
                             "max_relative_difference": r_err, "target": ">= 5x faster than rebuilding"},
        "repeats": a.repeats,
        "raw_seconds": times,
    }
    slow = (f"pinv(M_i) loop {med['loop_pinv_M']:.2f} s -> {out['K']['speedup_vs_loop_pinv_M']:.0f}x; "
            if "loop_pinv_M" in med else "")
    print(f"K (m={a.m}, d={a.d}, r={a.r}): neuronid {med['neuronid']:.3f} s; {slow}pinv(S_i) loop "
          f"{med['loop_pinv_S']:.3f} s -> {out['K']['speedup_vs_loop_pinv_S']:.1f}x (max rel. diff {k_err:.1e})")
    print(f"ReLU realization (n={a.n}, d={a.d_real}, {a.targets} targets): re-solve {med['resolve']:.3f} s, "
          f"rebuild {med['rebuild']:.3f} s ({out['relu_realization']['speedup_vs_rebuild']:.1f}x), plain rebuild "
          f"{med['rebuild_plain']:.3f} s ({out['relu_realization']['speedup_vs_rebuild_plain']:.1f}x); "
          f"max rel. diff {r_err:.1e}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(a.out, out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
