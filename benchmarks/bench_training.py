"""Training at the E1 size: neuronid's numba kernels vs the same loop in PyTorch.

Model (THEORY.md E1): input 20, one hidden relu layer of width 128 whose weights are
masked by a Bernoulli mask (each entry fixed at zero with probability 0.15, as
``w_mlp(p_fixed=0.15, sigma_F=0)``), hidden weights N(0, 0.05^2), hidden bias 0 and
trained, output = sum of the hidden units (fixed: mask 0, fixed part 1, bias 0 and
frozen). MSE, AdamW lr 1e-2, weight decay 1e-2 on weights, 0 on biases, batch 512,
n = 1024, 100 epochs, per-epoch reshuffling. Data: E1's "exact copy" embedding with
all 10 copies active.

Both sides run on one thread (numba: NUMBA_NUM_THREADS=1 and single-threaded BLAS;
torch: ``torch.set_num_threads(1)``). The JIT is warmed up first and its compile time
reported separately. Each configuration is timed ``--repeats`` times, numba and torch
interleaved; medians and the ratio torch / numba are printed and written to
``benchmarks/results/training.json``. Without torch the torch column is skipped.

Run: ``python benchmarks/bench_training.py [--repeats 5] [--epochs 100]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from neuronid.numerics.network import Layer, Network  # noqa: E402
from neuronid.numerics.structures import w_mlp  # noqa: E402
from neuronid.numerics.training import TrainConfig, train  # noqa: E402

D_IN, WIDTH, N, BATCH, LR, WD, P_MASKED, INIT_STD = 20, 128, 1024, 512, 1e-2, 1e-2, 0.15, 0.05


def e1_data(n: int, seed: int = 0):
    """E1 "exact copy" embedding, a = 10 active copies: z copied into every coordinate
    pair, scaled 1/sqrt(a); target relu(z1 + z2)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 2))
    copies = D_IN // 2
    X = np.tile(z / np.sqrt(copies), copies)
    y = np.maximum(z[:, 0] + z[:, 1], 0.0)[:, None]
    return X, y


def e1_network(seed: int = 0) -> Network:
    base = w_mlp([D_IN, WIDTH, 1], activation="relu", p_fixed=[P_MASKED, 0.0], sigma_F=0.0, seed=seed,
                 init_std=INIT_STD)
    hidden = base.layers[0]
    out = Layer(np.zeros((1, WIDTH)), np.zeros(1), mask=np.zeros((1, WIDTH)), fixed=np.ones((1, WIDTH)))
    return Network([Layer(hidden.weight, hidden.bias, hidden.mask, hidden.fixed, "relu"), out])


def run_numba(net, X, y, epochs, dtype, seed):
    cfg = TrainConfig(loss="mse", optimizer="adamw", lr=LR, epochs=epochs, batch_size=BATCH, weight_decay=WD,
                      bias_decay=0.0, dtype=dtype, seed=seed, frozen_biases=(-1,))
    t0 = time.perf_counter()
    res = train(net, X, y, cfg, progress=False)
    return time.perf_counter() - t0, res.history[-1]


