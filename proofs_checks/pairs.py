"""Compare two networks along linear paths, unaligned and aligned (D5, D6).

:func:`measure_paths` is the one orchestration of a pair's paths, shared by ``neuronid
lmc`` (:func:`compare_pair`, also used by the experiments) and ``neuronid check``
(:attr:`~neuronid.proofs_checks.checkers.CheckContext.paths`): the unaligned path,
then per alignment method B aligned to A (:func:`~neuronid.numerics.alignment.align`)
and the path to the aligned B, each optionally with its REPAIRed twin (THEORY N3).
``lmc`` measures plain paths (:func:`~neuronid.numerics.paths.linear_path`); ``check``
certifies them (:func:`~neuronid.numerics.certificate.certified_barriers`, which
measures the path from the same outputs it certifies).

One :class:`PairComparison` holds what ``neuronid lmc`` prints: endpoint losses and
errors, and the barriers of the unaligned path and of the activation- and
weight-matched paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuronid.errors import InvalidOptionError
from neuronid.numerics.alignment import Alignment
from neuronid.numerics.alignment import align as align_networks
from neuronid.numerics.certificate import CertifiedPath, certified_barriers
from neuronid.numerics.paths import PathResult, linear_path
from neuronid.numerics.repair import repaired_path

ALIGNMENTS = ("none", "activation", "weight")
#: suffix of the REPAIRed path beside each plain one (THEORY N3)
REPAIR_SUFFIX = "+repair"


@dataclass
class MeasuredPath:
    """One path of a pair: the measured path, its T4 certificate when certified
    (``check``), and the alignment that permuted B (aligned paths only)."""

    path: PathResult
    certified: CertifiedPath | None = None
    alignment: Alignment | None = None


def measure_paths(A, B, X, y, *, loss: str, align=("activation", "weight"), steps: int = 21, X_align=None,
                  similarity: str = "correlation", restarts: int = 5, seed: int = 0,
                  allow_structure_mismatch: bool = False, repair: bool = False, reset_bn: bool = False,
                  certify: bool = False, hook=None, trace_B=None, align_traces=None) -> dict:
    """``{name: MeasuredPath}``: ``"unaligned"``, then one entry per method of ``align``
    (``"none"`` skipped), each followed by its ``"<name>+repair"`` twin when ``repair``.

    Activation matching and REPAIR statistics use ``X_align`` (default ``X``); with
    ``reset_bn`` every path recomputes its BatchNorm statistics on it. ``certify``
    certifies every (non-REPAIRed) path instead of only measuring it (``hook``: the
    mutation hook of :func:`~neuronid.numerics.certificate.certified_barriers`).
    ``trace_B`` (B's recorded pass on ``X``) and ``align_traces`` (A's and B's on
    ``X_align``) let a caller that holds them skip recomputing them.
    """
    if certify and reset_bn:
        raise InvalidOptionError("reset_bn paths are not linear in the parameters: the T4 certificate does not "
                                 "cover them (certify=False, or reset_bn=False)")
    X_match = X if X_align is None else X_align
    reset = {"reset_bn": True, "reset_data": X_match} if reset_bn else {}

    def measure(B_end, allow: bool) -> MeasuredPath:
        if certify:
            cert = certified_barriers(A, B_end, X, y, loss=loss, steps=steps, hook=hook)
            return MeasuredPath(cert.path, cert)
        return MeasuredPath(linear_path(A, B_end, X, y, loss=loss, steps=steps, allow_structure_mismatch=allow,
                                        **reset))

    def repaired(B_end, allow: bool) -> MeasuredPath:
        return MeasuredPath(repaired_path(A, B_end, X, y, X_align=X_match, loss=loss, steps=steps,
                                          allow_structure_mismatch=allow))

    out = {"unaligned": measure(B, allow_structure_mismatch)}
    if repair:
        out["unaligned" + REPAIR_SUFFIX] = repaired(B, allow_structure_mismatch)
    for method in align:
        if method == "none":
            continue
        alignment = align_networks(A, B, X, method=method, similarity=similarity, X_align=X_align,
                                   restarts=restarts, seed=seed, trace_B=trace_B,
                                   align_traces=align_traces if method == "activation" else None)
        if all(np.array_equal(p, np.arange(p.size)) for p in alignment.perms):
            # identity permutations (e.g. identifiable networks): the permuted B has B's
            # arrays, so its paths are the unaligned ones, value for value; not recomputed
            out[method] = MeasuredPath(out["unaligned"].path, out["unaligned"].certified, alignment)
            if repair:
                out[method + REPAIR_SUFFIX] = out["unaligned" + REPAIR_SUFFIX]
            continue
        # the permuted B carries its masks and fixed parts along: effective-weight path
        entry = measure(alignment.network, True)
        entry.alignment = alignment
        out[method] = entry
        if repair:
            out[method + REPAIR_SUFFIX] = repaired(alignment.network, True)
    return out


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
    measured = measure_paths(A, B, X, y, loss=loss, align=align, steps=steps, X_align=X_align,
                             similarity=similarity, restarts=restarts, seed=seed,
                             allow_structure_mismatch=allow_structure_mismatch, repair=repair, reset_bn=reset_bn)
    return PairComparison(label=label, loss=loss, reset_bn=bool(reset_bn),
                          paths={name: m.path for name, m in measured.items()},
                          alignments={name: m.alignment for name, m in measured.items() if m.alignment is not None})


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
