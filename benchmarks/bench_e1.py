"""The E1 protocol in neuronid (numba) vs the same protocol in PyTorch, one thread each.

What is timed, identically on both sides, for every unit ``(family, a, seed, pair)``
of E1 (THEORY.md E1; :mod:`neuronid.proofs_checks.experiments.e1`): training the two
networks of the pair (hidden ReLU layer of width 128 with the seed's Bernoulli mask,
fixed sum output, AdamW lr 1e-2, weight decay 1e-2 on weights, 100 epochs, batch 512,
n_train 1024, MSE) and the test-loss path on the 21-point grid with its midpoint
barrier ``B_mid``. Both sides start from the same initial weights and visit the
minibatches in the same order, so their barriers agree (reported). Not timed on
either side: data generation (numpy, shared), the T4 certificate and the anisotropy
column that ``neuronid reproduce E1`` adds.

By default one of E1's five seeds is run (2 families x 10 coherence levels x 10
pairs = 200 pairs, 400 trainings), i.e. a fifth of the protocol; ``--seeds 5`` runs
all of it. One run per side; both on one thread (``NUMBA_NUM_THREADS=1``,
single-threaded BLAS, ``torch.set_num_threads(1)``); numba's JIT is warmed up first.
Writes ``benchmarks/results/e1.json``. Issue target: neuronid >= 3x faster.

Run: ``python benchmarks/bench_e1.py [--seeds 1] [--dtype float32|float64]`` (float32 is
E1's training default; the path is evaluated in float64 on both sides).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from neuronid.numerics.paths import linear_path  # noqa: E402
from neuronid.numerics.training import train  # noqa: E402
from neuronid.proofs_checks.experiments import e1, experiment_config  # noqa: E402
from neuronid.numerics.io import write_json  # noqa: E402


def prepare(cfg):
    """Per unit: data, mask, initial networks and minibatch-order seeds (not timed)."""
    units = []
    for key, params in e1.units(cfg):
        tr, te = e1.e1_data(cfg, params["family"], params["active"], params["seed"])
        mask = e1.e1_mask(cfg, params["seed"])
        runs = []
        for run in (0, 1):
            init_seed, order_seed = e1.run_seeds(cfg, params, run)
            runs.append((e1.e1_network(cfg, mask, init_seed), order_seed))
        units.append(dict(key=key, X=tr.X, y=tr.y, Xt=te.X, yt=te.y, mask=mask, runs=runs))
    return units


def run_numba(cfg, units):
    out = {}
    t0 = time.perf_counter()
    for u in units:
        nets = [train(net, u["X"], u["y"], e1.train_config(cfg, seed), progress=False).network for net, seed in u["runs"]]
        out[u["key"]] = linear_path(nets[0], nets[1], u["Xt"], u["yt"], loss="mse", steps=cfg["steps"]).B_mid
    return time.perf_counter() - t0, out


def run_torch(torch, cfg, units):
    """The same protocol in PyTorch: masks by multiplication, fixed output sum,
    torch.optim.AdamW with decay on weights only, the same per-epoch permutations,
    the path evaluated on the same 21-point grid."""
    tdt = getattr(torch, cfg["dtype"])
    bs, lr, wd, epochs = cfg["batch_size"], cfg["lr"], cfg["weight_decay"], cfg["epochs"]
    grid = torch.arange(cfg["steps"], dtype=torch.float64) / (cfg["steps"] - 1)
    out = {}
    t0 = time.perf_counter()
    for u in units:
        X = torch.tensor(u["X"], dtype=tdt)
        y = torch.tensor(u["y"], dtype=tdt)
        mask = torch.tensor(u["mask"], dtype=tdt)
        trained = []
        for net, order_seed in u["runs"]:
            layer = net.layers[0]
            theta = torch.tensor(layer.weight, dtype=tdt, requires_grad=True)
            bias = torch.tensor(layer.bias, dtype=tdt, requires_grad=True)
            opt = torch.optim.AdamW([{"params": [theta], "weight_decay": wd}, {"params": [bias], "weight_decay": 0.0}],
                                    lr=lr)
            rng = np.random.default_rng(order_seed)
            n = X.shape[0]
            for _ in range(epochs):
                perm = torch.from_numpy(rng.permutation(n))
                for start in range(0, n, bs):
                    idx = perm[start:start + bs]
                    h = torch.relu(X[idx] @ (mask * theta).T + bias)
                    loss = ((h.sum(dim=1, keepdim=True) - y[idx]) ** 2).sum(dim=1).mean()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
            trained.append(((mask * theta).detach().double(), bias.detach().double()))
        Xt = torch.tensor(u["Xt"], dtype=torch.float64)
        yt = torch.tensor(u["yt"], dtype=torch.float64)
        (WA, bA), (WB, bB) = trained
        losses = []
        with torch.no_grad():
            for t in grid:
                W, b = WA + t * (WB - WA), bA + t * (bB - bA)
                f = torch.relu(Xt @ W.T + b).sum(dim=1, keepdim=True)
                losses.append(float(((f - yt) ** 2).sum(dim=1).mean()))
        mid = (cfg["steps"] - 1) // 2
        out[u["key"]] = losses[mid] - max(losses[0], losses[-1])
    return time.perf_counter() - t0, out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="how many of E1's 5 seeds to run (default 1)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float32",
                        help="training arithmetic of both sides (default float32, E1's default)")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "e1.json"))
    args = parser.parse_args(argv)

    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    try:
        import torch

        torch.set_num_threads(1)
        torch_version = torch.__version__
    except ImportError:
        torch, torch_version = None, None

    cfg = experiment_config("E1", "paper", {"seeds": args.seeds, "dtype": args.dtype})
    units = prepare(cfg)
    warm = experiment_config("E1", "small", {"epochs": 1, "n_train": 64, "n_test": 64, "dtype": args.dtype})
    run_numba(warm, prepare({**warm, "actives": [1], "seeds": 1, "pairs": 1, "families": ["exact_copy"]}))
    if torch is not None:
        run_torch(torch, warm, prepare({**warm, "actives": [1], "seeds": 1, "pairs": 1, "families": ["exact_copy"]}))

    t_numba, b_numba = run_numba(cfg, units)
    row = {"numba_s": t_numba, "torch_s": None, "ratio_torch_over_numba": None}
    print(f"E1 protocol, {args.seeds} of 5 seeds: {len(units)} pairs ({2 * len(units)} trainings of "
          f"{cfg['epochs']} epochs + {cfg['steps']}-point paths), {args.dtype}, one thread per side")
    print(f"neuronid (numba): {t_numba:8.1f} s")
    if torch is not None:
        t_torch, b_torch = run_torch(torch, cfg, units)
        diffs = np.array([abs(b_numba[k] - b_torch[k]) for k in b_numba])
        scale = np.array([max(abs(b_numba[k]), 1e-3) for k in b_numba])
        row.update(torch_s=t_torch, ratio_torch_over_numba=t_torch / t_numba,
                   B_mid_abs_diff_median=float(np.median(diffs)), B_mid_rel_diff_median=float(np.median(diffs / scale)),
                   B_mid_mean_numba=float(np.mean(list(b_numba.values()))),
                   B_mid_mean_torch=float(np.mean(list(b_torch.values()))))
        print(f"PyTorch:          {t_torch:8.1f} s")
        print(f"ratio torch / numba: {t_torch / t_numba:.1f}x (target >= 3x)")
        print(f"B_mid agreement: median |numba - torch| = {row['B_mid_abs_diff_median']:.2e} "
              f"(mean B_mid {row['B_mid_mean_numba']:.4f} vs {row['B_mid_mean_torch']:.4f})")
    else:
        row["torch_reason"] = "torch not installed"
        print("torch not installed: torch side skipped (pip install torch==2.13.0)")

    import numba

    payload = dict(benchmark="e1_protocol", seeds=args.seeds, pairs=len(units), dtype=args.dtype,
                   config=cfg, threads=1, target="neuronid >= 3x faster than torch",
                   versions=dict(python=platform.python_version(), numpy=np.__version__, numba=numba.__version__,
                                 torch=torch_version),
                   machine=platform.machine(), results=row)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    write_json(Path(args.json), payload)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
