"""Plots of E1-E3 (matplotlib Agg, 110 dpi; heatmaps reuse :mod:`..plots`).

- :func:`plot_e1`: barrier vs coherence for both embedding families (mean, IQR band,
  every pair as a dot) and the T4 certificate bound beside the measured mean.
- :func:`plot_e2_heatmaps`: one swap-cost heatmap per ``(k, sigma_F)`` (signed
  square-root colors, as the paper's Figure 5) in one grid, for one of ``Delta_in``
  (the paper's), ``Delta_out``, ``Delta_in + Delta_out``; single panels go through
  :func:`~neuronid.proofs_checks.plots.plot_swap_heatmap`.
- :func:`plot_e2_median`: median swap cost and fraction of negative entries vs ``k``,
  one column per swap-cost matrix.
- :func:`plot_e3`: grouped barriers per structure and alignment, with the T4
  certificate.
"""

from __future__ import annotations


import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neuronid.proofs_checks.plots import DPI, save_figure, signed_sqrt  # noqa: E402

__all__ = ["plot_e1", "plot_e2_heatmaps", "plot_e2_median", "plot_e3", "DPI"]

COLORS = {"exact_copy": "#1f77b4", "random_tight_frame": "#d62728"}
LABELS = {"exact_copy": "exact copy", "random_tight_frame": "random tight frame"}


def _nan(v):
    return np.nan if v is None else float(v)


# ----------------------------------------------------------------------------- E1
def plot_e1(cfg: dict, results: dict, path) -> None:
    """Left: measured ``B_mid`` vs coherence; right: T4 bound on ``B_mid`` vs measured."""
    fams = cfg["families"]
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.8))
    ax, axc = axes
    rng = np.random.default_rng(0)
    for k, f in enumerate(fams):
        levels = results["by_coherence"][f]
        nu = np.array([lv["coherence"] for lv in levels])
        mean = np.array([_nan(lv["B_mid"]["mean"]) for lv in levels])
        q25 = np.array([_nan(lv["B_mid"]["q25"]) for lv in levels])
        q75 = np.array([_nan(lv["B_mid"]["q75"]) for lv in levels])
        rows = results["families"][f]
        x = np.array([r["coherence"] for r in rows]) * np.exp(rng.uniform(-0.035, 0.035, len(rows)) + (k - 0.5) * 0.05)
        y = np.array([_nan(r["B_mid"]) for r in rows])
        ax.scatter(x, y, s=9, color=COLORS[f], alpha=0.3, linewidths=0)
        ax.fill_between(nu, q25, q75, color=COLORS[f], alpha=0.18, linewidth=0)
        ax.plot(nu, mean, "-o", color=COLORS[f], ms=5, lw=2, label=f"{LABELS[f]}: mean (band: IQR, dots: pairs)")
        cb = np.array([_nan(lv["certificate_B_mid"]["mean"]) for lv in levels])
        c25 = np.array([_nan(lv["certificate_B_mid"]["q25"]) for lv in levels])
        c75 = np.array([_nan(lv["certificate_B_mid"]["q75"]) for lv in levels])
        if np.any(np.isfinite(cb)):
            axc.fill_between(nu, c25, c75, color=COLORS[f], alpha=0.15, linewidth=0)
            axc.plot(nu, cb, "--s", color=COLORS[f], ms=4, lw=1.8, label=f"{LABELS[f]}: T4 bound (mean, IQR)")
        axc.plot(nu, mean, "-o", color=COLORS[f], ms=4, lw=1.5, alpha=0.9, label=f"{LABELS[f]}: measured (mean)")
    actives = sorted(cfg["actives"])
    ticks = [1.0 / a for a in actives]
    labels, last = [], None
    for a in actives:  # from nu = 1 down: skip labels closer than 0.075 decades to the previous one
        if last is None or np.log10(a / last) >= 0.075:
            labels.append(f"1/{a}" if a > 1 else "1")
            last = a
        else:
            labels.append("")
    for a_ in axes:
        a_.set_xscale("log")
        a_.set_xticks(ticks)
        a_.set_xticklabels(labels, fontsize=9)
        a_.minorticks_off()
        a_.set_xlabel("coherence nu = 1/a of the data support (a = active copies)")
        a_.axhline(0.0, color="0.6", lw=0.8)
        a_.grid(True, alpha=0.3)
    n_pairs = cfg["seeds"] * cfg["pairs"]
    ax.set_ylabel("midpoint barrier B_mid (test MSE)")
    ax.set_title(f"E1: barrier vs coherence ({n_pairs} pairs per point)", fontsize=11)
    ax.legend(fontsize=8.5, loc="upper right")
    axc.set_ylabel("B_mid (test MSE)")
    axc.set_title("T4 certificate: bound on B_mid vs measured", fontsize=11)
    if any(r.get("certificate", {}).get("status") == "ok" for f in fams for r in results["families"][f]):
        axc.legend(fontsize=8.5, loc="upper right")
    else:
        axc.text(0.5, 0.5, "certificate not available", transform=axc.transAxes, ha="center", va="center")
    p = cfg["mask_p"] if cfg["mask_reading"] == "trainable" else 1 - cfg["mask_p"]
    seeding = cfg.get("seeding", "independent")
    fig.suptitle(f"width {cfg['width']}, trainable fraction p = {p:g}, {cfg['epochs']} epochs, seeding = {seeding}; "
                 f"lower nu = more spread-out support", fontsize=9.5, y=0.995, color="0.3")
    fig.tight_layout()
    save_figure(fig, path)


