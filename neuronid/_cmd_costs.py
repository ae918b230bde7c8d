"""``neuronid costs NET [B] --data D``: supports, cost matrices, swap costs, margins
and the T1 bound per hidden layer (THEORY.md D1-D4, P1, T1); with two networks also
the cross-run correspondence (D4)."""

from __future__ import annotations

import math

import numpy as np

from neuronid._cli_common import (
    add_activations_option,
    add_force_option,
    add_json_option,
    check_forward_finite,
    guard_outputs,
    json_output,
    load_data,
    load_networks,
    maybe_write_json,
    output_folder,
    positive_int,
    progress_enabled,
    require,
)


def register(sub) -> None:
    p = sub.add_parser(
        "costs",
        help="realization costs, swap costs and margins per hidden layer (D1-D4, P1, T1)",
        description=(
            "For each hidden layer (or --layer L, indexed from 0): the input support at "
            "explained-variance threshold tau (D1), the closed-form cost matrix K (P1), slack, "
            "swap costs Delta_in / Delta_out / Delta and the margins gamma and delta_min (D3), "
            "and per-neuron anisotropy against the T1 bound. With two networks, also the "
            "cross-run neuron correspondence (D4). Costs of ReLU/GELU layers are pre-activation "
            "costs (upper bounds on the D2 realization cost); with tau < 1 they are costs on "
            "the PCA-truncated support."
        ),
    )
    p.add_argument("NET", help="network file (.safetensors or .npz)")
    p.add_argument("B", nargs="?", help="optional second network of the same structure (adds the correspondence)")
    p.add_argument("--data", required=True, help="data file (.npz with X; y is not needed)")
    p.add_argument("--layer", type=int, help="hidden layer index (default: all hidden layers)")
    p.add_argument("--tau", type=float, default=0.9, help="explained-variance threshold in (0, 1] (default 0.9)")
    p.add_argument("--delta", type=float, default=0.05, help="failure probability of the T1 bound (default 0.05)")
    p.add_argument("--max-points", type=positive_int,
                   help="use at most this many data points (a seeded random subset) as the support")
    p.add_argument("--no-delta-out", action="store_true", help="skip Delta_out (reported as 0)")
    p.add_argument("--plots", metavar="DIR", help="write PNG plots (heatmaps, ellipses, anisotropy) to DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_activations_option(p)
    add_json_option(p)
    add_force_option(p)
    p.set_defaults(func=run)


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return f"{x:.4g}"
    return str(x)


def _table(rows: list[dict], title: str) -> str:
    cols = [("layer", "layer"), ("neurons", "m"), ("rank", "r"), ("explained_variance", "expl.var"),
            ("coherence", "nu"), ("p", "p"), ("max_anisotropy", "max aniso"), ("t1_bound", "T1 bound"),
            ("gamma", "gamma"), ("delta_min", "delta_min"), ("unrealizable_fraction", "unreal.K"),
            ("negative_delta_fraction", "neg.sum"), ("median_delta_in", "med.Delta_in"),
            ("median_delta_out", "med.Delta_out"), ("median_delta_sum", "med.sum(in+out)"), ("mean_slack", "slack")]
    cells = [[h for _, h in cols]] + [[_fmt(r[k]) for k, _ in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = [title]
    for k, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def run(args) -> int:
    # imported when the command runs: cli imports every command module to build its
    # parser, and the cost modules (numba kernels, cvxpy) would slow every command
    from neuronid.numerics.correspondence import correspondence
    from neuronid.numerics.costs import layer_costs
    from neuronid.numerics.network import check_inputs

    require(math.isfinite(args.tau) and 0.0 < args.tau <= 1.0,
            f"--tau must lie in (0, 1] (1 = exact span), found {args.tau}")
    require(math.isfinite(args.delta) and 0.0 < args.delta < 1.0,
            f"--delta must lie in (0, 1), found {args.delta}")
    paths = [args.NET] + ([args.B] if args.B else [])
    guard_outputs(inputs=[*paths, args.data],
                  outputs=[json_output(args), output_folder("--plots", args.plots, ["*.png"])], force=args.force)
    nets = load_networks(paths, args.activations)
    data = load_data(args.data)
    for path, net in zip(paths, nets):
        require(data.X.shape[1] == net.n_inputs,
                f"{args.data}: 'X' has {data.X.shape[1]} features but {path} expects {net.n_inputs} inputs")
    X = data.X
    if args.max_points and X.shape[0] > args.max_points:
        idx = np.sort(np.random.default_rng(0).choice(X.shape[0], size=args.max_points, replace=False))
        X = X[idx]
    n_hidden = len(nets[0].layers) - 1
    require(n_hidden > 0, f"{args.NET}: the network has no hidden layer; costs compare hidden neurons")
    if args.layer is not None:
        require(0 <= args.layer < n_hidden,
                f"--layer {args.layer} is out of range: hidden layers of {args.NET} are 0..{n_hidden - 1}")
        layers = [args.layer]
    else:
        layers = list(range(n_hidden))
    if len(nets) == 2:
        require(nets[0].sizes == nets[1].sizes,
                f"{args.NET} and {args.B} have different sizes ({nets[0].sizes} vs {nets[1].sizes}); "
                "the correspondence needs networks of one structure")
    progress = progress_enabled(args)
    X = check_inputs(X, nets[0].n_inputs)
    for path, net in zip(paths, nets):
        check_forward_finite(net, X, source=path, data_source=args.data)
    results = []
    for path, net in zip(paths, nets):
        trace = net.forward(X, record=True)
        lcs = [layer_costs(net, layer=l, trace=trace, tau=args.tau, delta=args.delta,
                           compute_delta_out=not args.no_delta_out, progress=progress) for l in layers]
        results.append(lcs)
        print(_table([lc.summary() for lc in lcs], f"{path}: costs (tau = {args.tau:g}, T1 delta = {args.delta:g})"),
              end="")
        for lc in lcs:
            print(f"  layer {lc.layer} K: {lc.costs.kind}")
    out = {
        "command": "costs",
        "networks": paths,
        "data": args.data,
        "n_points": int(X.shape[0]),
        "tau": args.tau,
        "delta": args.delta,
        "layers": [lc.to_json() for lc in results[0]],
    }
    if len(nets) == 2:
        out["layers_b"] = [lc.to_json() for lc in results[1]]
        corr = [correspondence(nets[0], nets[1], X, l) for l in layers]
        out["correspondence"] = [c.to_json() for c in corr]
        print(f"correspondence {args.NET} -> {args.B} (D4, L2 matching of neuron outputs):")
        for c in corr:
            med = float(np.median(c.mismatch)) if c.mismatch.size else float("nan")
            print(f"  layer {c.layer}: {c.fixed_points} of {c.perm.size} neurons matched to themselves "
                  f"(identity correspondence); median relative L2 mismatch {_fmt(med)}")
            if c.structure_differences:
                print(f"    structure differs: {'; '.join(c.structure_differences[:3])}")
    if args.plots:
        from neuronid.proofs_checks.plots import write_cost_plots  # matplotlib only when --plots

        written = []
        for k, (path, lcs) in enumerate(zip(paths, results)):
            prefix = "" if len(paths) == 1 else ("A_" if k == 0 else "B_")
            written += write_cost_plots(lcs, args.plots, prefix=prefix, label=path.rsplit("/", 1)[-1])
        out["plots"] = written
        print(f"wrote {len(written)} plots to {args.plots}")
    maybe_write_json(args, out)
    return 0
