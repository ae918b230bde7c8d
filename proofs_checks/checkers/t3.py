"""T3: identifiable runs with the same function set correspond by the identity
(THEORY.md T3), per hidden layer.
"""

from __future__ import annotations

import math

import numpy as np

from neuronid.numerics.threads import single_threaded_blas

from ._common import Check, FUNCTION_TOL, REL_TOL, _finite_scale, _support_defects, _with_defects, evaluate
from .context import CheckContext

def check_t3(ctx: CheckContext) -> list[Check]:
    """T3 per hidden layer: identifiability (margin gamma > eps) of both runs and the
    same function set => the runs' correspondence is the identity."""
    if not ctx.sizes_equal:
        return [evaluate("T3", "pair", {"support_mismatch": math.inf, "function_set_mismatch": math.inf, "tol": 0},
                         notes=[f"sizes differ: {ctx.A.sizes} vs {ctx.B.sizes}"])]
    checks = []
    for l in range(ctx.n_hidden):
        lcA, lcB = ctx.costs[0][l], ctx.costs[1][l]
        corr = ctx.correspondences[l]
        supA, supB = ctx.layer_support(0, l), ctx.layer_support(1, l)
        UA, UB = supA.U, supB.U
        support_mismatch = _support_mismatch(UA, UB)
        excess_A, excess_B = _excess(lcA.gamma), _excess(lcB.gamma)
        # costs carry rounding of REL_TOL relative to their scale: "within eps of the
        # minimum" and "margin > eps" are judged with that allowance in eps
        rounding = REL_TOL * max(_finite_scale(lcA.K), _finite_scale(lcB.K), 1e-300)
        eps = max(excess_A, excess_B) + rounding
        gamma = min(lcA.gamma, lcB.gamma)
        mism = corr.mismatch[np.isfinite(corr.mismatch)]
        perm = np.asarray(ctx.mutate("T3.permutation", np.asarray(corr.perm).copy()))
        fixed = int(np.sum(perm == np.arange(perm.size)))
        values = {"support_mismatch": support_mismatch,
                  "function_set_mismatch": float(np.max(mism)) if mism.size else math.inf,
                  "tol": FUNCTION_TOL, "excess_A": excess_A, "excess_B": excess_B, "eps": eps, "gamma": gamma,
                  "perm_A_equals_perm_B": fixed == perm.size}
        q = {"gamma_A": lcA.gamma, "gamma_B": lcB.gamma, "fixed_points": fixed, "permutation": perm,
             "neurons": int(corr.perm.size), "median_mismatch": float(np.median(mism)) if mism.size else None,
             "eps_choice": "eps = max(excess_A, excess_B) + rounding allowance (1e-9 of max |K|): the "
                           "smallest eps for which H2 holds"}
        moved = np.flatnonzero(perm != np.arange(perm.size))[:3]
        why = {"perm_A_equals_perm_B": "correspondence is not the identity: "
               + ", ".join(f"A's neuron {i} -> B's {int(perm[i])}" for i in moved)}
        check = evaluate("T3", f"layer {l}", values, quantities=q, explanations=why,
                         context=f"{fixed}/{perm.size} neurons in identity correspondence")
        checks.append(_with_defects(check, _support_defects(ctx, 0, l, supA) + _support_defects(ctx, 1, l, supB)))
    return checks


def _support_mismatch(UA, UB) -> float:
    """Sine of the largest principal angle between the supports' spans,
    ``||(I - U_A U_A^T) U_B||_2`` (accurate to rounding, unlike ``sqrt(1 - cos^2)``,
    which turns a 1e-16 cosine error into 1e-8); 1 when the ranks differ."""
    if UA.shape[1] != UB.shape[1] or UA.shape[1] == 0:
        return 1.0
    with single_threaded_blas():  # a d x r SVD: 2 OpenBLAS threads were 0.5 s under load, 1 thread ~30 ms
        return float(np.linalg.norm(UB - UA @ (UA.T @ UB), 2))


def _excess(gamma: float) -> float:
    """How far the run's own assignment (the identity) is above the minimum cost:
    ``max(0, -gamma)``; ``gamma = +inf`` (every other assignment unrealizable) gives 0,
    ``-inf`` gives inf, nan stays nan (undetermined)."""
    if math.isnan(gamma):
        return math.nan
    return max(0.0, -gamma)
