"""P5: the realization set of a neuron with a non-decreasing activation is convex
(THEORY.md P5): the midpoint of two realizations realizes the same function.

Tolerance: relative ``P5_MIDPOINT_TOL = 1e-6`` (cvxpy solves at 1e-10; residuals are
amplified by ``|sigma'| <= Lip``); the pair test (A's and B's parameters of a neuron
computing the same function) uses ``FUNCTION_TOL`` to decide "same function".
"""

from __future__ import annotations

import numpy as np

from neuronid.errors import UnknownActivationError
from neuronid.numerics.realization import Realizer

from ._common import Check, _act_numpy, _monotone, _determined, _neuron_names, evaluate
from .context import CheckContext

#: relative midpoint error allowed (solver tolerance, see the module docstring)
P5_MIDPOINT_TOL = 1e-6


# ----------------------------------------------------------------------------- P5
def check_p5(ctx: CheckContext, *, neurons: int = 2, max_points: int = 128) -> list[Check]:
    """P5 per hidden layer of A: two realizations of a neuron's function (the trained
    parameters and the min-norm realization from cvxpy, D2) and their midpoint;
    convexity means the midpoint realizes the same function on the support. Where B's
    neuron computes the same function on the same inputs, A's and B's parameters are a
    second pair of realizations and their midpoint is tested too."""
    checks = []
    net = ctx.A
    for l in range(ctx.n_hidden):
        layer = net.layers[l]
        names = _neuron_names(layer)
        mono = _monotone(names)
        pts = ctx.traces[0].inputs[l]
        if pts.shape[0] > max_points:
            pts = pts[np.sort(np.random.default_rng(ctx.seed).choice(pts.shape[0], max_points, replace=False))]
        W = layer.effective_weight()
        worst = 0.0
        rows = []
        tested = 0
        for i in range(min(neurons, W.shape[0])):
            act = names[i]
            z = pts @ W[i] + layer.bias[i]
            h = _act_numpy(act, z)
            try:
                res = Realizer(pts, activation=act, mask=layer.mask[i], fixed=layer.fixed[i]).realize(h, z_hint=z)
            except UnknownActivationError as exc:  # no preimages for this activation: this neuron is untested
                rows.append({"neuron": i, "status": "not supported", "reason": str(exc)})
                continue
            res = ctx.mutate("P5.realization", res)
            if res.theta is None or res.bias is None:
                rows.append({"neuron": i, "status": res.status})
                continue
            w2 = layer.mask[i] * res.theta + layer.fixed[i]
            z_mid = pts @ (0.5 * (W[i] + w2)) + 0.5 * (layer.bias[i] + res.bias)
            h2 = _act_numpy(act, pts @ w2 + res.bias)
            err_2 = float(np.max(np.abs(h2 - h)))
            h_mid = np.asarray(ctx.mutate("P5.midpoint", _act_numpy(act, z_mid)), dtype=np.float64)
            err_mid = float(np.max(np.abs(h_mid - h)))
            scale = max(float(np.max(np.abs(h))), 1.0)
            rows.append({"neuron": i, "status": res.status, "second_realization_error": err_2,
                         "midpoint_error": err_mid, "scale": scale})
            if err_2 <= P5_MIDPOINT_TOL * scale:  # a genuine second realization (solver tolerance)
                worst = max(worst, err_mid / scale)
                tested += 1
        pair = _p5_pair_midpoints(ctx, l)
        worst = max(worst, pair["max_relative_midpoint_error"])
        tested += pair["neurons_compared"]
        values = {"nondecreasing": _determined(names, mono != "non_monotone")}
        if tested:  # nothing tested: the conclusion stays undetermined (no value)
            values["realization_set_convex"] = worst <= P5_MIDPOINT_TOL
        q = {"activation_class": mono, "neurons": rows, "max_relative_midpoint_error": worst,
             "tolerance": P5_MIDPOINT_TOL, "support_points": int(pts.shape[0]), "pair_test": pair, "neurons_tested": tested}
        notes = ["midpoint test of two realizations; relative tolerance 1e-6 "
                 "(cvxpy solves at 1e-10, residuals amplified by |sigma'| <= Lip)"]
        if not tested:
            notes.append("no neuron could be tested (no second realization found): undetermined")
        checks.append(evaluate("P5", ctx.scope(0, l), values, quantities=q, notes=notes,
                               context=f"{tested} neurons tested, max relative midpoint error {worst:.3g}"))
    return checks


def _p5_pair_midpoints(ctx: CheckContext, l: int) -> dict:
    """P5 on the pair: where A and B feed layer ``l`` the same inputs and neuron ``i``
    computes the same function in both, ``(theta_A + theta_B) / 2`` realizes it too
    when the activation is non-decreasing (the neurons and their midpoint
    pre-activations are measured once on the evaluation passes,
    :attr:`~.context.CheckContext.pair_functions`)."""
    out = {"neurons_compared": 0, "max_relative_midpoint_error": 0.0}
    if ctx.B is ctx.A or not ctx.sizes_equal:
        out["note"] = "no second network of the same sizes"
        return out
    data = ctx.pair_functions["p5"][l]
    if "note" in data:
        out["note"] = data["note"]
        return out
    worst = 0.0
    for k, name in enumerate(data["names"]):
        h_mid = np.asarray(ctx.mutate("P5.midpoint", _act_numpy(name, data["z_mid"][:, k])), dtype=np.float64)
        err = float(np.max(np.abs(h_mid - data["h"][:, k]))) / data["scale"][k]
        worst = max(worst, err)
    out.update({"neurons_compared": int(data["same"].size), "max_relative_midpoint_error": worst})
    return out
