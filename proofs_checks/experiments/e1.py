"""E1 -- synthetic coherence (THEORY.md E1): midpoint barrier vs subspace coherence.

Protocol (paper scale = THEORY.md E1 exactly). Latent ``z ~ N(0, I_2)``, teacher
``y = relu(z_1 + z_2)``, inputs in ``R^{2 copies}`` (``copies = 10``) through the
"exact copy" or the "random tight frame" embedding with ``a = 1..10`` active copies
(coherence ``nu = 1/a``, :func:`neuronid.numerics.datasets.coherence_embedding`).
Model: one hidden ReLU layer of width 128 whose weights carry a Bernoulli(0.15) mask
drawn once per seed and shared by every run of that seed (masked entries are zero),
hidden weights ``N(0, 0.05^2)``, hidden bias 0 and trained, output = the sum of the
hidden units (output layer: mask 0, fixed part 1, bias 0 and frozen). AdamW, lr 1e-2,
weight decay 1e-2 on weights and 0 on biases, 100 epochs, batch 512, ``n_train =
1024``, ``n_test = 2048``, MSE. Per seed 10 pairs of independent runs, 5 seeds. For
every pair: the test-loss path on a 21-point grid (D5: ``B_mid``, ``B_peak``,
``B_lerp``, ``B_mean``), the endpoint losses and the T4 certificate.

Mask reading (config ``mask_reading``). THEORY.md writes the mask as ``m_i ~
Bernoulli(p)`` with ``p`` the fraction of *trainable* entries (T1); read the same
way, "Bernoulli(0.15) mask, masked entries are zero" means 15 % of the hidden weights
are trainable and 85 % are fixed at zero (``"trainable"``, the default). The other
reading -- 15 % of entries fixed at zero (``"masked"``) -- is available. Why the
default: the experiment varies the coherence ``nu`` of the support to vary the
anisotropy of ``S_i = U^T diag(m_i) U`` (T1: ``||S_i - p I||`` grows like
``sqrt(p(1-p) nu)``), and P3 measures it relative to ``p``:
``eps / p ~ sqrt((1-p) nu / p)``. With ``p = 0.85`` and ``nu = 1`` (one active
copy), a neuron's ``S_i`` is ``I`` exactly whenever both of its support coordinates
are trainable (probability ``0.85^2 = 72 %``): most neurons stay exactly
interchangeable at the *highest* coherence, so coherence cannot separate them. With
``p = 0.15`` the support-visible mask patterns split the neurons into small distinct
classes at high coherence and into near-isotropic ones at low coherence, which is
the contrast the experiment is about. ``docs/experiments.md`` shows a pilot of both.

Arithmetic: training runs in float32 (``dtype``; ``benchmarks/bench_e1.py``: about
twice as fast as float64, barriers equal to ~1e-7); paths, barriers and certificates
are evaluated in float64.

Seeds (config ``seeding``). Every unit ``(family, a, seed, pair)`` derives its seeds
from ``(base_seed, ...)`` with :func:`~.sweep.derive_seed`. Always: the mask from
``seed``; the latent samples (train, test) from ``seed`` (shared by families and
coherence levels, so only the embedding changes along a curve).

- ``"common"`` (default; common random numbers, the authors' protocol): the random
  tight frame draws one permutation of the coordinate pairs and one rotation angle
  per pair from ``seed`` and uses the first ``a`` of them at level ``a`` (nested
  embeddings, ``coherence_embedding(nested=True)``); each run's initialization and
  minibatch order come from ``(seed, pair, run)``, the same for every ``a`` and both
  families. Neighbouring coherence levels then differ only in the embedding, which
  lowers the variance of the barrier-vs-coherence trend.
- ``"independent"``: the embedding from ``(family, a, seed)``; each run's
  initialization and minibatch order from ``(family, a, seed, pair, run)``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from neuronid.numerics.datasets import coherence_embedding
from neuronid.numerics.network import Layer, Network
from neuronid.numerics.paths import linear_path
from neuronid.numerics.training import TrainConfig, train

from . import common as C
from .sweep import Experiment, derive_seed, describe, finite

FAMILIES = ("exact_copy", "random_tight_frame")
FAMILY_LABELS = {"exact_copy": "exact copy", "random_tight_frame": "random tight frame"}
MASK_READINGS = ("trainable", "masked")
#: how the random draws of different coherence levels and families relate (module docstring)
SEEDINGS = ("common", "independent")

PAPER = {
    "families": list(FAMILIES),
    "actives": list(range(1, 11)),
    "seeds": 5,
    "pairs": 10,
    "copies": 10,
    "width": 128,
    "mask_p": 0.15,
    "mask_reading": "trainable",
    "seeding": "common",
    "init_std": 0.05,
    "lr": 1e-2,
    "weight_decay": 1e-2,
    "epochs": 100,
    "batch_size": 512,
    "n_train": 1024,
    "n_test": 2048,
    "steps": 21,
    "dtype": "float32",  # training arithmetic only; paths and certificates are float64
    "base_seed": 0,
    "certificate": True,
    "t1_delta": 0.05,
}
#: well under a minute on 2 cores: every coherence level, 2 of 5 seeds x 5 of 10 pairs (a fifth of the
#: protocol), full training
SMALL = {**PAPER, "seeds": 2, "pairs": 5}
SCALES = {"small": SMALL, "paper": PAPER}


# ----------------------------------------------------------------------------- config
def check_config(cfg: dict) -> dict:
    C.check_keys(cfg, PAPER, "E1")
    fams = cfg["families"]
    if not isinstance(fams, (list, tuple)) or not fams or any(f not in FAMILIES for f in fams) or len(set(fams)) != len(fams):
        raise C.InvalidOptionError(f"configuration families={fams!r}: expected distinct entries of {', '.join(FAMILIES)}")
    copies = C.check_int(cfg, "copies", 1, C.MAX_WIDTH)
    actives = C.check_int_list(cfg, "actives", 1, copies)
    for key in ("seeds", "pairs"):
        C.check_int(cfg, key, 1, C.MAX_UNITS)
    width = C.check_int(cfg, "width", 1, C.MAX_WIDTH)
    C.check_int(cfg, "epochs", 1, C.MAX_EPOCHS)
    C.check_int(cfg, "batch_size", 1, C.MAX_POINTS)
    n_train = C.check_int(cfg, "n_train", 2, C.MAX_POINTS)
    n_test = C.check_int(cfg, "n_test", 2, C.MAX_POINTS)
    C.check_int(cfg, "steps", 3, C.MAX_STEPS)
    C.check_unit_count("E1", len(fams) * len(actives) * cfg["seeds"] * cfg["pairs"],
                       f"{len(fams)} families x {len(actives)} actives x seeds={cfg['seeds']} x pairs={cfg['pairs']}")
    C.check_unit_memory("E1", C.unit_bytes([2 * copies, width, 1], max(n_train, n_test)),
                        f"width={width}, copies={copies}, {max(n_train, n_test)} points")
    C.check_int(cfg, "base_seed", 0)
    C.check_float(cfg, "mask_p", 0.0, 1.0, open_lo=True)
    C.check_choice(cfg, "mask_reading", MASK_READINGS)
    C.check_choice(cfg, "seeding", SEEDINGS)
    C.check_float(cfg, "init_std", 0.0, open_lo=True)
    C.check_float(cfg, "lr", 0.0, open_lo=True)
    C.check_float(cfg, "weight_decay", 0.0)
    C.check_choice(cfg, "dtype", ("float64", "float32"))
    C.check_choice(cfg, "certificate", (True, False))
    C.check_float(cfg, "t1_delta", 0.0, 1.0, open_lo=True)
    return cfg


def units(cfg: dict) -> list:
    out = []
    for family in cfg["families"]:
        for a in cfg["actives"]:
            for seed in range(cfg["seeds"]):
                for pair in range(cfg["pairs"]):
                    key = f"{family}_a{a:02d}_s{seed}_p{pair}"
                    out.append((key, {"family": family, "active": a, "seed": seed, "pair": pair}))
    return out


# ----------------------------------------------------------------------------- building blocks
def trainable_fraction(cfg: dict) -> float:
    """``p`` of THEORY.md T1: the probability that a hidden weight is trainable."""
    return cfg["mask_p"] if cfg["mask_reading"] == "trainable" else 1.0 - cfg["mask_p"]


def e1_mask(cfg: dict, seed: int) -> np.ndarray:
    """The hidden layer's trainable-entry mask of ``seed`` (shared by all its runs)."""
    rng = np.random.default_rng(derive_seed(cfg["base_seed"], 4, seed))
    u = rng.random((cfg["width"], 2 * cfg["copies"]))
    trainable = u < cfg["mask_p"] if cfg["mask_reading"] == "trainable" else u >= cfg["mask_p"]
    return trainable.astype(np.float64)


