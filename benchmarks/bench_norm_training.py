"""Training with LayerNorm (THEORY N1): neuronid's numba kernels with and without a
LayerNorm, and the same model in PyTorch, side by side in one run.

Model: Linear -> LayerNorm -> GELU twice, then Linear (the paper's MNIST MLP shape at
reduced width): sizes ``[--d, --width, --width, 10]``, standard structure, AdamW
lr 1e-3, weight decay 1e-2 on weights (0 on biases and gamma/beta in both), batch
``--batch``, ``--n`` Gaussian samples with random labels, ``--epochs`` epochs, float64.
One thread everywhere. Medians over ``--repeats`` runs (interleaved); ratios printed and
written to ``benchmarks/results/norm_training.json``. Without torch the torch column is
skipped.

Run: ``python benchmarks/bench_norm_training.py [--repeats 3]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from neuronid.numerics.structures import standard_mlp  # noqa: E402
from neuronid.numerics.training import TrainConfig, train  # noqa: E402


def torch_run(net, X, y, cfg):
    import torch  # optional: the torch column is skipped without it

    torch.set_num_threads(1)
    d, w = net.sizes[0], net.sizes[1]
    model = torch.nn.Sequential(
        torch.nn.Linear(d, w), torch.nn.LayerNorm(w), torch.nn.GELU(),
        torch.nn.Linear(w, w), torch.nn.LayerNorm(w), torch.nn.GELU(), torch.nn.Linear(w, net.sizes[-1]),
    ).double()
    decay = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    rest = [p for p in model.parameters() if all(p is not q for q in decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}],
                            lr=cfg.lr)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    rng = np.random.default_rng(cfg.seed)
    t0 = time.perf_counter()
    for _ in range(cfg.epochs):
        perm = torch.tensor(rng.permutation(len(X)))
        for s in range(0, len(X), cfg.batch_size):
            idx = perm[s:s + cfg.batch_size]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx]).backward()
            opt.step()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "norm_training.json"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(args.n, args.d)), rng.integers(0, 10, size=args.n)
    sizes = [args.d, args.width, args.width, 10]
    nets = {"none": standard_mlp(sizes, activation="gelu", seed=0),
            "layer": standard_mlp(sizes, activation="gelu", norm="layer", seed=0)}
    cfg = TrainConfig(epochs=args.epochs, lr=1e-3, batch_size=args.batch, weight_decay=1e-2)
    for net in nets.values():  # JIT warm-up
        train(net, X[:64], y[:64], TrainConfig(epochs=1, batch_size=32), progress=False)
    times = {"numba_none": [], "numba_layer": [], "torch_layer": []}
    try:
        import torch  # noqa: F401
        has_torch = True
    except ImportError:
        has_torch = False
    for _ in range(args.repeats):
        for kind, net in nets.items():
            times[f"numba_{kind}"].append(train(net, X, y, cfg, progress=False).seconds)
        if has_torch:
            times["torch_layer"].append(torch_run(nets["layer"], X, y, cfg))
    med = {k: statistics.median(v) for k, v in times.items() if v}
    out = {"config": vars(args), "median_seconds": med,
           "layer_norm_overhead": med["numba_layer"] / med["numba_none"]}
    if "torch_layer" in med:
        out["torch_over_numba_layer"] = med["torch_layer"] / med["numba_layer"]
    print(json.dumps(out, indent=2))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
