"""E2 -- swap costs vs intrinsic dimension (THEORY.md E2).

Protocol. Gaussian-mixture classification data in a random ``k``-dimensional
subspace of an ``ambient``-dimensional space
(:func:`neuronid.numerics.datasets.gaussian_mixture_subspace`: 20 classes, class
separation 0.3, class means ``N(0, sep^2 I_k)``, rotated anisotropic noise),
``k in {2, 8, 32}``. W-MLPs (``ambient -> hidden -> hidden -> 20``, ReLU) with
``sigma_F in {0, 1}``: in every layer a fixed number of entries per row
(``fixed_fraction`` of the fan-in) is fixed at ``sigma_F * n`` with ``n ~ N(0, 1)``.
One unit = one trained network and one cost analysis of hidden layer ``layer``
(default 0, whose support is the data subspace itself): the support at
explained-variance threshold ``tau = 0.9`` (D1), the cost matrix ``K`` (P1,
pre-activation costs), and the three swap-cost matrices of D3: ``Delta_in`` (the
paper's transposition cost, what its heatmaps show), ``Delta_out`` (this project's
extension) and the sum ``Delta_in + Delta_out``; for each, the fraction of negative
off-diagonal entries, median, quantiles and minimum (the transposition margin).
The claims are decided on ``Delta_in``; the other two are reported beside it.

Seeds: the data, the structure (masks and fixed values ``n``), the initialization and
the minibatch order of unit ``(k, sigma_F, seed)`` come from ``(base_seed, k,
seed)`` only, so the two ``sigma_F`` of one ``(k, seed)`` share data, masks, ``n``
and initialization and differ only in the scale of the fixed part.

Sizes. Paper scale keeps the paper's data (ambient 512, 50,000 training points, 20
classes, separation 0.3) and uses hidden width 256, 30 epochs and 3 seeds: the cost
analysis needs ``m^2`` swap costs per layer and ``Delta_out`` a rank-2 update per
pair and next-layer neuron, so width 256 keeps one unit at a few minutes on one core
while the matrix is still large enough for stable fractions and medians; 3 seeds give
a spread. Small scale: the paper's ambient dimension 512, 4,000 points, width 128, 20
epochs, 2 seeds (about 15 s on 2 cores).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from neuronid.numerics.datasets import gaussian_mixture_subspace
from neuronid.numerics.structures import w_mlp
from neuronid.numerics.training import TrainConfig, train

from . import common as C
from .sweep import Experiment, derive_seed, describe, finite

PAPER = {
    "ks": [2, 8, 32],
    "sigmas": [0.0, 1.0],
    "seeds": 3,
    "ambient": 512,
    "n_classes": 20,
    "sep": 0.3,
    "n_train": 50000,
    "n_test": 10000,
    "n_support": 10000,
    "hidden": [256, 256],
    "activation": "relu",
    "fixed_fraction": 0.25,
    "lr": 1e-3,
    "weight_decay": 1e-2,
    "epochs": 30,
    "batch_size": 128,
    "dtype": "float32",
    "layer": 0,
    "tau": 0.9,
    "heatmap_neurons": 64,
    "base_seed": 0,
}
SMALL = {**PAPER, "seeds": 2, "n_train": 4000, "n_test": 2000, "n_support": 2000, "hidden": [128, 128], "epochs": 20}
SCALES = {"small": SMALL, "paper": PAPER}

#: the three swap-cost matrices of D3, in the order of the plots' rows; ``delta_in`` is
#: the paper's transposition cost (the claims read it), the other two are reported
KINDS = ("delta_in", "delta_out", "delta_sum")
KIND_LABELS = {"delta_in": "Delta_in", "delta_out": "Delta_out", "delta_sum": "Delta_in + Delta_out"}
#: relative rounding scale of one swap cost (four float64 cost-matrix entries of size <=
#: max|K|, each from a closed form with relative error ~1e-12): entries within
#: ``1e-9 max|K|`` of 0 are reported apart as "negative beyond rounding"
ROUNDING_RTOL = 1e-9


def check_config(cfg: dict) -> dict:
    C.check_keys(cfg, PAPER, "E2")
    amb = C.check_int(cfg, "ambient", 1, C.MAX_WIDTH)
    ks = C.check_int_list(cfg, "ks", 1, amb)
    sig = cfg["sigmas"]
    if (not isinstance(sig, (list, tuple)) or not sig or len(set(map(float, sig))) != len(sig)
            or not all(isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s) and s >= 0
                       for s in sig)):
        raise C.InvalidOptionError(f"configuration sigmas={sig!r}: expected distinct numbers >= 0")
    cfg["sigmas"] = [float(s) for s in sig]
    C.check_int(cfg, "seeds", 1, C.MAX_UNITS)
    C.check_int(cfg, "epochs", 1, C.MAX_EPOCHS)
    C.check_int(cfg, "batch_size", 1, C.MAX_POINTS)
    C.check_int(cfg, "heatmap_neurons", 1, C.MAX_STEPS)
    nc = C.check_int(cfg, "n_classes", 2, C.MAX_WIDTH)
    n_train = C.check_int(cfg, "n_train", nc, C.MAX_POINTS)
    n_test = C.check_int(cfg, "n_test", nc, C.MAX_POINTS)
    n_support = C.check_int(cfg, "n_support", 2, C.MAX_POINTS)
    hidden = cfg["hidden"]
    if (not isinstance(hidden, list) or not hidden
            or not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden)):
        raise C.InvalidOptionError(f"configuration hidden={hidden!r}: expected a list of widths >= 1")
    C.check_int_list(cfg, "hidden", 1, C.MAX_WIDTH, distinct=False)
    C.check_unit_count("E2", len(ks) * len(sig) * cfg["seeds"],
                       f"{len(ks)} ks x {len(sig)} sigmas x seeds={cfg['seeds']}")
    n = max(n_train, n_test, n_support)
    C.check_unit_memory("E2", C.unit_bytes([amb, *hidden, nc], n, networks=1, cost_width=max(hidden)),
                        f"ambient={amb}, hidden={hidden}, {n} points")
    C.check_int(cfg, "layer", 0, len(hidden) - 1)
    C.check_float(cfg, "sep", 0.0, open_lo=True)
    C.check_float(cfg, "fixed_fraction", 0.0, 1.0)
    C.check_float(cfg, "lr", 0.0, open_lo=True)
    C.check_float(cfg, "weight_decay", 0.0)
    C.check_float(cfg, "tau", 0.0, 1.0, open_lo=True)
    C.check_choice(cfg, "dtype", ("float64", "float32"))
    C.check_int(cfg, "base_seed", 0)
    if not isinstance(cfg["activation"], str):
        raise C.InvalidOptionError(f"configuration activation={cfg['activation']!r}: expected a name")
    return cfg


def units(cfg: dict) -> list:
    out = []
    for k in cfg["ks"]:
        for s in cfg["sigmas"]:
            for seed in range(cfg["seeds"]):
                out.append((f"k{k}_sf{s:g}_s{seed}", {"k": k, "sigma_F": s, "seed": seed}))
    return out


def n_fixed_per_layer(cfg: dict) -> list:
    sizes = [cfg["ambient"], *cfg["hidden"], cfg["n_classes"]]
    return [int(round(cfg["fixed_fraction"] * d)) for d in sizes[:-1]]


def e2_data(cfg: dict, k: int, seed: int):
    s = derive_seed(cfg["base_seed"], 1, k, seed)
    common = dict(k=k, ambient=cfg["ambient"], n_classes=cfg["n_classes"], sep=cfg["sep"], seed=s)
    tr = gaussian_mixture_subspace(cfg["n_train"], **common)
    te = gaussian_mixture_subspace(cfg["n_test"], sample_seed=derive_seed(cfg["base_seed"], 6, k, seed), **common)
    return tr, te


def e2_network(cfg: dict, k: int, sigma_F: float, seed: int):
    sizes = [cfg["ambient"], *cfg["hidden"], cfg["n_classes"]]
    return w_mlp(sizes, activation=cfg["activation"], n_fixed=n_fixed_per_layer(cfg), sigma_F=sigma_F,
                 seed=derive_seed(cfg["base_seed"], 3, k, seed), structure_seed=derive_seed(cfg["base_seed"], 2, k, seed))


def run_unit(cfg: dict, params: dict) -> dict:
    k, s, seed = params["k"], params["sigma_F"], params["seed"]
    tr, te = e2_data(cfg, k, seed)
    net = e2_network(cfg, k, s, seed)
    tc = TrainConfig(loss="ce", optimizer="adamw", lr=cfg["lr"], epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                     weight_decay=cfg["weight_decay"], dtype=cfg["dtype"], seed=derive_seed(cfg["base_seed"], 5, k, seed))
    res = train(net, tr.X, tr.y, tc, progress=False)
    trained = res.network
    out = trained(te.X)
    acc = float(np.mean(np.argmax(out, axis=1) == te.y))
    support = tr.X[: cfg["n_support"]]
    costs = C.swap_cost_analysis(trained, support, cfg["layer"], tau=cfg["tau"])
    row = {"k": k, "sigma_F": s, "seed": seed, "train_loss": res.history[-1] if res.history else None,
           "test_accuracy": acc, "costs_status": costs["status"]}
    if costs["status"] != "ok":
        row["costs_reason"] = costs.get("reason")
        return row
    summ = costs["summary"]
    p = summ["p"]
    # rounding scale of the swap costs: each is a sum of four K entries
    tol = ROUNDING_RTOL * (costs["K_scale"] or 0.0)
    stats = {kind: C.offdiag_stats(costs[kind], tol) for kind in KINDS}
    row.update({
        "neurons": int(costs["delta_in"].shape[0]),
        "rank": summ["rank"],
        "explained_variance": summ["explained_variance"],
        "coherence": summ["coherence"],
        "p": p,
        "swap_costs": stats,
        "delta_min_in": costs["delta_min_in"],
        "delta_min_sum": costs["delta_min"],
        "gamma": costs["gamma"],
        "K_scale": costs["K_scale"],
        "mean_anisotropy": costs["mean_anisotropy"],
        "t1_bound": costs["t1"].get("bound"),
        "p4_scale": s * s * (1.0 - p) * summ["rank"],
        "semantics": costs["semantics"],
        "notes": costs["notes"],
    })
    h = min(cfg["heatmap_neurons"], row["neurons"])
    row["heatmaps"] = {kind: costs[kind][:h, :h] for kind in KINDS} if seed == 0 else None
    return row


def warmup(cfg: dict) -> None:
    small = {**cfg, "ambient": 8, "n_train": 64, "n_test": 32, "n_support": 64, "hidden": [4, 4], "epochs": 1,
             "n_classes": 4, "ks": [2]}
    run_unit(small, {"k": 2, "sigma_F": cfg["sigmas"][0], "seed": 0})


# ----------------------------------------------------------------------------- aggregation
STAT_KEYS = ("median", "frac_negative", "frac_negative_beyond_tol", "min", "unrealizable_fraction")


def aggregate(cfg: dict, records: list) -> dict:
    """Per ``(k, sigma_F)``: for each of ``delta_in``, ``delta_out``, ``delta_sum`` the
    spread over seeds (:func:`~.sweep.describe`) of the per-network statistics, plus the
    seed-0 heatmaps of all three."""
    rows = [rec["result"] for rec in records]
    cells = []
    for k in cfg["ks"]:
        for s in cfg["sigmas"]:
            sel = [r for r in rows if r["k"] == k and r["sigma_F"] == s and r.get("costs_status") == "ok"]
            heat = next((r for r in sel if r.get("heatmaps") is not None), None)
            cells.append({
                "k": k, "sigma_F": s, "n_seeds": len(sel),
                "swap_costs": {kind: {stat: describe([r["swap_costs"][kind][stat] for r in sel]) for stat in STAT_KEYS}
                               for kind in KINDS},
                "delta_min_in": describe([r["delta_min_in"] for r in sel]),
                "delta_min_sum": describe([r["delta_min_sum"] for r in sel]),
                "rank": describe([r["rank"] for r in sel]),
                "coherence": describe([r["coherence"] for r in sel]),
                "mean_anisotropy": describe([r["mean_anisotropy"] for r in sel]),
                "test_accuracy": describe([r["test_accuracy"] for r in sel]),
                "p4_scale": describe([r["p4_scale"] for r in sel]),
                "heatmap": None if heat is None else {
                    "seed": heat["seed"], "neurons": heat["neurons"],
                    "neurons_shown": len(heat["heatmaps"]["delta_in"]),
                    **{kind: {"delta": heat["heatmaps"][kind], "frac_negative": heat["swap_costs"][kind]["frac_negative"],
                              "median": heat["swap_costs"][kind]["median"]} for kind in KINDS}},
            })
    slim = [{k: v for k, v in r.items() if k != "heatmaps"} for r in rows]
    return {"rows": slim, "cells": cells, "layer": cfg["layer"], "claims_read": "delta_in",
            "status": "ok" if all(r.get("costs_status") == "ok" for r in rows) else "incomplete"}


def _cell(results, k, s):
    return next(c for c in results["cells"] if c["k"] == k and c["sigma_F"] == s)


def _stat(results, k, s, stat, over="median", kind="delta_in"):
    """``over`` (median, min, max, ...) across seeds of the per-network ``stat`` of
    ``kind`` at ``(k, sigma_F = s)``."""
    return _cell(results, k, s)["swap_costs"][kind][stat][over]


def _pct(x, spec=".0f"):
    return C.fmt(None if x is None else 100 * x, spec)


# ----------------------------------------------------------------------------- claims
def claims(cfg: dict, results: dict) -> list:
    """The paper's E2 claims, decided on ``Delta_in`` (the paper's transposition cost,
    THEORY.md D3); ``Delta_out`` and the sum are reported in the summary only."""
    ks, sig = cfg["ks"], cfg["sigmas"]
    out = []
    if results["status"] != "ok":
        reason = next((r.get("costs_reason") for r in results["rows"] if r.get("costs_status") != "ok"), "")
        return [C.verdict("E2 swap-cost claims", "not available", f"cost analysis not available: {reason}")]
    zero, one = (0.0 in sig), (1.0 in sig)
    if zero:
        parts, mixed = [], []
        for k in ks:
            fn, md = _stat(results, k, 0.0, "frac_negative"), _stat(results, k, 0.0, "median")
            lo, hi = _stat(results, k, 0.0, "frac_negative", "min"), _stat(results, k, 0.0, "frac_negative", "max")
            mixed.append(fn is not None and 0.05 <= fn <= 0.95)
            parts.append(f"k = {k}: {_pct(fn)}% negative (seeds {_pct(lo)}-{_pct(hi)}%), median {C.fmt(md)}")
        status = "supported" if all(mixed) else ("not supported" if not any(mixed) else "inconclusive")
        out.append(C.verdict("sigma_F = 0: the swap costs Delta_in have mixed signs (a sizeable share of swaps, 5-95 %, "
                             "is cheaper than the identity): the layer is effectively symmetric",
                             status, "; ".join(parts) + f" (mixed at {sum(mixed)} of {len(ks)} k)",
                             frac_negative={str(k): _stat(results, k, 0.0, "frac_negative") for k in ks}))
    if zero and one:
        parts, small = [], []
        for k in ks:
            m0, m1 = _stat(results, k, 0.0, "median"), _stat(results, k, 1.0, "median")
            ratio = abs(m0) / m1 if (m0 is not None and m1 is not None and m1 > 0) else None
            small.append(ratio is not None and ratio < 0.1)
            parts.append(f"k = {k}: |median| {C.fmt(abs(m0) if m0 is not None else None)} vs {C.fmt(m1)} "
                         f"(ratio {C.fmt(ratio, '.2g')})")
        status = "supported" if all(small) else ("not supported" if not any(small) else "inconclusive")
        out.append(C.verdict("sigma_F = 0 swap costs Delta_in are small next to sigma_F = 1 ones (|median| below 10 % "
                             "of the sigma_F = 1 median at the same k)", status, "; ".join(parts)))
    if one:
        parts, pos = [], []
        for k in ks:
            fn, md = _stat(results, k, 1.0, "frac_negative", "max"), _stat(results, k, 1.0, "median")
            pos.append(fn is not None and fn < 0.05 and md is not None and md > 0)
            parts.append(f"k = {k}: {_pct(fn, '.1f')}% negative (worst seed), median {C.fmt(md)}")
        status = "supported" if all(pos) else ("not supported" if not any(pos) else "inconclusive")
        out.append(C.verdict("sigma_F = 1: the swap costs Delta_in are positive (fewer than 5 % negative entries, "
                             "positive median)", status, "; ".join(parts)))
        meds = [_stat(results, k, 1.0, "median") for k in ks]
        ranks = [_cell(results, k, 1.0)["rank"]["mean"] for k in ks]
        claim = "sigma_F = 1: the median swap cost Delta_in grows with the intrinsic dimension k"
        if len(ks) < 2 or any(m is None for m in meds):
            out.append(C.verdict(claim, "inconclusive", "fewer than two k values with a median"))
        else:
            order = np.argsort(ks)
            ms = [meds[i] for i in order]
            rs = [ranks[i] for i in order]
            grows = all(b > a for a, b in zip(ms, ms[1:]))
            ev = ", ".join(f"k = {ks[i]}: {C.fmt(meds[i])}" for i in order)
            ev += ("; P4 predicts growth proportional to sigma_F^2 (1-p) r: support rank r = "
                   + ", ".join(C.fmt(r, '.3g') for r in rs)
                   + f", i.e. x{C.fmt(rs[-1] / rs[0], '.3g')} from the smallest to the largest k; measured "
                   f"x{C.fmt(ms[-1] / ms[0] if ms[0] else None, '.3g')}")
            status = "supported" if grows else ("not supported" if ms[-1] <= ms[0] else "inconclusive")
            out.append(C.verdict(claim, status, ev))
    acc = finite([r["test_accuracy"] for r in results["rows"]])
    if acc.size:
        chance = 1.0 / cfg["n_classes"]
        worst = float(acc.min())
        out.append(C.verdict(f"sanity: the networks learned the task (test accuracy well above chance {chance:.2f})",
                             "supported" if worst > 2 * chance else "not supported",
                             "test accuracy " + ", ".join(
                                 f"k = {r['k']}, sigma_F = {r['sigma_F']:g}: {r['test_accuracy']:.2f}"
                                 for r in results["rows"] if r["seed"] == 0)))
    return out


# ----------------------------------------------------------------------------- summary
def summary(cfg: dict, results: dict, claim_list: list) -> str:
    nf = n_fixed_per_layer(cfg)
    lines = [
        f"# E2 -- swap costs vs intrinsic dimension ({results['scale']} scale)",
        "",
        "THEORY.md E2 (P3, P4): swap costs (D3) of one hidden layer of W-MLPs with sigma_F = 0 and 1 on "
        "Gaussian-mixture data of intrinsic dimension k. The paper's heatmaps show the transposition cost Delta_in; "
        "the claims below are decided on Delta_in. Delta_out (the next layer's change, this project's extension) and "
        "the sum Delta_in + Delta_out are reported beside it. The paper reports small, mixed-sign costs for "
        "sigma_F = 0 and positive costs growing with k for sigma_F = 1.",
        "",
        f"Setup: ambient {cfg['ambient']}, {cfg['n_classes']} classes, sep {cfg['sep']:g}, n_train {cfg['n_train']}; "
        f"W-MLP {[cfg['ambient'], *cfg['hidden'], cfg['n_classes']]} {cfg['activation']}, fixed entries per row "
        f"{nf} (fixed_fraction {cfg['fixed_fraction']:g}), {cfg['epochs']} epochs AdamW lr {cfg['lr']:g} wd "
        f"{cfg['weight_decay']:g}; costs of hidden layer {cfg['layer']} on {cfg['n_support']} training points, "
        f"tau = {cfg['tau']:g}; {cfg['seeds']} seed(s) per cell.",
        "",
    ]
    sem = next((r.get("semantics") for r in results["rows"] if r.get("semantics")), None)
    if sem:
        lines += [f"Cost semantics: {sem}", ""]
    lines += ["## Claims (decided on Delta_in)", "", C.claims_markdown(claim_list), ""]
    if results["status"] == "ok":
        lines += ["## Per (k, sigma_F)", "",
                  "Median over seeds of each network's off-diagonal median and share of negative entries (in brackets: "
                  "min-max over seeds); negative = strictly below 0, as the paper counts.", "",
                  "| k | sigma_F | support rank r | Delta_in median | Delta_in negative | Delta_out median "
                  "| Delta_out negative | Delta_in + Delta_out median | sum negative | min Delta_in | P4 scale "
                  "sigma_F^2 (1-p) r | test acc. |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for c in results["cells"]:
            k, s = c["k"], c["sigma_F"]
            cols = []
            for kind in KINDS:
                cols.append(C.fmt(_stat(results, k, s, "median", kind=kind)))
                fn = c["swap_costs"][kind]["frac_negative"]
                cols.append(f"{_pct(fn['median'], '.1f')}% [{_pct(fn['min'], '.1f')}-{_pct(fn['max'], '.1f')}]")
            lines.append(f"| {k} | {s:g} | {C.fmt(c['rank']['mean'], '.3g')} | " + " | ".join(cols)
                         + f" | {C.fmt(c['delta_min_in']['median'])} | {C.fmt(c['p4_scale']['mean'])} "
                         f"| {C.fmt(c['test_accuracy']['mean'], '.2f')} |")
    lines += ["", f"Units: {results['units']['total']} ({results['units']['skipped']} resumed); wall time "
              f"{results['wall_seconds']:.0f} s; summed unit time {results['units']['unit_seconds_total']:.0f} s.", ""]
    if results.get("plots"):
        lines += ["Plots: " + ", ".join(f"`{p}`" for p in results["plots"]), ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- plots
def _matrix(rows) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


def plot(cfg: dict, results: dict, out_dir) -> list:
    """``e2_heatmaps.png`` (Delta_in, the paper's figure), ``e2_heatmaps_delta_out.png``,
    ``e2_heatmaps_delta_sum.png``, ``e2_median_vs_k.png`` (median and share negative vs
    k, one column per matrix) and one Delta_in heatmap per ``(k, sigma_F)``."""
    from neuronid.proofs_checks.plots import plot_swap_heatmap

    from .plots import plot_e2_heatmaps, plot_e2_median

    out_dir = Path(out_dir)
    if results["status"] != "ok":
        return []
    grids, singles = [], []
    first = next((c["heatmap"] for c in results["cells"] if c["heatmap"] is not None), None)
    note = ""
    if first is not None:
        note = (f" (first {first['neurons_shown']} of {first['neurons']} neurons" if first["neurons_shown"] < first["neurons"]
                else f" ({first['neurons']} neurons") + f", seed {first['seed']})"
    for kind in KINDS:
        panels = []
        for c in results["cells"]:
            h = c["heatmap"]
            if h is None:
                continue
            panels.append({"k": c["k"], "sigma_F": c["sigma_F"], "delta": h[kind]["delta"],
                           "frac_negative": h[kind]["frac_negative"], "median": h[kind]["median"]})
            if kind == "delta_in":
                path = out_dir / f"e2_heatmap_k{c['k']}_sf{c['sigma_F']:g}.png"
                shown = (f"first {h['neurons_shown']} of {h['neurons']} neurons" if h["neurons_shown"] < h["neurons"]
                         else f"{h['neurons']} neurons")
                plot_swap_heatmap(_matrix(h[kind]["delta"]), path,
                                  title=f"E2: W-MLP sigma_F = {c['sigma_F']:g}, k = {c['k']}, hidden layer "
                                        f"{cfg['layer']}: swap cost Delta_in ({shown}, seed {h['seed']})",
                                  label="Delta_in")
                singles.append(path)
        grid = out_dir / ("e2_heatmaps.png" if kind == "delta_in" else f"e2_heatmaps_{kind}.png")
        plot_e2_heatmaps(panels, grid, ks=cfg["ks"], sigmas=cfg["sigmas"], layer=cfg["layer"], note=note,
                         label=KIND_LABELS[kind])
        grids.append(grid)
    ks = cfg["ks"]
    pred = {}
    for s in cfg["sigmas"]:
        if s == 0:
            continue
        m0, r0 = _stat(results, ks[0], s, "median"), _cell(results, ks[0], s)["rank"]["mean"]
        if m0 is not None and r0:
            pred[s] = [m0 * _cell(results, k, s)["rank"]["mean"] / r0
                       if _cell(results, k, s)["rank"]["mean"] is not None else np.nan for k in ks]
    med = out_dir / "e2_median_vs_k.png"
    plot_e2_median(results["cells"], med, ks=ks, sigmas=cfg["sigmas"], layer=cfg["layer"], prediction=pred,
                   kinds=KINDS, labels=KIND_LABELS)
    return [grids[0], med, *grids[1:], *singles]


EXPERIMENT = Experiment(
    name="E2",
    title="Swap costs vs intrinsic dimension",
    scales=SCALES,
    check_config=check_config,
    units=units,
    run_unit=run_unit,
    aggregate=aggregate,
    claims=claims,
    summary=summary,
    plot=plot,
    warmup=warmup,
)