def e1_data(cfg: dict, family: str, active: int, seed: int):
    """(train, test) data sets of one ``(family, a, seed)``; with ``seeding = "common"``
    the random tight frames of one ``seed`` are nested across ``a``."""
    fi = FAMILIES.index(family)
    if cfg["seeding"] == "common":
        emb, nested = derive_seed(cfg["base_seed"], 7, seed), True
    else:
        emb, nested = derive_seed(cfg["base_seed"], 1, fi, active, seed), False
    common = dict(family=family, active=active, copies=cfg["copies"], seed=emb, nested=nested)
    tr = coherence_embedding(cfg["n_train"], sample_seed=derive_seed(cfg["base_seed"], 2, seed, 0), **common)
    te = coherence_embedding(cfg["n_test"], sample_seed=derive_seed(cfg["base_seed"], 2, seed, 1), **common)
    return tr, te


def e1_network(cfg: dict, mask: np.ndarray, init_seed: int) -> Network:
    """Hidden ReLU layer (masked, ``N(0, init_std^2)``, bias 0) + fixed sum output."""
    rng = np.random.default_rng(init_seed)
    m, d = mask.shape
    hidden = Layer(rng.normal(0.0, cfg["init_std"], size=(m, d)), np.zeros(m), mask, None, "relu", where="layer 0")
    out = Layer(np.zeros((1, m)), np.zeros(1), np.zeros((1, m)), np.ones((1, m)), None, where="layer 1")
    return Network([hidden, out])


