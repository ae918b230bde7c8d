"""E4 -- identifiability during training (issue 13; THEORY.md D3, D4, D5, T3).

Question. Does identifiability (assignment margin ``gamma > 0`` in every hidden
layer, and neuron ``i`` of run A corresponding to neuron ``i`` of run B) appear
*before* the unaligned barrier between independently trained runs vanishes, at the
*same* time, or *after*?

Protocol. Structures: standard MLP and W-MLPs with ``sigma_F = 0`` and ``sigma_F = 1``.
For each structure, pairs of networks trained from independent seeds on the same data
(one structure per data set and structure: the two runs of a pair, and every pair,
share masks and fixed parts; the two W-MLPs share masks and differ only in
``sigma_F``). Every ``every`` epochs (and at initialization, epoch 0) the training
keeps a copy of both networks (``train(..., checkpoints=...)``), and on each copy:

- whole network, on the test split: the linear-path barrier (D5, ``barrier`` of the
  test cross-entropy) unaligned, after activation matching (correlation, fitted on the
  training split) and after weight matching (D6), and the endpoints' test loss;
- per hidden layer ``l``, on ``cost_points`` training points:
  the fraction of neurons in identity correspondence (D4 correspondence, L2
  assignment of neuron functions: the share of ``i`` matched to ``i``; the fixed
  points of activation and weight matching are recorded beside it);
  the assignment margin ``gamma`` (D3, exact, of each run's cost matrix ``K``), also
  relative to the mean own cost ``mean_i K[i, i]``; the median off-diagonal
  ``Delta_in`` (the paper's swap cost) of each run and the fraction of its entries
  below ``-gamma_rtol * mean_i K[i, i]`` (negative beyond rounding).

What the cost numbers mean: GELU layers without normalization use the closed-form
pre-activation cost, an upper bound on the D2 cost (``neuronid.numerics.costs``);
the cost support is the PCA-truncated support at ``tau`` (D1).

Criteria (per pair, at each checkpoint):

- *margin*: ``gamma / mean_i K[i, i] > gamma_rtol`` for both runs in every hidden
  layer (a standard layer has ``gamma = 0`` exactly in theory (P2) and ``~1e-15``
  relative after rounding: ``gamma_rtol = 1e-6`` separates rounding from structure);
- *identity*: the D4 identity fraction is ``>= identity_threshold`` in every layer;
- *identifiable*: margin and identity;
- *barrier vanished*: the unaligned barrier is ``<= barrier_tol`` (absolute, in nats);
  its onset counts only if the barrier exceeded ``barrier_tol`` at an earlier checkpoint
  (there must have been a barrier to vanish), otherwise the pair is undecided and the
  claim says "the unaligned barrier never exceeded barrier_tol".

The *onset* of a criterion is the first checkpoint from which it holds at every later
checkpoint (a criterion that holds at initialization, fails, and holds again has its
onset at the second start). Per pair, identifiability is *before*, *same* (same
checkpoint: equal within the ``every``-epoch resolution) or *after* the barrier's
vanishing; when only one criterion has an onset the order is still decided (the
other did not happen within the run); when neither has one, the pair says nothing.
A structure's answer is the pairs' answer when the deciding pairs agree, else
*inconclusive*; so is a structure where no pair decides.

Sizes. Small: hidden ``[32, 32]`` GELU, subspace data (ambient 32, ``k = 8``, 10 classes,
1,500 training points), 60 epochs, checkpoints every 5 epochs, 3 pairs per structure
(9 units, ~40-65 s on 2 shared cores). Paper: the paper's shape ``[512, 512, 512]`` with LayerNorm (THEORY N1),
subspace data with the paper's E2 defaults (ambient 512, 20 classes, ``k = 8``) and
5,000 training points, 100 epochs, checkpoints every 10 epochs, 5 pairs per structure
(see docs/experiments.md for the time estimate).

Size (about 630 lines): kept whole; configuration, units, the onset criteria,
aggregation, claims and plots of one experiment, as E1-E3 have theirs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuronid.numerics.correspondence import correspondence
from neuronid.numerics.costs import network_costs
from neuronid.numerics.datasets import digits, gaussian_mixture_subspace, train_test_split
from neuronid.numerics.structures import standard_mlp, w_mlp
from neuronid.numerics.training import TrainConfig, train
from neuronid.proofs_checks.pairs import compare_pair

from . import common as C
from .e3 import digits_available, n_fixed
from .sweep import Experiment, derive_seed, describe

DATASETS = ("subspace", "digits")
STRUCTURES = ("standard", "w-mlp-0", "w-mlp-1")
LABELS = {"standard": "standard", "w-mlp-0": "W-MLP sigma_F=0", "w-mlp-1": "W-MLP sigma_F=1"}
ALIGNMENTS = ("unaligned", "activation", "weight")
BARRIER_CHOICES = ("B_peak", "B_mid", "B_lerp", "B_mean")
NORMS = ("none", "layer")
ORDERS = ("before", "same", "after")

PAPER = {
    "dataset": "subspace",
    "structures": list(STRUCTURES),
    "pairs": 5,
    "hidden": [512, 512, 512],
    "activation": "gelu",
    "norm": "layer",
    "fixed_input": 64 / 512,  # of the 512 subspace inputs: the paper's 64 fixed entries per row
    "fixed_hidden": 64 / 512,
    "fixed_last": 0.5,
    "ambient": 512,
    "k": 8,
    "n_classes": 20,
    "sep": 0.3,
    "n_train": 5000,
    "n_test": 2000,
    "digits_test_fraction": 0.2,
    "cost_points": 2000,
    "lr": 1e-3,
    "weight_decay": 1e-2,
    "epochs": 100,
    "every": 10,
    "batch_size": 128,
    "dtype": "float32",
    "steps": 21,
    "restarts": 5,
    "barrier": "B_peak",
    "tau": 0.9,
    "gamma_rtol": 1e-6,
    "identity_threshold": 0.9,
    "barrier_tol": 0.05,
    "base_seed": 0,
}
SMALL = {**PAPER, "pairs": 3, "hidden": [32, 32], "norm": "none", "ambient": 32, "n_classes": 10, "n_train": 1500,
         "n_test": 1000, "cost_points": 600, "epochs": 60, "every": 5, "restarts": 2}
SCALES = {"small": SMALL, "paper": PAPER}


# ----------------------------------------------------------------------------- configuration
def check_config(cfg: dict) -> dict:
    C.check_keys(cfg, PAPER, "E4")
    C.check_choice(cfg, "dataset", DATASETS)
    v = cfg["structures"]
    if not isinstance(v, (list, tuple)) or not v or any(x not in STRUCTURES for x in v) or len(set(v)) != len(v):
        raise C.InvalidOptionError(f"configuration structures={v!r}: expected distinct entries of "
                                   f"{', '.join(STRUCTURES)}")
    hidden = cfg["hidden"]
    if (not isinstance(hidden, list) or not hidden
            or not all(isinstance(h, int) and not isinstance(h, bool) and h >= 2 for h in hidden)):
        raise C.InvalidOptionError(f"configuration hidden={hidden!r}: expected a non-empty list of widths >= 2")
    C.check_int_list(cfg, "hidden", 2, C.MAX_WIDTH, distinct=False)
    C.check_int(cfg, "pairs", 1, C.MAX_UNITS)
    epochs = C.check_int(cfg, "epochs", 1, C.MAX_EPOCHS)
    every = C.check_int(cfg, "every", 1)
    C.check_int(cfg, "batch_size", 1, C.MAX_POINTS)
    C.check_int(cfg, "restarts", 1, C.MAX_STEPS)
    if every > epochs:
        raise C.InvalidOptionError(f"configuration every={every!r}: expected at most epochs={epochs}")
    n_ck = epochs // every + 1 + (epochs % every != 0)
    if n_ck > C.MAX_CHECKPOINTS:
        raise C.InvalidOptionError(
            f"configuration every={every!r}: epochs={epochs} / every gives {n_ck} checkpoints; at most "
            f"{C.MAX_CHECKPOINTS} (each keeps a copy of both networks): raise every")
    amb = C.check_int(cfg, "ambient", 1, C.MAX_WIDTH)
    C.check_int(cfg, "k", 1, amb)
    nc = C.check_int(cfg, "n_classes", 2, C.MAX_WIDTH)
    n_train = C.check_int(cfg, "n_train", nc, C.MAX_POINTS)
    n_test = C.check_int(cfg, "n_test", 2, C.MAX_POINTS)
    cost_points = C.check_int(cfg, "cost_points", 2, C.MAX_POINTS)
    C.check_int(cfg, "steps", 3, C.MAX_STEPS)
    C.check_unit_count("E4", len(cfg["structures"]) * cfg["pairs"],
                       f"{len(cfg['structures'])} structures x pairs={cfg['pairs']}")
    n = max(n_train, n_test, cost_points)
    C.check_unit_memory("E4", C.unit_bytes([max(amb, 64), *hidden, nc], n, snapshots=n_ck, cost_width=max(hidden)),
                        f"ambient={amb}, hidden={hidden}, {n} points, {n_ck} checkpoints")
    C.check_int(cfg, "base_seed", 0)
    for key in ("fixed_input", "fixed_hidden", "fixed_last"):
        C.check_float(cfg, key, 0.0, 1.0)
    C.check_float(cfg, "digits_test_fraction", 0.0, 1.0, open_lo=True)
    C.check_float(cfg, "sep", 0.0, open_lo=True)
    C.check_float(cfg, "lr", 0.0, open_lo=True)
    C.check_float(cfg, "weight_decay", 0.0)
    C.check_float(cfg, "tau", 0.0, 1.0, open_lo=True)
    C.check_float(cfg, "gamma_rtol", 0.0)
    C.check_float(cfg, "identity_threshold", 0.0, 1.0, open_lo=True)
    C.check_float(cfg, "barrier_tol", 0.0)
    C.check_choice(cfg, "dtype", ("float64", "float32"))
    C.check_choice(cfg, "barrier", BARRIER_CHOICES)
    C.check_choice(cfg, "norm", NORMS)
    if not isinstance(cfg["activation"], str):
        raise C.InvalidOptionError(f"configuration activation={cfg['activation']!r}: expected a name")
    return cfg


def checkpoint_epochs(cfg: dict) -> list[int]:
    """0, every, 2 every, ..., and the last epoch."""
    return sorted(set(range(0, cfg["epochs"] + 1, cfg["every"])) | {cfg["epochs"]})


def units(cfg: dict) -> list:
    if cfg["dataset"] == "digits" and not digits_available():
        return []
    return [(f"{cfg['dataset']}_{st}_p{pair}", {"structure": st, "pair": pair})
            for st in cfg["structures"] for pair in range(cfg["pairs"])]


# ----------------------------------------------------------------------------- building blocks
def e4_data(cfg: dict):
    """(train, test) of the configured data set (the same for every structure and pair)."""
    di = DATASETS.index(cfg["dataset"])
    seed = derive_seed(cfg["base_seed"], 41, di)
    if cfg["dataset"] == "digits":
        return train_test_split(digits(seed=seed), test_fraction=cfg["digits_test_fraction"], seed=seed)
    common = dict(k=cfg["k"], ambient=cfg["ambient"], n_classes=cfg["n_classes"], sep=cfg["sep"], seed=seed)
    tr = gaussian_mixture_subspace(cfg["n_train"], **common)
    te = gaussian_mixture_subspace(cfg["n_test"], sample_seed=derive_seed(cfg["base_seed"], 46, di), **common)
    return tr, te


def e4_network(cfg: dict, structure: str, sizes: list, seed: int):
    """Initial network of ``structure``: masks and fixed parts from one structure seed
    per data set (shared by every run), weights from ``seed``."""
    sseed = derive_seed(cfg["base_seed"], 42, DATASETS.index(cfg["dataset"]))
    norm = None if cfg["norm"] == "none" else cfg["norm"]
    if structure == "standard":
        return standard_mlp(sizes, activation=cfg["activation"], seed=seed, norm=norm)
    return w_mlp(sizes, activation=cfg["activation"], n_fixed=n_fixed(cfg, sizes), sigma_F=float(structure[-1]),
                 seed=seed, structure_seed=sseed, norm=norm)


def _cost_points(cfg: dict, X: np.ndarray) -> np.ndarray:
    """The first ``cost_points`` rows of a fixed permutation of the training inputs."""
    n = min(cfg["cost_points"], X.shape[0])
    order = np.random.default_rng(derive_seed(cfg["base_seed"], 47)).permutation(X.shape[0])
    return X[np.sort(order[:n])]


def _offdiag_median(D: np.ndarray) -> float | None:
    off = D[~np.eye(D.shape[0], dtype=bool)]
    off = off[np.isfinite(off)]
    return float(np.median(off)) if off.size else None


def _finite_or_none(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def measure_checkpoint(cfg: dict, A, B, tr, te, Xc, seed: int) -> dict:
    """Every E4 quantity of one pair of checkpoints (see the module docstring)."""
    cmp = compare_pair(A, B, te.X, te.y, loss="ce", align=("activation", "weight"), steps=cfg["steps"],
                       X_align=tr.X, restarts=cfg["restarts"], seed=seed)
    bkey = cfg["barrier"]
    ends = cmp.endpoints()
    out = {"test_loss": [ends["A"]["loss"], ends["B"]["loss"]],
           "test_error": [ends["A"]["error"], ends["B"]["error"]],
           "barrier": {al: _finite_or_none(getattr(cmp.paths[al], bkey)) for al in ALIGNMENTS},
           "barrier_error": {al: getattr(cmp.paths[al], f"{bkey}_error") for al in ALIGNMENTS},
           "layers": []}
    tA, tB = A.forward(Xc, record=True), B.forward(Xc, record=True)
    costs = [network_costs(net, trace=t, tau=cfg["tau"], compute_delta_out=False) for net, t in ((A, tA), (B, tB))]
    for l in range(len(A.layers) - 1):
        width = A.layers[l].shape[0]
        corr = correspondence(A, B, None, l, metric="l2", traces=(tA, tB))
        block = {"layer": l, "width": width,
                 "identity_fraction": corr.fixed_points / width,
                 "median_mismatch": float(np.median(corr.mismatch)),
                 "activation_identity_fraction": cmp.alignments["activation"].fixed_points[l] / width,
                 "weight_identity_fraction": cmp.alignments["weight"].fixed_points[l] / width,
                 "gamma": [], "gamma_rel": [], "gamma_infinite": [], "median_delta_in": [],
                 "negative_delta_in_fraction": [], "rank": []}
        for lcs in costs:
            lc = lcs[l]
            diag = np.diag(lc.K)
            scale = float(np.mean(diag[np.isfinite(diag)])) if np.any(np.isfinite(diag)) else float("nan")
            g = float(lc.gamma)
            # JSON has no infinity: +inf (no other assignment is realizable: identifiable) is flagged apart
            block["gamma"].append(_finite_or_none(g))
            block["gamma_rel"].append(g / scale if np.isfinite(g) and scale > 0 else None)
            block["gamma_infinite"].append(bool(g == np.inf))
            block["median_delta_in"].append(_offdiag_median(lc.delta_in))
            off = lc.delta_in[~np.eye(width, dtype=bool)]
            off = off[np.isfinite(off)]
            # negative beyond rounding (the same relative tolerance as the margin)
            neg = off < -cfg["gamma_rtol"] * scale if scale > 0 else off < 0
            block["negative_delta_in_fraction"].append(float(np.mean(neg)) if off.size else None)
            block["rank"].append(int(lc.support.rank))
        out["layers"].append(block)
    return out


# ----------------------------------------------------------------------------- one unit
def run_unit(cfg: dict, params: dict) -> dict:
    st, pair = params["structure"], params["pair"]
    tr, te = e4_data(cfg)
    sizes = [tr.d, *cfg["hidden"], int(max(tr.y.max(), te.y.max())) + 1]
    epochs = checkpoint_epochs(cfg)
    runs, history = [], []
    di = DATASETS.index(cfg["dataset"])
    for run in (0, 1):
        key = (di, STRUCTURES.index(st), pair, run)
        net = e4_network(cfg, st, sizes, derive_seed(cfg["base_seed"], 43, *key))
        tc = TrainConfig(loss="ce", optimizer="adamw", lr=cfg["lr"], epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                         weight_decay=cfg["weight_decay"], dtype=cfg["dtype"], seed=derive_seed(cfg["base_seed"], 44, *key))
        res = train(net, tr.X, tr.y, tc, progress=False, checkpoints=epochs)
        runs.append(res.checkpoints)
        history.append(res.history)
    Xc = _cost_points(cfg, tr.X)
    seed = derive_seed(cfg["base_seed"], 45, pair)
    series = [dict(epoch=e, **measure_checkpoint(cfg, runs[0][e], runs[1][e], tr, te, Xc, seed)) for e in epochs]
    return {"structure": st, "pair": pair, "sizes": sizes, "epochs": epochs, "train_loss": history,
            "checkpoints": series}


def warmup(cfg: dict) -> None:
    small = {**cfg, "hidden": [4], "epochs": 1, "every": 1, "n_train": 64, "n_test": 32, "ambient": 8, "k": 2,
             "n_classes": 3, "restarts": 1, "cost_points": 32, "dataset": "subspace"}
    run_unit(small, {"structure": cfg["structures"][-1], "pair": 0})


# ----------------------------------------------------------------------------- criteria and the order claim
def pair_flags(cfg: dict, row: dict) -> dict:
    """Per checkpoint of one pair: the booleans ``margin``, ``identity``,
    ``identifiable`` and ``barrier_vanished`` (see the module docstring)."""
    flags = {"margin": [], "identity": [], "identifiable": [], "barrier_vanished": []}
    for ck in row["checkpoints"]:
        margin = all(inf or (g is not None and g > cfg["gamma_rtol"])
                     for lay in ck["layers"] for g, inf in zip(lay["gamma_rel"], lay["gamma_infinite"]))
        ident = all(lay["identity_fraction"] >= cfg["identity_threshold"] for lay in ck["layers"])
        b = ck["barrier"]["unaligned"]
        flags["margin"].append(margin)
        flags["identity"].append(ident)
        flags["identifiable"].append(margin and ident)
        flags["barrier_vanished"].append(b is not None and b <= cfg["barrier_tol"])
    return flags


def onset(epochs, flags) -> int | None:
    """First epoch from which ``flags`` holds at every later checkpoint; ``None`` when it
    does not hold at the last one.

    >>> onset([0, 2, 4, 6], [True, False, True, True]), onset([0, 2, 4], [True, True, False])
    (4, None)
    """
    epochs, flags = list(epochs), [bool(f) for f in flags]
    if len(epochs) != len(flags):
        raise ValueError(f"onset: {len(epochs)} epochs but {len(flags)} flags")
    if not flags or not flags[-1]:
        return None
    i = len(flags) - 1
    while i > 0 and flags[i - 1]:
        i -= 1
    return int(epochs[i])


def order(t_ident: int | None, t_barrier: int | None) -> str | None:
    """``"before"``, ``"same"`` or ``"after"``: identifiability's onset relative to the
    barrier's vanishing; ``None`` when neither happened.

    >>> order(3, 9), order(6, 6), order(9, 3), order(3, None), order(None, 3), order(None, None)
    ('before', 'same', 'after', 'before', 'after', None)
    """
    if t_ident is None and t_barrier is None:
        return None
    if t_barrier is None or (t_ident is not None and t_ident < t_barrier):
        return "before"
    if t_ident is None or t_ident > t_barrier:
        return "after"
    return "same"


def structure_answer(orders) -> tuple[str, dict]:
    """The structure's answer from its pairs' orders (``None``: the pair does not
    decide): the common order when every deciding pair agrees, else ``"inconclusive"``.

    >>> structure_answer(["before", "before", None])
    ('before', {'before': 2, 'same': 0, 'after': 0, 'undecided': 1})
    >>> structure_answer(["before", "after"])[0], structure_answer([None, None])[0]
    ('inconclusive', 'inconclusive')
    """
    counts = {o: sum(1 for x in orders if x == o) for o in ORDERS}
    counts["undecided"] = sum(1 for x in orders if x is None)
    decided = [o for o in ORDERS if counts[o]]
    return (decided[0] if len(decided) == 1 else "inconclusive"), counts


def first_met(epochs, flags) -> int | None:
    """First epoch at which ``flags`` holds (even if it fails later); ``None`` if never.

    >>> first_met([0, 2, 4], [False, True, False]), first_met([0, 2], [False, False])
    (2, None)
    """
    return next((int(e) for e, f in zip(epochs, flags) if f), None)


def barrier_rose_before(epochs, barriers, t_onset: int | None, tol: float) -> bool:
    """Whether the unaligned barrier exceeded ``tol`` at a checkpoint before ``t_onset``
    (its vanishing means something only if there was a barrier to vanish).

    >>> barrier_rose_before([0, 2, 4], [0.5, 0.01, 0.01], 2, 0.05), barrier_rose_before([0, 2], [0.01, 0.02], 0, 0.05)
    (True, False)
    """
    if t_onset is None:
        return False
    return any(b is not None and b > tol for e, b in zip(epochs, barriers) if e < t_onset)


def onsets(cfg: dict, row: dict) -> dict:
    """Onset epochs (persistent, see :func:`onset`) of every criterion of one pair, the
    first epochs each is met at all (``first``), and the pair's order.

    The barrier's onset decides only if the barrier exceeded ``barrier_tol`` at an earlier
    checkpoint (``barrier_rose``); otherwise the pair is undecided (``order`` ``None``,
    ``undecided_reason`` says why): a barrier that was never there did not vanish."""
    flags = pair_flags(cfg, row)
    t = {name: onset(row["epochs"], f) for name, f in flags.items()}
    t["first"] = {name: first_met(row["epochs"], f) for name, f in flags.items()}
    barriers = [ck["barrier"]["unaligned"] for ck in row["checkpoints"]]
    t["barrier_max"] = max((b for b in barriers if b is not None), default=None)
    t["barrier_rose"] = barrier_rose_before(row["epochs"], barriers, t["barrier_vanished"], cfg["barrier_tol"])
    t["undecided_reason"] = None
    if t["barrier_vanished"] is not None and not t["barrier_rose"]:
        t["order"] = None
        t["undecided_reason"] = (f"the unaligned barrier never exceeded barrier_tol {cfg['barrier_tol']:g} before "
                                 f"its onset (largest {C.fmt(t['barrier_max'], '.3g')})")
    else:
        t["order"] = order(t["identifiable"], t["barrier_vanished"])
    return t


# ----------------------------------------------------------------------------- aggregation
def _median_of(values) -> float | None:
    return describe(values)["median"]


def aggregate(cfg: dict, records: list) -> dict:
    rows = [rec["result"] for rec in records]
    epochs = checkpoint_epochs(cfg)
    n_layers = len(cfg["hidden"])
    series = {}
    per_pair = {}
    answers = {}
    for st in cfg["structures"]:
        sel = [r for r in rows if r["structure"] == st]
        if not sel:
            continue
        s = {"epochs": epochs, "barrier": {al: [] for al in ALIGNMENTS}, "barrier_sd": {al: [] for al in ALIGNMENTS},
             "test_loss": [], "layers": [{"identity_fraction": [], "activation_identity_fraction": [],
                                          "weight_identity_fraction": [], "gamma_rel": [], "gamma": [],
                                          "median_delta_in": [], "negative_delta_in_fraction": []}
                                         for _ in range(n_layers)]}
        for i, _ in enumerate(epochs):
            cks = [r["checkpoints"][i] for r in sel]
            for al in ALIGNMENTS:
                d = describe([ck["barrier"][al] for ck in cks])
                s["barrier"][al].append(d["mean"])
                s["barrier_sd"][al].append(d["std"])
            s["test_loss"].append(describe([v for ck in cks for v in ck["test_loss"]])["mean"])
            for l in range(n_layers):
                lay = [ck["layers"][l] for ck in cks]
                L = s["layers"][l]
                for key in ("identity_fraction", "activation_identity_fraction", "weight_identity_fraction"):
                    L[key].append(describe([b[key] for b in lay])["mean"])
                # medians over both runs of every pair
                for key in ("gamma_rel", "gamma", "median_delta_in", "negative_delta_in_fraction"):
                    L[key].append(_median_of([v for b in lay for v in b[key]]))
        series[st] = s
        per_pair[st] = [dict(pair=r["pair"], **onsets(cfg, r)) for r in sel]
        ans, counts = structure_answer([p["order"] for p in per_pair[st]])
        answers[st] = {"answer": ans, "counts": counts}
    notes = []
    if cfg["dataset"] == "digits" and not rows:
        notes.append("digits skipped: scikit-learn is not installed (pip install 'neuronid[data]')")
    return {"rows": rows, "series": series, "onsets": per_pair, "answers": answers, "epochs": epochs,
            "barrier": cfg["barrier"], "notes": notes}


def _fmt_epoch(t) -> str:
    return "never" if t is None else str(t)


def _onset_text(p: dict) -> str:
    f = p["first"]
    return (f"pair {p['pair']}: identifiable from epoch {_fmt_epoch(p['identifiable'])} (margin "
            f"{_fmt_epoch(p['margin'])}, identity {_fmt_epoch(p['identity'])}; first met at "
            f"{_fmt_epoch(f['identifiable'])}), unaligned barrier vanished from {_fmt_epoch(p['barrier_vanished'])} "
            f"(first met at {_fmt_epoch(f['barrier_vanished'])}) -> {p['order'] or 'undecided'}"
            + (f" ({p['undecided_reason']})" if p.get("undecided_reason") else ""))


def _qualifier(st: str, results: dict) -> str:
    """What an order means when one criterion never held to the end in any deciding pair."""
    ps = [p for p in results["onsets"][st] if p["order"] is not None]
    if ps and all(p["identifiable"] is None for p in ps):
        return " (identifiability not reached within the run)"
    if ps and all(p["barrier_vanished"] is None for p in ps):
        return " (the unaligned barrier did not vanish within the run)"
    return ""


def _undecided_why(st: str, results: dict, cfg: dict) -> str:
    """Why no pair of ``st`` decides (for the claim of an inconclusive structure)."""
    ps = results["onsets"][st]
    if ps and all(p["order"] is None for p in ps):
        if all(p.get("undecided_reason") for p in ps):
            return f": the unaligned barrier never exceeded barrier_tol {cfg['barrier_tol']:g} (no barrier to vanish)"
        return ": no pair decides"
    return ": the pairs disagree"


def _claim_text(st: str, ans: str, results: dict, cfg: dict) -> str:
    label = LABELS[st]
    if ans == "inconclusive":
        return f"[{label}] the order of identifiability and barrier vanishing{_undecided_why(st, results, cfg)}"
    q = _qualifier(st, results)
    if ans == "after" and "not reached" in q:
        return f"[{label}] identifiability not reached within the run; the unaligned barrier vanished (order: after)"
    if ans == "before" and "did not vanish" in q:
        return (f"[{label}] the unaligned barrier did not vanish within the run; identifiability was reached "
                f"(order: before)")
    return f"[{label}] identifiability appears {ans} the unaligned barrier vanishes{q}"


def claims(cfg: dict, results: dict) -> list:
    out = []
    bkey = results["barrier"]
    crit = (f"identifiable: gamma/mean K_ii > {cfg['gamma_rtol']:g} in both runs and D4 identity fraction >= "
            f"{cfg['identity_threshold']:g} in every hidden layer; barrier vanished: unaligned {bkey} <= "
            f"{cfg['barrier_tol']:g} nats, counted only if it exceeded {cfg['barrier_tol']:g} at an earlier "
            f"checkpoint; onsets = first checkpoint from which the criterion holds to the end "
            f"(resolution {cfg['every']} epochs)")
    for st, a in results["answers"].items():
        ans = a["answer"]
        status = "inconclusive" if ans == "inconclusive" else "supported"
        claim = _claim_text(st, ans, results, cfg)
        out.append(C.verdict(claim, status, "; ".join(_onset_text(p) for p in results["onsets"][st]) + f" ({crit})",
                             **a["counts"]))
    for note in results.get("notes", []):
        out.append(C.verdict("data set", "not available", note))
    return out


def answer_sentence(results: dict) -> str:
    """One sentence answering the E4 question from this run's onsets, with the last
    checkpoint's identity fraction and relative margin (worst layer) beside it."""
    parts = []
    for st, a in results["answers"].items():
        ts = results["onsets"][st]
        ti = [p["identifiable"] for p in ts]
        tb = [p["barrier_vanished"] for p in ts]
        s = results["series"][st]
        idf = min((L["identity_fraction"][-1] for L in s["layers"] if L["identity_fraction"][-1] is not None),
                  default=None)
        gam = [L["gamma_rel"][-1] for L in s["layers"]]
        gam = min((g for g in gam if g is not None), default=None)
        txt = (f"{LABELS[st]}: identifiable from epoch {'/'.join(map(_fmt_epoch, ti))}, unaligned barrier vanished "
               f"from epoch {'/'.join(map(_fmt_epoch, tb))} (pairs; at the end: identity fraction "
               f"{C.fmt(idf, '.2f')}, gamma/K_ii {C.fmt(gam, '.2g')}, worst layer)")
        if a["answer"] == "inconclusive":
            why = "no pair decides" if a["counts"]["undecided"] == len(ts) else "the pairs disagree"
            if ts and all(p.get("undecided_reason") for p in ts):
                why += "; the unaligned barrier never exceeded barrier_tol"
            parts.append(f"{txt} -> inconclusive ({why})")
        else:
            parts.append(f"{txt} -> {a['answer']}{_qualifier(st, results)}")
    return ("Answer from this run: " + "; ".join(parts)
            + ". (Onset: first checkpoint from which a criterion holds to the end.)")


