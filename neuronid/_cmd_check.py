"""``neuronid check``: the main job.

Without arguments: the built-in default (two standard MLPs vs two W-MLPs). With
``A B --data D``: the pair report for the given files.
"""

from __future__ import annotations

from pathlib import Path

from neuronid._cli_common import (
    add_activations_option,
    add_json_option,
    load_data,
    load_networks,
    maybe_write_json,
    require,
)
from neuronid.numerics.io import check_data_for, write_json
from neuronid.proofs_checks.default_check import format_default_check, run_default_check
from neuronid.proofs_checks.pairs import compare_pair, format_pairs


def register(sub) -> None:
    p = sub.add_parser(
        "check",
        help="the main job: check the theory on two networks (no arguments: built-in default)",
        description=(
            "Check two networks and data against the theory. With no arguments, run the built-in "
            "default: train two standard MLPs and two W-MLPs (sigma_F = 1) on subspace data and "
            "compare each pair's linear-path barriers, unaligned and aligned."
        ),
    )
    p.add_argument("A", nargs="?", help="first network file")
    p.add_argument("B", nargs="?", help="second network file")
    p.add_argument("--data", help="data file (.npz with X and y); required with A and B")
    p.add_argument("--loss", choices=["ce", "mse"], help="default: ce for labels, mse for real targets")
    p.add_argument("--steps", type=int, default=21, help="grid points on [0, 1] (default 21)")
    p.add_argument("--out", metavar="DIR", help="write report.json (and, for the default, the networks and data) to DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_activations_option(p)
    add_json_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    require(args.steps >= 2, f"--steps must be at least 2, found {args.steps}")
    if args.A is None:
        require(args.data is None, "--data needs two network files A B (or no arguments for the default check)")
        from neuronid.proofs_checks.default_check import DefaultCheckConfig

        check = run_default_check(DefaultCheckConfig(steps=args.steps), progress=not args.quiet, out_dir=args.out)
        print(format_default_check(check), end="")
        report = check.to_json()
    else:
        require(args.B is not None, "check needs two network files A B, or no arguments for the default check")
        require(args.data is not None, "check A B needs --data D (.npz with X and y)")
        A, B = load_networks([args.A, args.B], args.activations)
        data = load_data(args.data)
        for path, net in ((args.A, A), (args.B, B)):
            check_data_for(net, data, source=f"{args.data} (for {path})")
        require(data.y is not None, f"{args.data}: the check needs targets 'y'; the file has only 'X'")
        loss = args.loss or ("ce" if data.y.dtype.kind == "i" else "mse")
        pair = compare_pair(A, B, data.X, data.y, loss=loss, label=f"{args.A} vs {args.B}", steps=args.steps)
        print(format_pairs([pair]), end="")
        report = {"pairs": {pair.label: pair.to_json()}}
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        write_json(Path(args.out) / "report.json", report)
        print(f"wrote {Path(args.out) / 'report.json'}")
    maybe_write_json(args, report)
    return 0
