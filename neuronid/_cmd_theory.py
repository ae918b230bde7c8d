"""``neuronid symmetries ACTIVATION`` and ``neuronid results [ID]`` (the theory layer).

``symmetries`` prints an activation's derived properties (monotonicity, Lipschitz
constant, curvature bound or kinks, each with the method used) and its D7
structural symmetries with their proof status. ``results`` prints the THEORY.md
registry: statements, hypotheses as predicates, conclusions, and the symbolic proof
obligations with whether each was verified. Both take ``--json PATH``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from typing import Any

from neuronid._cli_common import add_force_option, guard_outputs, output_file
from neuronid.numerics.io import write_text
from neuronid.theory._budget import BudgetExhausted, run_isolated
from neuronid.theory.activations import CATALOGUE, get_activation, undetermined_analysis
from neuronid.theory.registry import all_results, get_result
from neuronid.theory.symmetries import find_symmetries, undetermined_symmetries

__all__ = ["register", "run_symmetries", "run_results", "write_json_atomic", "json_safe"]


# ------------------------------------------------------------------------------ JSON


def json_safe(obj: Any) -> Any:
    """Replace non-finite floats by ``None`` plus a sibling ``"<key>_reason"``.

    Examples
    --------
    >>> json_safe({"lipschitz": float("inf")})
    {'lipschitz': None, 'lipschitz_reason': 'inf'}
    """
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
                out.setdefault(f"{key}_reason", "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
            else:
                out[key] = json_safe(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [None if isinstance(v, float) and not math.isfinite(v) else json_safe(v) for v in obj]
    return obj


def _check_json_path(path: str | None, force: bool = False) -> None:
    guard_outputs(outputs=[output_file("--json", path, [".json"])], force=force)


def write_json_atomic(path: str, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (temporary file + ``os.replace``,
    mode from the umask; an ``OSError`` is one error naming the path)."""
    write_text(path, json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")


# ------------------------------------------------------------------------ symmetries


def _interval_dict(lo: float, hi: float) -> dict:
    return {"lo": lo, "hi": hi}


def symmetries_report(spec: str) -> dict:
    """The JSON object of ``neuronid symmetries``.

    For a user expression (``sympy:...``) the whole derivation runs in one isolated
    process with one time and memory budget (:func:`run_isolated`); past it every
    property is ``undetermined`` with the reason, never a hang.
    """
    act = get_activation(spec)
    if act.base == "sympy":
        try:
            rep = run_isolated(lambda: _report(act), what="the symbolic analysis")
        except BudgetExhausted as exc:
            rep = _report(act, undetermined_analysis(str(exc)), undetermined_symmetries(str(exc)))
        return rep
    return _report(act)


def _report(act, analysis=None, symmetries=None) -> dict:
    analysis = act.analysis if analysis is None else analysis
    symmetries = find_symmetries(act) if symmetries is None else symmetries
    if analysis.undetermined is not None:
        reason = f"undetermined: {analysis.undetermined}"
        return {
            "activation": act.name, "expression": str(act.expr),
            "monotone": "undetermined", "monotone_reason": reason, "decreasing_intervals": [],
            "lipschitz": None, "lipschitz_reason": reason, "lipschitz_exact": None,
            "curvature": None, "curvature_reason": reason, "curvature_exact": None,
            "kinks": [], "kinks_reason": reason, "piecewise_linear": None, "method": dict(analysis.method),
            "symmetries": [s.to_dict() for s in symmetries],
        }
    lip_exact, curv_exact = act.lipschitz_exact, act.curvature_exact
    report: dict[str, Any] = {
        "activation": act.name,
        "expression": str(act.expr),
        "monotone": act.monotone,
        "decreasing_intervals": [_interval_dict(lo, hi) for lo, hi in act.decreasing_intervals],
        "lipschitz": act.lipschitz,
        "lipschitz_exact": None if lip_exact is None else str(lip_exact),
        "curvature": act.curvature,
        "curvature_exact": None if curv_exact is None else str(curv_exact),
        "kinks": [{"location": x, "left_slope": l, "right_slope": r} for x, l, r in act.kinks],
        "piecewise_linear": act.piecewise_linear,
        "method": act.method,
        "symmetries": [s.to_dict() for s in symmetries],
    }
    if act.curvature is None:
        report["curvature_reason"] = "piecewise linear with kinks: sigma'' = 0 off the kinks (see kinks)"
    elif math.isinf(act.curvature):
        report["curvature_reason"] = "unbounded"
    if math.isinf(act.lipschitz):
        report["lipschitz_reason"] = "unbounded"
    return report


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.12g}"


