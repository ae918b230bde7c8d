"""P4: the swap cost of isotropic layers is ``(2/p)(a_i - a_j).(v_i - v_j)`` (THEORY.md P4).

:func:`confirm_p4` measures the identity (exact for ``S_i = p I``, e.g. syre layers)
and its perturbation bound otherwise; :func:`p4_growth` its consequence (``Delta``
grows with ``sigma_F``); :func:`check_p4` the verdict at the worst pair;
:func:`generated_layer_checks` runs P2-P4 on small generated networks.
Tolerances: ``ISO_TOL`` for isotropy, ``REL_TOL`` for rounding in ``Delta_in``.
"""

from __future__ import annotations

import numpy as np

from neuronid.numerics.costs import layer_costs, pair_difference_dots, squared_center_distances
from neuronid.numerics.network import Network
from neuronid.numerics.structures import standard_mlp, syre_mlp, w_mlp

from ._common import (
    Check,
    ISO_TOL,
    REL_TOL,
    _anisotropy_defects,
    _finite_scale,
    _g,
    _hidden_ok,
    _runs,
    _with_defects,
    _worst_entry,
    evaluate,
    random_support_points,
)
from .context import CheckContext
from .p2 import confirm_p2
from .p3 import confirm_p3

# ============================================================== numbers
def p4_dot(A, V) -> np.ndarray:
    """``dot[i, j] = (a_i - a_j) . (v_i - v_j)`` for rows ``a``, ``v`` of ``A``, ``V``."""
    return pair_difference_dots(A, V)  # streamed: no (m, m, r) temporary


def confirm_p4(net: Network, X, layer: int = 0, *, tau: float = 1.0, costs=None, K=None, delta_in=None, V=None,
             dot=None) -> dict:
    """P4: ``Delta_in(i, j) = (2/p)(a_i - a_j) . (v_i - v_j)`` when ``S_i = S_j = p I``
    (syre layers: exactly, ``p = 1``); otherwise ``|Delta_in - (2/p)(...)|`` is at most
    ``eta_i (||a_j - v_i||^2 + ||a_i - v_i||^2) + eta_j (||a_i - v_j||^2 + ||a_j - v_j||^2)``
    with ``eta = eps / (p (p - eps))`` (the P3 argument applied to ``g = a - v``).
    ``K``, ``delta_in``, ``V`` override the measured quantities and ``dot`` passes a
    precomputed :func:`p4_dot` (the checker computes it once)."""
    _hidden_ok(net, layer)
    lc = costs if costs is not None else layer_costs(net, X, layer, tau=tau, compute_delta_out=False)
    p = lc.eff.p
    A = lc.eff.A
    V = lc.eff.V if V is None else V
    K = lc.K if K is None else K
    D = lc.delta_in if delta_in is None else delta_in
    eps = lc.anisotropy
    ideal = (2.0 / p) * (p4_dot(A, V) if dot is None else dot)
    dev = np.abs(D - ideal)
    G = squared_center_distances(A, V)  # G[i, j] = ||a_j - v_i||^2, streamed
    gd = np.diag(G)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(eps < p, eps / (p * (p - eps)), np.inf)
    bound = eta[:, None] * (G + gd[:, None]) + eta[None, :] * (G.T + gd[None, :])
    # rounding scale of Delta_in: the four K entries it is made of
    Kabs = np.abs(K)
    kd = np.diag(Kabs)
    rounding_scale = Kabs + Kabs.T + kd[:, None] + kd[None, :] + np.abs(ideal)
    rounding = REL_TOL * rounding_scale
    exact_case = bool(np.max(eps, initial=0.0) <= ISO_TOL)
    viol = dev > bound + rounding
    np.fill_diagonal(viol, False)
    off = ~np.eye(K.shape[0], dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.isfinite(bound), dev / (bound + rounding), 0.0)
    return {
        "result": "P4",
        "layer": layer,
        "p": p,
        "max_anisotropy": float(np.max(eps)) if eps.size else 0.0,
        "exact_identity_case": exact_case,
        "max_abs_identity_error": float(np.max(dev[off])) if np.any(off) else 0.0,
        "max_relative_identity_error": _max_ratio(dev, rounding_scale, off),
        "pairs_checked": int(np.sum(np.isfinite(bound[off]))) // 2,
        "violations": int(np.sum(np.triu(viol, 1))),
        "max_bound_ratio": float(np.max(ratio[off])) if np.any(off) else 0.0,
        "mean_delta_in": float(np.mean(D[off])) if np.any(off) else 0.0,
        "ok": bool(not np.any(viol)),
    }


