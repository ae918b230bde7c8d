"""T2: identity correspondence and monotone activations give a zero barrier
(THEORY.md T2); tolerance ``FUNCTION_TOL`` (functions of whole networks).
"""

from __future__ import annotations

import numpy as np

from neuronid.numerics.correspondence import relative_mismatch

from ._common import Check, FUNCTION_TOL, _hidden_monotone, _monotone_text, evaluate
from .context import CheckContext

# ----------------------------------------------------------------------------- T2-T4
def _neuron_mismatch(ctx: CheckContext) -> tuple[float, float]:
    """Max relative L2 mismatch of hidden neuron functions under the identity
    correspondence (:func:`~neuronid.numerics.correspondence.relative_mismatch`:
    relative to the larger norm, 0 for two dead neurons), and of the output
    pre-activations (T2's H3 and H4)."""
    tA, tB = ctx.eval_traces
    worst = 0.0
    # with normalization layers (THEORY N1) the neuron functions are the pre-activations
    # z; the outputs h are compared too, so equal z and h make every path point equal
    pairs = [(tA.inputs[l], tB.inputs[l]) for l in range(1, len(ctx.A.layers))]
    pairs += [(tA.pre[l], tB.pre[l]) for l, layer in enumerate(ctx.A.layers[:-1])
              if layer.norm is not None or ctx.B.layers[l].norm is not None]
    for hA, hB in pairs:
        # relative to the larger of the two norms: a dead neuron (zero on the data) in
        # both runs agrees (0), dead in one run only is mismatch 1, never 1e11
        worst = max(worst, float(np.max(relative_mismatch(hA, hB), initial=0.0)))
    zA, zB = tA.output, tB.output
    out = float(np.linalg.norm(zA - zB) / max(np.linalg.norm(zA), 1e-300))
    return worst, out


def check_t2(ctx: CheckContext) -> list[Check]:
    """T2 on the pair: identity correspondence + monotone activations => zero barrier."""
    if not ctx.sizes_equal:
        return [evaluate("T2", "pair", {"same_structure": False},
                         notes=[f"sizes differ: {ctx.A.sizes} vs {ctx.B.sizes}"])]
    mismatch, out_mismatch = _neuron_mismatch(ctx)
    path = ctx.paths["unaligned"].path
    loss = np.asarray(ctx.mutate("T2.loss", np.array(path.loss, dtype=float)), dtype=float)
    max_barrier = float(np.max(np.abs(loss - loss[0])))
    L0 = max(abs(float(loss[0])), 1.0)
    values = {"same_structure": not ctx.structure_differences, "nondecreasing": _hidden_monotone(ctx.A) != "non_monotone",
              "max_mismatch": mismatch, "out_mismatch": out_mismatch, "max_barrier": max_barrier / L0,
              "tol": FUNCTION_TOL}
    q = {"structure_differences": ctx.structure_differences, "max_abs_loss_change": max_barrier,
         "B_lerp": path.B_lerp, "B_mid": path.B_mid}
    hidden = [n for layer in ctx.A.layers[:-1] for n in layer.names]
    why = {"nondecreasing": _monotone_text(hidden, "non_decreasing"),
           "same_structure": "structures differ: " + "; ".join(map(str, ctx.structure_differences[:3]))}
    return [evaluate("T2", "pair", values, quantities=q, explanations=why,
                     notes=["max_barrier is max_t |L(t) - L(0)| relative to max(L(0), 1)"],
                     context=f"max relative neuron mismatch {mismatch:.3g}, output mismatch {out_mismatch:.3g}")]
