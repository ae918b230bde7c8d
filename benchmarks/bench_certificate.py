"""T4 certificate cost vs one forward pass of both networks; and the T4 property run.

Timing (default). For each case, all in float64 and with the same thread count
(default 2, set before numpy/numba load):

(a) ``certificate``: :func:`neuronid.numerics.certificate.certificate` (streaming row
    blocks of ``--block`` rows);
(b) ``forward``: ``A.forward(X)`` + ``B.forward(X)`` (the library's forward pass,
    which is what the issue's target refers to: certificate <= 3x this);
(c) ``bare``: only the matrix products of both forward passes
    (``np.matmul(h, W.T, out=Z)``, no bias, no activation) — the machine's limit.

Cases: a 784-512-512-512-10 ReLU MLP and a 64-128-128-10 tanh MLP, ``n = --n``
(default 10,000). Each method is warmed up once (JIT compile / cache load), then
the methods run interleaved ``--repeats`` times; medians and ratios are reported.

Property run (``--pairs N``): :func:`neuronid.proofs_checks.strategies.run_certificate_property`
on ``N`` random pairs (four structure kinds, eleven activations, MSE and CE, a
201-point grid): pairs, violations (must be 0), tightness.

Results go to ``benchmarks/results/certificate.json`` (written atomically; a
timing run and a property run update their own keys of the same file).

Usage: ``python benchmarks/bench_certificate.py [--n 10000] [--repeats 5] [--threads 2]
[--block 4096] [--pairs N [--seed 0]] [--skip-timing]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def _parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--block", type=int, default=4096)
    p.add_argument("--pairs", type=int, default=0, help="also run the T4 property check on N random pairs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-timing", action="store_true")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "certificate.json"))
    return p.parse_args()


ARGS = _parse() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from neuronid.numerics.certificate import certificate  # noqa: E402
from neuronid.proofs_checks.strategies import run_certificate_property  # noqa: E402
from neuronid.numerics.structures import standard_mlp  # noqa: E402
from neuronid.numerics.io import write_json  # noqa: E402

CASES = (
    ("relu 784-512-512-512-10", [784, 512, 512, 512, 10], "relu"),
    ("tanh 64-128-128-10", [64, 128, 128, 10], "tanh"),
)


def make_bare(A, B, X):
    Ws = [A.effective_weights(), B.effective_weights()]
    Z = [np.empty((X.shape[0], w.shape[0])) for w in Ws[0]]

    def bare():
        for W in Ws:
            h = X
            for l in range(len(W)):
                np.matmul(h, W[l].T, out=Z[l])
                h = Z[l]
        return h

    return bare


def time_case(name, sizes, act, args) -> dict:
    A = standard_mlp(sizes, activation=act, seed=0)
    B = standard_mlp(sizes, activation=act, seed=1)
    X = np.random.default_rng(0).normal(size=(args.n, sizes[0]))
    bare = make_bare(A, B, X)
    methods = {
        "certificate": lambda: certificate(A, B, X, block=args.block),
        "forward": lambda: (A.forward(X), B.forward(X)),
        "bare": bare,
    }
    for fn in methods.values():  # warm-up
        fn()
    times = {k: [] for k in methods}
    for _ in range(args.repeats):
        for k, fn in methods.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    cert = certificate(A, B, X, block=args.block)
    row = {
        "sizes": sizes,
        "activation": act,
        "n": args.n,
        "block": args.block,
        "times_s": times,
        "median_s": med,
        "ratio_to_forward": med["certificate"] / med["forward"],
        "ratio_to_bare": med["certificate"] / med["bare"],
        "forward_to_bare": med["forward"] / med["bare"],
        "target_ratio_to_forward": 3.0,
        "meets_target": med["certificate"] / med["forward"] <= 3.0,
        "rho": cert.rho,
        "mean_norm": cert.mean_norm,
    }
    print(f"{name}: n = {args.n}, block {args.block}, median of {args.repeats}")
    print(f"  {'method':<12}{'median s':>10}{'x forward':>11}{'x bare':>9}")
    for k in methods:
        print(f"  {k:<12}{med[k]:>10.4f}{med[k] / med['forward']:>11.2f}{med[k] / med['bare']:>9.2f}")
    return row


def _write(path: Path, update: dict) -> None:
    data = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
    data.update(update)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, data)
    print(f"wrote {path}")


def main(args) -> int:
    update = {
        "benchmark": "T4 certificate (THEORY.md T4)",
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "numba": __import__("numba").__version__,
        },
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
        "threads": args.threads,
    }
    if not args.skip_timing:
        update["timing"] = {name: time_case(name, sizes, act, args) for name, sizes, act in CASES}
        update["forward_definition"] = "A.forward(X) + B.forward(X) (float64)"
        update["bare_definition"] = "np.matmul(h, W.T, out=Z) for every layer of A and of B; no bias, no activation"
    if args.pairs:
        t0 = time.perf_counter()
        prop = run_certificate_property(args.pairs, args.seed)
        prop["seconds"] = time.perf_counter() - t0
        print(
            f"T4 property: {prop['pairs']} pairs, {prop['violations']} violations "
            f"(output {prop['output_violations']}, loss {prop['loss_violations']}), "
            f"{prop['unsupported']} unsupported; median tightness B_lerp {prop['median_tightness']} "
            f"(pairs with B_lerp > 0: {prop['median_tightness_positive']}, n = {prop['positive_barrier_pairs']}); "
            f"max {prop['max_tightness']}; output tightness median {prop['median_output_tightness']:.3g}, "
            f"max {prop['max_output_tightness']:.12g}; {prop['seconds']:.0f} s"
        )
        update["property"] = prop
    _write(Path(args.out), update)
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