def train_config(cfg: dict, order_seed: int, epochs: int | None = None) -> TrainConfig:
    return TrainConfig(
        loss="mse", optimizer="adamw", lr=cfg["lr"], epochs=cfg["epochs"] if epochs is None else epochs,
        batch_size=cfg["batch_size"], weight_decay=cfg["weight_decay"], bias_decay=0.0, dtype=cfg["dtype"],
        seed=order_seed, frozen_biases=(-1,),
    )


def run_seeds(cfg: dict, params: dict, run: int) -> tuple[int, int]:
    """(initialization seed, minibatch-order seed) of one run of a unit: from
    ``(seed, pair, run)`` alone with ``seeding = "common"`` (the same for every ``a``
    and both families), from ``(family, a, seed, pair, run)`` otherwise."""
    if cfg["seeding"] == "common":
        key = (params["seed"], params["pair"], run)
        return derive_seed(cfg["base_seed"], 8, *key), derive_seed(cfg["base_seed"], 9, *key)
    fi = FAMILIES.index(params["family"])
    key = (fi, params["active"], params["seed"], params["pair"], run)
    return derive_seed(cfg["base_seed"], 3, *key), derive_seed(cfg["base_seed"], 5, *key)


def anisotropy_prediction(cfg: dict, mask: np.ndarray, embedding: np.ndarray, coherence: float) -> dict:
    """T1 side of the prediction: how anisotropic the neurons' shapes ``S_i`` are on
    this support, measured and bounded (relative to ``p``, as in P3)."""
    try:
        from neuronid.numerics.supports import anisotropy, shape_matrices, t1_bound
    except ImportError as exc:  # pragma: no cover - depends on the checkout
        return {"status": C.NOT_AVAILABLE, "reason": str(exc)}
    p = trainable_fraction(cfg)
    S = shape_matrices(mask, embedding)
    an = anisotropy(S, p)
    bound = t1_bound(p, coherence, embedding.shape[1], cfg["t1_delta"])
    return {
        "status": "ok",
        "p": p,
        "mean_relative": float(np.mean(an) / p),
        "max_relative": float(np.max(an) / p),
        "t1_bound_relative": bound / p,
        "t1_violations": int(np.sum(an > bound)),
        "blind_neurons": int(np.sum(np.all(np.abs(S.reshape(len(S), -1)) < 1e-15, axis=1))),
        # neurons whose trainable entries reach every latent direction (S_i of full rank)
        "full_rank_neurons": int(np.sum(np.linalg.eigvalsh(S)[:, 0] > 1e-12)),
    }


