"""The plots of the reports and commands (one plots module; THEORY.md D1-D5, P2-P4, T1, T4).

The experiment figures (E1-E4) live in :mod:`neuronid.proofs_checks.experiments.plots`,
which reuses :data:`DPI` and :func:`signed_sqrt` from here; everything a command or a
``check`` report draws is here.

- :func:`plot_paths`: loss along each path of a ``check`` report with the T4
  certificate band (``barriers.png``); the loss axis follows the measured losses and a
  band taller than the axis is drawn clipped and labelled with its true height.
- :func:`plot_swap_heatmap`: a swap-cost matrix (``Delta``, ``Delta_in``, ...) with a
  signed square-root color scale ``sign(x) sqrt(|x|)`` (as in the paper's Figure 5),
  diverging around 0; unrealizable (``inf``) entries in gray.
- :func:`plot_effective_classes`: for rank-2 supports (or the projection onto the
  first two principal directions), each neuron's cost level set
  ``{a : C_i(a) = c}`` in effective coordinates -- an ellipse with center ``v_i`` and
  shape ``S_i`` -- and the neurons' current functions ``a_j`` as points, with arrows
  from each neuron's center to its own function. Standard layers: all ellipses equal
  (circles around 0); W-MLPs with ``sigma_F = 0``: different shapes, common center 0;
  ``sigma_F > 0``: separate centers.
- :func:`plot_anisotropy`: per-neuron ``||S_i - p I||`` against the T1 bounds.
- :func:`plot_t1_monte_carlo`: Monte Carlo quantiles vs the T1 bound.
- :func:`write_cost_plots`: all plots of a list of :class:`~neuronid.numerics.costs.LayerCosts`.
- :func:`effective_classes_demo`: the three-panel picture of effective function classes.

PNG files at 110 dpi. The Agg backend is selected before pyplot is imported.

Example
-------
>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "heat.png")
>>> plot_swap_heatmap(np.array([[0.0, 4.0], [4.0, 0.0]]), path, title="toy")
>>> os.path.getsize(path) > 0
True
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
import numpy as np  # noqa: E402

from neuronid.numerics.costs import layer_costs  # noqa: E402
from neuronid.numerics.io import write_figure  # noqa: E402
from neuronid.numerics.structures import standard_mlp, w_mlp  # noqa: E402

__all__ = [
    "plot_paths",
    "paths_figure",
    "save_figure",
    "signed_sqrt",
    "plot_swap_heatmap",
    "effective_panel",
    "plot_effective_classes",
    "plot_anisotropy",
    "plot_t1_monte_carlo",
    "write_cost_plots",
    "effective_classes_demo",
    "DPI",
]

DPI = 110


def signed_sqrt(x):
    """``sign(x) * sqrt(|x|)`` elementwise (``inf`` stays ``inf``)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.sqrt(np.abs(x))