def summary(cfg: dict, results: dict, claim_list: list) -> str:
    bkey = results["barrier"]
    epochs = results["epochs"]
    lines = [
        f"# E4 -- identifiability during training ({results['scale']} scale)",
        "",
        "Does identifiability (assignment margin gamma > 0, neurons in identity correspondence; D3, D4, T3) appear "
        "before the unaligned barrier between independently trained runs vanishes, at the same time, or after?",
        "",
        f"Setup: {cfg['dataset']} data, hidden {cfg['hidden']} {cfg['activation']}"
        + (f" + {cfg['norm']} norm" if cfg["norm"] != "none" else "")
        + f", {cfg['epochs']} epochs AdamW lr {cfg['lr']:g} wd {cfg['weight_decay']:g}, batch {cfg['batch_size']}, "
        f"{cfg['dtype']}; checkpoints at epochs {epochs}; {cfg['pairs']} pairs per structure; barriers ({bkey} of the "
        f"test cross-entropy, {cfg['steps']}-point grid) on the test split, activation matching fitted on the training "
        f"split; correspondence, gamma and Delta_in on {cfg['cost_points']} training points, support tau {cfg['tau']:g}.",
        "",
        answer_sentence(results),
        "",
        "## Claims",
        "",
        C.claims_markdown(claim_list),
        "",
    ]
    for st, s in results["series"].items():
        lines += [f"## {LABELS[st]}", "",
                  "| epoch | test loss | " + f"{bkey} unaligned | activation | weight | "
                  + " | ".join(f"L{l} identity | L{l} gamma/K_ii | L{l} median Delta_in" for l in range(len(s["layers"])))
                  + " |",
                  "|---" * (5 + 3 * len(s["layers"])) + "|"]
        for i, e in enumerate(s["epochs"]):
            cells = [str(e), C.fmt(s["test_loss"][i], ".3f")]
            cells += [C.fmt(s["barrier"][al][i], ".3f") for al in ALIGNMENTS]
            for L in s["layers"]:
                cells += [C.fmt(L["identity_fraction"][i], ".2f"), C.fmt(L["gamma_rel"][i], ".2g"),
                          C.fmt(L["median_delta_in"][i], ".2g")]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["Columns: means over pairs (barriers, identity fraction of the D4 L2 correspondence, test loss of both "
              "runs); gamma/K_ii and Delta_in (the paper's swap cost, closed-form pre-activation cost) are medians over "
              "both runs of every pair.", ""]
    for note in results.get("notes", []):
        lines += [f"Note: {note}", ""]
    lines += [f"Units: {results['units']['total']} ({results['units']['skipped']} resumed); wall time "
              f"{results['wall_seconds']:.0f} s; summed unit time {results['units']['unit_seconds_total']:.0f} s.", ""]
    if results.get("plots"):
        lines += ["Plots: " + ", ".join(f"`{p}`" for p in results["plots"]), ""]
    return "\n".join(lines)


def plot(cfg: dict, results: dict, out_dir) -> list:
    from .plots import plot_e4

    if not results["series"]:
        return []
    path = Path(out_dir) / "e4_identifiability_vs_epoch.png"
    plot_e4(results, path, labels=LABELS, barrier=results["barrier"], gamma_rtol=cfg["gamma_rtol"],
            identity_threshold=cfg["identity_threshold"], barrier_tol=cfg["barrier_tol"])
    return [path]


EXPERIMENT = Experiment(
    name="E4",
    title="Identifiability during training",
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
