"""P2: standard layers have zero incoming swap cost (THEORY.md P2).

:func:`confirm_p2` measures one layer of any network; :func:`check_p2` gives the
verdict per hidden layer and run. Both judge ``Delta_in`` with ``REL_TOL`` of the
largest finite cost ``|K|`` (one tolerance for the quantity).
"""

from __future__ import annotations

import math

import numpy as np

from neuronid.numerics.costs import layer_costs
from neuronid.numerics.network import Network

from ._common import (
    Check,
    REL_TOL,
    _activation_text,
    _finite_scale,
    _hidden_ok,
    _layer_facts,
    _runs,
    _worst_entry,
    evaluate,
)
from .context import CheckContext

# ============================================================== numbers
def confirm_p2(net: Network, X, layer: int = 0, *, tau: float = 1.0, costs=None) -> dict:
    """P2 on a network layer: hypotheses (mask 1, fixed 0, equal activations) and the
    conclusion ``K[i, j] = ||a_j||^2`` (so ``Delta_in = 0``); ``Delta_out = 0`` when
    the next layer is standard too."""
    _hidden_ok(net, layer)
    lay = net.layers[layer]
    nxt = net.layers[layer + 1]
    lc = costs if costs is not None else layer_costs(net, X, layer, tau=tau)
    K = lc.K
    scale = max(float(np.max(np.abs(K[np.isfinite(K)]))) if np.any(np.isfinite(K)) else 0.0, 1e-300)
    aa = np.sum(lc.eff.A**2, axis=1)
    return {
        "result": "P2",
        "layer": layer,
        "standard_layer": bool(np.all(lay.mask == 1.0) and np.all(lay.fixed == 0.0)),
        "equal_activations": len(set(lc.eff.names)) == 1,  # identity for normalized layers (N1)
        "standard_next_layer": bool(np.all(nxt.mask == 1.0) and np.all(nxt.fixed == 0.0)),
        "max_abs_delta_in": float(np.max(np.abs(lc.delta_in))),
        "max_abs_delta_out": float(np.max(np.abs(lc.delta_out))),
        "max_abs_K_minus_norm": float(np.max(np.abs(K - aa[None, :]))),
        "scale": scale,
        "relative_delta_in": float(np.max(np.abs(lc.delta_in))) / scale,
        "gamma": lc.gamma,
        # rounding: K entries are sums of r^2 products of O(scale) numbers (REL_TOL)
        "tolerance": REL_TOL,
        "ok": float(np.max(np.abs(lc.delta_in))) / scale <= REL_TOL and float(np.max(np.abs(lc.delta_out))) == 0.0,
    }


def check_p2(ctx: CheckContext) -> list[Check]:
    """P2 per hidden layer and run: ``Delta_in = 0`` for standard layers."""
    checks = []
    for run in _runs(ctx):
        net = (ctx.A, ctx.B)[run]
        for l in range(ctx.n_hidden):
            lc = ctx.costs[run][l]
            facts = _layer_facts(net, l)
            K, D = ctx.layer_K(run, l)
            scale = _finite_scale(K)
            max_d = float(np.max(np.abs(D[np.isfinite(D)]), initial=0.0)) if np.any(np.isfinite(D)) else math.inf
            aa = np.sum(lc.eff.A ** 2, axis=1)
            k, j = _worst_entry(np.abs(K - aa[None, :]))
            values = {**facts, "delta_in": max_d, "K_kj": K[k, j], "sqnorm_a_j": aa[j],
                      "tol": REL_TOL * max(scale, 1e-300)}
            q = {"max_abs_K": scale, "gamma": lc.gamma, "median_delta": lc.summary()["median_delta"]}
            checks.append(evaluate("P2", ctx.scope(run, l), values, quantities=q,
                                   explanations=_activation_text(net, l)))
    return checks
