"""Path losses for a 784-512-512-512-10 ReLU MLP on n = 10,000 at 21 grid points.

Compares, all in float64 and with the same thread count (default 2, set before
numpy/numba/torch load):

(a) ``neuronid``: :func:`neuronid.numerics.paths.linear_path` (CE loss + error rate);
(b) ``numpy``: a plain numpy implementation (``np.maximum`` for ReLU, numpy
    log-sum-exp cross-entropy, argmax errors), allocating as numpy code usually does;
(c) ``torch``: PyTorch CPU (``addmm``, ``relu``, ``cross_entropy``) if importable;
(d) ``bare``: only what no implementation can skip: per grid point the weight
    interpolation ``W_A + t (W_B - W_A)`` into preallocated buffers (4 layers; biases
    excluded) and the 4 matrix products ``np.matmul(h, W.T, out=Z)`` — no bias, no
    activation, no loss. This is the machine's limit; the target is (a) <= 1.3 x (d).

Each method is warmed up once, then the methods run interleaved ``--repeats`` times;
medians are reported with ratios to (d). Results go to
``benchmarks/results/paths.json`` (written atomically).

Usage: ``python benchmarks/bench_paths.py [--n 10000] [--steps 21] [--repeats 3] [--threads 2]``
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path


def _parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--sizes", default="784,512,512,512,10")
    p.add_argument("--steps", type=int, default=21)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "paths.json"))
    return p.parse_args()


ARGS = _parse() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from neuronid.numerics.paths import linear_path, path_grid  # noqa: E402
from neuronid.numerics.structures import standard_mlp  # noqa: E402
from neuronid.numerics.io import write_json  # noqa: E402


def numpy_path(A, B, X, y, grid):
    WA, WB = A.effective_weights(), B.effective_weights()
    bA, bB = A.biases(), B.biases()
    n = X.shape[0]
    losses, errors = [], []
    for t in grid:
        h = X
        for l in range(len(WA)):
            W = (1 - t) * WA[l] + t * WB[l]
            b = (1 - t) * bA[l] + t * bB[l]
            z = h @ W.T + b
            h = z if l == len(WA) - 1 else np.maximum(z, 0.0)
        m = h.max(axis=1, keepdims=True)
        lse = np.log(np.exp(h - m).sum(axis=1)) + m[:, 0]
        losses.append(float(np.mean(lse - h[np.arange(n), y])))
        errors.append(float(np.mean(h.argmax(axis=1) != y)))
    return np.array(losses), np.array(errors)


def make_torch_path(torch):
    import torch.nn.functional as F

    def torch_path(A, B, X, y, grid):
        WA = [torch.from_numpy(w) for w in A.effective_weights()]
        WB = [torch.from_numpy(w) for w in B.effective_weights()]
        bA = [torch.from_numpy(b) for b in A.biases()]
        bB = [torch.from_numpy(b) for b in B.biases()]
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        losses, errors = [], []
        with torch.inference_mode():
            for t in grid:
                h = Xt
                for l in range(len(WA)):
                    W = torch.lerp(WA[l], WB[l], float(t))
                    b = torch.lerp(bA[l], bB[l], float(t))
                    h = torch.addmm(b, h, W.T)
                    if l < len(WA) - 1:
                        h = torch.relu_(h)
                losses.append(float(F.cross_entropy(h, yt)))
                errors.append(float((h.argmax(dim=1) != yt).double().mean()))
        return np.array(losses), np.array(errors)

    return torch_path


def make_bare(A, B, X):
    WA, WB = A.effective_weights(), B.effective_weights()
    D = [wb - wa for wa, wb in zip(WA, WB)]
    W = [np.empty_like(w) for w in WA]
    Z = [np.empty((X.shape[0], w.shape[0])) for w in WA]

    def bare(grid):
        for t in grid:
            for l in range(len(W)):
                np.multiply(D[l], t, out=W[l])
                W[l] += WA[l]
            h = X
            for l in range(len(W)):
                np.matmul(h, W[l].T, out=Z[l])
                h = Z[l]
        return h

    return bare


def main(args) -> int:
    sizes = [int(s) for s in args.sizes.split(",")]
    A = standard_mlp(sizes, activation="relu", seed=0)
    B = standard_mlp(sizes, activation="relu", seed=1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n, sizes[0]))
    y = rng.integers(0, sizes[-1], size=args.n)
    grid = path_grid(args.steps)

    methods = {
        "neuronid": lambda: linear_path(A, B, X, y, loss="ce", steps=args.steps),
        "numpy": lambda: numpy_path(A, B, X, y, grid),
    }
    torch_version = None
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(args.threads)
            torch_version = torch.__version__
            torch_path = make_torch_path(torch)
            methods["torch"] = lambda: torch_path(A, B, X, y, grid)
        except ImportError:
            print("torch not importable: skipped (pip install torch==2.13.0 for the CPU build)")
    bare = make_bare(A, B, X)
    methods["bare"] = lambda: bare(grid)

    results = {}
    for name, fn in methods.items():  # warm-up (JIT compile / cache load, BLAS init)
        results[name] = fn()
    ours = results["neuronid"]
    agreement = {}
    for name in ("numpy", "torch"):
        if name in results:
            loss, err = results[name]
            agreement[name] = {
                "max_abs_loss_difference": float(np.max(np.abs(loss - ours.loss))),
                "max_abs_error_difference": float(np.max(np.abs(err - ours.error))),
            }

    times = {name: [] for name in methods}
    for _ in range(args.repeats):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {name: float(np.median(v)) for name, v in times.items()}
    best = {name: float(np.min(v)) for name, v in times.items()}
    flops = 2.0 * args.n * sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) * len(grid)

    print(f"linear path: sizes {sizes}, n = {args.n}, {len(grid)} grid points, float64, "
          f"{args.threads} threads, median of {args.repeats}")
    print(f"{'method':<10}{'median s':>10}{'x bare':>9}{'GFLOP/s':>10}{'min s':>9}{'x bare':>9}")
    for name in methods:
        print(
            f"{name:<10}{med[name]:>10.3f}{med[name] / med['bare']:>9.2f}{flops / med[name] / 1e9:>10.1f}"
            f"{best[name]:>9.3f}{best[name] / best['bare']:>9.2f}"
        )
    for name, agr in agreement.items():
        print(f"agreement with {name}: max |loss diff| {agr['max_abs_loss_difference']:.2e}, "
              f"max |error diff| {agr['max_abs_error_difference']:.2e}")

    out = {
        "benchmark": "linear path losses (THEORY.md D5)",
        "sizes": sizes,
        "n": args.n,
        "grid_points": int(len(grid)),
        "dtype": "float64",
        "threads": args.threads,
        "repeats": args.repeats,
        "bare_definition": "per grid point: W_A + t (W_B - W_A) for the 4 weight matrices "
        "(no biases) + the 4 products np.matmul(h, W.T, out=Z); no bias, activation or loss",
        "gflop_per_path": flops / 1e9,
        "times_s": times,
        "median_s": med,
        "ratio_to_bare": {name: med[name] / med["bare"] for name in med},
        "min_s": best,
        "min_ratio_to_bare": {name: best[name] / best["bare"] for name in best},
        "target_ratio_neuronid": 1.3,
        "meets_target": med["neuronid"] / med["bare"] <= 1.3,
        "agreement_with_neuronid": agreement,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "numba": __import__("numba").__version__,
            "torch": torch_version,
        },
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
