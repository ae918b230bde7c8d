"""Numeric confirmations of P1-P4 and T1 (THEORY.md), as plain dicts of numbers.

Each ``confirm_*`` function computes the quantities a result speaks about and how far
the numerics are from its conclusion, on generated cases or one layer. The *checker*
of a result (one per result, the verdict) is in :mod:`.checkers`; it reuses these
numbers (``confirm_p3``, ``confirm_p4``, ``t1_monte_carlo``). No function here
decides "holds"/"fails" beyond a boolean ``ok`` next to the numbers and the
tolerance it used.

- :func:`p1_case` / :func:`confirm_p1`: cvxpy (D2) and the P1 closed form agree to
  relative ``1e-6``, including unrealizable targets (both say ``inf``).
- :func:`confirm_p2`: standard layers give ``Delta_in = 0`` (to rounding) and, for a
  standard next layer, ``Delta_out = 0`` exactly.
- :func:`confirm_p3`: the P3 bounds on ``K`` and ``Delta_in`` for layers with ``f = 0``.
- :func:`confirm_p4`: the P4 identity (exact for ``S_i = p I``, e.g. syre layers) and its
  perturbation bound otherwise; :func:`p4_growth`: ``Delta`` grows with ``sigma_F``.
- :func:`confirm_t1`: Monte Carlo over masks (both mask models), violation rate at most
  ``delta`` plus three standard errors, for low- and high-coherence supports.
- :func:`confirm_relu_upper_bound`: the ReLU realization cost never exceeds the
  pre-activation cost, strictly below it on a constructed case.

Example
-------
>>> out = confirm_p1(n_cases=6, seed=0)
>>> out["cases"], out["disagreements"]
(6, 0)
"""

from __future__ import annotations

import math

import numpy as np

from neuronid.numerics.costs import closed_form_cost, layer_costs, pair_difference_dots, squared_center_distances
from neuronid.numerics.network import Network
from neuronid.numerics.realization import Realizer
from neuronid.numerics.structures import standard_mlp, syre_mlp, w_mlp
from neuronid.numerics.supports import (
    anisotropy,
    compute_support,
    shape_eigenvalues,
    shape_matrices,
    t1_bound,
)

__all__ = [
    "P1_RTOL",
    "p1_case",
    "confirm_p1",
    "confirm_p2",
    "confirm_p3",
    "confirm_p4",
    "p4_growth",
    "confirm_t1",
    "t1_monte_carlo",
    "relu_case",
    "confirm_relu_upper_bound",
    "random_support_points",
    "generated_layer_checks",
]

#: relative agreement required between cvxpy and the closed form (P1). CLARABEL runs
#: with gap/feasibility tolerances 1e-10, so 1e-6 leaves four orders of margin for
#: conditioning (generated supports have singular values >= 0.3).
P1_RTOL = 1e-6


def random_support_points(rng, n: int, d: int, r: int, *, spread: float = 1.0) -> np.ndarray:
    """``n`` points in a random ``r``-dimensional affine subspace of ``R^d``, with
    well-conditioned coordinates (singular values of the centered points bounded away
    from 0)."""
    B = np.linalg.qr(rng.normal(size=(d, r)))[0]
    Y = rng.normal(size=(n, r))
    Y -= Y.mean(axis=0)
    Uy, s, Vt = np.linalg.svd(Y, full_matrices=False)
    s = np.clip(s, 0.3 * np.sqrt(n), None)  # keep the support well conditioned
    Y = (Uy * s) @ Vt * spread / np.sqrt(n)
    return Y @ B.T + rng.normal(size=d)


