"""P3: cost and swap-cost bounds for layers with ``f = 0`` (THEORY.md P3).

:func:`confirm_p3` measures the bounds on one layer (every neuron with ``eps < p``);
:func:`check_p3` gives the verdict at the entries closest to violating them.
Tolerances: ``REL_TOL`` relative slack on the bounds (rounding in ``K``), ``ISO_TOL``
for "``S_i`` invertible beyond rounding" (``p - eps_i > ISO_TOL``).
"""

from __future__ import annotations

import math

import numpy as np

from neuronid.numerics.costs import layer_costs
from neuronid.numerics.network import Network

from ._common import (
    Check,
    ISO_TOL,
    REL_TOL,
    _activation_text,
    _anisotropy_defects,
    _finite_scale,
    _hidden_ok,
    _layer_facts,
    _runs,
    _with_defects,
    evaluate,
)
from .context import CheckContext

# ============================================================== numbers
def confirm_p3(net: Network, X, layer: int = 0, *, tau: float = 1.0, costs=None, K=None, delta_in=None,
             eig_tol: float = ISO_TOL) -> dict:
    """P3 bounds on a layer with ``f = 0``: for neurons with ``eps_i = ||S_i - p I|| < p``,
    ``|K[i,j] - ||a_j||^2/p| <= ||a_j||^2 eps_i / (p (p - eps_i))`` and
    ``|Delta_in(i,j)| <= (eta_i + eta_j)(||a_i||^2 + ||a_j||^2)``.

    Bounds are compared with a relative slack of ``REL_TOL`` (rounding in ``K``); a neuron
    qualifies when ``p - eps_i > eig_tol`` (``S_i`` invertible beyond rounding: its
    eigenvalues lie in [0, 1] and carry errors ~1e-15 r). ``K`` and
    ``delta_in`` override the layer's measured matrices (the checkers pass mutated ones
    in mutation tests)."""
    _hidden_ok(net, layer)
    lay = net.layers[layer]
    lc = costs if costs is not None else layer_costs(net, X, layer, tau=tau, compute_delta_out=False)
    p = lc.eff.p
    eps = lc.anisotropy
    K = lc.K if K is None else K
    D = lc.delta_in if delta_in is None else delta_in
    aa = np.sum(lc.eff.A**2, axis=1)
    ok_neuron = p - eps > eig_tol
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(ok_neuron, eps / (p * (p - eps)), np.inf)
    rows = np.flatnonzero(ok_neuron)
    k_bound = aa[None, :] * eta[rows][:, None]
    k_dev = np.abs(K[rows] - aa[None, :] / p)
    k_viol = k_dev > k_bound * (1 + REL_TOL) + REL_TOL * (aa[None, :] / p + 1e-300)
    pair = np.ix_(rows, rows)
    d_bound = (eta[rows][:, None] + eta[rows][None, :]) * (aa[rows][:, None] + aa[rows][None, :])
    d_dev = np.abs(D[pair])
    d_viol = d_dev > d_bound * (1 + REL_TOL) + REL_TOL * (aa[rows][:, None] + aa[rows][None, :]) / p
    with np.errstate(divide="ignore", invalid="ignore"):
        k_ratio = np.where(k_bound > 0, k_dev / k_bound, 0.0)
        d_ratio = np.where(d_bound > 0, d_dev / d_bound, 0.0)
    return {
        "result": "P3",
        "layer": layer,
        "f_zero": bool(np.all(lay.fixed == 0.0)),
        "equal_activations": len(set(lc.eff.names)) == 1,  # identity for normalized layers (N1)
        "p": p,
        "max_anisotropy": float(np.max(eps)) if eps.size else 0.0,
        "applicable_neurons": int(rows.size),
        "neurons": int(K.shape[0]),
        "K_entries_checked": int(k_dev.size),
        "K_violations": int(np.sum(k_viol)),
        "delta_pairs_checked": int(rows.size * (rows.size - 1) // 2),
        "delta_violations": int(np.sum(np.triu(d_viol, 1))),
        "max_K_ratio": float(np.max(k_ratio)) if k_ratio.size else 0.0,
        "max_delta_ratio": float(np.max(d_ratio)) if d_ratio.size else 0.0,
        "max_abs_delta_in": float(np.max(np.abs(D[pair]))) if rows.size else 0.0,
        "ok": bool(not np.any(k_viol) and not np.any(d_viol)),
    }


def check_p3(ctx: CheckContext) -> list[Check]:
    """P3 per hidden layer and run, both conclusions, each at the entry closest to
    violating it (largest ratio to its bound) among neurons with ``eps < p``: the cost
    bound ``|K[k,j] - ||a_j||^2/p| <= ||a_j||^2 eta_k`` and the swap bound on
    ``|Delta_in(i, j)|``."""
    checks = []
    for run in _runs(ctx):
        net = (ctx.A, ctx.B)[run]
        for l in range(ctx.n_hidden):
            lc = ctx.costs[run][l]
            K, D = ctx.layer_K(run, l)
            eps = ctx.layer_anisotropy(run, l)
            facts = _layer_facts(net, l)
            summary = {**_p3_worst_pair(lc, D, eps), **_p3_worst_entry(lc, K, eps)}
            q = {k: v for k, v in confirm_p3(net, None, l, costs=lc, K=K, delta_in=D).items()
                 if k not in ("result", "layer")}
            values = {"fixed_norm": facts["fixed_norm"], "same_activation": facts["same_activation"],
                      **summary, "tol": REL_TOL * max(_finite_scale(K), 1e-300), "iso_tol": ISO_TOL}
            context = (f"{q['K_violations']}/{q['K_entries_checked']} K entries and {q['delta_violations']}/"
                       f"{q['delta_pairs_checked']} pairs outside the bounds; {q['applicable_neurons']}/"
                       f"{q['neurons']} neurons with eps < p")
            check = evaluate("P3", ctx.scope(run, l), values, quantities=q, context=context,
                             explanations=_activation_text(net, l))
            used = summary.get("pair", []) + summary.get("entry", [])[:1]
            checks.append(_with_defects(check, _anisotropy_defects(ctx, run, l, eps, used)))
    return checks


def _p3_eta(lc, eps):
    """``eta = eps / (p (p - eps))`` for neurons with ``eps < p - ISO_TOL`` (P3's H4), else inf."""
    p = lc.eff.p
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p - eps > ISO_TOL, eps / (p * (p - eps)), np.inf)


