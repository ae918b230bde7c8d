"""P1: the cvxpy realization cost (D2) equals the closed form (THEORY.md P1).

Numbers and verdict of one result in one module:

- :func:`p1_case` / :func:`confirm_p1`: cvxpy and the closed form on generated cases,
  including unrealizable targets (both say ``inf``);
- :func:`check_p1`: the verdict on a network pair (first hidden layer of each run);
- :func:`relu_case` / :func:`confirm_relu_upper_bound`: D2's ReLU realization cost is
  never above the pre-activation cost (the closed form of P1 with ``sigma = id``).

Agreement is the registry's P1 conclusion, ``|cost_solver - cost_closed_form| <=
P1_REL_TOL max(1, |cost_closed_form|)``, the same predicate for generated cases and
for networks (:func:`p1_relative_error`).

>>> out = confirm_p1(n_cases=6, seed=0)
>>> out["cases"], out["disagreements"]
(6, 0)
"""

from __future__ import annotations

import math

import numpy as np

from neuronid.numerics.activations import apply_activation
from neuronid.numerics.costs import closed_form_cost
from neuronid.numerics.realization import Realizer
from neuronid.numerics.supports import compute_support, shape_matrices

from ._common import (Check, _determined, _monotone, _monotone_text, _neuron_names, _runs, evaluate,
                      random_support_points)
from .context import CheckContext

#: relative agreement required between cvxpy and the closed form (P1), relative to
#: ``max(1, |closed form|)`` as in the registry's predicate. CLARABEL runs with
#: gap/feasibility tolerances 1e-10, so 1e-6 leaves four orders of margin for
#: conditioning (generated supports have singular values >= 0.3).
P1_REL_TOL = 1e-6
#: solver statuses whose cost is a number to compare (``infeasible``: ``inf``)
_COST_STATUSES = ("optimal", "optimal_inaccurate", "infeasible")


def p1_relative_error(closed: float, solver_cost: float) -> float:
    """``|solver - closed| / max(1, |closed|)``: 0 when both are ``inf`` (both say
    unrealizable), ``inf`` when only one is or when the solver gave no number (``nan``:
    a cost that cannot be compared is not an agreement)."""
    if math.isnan(solver_cost) or math.isnan(closed):
        return math.inf
    if math.isinf(closed) or math.isinf(solver_cost):
        return 0.0 if math.isinf(closed) and math.isinf(solver_cost) else math.inf
    return abs(solver_cost - closed) / max(1.0, abs(closed))


def p1_case(X, mask, fixed, w, b, *, activation: str = "identity", solver=None) -> dict:
    """One P1 comparison: the target is ``h = sigma(X w + b)`` on the support ``X``;
    the neuron has ``mask``/``fixed``. Returns the closed-form cost, the cvxpy cost
    and status, and whether they agree (:func:`p1_relative_error` at most
    ``P1_REL_TOL``; both ``inf`` for unrealizable targets)."""
    X = np.asarray(X, dtype=np.float64)
    sup = compute_support(X, tau=1.0)
    U = sup.U
    S = shape_matrices(np.asarray(mask, dtype=np.float64)[None, :], U)[0]
    closed = closed_form_cost(S, U.T @ fixed, U.T @ w)
    h = apply_activation(activation, X @ w + b)
    res = Realizer(X, activation=activation, mask=mask, fixed=fixed, solver=solver).realize(h)
    rel = p1_relative_error(closed, res.cost if res.status in _COST_STATUSES else math.nan)
    agree = rel <= P1_REL_TOL
    return {"closed_form": closed, "cvxpy": res.cost, "status": res.status, "solver": res.solver,
            "relative_error": rel, "agree": bool(agree), "feasible": bool(math.isfinite(closed)),
            "rank": sup.rank, "trainable": int(np.sum(mask))}