# ============================================================== P1
def p1_case(X, mask, fixed, w, b, *, activation: str = "identity", solver=None) -> dict:
    """One P1 comparison: the target is ``h = sigma(X w + b)`` on the support ``X``;
    the neuron has ``mask``/``fixed``. Returns the closed-form cost, the cvxpy cost
    and status, and whether they agree (relative ``P1_RTOL``; both ``inf`` for
    unrealizable targets)."""
    from neuronid.numerics.activations import apply_activation

    X = np.asarray(X, dtype=np.float64)
    sup = compute_support(X, tau=1.0)
    U = sup.U
    S = shape_matrices(np.asarray(mask, dtype=np.float64)[None, :], U)[0]
    closed = closed_form_cost(S, U.T @ fixed, U.T @ w)
    h = apply_activation(activation, X @ w + b)
    res = Realizer(X, activation=activation, mask=mask, fixed=fixed, solver=solver).realize(h)
    if math.isinf(closed):
        agree = res.status == "infeasible"
        rel = 0.0 if agree else float("inf")
    elif res.status in ("optimal", "optimal_inaccurate"):
        rel = abs(res.cost - closed) / max(abs(closed), 1e-12)
        agree = res.status == "optimal" and (rel <= P1_RTOL or abs(res.cost - closed) <= 1e-10)
    else:
        rel, agree = float("inf"), False
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
        "tolerance": P1_RTOL,
        "ok": all(r_["agree"] for r_ in rows),
    }


# ============================================================== P2
def _hidden_ok(net: Network, layer: int) -> None:
    if not 0 <= layer < len(net.layers) - 1:
        from neuronid.errors import InvalidOptionError

        raise InvalidOptionError(f"layer {layer} is out of range: hidden layers are 0..{len(net.layers) - 2}")


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
        # rounding: K entries are sums of r^2 products of O(scale) numbers
        "tolerance": 1e-12,
        "ok": float(np.max(np.abs(lc.delta_in))) / scale <= 1e-12 and float(np.max(np.abs(lc.delta_out))) == 0.0,
    }