def _p3_worst_pair(lc, D, eps) -> dict:
    p = lc.eff.p
    aa = np.sum(lc.eff.A ** 2, axis=1)
    m = aa.size
    if m < 2:
        return {"p": p, "eps_i": eps[0] if m else 0.0, "eps_j": eps[0] if m else 0.0,
                "aniso_i": eps[0] if m else 0.0, "aniso_j": eps[0] if m else 0.0,
                "delta_in": 0.0, "norm_a_i": 0.0, "norm_a_j": 0.0}
    eta = _p3_eta(lc, eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (eta[:, None] + eta[None, :]) * (aa[:, None] + aa[None, :])
        ratio = np.abs(D) / bound
    ratio = np.where(np.isfinite(bound) & (bound > 0) & ~np.isnan(ratio), ratio, -np.inf)
    # a zero bound with a nonzero Delta_in is the worst case of all
    ratio = np.where((bound == 0) & (np.abs(D) > 0), np.inf, ratio)
    np.fill_diagonal(ratio, -np.inf)
    if np.all(ratio == -np.inf):  # no applicable pair: report the most anisotropic neurons
        order = np.argsort(-eps)
        i, j = int(order[0]), int(order[1])
    else:
        i, j = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    return {"p": p, "eps_i": eps[i], "eps_j": eps[j], "aniso_i": eps[i], "aniso_j": eps[j],
            "delta_in": D[i, j], "norm_a_i": math.sqrt(aa[i]), "norm_a_j": math.sqrt(aa[j]),
            "pair": [int(i), int(j)]}


def _p3_worst_entry(lc, K, eps) -> dict:
    """The entry ``K[k, j]`` with the largest ``|K - ||a_j||^2/p| / (||a_j||^2 eta_k)``."""
    p = lc.eff.p
    aa = np.sum(lc.eff.A ** 2, axis=1)
    if aa.size == 0:
        return {"eps_k": 0.0, "aniso_k": 0.0, "K_kj": 0.0, "sqnorm_a_j": 0.0}
    eta = _p3_eta(lc, eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.abs(K - aa[None, :] / p)
        bound = aa[None, :] * eta[:, None]
        ratio = dev / bound
    ratio = np.where(np.isfinite(bound) & (bound > 0) & ~np.isnan(ratio), ratio, -np.inf)
    ratio = np.where(np.isfinite(bound) & (bound == 0) & (dev > 0), np.inf, ratio)
    if np.all(ratio == -np.inf):
        k = int(np.argmax(eps))
        j = 0
    else:
        k, j = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    return {"eps_k": eps[k], "aniso_k": eps[k], "K_kj": K[k, j], "sqnorm_a_j": aa[j], "entry": [int(k), int(j)]}