def confirm_p1(n_cases: int = 30, seed: int = 0, *, activation: str = "identity", solver=None) -> dict:
    """P1 on generated cases: random subspace supports, masks, fixed parts; targets
    half from realizable weights (``m * theta + f``), half from generic weights
    (often unrealizable when the trainable entries cannot span the support)."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(int(n_cases)):
        d = int(rng.integers(2, 7))
        r = int(rng.integers(1, d + 1))
        n = int(rng.integers(r + 2, r + 10))
        X = random_support_points(rng, n, d, r, spread=2.0)
        mask = (rng.random(d) < 0.6).astype(np.float64)
        fixed = (1.0 - mask) * rng.normal(size=d)
        if k % 2 == 0:
            w = mask * rng.normal(size=d) + fixed
        else:
            w = rng.normal(size=d)
        scale = 1.5 / max(np.max(np.abs((X - X.mean(0)) @ w)), 1e-12)  # keep |z| moderate (tanh)
        if activation != "identity":
            w = w * min(1.0, scale)
            fixed_used = fixed * min(1.0, scale) if k % 2 == 0 else fixed
        else:
            fixed_used = fixed
        rows.append(p1_case(X, mask, fixed_used, w, float(rng.normal()), activation=activation, solver=solver))
    feas = [r_ for r_ in rows if r_["feasible"]]
    infeas = [r_ for r_ in rows if not r_["feasible"]]
    return {
        "result": "P1",
        "activation": activation,
        "cases": len(rows),
        "feasible_cases": len(feas),
        "infeasible_cases": len(infeas),
        "agree_feasible": sum(r_["agree"] for r_ in feas),
        "agree_infeasible": sum(r_["agree"] for r_ in infeas),
        "disagreements": sum(not r_["agree"] for r_ in rows),
        "max_relative_error": max((r_["relative_error"] for r_ in feas), default=0.0),
        "tolerance": P1_REL_TOL,
        "ok": all(r_["agree"] for r_ in rows),
    }


# ----------------------------------------------------------------------------- P1
def check_p1(ctx: CheckContext, *, max_pairs: int = 4, max_points: int = 200) -> list[Check]:
    """P1 on the first hidden layer of each run: cvxpy realization cost (D2) of a few
    neurons' functions by other neurons against the closed form, on the exact span
    (tau = 1) of a subset of the layer's inputs."""
    checks = []
    for run in _runs(ctx):
        net = (ctx.A, ctx.B)[run]
        layer = net.layers[0]
        scope = ctx.scope(run, 0)
        names = _neuron_names(layer)
        mono = _monotone(names)
        values = {"strictly_increasing": _determined(names, mono == "strictly_increasing"), "tau": 1, "beta_b": 0,
                  "rel_tol": P1_REL_TOL}
        quantities = {"activation_class": mono}
        if layer.norm is not None:
            quantities["normalization"] = "neuron functions are the pre-activations z (THEORY N1)"
        if mono != "strictly_increasing" or len(set(names)) > 1:
            quantities["note"] = "conclusion not computed: P1's closed form needs one strictly increasing activation"
            why = {"strictly_increasing": _monotone_text(names, "strictly_increasing")}
            checks.append(evaluate("P1", scope, values, quantities=quantities, explanations=why))
            continue
        pts = ctx.traces[run].inputs[0]
        if pts.shape[0] > max_points:
            pts = pts[np.sort(np.random.default_rng(ctx.seed).choice(pts.shape[0], max_points, replace=False))]
        sup = compute_support(pts, tau=1.0)
        W = layer.effective_weight()
        m = W.shape[0]
        rng = np.random.default_rng(ctx.seed)
        pairs = [(int(i), int(j)) for i, j in rng.integers(0, m, size=(max_pairs, 2))]
        worst, rows = None, []
        act = names[0]
        trace = net.forward(pts, record=True)
        h_all = trace.pre[0] if layer.norm is not None else trace.inputs[1]
        for i, j in pairs:
            S = shape_matrices(layer.mask[i][None, :], sup.U)[0]
            closed = float(ctx.mutate("P1.closed_form", closed_form_cost(S, sup.U.T @ layer.fixed[i], sup.U.T @ W[j])))
            res = Realizer(pts, activation=act, mask=layer.mask[i], fixed=layer.fixed[i]).realize(h_all[:, j])
            solver_cost = res.cost if res.status in _COST_STATUSES else math.nan
            solver_cost = float(ctx.mutate("P1.solver_cost", solver_cost))
            row = {"i": i, "j": j, "closed_form": closed, "cvxpy": solver_cost, "status": res.status}
            rows.append(row)
            err = p1_relative_error(closed, solver_cost)
            if worst is None or err > worst[0]:
                worst = (err, closed, solver_cost)
        quantities["pairs"] = rows
        quantities["support_points"] = int(pts.shape[0])
        _, closed, solver_cost = worst
        if math.isinf(closed) and math.isinf(solver_cost):  # both unrealizable: agreement
            closed = solver_cost = 0.0
            quantities["note"] = "worst pair: both report unrealizable (inf)"
        values.update({"cost_solver": solver_cost, "cost_closed_form": closed})
        checks.append(evaluate("P1", scope, values, quantities=quantities))
    return checks