# ----------------------------------------------------------------------------- one unit
def run_unit(cfg: dict, params: dict) -> dict:
    family, a, seed = params["family"], params["active"], params["seed"]
    mask = e1_mask(cfg, seed)
    tr, te = e1_data(cfg, family, a, seed)
    nets, train_losses = [], []
    for run in (0, 1):
        init_seed, order_seed = run_seeds(cfg, params, run)
        res = train(e1_network(cfg, mask, init_seed), tr.X, tr.y, train_config(cfg, order_seed), progress=False)
        nets.append(res.network)
        train_losses.append(res.history[-1] if res.history else None)
    A, B = nets
    path = linear_path(A, B, te.X, te.y, loss="mse", steps=cfg["steps"])
    row = {
        "family": family,
        "active": a,
        "coherence": float(te.info["coherence"]),
        "seed": seed,
        "pair": params["pair"],
        **{k: float(getattr(path, k)) for k in C.BARRIERS},
        "L_A": float(path.loss[0]),
        "L_B": float(path.loss[-1]),
        "train_loss_A": train_losses[0],
        "train_loss_B": train_losses[1],
        "y_var_test": float(np.var(te.y)),
        "loss_curve": [float(v) for v in path.loss],
        "steps": [float(t) for t in path.steps],
        "anisotropy": anisotropy_prediction(cfg, mask, te.info["embedding"], float(te.info["coherence"])),
    }
    if cfg["certificate"]:
        row["certificate"] = C.certificate_column(A, B, te.X, path, "mse")
    else:
        row["certificate"] = {"status": "skipped", "reason": "certificate=false in the configuration"}
    return row


def warmup(cfg: dict) -> None:
    """Compile (or load) the numba kernels once in the client before workers start."""
    small = {**cfg, "n_train": 64, "n_test": 64, "epochs": 1, "width": 8}
    run_unit(small, {"family": cfg["families"][0], "active": cfg["actives"][0], "seed": 0, "pair": 0})


# ----------------------------------------------------------------------------- aggregation
def _cert_value(row, part, key="B_mid"):
    cert = row.get("certificate") or {}
    if cert.get("status") != "ok":
        return None
    return (cert.get(part) or {}).get(key)


def aggregate(cfg: dict, records: list) -> dict:
    families = {f: [] for f in cfg["families"]}
    for rec in records:
        row = rec["result"]
        families[row["family"]].append(row)
    levels = {}
    for f, rows in families.items():
        out = []
        for a in sorted(cfg["actives"], reverse=True):  # increasing coherence
            sel = [r for r in rows if r["active"] == a]
            an = [r["anisotropy"] for r in sel if r["anisotropy"].get("status") == "ok"]
            out.append({
                "active": a,
                "coherence": sel[0]["coherence"] if sel else 1.0 / a,
                "B_mid": describe([r["B_mid"] for r in sel]),
                "B_peak": describe([r["B_peak"] for r in sel]),
                "B_lerp": describe([r["B_lerp"] for r in sel]),
                "endpoint_loss": describe([r[k] for r in sel for k in ("L_A", "L_B")]),
                "certificate_B_mid": describe([_cert_value(r, "bound") for r in sel]),
                "tightness_B_mid": describe([_cert_value(r, "tightness") for r in sel]),
                "relative_anisotropy": describe([x["mean_relative"] for x in an]),
                "t1_bound_relative": an[0]["t1_bound_relative"] if an else None,
                "blind_neurons": describe([x["blind_neurons"] for x in an]),
            })
        levels[f] = out
    return {"families": families, "by_coherence": levels,
            "trend": {f: trend_spread(rows) for f, rows in families.items()}}


