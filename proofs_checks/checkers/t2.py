"""T2: identity correspondence and monotone activations give a zero barrier
(THEORY.md T2); tolerance ``FUNCTION_TOL`` (functions of whole networks).
"""

from __future__ import annotations

import numpy as np

from ._common import Check, FUNCTION_TOL, _hidden_monotone, _monotone_text, _determined, evaluate
from .context import CheckContext

# ----------------------------------------------------------------------------- T2-T4
def check_t2(ctx: CheckContext) -> list[Check]:
    """T2 on the pair: identity correspondence + monotone activations => zero barrier."""
    if not ctx.sizes_equal:
        return [evaluate("T2", "pair", {"same_structure": False},
                         notes=[f"sizes differ: {ctx.A.sizes} vs {ctx.B.sizes}"])]
    # measured on the evaluation passes (CheckContext.pair_functions: max relative L2
    # mismatch of hidden neuron functions and of the outputs, identity correspondence)
    mismatch, out_mismatch = ctx.pair_functions["t2"]
    path = ctx.paths["unaligned"].path
    loss = np.asarray(ctx.mutate("T2.loss", np.array(path.loss, dtype=float)), dtype=float)
    max_barrier = float(np.max(np.abs(loss - loss[0])))
    L0 = max(abs(float(loss[0])), 1.0)
    hidden = [n for layer in ctx.A.layers[:-1] for n in layer.names]
    values = {"same_structure": not ctx.structure_differences,
              "nondecreasing": _determined(hidden, _hidden_monotone(ctx.A) != "non_monotone"),
              "max_mismatch": mismatch, "out_mismatch": out_mismatch, "max_barrier": max_barrier / L0,
              "tol": FUNCTION_TOL}
    q = {"structure_differences": ctx.structure_differences, "max_abs_loss_change": max_barrier,
         "B_lerp": path.B_lerp, "B_mid": path.B_mid}
    why = {"nondecreasing": _monotone_text(hidden, "non_decreasing"),
           "same_structure": "structures differ: " + "; ".join(map(str, ctx.structure_differences[:3]))}
    return [evaluate("T2", "pair", values, quantities=q, explanations=why,
                     notes=["max_barrier is max_t |L(t) - L(0)| relative to max(L(0), 1)"],
                     context=f"max relative neuron mismatch {mismatch:.3g}, output mismatch {out_mismatch:.3g}")]
