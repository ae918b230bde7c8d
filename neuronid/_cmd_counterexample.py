"""``neuronid counterexample ID --drop H``: a saved, re-checkable counterexample."""

from __future__ import annotations

from neuronid._cli_common import (
    add_force_option,
    add_json_option,
    guard_outputs,
    json_output,
    maybe_write_json,
    output_folder,
    seed_int,
)
from neuronid.proofs_checks.counterexamples import COUNTEREXAMPLES, search_counterexample


#: The files a counterexample folder holds.
_FILES = ("A.safetensors", "B.safetensors", "data.npz", "witness.json")


def register(sub) -> None:
    cases = "; ".join(f"{rid} --drop {h}" for rid, h in sorted(COUNTEREXAMPLES))
    p = sub.add_parser(
        "counterexample",
        help="find a small case where a result's conclusion fails once a hypothesis is dropped",
        description=(
            "Search (targeted construction + hypothesis-driven shrinking) for a small case where the "
            "conclusion of result ID fails with hypothesis H dropped, confirm it with the full check, and "
            f"save A.safetensors, B.safetensors, data.npz and witness.json. Available: {cases}. "
            "The hypothesis may be given by its short name (H3)."
        ),
    )
    p.add_argument("id", metavar="ID", help="result ID (T2, T3, P5, P6, N2)")
    p.add_argument("--drop", required=True, metavar="H", help="the hypothesis to drop, e.g. H3")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the search")
    p.add_argument("--out", metavar="DIR", help="folder for the saved case (default: counterexample_<ID>_<H>)")
    add_json_option(p)
    add_force_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.out is not None:
        guard_outputs(outputs=[json_output(args), output_folder("--out", args.out, _FILES)], force=args.force)
    case = search_counterexample(args.id, args.drop, seed=args.seed)
    out = args.out or f"counterexample_{case.id}_{case.dropped}"
    guard_outputs(outputs=[json_output(args), output_folder("--out", out, _FILES)], force=args.force)
    files = case.save(out)
    n = case.numbers
    print(f"{case.id} without {case.dropped}: conclusion fails")
    print(f"  {case.construction}")
    print(f"  {'same function' if case.id != 'N2' else 'the symmetry breaks'}: max |f_A - f_B| = {n['max_output_difference_A_B']:.3g}; "
          f"barrier B_mid = {n['B_mid']:.4g}, B_lerp = {n['B_lerp']:.4g} ({case.loss})")
    v = case.verdicts
    print(f"  {'neuronid check' if v['result'] != 'N2' else 'the N2 check'} on the saved files: {v['result']} " + ", ".join(
        f"{scope}: {verdict}" for scope, verdict in v["verdicts"].items()) + f" (conclusion {v['conclusion']})")
    print(f"  wrote {', '.join(files)}")
    print(f"  reproduce: cd {out} && {case.witness()['reproduce']}")
    maybe_write_json(args, case.witness())
    return 0