def _sd(d: dict, spec: str = ".4f") -> str:
    """The standard deviation of a :func:`describe` block, ``n/a`` for fewer than 2 values."""
    return C.fmt(d["std"], spec) if d["n"] >= 2 else "n/a"


def trend_spread(rows: list) -> dict:
    """The barrier-vs-coherence trend per matched ``(seed, pair)`` and its spread.

    For each ``(seed, pair)`` with a finite ``B_mid`` at every coherence level of the
    run: ``slope``, the least-squares slope of ``B_mid`` against ``log10(nu)`` (change
    per decade of coherence; negative = the barrier falls as coherence rises), and
    ``drop``, ``B_mid`` at the lowest minus at the highest coherence; ``step``, the
    change of ``B_mid`` between neighbouring levels (pooled over curves and levels).
    Described over the ``(seed, pair)`` curves, plus ``slope_seed_means`` (the per-seed mean slope over
    seeds: the between-seed spread) and ``level_correlation``: for each pair of neighbouring
    coherence levels the Pearson correlation, across the curves, of ``B_mid`` at the two
    levels (``per_step``, ``None`` with fewer than 3 curves or a constant level), and their
    ``mean``. With ``seeding = "common"`` one curve shares its
    initializations (and its nested frames) across levels, so these differences carry
    less noise than with independent draws."""
    curves = {}
    for r in rows:  # levels by a (the measured coherence 1/a carries rounding that differs between frames)
        curves.setdefault((r["seed"], r["pair"]), []).append((-r["active"], r["coherence"], r["B_mid"]))
    levels = {p[0] for c in curves.values() for p in c}
    slopes, drops, steps, per_seed, matrix = [], [], [], {}, []
    for (seed, _pair), pts in sorted(curves.items()):
        pts = sorted(pts)  # increasing coherence (decreasing a)
        nu = np.array([p[1] for p in pts], dtype=float)
        b = np.array([np.nan if p[2] is None else p[2] for p in pts], dtype=float)
        if len(pts) != len(levels) or len(levels) < 2 or not np.all(np.isfinite(b)):
            continue
        slope = float(np.polyfit(np.log10(nu), b, 1)[0])
        slopes.append(slope)
        drops.append(float(b[0] - b[-1]))
        steps += np.diff(b).tolist()
        per_seed.setdefault(seed, []).append(slope)
        matrix.append(b)
    return {"curves": len(slopes), "slope": describe(slopes), "drop": describe(drops), "step": describe(steps),
            "slope_seed_means": describe([float(np.mean(v)) for v in per_seed.values()]),
            "level_correlation": level_correlation(np.array(matrix, dtype=float).reshape(len(matrix), -1))}


def level_correlation(B: np.ndarray) -> dict:
    """Pearson correlation of ``B[:, j]`` and ``B[:, j + 1]`` across the rows (curves) for
    each pair of neighbouring columns (coherence levels), and their mean; ``None`` for a
    pair with fewer than 3 rows or a constant column (no correlation defined).

    >>> c = level_correlation(np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 1.0], [3.0, 6.0, 2.0]]))
    >>> [round(r, 12) for r in c["per_step"]], round(c["mean"], 12)
    ([1.0, -0.5], 0.25)
    """
    per_step = []
    for j in range(B.shape[1] - 1):
        x, y = B[:, j], B[:, j + 1]
        if B.shape[0] < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
            per_step.append(None)
        else:
            per_step.append(float(np.corrcoef(x, y)[0, 1]))
    ok = [r for r in per_step if r is not None]
    return {"per_step": per_step, "mean": float(np.mean(ok)) if ok else None}


