"""Training speed: neuronid's numba kernels vs the same loop in PyTorch, same threads,
side by side in one run, at the E1 size and at the paper size.

E1 size (THEORY.md E1): input 20, one hidden relu layer of width 128 whose weights are
masked by a Bernoulli mask (each entry fixed at zero with probability 0.15, as
``w_mlp(p_fixed=0.15, sigma_F=0)``), hidden weights N(0, 0.05^2), hidden bias 0 and
trained, output = sum of the hidden units (fixed: mask 0, fixed part 1, bias 0 and
frozen). MSE, AdamW lr 1e-2, weight decay 1e-2 on weights, 0 on biases, batch 512,
n = 1024, ``--epochs`` epochs (100), per-epoch reshuffling. Data: E1's "exact copy"
embedding with all 10 copies active. Target: numba >= 5x faster than torch.

Paper size (the paper's MNIST MLP): 784-512-512-512-10, GELU or ReLU, without or with a
LayerNorm after every hidden linear layer, softmax cross-entropy, AdamW lr 1e-3, weight
decay 1e-2 on weights (0 on biases and LayerNorm gamma/beta), batch 128, one epoch over
``--paper-n`` (10,000) synthetic rows (standard normal inputs, uniform labels; timing
does not depend on the values). Torch starts from the same weights and visits the rows
in the same order, so both sides compute the same thing (their final losses are
compared). Target: numba no slower than torch (ratio torch / numba >= 1).

Both sides run on ``--threads`` threads (default 2, the cores of the dev machine):
numba (``numba.set_num_threads``) and its BLAS (threadpoolctl), torch
(``torch.set_num_threads``). The JIT is warmed up first and its compile time reported
separately. Each configuration is timed ``--repeats`` times, numba, torch and torch
with ``fused=True`` AdamW interleaved, each run after a 0.2 s pause (the other
library's OpenMP threads spin for a while after its last run); medians and the ratios torch / numba (> 1: numba
faster) are printed and written to ``benchmarks/results/training.json``. Without torch
the torch columns are skipped.

Run: ``python benchmarks/bench_training.py [--threads 2] [--repeats 5] [--epochs 100]
[--paper-n 10000] [--skip-e1] [--skip-paper] [--only NAMES]``.
"""

from __future__ import annotations

import os
import sys


