"""T4: the certificate of a linear path (THEORY.md T4). The verdict tests the
elementwise statement ``|f_t(x) - lerp f(x)| <= t(1-t) R^L(x)`` at every grid point,
sample and output; the loss-level bounds are reported beside it.
"""

from __future__ import annotations

import math

from neuronid.numerics.certificate import UNSUPPORTED_NORM

from ._common import Check, _determined, _g, evaluate, not_applicable
from .context import CheckContext

def check_t4(ctx: CheckContext) -> list[Check]:
    """T4 for every path (unaligned and aligned): the elementwise statement
    ``|f_t(x) - lerp f(x)| <= t(1-t) R^L(x)`` at every grid point, sample and output
    (THEORY: the verdict tests this, not the loss bounds). The values are the worst
    entry's deviation and its allowance (bound + rounding); the quantities add the
    elementwise tightness (median, max over entries with a positive bound), the
    loss-level bounds (global, per-sample box, the smaller used) and their tightness."""
    if not ctx.sizes_equal:
        return [evaluate("T4", "pair", {"same_structure": False},
                         notes=[f"sizes differ: {ctx.A.sizes} vs {ctx.B.sizes}"])]
    checks = []
    for name, measured in ctx.paths.items():
        entry = measured.certified
        cert = entry.certificate
        if entry.status == UNSUPPORTED_NORM:  # THEORY.md section 4: T4 does not cover norms yet
            checks.append(not_applicable("T4", f"path {name}", f"{entry.status} ({entry.reason})",
                                         quantities={"measured": entry.measured}))
            continue
        lips = [a.get("lipschitz") for layer in cert.constants for a in layer["activations"]]
        # an activation without a finite Lipschitz constant does not set Lip (its
        # certificate is unsupported, which H3 reports)
        lip = max((x for x in lips if x is not None and math.isfinite(x)), default=math.inf) if lips else 0.0
        el = entry.elementwise
        hidden = [n for net in (ctx.A, ctx.B) for layer in net.layers[:-1] for n in layer.names]
        values = {"same_structure": not cert.structure_differences,
                  "Lip": lip if math.isfinite(lip) else _determined(hidden, lip),
                  "gap_term_available": True if entry.status == "ok" else _determined(hidden, False)}
        if el is not None:
            values.update({"gap_measured": el["worst"]["deviation"], "certificate": el["worst"]["allowed"]})
        q = {"elementwise": el, "bound": entry.bound, "bound_global": entry.bound_global,
             "bound_box": entry.bound_box, "measured": entry.measured,
             "loss_tightness": entry.tightness, "tightness": entry.tightness,
             "holds_per_barrier": entry.holds, "rho": cert.rho, "mean_norm": cert.mean_norm}
        notes = []
        if name != "unaligned":
            notes.append("aligned path: A and the permuted B (masks and fixed parts move with B's neurons, "
                         "so H1 fails for structurally asymmetric pairs; the certificate still bounds the "
                         "effective-weight path)")
        if entry.status != "ok":
            notes.append(f"certificate {entry.status}: {entry.reason}")
        if el is not None:
            context = (f"elementwise tightness median {_g(el['median_tightness'])}, max {_g(el['max_tightness'])}; "
                       f"loss-level tightness {_g(entry.tightness['B_lerp'])}")
        else:
            context = "elementwise statement not tested (no certificate)"
        checks.append(evaluate("T4", f"path {name}", values, quantities=q, notes=notes, context=context))
    return checks
