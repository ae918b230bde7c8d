"""The full ``neuronid check`` report: layers, paths with certificates, verdicts.

:func:`full_check` runs everything on one pair (D1-D6 measurements, the T4
certificate of every path, a checker per result) and returns a :class:`Report` that
renders as compact terminal text, ``report.md``, ``report.json`` and PNG plots
(barrier curves with the certificate band, swap-cost heatmaps).

``report.json`` keys: ``{"results": [{"id", "scope", "verdict", "hypotheses": {name:
{"holds", "values", ...}}, "conclusion", "quantities"}], "paths": {"unaligned":
{"B_lerp", "B_peak", "B_mid", "B_mean", "certificate", "tightness", "loss", ...},
"activation": ..., "weight": ...}, "layers": [...], "violations": [...]}``.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuronid.errors import InvalidOptionError
from neuronid.numerics.certificate import UNSUPPORTED_NORM
from neuronid.numerics.io import to_jsonable, write_json, write_text

from .checkers import CHECKED_RESULTS, CheckContext, run_checks
from .checkers.context import STAGES

BARRIERS = ("B_lerp", "B_peak", "B_mid", "B_mean")


@dataclass
class Report:
    label: str
    context: CheckContext
    checks: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)  # stage -> wall-clock seconds (StageTimer)

    # --- data ------------------------------------------------------------------------
    def paths_json(self) -> dict:
        """The ``paths`` block of ``report.json`` from the typed paths (plain values;
        :func:`~neuronid.numerics.io.to_jsonable` writes non-finite ones as ``null``)."""
        out = {}
        for name, measured in self.context.paths.items():
            entry, path = measured.certified, measured.path
            block = {k: getattr(path, k) for k in BARRIERS}
            block.update({f"{k}_error": getattr(path, f"{k}_error") for k in BARRIERS})
            block["certificate"] = entry.bound  # the smaller of the global and the box bounds
            block["certificate_global"] = entry.bound_global
            block["certificate_box"] = entry.bound_box
            block["elementwise"] = entry.elementwise
            block["certificate_status"] = entry.status
            if entry.reason:
                block["certificate_reason"] = entry.reason
            block["tightness"] = entry.tightness
            block["certificate_holds"] = entry.holds
            block.update(_curves(path))
            block["rho"] = entry.certificate.rho
            block["mean_norm"] = entry.certificate.mean_norm
            if measured.alignment is not None:
                al = measured.alignment.to_json()
                block["alignment"] = {k: al[k] for k in ("method", "fixed_points", "max_output_difference") if k in al}
            out[name] = block
        for name, path in self.context.repaired_paths.items():
            block = {k: getattr(path, k) for k in BARRIERS}
            block.update({f"{k}_error": getattr(path, f"{k}_error") for k in BARRIERS})
            block["certificate"] = dict.fromkeys(BARRIERS)
            block["certificate_status"] = "not applicable"
            block["certificate_reason"] = "a REPAIRed path is not linear in the parameters (T4 bounds linear paths)"
            block["tightness"] = dict.fromkeys(BARRIERS)
            block["certificate_holds"] = None
            block.update(_curves(path), rho=None, mean_norm=None)
            out[name] = block
        return out

    def layers_json(self) -> list:
        ctx = self.context
        out = []
        for l in range(ctx.n_hidden):
            entry = {"layer": l, "runs": {}}
            for run, name in enumerate(ctx.names):
                lc = ctx.costs[run][l]
                summary = lc.summary()
                summary["mean_anisotropy"] = float(np.mean(lc.anisotropy)) if lc.anisotropy.size else 0.0
                summary["slack"] = lc.slack
                summary["semantics"] = lc.costs.semantics
                entry["runs"][name] = summary
                if ctx.B is ctx.A:
                    break
            if ctx.correspondences:
                c = ctx.correspondences[l]
                entry["correspondence"] = {"fixed_points": c.fixed_points, "neurons": int(c.perm.size),
                                           "median_mismatch": float(np.median(c.mismatch[np.isfinite(c.mismatch)]))
                                           if np.any(np.isfinite(c.mismatch)) else None,
                                           "perm": c.perm}
            out.append(entry)
        return out

    @property
    def violations(self) -> list:
        return [c for c in self.checks if c.verdict == "theory violation"]

    def to_json(self) -> dict:
        ctx = self.context
        return to_jsonable({
            "label": self.label,
            "networks": {name: {"sizes": net.sizes, "activations": net.activations}
                         for name, net in zip(ctx.names, (ctx.A, ctx.B))},
            "loss": ctx.loss,
            "tau": ctx.tau,
            "n_samples": int(ctx.X.shape[0]),
            "n_support_samples": int(ctx.Xs.shape[0]),
            "n_align_samples": int(ctx.X_align.shape[0]),
            "repair": ctx.repair,
            "structure_differences": ctx.structure_differences,
            "results": [c.to_json() for c in self.checks],
            "verdict_counts": dict(Counter(c.verdict for c in self.checks)),
            "violations": [c.to_json() for c in self.violations],
            "paths": self.paths_json(),
            "layers": self.layers_json(),
            "timings": dict(self.timings),
        })

    # --- rendering -------------------------------------------------------------------
    def verdict_summary(self) -> dict:
        """``{id: "holds x3, hypotheses not met x1"}`` over the scopes of each result."""
        out = {}
        for rid in CHECKED_RESULTS:
            counts = Counter(c.verdict for c in self.checks if c.id == rid)
            out[rid] = ", ".join(f"{v} x{n}" if n > 1 else v for v, n in counts.items()) or "-"
        return out

    def verdict_details(self) -> list[str]:
        """One line per failing hypothesis of each ``hypotheses not met`` verdict (what was
        measured, the threshold, by how much), the failing conclusion of each ``theory
        violation`` or ``fails`` verdict, per T1 check its power, per T4 path its
        elementwise and loss-level tightness, and each undetermined verdict's reason."""
        out = []
        for c in self.checks:
            if c.verdict == "hypotheses not met":
                out += c.slack_lines()
            elif c.verdict in ("theory violation", "fails"):
                out.append(c.conclusion_line())
            elif c.verdict == "undetermined":
                reason = c.conclusion.get("reason") or "; ".join(c.notes[-1:])
                out.append(f"{c.id} {c.scope}: undetermined ({reason})")
            if c.id == "T1" and "power" in c.quantities:
                out.append(f"T1 {c.scope}: power (quantile / bound) {_f(c.quantities['power'], 3)}")
            if c.id == "T4" and c.quantities.get("elementwise"):
                el = c.quantities["elementwise"]
                tight = (c.quantities.get("loss_tightness") or {}).get("B_lerp")
                out.append(f"T4 {c.scope}: elementwise tightness median {_f(el['median_tightness'], 3)}, "
                           f"max {_f(el['max_tightness'], 3)} ({el['violations']}/{el['entries']} entries "
                           f"above the bound); loss-level tightness {_f(tight, 3)} (B_lerp bound "
                           f"{_f(c.quantities['bound']['B_lerp'])}: global {_f(c.quantities['bound_global']['B_lerp'])}, "
                           f"box {_f(c.quantities['bound_box']['B_lerp'])})")
        return out

    def terminal(self) -> str:
        lines = [f"{self.label}  (loss {self.context.loss}, {len(self.context.X)} samples)"]
        paths = to_jsonable(self.paths_json())  # as report.json shows them (null: '-')
        width = max(11, *(len(name) + 1 for name in paths)) if paths else 11
        lines.append(f"  {'path':<{width}}{'B_lerp':>10} {'B_peak':>10} {'B_mid':>10} {'T4 bound':>10} {'tight':>6}")
        for name, p in paths.items():
            cert = p["certificate"]["B_lerp"]
            tight = p["tightness"]["B_lerp"]
            lines.append(f"  {name:<{width}}{_f(p['B_lerp']):>10} {_f(p['B_peak']):>10} {_f(p['B_mid']):>10}"
                         f" {_f(cert):>10} {_f(tight, 2):>6}")
        if self._norm_note():
            lines.append(f"  {self._norm_note()}")
        lines.append(f"  {'layer':<6}{'run':<4}{'rank':>5} {'nu':>7} {'aniso':>9} {'gamma':>10} {'delta_min':>10}"
                     f" {'med D_in':>10} {'med D_out':>10} {'med sum':>10} {'fixed pts':>9}")
        for entry in self.layers_json():
            corr = entry.get("correspondence")
            for run, s in entry["runs"].items():
                fp = f"{corr['fixed_points']}/{corr['neurons']}" if corr else "-"
                lines.append(f"  {entry['layer']:<6}{run:<4}{s['rank']:>5} {_f(s['coherence'], 3):>7}"
                             f" {_f(s['max_anisotropy'], 3):>9} {_f(s['gamma'], 3):>10} {_f(s['delta_min'], 3):>10}"
                             f" {_f(s['median_delta_in'], 3):>10} {_f(s['median_delta_out'], 3):>10}"
                             f" {_f(s['median_delta_sum'], 3):>10} {fp:>9}")
        lines.append("  verdicts: " + "; ".join(f"{rid} {v}" for rid, v in self.verdict_summary().items()))
        lines += ["  " + line for line in self.verdict_details()]
        if self.violations:
            lines.append("  !!! THEORY VIOLATION: " + ", ".join(f"{c.id} ({c.scope})" for c in self.violations))
        return "\n".join(lines) + "\n"

    def _norm_note(self) -> str:
        """One line when the certificate is unsupported because of normalization layers."""
        if any(p.get("certificate_status") == UNSUPPORTED_NORM for p in self.paths_json().values()):
            return (f"T4 certificate: {UNSUPPORTED_NORM} (THEORY.md section 4); barriers are measured, "
                    "no bound; normalized layers' neuron functions are their pre-activations (N1)")
        return ""

    def markdown(self) -> str:
        ctx = self.context
        md = [f"# neuronid check: {self.label}", ""]
        if self.violations:
            md += ["> **THEORY VIOLATION** (hypotheses hold, conclusion fails): "
                   + ", ".join(f"{c.id} ({c.scope})" for c in self.violations), ""]
        md += [f"Loss: {ctx.loss}; {ctx.X.shape[0]} samples for paths, {ctx.Xs.shape[0]} for supports "
               f"(tau = {ctx.tau}), {ctx.X_align.shape[0]} for matching"
               f"{' and REPAIR' if ctx.repair else ''}. Networks: "
               + "; ".join(f"{n}: sizes {net.sizes}" for n, net in zip(ctx.names, (ctx.A, ctx.B))), ""]
        if ctx.structure_differences:
            md += ["Structure differences: " + "; ".join(ctx.structure_differences), ""]
        md += ["## Paths (D5, D6) and the T4 certificate", "",
               "| path | B_lerp | B_peak | B_mid | B_mean | T4 bound on B_lerp | tightness |",
               "|---|---|---|---|---|---|---|"]
        for name, p in to_jsonable(self.paths_json()).items():
            md.append(f"| {name} | {_f(p['B_lerp'])} | {_f(p['B_peak'])} | {_f(p['B_mid'])} | {_f(p['B_mean'])} "
                      f"| {_f(p['certificate']['B_lerp'])} | {_f(p['tightness']['B_lerp'], 3)} |")
        if self._norm_note():
            md += ["", self._norm_note()]
        md += ["", "## Layers (D1-D4)", "",
               "| layer | run | rank | coherence | max anisotropy | T1 bound | gamma | delta_min | median Delta_in "
               "| median Delta_out | median sum Delta_in + Delta_out | negative sum | correspondence fixed points |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for entry in self.layers_json():
            corr = entry.get("correspondence")
            for run, s in entry["runs"].items():
                fp = f"{corr['fixed_points']}/{corr['neurons']}" if corr else "-"
                md.append(f"| {entry['layer']} | {run} | {s['rank']} | {_f(s['coherence'], 3)} | "
                          f"{_f(s['max_anisotropy'], 3)} | {_f(s['t1_bound'], 3)} | {_f(s['gamma'])} | "
                          f"{_f(s['delta_min'])} | {_f(s['median_delta_in'])} | {_f(s['median_delta_out'])} | "
                          f"{_f(s['median_delta_sum'])} | {_f(s['negative_delta_fraction'], 2)} "
                          f"| {fp} |")
        md += ["", "## Verdicts", "", "| result | scope | verdict | hypotheses | conclusion |", "|---|---|---|---|---|"]
        for c in self.checks:
            hyps = ", ".join(f"{k}: {v['status']}" for k, v in c.hypotheses.items()) or "-"
            concl = c.conclusion.get("status", "-")
            verdict = f"**{c.verdict}**" if c.verdict == "theory violation" else c.verdict
            md.append(f"| {c.id} | {c.scope} | {verdict} | {hyps} | {concl} |")
        details = self.verdict_details()
        if details:
            md += ["", "### Why: hypotheses not met (with slack), failing conclusions, power and tightness", ""]
            md += [f"- {line}" for line in details]
        md += ["", "Every number behind each verdict is in `report.json` (`results[].hypotheses[].values`, "
               "`results[].quantities`)."]
        return "\n".join(md) + "\n"

    # --- files -----------------------------------------------------------------------
    def write(self, out_dir) -> list[str]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "report.json", self.to_json())
        write_text(out / "report.md", self.markdown())  # atomic: never through a hard link
        files = [str(out / "report.json"), str(out / "report.md")]
        files += self.plots(out)
        return files

    def plots(self, out_dir) -> list[str]:
        # imported here: matplotlib (about 0.5 s) loads only when plots are written
        from .plots import plot_paths, plot_swap_heatmap

        out = Path(out_dir)
        files = [str(plot_paths(self, out / "barriers.png"))]
        ctx = self.context
        for l in range(ctx.n_hidden):
            for run, name in enumerate(ctx.names):
                lc = ctx.costs[run][l]
                path = out / f"swap_costs_{name}_layer{l}.png"
                plot_swap_heatmap(lc.delta_in, path, title=f"{self.label}: {name} layer {l}: swap cost Delta_in "
                                  f"(tau = {ctx.tau})", label="Delta_in(i, j)")
                files.append(str(path))
                if ctx.B is ctx.A:
                    break
        return files