# ----------------------------------------------------------------------------- claims
def _spearman(x, y):
    from scipy.stats import spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.unique(x[ok]).size < 2:
        return None, None
    res = spearmanr(x[ok], y[ok])
    return float(res.statistic if hasattr(res, "statistic") else res[0]), float(res.pvalue)


def trend_claim(family: str, rows: list, levels: list) -> dict:
    label = FAMILY_LABELS[family]
    claim = f"{label}: the midpoint barrier B_mid decreases as the coherence of the support increases"
    if len(levels) < 2:
        return C.verdict(claim, "inconclusive", "only one coherence level in this run")
    rho, pval = _spearman([r["coherence"] for r in rows], [r["B_mid"] for r in rows])
    lo, hi = levels[0], levels[-1]  # lowest / highest coherence
    d_lo, d_hi = lo["B_mid"], hi["B_mid"]
    if d_lo["n"] == 0 or d_hi["n"] == 0 or rho is None:
        return C.verdict(claim, "inconclusive", "not enough finite barriers")
    diff = d_lo["mean"] - d_hi["mean"]
    se = math.sqrt(d_lo["sem"] ** 2 + d_hi["sem"] ** 2)
    evidence = (f"B_mid = {C.fmt(d_lo['mean'])} ± {_sd(d_lo, '.3g')} at nu = {C.fmt(lo['coherence'])} vs "
                f"{C.fmt(d_hi['mean'])} ± {_sd(d_hi, '.3g')} at nu = {C.fmt(hi['coherence'])} (mean ± sd, "
                f"n = {d_lo['n']}, {d_hi['n']}); Spearman rho(nu, B_mid) = {rho:.2f} (p = {pval:.2g}, "
                f"{len(rows)} pairs)")
    if rho < 0 and pval < 0.05 and diff > 2 * se:
        status = "supported"
    elif (rho > 0 and pval < 0.05) or diff < -2 * se:
        status = "not supported"
    else:
        status = "inconclusive"
    return C.verdict(claim, status, evidence, rho=rho, p_value=pval, low_coherence_mean=d_lo["mean"],
                     high_coherence_mean=d_hi["mean"])


def claims(cfg: dict, results: dict) -> list:
    out = []
    fams, levels = results["families"], results["by_coherence"]
    for f in cfg["families"]:
        out.append(trend_claim(f, fams[f], levels[f]))
    # mechanism (T1, P3): relative anisotropy grows with coherence
    rows = [r for f in cfg["families"] for r in fams[f] if r["anisotropy"].get("status") == "ok"]
    claim = ("mechanism (T1/P3): higher coherence makes the neurons' shapes S_i = U^T diag(m_i) U more "
             "anisotropic relative to p, i.e. the masks break the permutation symmetry more strongly")
    if rows:
        rho, pval = _spearman([r["coherence"] for r in rows], [r["anisotropy"]["mean_relative"] for r in rows])
        parts = []
        for f in cfg["families"]:
            lv = levels[f]
            parts.append(f"{FAMILY_LABELS[f]}: mean ||S_i - pI||/p = {C.fmt(lv[0]['relative_anisotropy']['mean'])} "
                         f"at nu = {C.fmt(lv[0]['coherence'])} -> {C.fmt(lv[-1]['relative_anisotropy']['mean'])} at "
                         f"nu = {C.fmt(lv[-1]['coherence'])} (T1 bound / p: {C.fmt(lv[0]['t1_bound_relative'])} -> "
                         f"{C.fmt(lv[-1]['t1_bound_relative'])})")
        ev = "; ".join(parts) + (f"; Spearman rho = {rho:.2f}" if rho is not None else "")
        status = "inconclusive" if rho is None else ("supported" if rho > 0 and pval < 0.05 else "not supported")
        out.append(C.verdict(claim, status, ev + f" (trainable fraction p = {trainable_fraction(cfg):g})", rho=rho,
                             p_value=pval))
    else:
        out.append(C.verdict(claim, "not available", "neuronid.numerics.supports is not available"))
    out.append(certificate_claim([r for f in cfg["families"] for r in fams[f]]))
    # sanity: the runs learned the teacher
    all_rows = [r for f in cfg["families"] for r in fams[f]]
    rel = finite([r[k] / r["y_var_test"] for r in all_rows for k in ("L_A", "L_B") if r["y_var_test"] > 0])
    claim = "sanity: every run fits the teacher (endpoint test MSE below 10 % of Var(y))"
    if rel.size:
        med, worst = float(np.median(rel)), float(np.max(rel))
        poor = {}
        for r in all_rows:
            if r["y_var_test"] > 0 and max(r["L_A"], r["L_B"]) / r["y_var_test"] >= 0.1:
                poor.setdefault((r["family"], r["active"], r["seed"]), []).append(r)
        status = "supported" if worst < 0.1 else ("inconclusive" if med < 0.1 else "not supported")
        ev = f"endpoint test MSE / Var(y): median {med:.2g}, worst {worst:.2g} ({rel.size} runs)"
        if poor:
            ev += ("; poor fits (>= 10 %) in " + ", ".join(
                f"{FAMILY_LABELS[f]} a = {a} seed {s} ({len(p)} pairs; neurons whose trainable entries reach both "
                f"latent directions: {p[0]['anisotropy'].get('full_rank_neurons', 'n/a')})"
                for (f, a, s), p in sorted(poor.items()))
                + ". Without such neurons no run can represent relu(z1 + z2); the runs then agree on the best "
                "approximation (small barrier for another reason than identifiability)")
        out.append(C.verdict(claim, status, ev, median=med, worst=worst))
    return out


