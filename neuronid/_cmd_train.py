"""``neuronid train`` and ``neuronid data``: train a network / write a built-in data set."""

from __future__ import annotations

import sys

import numpy as np

from neuronid._cli_common import (
    StoreOnce,
    add_force_option,
    check_data_magnitude,
    guard_outputs,
    int_in,
    int_list,
    output_file,
    positive_int,
    progress_enabled,
    real,
    require_memory,
    seed_int,
)
from neuronid.numerics.datasets import DATASETS, make_dataset
from neuronid.numerics.idx import load_mnist
from neuronid.numerics.io import load_data, save_data, save_network
from neuronid.numerics.structures import STRUCTURES
from neuronid.numerics.training import MAX_EPOCHS, TrainConfig, train
from neuronid.errors import InvalidOptionError

#: Bytes per stored float and a safety factor for the copies a step keeps (data,
#: shuffled batch, forward record; weights, masks, fixed parts, gradients, AdamW moments).
_F64 = 8
_DATA_COPIES = 4
_PARAM_COPIES = 10


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train one network (standard, W-MLP, syre, sigma-asymmetric) and save it",
        description=(
            "Train one MLP with the numba trainer and save it as .safetensors or .npz. "
            "Input and output sizes come from the data; --hidden sets the hidden widths."
        ),
    )
    p.add_argument("--out", "-o", required=True, help="output network file (.safetensors or .npz)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", help="training data file (.npz with X and y)")
    src.add_argument(
        "--dataset", choices=sorted(DATASETS), default="subspace",
        help="built-in data set when --data is not given (default: subspace)",
    )
    p.add_argument("--n", type=positive_int, default=2048, help="number of points of the built-in data set")
    p.add_argument("--dataset-seed", type=seed_int, default=0, help="seed of the built-in data set")
    p.add_argument("--save-data", metavar="PATH", help="write the built-in training data to PATH (.npz)")
    add_builtin_options(p)
    p.add_argument("--structure", choices=sorted(STRUCTURES), default="standard")
    p.add_argument("--hidden", type=int_list, action=StoreOnce, default=[128, 128], help="hidden widths, e.g. 128,128")
    p.add_argument("--activation", default="relu", help="hidden activation (catalogue name; see `neuronid symmetries`)")
    p.add_argument("--n-fixed", type=int_list, action=StoreOnce, help="W-MLP: exact fixed entries per row (one value, or one per layer)")
    p.add_argument("--p-fixed", type=real(0.0, 1.0), help="W-MLP: Bernoulli probability of a fixed entry")
    p.add_argument("--sigma-f", type=real(0.0), help="W-MLP: scale of the fixed part (0 allowed; default 1)")
    p.add_argument("--kappa", type=real(), help="syre: scale of the fixed offset (default 1)")
    p.add_argument("--structure-seed", type=seed_int, default=0, help="seed of masks/fixed parts (shared by runs of one structure)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the initialization and minibatch order")
    p.add_argument("--init-std", type=real(0.0, lo_open=True), help="normal initialization with this std (default: PyTorch-style uniform)")
    p.add_argument(
        "--norm", choices=["none", "layer", "batch"], default="none",
        help="normalization after each hidden layer's linear map (THEORY N1): LayerNorm (gamma, beta trained) "
             "or BatchNorm (not supported for training: refused)",
    )
    p.add_argument("--norm-eps", type=float, default=1e-5, help="eps of the normalization (default 1e-5, as PyTorch)")
    p.add_argument("--loss", choices=["ce", "mse"], help="default: ce for labels, mse for real targets")
    p.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    p.add_argument("--lr", type=real(0.0, lo_open=True), default=1e-3)
    p.add_argument("--epochs", type=int_in(1, MAX_EPOCHS), default=20)
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--weight-decay", type=real(0.0), default=1e-2)
    p.add_argument("--bias-decay", type=real(0.0), default=0.0)
    p.add_argument("--momentum", type=real(0.0, 1.0, hi_open=True), default=0.9, help="SGD momentum in [0, 1)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_force_option(p)
    p.set_defaults(func=run_train)

    d = sub.add_parser(
        "data",
        help="write a built-in data set, or MNIST from your IDX files, to an .npz file",
        description=(
            "Generate a built-in data set (deterministic in --seed) and save X, y as .npz; or, with "
            "'mnist --from DIR', convert the MNIST IDX files in DIR (gzipped or not; also DIR/MNIST/raw/ as "
            "torchvision stores them) to X in [0, 1] (n, 784) and y. No download."
        ),
    )
    d.add_argument("name", choices=sorted(DATASETS) + ["mnist"])
    d.add_argument("--out", "-o", required=True, help="output .npz file")
    d.add_argument("--n", type=positive_int, help="number of points (default 2048; mnist: all, else the first N)")
    d.add_argument("--from", dest="source", metavar="DIR", help="mnist: folder with the IDX files")
    d.add_argument("--split", choices=["train", "test"], default="train", help="mnist: which files (default train)")
    d.add_argument("--seed", type=seed_int, default=0, help="seed of the data distribution (mixture, basis, ...)")
    d.add_argument("--sample-seed", type=seed_int, help="seed of the sample only (a test set: same --seed, other --sample-seed)")
    add_builtin_options(d)
    add_force_option(d)
    d.set_defaults(func=run_data)


#: CLI defaults of the built-in data sets (the default check's sizes for "subspace")
BUILTIN_DEFAULTS = {
    "subspace": {"k": 8, "ambient": 64, "n_classes": 10},
    "parity": {"k": 4, "ambient": 32},
    "coherence-exact": {"active": 4},
    "coherence-frame": {"active": 4},
    "digits": {},
}
_OPTION_FLAGS = {"k": "--k", "ambient": "--ambient", "n_classes": "--n-classes", "active": "--active"}


def add_builtin_options(p) -> None:
    p.add_argument("--k", type=positive_int, help="subspace/parity: intrinsic dimension (default 8 / 4)")
    p.add_argument("--ambient", type=positive_int, help="subspace/parity: ambient dimension (default 64 / 32)")
    p.add_argument("--n-classes", type=positive_int, help="subspace: number of classes (default 10)")
    p.add_argument("--active", type=positive_int, help="coherence-*: active copies, coherence 1/active (default 4)")


def _builtin(name: str, n: int, seed: int, args, sample_seed=None):
    options = dict(BUILTIN_DEFAULTS[name])
    for key, flag in _OPTION_FLAGS.items():
        value = getattr(args, key, None)
        if value is not None:
            if key not in options:
                raise InvalidOptionError(f"{flag} does not apply to the {name!r} data set")
            options[key] = value
    if sample_seed is not None:
        options["sample_seed"] = sample_seed
    if name == "digits":
        return make_dataset(name, None if n >= 1797 else n, seed=seed)
    return make_dataset(name, n, seed=seed, **options)


def _builtin_features(name: str, n: int, seed: int, args) -> int:
    """Number of features of a built-in data set with these options: ``--ambient``
    where the data set has one, else from a sample of at most 128 points (the other
    data sets have a few dozen features at most)."""
    if "ambient" in BUILTIN_DEFAULTS[name]:
        ambient = getattr(args, "ambient", None)
        return int(ambient if ambient is not None else BUILTIN_DEFAULTS[name]["ambient"])
    return int(_builtin(name, min(n, 128), seed, args).X.shape[1])


def _check_builtin_memory(name: str, n: int, seed: int, args) -> int:
    d = _builtin_features(name, n, seed, args)
    n_eff = min(n, 1797) if name == "digits" else n
    k = getattr(args, "k", None) or BUILTIN_DEFAULTS[name].get("k", 1)
    need = _F64 * _DATA_COPIES * (float(n_eff) * d + float(d) * k)
    require_memory(need, f"--n {n} points of {name!r} data with {d} features")
    return d


def run_data(args) -> int:
    guard_outputs(inputs=[args.source], outputs=[output_file("--out", args.out, [".npz"])], force=args.force)
    if not args.out.lower().endswith(".npz"):
        raise InvalidOptionError(f"--out {args.out}: data files are .npz")
    if args.name == "mnist":
        if args.source is None:
            raise InvalidOptionError("data mnist needs --from DIR (the folder with the IDX files; no download)")
        data = load_mnist(args.source, split=args.split)
        if args.n is not None:
            data = data.subset(slice(0, args.n))
        save_data(args.out, data.X, data.y)
        print(f"wrote {args.out}: X {data.X.shape} in [0, 1], {data.n_classes} classes "
              f"(MNIST {args.split} from {data.info['images']})")
        return 0
    if args.source is not None:
        raise InvalidOptionError(f"--from applies to 'data mnist', not to the built-in data set {args.name!r}")
    n = 2048 if args.n is None else args.n
    _check_builtin_memory(args.name, n, args.seed, args)
    data = _builtin(args.name, n, args.seed, args, args.sample_seed)
    save_data(args.out, data.X, data.y)
    kind = f"{data.n_classes} classes" if data.task == "classification" else f"{data.n_outputs} real targets"
    print(f"wrote {args.out}: X {data.X.shape}, {kind}")
    return 0


#: structure -> the structure flags that apply to it (others are refused, not ignored)
_STRUCTURE_FLAGS = {"w-mlp": ("n_fixed", "p_fixed", "sigma_f"), "syre": ("kappa",)}


def _refuse_unused_structure_flags(args) -> None:
    """A flag of another structure (``--kappa`` with ``--structure w-mlp``) would be
    silently ignored; refuse it so the user learns the network is not what they asked."""
    used = _STRUCTURE_FLAGS.get(args.structure, ())
    for name in ("n_fixed", "p_fixed", "sigma_f", "kappa"):
        if getattr(args, name, None) is not None and name not in used:
            flag = "--" + name.replace("_", "-")
            owner = "w-mlp" if name != "kappa" else "syre"
            raise InvalidOptionError(
                f"{flag} applies to --structure {owner}, not to --structure {args.structure}"
            )


def build_network(args, d_in: int, d_out: int):
    sizes = [d_in, *args.hidden, d_out]
    kind = args.structure
    _refuse_unused_structure_flags(args)
    common = dict(seed=args.seed, init_std=args.init_std, norm=args.norm, norm_eps=args.norm_eps)
    if kind == "standard":
        return STRUCTURES[kind](sizes, activation=args.activation, **common)
    if kind == "w-mlp":
        n_fixed = args.n_fixed
        if n_fixed is None and args.p_fixed is None:
            # default: a quarter of each row fixed (the paper fixes 64 of 784 and 256 of 512)
            n_fixed = [max(1, d // 4) for d in sizes[:-1]]
        elif n_fixed is not None and len(n_fixed) == 1:
            n_fixed = n_fixed * (len(sizes) - 1)
        return STRUCTURES[kind](
            sizes, activation=args.activation, n_fixed=n_fixed, p_fixed=args.p_fixed,
            sigma_F=1.0 if args.sigma_f is None else args.sigma_f, structure_seed=args.structure_seed, **common,
        )
    if kind == "syre":
        return STRUCTURES[kind](
            sizes, activation=args.activation, kappa=1.0 if args.kappa is None else args.kappa, structure_seed=args.structure_seed, **common
        )
    return STRUCTURES[kind](sizes, structure_seed=args.structure_seed, **common)


def _check_train_memory(args, n: int, d_in: int, d_out: int) -> None:
    sizes = [d_in, *args.hidden, d_out]
    params = sum(float(a) * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    widest = max(sizes)
    batch = min(args.batch_size, n)
    need = _F64 * (params * _PARAM_COPIES + float(n) * widest * 2 + float(batch) * sum(sizes) * _DATA_COPIES)
    require_memory(need, f"training a network of sizes {sizes} on {n} points")


def run_train(args) -> int:
    guard_outputs(
        inputs=[args.data],
        outputs=[output_file("--out", args.out, [".safetensors", ".npz"]),
                 output_file("--save-data", args.save_data, [".npz"])],
        force=args.force,
    )
    if not args.out.lower().endswith((".safetensors", ".npz")):
        raise InvalidOptionError(f"--out {args.out}: unknown network file type; use .safetensors or .npz")
    if args.save_data and not args.save_data.lower().endswith(".npz"):
        raise InvalidOptionError(f"--save-data {args.save_data}: data files are .npz")
    if args.norm == "batch":
        raise InvalidOptionError(
            "--norm batch: training with BatchNorm is not supported (it needs batch statistics and running-"
            "statistic updates); use --norm layer, or train in PyTorch and import the network"
        )
    if args.data:
        if args.save_data:
            raise InvalidOptionError("--save-data only applies to built-in data sets (without --data)")
        data = load_data(args.data)
    else:
        _check_builtin_memory(args.dataset, args.n, args.dataset_seed, args)
        data = _builtin(args.dataset, args.n, args.dataset_seed, args)
        if args.save_data:
            save_data(args.save_data, data.X, data.y)
    if data.y is None:
        raise InvalidOptionError(f"{args.data}: training needs targets 'y'")
    check_data_magnitude(data.X, data.y, source=args.data or f"built-in data set {args.dataset}")
    loss = args.loss or ("ce" if data.y.dtype.kind == "i" else "mse")
    d_out = data.n_outputs
    if loss == "ce" and data.y.dtype.kind != "i":
        raise InvalidOptionError("--loss ce needs integer labels; the data has real targets (use --loss mse)")
    _check_train_memory(args, data.X.shape[0], data.X.shape[1], d_out)
    net = build_network(args, data.X.shape[1], d_out)
    config = TrainConfig(
        loss=loss, optimizer=args.optimizer, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
        weight_decay=args.weight_decay, bias_decay=args.bias_decay, momentum=args.momentum,
        dtype=args.dtype, seed=args.seed,
    )
    result = train(net, data.X, data.y, config, progress=f"train {args.out}" if progress_enabled(args) else False)
    save_network(result.network, args.out)
    final = result.history[-1] if len(result.history) else float("nan")
    print(f"wrote {args.out}: {result.network} ({args.structure}); final train loss {final:.4g}")
    if args.save_data and not args.data:
        print(f"wrote {args.save_data}: X {data.X.shape}")
    if args.loss is None and loss == "mse" and data.y.shape[1] == 1 and np.all(data.y == np.round(data.y)):
        # after the results, so that an error stays the only line on failure
        sys.stderr.write(f"note: {args.data or args.dataset}: 'y' holds real numbers that are all whole; trained a "
                         "regression (MSE, one output); store class labels as integers to train a classifier\n")
    return 0
