"""One module per result (P1-P6, T1-T4): its numbers and its verdict.

Each result module (:mod:`.p1` ... :mod:`.t4`) holds both the numeric confirmations
of the result on generated cases (``confirm_*``, plain dicts of numbers with the
tolerance used and a boolean ``ok``) and its *checker* ``check_*``: it measures the
quantities the result speaks about on the given networks and data, substitutes them
into the registry's SymPy predicates (:mod:`neuronid.theory.registry`), and returns
:class:`Check` objects whose verdict is (THEORY.md section 2)

- ``holds``: the conclusion was tested on the numbers and holds (hypotheses hold or
  are undetermined);
- ``fails``: the conclusion fails while some hypothesis is undetermined;
- ``undetermined``: nothing could be tested (e.g. every realization failed);
- ``hypotheses not met``: a hypothesis fails (the conclusion is still reported: a
  failing conclusion here is what a counterexample shows);
- ``not applicable``: the result does not speak about these inputs (no masks for
  T1, a non-homogeneous activation for P6, ...), with the reason;
- ``theory violation``: every hypothesis holds and the conclusion fails beyond
  tolerance. This must never happen for a correct result; tests check it.

All checks share one :class:`~.context.CheckContext` (:mod:`.context`), which
computes each expensive quantity (traces, layer costs, paths, certificates) once and
carries the mutation hook (:data:`MUTATION_POINTS`). The verdict machinery and the
tolerances shared by several results are in :mod:`._common`; a result's own
tolerance lives in its module (``P1_REL_TOL``, ``P5_MIDPOINT_TOL``, ``P6_PHI_TOL``).

Every hypothesis in a verdict carries its measured value, its threshold and, when
it fails, by how much (``fails_by``); :meth:`Check.slack_lines` says it in one line.

>>> import numpy as np
>>> from neuronid.numerics.structures import standard_mlp
>>> A = standard_mlp([4, 6, 3], seed=0)
>>> X = np.random.default_rng(0).normal(size=(40, 4)); y = np.arange(40) % 3
>>> ctx = CheckContext(A, A, X, y, loss="ce")
>>> [c.verdict for c in check_t2(ctx)]
['holds']
"""

from __future__ import annotations

from neuronid.errors import UnknownResultError

from ._common import (
    CHECKED_RESULTS,
    CROSS_CHECK_TOL,
    FUNCTION_TOL,
    ISO_TOL,
    REL_TOL,
    VERDICTS,
    Check,
    evaluate,
    not_applicable,
    random_support_points,
)
from .context import MUTATION_POINTS, CheckContext
from .p1 import P1_REL_TOL, check_p1, confirm_p1, confirm_relu_upper_bound, p1_case, p1_relative_error, relu_case
from .p2 import check_p2, confirm_p2
from .p3 import check_p3, confirm_p3
from .p4 import check_p4, confirm_p4, generated_layer_checks, p4_dot, p4_growth
from .p5 import P5_MIDPOINT_TOL, check_p5
from .p6 import P6_PHI_TOL, check_p6
from .t1 import T1_HEAD, check_t1, confirm_t1, t1_monte_carlo
from .t2 import check_t2
from .t3 import check_t3
from .t4 import check_t4

__all__ = [
    "CHECKED_RESULTS", "CHECKERS", "CROSS_CHECK_TOL", "FUNCTION_TOL", "ISO_TOL", "MUTATION_POINTS", "P1_REL_TOL",
    "P5_MIDPOINT_TOL", "P6_PHI_TOL", "REL_TOL", "T1_HEAD", "VERDICTS", "Check", "CheckContext", "check_p1",
    "check_p2", "check_p3", "check_p4", "check_p5", "check_p6", "check_t1", "check_t2", "check_t3", "check_t4",
    "confirm_p1", "confirm_p2", "confirm_p3", "confirm_p4", "confirm_relu_upper_bound", "confirm_t1", "evaluate",
    "generated_layer_checks", "not_applicable", "p1_case", "p1_relative_error", "p4_dot", "p4_growth",
    "random_support_points", "relu_case", "run_checks", "t1_monte_carlo",
]

CHECKERS = {
    "P1": check_p1, "P2": check_p2, "P3": check_p3, "P4": check_p4, "P5": check_p5, "P6": check_p6,
    "T1": check_t1, "T2": check_t2, "T3": check_t3, "T4": check_t4,
}


def run_checks(ctx: CheckContext, ids=None) -> list[Check]:
    """Run the checkers of ``ids`` (default: all of P1-P6, T1-T4) on one context."""
    ids = CHECKED_RESULTS if ids is None else tuple(ids)
    unknown = [i for i in ids if i.upper() not in CHECKERS]
    if unknown:
        raise UnknownResultError(
            f"no checker for {', '.join(unknown)}; results with checkers: {', '.join(CHECKED_RESULTS)}"
        )
    out = []
    for rid in ids:
        out.extend(CHECKERS[rid.upper()](ctx))
    return out