def certificate_claim(rows: list, what: str = "pair") -> dict:
    claim = "T4: the certificate bounds every measured barrier (B_mid, B_peak, B_lerp; never violated)"
    certs = [r.get("certificate") or {} for r in rows]
    ok = [c for c in certs if c.get("status") == "ok"]
    if not ok:
        status = certs[0].get("status") if certs else C.NOT_AVAILABLE
        reason = certs[0].get("reason") if certs else "no rows"
        return C.verdict(claim, "not available", f"certificate status {status!r}: {reason}")
    viol = sum(1 for c in ok for k in ("B_mid", "B_peak", "B_lerp") if not c["holds"][k])
    tight = finite([c["tightness"]["B_mid"] for c in ok])
    tl = finite([c["tightness"]["B_lerp"] for c in ok])
    ev = (f"{viol} violations in {len(ok)} {what}s x 3 barriers; tightness measured/bound for B_mid: median "
          f"{C.fmt(float(np.median(tight)) if tight.size else None)}, max {C.fmt(float(np.max(tight)) if tight.size else None)}; "
          f"for B_lerp: median {C.fmt(float(np.median(tl)) if tl.size else None)}")
    if len(ok) < len(certs):
        ev += f"; {len(certs) - len(ok)} {what}s without a certificate"
    return C.verdict(claim, "supported" if viol == 0 else "not supported", ev, violations=viol)


