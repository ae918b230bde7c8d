"""E3 -- linear mode connectivity unaligned vs aligned (THEORY.md E3).

Protocol. Structures: standard MLP, W-MLP with ``sigma_F = 0`` and ``sigma_F = 1``,
syre-MLP (fixed offset ``kappa * n``). For each structure, pairs of networks trained
from independent seeds on the same data (same structure: masks and fixed parts are
shared by every run of a data set; the two W-MLPs share masks and ``n`` and differ
only in ``sigma_F``). Data: Gaussian-mixture subspace data (E2's generator) and
scikit-learn's bundled 8x8 digits (skipped, with a note, when scikit-learn is
missing). GELU hidden layers without normalization layers (THEORY.md: "without
normalization layers until those are supported"), cross-entropy, AdamW. For every
pair, on the test split: the linear path unaligned, after activation matching
(correlation, fitted on the training split) and after weight matching (D6), each with
its barriers (D5) and the T4 certificate of that path (A vs B, A vs the permuted B),
plus how many neurons each matching leaves in place (T3: identifiable structures
should match neuron ``i`` to neuron ``i`` without alignment).

W-MLP fixed entries per row, scaled from the paper (784-512-512-512-10, 64 fixed
entries per row and 256 in the last layer): ``round(64/784 * d_in)`` in the first
layer, ``round(64/512 * width)`` in the hidden layers, half of the last hidden width
in the output layer.

Sizes. Paper scale: the paper's network shape and schedule (3 hidden layers of 512,
AdamW lr 1e-3, weight decay 1e-2, 100 epochs, batch 128) on digits (1,438 train /
359 test) and on subspace data with the paper's E2 defaults (ambient 512, 20
classes, separation 0.3; k = 8) but 5,000 training points, 5 pairs per structure: 80
trainings of a 512-512-512 MLP. Measured on one core: 0.65 s per epoch on digits and
9.6 s per epoch on 20,000 subspace points, hence 5,000 points (~2.4 s per epoch)
to keep the whole run near 1.5-2 h on 2 cores instead of ~6 h. Small scale: 2 hidden
layers of 64, 30 epochs, ambient 64, 4,000 subspace points, 3 pairs per structure:
under a minute on 2 cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuronid.numerics.datasets import digits, gaussian_mixture_subspace, train_test_split
from neuronid.numerics.structures import standard_mlp, syre_mlp, w_mlp
from neuronid.numerics.training import TrainConfig, train
from neuronid.proofs_checks.pairs import compare_pair

from . import common as C
from .e1 import certificate_claim
from .sweep import Experiment, derive_seed, describe

DATASETS = ("subspace", "digits")
STRUCTURES = ("standard", "w-mlp-0", "w-mlp-1", "syre")
LABELS = {"standard": "standard", "w-mlp-0": "W-MLP sigma_F=0", "w-mlp-1": "W-MLP sigma_F=1", "syre": "syre"}
ALIGNMENTS = ("unaligned", "activation", "weight")
BARRIER_CHOICES = ("B_peak", "B_mid", "B_lerp", "B_mean")

PAPER = {
    "datasets": list(DATASETS),
    "structures": list(STRUCTURES),
    "pairs": 5,
    "hidden": [512, 512, 512],
    "activation": "gelu",
    "fixed_input": 64 / 784,
    "fixed_hidden": 64 / 512,
    "fixed_last": 0.5,
    "syre_kappa": 0.1,  # kappa * sqrt(width) ~ 2.3, as 0.3 * sqrt(64) at small scale
    "ambient": 512,
    "k": 8,
    "n_classes": 20,
    "sep": 0.3,
    "n_train": 5000,
    "n_test": 2000,
    "digits_test_fraction": 0.2,
    "lr": 1e-3,
    "weight_decay": 1e-2,
    "epochs": 100,
    "batch_size": 128,
    "dtype": "float32",
    "steps": 21,
    "restarts": 5,
    "barrier": "B_peak",
    "base_seed": 0,
}
SMALL = {**PAPER, "pairs": 3, "hidden": [64, 64], "ambient": 64, "n_classes": 10, "n_train": 4000, "n_test": 2000,
         "epochs": 30, "restarts": 3, "syre_kappa": 0.3}
SCALES = {"small": SMALL, "paper": PAPER}


def check_config(cfg: dict) -> dict:
    C.check_keys(cfg, PAPER, "E3")
    for key, allowed in (("datasets", DATASETS), ("structures", STRUCTURES)):
        v = cfg[key]
        if not isinstance(v, (list, tuple)) or not v or any(x not in allowed for x in v) or len(set(v)) != len(v):
            raise C.InvalidOptionError(f"configuration {key}={v!r}: expected distinct entries of {', '.join(allowed)}")
    hidden = cfg["hidden"]
    if (not isinstance(hidden, list) or not hidden
            or not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden)):
        raise C.InvalidOptionError(f"configuration hidden={hidden!r}: expected a list of widths >= 1")
    for key in ("pairs", "epochs", "batch_size", "restarts"):
        C.check_int(cfg, key, 1)
    amb = C.check_int(cfg, "ambient", 1)
    C.check_int(cfg, "k", 1, amb)
    nc = C.check_int(cfg, "n_classes", 2)
    C.check_int(cfg, "n_train", nc)
    C.check_int(cfg, "n_test", 2)
    C.check_int(cfg, "steps", 3)
    C.check_int(cfg, "base_seed", 0)
    for key in ("fixed_input", "fixed_hidden", "fixed_last"):
        C.check_float(cfg, key, 0.0, 1.0)
    C.check_float(cfg, "digits_test_fraction", 0.0, 1.0, open_lo=True)
    C.check_float(cfg, "syre_kappa", 0.0)
    C.check_float(cfg, "sep", 0.0, open_lo=True)
    C.check_float(cfg, "lr", 0.0, open_lo=True)
    C.check_float(cfg, "weight_decay", 0.0)
    C.check_choice(cfg, "dtype", ("float64", "float32"))
    C.check_choice(cfg, "barrier", BARRIER_CHOICES)
    if not isinstance(cfg["activation"], str):
        raise C.InvalidOptionError(f"configuration activation={cfg['activation']!r}: expected a name")
    return cfg


def digits_available() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def units(cfg: dict) -> list:
    out = []
    for ds in cfg["datasets"]:
        if ds == "digits" and not digits_available():
            continue
        for st in cfg["structures"]:
            for pair in range(cfg["pairs"]):
                out.append((f"{ds}_{st}_p{pair}", {"dataset": ds, "structure": st, "pair": pair}))
    return out


# ----------------------------------------------------------------------------- building blocks
def e3_data(cfg: dict, dataset: str):
    """(train, test) of ``dataset`` (the same for every structure and pair)."""
    di = DATASETS.index(dataset)
    seed = derive_seed(cfg["base_seed"], 1, di)
    if dataset == "digits":
        return train_test_split(digits(seed=seed), test_fraction=cfg["digits_test_fraction"], seed=seed)
    common = dict(k=cfg["k"], ambient=cfg["ambient"], n_classes=cfg["n_classes"], sep=cfg["sep"], seed=seed)
    tr = gaussian_mixture_subspace(cfg["n_train"], **common)
    te = gaussian_mixture_subspace(cfg["n_test"], sample_seed=derive_seed(cfg["base_seed"], 6, di), **common)
    return tr, te


def n_fixed(cfg: dict, sizes: list) -> list:
    fans = sizes[:-1]
    out = [int(round(cfg["fixed_input"] * fans[0]))]
    out += [int(round(cfg["fixed_hidden"] * d)) for d in fans[1:-1]]
    if len(fans) > 1:
        out.append(int(round(cfg["fixed_last"] * fans[-1])))
    return out


def e3_network(cfg: dict, structure: str, sizes: list, dataset: str, seed: int):
    sseed = derive_seed(cfg["base_seed"], 2, DATASETS.index(dataset))
    act = cfg["activation"]
    if structure == "standard":
        return standard_mlp(sizes, activation=act, seed=seed)
    if structure in ("w-mlp-0", "w-mlp-1"):
        return w_mlp(sizes, activation=act, n_fixed=n_fixed(cfg, sizes), sigma_F=float(structure[-1]), seed=seed,
                     structure_seed=sseed)
    return syre_mlp(sizes, activation=act, kappa=cfg["syre_kappa"], seed=seed, structure_seed=sseed)


def _error(net, X, y) -> float:
    return float(np.mean(np.argmax(net(X), axis=1) != y))


# ----------------------------------------------------------------------------- one unit
def run_unit(cfg: dict, params: dict) -> dict:
    ds, st, pair = params["dataset"], params["structure"], params["pair"]
    tr, te = e3_data(cfg, ds)
    sizes = [tr.d, *cfg["hidden"], int(max(tr.y.max(), te.y.max())) + 1]
    nets, train_err = [], []
    for run in (0, 1):
        key = (DATASETS.index(ds), STRUCTURES.index(st), pair, run)
        net = e3_network(cfg, st, sizes, ds, derive_seed(cfg["base_seed"], 3, *key))
        tc = TrainConfig(loss="ce", optimizer="adamw", lr=cfg["lr"], epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                         weight_decay=cfg["weight_decay"], dtype=cfg["dtype"], seed=derive_seed(cfg["base_seed"], 5, *key))
        res = train(net, tr.X, tr.y, tc, progress=False)
        nets.append(res.network)
        train_err.append(_error(res.network, tr.X, tr.y))
    A, B = nets
    cmp = compare_pair(A, B, te.X, te.y, loss="ce", align=("activation", "weight"), steps=cfg["steps"],
                       X_align=tr.X, restarts=cfg["restarts"], seed=derive_seed(cfg["base_seed"], 7, pair))
    names = {"unaligned": "unaligned", "activation": "activation", "weight": "weight"}
    row = {"dataset": ds, "structure": st, "pair": pair, "sizes": sizes,
           "L_A": float(cmp.paths["unaligned"].loss[0]), "L_B": float(cmp.paths["unaligned"].loss[-1]),
           "test_error_A": cmp.endpoints()["A"]["error"], "test_error_B": cmp.endpoints()["B"]["error"],
           "train_error_A": train_err[0], "train_error_B": train_err[1], "paths": {}}
    for al, name in names.items():
        path = cmp.paths[name]
        other = B if al == "unaligned" else cmp.alignments[name].network
        block = {k: float(getattr(path, k)) for k in C.BARRIERS}
        block.update({f"{k}_error": getattr(path, f"{k}_error") for k in C.BARRIERS})
        block["loss_curve"] = [float(v) for v in path.loss]
        block["certificate"] = C.certificate_column(A, other, te.X, path, "ce")
        if al != "unaligned":
            alignment = cmp.alignments[name]
            widths = [len(p) for p in alignment.perms]
            block["fixed_points"] = alignment.fixed_points
            block["identity_fraction"] = float(sum(alignment.fixed_points) / sum(widths))
            block["max_output_difference"] = float(alignment.max_output_difference)
        row["paths"][al] = block
    return row


def warmup(cfg: dict) -> None:
    small = {**cfg, "hidden": [4], "epochs": 1, "n_train": 64, "n_test": 32, "ambient": 8, "k": 2, "n_classes": 3,
             "restarts": 1}
    run_unit(small, {"dataset": "subspace", "structure": cfg["structures"][0], "pair": 0})


# ----------------------------------------------------------------------------- aggregation
def aggregate(cfg: dict, records: list) -> dict:
    rows = [rec["result"] for rec in records]
    bkey = cfg["barrier"]
    groups = []
    datasets = [d for d in cfg["datasets"] if any(r["dataset"] == d for r in rows)]
    for ds in datasets:
        for st in cfg["structures"]:
            sel = [r for r in rows if r["dataset"] == ds and r["structure"] == st]
            for al in ALIGNMENTS:
                vals = [r["paths"][al][bkey] for r in sel]
                certs = [r["paths"][al]["certificate"] for r in sel]
                bounds = [c["bound"][bkey] if c.get("status") == "ok" else None for c in certs]
                tight = [c["tightness"][bkey] if c.get("status") == "ok" else None for c in certs]
                groups.append({
                    "dataset": ds, "structure": st, "alignment": al, "n_pairs": len(sel),
                    "barrier": describe(vals), "values": vals,
                    "barrier_error": describe([r["paths"][al][f"{bkey}_error"] for r in sel]),
                    "certificate": describe(bounds),
                    "tightness": describe(tight),
                    "identity_fraction": describe([r["paths"][al].get("identity_fraction") for r in sel]),
                    "endpoint_error": describe([r[k] for r in sel for k in ("test_error_A", "test_error_B")]),
                })
    notes = []
    if "digits" in cfg["datasets"] and "digits" not in datasets:
        notes.append("digits skipped: scikit-learn is not installed (pip install 'neuronid[data]')")
    return {"rows": rows, "groups": groups, "datasets_run": datasets, "notes": notes, "barrier": bkey}


def _group(results, ds, st, al):
    return next((g for g in results["groups"] if g["dataset"] == ds and g["structure"] == st and g["alignment"] == al),
                None)


def claims(cfg: dict, results: dict) -> list:
    out = []
    bkey = results["barrier"]
    sts = cfg["structures"]
    for ds in results["datasets_run"]:
        m = {(st, al): (_group(results, ds, st, al) or {}).get("barrier", {}).get("mean")
             for st in sts for al in ALIGNMENTS}
        sd = {(st, al): (_group(results, ds, st, al) or {}).get("barrier", {}).get("std")
              for st in sts for al in ALIGNMENTS}
        if "standard" in sts:
            u, a, w = m[("standard", "unaligned")], m[("standard", "activation")], m[("standard", "weight")]
            best = min(x for x in (a, w) if x is not None)
            ok = u is not None and u > 0 and best < 0.5 * u
            out.append(C.verdict(
                f"[{ds}] standard MLPs: a clear barrier without alignment that alignment largely removes",
                "supported" if ok else ("not supported" if u is not None and best >= u else "inconclusive"),
                f"{bkey} unaligned {C.fmt(u)} ± {C.fmt(sd[('standard', 'unaligned')])}, activation matched {C.fmt(a)}, "
                f"weight matched {C.fmt(w)} (mean ± sd over pairs)"))
        asym = [st for st in ("w-mlp-1", "syre") if st in sts]
        if "standard" in sts and asym:
            u = m[("standard", "unaligned")]
            parts, ok = [], []
            for st in asym:
                v = m[(st, "unaligned")]
                ok.append(v is not None and u is not None and v < 0.5 * u)
                parts.append(f"{LABELS[st]} {C.fmt(v)} ± {C.fmt(sd[(st, 'unaligned')])}")
            out.append(C.verdict(
                f"[{ds}] structurally asymmetric networks (W-MLP sigma_F = 1, syre) merge without alignment: unaligned "
                "barrier well below the standard MLP's (< 50 %)",
                "supported" if all(ok) else ("not supported" if not any(ok) else "inconclusive"),
                f"unaligned {bkey}: standard {C.fmt(u)}; " + "; ".join(parts)))
        if "w-mlp-0" in sts and "w-mlp-1" in sts:
            v0, v1 = m[("w-mlp-0", "unaligned")], m[("w-mlp-1", "unaligned")]
            f0 = (_group(results, ds, "w-mlp-0", "activation") or {}).get("identity_fraction", {}).get("mean")
            f1 = (_group(results, ds, "w-mlp-1", "activation") or {}).get("identity_fraction", {}).get("mean")
            ok = v0 is not None and v1 is not None and v0 > v1
            out.append(C.verdict(
                f"[{ds}] W-MLP with sigma_F = 0 stays effectively symmetric (E2: small mixed-sign swap costs): its "
                "unaligned barrier exceeds that of sigma_F = 1",
                "supported" if ok else "not supported",
                f"unaligned {bkey}: sigma_F = 0 {C.fmt(v0)}, sigma_F = 1 {C.fmt(v1)}; neurons left in place by activation "
                f"matching: {C.fmt(100 * f0 if f0 is not None else None, '.0f')}% vs {C.fmt(100 * f1 if f1 is not None else None, '.0f')}%"))
        ids = {st: (_group(results, ds, st, "activation") or {}).get("identity_fraction", {}).get("mean") for st in sts}
        if "standard" in sts and asym:
            ok = all(ids[st] is not None and ids["standard"] is not None and ids[st] > max(0.5, 2 * ids["standard"])
                     for st in asym)
            out.append(C.verdict(
                f"[{ds}] T3 (identity correspondence): for identifiable structures activation matching keeps most "
                "neurons in place; for standard MLPs it does not",
                "supported" if ok else "not supported",
                "share of neurons matched to themselves: " + ", ".join(
                    f"{LABELS[st]} {C.fmt(100 * ids[st] if ids[st] is not None else None, '.0f')}%" for st in sts)))
    rows = [dict(r["paths"][al], **{"structure": r["structure"]}) for r in results["rows"] for al in ALIGNMENTS]
    if rows:
        out.append(certificate_claim(rows, what="path"))
    for note in results.get("notes", []):
        out.append(C.verdict("digits data set", "not available", note))
    return out


def summary(cfg: dict, results: dict, claim_list: list) -> str:
    bkey = results["barrier"]
    sizes_txt = f"hidden {cfg['hidden']} {cfg['activation']}"
    lines = [
        f"# E3 -- linear mode connectivity, unaligned vs aligned ({results['scale']} scale)",
        "",
        "THEORY.md E3 (T2-T4, D6): barriers between independently trained networks of four structures, without "
        "alignment, with activation matching and with weight matching, beside the T4 certificate of each path.",
        "",
        f"Setup: {sizes_txt}, {cfg['epochs']} epochs AdamW lr {cfg['lr']:g} wd {cfg['weight_decay']:g}, batch "
        f"{cfg['batch_size']}; W-MLP fixed entries per row: fractions {cfg['fixed_input']:.3g} (input layer), "
        f"{cfg['fixed_hidden']:.3g} (hidden), {cfg['fixed_last']:.3g} (output); syre kappa {cfg['syre_kappa']:g}; "
        f"subspace data: ambient {cfg['ambient']}, k {cfg['k']}, {cfg['n_classes']} classes, n_train {cfg['n_train']}; "
        f"{cfg['pairs']} pairs per structure; barrier {bkey} of the test cross-entropy, {cfg['steps']}-point grid.",
        "",
        "## Claims",
        "",
        C.claims_markdown(claim_list),
        "",
    ]
    for ds in results["datasets_run"]:
        lines += [f"## {ds}", "",
                  f"| structure | alignment | {bkey} mean ± sd | {bkey} (error rate) | T4 bound (median) | tightness (median) "
                  "| neurons kept in place | endpoint test error |",
                  "|---|---|---|---|---|---|---|---|"]
        for st in cfg["structures"]:
            for al in ALIGNMENTS:
                g = _group(results, ds, st, al)
                if g is None:
                    continue
                idf = g["identity_fraction"]["mean"]
                lines.append(
                    f"| {LABELS[st]} | {al} | {C.fmt(g['barrier']['mean'], '.4f')} ± {C.fmt(g['barrier']['std'], '.4f')} "
                    f"| {C.fmt(g['barrier_error']['mean'], '.3f')} | {C.fmt(g['certificate']['median'], '.3g')} "
                    f"| {C.fmt(g['tightness']['median'], '.2g')} "
                    f"| {'-' if idf is None else f'{100 * idf:.0f}%'} | {C.fmt(g['endpoint_error']['mean'], '.3f')} |")
        lines.append("")
    for note in results.get("notes", []):
        lines += [f"Note: {note}", ""]
    lines += [f"Units: {results['units']['total']} ({results['units']['skipped']} resumed); wall time "
              f"{results['wall_seconds']:.0f} s; summed unit time {results['units']['unit_seconds_total']:.0f} s.", ""]
    if results.get("plots"):
        lines += ["Plots: " + ", ".join(f"`{p}`" for p in results["plots"]), ""]
    return "\n".join(lines)


def plot(cfg: dict, results: dict, out_dir) -> list:
    from .plots import plot_e3

    files = []
    for ds in results["datasets_run"]:
        path = Path(out_dir) / f"e3_barriers_{ds}.png"
        groups = [g for g in results["groups"] if g["dataset"] == ds]
        plot_e3(groups, path, dataset=ds, structures=cfg["structures"], labels=LABELS, barrier=results["barrier"],
                loss_label="test cross-entropy")
        files.append(path)
    return files


EXPERIMENT = Experiment(
    name="E3",
    title="Linear mode connectivity: unaligned vs aligned",
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
