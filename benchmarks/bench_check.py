"""The paper-sized ``neuronid check`` and its path evaluation against the bare GEMMs.

Workload (issue 10): a pair of 784-512-512-512-10 W-MLPs (64 fixed entries per row,
``sigma_F = 1``, one shared structure, random initialization from two seeds: timing
does not depend on training), ``n = 10,000`` points of THEORY.md E2's Gaussian-mixture
generator (intrinsic dimension 32 in 784, 10 classes), CE loss, 21-point grid.

Side by side in one run, all float64 with the same thread count (default 2, set
before numpy/numba load):

(a) ``bare``: only what no implementation can skip for one 21-point path: per grid
    point the weight interpolation ``W_A + t (W_B - W_A)`` into preallocated buffers and
    the 4 products ``np.matmul(h, W.T, out=Z)`` -- no bias, activation or loss (the same
    definition as ``bench_paths.py``);
(b) ``path <activation>``: :func:`neuronid.numerics.paths.linear_path` (CE loss and
    error rate) on the pair built with that activation, for GELU, SiLU, tanh, sigmoid and
    ReLU; target <= 1.2 x (a) for every activation;
(c) ``check``: :func:`neuronid.proofs_checks.report.full_check` on the GELU pair, in a
    fresh subprocess (JIT caches warm) that reports its wall time, its per-stage
    ``timings`` and its peak RSS (``ru_maxrss``); targets <= 8 x (a) and <= 1.5 GB.
    Two variants (``--check-variants``): ``same`` is the pair as built: its W-MLP
    neurons are identifiable, both alignments return the identity and the check reuses
    the unaligned path for them; ``permuted`` permutes B's hidden neurons at random
    (same function), so both alignments move every neuron and all three certified
    paths are computed: the worst case for the paths stage.

(a) and (b) are warmed up once, then run interleaved ``--repeats`` times; medians and
ratios to the median of (a). (c) runs ``--check-repeats`` times (median), with (a)
measured right before each run for its own ratio. Results go to
``benchmarks/results/check.json`` (written atomically); a table is printed.

Usage: ``python benchmarks/bench_check.py [--n 10000] [--repeats 3] [--check-repeats 1]
[--threads 2] [--activations gelu,silu,tanh,sigmoid,relu] [--skip-check]
[--check-variants same,permuted]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

SIZES = (784, 512, 512, 512, 10)
N_FIXED = 64
INTRINSIC_DIM = 32


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--steps", type=int, default=21)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--check-repeats", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--activations", default="gelu,silu,tanh,sigmoid,relu")
    p.add_argument("--skip-check", action="store_true", help="only the path evaluations")
    p.add_argument("--check-variants", default="same,permuted",
                   help="comma-separated: same (the pair as built), permuted (B's neurons permuted)")
    p.add_argument("--variant", default="same", help=argparse.SUPPRESS)  # internal: the child's variant
    p.add_argument("--child-check", action="store_true", help=argparse.SUPPRESS)  # internal: run (c) here
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "check.json"))
    return p.parse_args(argv)


ARGS = _parse() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from neuronid.numerics.alignment import permute_network  # noqa: E402
from neuronid.numerics.datasets import gaussian_mixture_subspace  # noqa: E402
from neuronid.numerics.paths import linear_path, path_grid  # noqa: E402
from neuronid.numerics.structures import w_mlp  # noqa: E402
from neuronid.numerics.io import write_json  # noqa: E402

# the bare products of one path, shared with bench_paths (benchmarks run as scripts,
# so this folder is on sys.path)
from bench_paths import make_bare  # noqa: E402


def make_pair(activation: str):
    build = [w_mlp(list(SIZES), activation=activation, n_fixed=N_FIXED, sigma_F=1.0, seed=seed, structure_seed=0)
             for seed in (1, 2)]
    return build[0], build[1]


def make_data(n: int):
    data = gaussian_mixture_subspace(n, k=INTRINSIC_DIM, ambient=SIZES[0], n_classes=SIZES[-1], seed=0)
    return np.ascontiguousarray(data.X, dtype=np.float64), data.y


def child_check(args) -> int:
    """(c) in this process: print one JSON line with seconds, timings and peak RSS."""
    import resource

    from neuronid.proofs_checks.report import full_check

    A, B = make_pair("gelu")
    if args.variant == "permuted":
        rng = np.random.default_rng(7)
        B = permute_network(B, [rng.permutation(m) for m in SIZES[1:-1]])
    X, y = make_data(args.n)
    t0 = time.perf_counter()
    report = full_check(A, B, X, y, loss="ce", steps=args.steps)
    seconds = time.perf_counter() - t0
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    fixed = {name: m.alignment.fixed_points for name, m in report.context.paths.items() if m.alignment is not None}
    print(json.dumps({"seconds": seconds, "timings": report.timings, "peak_rss_bytes": rss_kib * 1024,
                      "alignment_fixed_points": fixed,
                      "verdicts": report.verdict_summary()}))
    return 0


def run_check_subprocess(args, variant: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-check", "--n", str(args.n),
           "--steps", str(args.steps), "--threads", str(args.threads), "--variant", variant]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the check subprocess failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(args) -> int:
    if args.child_check:
        return child_check(args)
    acts = [a.strip() for a in args.activations.split(",") if a.strip()]
    X, y = make_data(args.n)
    grid = path_grid(args.steps)
    pairs = {act: make_pair(act) for act in acts}
    bare = make_bare(*pairs[acts[0]], X)
    methods = {"bare": lambda: bare(grid)}
    for act in acts:
        methods[f"path {act}"] = (lambda A, B: lambda: linear_path(A, B, X, y, loss="ce", steps=args.steps))(*pairs[act])
    for fn in methods.values():  # warm-up: JIT compile or cache load, BLAS start
        fn()
    times = {name: [] for name in methods}
    for _ in range(args.repeats):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {name: float(np.median(v)) for name, v in times.items()}
    ratio = {name: med[name] / med["bare"] for name in med}

    checks = {}
    variants = [] if args.skip_check else [v.strip() for v in args.check_variants.split(",") if v.strip()]
    for variant in variants:
        if variant not in ("same", "permuted"):
            raise SystemExit(f"--check-variants: unknown variant {variant!r} (same, permuted)")
        runs = []
        for _ in range(args.check_repeats):
            t0 = time.perf_counter()
            bare(grid)
            bare_now = time.perf_counter() - t0
            result = run_check_subprocess(args, variant)
            result["bare_s"] = bare_now
            result["ratio_to_bare"] = result["seconds"] / bare_now
            runs.append(result)
        order = np.argsort([r["ratio_to_bare"] for r in runs])
        median_run = runs[int(order[len(order) // 2])]
        checks[variant] = {"runs": runs, "median_run": median_run,
                           "median_ratio_to_bare": float(np.median([r["ratio_to_bare"] for r in runs])),
                           "median_seconds": float(np.median([r["seconds"] for r in runs])),
                           "max_peak_rss_bytes": int(max(r["peak_rss_bytes"] for r in runs))}

    print(f"paper-sized check: W-MLP {list(SIZES)} ({N_FIXED} fixed entries per row), n = {args.n}, "
          f"{len(grid)} grid points, float64, {args.threads} threads; median of {args.repeats}")
    print(f"{'what':<22}{'median s':>10}{'x bare':>9}{'target':>9}{'met':>6}")
    for name in methods:
        target = "" if name == "bare" else "1.2"
        met = "" if name == "bare" else ("yes" if ratio[name] <= 1.2 else "no")
        print(f"{name:<22}{med[name]:>10.3f}{ratio[name]:>9.2f}{target:>9}{met:>6}")
    for variant, check in checks.items():
        r = check["median_ratio_to_bare"]
        gb = check["max_peak_rss_bytes"] / 1e9
        label = "check (gelu pair)" if variant == "same" else "check (B permuted)"
        print(f"{label:<22}{check['median_seconds']:>10.1f}{r:>9.2f}{'8':>9}{'yes' if r <= 8 else 'no':>6}")
        print(f"{'  peak RSS (GB)':<22}{gb:>10.2f}{'':>9}{'1.5':>9}{'yes' if gb <= 1.5 else 'no':>6}")
        print(f"  {variant} stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in check["median_run"]["timings"].items()))
        print(f"  {variant} alignments, neurons in place per layer: {check['median_run']['alignment_fixed_points']}")

    out = {
        "benchmark": "paper-sized neuronid check and path evaluation against the bare GEMMs of one path",
        "sizes": list(SIZES),
        "n_fixed_per_row": N_FIXED,
        "n": args.n,
        "grid_points": int(len(grid)),
        "dtype": "float64",
        "threads": args.threads,
        "repeats": args.repeats,
        "bare_definition": "per grid point: W_A + t (W_B - W_A) for the 4 weight matrices "
        "(no biases) + the 4 products np.matmul(h, W.T, out=Z); no bias, activation or loss",
        "times_s": times,
        "median_s": med,
        "ratio_to_bare": ratio,
        "path_target_ratio": 1.2,
        "path_meets_target": {name: ratio[name] <= 1.2 for name in ratio if name != "bare"},
        "check": checks,
        "check_target_ratio": 8.0,
        "check_target_peak_rss_bytes": 1.5e9,
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "numba": __import__("numba").__version__},
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