# ============================================================== P3
def confirm_p3(net: Network, X, layer: int = 0, *, tau: float = 1.0, costs=None, K=None, delta_in=None,
             eig_tol: float = 1e-9) -> dict:
    """P3 bounds on a layer with ``f = 0``: for neurons with ``eps_i = ||S_i - p I|| < p``,
    ``|K[i,j] - ||a_j||^2/p| <= ||a_j||^2 eps_i / (p (p - eps_i))`` and
    ``|Delta_in(i,j)| <= (eta_i + eta_j)(||a_i||^2 + ||a_j||^2)``.

    Bounds are compared with a relative slack of ``1e-9`` (rounding in ``K``); a neuron
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
    slack_rel = 1e-9
    k_bound = aa[None, :] * eta[rows][:, None]
    k_dev = np.abs(K[rows] - aa[None, :] / p)
    k_viol = k_dev > k_bound * (1 + slack_rel) + 1e-12 * (aa[None, :] / p + 1e-300)
    pair = np.ix_(rows, rows)
    d_bound = (eta[rows][:, None] + eta[rows][None, :]) * (aa[rows][:, None] + aa[rows][None, :])
    d_dev = np.abs(D[pair])
    d_viol = d_dev > d_bound * (1 + slack_rel) + 1e-12 * (aa[rows][:, None] + aa[rows][None, :]) / p
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


# ============================================================== P4
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
    rounding = 1e-10 * (Kabs + Kabs.T + kd[:, None] + kd[None, :] + np.abs(ideal))
    exact_case = bool(np.max(eps, initial=0.0) <= 1e-12)
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
        "max_relative_identity_error": _max_ratio(dev, rounding * 1e10, off),
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


# ============================================================== T1
def _basis(kind: str, d: int, r: int, rng) -> np.ndarray:
    if kind == "low":
        # rows of equal norm (nu = r/d): a random rotation of r columns of an orthogonal
        # matrix whose rows all have norm sqrt(r/d) (scaled random +-1 Hadamard-like via QR)
        Q = np.linalg.qr(rng.choice([-1.0, 1.0], size=(d, r)))[0]
        return Q
    if kind == "high":
        # one direction concentrated on a few coordinates: nu close to 1/2
        Q = np.linalg.qr(rng.normal(size=(d, r)))[0]
        spike = np.zeros(d)
        spike[:2] = 1.0 / np.sqrt(2.0)
        Q[:, 0] = spike
        return np.linalg.qr(Q)[0]
    raise ValueError(kind)


def _sample_masks(rng, model: str, N: int, d: int, p: float) -> np.ndarray:
    if model == "bernoulli":
        return (rng.random((N, d)) < p).astype(np.float64)
    t = int(round(p * d))
    ranks = np.argsort(rng.random((N, d)), axis=1)
    return (ranks < t).astype(np.float64)


def confirm_t1(*, n_masks: int = 2000, delta: float = 0.1, d: int = 256, r: int = 4, p: float = 0.75,
             seed: int = 0, coherences=("low", "high")) -> dict:
    """T1 by Monte Carlo: for supports ``U`` of low and high coherence and both mask
    models, the fraction of masks with ``||U^T diag(m) U - p I|| > bound(delta)`` must
    be at most ``delta + 3 SE`` with ``SE = sqrt(delta (1 - delta) / n_masks)``."""
    from neuronid.errors import InvalidOptionError

    if not 0.0 < float(delta) < 1.0:
        raise InvalidOptionError(f"confirm_t1: delta must lie in (0, 1), found {delta}")
    if not 0.0 < float(p) < 1.0:
        raise InvalidOptionError(f"confirm_t1: p must lie in (0, 1), found {p}")
    if int(n_masks) < 1 or not 1 <= int(r) <= int(d):
        raise InvalidOptionError(f"confirm_t1: need n_masks >= 1 and 1 <= r <= d, found {n_masks}, {r}, {d}")
    rng = np.random.default_rng(seed)
    out = {"result": "T1", "delta": delta, "n_masks": n_masks, "d": d, "r": r, "p": p, "cases": []}
    ok = True
    for kind in coherences:
        U = _basis(kind, d, r, rng)
        for model in ("bernoulli", "exact_count"):
            case = t1_monte_carlo(U, p, delta, model=model, n_masks=n_masks, rng=rng)
            case["coherence_kind"] = kind
            ok &= case["ok"]
            out["cases"].append(case)
    out["ok"] = bool(ok)
    return out


#: how many Monte Carlo anisotropies :func:`t1_monte_carlo` reports for cross-checks
T1_HEAD = 4


def t1_monte_carlo(U, p: float, delta: float, *, model: str = "bernoulli", n_masks: int = 2000, rng=None,
                  hook=None) -> dict:
    """T1 by Monte Carlo on one support basis ``U`` (d, r): draw ``n_masks`` masks of
    the given model, measure ``||U^T diag(m) U - p I||`` and count how often it exceeds
    the T1 bound at ``delta``; allowed: ``delta + 3 SE``, ``SE = sqrt(delta (1-delta) / n)``.

    ``power`` (also ``tightness``) = the (1 - delta) quantile of the anisotropy / the
    bound: a bound multiplied by any ``c > power`` would still pass this test, so a
    small power means the test can only catch gross errors in the bound.
    ``hook(name, value)``, for mutation tests only, transforms ``"bound"`` and
    ``"anisotropy"``."""
    rng = np.random.default_rng(rng)
    U = np.asarray(U, dtype=np.float64)
    d, r = U.shape
    nu = float(np.max(np.sum(U * U, axis=1)))
    se = math.sqrt(delta * (1.0 - delta) / n_masks)
    masks = _sample_masks(rng, model, n_masks, d, p)
    p_eff = p if model == "bernoulli" else int(round(p * d)) / d
    S = shape_matrices(masks, U)
    an = anisotropy(S, p_eff, eigenvalues=shape_eigenvalues(S))
    bound = t1_bound(p_eff, nu, r, delta, model=model, dim=d)
    if hook is not None:
        an = np.asarray(hook("anisotropy", an), dtype=np.float64)
        bound = float(hook("bound", bound))
    rate = float(np.mean(an > bound))
    return {
        "coherence": nu, "rank": r, "dim": d, "p": p_eff, "mask_model": model, "bound": bound,
        "n_masks": int(n_masks), "violation_rate": rate, "allowed": delta + 3.0 * se, "standard_error": se,
        "quantile_1_minus_delta": float(np.quantile(an, 1.0 - delta)),
        "tightness": float(np.quantile(an, 1.0 - delta) / bound) if bound > 0 else float("nan"),
        "power": float(np.quantile(an, 1.0 - delta) / bound) if bound > 0 else float("nan"),
        "max_anisotropy": float(np.max(an)), "ok": bool(rate <= delta + 3.0 * se),
        # the first masks' anisotropies, for an independent cross-check by the T1 checker
        "anisotropy_head": [float(a) for a in an[:T1_HEAD]],
    }


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
            "below": bool(relu.cost <= pre.cost * (1 + P1_RTOL) + 1e-10),
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
