"""Reason codes of non-finite (or inexact) cost entries, float64 constants and the
optional progress bar shared by the cost modules (part of :mod:`neuronid.numerics.costs`)."""

from __future__ import annotations

import sys

import numpy as np

_EPS = np.finfo(np.float64).eps
_TINY = np.finfo(np.float64).tiny

# reason codes of non-finite (or inexact) entries
OK, OUT_OF_RANGE, NOT_AFFINE, OUT_OF_ACT_RANGE, NOT_COMPUTED, SOLVER_FAILED, SOLVER_INFEASIBLE = range(7)
#: reason code -> text (used for JSON ``*_reason`` entries)
REASONS = {
    OK: "",
    OUT_OF_RANGE: "unrealizable: the target leaves range(S_i) (the trainable entries of the neuron cannot reach it)",
    NOT_AFFINE: "unrealizable: sigma_i^{-1}(h_j) is not affine on the support (different activations)",
    OUT_OF_ACT_RANGE: "unrealizable: h_j takes values outside the range of sigma_i",
    NOT_COMPUTED: "not computed (budget exceeded; raise max_solver_pairs / max_direct)",
    SOLVER_FAILED: "solver failed (status error); the cost is unknown",
    SOLVER_INFEASIBLE: "unrealizable: the realization problem is infeasible (solver certificate)",
}


def _progress(iterable, total, desc, enabled):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm  # optional progress bar, loaded only when asked for

    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, leave=False)

