"""``neuronid import`` / ``neuronid export``: PyTorch state dicts in and out.

``import SRC --out DST`` reads an ``nn.Sequential`` state dict or the paper authors'
layout (``numerics.torch_convert``) and writes a neuronid network file; it checks
itself against torch when torch is installed. ``export NET --out model.pt|
model.safetensors`` writes the state dict of the equivalent ``nn.Sequential``, with
the module list printed and stored in the file's metadata.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from neuronid._cli_common import (
    StoreOnce,
    add_force_option,
    add_json_option,
    guard_outputs,
    json_output,
    maybe_write_json,
    output_file,
    real,
    require,
)
from neuronid.errors import FileFormatError, InvalidNetworkError
from neuronid.numerics.io import NETWORK_SUFFIXES, _atomic_write, load_network, save_network  # the one atomic writer
from neuronid.numerics.torch_convert import (
    LAYOUTS,
    MODULES_KEY,
    NORM_CHOICES,
    STATE_DICT_SUFFIXES,
    from_torch,
    module_list_text,
    torch_modules,
    torch_state_dict,
)


def _float_list(text: str) -> list[float]:
    """``"1,0.5"`` -> ``[1.0, 0.5]``: finite numbers only (a NaN mask constant would
    make every fixed entry NaN)."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, found {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, found {text!r}")
    return values


def register(sub) -> None:
    p = sub.add_parser(
        "import",
        help="import a PyTorch state dict (nn.Sequential or the paper authors' layout) as a network file",
        description=(
            "Read a PyTorch state dict (.pt/.pth via torch.load(weights_only=True), .safetensors or .npz) "
            "and write a neuronid network file. Layouts: 'sequential' (an nn.Sequential of Linear, "
            "LayerNorm, BatchNorm1d, activations; masked linear modules with mask+fixed, mask+normal_mask "
            "or noise buffers) and 'paper' (the authors' lins.<i>/norms.<i> MLPs with W-asymmetric or noise "
            "layers). A state dict does not store activations: give --activation (or --config). When torch "
            "is installed the import checks itself: the network must reproduce the torch module's outputs "
            "(float64, relative 1e-6)."
        ),
    )
    p.add_argument("SRC", help=f"state dict file ({', '.join(STATE_DICT_SUFFIXES)})")
    p.add_argument("--out", "-o", required=True, help="output network file (.safetensors or .npz)")
    p.add_argument("--layout", choices=LAYOUTS, default="sequential", help="key layout (default: sequential)")
    p.add_argument("--config", metavar="YAML", help="the run's Hydra config (model.activation, model.norm, "
                   "model.mask_params); flags override it")
    p.add_argument("--activation", metavar="NAME[,NAME...]", action=StoreOnce,
                   help="hidden activation: one, or one per hidden layer (e.g. relu or gelu,gelu)")
    p.add_argument("--norm", choices=NORM_CHOICES, help="normalization when the state dict cannot show it "
                   "(LayerNorm without affine parameters has no tensors)")
    p.add_argument("--norm-eps", type=real(0.0), help="eps of the norm layers (default: torch's 1e-5)")
    p.add_argument("--mask-constant", metavar="C[,C...]", type=_float_list, action=StoreOnce,
                   help="W-asymmetric / noise constant: one, or one per linear layer")
    p.add_argument("--key", metavar="NAME", help="which state dict of a .pt checkpoint holding several "
                   "(e.g. {'model': ..., 'ema': ...}); not needed when it holds one")
    p.add_argument("--no-check", action="store_true", help="skip the self-check against torch")
    add_json_option(p)
    add_force_option(p)
    p.set_defaults(func=run_import)

    e = sub.add_parser(
        "export",
        help="export a network as a PyTorch nn.Sequential state dict (.pt or .safetensors)",
        description=(
            "Write the state dict of the nn.Sequential (Linear, LayerNorm, BatchNorm1d, activation modules) that "
            "computes NET, masks and fixed parts baked into the effective weights. The module list is printed "
            f"and stored in the metadata (safetensors: __metadata__[{MODULES_KEY!r}]; .pt: the state dict's "
            f"_metadata[''][{MODULES_KEY!r}]). .safetensors needs no torch; .pt does."
        ),
    )
    e.add_argument("NET", help="network file (.safetensors or .npz)")
    e.add_argument("--out", "-o", required=True, help="output file (.pt, .pth or .safetensors)")
    e.add_argument("--dtype", choices=["float64", "float32"], default="float64", help="tensor dtype (default float64)")
    e.add_argument("--activations", help="hidden-layer activations for files without metadata")
    add_json_option(e)
    add_force_option(e)
    e.set_defaults(func=run_export)


