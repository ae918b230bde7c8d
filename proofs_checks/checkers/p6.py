"""P6: rescaling symmetry of positively homogeneous neurons (THEORY.md P6): the
function is unchanged, the path multiplies the neuron's contribution by ``phi(t) >=
1``, and the orbit's norm cost is minimal at the balanced point.
"""

from __future__ import annotations

import math

import numpy as np

from neuronid.numerics.activations import parse_activation

from ._common import Check, FUNCTION_TOL, _act_numpy, _g, evaluate, not_applicable
from .context import CheckContext

#: P6: the measured factor phi(t) is a ratio of sums of O(n o) products, each exact
#: up to 1e-16 relative; phi ~ 1, so 1e-9 is far above rounding, far below any defect.
P6_PHI_TOL = 1e-9


# ----------------------------------------------------------------------------- P6
def check_p6(ctx: CheckContext, *, alpha: float = 2.0) -> list[Check]:
    """P6 on A: rescale the most active neuron of the first hidden layer by ``alpha``.
    The conclusion tested: the function is unchanged (relative ``FUNCTION_TOL``), the
    path from A to the rescaled A multiplies the neuron's contribution by a measured
    factor equal to ``phi(t) = 1 + t(1-t)(alpha + 1/alpha - 2)`` (``|error| <=``
    ``P6_PHI_TOL``) with ``phi >= 1``, and the orbit's norm cost is minimal at the
    balanced point (on a log-spaced grid of scales around it)."""
    net = ctx.A
    layer = net.layers[0]
    X = ctx.Xs
    H = ctx.traces[0].inputs[1]
    weight_out = np.linalg.norm(net.layers[1].effective_weight(), axis=0)
    k = int(np.argmax(np.linalg.norm(H, axis=0) * weight_out))
    name = layer.names[k]
    act = parse_activation(name)
    homogeneous = act.name == "relu" or act.name.startswith("leaky_relu")
    scope = ctx.scope(0, 0) + f" neuron {k}"
    if layer.norm is not None:
        return [not_applicable("P6", scope, f"layer 0 has a {layer.norm.kind} norm: rescaling one neuron's "
                                            "parameters changes the normalized outputs (THEORY N1; N2 is the "
                                            "norm's own scale symmetry)")]
    if not homogeneous:
        return [not_applicable("P6", scope, f"activation {name!r} is not positively homogeneous of degree 1")]
    if np.linalg.norm(H[:, k]) * weight_out[k] == 0.0:
        return [not_applicable("P6", scope, "every neuron of layer 0 contributes nothing on the data")]
    sigma = ctx.mutate("P6.activation", lambda z: _act_numpy(name, z))
    B = net.copy()
    B.layers[0].weight[k] *= alpha
    B.layers[0].fixed[k] *= alpha
    B.layers[0].bias[k] *= alpha
    B.layers[1].weight[:, k] /= alpha
    B.layers[1].fixed[:, k] /= alpha
    B = ctx.mutate("P6.rescaled", B)
    out_A = net(X)
    same = float(np.max(np.abs(out_A - B(X))))
    out_scale = max(float(np.max(np.abs(out_A))), 1e-300)
    # contribution of neuron k to the next layer along the path
    W0A, W0B = net.layers[0].effective_weight()[k], B.layers[0].effective_weight()[k]
    cA, cB = net.layers[1].effective_weight()[:, k], B.layers[1].effective_weight()[:, k]
    bA, bB = net.layers[0].bias[k], B.layers[0].bias[k]
    ts = np.linspace(0.0, 1.0, 21)
    base = np.outer(_act_numpy(name, X @ W0A + bA), cA)
    norm_base = float(np.linalg.norm(base))
    factors, formula, residuals = [], [], []
    for t in ts:
        h = sigma(X @ ((1 - t) * W0A + t * W0B) + (1 - t) * bA + t * bB)
        contrib = np.outer(h, (1 - t) * cA + t * cB)
        phi_t = 1.0 + t * (1 - t) * (alpha + 1.0 / alpha - 2.0)
        factors.append(float(np.sum(contrib * base) / max(norm_base ** 2, 1e-300)))
        formula.append(phi_t)
        # the whole contribution, not only its projection on the base, is phi(t) times it
        residuals.append(float(np.linalg.norm(contrib - phi_t * base)) / max(norm_base, 1e-300))
    factor_error = max(float(np.max(np.abs(np.array(factors) - np.array(formula)))), max(residuals))
    # balanced point: minimize (|c|/s)^2 + s^2 ||(w, b)||^2 over s > 0
    c2 = float(np.sum(cA ** 2))
    wb2 = float(np.sum(W0A ** 2) + bA ** 2)
    s_star = (c2 / wb2) ** 0.25 if wb2 > 0 and c2 > 0 else 1.0
    grid = s_star * np.exp(np.linspace(-1, 1, 201))  # s_star is the middle point
    # measured: the squared norms of the rescaled parameters (c/s, s w, s b) themselves
    wb = np.append(W0A, bA)
    measured = np.sum((cA[None, :] / grid[:, None]) ** 2, axis=1) + np.sum((grid[:, None] * wb[None, :]) ** 2, axis=1)
    costs = np.asarray(ctx.mutate("P6.norm_cost", measured), dtype=np.float64)
    # THEORY P6: along the orbit the cost is c2/s^2 + s^2 ||(w, b)||^2, minimal (2 sqrt(c2 wb2))
    # at the balanced s_star; the whole curve is compared, not only its argmin (a curve x 2 or
    # tilted 2 % keeps the argmin). Sums of squares: rounding ~1e-16 relative, tolerance P6_PHI_TOL.
    closed = c2 / grid ** 2 + grid ** 2 * wb2
    curve_error = float(np.max(np.abs(costs - closed) / np.maximum(closed, 1e-300))) if costs.shape == closed.shape \
        else math.inf
    balanced = bool(int(np.argmin(costs)) == 100) and curve_error <= P6_PHI_TOL
    # phi(0) = phi(1) = 1 by definition; the claim phi >= 1 is about the interior
    values = {"alpha": alpha, "homogeneous_degree_one": True, "phi": min(factors[1:-1]),
              "phi_error": factor_error, "tol": P6_PHI_TOL, "function_change": same / out_scale,
              "function_tol": FUNCTION_TOL, "balanced_minimizer": balanced}
    q = {"function_change": same, "relative_function_change": same / out_scale, "phi_measured": factors,
         "phi_formula": formula, "max_phi_error": factor_error, "max_relative_residual": max(residuals),
         "balanced_scale": s_star,
         "balanced_is_grid_minimum": balanced, "norm_cost_curve_relative_error": curve_error,
         "norm_cost_at_alpha": c2 / alpha ** 2 + alpha ** 2 * wb2, "norm_cost_balanced": 2 * math.sqrt(c2 * wb2)}
    return [evaluate("P6", scope, values, quantities=q,
                     explanations={"balanced_minimizer": f"measured norm-cost curve: argmin at grid point "
                                   f"{int(np.argmin(costs))} (balanced point: 100), max relative deviation from "
                                   f"c2/s^2 + s^2 ||(w, b)||^2 {_g(curve_error)} (tolerance {P6_PHI_TOL:g})"},
                     notes=[f"phi(t) measured from the neuron's contribution (projection on the base and the "
                            f"relative residual ||contrib_t - phi(t) base|| / ||base||); max deviation from the "
                            f"formula {factor_error:.2e} (exact identity: rounding only, tolerance {P6_PHI_TOL:g})"])]
