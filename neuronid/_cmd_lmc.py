"""``neuronid lmc A B --data D``: linear-path barriers, unaligned and aligned (D5, D6)."""

from __future__ import annotations

from neuronid._cli_common import (
    add_activations_option,
    add_align_data_option,
    load_align_data,
    note_shared_data,
    add_json_option,
    load_data,
    load_networks,
    maybe_write_json,
    positive_int,
    require,
)
from neuronid.numerics.io import check_data_for
from neuronid.proofs_checks.pairs import compare_pair, format_pairs


def register(sub) -> None:
    p = sub.add_parser(
        "lmc",
        help="barriers of the linear path between two networks (unaligned / aligned)",
        description=(
            "Evaluate loss and error on a grid along the straight line between A and B in "
            "effective-weight space (THEORY.md D5), optionally after aligning B to A (D6)."
        ),
    )
    p.add_argument("A", help="first network file (.safetensors or .npz)")
    p.add_argument("B", help="second network file")
    p.add_argument("--data", required=True, help="evaluation data file (.npz with X and y)")
    add_align_data_option(p)
    p.add_argument("--repair", action="store_true",
                   help="also the REPAIRed path of every alignment (unaligned+repair, activation+repair, "
                        "weight+repair; THEORY N3), statistics on the matching data")
    p.add_argument("--align", choices=["none", "activation", "weight", "all"], default="none")
    p.add_argument("--steps", type=int, default=21, help="grid points on [0, 1] (default 21, at least 2)")
    p.add_argument("--loss", choices=["ce", "mse"], help="default: ce for labels, mse for real targets")
    p.add_argument(
        "--similarity", choices=["correlation", "dot", "abs_correlation"], default="correlation",
        help="activation matching similarity (maximized)",
    )
    p.add_argument("--restarts", type=positive_int, default=5, help="weight matching restarts")
    p.add_argument("--seed", type=int, default=0, help="weight matching seed")
    p.add_argument(
        "--allow-structure-mismatch", action="store_true",
        help="interpolate effective weights even if masks or fixed parts differ",
    )
    p.add_argument(
        "--reset-bn", action="store_true",
        help="recompute BatchNorm statistics on the data at every path point (as Git Re-Basin) instead of "
             "interpolating them",
    )
    add_activations_option(p)
    add_json_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    require(args.steps >= 2, f"--steps must be at least 2 (the two endpoints), found {args.steps}")
    A, B = load_networks([args.A, args.B], args.activations)
    data = load_data(args.data)
    for path, net in ((args.A, A), (args.B, B)):
        check_data_for(net, data, source=f"{args.data} (for {path})")
    align = {"none": (), "all": ("activation", "weight")}.get(args.align, (args.align,))
    require(data.y is not None, f"{args.data}: the path loss needs targets 'y'; the file has only 'X'")
    loss = args.loss or ("ce" if data.y.dtype.kind == "i" else "mse")
    if args.reset_bn:
        require(
            any(n is not None and n.kind == "batch" for net in (A, B) for n in net.norms),
            f"--reset-bn: neither {args.A} nor {args.B} has a BatchNorm layer (nothing to recompute)",
        )
    X_align = load_align_data(args, (A, B))
    pair = compare_pair(
        A, B, data.X, data.y, loss=loss, label=f"{args.A} vs {args.B}", align=align, steps=args.steps,
        X_align=X_align, similarity=args.similarity, restarts=args.restarts, seed=args.seed,
        allow_structure_mismatch=args.allow_structure_mismatch, repair=args.repair, reset_bn=args.reset_bn,
    )
    print(format_pairs([pair]), end="")
    out = pair.to_json()
    out["data"] = args.data
    out["align_data"] = args.align_data or args.data
    maybe_write_json(args, out)
    note_shared_data(args, uses_data="activation" in align or args.repair or args.reset_bn)
    return 0