def _with_exact(value: float, exact: str | None) -> str:
    text = _fmt(value)
    if exact and exact not in (text, "oo"):
        text += f" = {exact}"
    return text


def _short_method(m: str) -> str:
    return "symbolic" if m.startswith("symbolic") else "numeric"


def run_symmetries(args: argparse.Namespace) -> int:
    _check_json_path(args.json_path, args.force)
    rep = symmetries_report(args.activation)
    out = sys.stdout
    method = rep["method"]
    out.write(f"activation  {rep['activation']}    sigma(z) = {rep['expression']}\n")
    dec = ", ".join(f"({_fmt(d['lo'])}, {_fmt(d['hi'])})" for d in rep["decreasing_intervals"])
    if rep["monotone"] == "undetermined":
        out.write("monotone    undetermined\nlipschitz   undetermined\ncurvature   undetermined\n"
                  "kinks       undetermined\n")
        out.write(textwrap.fill(rep["monotone_reason"], width=100, initial_indent="  note ",
                                subsequent_indent="       ") + "\n")
        _write_symmetries(out, rep)
        if args.json_path:
            write_json_atomic(args.json_path, rep)
        return 0
    out.write(f"monotone    {rep['monotone']}" + (f"; decreasing on {dec}" if dec else "")
              + f"    [{_short_method(method['monotone'])}]\n")
    lip = _with_exact(rep["lipschitz"], rep["lipschitz_exact"])
    out.write(f"lipschitz   sup|sigma'| = {lip}    [{_short_method(method['lipschitz'])}]\n")
    if rep["curvature"] is None:
        out.write("curvature   - (piecewise linear; see kinks)\n")
    else:
        curv = _with_exact(rep["curvature"], rep["curvature_exact"])
        out.write(f"curvature   M = sup|sigma''| = {curv}    [{_short_method(method['curvature'])}]\n")
    kinks = ", ".join(f"z = {_fmt(k['location'])} (slopes {_fmt(k['left_slope'])} | {_fmt(k['right_slope'])})"
                      for k in rep["kinks"]) or "none"
    out.write(f"kinks       {kinks}\n")
    for key in ("monotone", "lipschitz", "curvature"):
        if not method[key].startswith("symbolic"):
            out.write(textwrap.fill(f"{key}: {method[key]}", width=100, initial_indent="  note ",
                                    subsequent_indent="       ") + "\n")
    _write_symmetries(out, rep)
    if args.json_path:
        write_json_atomic(args.json_path, rep)
    return 0


def _write_symmetries(out, rep: dict) -> None:
    out.write("symmetries (D7)\n")
    for s in rep["symmetries"]:
        out.write(f"  {s['status']:<14} {s['name']:<21} {s['identity']}\n")
        if s["status"] == "proved":
            out.write(f"  {'':<14} {'':<21} -> {s['transformation']}\n")
        elif s["status"] == "disproved" and s["witness"]:
            wit = ", ".join(f"{k} = {v}" for k, v in s["witness"].items())
            out.write(f"  {'':<14} {'':<21} witness: {wit}\n")
        elif s["status"] == "undetermined" and s["proof"] and s["proof"][0].startswith("undetermined:"):
            out.write(f"  {'':<14} {'':<21} {s['proof'][0][:120]}\n")


# --------------------------------------------------------------------------- results