# ----------------------------------------------------------------------------- E2
def plot_e2_heatmaps(panels: list, path, *, ks, sigmas, layer: int, note: str = "", label: str = "Delta_in") -> None:
    """``panels``: dicts with ``k``, ``sigma_F``, ``delta`` (matrix), ``frac_negative``,
    ``median``; ``label`` names the matrix (``Delta_in``, the paper's transposition
    cost; ``Delta_out``; ``Delta_in + Delta_out``). Rows: ``sigma_F``; columns: ``k``.
    Each row has its own symmetric color scale (signed square root) so that the small
    ``sigma_F = 0`` costs stay visible next to the large ``sigma_F = 1`` ones."""
    nr, nc = len(sigmas), len(ks)
    fig, axes = plt.subplots(nr, nc, figsize=(3.6 * nc + 1.2, 3.9 * nr + 0.6), squeeze=False, layout="constrained")
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#9a9a9a")
    by = {(p["k"], p["sigma_F"]): p for p in panels}
    for i, s in enumerate(sigmas):
        mats = []
        for k in ks:
            p = by.get((k, s))
            if p is not None and p.get("delta") is not None:
                D = np.array([[np.nan if v is None else v for v in row] for row in p["delta"]], dtype=float)
                mats.append(D)
        lim = max([np.nanmax(np.abs(signed_sqrt(np.where(np.isfinite(D), D, 0.0)))) for D in mats] + [1e-12])
        im = None
        for j, k in enumerate(ks):
            ax = axes[i, j]
            p = by.get((k, s))
            if p is None or p.get("delta") is None:
                ax.text(0.5, 0.5, "not available", transform=ax.transAxes, ha="center", va="center")
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            D = np.array([[np.nan if v is None else v for v in row] for row in p["delta"]], dtype=float)
            np.fill_diagonal(D, 0.0)
            T = np.ma.masked_where(~np.isfinite(D), signed_sqrt(np.where(np.isfinite(D), D, 0.0)))
            im = ax.imshow(T, cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
            fn, md = p["frac_negative"], p["median"]
            ax.set_title(f"k = {k}, sigma_F = {s:g}\nnegative {'n/a' if fn is None else f'{100 * fn:.0f}%'}, "
                         f"median {'n/a' if md is None else f'{md:.3g}'}", fontsize=9.5)
            ax.set_xlabel("neuron j", fontsize=8.5)
            if j == 0:
                ax.set_ylabel(f"sigma_F = {s:g}\nneuron i", fontsize=9.5)
            ax.tick_params(labelsize=7.5)
        if im is not None:
            cb = fig.colorbar(im, ax=list(axes[i, :]), fraction=0.03, pad=0.01, shrink=0.9)
            cb.set_label(f"sign * sqrt(|{label}|)", fontsize=8.5)
            cb.ax.tick_params(labelsize=7.5)
    what = "the paper's transposition cost" if label == "Delta_in" else "reported beside Delta_in"
    fig.suptitle(f"E2: swap costs {label}(i, j) ({what}) of hidden layer {layer} (W-MLP), by intrinsic dimension "
                 f"k{note}\nred: swapping i and j costs norm (identifiable); blue: swap is cheaper (symmetric); "
                 "negative / median: whole layer; color scale per row", fontsize=10.5)
    save_figure(fig, path)


def plot_e2_median(rows: list, path, *, ks, sigmas, layer: int, prediction: dict | None = None,
                   kinds=("delta_in",), labels: dict | None = None) -> None:
    """Median swap cost (top row, log or symlog) and share of negative entries (bottom
    row) vs k, one column per matrix in ``kinds`` (``delta_in`` first: the paper's).

    ``rows``: E2 cells with ``k``, ``sigma_F`` and ``swap_costs[kind][stat]`` (describe
    over seeds) for ``stat`` in ``median``, ``frac_negative``. ``prediction``: sigma_F
    -> predicted ``Delta_in`` medians per k (P4 scaling), drawn dashed in the first
    column."""
    labels = labels or {}
    nc = len(kinds)
    fig, axes = plt.subplots(2, nc, figsize=(5.0 * nc + 0.8, 8.0), squeeze=False)
    colors = {0.0: "#1f77b4", 1.0: "#d62728"}
    for col, kind in enumerate(kinds):
        ax, axn = axes[0, col], axes[1, col]
        name = labels.get(kind, kind)
        allmed = []
        for s in sigmas:
            sel = [next((r for r in rows if r["k"] == k and r["sigma_F"] == s), None) for k in ks]
            st = [r["swap_costs"][kind] if r else None for r in sel]
            med = np.array([_nan(x["median"]["median"]) if x else np.nan for x in st])
            lo = np.array([_nan(x["median"]["min"]) if x else np.nan for x in st])
            hi = np.array([_nan(x["median"]["max"]) if x else np.nan for x in st])
            allmed += [v for v in np.concatenate([med, lo, hi]) if np.isfinite(v)]
            c = colors.get(float(s), None)
            ax.plot(ks, med, "-o", color=c, lw=2, label=f"sigma_F = {s:g} (median over seeds; bar: min-max)")
            ax.vlines(ks, lo, hi, color=c, lw=2, alpha=0.5)
            if col == 0 and prediction and s in prediction:
                ax.plot(ks, prediction[s], ":", color=c, lw=1.5,
                        label=f"sigma_F = {s:g}: P4 scaling, prop. to r (anchored at k = {ks[0]})")
            fn = np.array([_nan(x["frac_negative"]["median"]) if x else np.nan for x in st])
            flo = np.array([_nan(x["frac_negative"]["min"]) if x else np.nan for x in st])
            fhi = np.array([_nan(x["frac_negative"]["max"]) if x else np.nan for x in st])
            axn.plot(ks, 100 * fn, "-o", color=c, lw=2, label=f"sigma_F = {s:g}")
            axn.vlines(ks, 100 * flo, 100 * fhi, color=c, lw=2, alpha=0.5)
        for a in (ax, axn):
            a.set_xscale("log", base=2)
            a.set_xticks(list(ks))
            a.set_xticklabels([str(k) for k in ks])
            a.minorticks_off()
            a.set_xlabel("intrinsic dimension k of the data")
            a.grid(True, alpha=0.3)
        if allmed and min(allmed) > 0:
            ax.set_yscale("log")
        else:  # some medians are <= 0: symmetric log scale around 0
            small = min([abs(v) for v in allmed if v != 0] + [1.0])
            lt = 10.0 ** np.floor(np.log10(max(small, 1e-12)))
            ax.set_yscale("symlog", linthresh=lt)
            ax.axhline(0.0, color="0.5", lw=0.8)
            top = max(allmed)
            bottom = min(allmed)
            hi_ = top * 4 if top > 0 else lt
            lo_ = bottom * 4 if bottom < 0 else -lt
            ax.set_ylim(lo_, hi_)
            # labels at +-linthresh crowd the one at 0: keep 0 and the decades outside the linear band,
            # every second decade when there are many
            ticks = [0.0]
            for sign, end in ((1, hi_), (-1, lo_)):
                e = int(np.floor(np.log10(lt))) + 1
                while 10.0 ** e <= abs(end):
                    ticks.append(sign * 10.0 ** e)
                    e += 1
            if len(ticks) > 9:
                ticks = [t for t in ticks if t == 0 or round(np.log10(abs(t))) % 2 == 0]
            ax.set_yticks(sorted(ticks))
        ax.set_ylabel(f"median off-diagonal {name}")
        head = f"{name} (the paper's swap cost)" if kind == "delta_in" else name
        ax.set_title(f"{head}: median", fontsize=11)
        ax.legend(fontsize=7.5)
        axn.set_ylim(-3, 103)
        axn.axhspan(5, 95, color="0.85", alpha=0.4, lw=0)
        axn.set_ylabel(f"negative entries of {name} [% of pairs]")
        axn.set_title(f"{name}: cheaper-than-identity swaps (grey: 5-95 %, 'mixed')", fontsize=9.5)
        axn.legend(fontsize=8)
    fig.suptitle(f"E2: swap costs of hidden layer {layer} vs k; the claims read the first column (Delta_in)",
                 fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


# ----------------------------------------------------------------------------- E3
ALIGN_COLORS = {"unaligned": "#7f7f7f", "activation": "#2ca02c", "weight": "#9467bd"}
ALIGN_LABELS = {"unaligned": "unaligned", "activation": "activation matched", "weight": "weight matched"}


def plot_e3(groups: list, path, *, dataset: str, structures: list, labels: dict, barrier: str, loss_label: str,
            note: str | None = None) -> None:
    """Grouped bars: per structure, the barrier ``barrier`` of the six paths (unaligned,
    activation and weight matched; solid bars plain, hatched bars REPAIRed; mean over
    pairs, whiskers: sd, dots: pairs) on the left; on the right the T4 certificate bound
    of the plain paths (log scale) or, when the certificate does not apply (LayerNorm
    networks), its status and reason as text (``note``)."""
    aligns = ["unaligned", "activation", "weight"]
    any_bound = any(g["alignment"] in aligns and g["certificate"]["median"] is not None for g in groups)
    if any_bound:
        fig, (ax, axc) = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1.5, 1]})
    else:
        fig, ax = plt.subplots(figsize=(9, 5.2))
        axc = None
    x = np.arange(len(structures))
    w = 0.13
    for j, name in enumerate([*aligns, *(a + "+repair" for a in aligns)]):
        al, repaired = name.split("+")[0], name.endswith("+repair")
        means, sds, bounds, meas_b = [], [], [], []
        for s in structures:
            g = next((g for g in groups if g["structure"] == s and g["alignment"] == name), None)
            means.append(_nan(g["barrier"]["mean"]) if g else np.nan)
            sds.append(_nan(g["barrier"]["std"]) if g else np.nan)
            bounds.append(_nan(g["certificate"]["median"]) if g else np.nan)
            meas_b.append(g["values"] if g else [])
        xs = x + (j - 2.5) * w
        label = ALIGN_LABELS[al] + (", REPAIRed" if repaired else "")
        ax.bar(xs, means, w, yerr=sds, color=ALIGN_COLORS[al], alpha=0.5 if repaired else 0.9, capsize=2,
               hatch="///" if repaired else None, edgecolor="k" if repaired else None, linewidth=0.4, label=label)
        for xi, vals in zip(xs, meas_b):
            vals = [v for v in vals if v is not None]
            ax.scatter(np.full(len(vals), xi), vals, s=8, color="k", alpha=0.55, zorder=3, linewidths=0)
        if repaired or axc is None:
            continue
        b = np.array(bounds)
        ok = np.isfinite(b) & (b > 0)
        if ok.any():
            axc.bar(x[ok] + (j - 1) * 0.26, b[ok], 0.26, color=ALIGN_COLORS[al], alpha=0.85,
                    label=f"{ALIGN_LABELS[al]}: T4 bound (median)")
    ax.set_xticks(x)
    ax.set_xticklabels([labels[s].replace(" ", "\n", 1) for s in structures], fontsize=8.5)
    ax.grid(True, axis="y", alpha=0.3)
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set_ylabel(f"{barrier} ({loss_label})")
    ax.set_title(f"E3 ({dataset}): barrier by structure and path\n(bars: mean, whiskers: sd, dots: pairs; "
                 "hatched: REPAIRed)", fontsize=10.5)
    ax.legend(fontsize=7.5, ncol=2)
    if any_bound:
        axc.set_xticks(x)
        axc.set_xticklabels([labels[s].replace(" ", "\n", 1) for s in structures], fontsize=8.5)
        axc.set_yscale("log")
        axc.set_ylabel(f"certified bound on {barrier} (log scale)")
        axc.set_title("T4 certificate of the plain paths (median over pairs)", fontsize=10.5)
        axc.grid(True, axis="y", alpha=0.3)
        axc.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    fig.tight_layout()
    if not any_bound:
        import textwrap  # stdlib, only for this footnote

        text = "\n".join(textwrap.wrap(note or "T4 certificate: no bound in this run", 120))
        fig.subplots_adjust(bottom=0.28)
        fig.text(0.01, 0.01, text, ha="left", va="bottom", fontsize=8)
    save_figure(fig, path)


