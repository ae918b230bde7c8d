"""``neuronid lmc A B --data D``: linear-path barriers, unaligned and aligned (D5, D6)."""

from __future__ import annotations

from neuronid._cli_common import (
    MAX_STEPS,
    add_activations_option,
    add_align_data_option,
    add_force_option,
    load_align_data,
    note_shared_data,
    add_json_option,
    check_forward_finite,
    guard_outputs,
    int_in,
    json_output,
    load_data,
    load_networks,
    maybe_write_json,
    require,
    require_same_sizes,
    seed_int,
)
from neuronid.numerics.io import check_data_for
from neuronid.numerics.paths import check_pair
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
    p.add_argument("--steps", type=int, default=21, help=f"grid points on [0, 1] (default 21, 2 to {MAX_STEPS})")
    p.add_argument("--loss", choices=["ce", "mse"], help="default: ce for labels, mse for real targets")
    p.add_argument(
        "--similarity", choices=["correlation", "dot", "abs_correlation"], default="correlation",
        help="activation matching similarity (maximized)",
    )
    p.add_argument("--restarts", type=int_in(1, 10_000), default=5, help="weight matching restarts")
    p.add_argument("--seed", type=seed_int, default=0, help="weight matching seed")
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
    add_force_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    require(2 <= args.steps <= MAX_STEPS,
            f"--steps must be at least 2 (the two endpoints) and at most {MAX_STEPS}, found {args.steps}")
    guard_outputs(inputs=[args.A, args.B, args.data, args.align_data], outputs=[json_output(args)], force=args.force)
    A, B = load_networks([args.A, args.B], args.activations)
    require_same_sizes(args.A, A, args.B, B, "the linear path interpolates the weights of one architecture")
    data = load_data(args.data)
    # the structure first, naming the files (the API's message says "A and B")
    check_pair(A, B, allow_structure_mismatch=args.allow_structure_mismatch, what=f"{args.A} and {args.B}")
    for path, net in ((args.A, A), (args.B, B)):
        check_data_for(net, data, source=f"{args.data} (for {path})")
        check_forward_finite(net, data.X, source=path, data_source=args.data)
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