def save_figure(fig, path, *, dpi: int = DPI) -> None:
    """Write ``fig`` atomically (never through a hard link at ``path``) and close it; the
    experiments' plots use it too."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_figure(path, fig, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)


def plot_swap_heatmap(D, path, *, title: str = "swap costs", label: str = "Delta(i, j)", scale=None) -> None:
    """Heatmap of a swap-cost matrix with a signed square-root color scale.

    Parameters
    ----------
    D : (m, m) matrix (``inf`` = unrealizable swap, shown gray; ``nan`` = not computed,
        shown white).
    path : PNG file to write.
    title : figure title; a second line adds the fraction of negative entries and the
        median of the finite off-diagonal entries.
    label : name of the quantity (colorbar label).
    scale : typical cost magnitude (e.g. ``max K``); entries with ``|D| <= 1e-10 scale``
        are rounding noise and drawn as 0, and the color range is at least
        ``sqrt(1e-6 scale)`` so that an all-zero matrix (P2) looks white, not noisy.
    """
    D = np.array(D, dtype=np.float64, copy=True)
    m = D.shape[0]
    if scale is not None and scale > 0:
        D[np.isfinite(D) & (np.abs(D) <= 1e-10 * scale)] = 0.0
    off = ~np.eye(m, dtype=bool)
    vals = D[off]
    fin = vals[np.isfinite(vals)]
    T = signed_sqrt(np.where(np.isfinite(D), D, 0.0))
    lim = float(np.max(np.abs(T[np.isfinite(D)]))) if np.any(np.isfinite(D)) else 1.0
    if scale is not None and scale > 0:
        lim = max(lim, float(np.sqrt(1e-6 * scale)))
    lim = lim if lim > 0 else 1.0
    shown = np.ma.masked_where(~np.isfinite(D), T)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#9a9a9a")
    size = 5.4 if m <= 64 else 6.4
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    im = ax.imshow(shown, cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cb.set_label(f"signed sqrt of {label}: sign * sqrt(|{label}|)")
    neg = float(np.mean(fin < 0)) if fin.size else float("nan")
    med = float(np.median(fin)) if fin.size else float("nan")
    extra = f"negative: {100 * neg:.0f}%   median: {med:.3g}"
    n_inf = int(np.sum(np.isinf(vals)))
    if n_inf:
        extra += f"   gray: {n_inf} unrealizable"
    n_nan = int(np.sum(np.isnan(vals)))
    if n_nan:
        extra += f"   white: {n_nan} not computed"
    ax.set_title(f"{title}\n{extra}", fontsize=10)
    ax.set_xlabel("neuron j")
    ax.set_ylabel("neuron i")
    save_figure(fig, path)


def effective_panel(lc, title: str, *, max_neurons: int = 8, level=None) -> dict:
    """Data of one :func:`plot_effective_classes` panel from a
    :class:`~neuronid.numerics.costs.LayerCosts` with support rank >= 2 (rank > 2:
    projection onto the first two principal directions, where the ellipse of
    ``{a : C_i(a) <= c}`` has shape ``S_i[:2, :2]``)."""
    eff = lc.eff
    if eff.r < 2:
        raise ValueError(f"layer {lc.layer}: support rank {eff.r} < 2, no 2-D picture")
    m = eff.m
    idx = np.arange(min(m, max_neurons))
    if level is None:
        diag = np.diag(lc.K)[idx]
        fin = diag[np.isfinite(diag) & (diag > 0)]
        level = float(np.median(fin)) if fin.size else 1.0
    projected = eff.r > 2
    return {
        "title": title + (f" (projection of rank {eff.r} onto PC1-PC2)" if projected else ""),
        "A": eff.A[idx, :2], "V": eff.V[idx, :2], "S": eff.S[idx][:, :2, :2], "level": float(level),
        "p": eff.p,
    }


def _ellipse(center, S, level, n=200):
    lam, vec = np.linalg.eigh(0.5 * (S + S.T))
    lam = np.clip(lam, 0.0, None)
    t = np.linspace(0.0, 2.0 * np.pi, n)
    circle = np.stack([np.cos(t), np.sin(t)])
    pts = vec @ (np.sqrt(lam * level)[:, None] * circle)
    return center[0] + pts[0], center[1] + pts[1]


def plot_effective_classes(panels, path, *, suptitle: str = "effective function classes (D1, D2)") -> None:
    """Ellipses ``{a : (a - v_i)^T S_i^{-1} (a - v_i) = c}`` and current functions.

    ``panels``: list of dicts with ``title``, ``A`` (m, 2), ``V`` (m, 2), ``S`` (m, 2, 2),
    ``level`` (``c``), as returned by :func:`effective_panel`.
    """
    k = len(panels)
    fig, axes = plt.subplots(1, k, figsize=(4.6 * k, 4.9), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, panel in zip(axes[0], panels):
        A, V, S, c = panel["A"], panel["V"], panel["S"], panel["level"]
        for i in range(A.shape[0]):
            col = colors(i % 10)
            x, y = _ellipse(V[i], S[i], c)
            ax.plot(x, y, color=col, lw=1.4, alpha=0.85)
            ax.plot(V[i, 0], V[i, 1], marker="x", color=col, ms=7, mew=1.8)
            ax.annotate("", xy=A[i], xytext=V[i],
                        arrowprops=dict(arrowstyle="->", color=col, lw=1.0, alpha=0.7))
            ax.plot(A[i, 0], A[i, 1], "o", color=col, ms=6, mec="black", mew=0.6)
        ax.set_aspect("equal", adjustable="datalim")
        ax.axhline(0, color="0.85", lw=0.8, zorder=0)
        ax.axvline(0, color="0.85", lw=0.8, zorder=0)
        ax.set_title(panel["title"], fontsize=10)
        ax.set_xlabel("effective coordinate a_1 (PC1)")
        ax.set_ylabel("effective coordinate a_2 (PC2)")
    handles = [
        Line2D([], [], color="0.3", lw=1.4, label="level set C_i(a) = c (center v_i, shape S_i)"),
        Line2D([], [], color="0.3", marker="x", ls="", ms=7, mew=1.8, label="center v_i = U^T f_i"),
        Line2D([], [], color="0.3", marker="o", ls="", ms=6, mec="black", label="current function a_i = U^T w_i"),
    ]
    levels = [p["level"] for p in panels]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=9, frameon=False,
               bbox_to_anchor=(0.5, -0.04))
    if all(v == 1.0 for v in levels):
        level_text = "unit-cost ellipses, c = 1"
    else:
        level_text = "c = median own cost K[i, i]: " + ", ".join(f"{v:.3g}" for v in levels)
    fig.suptitle(f"{suptitle}; {level_text}", fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    save_figure(fig, path)


def plot_anisotropy(lc, path, *, title: str | None = None) -> None:
    """Per-neuron anisotropy ``||S_i - p I||`` (sorted) against the T1 bounds of the
    layer (Bernoulli and exact-count mask models, failure probability ``delta``)."""
    an = np.sort(np.asarray(lc.anisotropy))[::-1]
    t1 = lc.t1
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(np.arange(an.size), an, "o-", ms=3, lw=1, color="tab:blue", label="||S_i - p I|| (sorted)")
    ax.axhline(t1["bernoulli"], color="tab:red", ls="--", label=f"T1 bound, Bernoulli masks ({t1['bernoulli']:.3g})")
    ax.axhline(t1["exact_count"], color="tab:orange", ls=":",
               label=f"T1 bound, exact count per row ({t1['exact_count']:.3g})")
    ax.axhline(max(t1["p"], 1 - t1["p"]), color="0.5", ls="-.", lw=0.8, label="trivial bound max(p, 1-p)")
    ax.set_xlabel("neuron (sorted by anisotropy)")
    ax.set_ylabel("anisotropy ||S_i - p I||")
    ax.set_title(title or (f"layer {lc.layer}: anisotropy vs T1 (p = {t1['p']:.3g}, r = {t1['rank']}, "
                           f"nu = {t1['coherence']:.3g}, delta = {t1['delta']:g})"), fontsize=10)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="upper right")
    save_figure(fig, path)


def plot_t1_monte_carlo(result: dict, path) -> None:
    """Monte Carlo ``(1 - delta)``-quantile of the anisotropy vs the T1 bound per case
    of :func:`~neuronid.proofs_checks.checkers.t1.confirm_t1`."""
    cases = result["cases"]
    labels = [f"{c['coherence_kind']} nu={c['coherence']:.2f}\n{c['mask_model']}" for c in cases]
    x = np.arange(len(cases))
    fig, ax = plt.subplots(figsize=(1.8 * len(cases) + 2, 4.2))
    ax.bar(x - 0.2, [c["quantile_1_minus_delta"] for c in cases], 0.4, label="empirical (1-delta)-quantile")
    ax.bar(x + 0.2, [c["bound"] for c in cases], 0.4, label="T1 bound")
    for xi, c in zip(x, cases):
        ax.text(xi, max(c["bound"], c["quantile_1_minus_delta"]) * 1.02,
                f"viol. {100 * c['violation_rate']:.1f}%", ha="center", fontsize=8)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("||U^T diag(m) U - p I||")
    ax.set_title(f"T1 Monte Carlo: {result['n_masks']} masks, d = {result['d']}, r = {result['r']}, "
                 f"p = {result['p']}, delta = {result['delta']}", fontsize=10)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def write_cost_plots(layer_costs, out_dir, *, prefix: str = "", label: str = "") -> list[str]:
    """Heatmaps of ``Delta_in`` (the paper's swap cost), ``Delta_out`` and their sum, anisotropy plots and (rank >= 2) the
    effective-class picture of every layer; returns the written paths.

    ``prefix`` starts every file name, ``label`` every title (e.g. the network file)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for lc in layer_costs:
        tag = f"{prefix}layer{lc.layer}"
        head = f"{label}: layer {lc.layer}" if label else f"layer {lc.layer}"
        K = lc.K
        scale = float(np.max(np.abs(K[np.isfinite(K)]))) if np.any(np.isfinite(K)) else None
        p = out_dir / f"{tag}_delta_in.png"
        plot_swap_heatmap(lc.delta_in, p, title=f"{head}: swap cost Delta_in (the paper's) "
                          f"(tau = {lc.support.tau:g}, r = {lc.support.rank})", label="Delta_in", scale=scale)
        paths.append(str(p))
        p = out_dir / f"{tag}_delta_out.png"
        plot_swap_heatmap(lc.delta_out, p, title=f"{head}: outgoing swap cost Delta_out", label="Delta_out",
                          scale=scale)
        paths.append(str(p))
        p = out_dir / f"{tag}_delta_sum.png"
        plot_swap_heatmap(lc.delta, p, title=f"{head}: sum Delta_in + Delta_out", label="Delta_in + Delta_out",
                          scale=scale)
        paths.append(str(p))
        p = out_dir / f"{tag}_anisotropy.png"
        plot_anisotropy(lc, p, title=f"{head}: anisotropy vs T1 (p = {lc.t1['p']:.3g}, r = {lc.t1['rank']}, "
                        f"nu = {lc.t1['coherence']:.3g}, delta = {lc.t1['delta']:g})")
        paths.append(str(p))
        if lc.eff.r >= 2:
            p = out_dir / f"{tag}_effective_classes.png"
            plot_effective_classes([effective_panel(lc, head)], p, suptitle="effective function classes")
            paths.append(str(p))
    return paths


def effective_classes_demo(path, *, seed: int = 0, d: int = 12, m: int = 6, n: int = 400, n_fixed: int = 4,
                           sigma_F: float = 1.0) -> list[dict]:
    """The three-panel picture of effective function classes on a rank-2 support:
    standard MLP (all ellipses equal), W-MLP ``sigma_F = 0`` (different shapes, common
    center) and W-MLP ``sigma_F > 0`` (separate centers). Untrained networks with one
    shared mask draw; returns the panels."""
    rng = np.random.default_rng(seed)
    B = np.linalg.qr(rng.normal(size=(d, 2)))[0]
    X = rng.normal(size=(n, 2)) @ np.diag([1.5, 0.8]) @ B.T
    nets = [
        ("standard MLP", standard_mlp([d, m, 2], activation="tanh", seed=seed)),
        ("W-MLP, sigma_F = 0", w_mlp([d, m, 2], activation="tanh", n_fixed=[n_fixed, 1], sigma_F=0.0,
                                     seed=seed)),
        (f"W-MLP, sigma_F = {sigma_F:g}", w_mlp([d, m, 2], activation="tanh", n_fixed=[n_fixed, 1],
                                               sigma_F=sigma_F, seed=seed)),
    ]
    panels = []
    for title, net in nets:
        lc = layer_costs(net, X, 0, tau=1.0, compute_delta_out=False)
        panels.append(effective_panel(lc, title, max_neurons=m, level=1.0))
    plot_effective_classes(panels, path, suptitle="effective function classes on a rank-2 support")
    return panels


def plot_paths(report, path) -> Path:
    """Save :func:`paths_figure` of ``report`` as a PNG at ``path``."""
    path = Path(path)
    save_figure(paths_figure(report), path)
    return path


def paths_figure(report):
    """Loss along each path of a ``check`` report (a
    :class:`~neuronid.proofs_checks.report.Report`) with the T4 certificate band
    ``lerp(t) + bound(t)``, drawn from the path's typed
    :class:`~neuronid.numerics.certificate.Certificate`, and the per-sample box bound at
    the grid points (the report's T4 bound is the smaller of the two)."""
    paths = report.context.paths
    band_heights = []  # max height of each panel's certificate band (None: no band)
    fig, axes = plt.subplots(1, len(paths), figsize=(4.6 * len(paths), 3.8), squeeze=False, sharey=True)
    for ax, (name, measured) in zip(axes[0], paths.items()):
        p, entry = measured.path, measured.certified
        t = np.asarray(p.steps, dtype=float)
        loss = np.asarray(p.loss, dtype=float)
        L_A, L_B = float(loss[0]), float(loss[-1])
        fine = np.linspace(0.0, 1.0, 201)
        chord = (1 - fine) * L_A + fine * L_B
        ax.plot(t, loss, "o-", ms=3, color="tab:blue", label="measured loss L(t)")
        ax.plot(fine, chord, "--", color="gray", lw=1, label="chord (1-t) L_A + t L_B")
        if entry.status == "ok":
            upper = chord + entry.certificate.bound(fine, max(L_A, 0.0), max(L_B, 0.0), report.context.loss)
            ax.fill_between(fine, chord, upper, color="tab:orange", alpha=0.25, label="T4 certificate band")
            band_heights.append(float(np.max(upper - chord)))
            if entry.box_curve is not None:  # on the certificate's grid, which is the path's (``t``)
                ax.plot(t, (1 - t) * L_A + t * L_B + entry.box_curve, "v", ms=4, color="tab:red",
                        label="T4 per-sample box bound (grid)")
        else:
            band_heights.append(None)
        tight = entry.tightness["B_lerp"]
        b_lerp = f"{p.B_lerp:.3g}" if np.isfinite(p.B_lerp) else str(p.B_lerp)
        ax.set_title(f"{name}: B_lerp = {b_lerp}" + (f", tightness {tight:.2f}" if tight is not None else ""))
        ax.set_xlabel("t (A at 0, B at 1)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"{report.context.loss} loss")
    axes[0][0].legend(fontsize=8, loc="upper left")
    # the loss axis follows the measured losses (a vacuous band would flatten them);
    # a band taller than the axis is drawn clipped and labelled with its true height
    losses = np.concatenate([np.asarray(m.path.loss, dtype=float) for m in paths.values()])
    ymin, ymax = float(np.min(losses)), float(np.max(losses))
    top = ymax + max(2.0 * (ymax - ymin), 0.1 * abs(ymax), 1e-12)
    bottom = ymin - 0.05 * (top - ymin)
    for ax, height, measured in zip(axes[0], band_heights, paths.values()):
        ax.set_ylim(bottom, top)
        if height is not None and height > top - bottom:
            entry = measured.certified
            reported = entry.bound["B_lerp"]
            source = "per-sample box" if entry.bound_box["B_lerp"] < entry.bound_global["B_lerp"] else "global"
            ax.text(0.5, 0.6, f"certificate band clipped:\nheight up to {height:.3g}\n"
                    f"reported T4 bound B_lerp {reported:.3g} ({source})",
                    transform=ax.transAxes, ha="center", va="center", fontsize=8, color="tab:red",
                    bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
    fig.suptitle(f"{report.label}: linear paths (D5) and T4 certificate", fontsize=11)
    fig.tight_layout()
    return fig


if __name__ == "__main__":  # pragma: no cover - manual preview
    out = Path(os.environ.get("OUT", "."))
    effective_classes_demo(out / "effective_classes_demo.png")