# ----------------------------------------------------------------------------- E4
E4_COLORS = {"standard": "#7f7f7f", "w-mlp-0": "#1f77b4", "w-mlp-1": "#d62728"}


def _symlog_axis(ax, values, linthresh: float) -> None:
    """Symlog y axis, linear within ``linthresh``, with at most 5 labelled ticks."""
    v = np.abs(np.array([_nan(x) for x in values], dtype=np.float64))
    v = v[np.isfinite(v)]
    top = max(float(v.max()) if v.size else linthresh, linthresh * 10)
    lo, hi = int(np.floor(np.log10(linthresh))), int(np.ceil(np.log10(top)))
    mags = sorted({hi, (lo + hi + 1) // 2})  # no tick at +-linthresh: it would collide with 0
    ax.set_yscale("symlog", linthresh=linthresh)
    ax.set_yticks([-(10.0 ** k) for k in reversed(mags)] + [0.0] + [10.0 ** k for k in mags])
    ax.set_ylim(-(10.0 ** hi) * 1.5, (10.0 ** hi) * 1.5)


def plot_e4(results: dict, path, *, labels: dict, barrier: str, gamma_rtol: float, identity_threshold: float,
            barrier_tol: float) -> None:
    """E4 against epochs in one figure. Left column (whole network, test split): the
    unaligned barrier, the aligned barriers, the endpoints' test loss. One column per
    hidden layer: D4 identity fraction, relative margin ``gamma / mean K_ii`` and the
    median ``Delta_in`` (symlog axes). One color per structure; dotted lines: the
    criteria's thresholds."""
    series = results["series"]
    n_layers = len(next(iter(series.values()))["layers"])
    fig, axes = plt.subplots(3, n_layers + 1, figsize=(2.9 * (n_layers + 1), 6.6), sharex=True, squeeze=False)
    styles = {"activation": "--", "weight": ":"}
    gam_vals, din_vals = [], []
    for st, s in series.items():
        ep = np.array(s["epochs"], dtype=float)
        col = E4_COLORS.get(st, "k")
        axes[0, 0].plot(ep, [_nan(v) for v in s["barrier"]["unaligned"]], "-o", ms=3, color=col, label=labels[st])
        for al, ls in styles.items():
            axes[1, 0].plot(ep, [_nan(v) for v in s["barrier"][al]], ls, marker=".", ms=3, color=col)
        axes[2, 0].plot(ep, [_nan(v) for v in s["test_loss"]], "-", color=col)
        for l, L in enumerate(s["layers"]):
            axes[0, l + 1].plot(ep, [_nan(v) for v in L["identity_fraction"]], "-o", ms=3, color=col)
            axes[1, l + 1].plot(ep, [_nan(v) for v in L["gamma_rel"]], "-o", ms=3, color=col)
            axes[2, l + 1].plot(ep, [_nan(v) for v in L["median_delta_in"]], "-o", ms=3, color=col)
            gam_vals += L["gamma_rel"]
            din_vals += L["median_delta_in"]
    axes[0, 0].axhline(barrier_tol, color="k", ls=":", lw=0.8)
    axes[0, 0].set_title(f"unaligned {barrier} (test)", fontsize=9)
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].set_title(f"aligned {barrier}: -- activation, .. weight", fontsize=9)
    axes[2, 0].set_title("endpoint test loss (mean)", fontsize=9)
    finite_din = [abs(_nan(v)) for v in din_vals if np.isfinite(_nan(v))]
    lin_d = 1e-3 * max(max(finite_din, default=1.0), 1e-12)
    for l in range(n_layers):
        a0, a1, a2 = axes[0, l + 1], axes[1, l + 1], axes[2, l + 1]
        a0.set_title(f"layer {l}: identity fraction (D4)", fontsize=9)
        a0.axhline(identity_threshold, color="k", ls=":", lw=0.8)
        a0.set_ylim(-0.03, 1.03)
        a1.set_title(f"layer {l}: gamma / mean K_ii", fontsize=9)
        _symlog_axis(a1, gam_vals, max(gamma_rtol, 1e-12))
        a1.axhline(gamma_rtol, color="k", ls=":", lw=0.8)
        a1.axhline(0.0, color="0.6", lw=0.6)
        a2.set_title(f"layer {l}: median Delta_in", fontsize=9)
        _symlog_axis(a2, din_vals, lin_d)
        a2.axhline(0.0, color="0.6", lw=0.6)
    for a in axes.ravel():
        a.grid(True, alpha=0.3)
        a.tick_params(labelsize=7.5)
    for a in axes[-1]:
        a.set_xlabel("epoch", fontsize=8.5)
    fig.suptitle("E4: identifiability and barriers during training (dotted: criteria thresholds)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=72)
