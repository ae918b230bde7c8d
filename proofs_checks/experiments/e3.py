"""E3 -- linear mode connectivity unaligned vs aligned, plain and REPAIRed (THEORY.md E3, N1-N3).

Model (the paper's MNIST model, the authors' ``configs/model/mlp_mnist.yaml`` and
``src/models/mlp.py``): per hidden layer Linear -> LayerNorm -> GELU (``norm =
"layer"``; ``"none"`` drops the LayerNorms), the output layer plain. Structures:

- ``standard``: every entry trainable, initialized like ``nn.Linear``.
- ``w-mlp-1``: W-MLP with the paper's mask constants: per row a fixed number of
  entries is fixed (mask 0) at ``c_l * n``, ``n ~ N(0, 1)`` drawn once per data set,
  ``c_l = mask_constants[l]`` (paper: 1, 1, 0.5, 0.25); the trainable entries start as
  the authors' ``SparseLinear`` does (``N(0, 1/fan_in)``, bias uniform
  ``+-1/sqrt(fan_in)``). The effective weight is ``theta * mask + (1-mask) * c_l * n``,
  exactly the authors' ``weight*mask + (1-mask)*mask_constant*normal_mask``.
- ``w-mlp-0``: the same masks with the fixed part 0 (``sigma_F = 0``).
- ``syre``: every entry trainable plus a fixed offset ``kappa * n`` (the authors'
  ``NoiseLinear``, same initialization).

Fixed entries per row: ``round(fixed_input * d_in)`` in the first layer,
``round(fixed_hidden * width)`` in the hidden layers, ``round(fixed_last * width)`` in
the output layer; at paper scale 64/784, 64/512 and 1/2, i.e. exactly the paper's 64,
64, 64, 256 on MNIST (784 inputs), 42 of 512 inputs on the subspace data and 5 of 64
on digits (64 of 64 would fix every input weight).

Training: cross-entropy, AdamW lr 1e-3, weight decay 1e-2 on every parameter (the
authors' ``optim.AdamW(model.parameters())`` also decays biases and LayerNorm
parameters: ``bias_decay``), batch 128, float32 arithmetic. Pairs: two runs from
independent seeds that share the structure (masks and fixed parts are drawn once per
data set; the two W-MLPs share the masks).

Protocol per pair. Activation matching (correlation of post-activations), weight
matching (D6) and the REPAIR statistics (N3) are fitted on the training split (at most
``n_align`` points, a seeded subset); barriers (D5) are measured on the test split.
Six paths: unaligned, activation matched, weight matched, and each REPAIRed
(:func:`neuronid.proofs_checks.pairs.compare_pair` with ``repair=True``). Beside each
plain path the T4 certificate; for LayerNorm networks its status is ``unsupported:
normalization layer`` (T4 does not cover normalization layers), which the summary
says; a REPAIRed path is not a straight line in weight space, so it has no T4 column
(``not applicable``). The share of neurons each matching leaves in place tests T3.

Data: Gaussian-mixture subspace data (E2's generator), scikit-learn's bundled 8x8
digits (skipped, with a note, without scikit-learn) and MNIST when ``mnist_dir`` names
a folder with the four IDX files (``--set mnist_dir=DIR``; :mod:`neuronid.numerics.idx`,
the reader behind ``neuronid data mnist --from DIR``; no download). MNIST uses the
official split (``mnist_n_train`` / ``mnist_n_test``: a seeded subset, ``null`` = all).
On a Dask cluster every worker must see ``mnist_dir`` at the same path.

Sizes and time. Paper scale: 3 hidden layers of 512, 100 epochs; subspace data with
E2's defaults (ambient 512, 20 classes, separation 0.3, k = 8) and 5,000 training /
2,000 test points; digits 1,438 / 359; 4 pairs per structure: 32 units of one
trained pair each (64 trainings). Measured per paper-scale unit on this 2-core machine
(1 thread, float32, CPU seconds while other jobs kept the load at 8-11): subspace
(standard) 147 s = training 96 s (2 x 100 epochs) + six paths 51 s (REPAIR ~2/3 of
it, weight matching at width 512 ~15 %), W-MLP 143 s = 98 s + 45 s; digits (standard)
41 s = 24 s + 16 s. On an idle core training runs at 0.35 s / 0.12 s per epoch
(subspace / digits), so a unit takes ~110 s / ~40 s. The full paper-scale run here
(32 units, ``--workers 2``, shared machine) took 37.5 min; docs/experiments.md. Small scale: the same model family
at 2 hidden layers of 64 (mask constants 1, 1, 0.25), 30 epochs, ambient 64, 10
classes, 3,000 / 1,000 subspace points, 2 pairs per structure: 16 units, ~33 s of CPU,
about 30 s on 2 cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuronid.numerics.datasets import digits, gaussian_mixture_subspace, train_test_split
from neuronid.numerics.idx import check_mnist_folder, load_mnist
from neuronid.numerics.structures import FAN_IN, standard_mlp, syre_mlp, w_mlp
from neuronid.numerics.training import TrainConfig, train
from neuronid.proofs_checks.pairs import REPAIR_SUFFIX, compare_pair

from . import common as C
from .e1 import certificate_claim
from .sweep import Experiment, derive_seed, describe

#: fewest MNIST images per split E3 accepts (a path needs a few points of each split)
MNIST_MIN_TRAIN, MNIST_MIN_TEST = 10, 2
#: MNIST has ten classes whichever labels a subset happens to contain
MNIST_CLASSES = 10
#: data sets in unit order (MNIST last: it runs only with ``mnist_dir``)
DATASETS = ("subspace", "digits", "mnist")
STRUCTURES = ("standard", "w-mlp-0", "w-mlp-1", "syre")
ALIGNMENTS = ("unaligned", "activation", "weight")
#: every path of a pair: the plain ones, then their REPAIRed twins (THEORY N3)
PATHS = ALIGNMENTS + tuple(al + REPAIR_SUFFIX for al in ALIGNMENTS)
BARRIER_CHOICES = ("B_peak", "B_mid", "B_lerp", "B_mean")
NORMS = ("layer", "none")
NOT_APPLICABLE = {"status": "not applicable",
                  "reason": "a REPAIRed path is not a straight line in weight space; T4 bounds straight paths"}

PAPER = {
    "datasets": ["subspace", "digits"],
    "structures": list(STRUCTURES),
    "pairs": 4,
    "hidden": [512, 512, 512],
    "activation": "gelu",
    "norm": "layer",
    "fixed_input": 64 / 784,
    "fixed_hidden": 64 / 512,
    "fixed_last": 0.5,
    "mask_constants": [1.0, 1.0, 0.5, 0.25],
    "syre_kappa": 0.1,  # kappa * sqrt(width) ~ 2.3, as 0.3 * sqrt(64) at small scale
    "ambient": 512,
    "k": 8,
    "n_classes": 20,
    "sep": 0.3,
    "n_train": 5000,
    "n_test": 2000,
    "digits_test_fraction": 0.2,
    "mnist_dir": None,
    "mnist_n_train": None,
    "mnist_n_test": None,
    "n_align": 5000,
    "lr": 1e-3,
    "weight_decay": 1e-2,
    "bias_decay": 1e-2,
    "epochs": 100,
    "batch_size": 128,
    "dtype": "float32",
    "steps": 21,
    "restarts": 5,
    "barrier": "B_peak",
    "base_seed": 0,
}
SMALL = {**PAPER, "pairs": 2, "hidden": [64, 64], "mask_constants": [1.0, 1.0, 0.25], "ambient": 64,
         "n_classes": 10, "n_train": 3000, "n_test": 1000, "epochs": 30, "restarts": 3, "syre_kappa": 0.3}
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
    consts = cfg["mask_constants"]
    if (not isinstance(consts, list) or len(consts) != len(hidden) + 1
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool) and np.isfinite(c) and c >= 0
                       for c in consts)):
        raise C.InvalidOptionError(
            f"configuration mask_constants={consts!r}: expected {len(hidden) + 1} numbers >= 0 (one per layer "
            f"of hidden={hidden}, output layer included; the paper: 1, 1, 0.5, 0.25)")
    C.check_int_list(cfg, "hidden", 1, C.MAX_WIDTH, distinct=False)
    C.check_int(cfg, "pairs", 1, C.MAX_UNITS)
    C.check_int(cfg, "epochs", 1, C.MAX_EPOCHS)
    C.check_int(cfg, "batch_size", 1, C.MAX_POINTS)
    C.check_int(cfg, "restarts", 1, C.MAX_STEPS)
    amb = C.check_int(cfg, "ambient", 1, C.MAX_WIDTH)
    C.check_int(cfg, "k", 1, amb)
    nc = C.check_int(cfg, "n_classes", 2, C.MAX_WIDTH)
    n_train = C.check_int(cfg, "n_train", nc, C.MAX_POINTS)
    n_test = C.check_int(cfg, "n_test", 2, C.MAX_POINTS)
    n_align = C.check_int(cfg, "n_align", 2, C.MAX_POINTS)
    C.check_int(cfg, "steps", 3, C.MAX_STEPS)
    C.check_int(cfg, "base_seed", 0)
    for key in ("fixed_input", "fixed_hidden", "fixed_last"):
        C.check_float(cfg, key, 0.0, 1.0)
    C.check_float(cfg, "digits_test_fraction", 0.0, 1.0, open_lo=True)
    C.check_float(cfg, "syre_kappa", 0.0)
    C.check_float(cfg, "sep", 0.0, open_lo=True)
    C.check_float(cfg, "lr", 0.0, open_lo=True)
    C.check_float(cfg, "weight_decay", 0.0)
    C.check_float(cfg, "bias_decay", 0.0)
    C.check_choice(cfg, "dtype", ("float64", "float32"))
    C.check_choice(cfg, "barrier", BARRIER_CHOICES)
    C.check_choice(cfg, "norm", NORMS)
    if not isinstance(cfg["activation"], str):
        raise C.InvalidOptionError(f"configuration activation={cfg['activation']!r}: expected a name")
    for key in ("mnist_n_train", "mnist_n_test"):
        if cfg[key] is not None:
            C.check_int(cfg, key, 2, C.MAX_POINTS)
    # every data set's input dimension is at most max(ambient, 784 for MNIST, 64 for digits)
    n = max(n_train, n_test, n_align)
    C.check_unit_memory("E3", C.unit_bytes([max(amb, 784), *hidden, nc], n),
                        f"ambient={amb}, hidden={hidden}, {n} points")
    _check_mnist(cfg)
    n_sets = len(cfg["datasets"])
    C.check_unit_count("E3", n_sets * len(cfg["structures"]) * cfg["pairs"],
                       f"{n_sets} data sets x {len(cfg['structures'])} structures x pairs={cfg['pairs']}")
    return cfg


def _check_mnist(cfg: dict) -> None:
    """``mnist_dir`` given: the four IDX files must be there, and MNIST joins the data
    sets; ``mnist`` listed without ``mnist_dir``: a clear error (nothing is downloaded)."""
    folder = cfg["mnist_dir"]
    if folder is None:
        if "mnist" in cfg["datasets"]:
            raise C.InvalidOptionError(
                "configuration datasets includes 'mnist' but mnist_dir is not set: give the folder with the MNIST "
                "IDX files, --set mnist_dir=DIR (neuronid does not download data)")
        return
    if not isinstance(folder, str) or not folder.strip():
        raise C.InvalidOptionError(f"configuration mnist_dir={folder!r}: expected the path of a folder")
    # every file present, headers and data sizes right (FileFormatError naming the file),
    # before any unit starts: a bad file found only when the MNIST units run would come
    # after every other unit
    counts = check_mnist_folder(folder)
    for split, key, least in (("train", "mnist_n_train", MNIST_MIN_TRAIN), ("test", "mnist_n_test", MNIST_MIN_TEST)):
        n_file = counts[split][0]
        if n_file < least:
            raise C.InvalidOptionError(
                f"{counts[split][1]}: {n_file} {split} images; E3 needs at least {least} to train and measure a path")
        want = cfg[key]
        if want is not None and want > n_file:
            raise C.InvalidOptionError(
                f"configuration {key}={want}: more than the {n_file} {split} images in {counts[split][1]}")
    if "mnist" not in cfg["datasets"]:
        cfg["datasets"] = [*cfg["datasets"], "mnist"]


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


def labels(cfg: dict) -> dict:
    consts = ", ".join(f"{c:g}" for c in cfg["mask_constants"])
    return {"standard": "standard", "w-mlp-0": "W-MLP sigma_F=0", "w-mlp-1": f"W-MLP c_l=({consts})",
            "syre": f"syre kappa={cfg['syre_kappa']:g}"}


# ----------------------------------------------------------------------------- building blocks
def _subset(ds, n, seed):
    if n is None or n >= ds.n:
        return ds
    return ds.subset(np.sort(np.random.default_rng(seed).choice(ds.n, size=n, replace=False)))


def e3_data(cfg: dict, dataset: str):
    """(train, test) of ``dataset`` (the same for every structure and pair)."""
    di = DATASETS.index(dataset)
    seed = derive_seed(cfg["base_seed"], 1, di)
    if dataset == "digits":
        return train_test_split(digits(seed=seed), test_fraction=cfg["digits_test_fraction"], seed=seed)
    if dataset == "mnist":
        tr = load_mnist(cfg["mnist_dir"], split="train")
        te = load_mnist(cfg["mnist_dir"], split="test")
        return (_subset(tr, cfg["mnist_n_train"], seed),
                _subset(te, cfg["mnist_n_test"], derive_seed(cfg["base_seed"], 6, di)))
    common = dict(k=cfg["k"], ambient=cfg["ambient"], n_classes=cfg["n_classes"], sep=cfg["sep"], seed=seed)
    tr = gaussian_mixture_subspace(cfg["n_train"], **common)
    te = gaussian_mixture_subspace(cfg["n_test"], sample_seed=derive_seed(cfg["base_seed"], 6, di), **common)
    return tr, te


def align_data(cfg: dict, dataset: str, train_X: np.ndarray) -> np.ndarray:
    """The training points that fit the alignments and the REPAIR statistics: all of
    them, or a seeded subset of ``n_align``."""
    n = train_X.shape[0]
    if cfg["n_align"] >= n:
        return train_X
    rng = np.random.default_rng(derive_seed(cfg["base_seed"], 8, DATASETS.index(dataset)))
    return train_X[np.sort(rng.choice(n, size=cfg["n_align"], replace=False))]


def n_fixed(cfg: dict, sizes: list) -> list:
    """Fixed entries per row: ``fixed_input * d_in``, ``fixed_hidden * width``, ``fixed_last
    * last width`` (the paper's 64 / 784, 64 / 512, 256 / 512 as fractions; E4 uses it too)."""
    fans = sizes[:-1]
    out = [int(round(cfg["fixed_input"] * fans[0]))]
    out += [int(round(cfg["fixed_hidden"] * d)) for d in fans[1:-1]]
    if len(fans) > 1:
        out.append(int(round(cfg["fixed_last"] * fans[-1])))
    return out


def e3_network(cfg: dict, structure: str, sizes: list, dataset: str, seed: int):
    sseed = derive_seed(cfg["base_seed"], 2, DATASETS.index(dataset))
    common = dict(activation=cfg["activation"], seed=seed, norm=None if cfg["norm"] == "none" else cfg["norm"])
    if structure == "standard":
        return standard_mlp(sizes, **common)
    if structure in ("w-mlp-0", "w-mlp-1"):
        sigma = [0.0] * (len(sizes) - 1) if structure == "w-mlp-0" else [float(c) for c in cfg["mask_constants"]]
        return w_mlp(sizes, n_fixed=n_fixed(cfg, sizes), sigma_F=sigma, structure_seed=sseed, init_std=FAN_IN,
                     **common)
    return syre_mlp(sizes, kappa=cfg["syre_kappa"], structure_seed=sseed, init_std=FAN_IN, **common)


def _error(net, X, y) -> float:
    return float(np.mean(np.argmax(net(X), axis=1) != y))


def train_pair(cfg: dict, params: dict, tr, sizes: list):
    """The two independently trained networks of one unit and their training errors."""
    ds, st, pair = params["dataset"], params["structure"], params["pair"]
    nets, train_err = [], []
    for run in (0, 1):
        key = (DATASETS.index(ds), STRUCTURES.index(st), pair, run)
        net = e3_network(cfg, st, sizes, ds, derive_seed(cfg["base_seed"], 3, *key))
        tc = TrainConfig(loss="ce", optimizer="adamw", lr=cfg["lr"], epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                         weight_decay=cfg["weight_decay"], bias_decay=cfg["bias_decay"], dtype=cfg["dtype"],
                         seed=derive_seed(cfg["base_seed"], 5, *key))
        res = train(net, tr.X, tr.y, tc, progress=False)
        nets.append(res.network)
        train_err.append(_error(res.network, tr.X, tr.y))
    return nets, train_err


def pair_paths(cfg: dict, params: dict, A, B, tr, te) -> dict:
    """The six paths of one trained pair with their barriers, certificates and
    alignment statistics (the ``paths`` block of a unit's row)."""
    X_align = align_data(cfg, params["dataset"], tr.X)
    cmp = compare_pair(A, B, te.X, te.y, loss="ce", align=("activation", "weight"), steps=cfg["steps"],
                       X_align=X_align, restarts=cfg["restarts"], repair=True,
                       seed=derive_seed(cfg["base_seed"], 7, params["pair"]))
    out = {}
    for name in PATHS:
        path = cmp.paths[name]
        al = name[: -len(REPAIR_SUFFIX)] if name.endswith(REPAIR_SUFFIX) else name
        block = {k: float(getattr(path, k)) for k in C.BARRIERS}
        block.update({f"{k}_error": getattr(path, f"{k}_error") for k in C.BARRIERS})
        block["loss_curve"] = [float(v) for v in path.loss]
        if name.endswith(REPAIR_SUFFIX):
            block["certificate"] = dict(NOT_APPLICABLE)
        else:
            other = B if al == "unaligned" else cmp.alignments[al].network
            block["certificate"] = C.certificate_column(A, other, te.X, path, "ce")
        if name in cmp.alignments:
            alignment = cmp.alignments[name]
            widths = [len(p) for p in alignment.perms]
            block["fixed_points"] = alignment.fixed_points
            block["identity_fraction"] = float(sum(alignment.fixed_points) / sum(widths))
            block["max_output_difference"] = float(alignment.max_output_difference)
        out[name] = block
    return out, cmp


# ----------------------------------------------------------------------------- one unit
def run_unit(cfg: dict, params: dict) -> dict:
    ds, st, pair = params["dataset"], params["structure"], params["pair"]
    tr, te = e3_data(cfg, ds)
    n_out = MNIST_CLASSES if ds == "mnist" else int(max(tr.y.max(), te.y.max())) + 1
    sizes = [tr.d, *cfg["hidden"], n_out]
    (A, B), train_err = train_pair(cfg, params, tr, sizes)
    paths, cmp = pair_paths(cfg, params, A, B, tr, te)
    ends = cmp.endpoints()
    return {"dataset": ds, "structure": st, "pair": pair, "sizes": sizes,
            "n_train": int(tr.n), "n_test": int(te.n), "n_align": int(min(cfg["n_align"], tr.n)),
            "L_A": float(cmp.paths["unaligned"].loss[0]), "L_B": float(cmp.paths["unaligned"].loss[-1]),
            "test_error_A": ends["A"]["error"], "test_error_B": ends["B"]["error"],
            "train_error_A": train_err[0], "train_error_B": train_err[1], "paths": paths}


def warmup(cfg: dict) -> None:
    small = {**cfg, "hidden": [4], "mask_constants": cfg["mask_constants"][:1] + cfg["mask_constants"][-1:],
             "epochs": 1, "n_train": 64, "n_test": 32, "ambient": 8, "k": 2, "n_classes": 3, "restarts": 1}
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
            for name in PATHS:
                vals = [r["paths"][name][bkey] for r in sel]
                certs = [r["paths"][name]["certificate"] for r in sel]
                bounds = [c["bound"][bkey] if c.get("status") == "ok" else None for c in certs]
                tight = [c["tightness"][bkey] if c.get("status") == "ok" else None for c in certs]
                statuses = sorted({c.get("status", C.NOT_AVAILABLE) for c in certs})
                groups.append({
                    "dataset": ds, "structure": st, "alignment": name, "n_pairs": len(sel),
                    "barrier": describe(vals), "values": vals,
                    "barrier_error": describe([r["paths"][name][f"{bkey}_error"] for r in sel]),
                    "certificate": describe(bounds),
                    "certificate_status": statuses,
                    "certificate_reason": next((c.get("reason") for c in certs if c.get("status") != "ok"), None),
                    "tightness": describe(tight),
                    "identity_fraction": describe([r["paths"][name].get("identity_fraction") for r in sel]),
                    "endpoint_error": describe([r[k] for r in sel for k in ("test_error_A", "test_error_B")]),
                })
    notes = []
    if "digits" in cfg["datasets"] and "digits" not in datasets:
        notes.append("digits skipped: scikit-learn is not installed (pip install 'neuronid[data]')")
    return {"rows": rows, "groups": groups, "datasets_run": datasets, "notes": notes, "barrier": bkey}


def _group(results, ds, st, al):
    return next((g for g in results["groups"] if g["dataset"] == ds and g["structure"] == st and g["alignment"] == al),
                None)


def _mean(results, ds, st, al, what="barrier"):
    return (_group(results, ds, st, al) or {}).get(what, {}).get("mean")


def _pct(x) -> str:
    return C.fmt(100 * x if x is not None else None, ".0f") + "%"


#: a REPAIRed barrier counts as lower when it is below the plain one by more than this
#: (absolute, nats): barriers of merged networks are ~1e-2, differences below 1e-3 are noise
REPAIR_MARGIN = 1e-3
#: identifiable structures "need no alignment": the unaligned barrier exceeds the best
#: aligned one by at most this much (absolute, nats) or 50 % of it
NO_ALIGNMENT_SLACK = 0.02


def claims(cfg: dict, results: dict) -> list:
    out = []
    bkey = results["barrier"]
    sts = cfg["structures"]
    lab = labels(cfg)
    rp = REPAIR_SUFFIX
    for ds in results["datasets_run"]:
        m = {(st, al): _mean(results, ds, st, al) for st in sts for al in PATHS}
        sd = {(st, al): (_group(results, ds, st, al) or {}).get("barrier", {}).get("std") for st in sts for al in PATHS}
        if "standard" in sts:
            u, a, w = m[("standard", "unaligned")], m[("standard", "activation")], m[("standard", "weight")]
            best = min(x for x in (a, w) if x is not None)
            ok = u is not None and u > 0 and best < 0.5 * u
            out.append(C.verdict(
                f"[{ds}] standard MLPs: a clear barrier without alignment that alignment largely removes (< 50 %)",
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
                parts.append(f"{lab[st]} {C.fmt(v)} ± {C.fmt(sd[(st, 'unaligned')])}")
            out.append(C.verdict(
                f"[{ds}] structurally asymmetric networks (W-MLP with the mask constants c_l, syre) merge without "
                "alignment: unaligned barrier well below the standard MLP's (< 50 %)",
                "supported" if all(ok) else ("not supported" if not any(ok) else "inconclusive"),
                f"unaligned {bkey}: standard {C.fmt(u)}; " + "; ".join(parts)))
            parts, ok = [], []
            for st in asym:
                v = m[(st, "unaligned")]
                best = min((x for x in (m[(st, "activation")], m[(st, "weight")]) if x is not None), default=None)
                ok.append(v is not None and best is not None and v - best <= max(NO_ALIGNMENT_SLACK, 0.5 * best))
                parts.append(f"{lab[st]} unaligned {C.fmt(v)} vs best aligned {C.fmt(best)}")
            out.append(C.verdict(
                f"[{ds}] identifiable structures need no alignment: their unaligned barrier exceeds the best aligned "
                f"one by at most {NO_ALIGNMENT_SLACK:g} nats or 50 %",
                "supported" if all(ok) else ("not supported" if not any(ok) else "inconclusive"),
                f"{bkey}: " + "; ".join(parts)))
        if "w-mlp-0" in sts and "w-mlp-1" in sts:
            v0, v1 = m[("w-mlp-0", "unaligned")], m[("w-mlp-1", "unaligned")]
            f0 = _mean(results, ds, "w-mlp-0", "activation", "identity_fraction")
            f1 = _mean(results, ds, "w-mlp-1", "activation", "identity_fraction")
            ok = v0 is not None and v1 is not None and v0 > v1
            out.append(C.verdict(
                f"[{ds}] W-MLP with sigma_F = 0 stays effectively symmetric (E2: small mixed-sign swap costs): its "
                "unaligned barrier exceeds that of the W-MLP with the mask constants",
                "supported" if ok else "not supported",
                f"unaligned {bkey}: sigma_F = 0 {C.fmt(v0)}, c_l {C.fmt(v1)}; neurons left in place by activation "
                f"matching: {_pct(f0)} vs {_pct(f1)}"))
        ids = {st: _mean(results, ds, st, "activation", "identity_fraction") for st in sts}
        if "standard" in sts and asym:
            ok = all(ids[st] is not None and ids["standard"] is not None and ids[st] > max(0.5, 2 * ids["standard"])
                     for st in asym)
            out.append(C.verdict(
                f"[{ds}] T3 (identity correspondence): for identifiable structures activation matching keeps most "
                "neurons in place (> 50 % and twice the standard MLP's share); for standard MLPs it does not",
                "supported" if ok else "not supported",
                "share of neurons matched to themselves by activation matching: "
                + ", ".join(f"{lab[st]} {_pct(ids[st])}" for st in sts)
                + "; by weight matching (not part of the verdict): "
                + ", ".join(f"{lab[st]} {_pct(_mean(results, ds, st, 'weight', 'identity_fraction'))}" for st in sts)))
        if "standard" in sts:
            parts, lower = [], []
            for al in ALIGNMENTS:
                p, r = m[("standard", al)], m[("standard", al + rp)]
                if p is not None and r is not None:
                    lower.append(r < p - REPAIR_MARGIN)
                parts.append(f"{al} {C.fmt(p)} -> {C.fmt(r)}")
            out.append(C.verdict(
                f"[{ds}] REPAIR (N3) lowers the standard MLP's barriers (Jordan et al.: variance collapse along the "
                f"path), each path by more than {REPAIR_MARGIN:g} nats",
                "supported" if lower and all(lower) else ("not supported" if lower and not any(lower) else "inconclusive"),
                f"{bkey} plain -> REPAIRed: " + "; ".join(parts)))
    plain = [dict(r["paths"][al], **{"structure": r["structure"]}) for r in results["rows"] for al in ALIGNMENTS]
    if plain:
        out.append(certificate_claim(plain, what="path"))
    for note in results.get("notes", []):
        out.append(C.verdict("digits data set", "not available", note))
    return out


def certificate_sentence(results: dict) -> str:
    """What the T4 column holds in this run (ok / unsupported with its reason)."""
    plain = [g for g in results["groups"] if g["alignment"] in ALIGNMENTS]
    statuses = sorted({s for g in plain for s in g["certificate_status"]})
    if statuses == ["ok"]:
        return "T4 certificate: computed for every plain path (REPAIRed paths are not straight lines: no T4 column)."
    reasons = sorted({g["certificate_reason"] for g in plain if g["certificate_reason"]})
    return (f"T4 certificate: status {', '.join(repr(s) for s in statuses)} "
            f"({'; '.join(reasons) if reasons else 'no reason given'}): THEORY.md T4 does not cover normalization "
            "layers, so this run has no certified bound for its LayerNorm networks; barriers, alignment and REPAIR are "
            "unaffected. REPAIRed paths are not straight lines in weight space: no T4 column."
            if any("normalization" in s for s in statuses) else
            f"T4 certificate: status {', '.join(repr(s) for s in statuses)} ({'; '.join(reasons)}).")


def summary(cfg: dict, results: dict, claim_list: list) -> str:
    bkey = results["barrier"]
    lab = labels(cfg)
    norm = "Linear -> LayerNorm -> GELU" if cfg["norm"] == "layer" else f"Linear -> {cfg['activation']} (no norm)"
    lines = [
        f"# E3 -- linear mode connectivity, unaligned vs aligned, plain and REPAIRed ({results['scale']} scale)",
        "",
        "THEORY.md E3 (T2-T4, D6, N1-N3): barriers between independently trained networks of four structures, "
        "without alignment, with activation matching and with weight matching, each also REPAIRed; alignment and "
        "REPAIR statistics on the training split, barriers on the test split.",
        "",
        f"Setup: hidden {cfg['hidden']}, {norm} per hidden layer; {cfg['epochs']} epochs AdamW lr {cfg['lr']:g} "
        f"weight decay {cfg['weight_decay']:g} (biases and LayerNorm {cfg['bias_decay']:g}), batch "
        f"{cfg['batch_size']}, {cfg['dtype']}; W-MLP fixed entries per row: fractions {cfg['fixed_input']:.3g} "
        f"(input layer), {cfg['fixed_hidden']:.3g} (hidden), {cfg['fixed_last']:.3g} (output), mask constants "
        f"c_l = {', '.join(f'{c:g}' for c in cfg['mask_constants'])}; syre kappa {cfg['syre_kappa']:g}; subspace "
        f"data: ambient {cfg['ambient']}, k {cfg['k']}, {cfg['n_classes']} classes, n_train {cfg['n_train']}, "
        f"n_test {cfg['n_test']}; alignment / REPAIR on at most {cfg['n_align']} training points; {cfg['pairs']} "
        f"pairs per structure; barrier {bkey} of the test cross-entropy, {cfg['steps']}-point grid.",
        "",
        certificate_sentence(results),
        "",
        "## Claims",
        "",
        C.claims_markdown(claim_list),
        "",
    ]
    for ds in results["datasets_run"]:
        sizes = next((r["sizes"] for r in results["rows"] if r["dataset"] == ds), None)
        n = next(((r["n_train"], r["n_test"]) for r in results["rows"] if r["dataset"] == ds), (None, None))
        lines += [f"## {ds}", "", f"Network sizes {sizes}; {n[0]} training / {n[1]} test points.", "",
                  f"| structure | path | {bkey} mean ± sd | {bkey} (error rate) | T4 bound (median) | neurons kept in "
                  "place | endpoint test error |",
                  "|---|---|---|---|---|---|---|"]
        for st in cfg["structures"]:
            for al in PATHS:
                g = _group(results, ds, st, al)
                if g is None:
                    continue
                idf = g["identity_fraction"]["mean"]
                cert = (C.fmt(g["certificate"]["median"], ".3g") if g["certificate_status"] == ["ok"]
                        else "/".join(g["certificate_status"]))
                lines.append(
                    f"| {lab[st]} | {al} | {C.fmt(g['barrier']['mean'], '.4f')} ± {C.fmt(g['barrier']['std'], '.4f')} "
                    f"| {C.fmt(g['barrier_error']['mean'], '.3f')} | {cert} "
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
        plot_e3(groups, path, dataset=ds, structures=cfg["structures"], labels=labels(cfg), barrier=results["barrier"],
                loss_label="test cross-entropy", note=certificate_sentence(results))
        files.append(path)
    return files


EXPERIMENT = Experiment(
    name="E3",
    title="Linear mode connectivity: unaligned vs aligned, plain and REPAIRed",
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