def _threads_from_argv(argv) -> int:
    """``--threads`` before numpy/numba/torch load (their pools read the environment)."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return 2


_THREADS = _threads_from_argv(sys.argv[1:])
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = str(_THREADS)

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from neuronid.numerics.network import Layer, Network  # noqa: E402
from neuronid.numerics.structures import standard_mlp, w_mlp  # noqa: E402
from neuronid.numerics.training import TrainConfig, train  # noqa: E402
from neuronid.numerics.io import write_json  # noqa: E402

D_IN, WIDTH, N, BATCH, LR, WD, P_MASKED, INIT_STD = 20, 128, 1024, 512, 1e-2, 1e-2, 0.15, 0.05
PAPER_SIZES, PAPER_BATCH, PAPER_LR = [784, 512, 512, 512, 10], 128, 1e-3


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


def paper_data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, PAPER_SIZES[0]))
    y = rng.integers(0, PAPER_SIZES[-1], size=n)
    return X, y


def paper_network(activation: str, norm: bool, seed: int = 0) -> Network:
    return standard_mlp(PAPER_SIZES, activation=activation, seed=seed, norm="layer" if norm else None)


def paper_config(dtype: str, seed: int, epochs: int = 1) -> TrainConfig:
    return TrainConfig(loss="ce", optimizer="adamw", lr=PAPER_LR, epochs=epochs, batch_size=PAPER_BATCH,
                       weight_decay=WD, bias_decay=0.0, dtype=dtype, seed=seed)


def run_numba_paper(net, X, y, dtype, seed):
    t0 = time.perf_counter()
    res = train(net, X, y, paper_config(dtype, seed), progress=False)
    return time.perf_counter() - t0, res.history[-1]


def run_torch_paper(torch, net, X, y, dtype, seed, fused=False):
    """The same epoch in PyTorch: Linear [-> LayerNorm] -> activation per hidden layer,
    weights copied from ``net``, AdamW with decay on the Linear weights only, rows in the
    order of ``np.random.default_rng(seed).permutation`` (as :func:`train`)."""
    tdt = getattr(torch, dtype)
    t0 = time.perf_counter()
    modules = []
    decay, rest = [], []
    for l, layer in enumerate(net.layers):
        lin = torch.nn.Linear(*layer.shape[::-1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(layer.effective_weight()))
            lin.bias.copy_(torch.from_numpy(layer.bias))
        modules.append(lin)
        decay.append(lin.weight)
        rest.append(lin.bias)
        if l < len(net.layers) - 1:
            if layer.norm is not None:
                ln = torch.nn.LayerNorm(layer.shape[0], eps=layer.norm.eps)
                modules.append(ln)
                rest += [ln.weight, ln.bias]
            modules.append(torch.nn.GELU() if layer.names[0] == "gelu" else torch.nn.ReLU())
    model = torch.nn.Sequential(*modules).to(tdt)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": rest, "weight_decay": 0.0}],
                            lr=PAPER_LR, fused=True if fused else None)
    Xt = torch.tensor(X, dtype=tdt)
    yt = torch.tensor(y)
    n = Xt.shape[0]
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    total = 0.0
    for start in range(0, n, PAPER_BATCH):
        idx = perm[start:start + PAPER_BATCH]
        loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.item() * idx.shape[0]
    return time.perf_counter() - t0, total / n


#: pause before each timed run: numba's and torch's OpenMP pools are two runtimes whose
#: threads keep spinning for a while after their last parallel region, and a run that
#: starts right after the other library's would share the cores with them (measured, E1
#: float32 at 2 threads: 24 ms interleaved without the pause, 15 ms alone)
SETTLE_S = 0.2


def _settle():
    time.sleep(SETTLE_S)


def _timed_row(name, setup, numba_run, torch_run, torch_fused_run, repeats, target_ratio):
    """Warm up, then ``repeats`` interleaved runs of numba, torch and fused torch."""
    t0 = time.perf_counter()
    numba_run(warm=True)  # compile (or load the cache)
    compile_s = time.perf_counter() - t0
    if torch_run is not None:
        torch_run(warm=True)  # warm torch's allocator / dispatch
        torch_fused_run(warm=True)
    tn, tt, tf, ln, lt = [], [], [], None, None
    for rep in range(repeats):
        _settle()
        s, ln = numba_run(rep=rep)
        tn.append(s)
        if torch_run is not None:
            _settle()
            s, lt = torch_run(rep=rep)
            tt.append(s)
            _settle()
            tf.append(torch_fused_run(rep=rep)[0])
    row = dict(name=name, **setup, numba_median_s=statistics.median(tn), numba_times_s=tn,
               numba_compile_or_cache_load_s=compile_s, numba_final_loss=ln,
               torch_median_s=statistics.median(tt) if tt else None, torch_times_s=tt or None, torch_final_loss=lt,
               torch_fused_median_s=statistics.median(tf) if tf else None, torch_fused_times_s=tf or None,
               target_ratio=target_ratio)
    if tt:
        row["ratio_torch_over_numba"] = row["torch_median_s"] / row["numba_median_s"]
        row["ratio_torch_fused_over_numba"] = row["torch_fused_median_s"] / row["numba_median_s"]
        # the same computation on both sides: their final epoch losses must agree
        row["final_loss_rel_diff"] = abs(ln - lt) / abs(lt)
        best = min(row["ratio_torch_over_numba"], row["ratio_torch_fused_over_numba"])
        row["target_met"] = bool(best >= target_ratio)
    else:
        for key in ("ratio_torch_over_numba", "ratio_torch_fused_over_numba", "final_loss_rel_diff", "target_met"):
            row[key] = None
            row[key + "_reason"] = "torch not installed"
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for numba, BLAS and torch (default 2)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100, help="E1-size epochs")
    parser.add_argument("--paper-n", type=int, default=10000, help="rows of the paper-size epoch")
    parser.add_argument("--skip-e1", action="store_true")
    parser.add_argument("--skip-paper", action="store_true")
    parser.add_argument("--only", default="",
                        help="comma-separated configurations to run, e.g. 'paper gelu float32,paper relu float64' "
                             "(default: all)")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "training.json"))
    args = parser.parse_args(argv)
    threads = args.threads

    import numba

    numba.set_num_threads(threads)
    try:
        import torch  # optional: the torch columns are skipped without it

        torch.set_num_threads(threads)
        torch_version = torch.__version__
    except ImportError:
        torch, torch_version = None, None
    blas = None
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        threadpool_limits(threads)
        blas = [(p.get("internal_api"), p.get("num_threads")) for p in threadpool_info()]
    except ImportError:
        pass

    only = [name.strip() for name in args.only.split(",") if name.strip()]

    def wanted(name: str) -> bool:
        return not only or name in only

    results = []
    if not args.skip_e1:
        X, y = e1_data(N)
        net = e1_network()
        for dtype in ("float32", "float64"):
            setup = dict(size="E1", activation="relu", norm=False, dtype=dtype)
            if not wanted(f"E1 relu {dtype}"):
                continue

            def nrun(warm=False, rep=0, dtype=dtype):
                if warm:
                    return run_numba(net, X[:BATCH], y[:BATCH], 1, dtype, 0)
                return run_numba(net, X, y, args.epochs, dtype, rep)

            def trun(warm=False, rep=0, dtype=dtype, fused=False):
                return run_torch(torch, net, X, y, 2 if warm else args.epochs, dtype, rep, fused=fused)

            results.append(_timed_row(
                f"E1 relu {dtype}", setup, nrun, trun if torch else None,
                (lambda warm=False, rep=0, dtype=dtype: trun(warm, rep, dtype, True)) if torch else None,
                args.repeats, 5.0))
            print(_line(results[-1]), flush=True)
    if not args.skip_paper:
        X, y = paper_data(args.paper_n)
        for activation in ("gelu", "relu"):
            for norm in (False, True):
                net = paper_network(activation, norm)
                for dtype in ("float32", "float64"):
                    setup = dict(size="paper", activation=activation, norm=norm, dtype=dtype)
                    if not wanted(f"paper {activation}{' +LN' if norm else ''} {dtype}"):
                        continue

                    def nrun(warm=False, rep=0, net=net, dtype=dtype):
                        if warm:
                            return run_numba_paper(net, X[:2 * PAPER_BATCH], y[:2 * PAPER_BATCH], dtype, 0)
                        return run_numba_paper(net, X, y, dtype, rep)

                    def trun(warm=False, rep=0, net=net, dtype=dtype, fused=False):
                        if warm:
                            return run_torch_paper(torch, net, X[:2 * PAPER_BATCH], y[:2 * PAPER_BATCH], dtype, 0,
                                                   fused)
                        return run_torch_paper(torch, net, X, y, dtype, rep, fused)

                    results.append(_timed_row(
                        f"paper {activation}{' +LN' if norm else ''} {dtype}", setup, nrun,
                        trun if torch else None,
                        (lambda warm=False, rep=0, trun=trun: trun(warm, rep, fused=True)) if torch else None,
                        args.repeats, 1.0))
                    print(_line(results[-1]), flush=True)

    print(f"\ntraining, {threads} thread(s) each, median of {args.repeats}; E1: n {N}, batch {BATCH}, "
          f"{args.epochs} epochs; paper: {'-'.join(map(str, PAPER_SIZES))}, n {args.paper_n}, batch {PAPER_BATCH}, "
          "1 epoch; ratio = torch / numba (> 1: numba faster)")
    print(_header())
    for r in results:
        print(_line(r))
    if torch is None:
        print("torch not installed: torch columns skipped (pip install torch==2.13.0)")

    payload = dict(
        benchmark="training",
        setup=dict(threads=threads, repeats=args.repeats,
                   e1=dict(width=WIDTH, d_in=D_IN, n=N, batch=BATCH, epochs=args.epochs, optimizer="adamw", lr=LR,
                           weight_decay=WD, bias_decay=0.0, p_masked=P_MASKED, loss="mse"),
                   paper=dict(sizes=PAPER_SIZES, n=args.paper_n, batch=PAPER_BATCH, epochs=1, optimizer="adamw",
                              lr=PAPER_LR, weight_decay=WD, bias_decay=0.0, loss="ce", data="synthetic normal")),
        targets=dict(e1="numba >= 5x faster than torch", paper="numba no slower than torch (ratio >= 1)"),
        versions=dict(python=platform.python_version(), numpy=np.__version__, numba=numba.__version__,
                      torch=torch_version),
        blas=blas,
        numba_threading_layer=numba.threading_layer(),
        load_average=list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        machine=platform.machine(),
        results=results,
    )
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    write_json(Path(args.json), payload)
    print(f"wrote {args.json}")
    return 0


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def _header() -> str:
    return (f"{'configuration':24} {'numba [s]':>10} {'torch [s]':>10} {'torch/numba':>12} {'fused [s]':>10} "
            f"{'fused/numba':>12} {'target':>7} {'met':>5} {'loss rel diff':>14}")


def _line(r) -> str:
    return (f"{r['name']:24} {r['numba_median_s']:10.3f} {_fmt(r['torch_median_s'], '.3f'):>10} "
            f"{_fmt(r['ratio_torch_over_numba'], '.2f') + 'x':>12} {_fmt(r['torch_fused_median_s'], '.3f'):>10} "
            f"{_fmt(r['ratio_torch_fused_over_numba'], '.2f') + 'x':>12} {r['target_ratio']:>6.0f}x "
            f"{_fmt(r['target_met'], ''):>5} {_fmt(r['final_loss_rel_diff'], '.1e'):>14}")


if __name__ == "__main__":
    sys.exit(main())