def _activation_arg(text):
    if text is None:
        return None
    sep = ";" if ";" in text or "sympy:" in text else ","
    parts = [part.strip() for part in text.split(sep) if part.strip()]
    require(bool(parts), f"--activation: expected a name, found {text!r}")
    return parts


def run_import(args) -> int:
    guard_outputs(inputs=[args.SRC, args.config],
                  outputs=[output_file("--out", args.out, NETWORK_SUFFIXES), json_output(args)], force=args.force)
    out = Path(args.out)
    require(out.suffix.lower() in NETWORK_SUFFIXES,
            f"--out {args.out}: network files are {' or '.join(NETWORK_SUFFIXES)}, found suffix {out.suffix!r}")
    report: dict = {}
    net = from_torch(
        args.SRC, layout=args.layout, activation=_activation_arg(args.activation), norm=args.norm,
        mask_constant=args.mask_constant, config=args.config, eps=args.norm_eps, check=not args.no_check,
        report=report, key=args.key,
    )
    save_network(net, out)
    print(f"imported {args.SRC} (layout {args.layout}): {net}")
    for line in report["modules"]:
        print(f"  {line}")
    check = report.get("self_check")
    if check:
        # the reference is a torch module built from the same reading of the tensors (the module list
        # above): the check verifies the conversion, not that reading (activations, norms) itself
        print(f"  self-check (conversion of the given tensors, interpretation: the modules above): outputs "
              f"equal torch's to {check['max_relative_difference']:.2g} relative (float64, {check['n_inputs']} "
              f"random inputs, tolerance {check['rtol']:g})")
    elif args.no_check:
        print("  self-check: skipped (--no-check)")
    else:
        print(f"  self-check: skipped ({report.get('self_check_reason', 'unavailable')})")
    print(f"wrote {out}")
    for note in report.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    maybe_write_json(args, {
        "command": "import", "source": args.SRC, "out": str(out), "layout": args.layout, "sizes": net.sizes,
        "activations": net.activations,
        "norms": [None if n is None else n.describe() for n in net.norms],
        "modules": report["modules"], "mask_constants": report.get("mask_constants", {}),
        "self_check": check, "notes": report.get("notes", []), **({"self_check_reason": report["self_check_reason"]}
                                if "self_check_reason" in report else {}),
    })
    return 0


def run_export(args) -> int:
    guard_outputs(inputs=[args.NET], outputs=[output_file("--out", args.out, (".pt", ".pth", ".safetensors")),
                                              json_output(args)], force=args.force)
    out = Path(args.out)
    suffix = out.suffix.lower()
    require(suffix in (".pt", ".pth", ".safetensors"),
            f"--out {args.out}: export writes .pt, .pth or .safetensors, found suffix {suffix!r}")
    net = load_network(args.NET, activations=_activation_arg(args.activations))
    modules = torch_modules(net)
    text = module_list_text(modules)
    sd = torch_state_dict(net)
    dtype = args.dtype
    for key, value in sd.items():  # a cast to float32 must not turn large weights into inf
        cast = np.asarray(value, dtype=dtype)
        if not np.all(np.isfinite(cast)):
            raise InvalidNetworkError(
                f"{args.NET}: tensor '{key}' does not fit {dtype} (max |entry| "
                f"{float(np.max(np.abs(value))):.3g}); export with --dtype float64 or rescale the network")
    meta = json.dumps(modules)
    if suffix == ".safetensors":
        from safetensors.numpy import save_file

        tensors = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in sd.items()}
        _atomic_write(out, lambda tmp: save_file(tensors, tmp, metadata={MODULES_KEY: meta,
                                                                         "format": "torch.nn.Sequential"}))
    else:
        try:
            import torch  # optional dependency: only .pt output needs it
        except ImportError:
            raise FileFormatError(f"{out}: writing .pt needs PyTorch; write .safetensors instead") from None
        from collections import OrderedDict

        state = OrderedDict((k, torch.as_tensor(v, dtype=getattr(torch, dtype))) for k, v in sd.items())
        for i, m in enumerate(modules):
            if m["type"] == "BatchNorm1d":
                state[f"{i}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
        state._metadata = OrderedDict({"": {"version": 1, MODULES_KEY: meta}})
        _atomic_write(out, lambda tmp: torch.save(state, tmp))
    print(f"exported {args.NET} as an nn.Sequential state dict ({dtype}):")
    print("nn.Sequential(")
    for line in text:
        print(f"  {line}")
    print(")")
    print(f"wrote {out}")
    maybe_write_json(args, {"command": "export", "network": args.NET, "out": str(out), "dtype": dtype,
                            "modules": modules, "module_list": text, "keys": list(sd)})
    return 0