def _curves(path) -> dict:
    """``steps``, ``loss`` and ``error`` of a path as its ``lmc`` block writes them."""
    curves = path.to_json()
    return {"steps": curves["steps"], "loss": curves["loss"], "error": curves["error"]}


def _f(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not np.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    return f"{value:.{digits}g}"


class StageTimer:
    """Wall-clock seconds per stage of a check (``report.json`` ``timings``); with
    ``progress`` each stage is announced on stderr when it starts and ends.

    Stages may nest (a checker that computes a shared measurement first): each stage
    counts its own time only, so no second is counted twice, and ``"total"`` (always
    the last key) is the sum over the stages, kept up to date as stages end (a stage
    computed later, e.g. while the report is rendered, is added then).

    >>> timer = StageTimer()
    >>> with timer("outer"):
    ...     with timer("inner"):
    ...         pass
    >>> list(timer.seconds)
    ['outer', 'inner', 'total']
    >>> timer.seconds["total"] == timer.seconds["outer"] + timer.seconds["inner"]
    True
    """

    def __init__(self, progress: bool = False):
        self.progress = progress
        self.seconds: dict = {}
        self._nested: list = []  # per open stage: seconds spent in the stages it opened

    @contextmanager
    def __call__(self, stage: str):
        if self.progress:
            print(f"  {stage} ...", file=sys.stderr, flush=True)
        self.seconds.setdefault(stage, 0.0)
        if "total" in self.seconds:  # keep "total" the last key
            self.seconds["total"] = self.seconds.pop("total")
        self._nested.append(0.0)
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            inner = self._nested.pop()
            if self._nested:
                self._nested[-1] += elapsed
            self.seconds[stage] += elapsed - inner
            self.seconds.pop("total", None)
            self.seconds["total"] = sum(self.seconds.values())
            if self.progress:
                print(f"  {stage}: {self.seconds[stage]:.1f} s", file=sys.stderr, flush=True)


def full_check(A, B, X, y, *, loss: str, label: str = "A vs B", names=("A", "B"), tau: float = 0.9,
               steps: int = 21, X_support=None, X_align=None, repair: bool = False, ids=None, seed: int = 0,
               progress: bool = False, announce: bool | None = None) -> Report:
    """Run every measurement and checker on one pair; returns a :class:`Report`.

    ``X, y`` evaluate the paths; ``X_support`` (default ``X``) feeds supports and
    costs; ``X_align`` (default ``X_support``) activation matching and REPAIR
    statistics; ``repair`` adds the REPAIRed twin of every path (THEORY N3). ``ids``: the
    results to check (a list, or one string ``"P2"`` / ``"P2,T3"``; default all).

    ``progress``: progress bars (terminal only); ``announce`` (default: ``progress``):
    one line on stderr per stage start and end. ``timings`` of the report: seconds per
    stage that ran, ``"checker <ID>"`` per checker, then ``"total"``; with ``ids`` the
    shared measurements appear when a checker or the report first computes them.

    >>> import numpy as np
    >>> from neuronid.numerics.structures import standard_mlp
    >>> A, B = standard_mlp([4, 6, 3], seed=0), standard_mlp([4, 6, 3], seed=1)
    >>> X = np.random.default_rng(0).normal(size=(50, 4)); y = np.arange(50) % 3
    >>> report = full_check(A, B, X, y, loss="ce")
    >>> report.violations
    []
    """
    timer = StageTimer(progress if announce is None else announce)
    ctx = CheckContext(A, B, X, y, loss=loss, tau=tau, steps=steps, X_support=X_support, names=names,
                       seed=seed, progress=progress, X_align=X_align, repair=repair)
    ctx.stage_timer = timer  # every shared measurement is timed when it is computed
    if ids is None:  # every checker runs: the shared measurements first, in order
        ids = CHECKED_RESULTS
        for attribute in STAGES.values():
            getattr(ctx, attribute)
    else:  # a subset computes what its checkers need inside them (the report may compute more later)
        if isinstance(ids, str):  # "P2" or "P2,T3" (not its characters)
            ids = [part.strip() for part in ids.split(",") if part.strip()]
        ids = tuple(dict.fromkeys(str(i).upper() for i in ids))
        if not ids:
            raise InvalidOptionError("ids: no result ID given (None checks every result)")
        run_checks(ctx, [i for i in ids if i not in CHECKED_RESULTS])  # an unknown ID raises before any work
    checks = []
    for rid in ids:
        with timer(f"checker {rid}"):
            checks += run_checks(ctx, [rid])
    return Report(label=label, context=ctx, checks=checks, timings=timer.seconds)