def _max_ratio(num, den, where) -> float:
    """``max(num / den)`` over ``where`` (0 when empty; inf/inf entries skipped)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (num / np.maximum(den, 1e-300))[where]
    ratio = ratio[~np.isnan(ratio)]
    return float(np.max(ratio)) if ratio.size else 0.0


def p4_growth(sigma_fs=(0.0, 0.5, 1.0, 2.0), *, d: int = 48, m: int = 24, n_fixed: int = 12, r: int = 6,
              n: int = 300, seed: int = 0) -> dict:
    """P4's consequence: mean ``Delta_in`` of W-MLP layers grows with ``sigma_F^2 (1-p) r``
    (untrained networks on an ``r``-dimensional subspace support; same masks and
    trainable weights for every ``sigma_F``)."""
    rng = np.random.default_rng(seed)
    X = random_support_points(rng, n, d, r, spread=float(np.sqrt(n)))
    means = []
    for sf in sigma_fs:
        net = w_mlp([d, m, 2], activation="tanh", n_fixed=[n_fixed, 1], sigma_F=float(sf), seed=seed)
        lc = layer_costs(net, X, 0, tau=1.0, compute_delta_out=False)
        off = ~np.eye(m, dtype=bool)
        means.append(float(np.mean(lc.delta_in[off])))
    p = 1.0 - n_fixed / d
    scale = [float(sf) ** 2 * (1 - p) * r for sf in sigma_fs]
    return {"result": "P4", "sigma_F": list(map(float, sigma_fs)), "mean_delta_in": means,
            "sigma_F2_1mp_r": scale, "p": p, "r": r,
            "increasing": bool(all(b >= a for a, b in zip(means, means[1:])))}


def check_p4(ctx: CheckContext) -> list[Check]:
    """P4 per hidden layer and run: ``Delta_in = (2/p)(a_i - a_j).(v_i - v_j)`` at
    the pair with the largest deviation (exact when ``S_i = p I``, e.g. syre). The
    isotropy hypothesis uses the dimensionless tolerance :data:`ISO_TOL`."""
    checks = []
    for run in _runs(ctx):
        net = (ctx.A, ctx.B)[run]
        for l in range(ctx.n_hidden):
            lc = ctx.costs[run][l]
            if lc.K.shape[0] < 2:
                continue
            K, D = ctx.layer_K(run, l)
            eps = ctx.layer_anisotropy(run, l)
            p = lc.eff.p
            A = lc.eff.A
            V = np.asarray(ctx.mutate("P4.centers", lc.eff.V.copy()), dtype=np.float64)
            dot = p4_dot(A, V)  # once: shared with the numeric confirmation below
            q = {k: v for k, v in confirm_p4(net, None, l, costs=lc, K=K, delta_in=D, V=V, dot=dot).items()
                 if k not in ("result", "layer")}
            dev = np.abs(D - (2.0 / p) * dot)
            np.fill_diagonal(dev, -np.inf)
            # unrealizable swaps (inf: only between neurons with different activations, since
            # S = p I realizes every target) are outside P4's setting
            dev = np.where(np.isfinite(dev), dev, -np.inf)
            i, j = np.unravel_index(int(np.argmax(dev)), dev.shape)
            scale = max(_finite_scale(K), float(np.max(np.abs(dot))), 1e-300)
            # K[k, j] = ||a_j - v_k||^2 / p where S_k = p I (P1); worst entry among finite ones
            G = squared_center_distances(A, V)  # G[k, j] = ||a_j - v_k||^2, streamed
            iso = eps <= ISO_TOL
            # (unrealizable entries, inf, occur only between different activations: outside P4)
            kd = np.where(iso[:, None] & np.isfinite(K), np.abs(K - G / p), -np.inf)
            k, jk = _worst_entry(kd)
            values = {"aniso_i": eps[i], "aniso_j": eps[j], "p": p, "iso_tol": ISO_TOL,
                      "delta_in": D[i, j], "dot_av": dot[i, j], "K_kj": K[k, jk], "sqnorm_g_kj": G[k, jk],
                      "tol": REL_TOL * scale}
            q["K_entry"] = [int(k), int(jk)]
            q["pair"] = [int(i), int(j)]
            top = int(np.argmax(eps))
            which = "worst pair" if np.isfinite(dev[i, j]) else "no pair with a finite Delta_in; pair"
            context = (f"{which} (i, j) = ({i}, {j}): aniso_i = {_g(eps[i])} (neuron {i}), aniso_j = "
                       f"{_g(eps[j])} (neuron {j}); max anisotropy {_g(eps[top])} at neuron "
                       f"{top} of {lc.K.shape[0]}; K entry (k, j) = ({k}, {jk})")
            check = evaluate("P4", ctx.scope(run, l), values, quantities=q, context=context)
            checks.append(_with_defects(check, _anisotropy_defects(ctx, run, l, eps, [i, j, k])))
    return checks


def generated_layer_checks(seed: int = 0) -> dict:
    """P2, P3 and P4 on small generated networks (standard, W-MLP ``sigma_F = 0``,
    syre, W-MLP ``sigma_F = 1``), for quick reports."""
    rng = np.random.default_rng(seed)
    d, m, r = 64, 12, 3
    X = random_support_points(rng, 200, d, r, spread=float(np.sqrt(200)))
    return {
        "P2": confirm_p2(standard_mlp([d, m, 4], activation="tanh", seed=seed), X),
        "P3": confirm_p3(w_mlp([d, m, 4], activation="tanh", n_fixed=[4, 1], sigma_F=0.0, seed=seed), X),
        "P4_syre": confirm_p4(syre_mlp([d, m, 4], activation="tanh", kappa=1.0, seed=seed), X),
        "P4_wmlp": confirm_p4(w_mlp([d, m, 4], activation="tanh", n_fixed=[4, 1], sigma_F=1.0, seed=seed), X),
    }
