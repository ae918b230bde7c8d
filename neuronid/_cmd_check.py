"""``neuronid check``: the main job.

Without arguments: the built-in default (two standard MLPs vs two W-MLPs, verdicts
side by side). With ``A B --data D``: the full report for the given files (layers,
paths with the T4 certificate, a verdict per result) on the terminal, and with
``--out DIR`` as ``report.md``, ``report.json`` and PNG plots.
"""

from __future__ import annotations

from pathlib import Path

from neuronid._cli_common import (
    MAX_STEPS,
    add_activations_option,
    add_align_data_option,
    add_force_option,
    load_align_data,
    load_support_data,
    note_shared_data,
    add_json_option,
    check_forward_finite,
    guard_outputs,
    json_output,
    load_data,
    load_networks,
    maybe_write_json,
    merged_names,
    name_list,
    output_folder,
    progress_enabled,
    require,
    require_same_sizes,
)
from neuronid.numerics.io import check_data_for, write_json
from neuronid.numerics.paths import check_pair
from neuronid.proofs_checks.checkers import CHECKED_RESULTS
from neuronid.proofs_checks.default_check import DefaultCheckConfig, format_default_check, run_default_check
from neuronid.proofs_checks.report import full_check
from neuronid.errors import StructureMismatchError, UnknownResultError


def register(sub) -> None:
    p = sub.add_parser(
        "check",
        help="the main job: check the theory on two networks (no arguments: built-in default)",
        description=(
            "Check two networks and data against THEORY.md: supports, costs and margins per layer "
            "(D1-D4), linear paths unaligned and aligned (D5, D6) with the T4 certificate, and a "
            "verdict per result (P1-P6, T1-T4): holds / fails / hypotheses not met / not applicable, "
            "or THEORY VIOLATION. With no arguments, run the built-in default: two standard MLPs "
            "and two W-MLPs (sigma_F = 1) trained on subspace data, verdicts side by side."
        ),
    )
    p.add_argument("A", nargs="?", help="first network file")
    p.add_argument("B", nargs="?", help="second network file")
    p.add_argument("--data", help="evaluation data file (.npz with X and y); required with A and B")
    add_align_data_option(p, support=True)
    p.add_argument("--repair", action="store_true",
                   help="also the REPAIRed twin of every path (THEORY N3; opt-in: it adds three paths)")
    p.add_argument("--loss", choices=["ce", "mse"], help="default: ce for labels, mse for real targets")
    p.add_argument("--steps", type=int, default=21, help="grid points on [0, 1] (default 21)")
    p.add_argument("--tau", type=float, default=0.9, help="explained-variance threshold of the supports (D1)")
    p.add_argument("--results", type=name_list, action="append", metavar="IDS",
                   help="comma-separated result IDs to check; may be repeated (--results P2 --results T4 checks "
                        f"both; default: all of {','.join(CHECKED_RESULTS)})")
    p.add_argument("--out", metavar="DIR", help="write report.md, report.json and PNG plots to DIR")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars (shown on a terminal only) and no stage lines (one per stage start "
                        "and end on stderr)")
    add_activations_option(p)
    add_json_option(p)
    add_force_option(p)
    p.set_defaults(func=run)


#: Files ``check A B --out DIR`` writes directly in DIR (patterns for the per-layer plots):
#: checked against the inputs, and never written through a link (``guard_outputs``).
_OUT_FILES = ("report.md", "report.json", "barriers.png", "swap_costs_*.png")


def _check_comparable(path_a: str, A, path_b: str, B) -> None:
    """The check compares two networks neuron by neuron: both need hidden layers
    and the same sizes (refused before anything is computed or written)."""
    for path, net in ((path_a, A), (path_b, B)):
        if len(net.layers) < 2:
            raise StructureMismatchError(
                f"{path}: the network has no hidden layer (sizes {net.sizes}); the check compares hidden neurons")
    require_same_sizes(path_a, A, path_b, B, "the check compares two networks of one architecture neuron by neuron")
    # the paths interpolate effective weights (masks and fixed parts may differ), but every
    # neuron's activation must agree: refused here, naming the files, not after the stages
    check_pair(A, B, allow_structure_mismatch=True, what=f"{path_a} and {path_b}")


def _result_ids(groups):
    """The IDs of every ``--results`` occurrence (union, in order; ``None``: all)."""
    ids = merged_names("--results", groups, CHECKED_RESULTS)
    if ids is None:
        return None
    unknown = [i for i in ids if i not in CHECKED_RESULTS]
    if unknown:
        raise UnknownResultError(
            f"unknown result ID(s) {', '.join(unknown)}; valid: {', '.join(CHECKED_RESULTS)}"
        )
    return ids


def run(args) -> int:
    require(2 <= args.steps <= MAX_STEPS, f"--steps must be at least 2 (the two endpoints) and at most {MAX_STEPS}, found {args.steps}")
    require(0.0 < args.tau <= 1.0, f"--tau must lie in (0, 1], found {args.tau}")
    ids = _result_ids(args.results)
    inputs = [args.A, args.B, args.data, getattr(args, "align_data", None), getattr(args, "support_data", None)]
    guard_outputs(inputs=inputs, outputs=[json_output(args), output_folder("--out", args.out, _OUT_FILES)],
                  force=args.force)
    if args.A is None:
        require(args.data is None, "--data needs two network files A B (or no arguments for the default check)")
        for flag in ("align_data", "support_data", "repair"):
            require(not getattr(args, flag), f"--{flag.replace('_', '-')} applies to check A B --data D")
        require(ids is None, "--results applies to check A B --data D")
        check = run_default_check(DefaultCheckConfig(steps=args.steps), progress=progress_enabled(args),
                                  out_dir=args.out)
        print(format_default_check(check), end="")
        report = check.to_json()
        if args.out:
            write_json(Path(args.out) / "report.json", report)
            print(f"wrote {args.out}/ (report.json, per-pair report.md/report.json/plots, networks, data)")
    else:
        require(args.B is not None, "check needs two network files A B, or no arguments for the default check")
        require(args.data is not None, "check A B needs --data D (.npz with X and y)")
        A, B = load_networks([args.A, args.B], args.activations)
        data = load_data(args.data)
        _check_comparable(args.A, A, args.B, B)
        for path, net in ((args.A, A), (args.B, B)):
            check_data_for(net, data, source=f"{args.data} (for {path})")
        require(data.y is not None, f"{args.data}: the check needs targets 'y'; the file has only 'X'")
        for path, net in ((args.A, A), (args.B, B)):
            check_forward_finite(net, data.X, source=path, data_source=args.data)
        loss = args.loss or ("ce" if data.y.dtype.kind == "i" else "mse")
        X_align = load_align_data(args, (A, B))
        X_support = load_support_data(args, (A, B))
        result = full_check(A, B, data.X, data.y, loss=loss, label=f"{args.A} vs {args.B}", tau=args.tau,
                            steps=args.steps, ids=ids, progress=progress_enabled(args), X_support=X_support,
                            X_align=X_align, repair=args.repair, announce=not args.quiet)
        print(result.terminal(), end="")
        report = result.to_json()
        if args.out:
            files = result.write(args.out)
            print(f"wrote {len(files)} files to {args.out}/ (report.md, report.json, plots)")
    maybe_write_json(args, report)
    if args.A is not None:
        note_shared_data(args)
    return 0