# ============================================================== ReLU vs pre-activation
def relu_case(X, w, b, *, solver=None) -> dict:
    """ReLU realization cost of ``h = relu(X w + b)`` (standard neuron, free bias) vs
    the pre-activation cost of ``z = X w + b`` (both cvxpy, plus the P1 closed form)."""
    X = np.asarray(X, dtype=np.float64)
    z = X @ w + b
    relu = Realizer(X, activation="relu", solver=solver).realize(np.maximum(z, 0.0))
    pre = Realizer(X, activation="identity", solver=solver).realize(z)
    sup = compute_support(X, tau=1.0)
    closed = closed_form_cost(np.eye(sup.rank), np.zeros(sup.rank), sup.U.T @ w)
    return {"relu_cost": relu.cost, "relu_status": relu.status, "preactivation_cost": pre.cost,
            "preactivation_status": pre.status, "closed_form": closed,
            "below": bool(relu.cost - pre.cost <= P1_REL_TOL * max(1.0, abs(pre.cost))),
            "active_points": int(np.sum(z > 0))}


def confirm_relu_upper_bound(n_cases: int = 10, seed: int = 0, *, solver=None) -> dict:
    """The ReLU realization cost is never above the pre-activation cost (the
    pre-activation itself is feasible for the ReLU problem), on generated supports,
    and strictly below on a constructed case where the active points do not span the
    support: points ``(1,0), (2,0)`` active and ``(0,1), (0,2)`` inactive for
    ``relu(x1 - x2)``: ReLU cost 1 (``w = (1, 0)``), pre-activation cost 2."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(int(n_cases)):
        d = int(rng.integers(2, 6))
        n = int(rng.integers(d + 2, 14))
        X = random_support_points(rng, n, d, d, spread=2.0)
        rows.append(relu_case(X, rng.normal(size=d), float(rng.normal()), solver=solver))
    Xs = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 2.0]])
    strict = relu_case(Xs, np.array([1.0, -1.0]), 0.0, solver=solver)
    strict_ok = strict["relu_cost"] < strict["preactivation_cost"] * (1 - 1e-3)
    max_ratio = max((r_["relu_cost"] / r_["preactivation_cost"] for r_ in rows
                     if r_["preactivation_cost"] > 0), default=0.0)
    return {
        "result": "D2",
        "cases": len(rows),
        "never_above": sum(r_["below"] for r_ in rows),
        "max_ratio_relu_over_preactivation": max_ratio,
        "strict_case": {"relu_cost": strict["relu_cost"], "preactivation_cost": strict["preactivation_cost"]},
        "strict_below": bool(strict_ok),
        "ok": bool(all(r_["below"] for r_ in rows) and strict_ok),
    }