def results_report(result_id: str | None) -> dict:
    """The JSON object of ``neuronid results``."""
    items = [get_result(result_id)] if result_id else list(all_results())
    results = [r.to_dict(run_obligations=True) for r in items]
    obligations = [o for r in results for o in r["obligations"]]
    proofs = [o for o in obligations if o["kind"] == "proof"]
    summary = {"items": len(results), "obligations": len(obligations), "proofs": len(proofs),
               "proofs_verified": sum(o["verified"] for o in proofs),
               "sanity_identities": sum(o["kind"] == "sanity identity" for o in obligations),
               "references": sum(o["kind"].startswith("reference") for o in obligations),
               "verified": sum(o["verified"] for o in obligations)}
    return {"results": results, "summary": summary,
            "selftest": {"command": "neuronid selftest [--json PATH] [--results IDS]",
                         "what": ("mutation self-test of the checkers of P1-P6, T1-T4: each must say 'holds' "
                                  "on a case where its conclusion holds and flag at least two planted defects "
                                  "(theory violation, or undetermined); exit 0 only at 100 %")}}


def run_results(args: argparse.Namespace) -> int:
    _check_json_path(args.json_path, args.force)
    rep = results_report(args.id)
    out = sys.stdout
    wrap = dict(width=100, initial_indent="    ", subsequent_indent="    ")
    for r in rep["results"]:
        out.write(f"{r['id']:<4}{r['kind']:<12}{r['title']}\n")
        out.write(textwrap.fill(r["statement"], **wrap) + "\n")
        for h in r["hypotheses"]:
            out.write(f"    hypothesis {h['name']}: {h['predicate']}\n")
        concl = r["conclusion"] + (f"   [{r['conclusion_predicate']}]" if r["conclusion_predicate"] else "")
        out.write(f"    conclusion {concl}\n")
        for o in sorted(r["obligations"], key=lambda o: o["kind"] != "proof"):
            mark = "verified" if o["verified"] else "NOT VERIFIED"
            label = "proof" if o["kind"] == "proof" else o["kind"]
            out.write(f"    {label:<16} {o['name']:<32} {mark:<12} ({o['seconds']:.2f}s)\n")
            if not o["verified"]:
                out.write(f"      {o['detail']}\n")
    s = rep["summary"]
    out.write(f"{s['items']} items: {s['proofs']} proofs, {s['proofs_verified']} verified by SymPy; "
              f"{s['sanity_identities']} sanity identities and {s['references']} references to other items' "
              "proofs (not counted as proofs)\n")
    if args.json_path:
        write_json_atomic(args.json_path, rep)
    return 0


# -------------------------------------------------------------------------- register


def register(subparsers) -> None:
    """Add the ``symmetries`` and ``results`` subcommands."""
    p = subparsers.add_parser(
        "symmetries",
        help="properties and proved structural symmetries (D7) of an activation",
        description=("Derive monotonicity, Lipschitz constant sup|sigma'|, curvature bound "
                     "sup|sigma''| or kinks, and prove the structural symmetries (D7) of an "
                     "activation. ACTIVATION: " + ", ".join(CATALOGUE)
                     + ", leaky_relu:<slope>, elu:<alpha>, or sympy:<expression in z>."),
    )
    p.add_argument("activation", metavar="ACTIVATION", help="e.g. gelu, leaky_relu:0.2, 'sympy:z*tanh(z)'")
    p.add_argument("--json", metavar="PATH", dest="json_path", help="also write the report as JSON")
    add_force_option(p)
    p.set_defaults(func=run_symmetries)

    q = subparsers.add_parser(
        "results",
        help="THEORY.md items with hypotheses and verified proof obligations",
        description=("List the THEORY.md items (D1-D7, P1-P6, T1-T4, E1-E3): statement, hypotheses "
                     "as SymPy predicates over measured quantities, conclusion, and the symbolic "
                     "proof obligations, each verified now with SymPy."),
    )
    q.add_argument("id", nargs="?", metavar="ID", help="one item, e.g. T4 (default: all)")
    q.add_argument("--json", metavar="PATH", dest="json_path", help="also write the report as JSON")
    add_force_option(q)
    q.set_defaults(func=run_results)