def run_torch(torch, net, X, y, epochs, dtype, seed, fused=False):
    """The same loop in PyTorch: masks by multiplication, fixed output sum,
    torch.optim.AdamW with decay on weights only, per-epoch shuffling. ``fused``:
    torch's fused AdamW kernel (faster than the default on CPU; reported too, so the
    comparison is against the best torch variant as well)."""
    tdt = getattr(torch, dtype)
    t0 = time.perf_counter()
    layer = net.layers[0]
    theta = torch.tensor(layer.weight, dtype=tdt, requires_grad=True)
    bias = torch.tensor(layer.bias, dtype=tdt, requires_grad=True)
    mask = torch.tensor(layer.mask, dtype=tdt)
    Xt = torch.tensor(X, dtype=tdt)
    yt = torch.tensor(y, dtype=tdt)
    opt = torch.optim.AdamW([{"params": [theta], "weight_decay": WD}, {"params": [bias], "weight_decay": 0.0}],
                            lr=LR, fused=True if fused else None)
    rng = np.random.default_rng(seed)
    n = Xt.shape[0]
    last = float("nan")
    for _ in range(epochs):
        perm = torch.from_numpy(rng.permutation(n))
        total = 0.0
        for start in range(0, n, BATCH):
            idx = perm[start:start + BATCH]
            xb, yb = Xt[idx], yt[idx]
            h = torch.relu(xb @ (mask * theta).T + bias)
            out = h.sum(dim=1, keepdim=True)
            loss = ((out - yb) ** 2).sum(dim=1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        last = total / n
    return time.perf_counter() - t0, last


def _write_atomic(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as fh:
        json.dump(obj, fh, indent=2)
        tmp = fh.name
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "training.json"))
    args = parser.parse_args(argv)

    try:
        import torch

        torch.set_num_threads(1)
        torch_version = torch.__version__
    except ImportError:
        torch, torch_version = None, None

    blas = None
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        threadpool_limits(1)
        blas = [(p.get("internal_api"), p.get("num_threads")) for p in threadpool_info()]
    except ImportError:
        pass

    X, y = e1_data(N)
    net = e1_network()
    results = []
    for dtype in ("float32", "float64"):
        t0 = time.perf_counter()
        run_numba(net, X[:BATCH], y[:BATCH], 1, dtype, 0)  # compile (or load the cache)
        compile_s = time.perf_counter() - t0
        if torch is not None:
            run_torch(torch, net, X, y, 2, dtype, 0)  # warm torch's allocator / dispatch
            run_torch(torch, net, X, y, 2, dtype, 0, fused=True)
        tn, tt, tf, ln, lt = [], [], [], None, None
        for rep in range(args.repeats):
            s, ln = run_numba(net, X, y, args.epochs, dtype, rep)
            tn.append(s)
            if torch is not None:
                s, lt = run_torch(torch, net, X, y, args.epochs, dtype, rep)
                tt.append(s)
                tf.append(run_torch(torch, net, X, y, args.epochs, dtype, rep, fused=True)[0])
        row = dict(
            dtype=dtype,
            numba_median_s=statistics.median(tn),
            numba_times_s=tn,
            numba_compile_or_cache_load_s=compile_s,
            numba_final_loss=ln,
            torch_median_s=statistics.median(tt) if tt else None,
            torch_times_s=tt or None,
            torch_final_loss=lt,
            torch_fused_median_s=statistics.median(tf) if tf else None,
            torch_fused_times_s=tf or None,
        )
        row["ratio_torch_over_numba"] = row["torch_median_s"] / row["numba_median_s"] if tt else None
        row["ratio_torch_fused_over_numba"] = row["torch_fused_median_s"] / row["numba_median_s"] if tf else None
        # the two loops are the same computation: their final epoch losses must agree
        row["final_loss_rel_diff"] = abs(ln - lt) / abs(lt) if tt else None
        if not tt:
            row["final_loss_rel_diff_reason"] = "torch not installed"
            for key in ("torch_median_s", "ratio_torch_over_numba", "torch_fused_median_s",
                        "ratio_torch_fused_over_numba"):
                row[key + "_reason"] = "torch not installed"
        results.append(row)

    print(f"E1 training: width {WIDTH}, input {D_IN}, n {N}, batch {BATCH}, {args.epochs} epochs, AdamW, "
          f"one thread, median of {args.repeats}")
    print(f"{'dtype':8} {'numba [s]':>10} {'torch [s]':>10} {'torch/numba':>12} {'fused [s]':>10} "
          f"{'fused/numba':>12} {'compile [s]':>12}")

    def fmt(value, spec):
        return "-" if value is None else format(value, spec)

    for r in results:
        print(f"{r['dtype']:8} {r['numba_median_s']:10.4f} {fmt(r['torch_median_s'], '.4f'):>10} "
              f"{fmt(r['ratio_torch_over_numba'], '.1f') + 'x':>12} {fmt(r['torch_fused_median_s'], '.4f'):>10} "
              f"{fmt(r['ratio_torch_fused_over_numba'], '.1f') + 'x':>12} "
              f"{r['numba_compile_or_cache_load_s']:12.2f}")
    for r in results:
        if r["final_loss_rel_diff"] is not None:
            print(f"{r['dtype']}: final training loss numba {r['numba_final_loss']:.10g}, torch "
                  f"{r['torch_final_loss']:.10g} (relative difference {r['final_loss_rel_diff']:.1e})")
    if torch is None:
        print("torch not installed: torch column skipped (pip install torch==2.13.0)")

    import numba

    payload = dict(
        benchmark="training_e1",
        setup=dict(width=WIDTH, d_in=D_IN, n=N, batch=BATCH, epochs=args.epochs, optimizer="adamw", lr=LR,
                   weight_decay=WD, bias_decay=0.0, p_masked=P_MASKED, loss="mse", repeats=args.repeats,
                   threads=1),
        target="numba >= 3x faster than torch per model",
        versions=dict(python=platform.python_version(), numpy=np.__version__, numba=numba.__version__,
                      torch=torch_version),
        blas=blas,
        machine=platform.machine(),
        results=results,
    )
    _write_atomic(Path(args.json), payload)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
