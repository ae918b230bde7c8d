"""Helpers shared by the CLI command modules: argument parsing and file loading."""

from __future__ import annotations

import argparse
import sys

from neuronid.numerics.io import load_data, load_network, write_json
from neuronid.errors import InvalidOptionError


def int_list(text: str) -> list[int]:
    """``"128,128"`` -> ``[128, 128]`` (argparse type)."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, found {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, found {text!r}")
    return values


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, found {value}")
    return value


def activation_list(text: str) -> list[str]:
    """``"relu,tanh"`` -> one activation per hidden layer (for files without metadata).

    ``sympy:`` expressions may contain commas, so separate layers with ``;`` when
    using them.
    """
    sep = ";" if ";" in text or "sympy:" in text else ","
    return [part.strip() for part in text.split(sep) if part.strip()]


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="also write the results as one JSON object to PATH")


def add_activations_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--activations",
        type=activation_list,
        metavar="LIST",
        help="hidden-layer activations, e.g. relu,relu (overrides or replaces the files' metadata)",
    )


def add_align_data_option(parser: argparse.ArgumentParser, *, support: bool = False) -> None:
    """``--align-data`` (and with ``support``, ``--support-data``): data for matching
    neurons, separate from the evaluation data ``--data``."""
    parser.add_argument(
        "--align-data", metavar="FILE",
        help="matching data (.npz with X): activation matching, REPAIR statistics, BatchNorm reset "
             "(default: --data, with a note); use training data here and held-out data for --data",
    )
    if support:
        parser.add_argument(
            "--support-data", metavar="FILE",
            help="data for supports and costs (D1-D4; default: --align-data, else --data)",
        )


def _load_inputs(path, nets, what):
    from neuronid.numerics.io import check_data_for

    data = load_data(path)
    for net in nets:
        check_data_for(net, data, source=f"{path} ({what})")
    return data.X


def load_align_data(args, nets):
    """``X`` of ``--align-data``, or ``None`` (then the evaluation data is used; call
    :func:`note_shared_data` after the results)."""
    if getattr(args, "align_data", None):
        return _load_inputs(args.align_data, nets, "--align-data")
    return None


def note_shared_data(args, *, uses_data: bool = True) -> None:
    """One line on stderr when neurons were matched on the evaluation data (printed
    after the results, so that an error stays the only line on failure)."""
    if uses_data and not getattr(args, "align_data", None):
        sys.stderr.write(
            f"note: matching and evaluation share data ({args.data}); pass --align-data TRAIN.npz to match "
            "neurons on training data\n"
        )


def load_support_data(args, nets):
    """``X`` of ``--support-data`` (default ``--align-data``), or ``None`` (then ``--data``)."""
    if getattr(args, "support_data", None):
        return _load_inputs(args.support_data, nets, "--support-data")
    if getattr(args, "align_data", None):
        return _load_inputs(args.align_data, nets, "--align-data")
    return None


def load_networks(paths, activations=None):
    return [load_network(p, activations=activations) for p in paths]


def maybe_write_json(args, obj) -> None:
    if getattr(args, "json", None):
        write_json(args.json, obj)
        print(f"wrote {args.json}")


def require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidOptionError(message)


__all__ = [
    "int_list",
    "positive_int",
    "activation_list",
    "add_json_option",
    "add_activations_option",
    "add_align_data_option",
    "load_align_data",
    "load_support_data",
    "note_shared_data",
    "load_networks",
    "load_data",
    "maybe_write_json",
    "require",
]