# ----------------------------------------------------------------------------- summary
def summary(cfg: dict, results: dict, claim_list: list) -> str:
    p = trainable_fraction(cfg)
    lines = [
        f"# E1 -- synthetic coherence ({results['scale']} scale)",
        "",
        "THEORY.md E1: barrier between independently trained runs vs the coherence nu = 1/a of the data "
        "support, for the exact-copy and the random-tight-frame embeddings.",
        "",
        f"Protocol: {len(cfg['families'])} families x {len(cfg['actives'])} coherence levels (a = "
        f"{', '.join(map(str, sorted(cfg['actives'])))}) x {cfg['seeds']} seeds x {cfg['pairs']} pairs; width "
        f"{cfg['width']}, {cfg['epochs']} epochs, AdamW lr {cfg['lr']:g}, weight decay {cfg['weight_decay']:g}, "
        f"batch {cfg['batch_size']}, n_train {cfg['n_train']}, n_test {cfg['n_test']}, {cfg['dtype']}; barriers on the "
        f"test MSE, {cfg['steps']}-point grid.",
        "",
        f"Seeding: `seeding = {cfg['seeding']}` (see the trend section below).",
        "",
        f"Mask reading: `mask_reading = {cfg['mask_reading']}`: each hidden weight is trainable with probability "
        f"p = {p:g} and otherwise fixed at 0 (THEORY.md T1 writes masks as m ~ Bernoulli(p), p = trainable "
        "fraction; with p = 0.85 most neurons would have S_i = I exactly at the highest coherence, see "
        "docs/experiments.md).",
        "",
        "## Claims",
        "",
        C.claims_markdown(claim_list),
        "",
        "## Barrier vs coherence",
        "",
    ]
    for f in cfg["families"]:
        lines += [f"### {FAMILY_LABELS[f]}", "",
                  "| a | nu | B_mid mean ± sd | B_mid median [IQR] | T4 bound on B_mid (mean) | tightness (median) "
                  "| endpoint MSE (mean) | rel. anisotropy (T1 bound) |",
                  "|---|---|---|---|---|---|---|---|"]
        for lv in results["by_coherence"][f]:
            b, cb, t, e, an = (lv["B_mid"], lv["certificate_B_mid"], lv["tightness_B_mid"], lv["endpoint_loss"],
                               lv["relative_anisotropy"])
            lines.append(
                f"| {lv['active']} | {C.fmt(lv['coherence'])} | {C.fmt(b['mean'], '.4f')} ± {_sd(b)} "
                f"| {C.fmt(b['median'], '.4f')} [{C.fmt(b['q25'], '.4f')}, {C.fmt(b['q75'], '.4f')}] "
                f"| {C.fmt(cb['mean'], '.4f')} | {C.fmt(t['median'], '.2f')} | {C.fmt(e['mean'], '.2e')} "
                f"| {C.fmt(an['mean'], '.2f')} ({C.fmt(lv['t1_bound_relative'], '.2f')}) |")
        lines.append("")
    lines += ["## Trend per matched (seed, pair) and its spread", "",
              f"Seeding: `seeding = {cfg['seeding']}` ("
              + ("one nested random tight frame per seed and the same initializations and minibatch orders for every "
                 "a and both families: common random numbers" if cfg["seeding"] == "common" else
                 "embedding, initializations and minibatch orders drawn independently for every (family, a)")
              + "). Slope: least-squares slope of B_mid against log10(nu) over the coherence levels of one "
              "(seed, pair), change per decade of coherence; drop: B_mid at the lowest minus at the highest nu; "
              "step: change of B_mid between neighbouring levels of one curve.", "",
              "Correlation: Pearson correlation of B_mid at neighbouring coherence levels across the curves, mean "
              "over the level pairs. A standard deviation of fewer than 2 values is n/a.", "",
              "| family | curves | slope mean ± sd | slope sd of seed means | drop mean ± sd | step sd "
              "| correlation of B_mid between levels (mean) |",
              "|---|---|---|---|---|---|---|"]
    for f in cfg["families"]:
        t = results["trend"][f]
        sl, dr, sm, stp = t["slope"], t["drop"], t["slope_seed_means"], t["step"]
        lines.append(f"| {FAMILY_LABELS[f]} | {t['curves']} | {C.fmt(sl['mean'], '.4f')} ± {_sd(sl)} "
                     f"| {_sd(sm)} ({sm['n']} seeds) | {C.fmt(dr['mean'], '.4f')} ± "
                     f"{_sd(dr)} | {_sd(stp)} | {C.fmt(t['level_correlation']['mean'], '.2f')} |")
    lines.append("")
    lines += [f"Units: {results['units']['total']} ({results['units']['skipped']} resumed); wall time "
              f"{results['wall_seconds']:.0f} s; summed unit time {results['units']['unit_seconds_total']:.0f} s.", ""]
    if results.get("plots"):
        lines += ["Plots: " + ", ".join(f"`{p}`" for p in results["plots"]), ""]
    return "\n".join(lines)


def plot(cfg: dict, results: dict, out_dir) -> list:
    from .plots import plot_e1

    path = Path(out_dir) / "e1_barrier_vs_coherence.png"
    plot_e1(cfg, results, path)
    return [path]


EXPERIMENT = Experiment(
    name="E1",
    title="Synthetic coherence: barrier vs coherence",
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
