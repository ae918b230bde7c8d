"""Compare two networks along linear paths, unaligned and aligned (D5, D6).

One :class:`PairComparison` holds what ``neuronid lmc`` prints and what the default
``neuronid check`` reports per pair: endpoint losses and errors, and the barriers of
the unaligned path and of the activation- and weight-matched paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuronid.numerics.alignment import aligned_path
from neuronid.numerics.paths import linear_path
from neuronid.numerics.repair import repaired_path

ALIGNMENTS = ("none", "activation", "weight")
#: suffix of the REPAIRed path beside each plain one (THEORY N3)
REPAIR_SUFFIX = "+repair"


@dataclass
class PairComparison:
    """Paths between A and B; ``paths["unaligned"]`` always present."""

    label: str
    loss: str
    paths: dict = field(default_factory=dict)
    alignments: dict = field(default_factory=dict)
    reset_bn: bool = False

    @property
    def steps(self) -> np.ndarray:
        return self.paths["unaligned"].steps

    def endpoints(self) -> dict:
        """Losses and errors of A (t = 0) and B (t = 1) on the evaluation data."""
        path = self.paths["unaligned"]
        out = {}
        for name, idx in (("A", 0), ("B", -1)):
            out[name] = {
                "loss": float(path.loss[idx]),
                "error": None if path.error is None else float(path.error[idx]),
            }
        return out

    def to_json(self) -> dict:
        """The ``lmc --json`` object: steps, one block per path, alignment details."""
        out = {"loss_function": self.loss, "steps": self.steps, "endpoints": self.endpoints()}
        if self.reset_bn:
            out["reset_bn"] = "BatchNorm statistics recomputed on the matching data at every path point"
        for name, path in self.paths.items():
            block = path.to_json()
            if name in self.alignments:
                al = self.alignments[name]
                block["alignment"] = {
                    "method": al.method,
                    "permutations": [list(map(int, p)) for p in al.perms],
                    "fixed_points": [int(np.sum(np.asarray(p) == np.arange(len(p)))) for p in al.perms],
                    "max_output_difference": al.max_output_difference,
                }
            out[name] = block
        return out


def compare_pair(
    A,
    B,
    X,
    y,
    *,
    loss: str,
    label: str = "A vs B",
    align=("activation", "weight"),
    steps: int = 21,
    X_align=None,
    similarity: str = "correlation",
    restarts: int = 5,
    seed: int = 0,
    allow_structure_mismatch: bool = False,
    repair: bool = False,
    reset_bn: bool = False,
) -> PairComparison:
    """Evaluate the unaligned path and each requested aligned path on ``(X, y)``.

    Activation matching uses ``X_align`` (default ``X``): align on training data and
    evaluate on held-out data to avoid fitting the alignment to the test set. With
    ``repair`` every path gets a REPAIRed twin ``"<name>+repair"`` (THEORY N3) whose
    statistics come from ``X_align`` too. With ``reset_bn`` every path recomputes its
    BatchNorm statistics on ``X_align`` (THEORY N1, as Git Re-Basin does).
    """
    result = PairComparison(label=label, loss=loss, reset_bn=bool(reset_bn))
    reset = {"reset_bn": True, "reset_data": X if X_align is None else X_align} if reset_bn else {}
    result.paths["unaligned"] = linear_path(
        A, B, X, y, loss=loss, steps=steps, allow_structure_mismatch=allow_structure_mismatch, **reset
    )
    X_align = X if X_align is None else X_align
    if repair:
        result.paths["unaligned" + REPAIR_SUFFIX] = repaired_path(
            A, B, X, y, X_align=X_align, loss=loss, steps=steps, allow_structure_mismatch=allow_structure_mismatch
        )
    for method in align:
        if method == "none":
            continue
        options = (
            {"X_align": X_align, "similarity": similarity}
            if method == "activation"
            else {"restarts": restarts, "seed": seed}
        )
        path, alignment = aligned_path(
            A, B, X, y, method=method, loss=loss, steps=steps,
            allow_structure_mismatch=allow_structure_mismatch, **options, **reset,
        )
        result.paths[method] = path
        result.alignments[method] = alignment
        if repair:
            result.paths[method + REPAIR_SUFFIX] = repaired_path(
                A, alignment.network, X, y, X_align=X_align, loss=loss, steps=steps, allow_structure_mismatch=True
            )
    return result


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}"


def format_pairs(pairs) -> str:
    """Compact terminal table: endpoint losses/errors and barriers per path."""
    lines = []
    for pair in pairs:
        ends = pair.endpoints()
        lines.append(f"{pair.label}  (loss: {pair.loss}, {len(pair.steps)} grid points)")
        lines.append(
            f"  endpoints: A loss {_fmt(ends['A']['loss'])} error {_fmt(ends['A']['error'])} | "
            f"B loss {_fmt(ends['B']['loss'])} error {_fmt(ends['B']['error'])}"
        )
        header = ["path", "B_lerp", "B_peak", "B_mid", "B_mean", "B_lerp(err)"]
        rows = [[name, _fmt(path.B_lerp), _fmt(path.B_peak), _fmt(path.B_mid), _fmt(path.B_mean),
                 _fmt(path.B_lerp_error)] for name, path in pair.paths.items()]
        # columns as wide as their widest cell, always separated by at least two spaces
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        widths = [max(widths[0], 10)] + [max(w, 9) for w in widths[1:]]
        for row in [header, *rows]:
            lines.append("  " + row[0].ljust(widths[0]) + "".join("  " + c.rjust(w) for c, w in zip(row[1:], widths[1:])))
        lines.append("")
    return "\n".join(lines)
