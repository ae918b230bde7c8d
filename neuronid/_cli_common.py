"""Helpers shared by the CLI command modules: argument types, file loading and the
output guard.

Every command validates at the boundary, before any work or any write:

* flags with the argparse types below (ranges, finite numbers, seeds >= 0), and
  sizes with :func:`require_memory` (an estimate against the available memory);
* outputs with :func:`guard_outputs` (never an input, never a file of another kind
  without ``--force``, folders that exist and can be written);
* inputs with :func:`load_networks` / :func:`load_data` (regular files only, size
  checked before reading; see :mod:`neuronid.numerics.io`).
"""

from __future__ import annotations

import argparse
import errno
import fnmatch
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuronid.errors import InvalidDataError, InvalidNetworkError, InvalidOptionError, StructureMismatchError
from neuronid.numerics.io import (
    available_memory,
    check_data_for,
    format_bytes,
    load_data,
    load_network,
    write_json,
)

#: Largest seed accepted (numpy seeds are non-negative; 63 bits keep every consumer exact).
MAX_SEED = 2**63 - 1
#: Largest number of grid points of a linear path (``--steps``): 1e5 points already
#: resolve a barrier far below float64 noise of the losses; more is a typo.
MAX_STEPS = 100_000


# ----------------------------------------------------------------------------- argparse types
def int_list(text: str) -> list[int]:
    """``"128,128"`` -> ``[128, 128]`` (argparse type)."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:  # also an empty entry ("4,,4"), which would silently drop a layer
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, found {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, found {text!r}")
    return values


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, found {text!r}") from None


def positive_int(text: str) -> int:
    value = _parse_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, found {value}")
    return value


def int_in(lo: int, hi: int):
    """argparse type: an integer in ``[lo, hi]``."""

    def parse(text: str) -> int:
        value = _parse_int(text)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lo} and <= {hi}, found {value}")
        return value

    parse.__name__ = f"int_in_{lo}_{hi}"
    return parse


def seed_int(text: str) -> int:
    """argparse type: a seed, an integer in ``[0, 2**63 - 1]``."""
    value = _parse_int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed in [0, 2**63 - 1], found {value}")
    return value


def real(lo: float = -math.inf, hi: float = math.inf, *, lo_open: bool = False, hi_open: bool = False):
    """argparse type: a finite real number in the interval ``lo .. hi`` (open ends
    where asked). ``real(0, lo_open=True)`` is a finite number > 0."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, found {text!r}") from None
        ok = math.isfinite(value) and (value > lo if lo_open else value >= lo) and (
            value < hi if hi_open else value <= hi)
        if not ok:
            # an infinite end is open: finite numbers never reach it
            left = "(" if lo_open or math.isinf(lo) else "["
            right = ")" if hi_open or math.isinf(hi) else "]"
            raise argparse.ArgumentTypeError(
                f"expected a finite number in {left}{lo:g}, {hi:g}{right}, found {text}")
        return value

    parse.__name__ = "real"
    return parse


def activation_list(text: str) -> list[str]:
    """``"relu,tanh"`` -> one activation per hidden layer (for files without metadata).

    ``sympy:`` expressions may contain commas, so separate layers with ``;`` when
    using them.
    """
    sep = ";" if ";" in text or "sympy:" in text else ","
    return [part.strip() for part in text.split(sep) if part.strip()]


def name_list(text: str) -> list[str]:
    """``"P3, t4,"`` -> ``["P3", "T4"]``: comma-separated names or IDs, upper-cased,
    empty entries dropped (argparse type of repeatable ``action="append"`` options)."""
    return [part.strip().upper() for part in text.split(",") if part.strip()]


def merged_names(flag: str, groups, valid) -> list[str] | None:
    """The union of every occurrence of a repeated option of :func:`name_list` values,
    in order of first appearance, duplicates removed; ``None`` when not given.

    An occurrence without a name (``--results ""``) is refused rather than read as
    "all"; so is a name outside ``valid`` (the caller's error names it)."""
    if groups is None:
        return None
    if not all(groups):
        raise InvalidOptionError(f"{flag}: give comma-separated result IDs from {', '.join(valid)}; "
                                 "found an empty value")
    return list(dict.fromkeys(name for group in groups for name in group))


class StoreOnce(argparse.Action):
    """argparse action of a per-layer list option (``--hidden 128,64``), given at most
    once: ``--hidden 128 --hidden 64`` may mean two layers or an override, and argparse
    would silently keep the last; refused instead (exit 2, one line). Options that name
    a set (``--results``) take repeats as a union instead (:func:`merged_names`)."""

    def __call__(self, parser, namespace, values, option_string=None):
        seen = vars(namespace).setdefault("_given_once", set())
        if self.dest in seen:
            parser.error(f"{option_string} given twice; give it once, one comma-separated list "
                         "(one entry per layer)")
        seen.add(self.dest)
        setattr(namespace, self.dest, values)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="also write the results as one JSON object to PATH")


def add_force_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force", action="store_true",
        help="replace an existing regular file of another kind (never an input, link or device)",
    )


def add_activations_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--activations",
        type=activation_list,
        action=StoreOnce,
        metavar="LIST",
        help="hidden-layer activations, e.g. relu,relu (overrides or replaces the files' metadata)",
    )


# ----------------------------------------------------------------------------- memory
def require_memory(nbytes: float, what: str) -> None:
    """Refuse (exit 2) when ``what`` needs an estimated ``nbytes`` of memory and
    less is available (``MemAvailable``); no check where that cannot be read."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise InvalidOptionError(
            f"{what} needs about {format_bytes(nbytes)} of memory but only {format_bytes(free)} is available; "
            "choose smaller sizes"
        )


# ----------------------------------------------------------------------------- outputs
@dataclass(frozen=True)
class Output:
    """One output of a command: a file of a kind (its suffixes) or a folder."""

    flag: str
    path: str
    suffixes: tuple[str, ...] = ()
    folder: bool = False
    names: tuple[str, ...] = ()


def output_file(flag: str, path, suffixes) -> Output | None:
    """An output file given with ``flag`` that may replace existing files with one
    of ``suffixes`` (``None`` when the option was not given)."""
    if path is None:
        return None
    return Output(flag, str(path), tuple(s.lower() for s in suffixes))


def output_folder(flag: str, path, names=()) -> Output | None:
    """An output folder given with ``flag``; ``names`` are the files the command writes
    inside it, exact names or ``fnmatch`` patterns (``swap_costs_*.png``) for names that
    depend on the networks: checked against the inputs, and an existing entry of that
    name must be a regular file (never a link, folder, FIFO, device or socket)."""
    if path is None:
        return None
    return Output(flag, str(path), (), True, tuple(names))


def _same(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` name one file: same resolved path (symbolic
    links followed) or same inode (hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _name_max(folder: str) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def _probe_writable(folder: str, flag: str, path: str, creating: str | None = None) -> None:
    """Create and remove a short temporary file in ``folder``: the only reliable way
    to know that a write will succeed (``/proc``, ``/sys``, read-only mounts, root).
    ``creating``: the folder the command would create inside ``folder`` (named in the
    error instead of ``folder``)."""
    probe = os.path.join(folder, f".nid{os.getpid() % 100000}.probe")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if creating is not None:
            raise InvalidOptionError(
                f"{flag} {path}: cannot create the folder {creating} ({folder} accepts no new entries: "
                f"{reason})") from None
        if exc.errno == errno.ENOENT:
            # the folder exists (checked before), so the system's "No such file or
            # directory" means it takes no new files (/proc, /sys): say that first
            reason = f"it accepts no new files; the system says: {reason}"
        raise InvalidOptionError(f"{flag} {path}: cannot write in folder {folder} ({reason})") from None
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:  # pragma: no cover - created but not removable
        pass


def _guard_file(out: Output, inputs: list[str], force: bool) -> None:
    flag, path = out.flag, out.path
    if not path:
        raise InvalidOptionError(f"{flag}: the path is empty")
    for inp in inputs:
        if _same(path, inp):
            raise InvalidOptionError(
                f"{flag} {path}: is an input of this command ({inp}); refusing to overwrite an input, "
                "choose another output path")
    if os.path.isdir(path):
        raise InvalidOptionError(f"{flag} {path}: is a folder; give a file path")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.lexists(folder) else "does not exist"
        raise InvalidOptionError(f"{flag} {path}: folder {folder} {what}")
    name = os.path.basename(path)
    if len(os.fsencode(name)) > _name_max(folder):
        raise InvalidOptionError(
            f"{flag} {path[:60]}...: the file name is {len(os.fsencode(name))} bytes long; "
            f"the limit is {_name_max(folder)}")
    if os.path.islink(path):
        raise InvalidOptionError(
            f"{flag} {path}: is a symbolic link; never replaced (give the path of a regular file or a new name)")
    if os.path.lexists(path) and not os.path.isfile(path):
        raise InvalidOptionError(
            f"{flag} {path}: exists and is not a regular file (a device, FIFO or socket); never replaced")
    if os.path.lexists(path) and not force:
        suffix = os.path.splitext(name)[1].lower()
        kinds = "/".join(out.suffixes)
        if out.suffixes and suffix not in out.suffixes:
            raise InvalidOptionError(
                f"{flag} {path}: exists and is not a {kinds} file this option writes; refusing to replace it "
                "(use --force to replace it)")
    _probe_writable(folder, flag, path)


def _guard_folder(out: Output, inputs: list[str]) -> None:
    flag, path = out.flag, out.path
    if not path:
        raise InvalidOptionError(f"{flag}: the path is empty")
    if os.path.lexists(path) and not os.path.isdir(path):
        raise InvalidOptionError(f"{flag} {path}: exists and is not a folder")
    for inp in inputs:
        if _same(path, inp):
            raise InvalidOptionError(f"{flag} {path}: is an input of this command ({inp})")
        for name in out.names:
            if _same(os.path.join(path, name), inp):
                raise InvalidOptionError(
                    f"{flag} {path}: the command writes {name} there, which is an input of this command ({inp}); "
                    "choose another folder")
    if os.path.isdir(path):
        _guard_folder_entries(out)
        _probe_writable(path, flag, path)
        return
    ancestor = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise InvalidOptionError(f"{flag} {path}: cannot create the folder: {ancestor} is not a folder")
    limit = _name_max(ancestor)
    for part in Path(os.path.abspath(path)).relative_to(ancestor).parts:
        if len(os.fsencode(part)) > limit:
            raise InvalidOptionError(
                f"{flag} {path[:60]}...: the folder name {part[:20]}... is {len(os.fsencode(part))} bytes long; "
                f"the limit is {limit}")
    _probe_writable(ancestor, flag, path, creating=os.path.abspath(path))


def _guard_folder_entries(out: Output) -> None:
    """In an existing output folder, the entries the command would write must be regular
    files or absent: writing follows a symbolic link (and would replace the file it
    points to), and a folder, FIFO or device there fails or hangs only after the work."""
    patterns = [name for name in out.names if any(c in name for c in "*?[")]
    exact = [name for name in out.names if name not in patterns]
    try:
        present = os.listdir(out.path) if patterns else []
    except OSError as exc:
        raise InvalidOptionError(f"{out.flag} {out.path}: cannot list the folder ({exc.strerror})") from None
    planned = [(name, True) for name in exact]
    planned += [(e, False) for e in sorted(present) if any(fnmatch.fnmatchcase(e, q) for q in patterns)]
    for name, named in planned:
        entry = os.path.join(out.path, name)
        if os.path.islink(entry):
            what = "a symbolic link"
        elif os.path.lexists(entry) and not os.path.isfile(entry):
            what = "a folder" if os.path.isdir(entry) else "not a regular file (a device, FIFO or socket)"
        else:
            continue
        writes = f"{name} there" if named else f"files named {' or '.join(patterns)} there, and {name}"
        raise InvalidOptionError(
            f"{out.flag} {out.path}: the command writes {writes}, which is {what}; never replaced "
            "(remove it or choose another folder)")


def guard_outputs(inputs=(), outputs=(), *, force: bool = False) -> None:
    """Refuse (``InvalidOptionError``, exit 2) unsafe outputs before any work is done.

    Call it once per command, after parsing and before loading or computing::

        guard_outputs(inputs=[args.A, args.B, args.data],
                      outputs=[output_file("--json", args.json, [".json"]),
                               output_folder("--out", args.out, ["report.md", "report.json"])],
                      force=getattr(args, "force", False))

    ``None`` entries (options not given) are skipped. The rules:

    * an output never names an input (resolved path with symbolic links followed,
      or the same inode): refused even with ``--force``;
    * two outputs never name one file;
    * an output file never replaces a symbolic link, folder, FIFO, device or socket
      (not even with ``--force``: ``--json /dev/stdout --force`` as root must not
      replace ``/dev/stdout``);
    * it replaces an existing regular file only if its suffix is one this output
      writes (its *own kind*: ``.json`` for ``--json``, ``.safetensors``/``.npz`` for
      a network, ``.npz`` for data); a regular file of another kind needs ``--force``;
    * the output folder exists (or, for folder outputs, can be created) and a file
      can actually be created in it (probed), and the name fits the file system;
    * in an existing output folder, the entries the command writes (its ``names``, exact or
      patterns) are regular files or absent: never written through a link, never a
      folder, FIFO or device.
    """
    inputs = [str(p) for p in inputs if p is not None]
    outputs = [o for o in outputs if o is not None]
    for k, out in enumerate(outputs):
        for other in outputs[:k]:
            if out.path and other.path and _same(out.path, other.path):
                raise InvalidOptionError(
                    f"{out.flag} {out.path}: the same path is also given to {other.flag}; choose two paths")
        if out.folder:
            _guard_folder(out, inputs)
        else:
            _guard_file(out, inputs, force)


def json_output(args) -> Output | None:
    """The ``--json PATH`` output of a command (``None`` when not given)."""
    return output_file("--json", getattr(args, "json", None), [".json"])


# ----------------------------------------------------------------------------- inputs
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


#: Largest magnitude accepted in weights, biases, data and activations: products of
#: two such numbers summed over up to 1e7 terms (inner products in alignment, costs,
#: supports) stay below the float64 maximum (1e150**2 * 1e7 = 1e307 < 1.8e308).
MAX_MAGNITUDE = 1e150


def _first_bad(arr: np.ndarray) -> tuple[int, ...] | None:
    with np.errstate(all="ignore"):
        bad = ~np.isfinite(arr) | (np.abs(arr) > MAX_MAGNITUDE)
    if not bad.any():
        return None
    return tuple(int(i) for i in np.argwhere(bad)[0])


def check_data_magnitude(X, y, *, source: str) -> None:
    """Refuse training data with an entry beyond :data:`MAX_MAGNITUDE` in ``X`` or in real
    targets ``y``, naming the file (the same bound the other commands apply to their data;
    past it the loss overflows and training reports a divergence that is the data's)."""
    for name, arr in (("X", X), ("y", y)):
        if arr is None or np.asarray(arr).dtype.kind != "f":
            continue
        where = _first_bad(np.asarray(arr))
        if where is not None:
            raise InvalidDataError(f"{source}: {name!r} has an entry beyond +-{MAX_MAGNITUDE:g} (at {where}); "
                                   "rescale the data")


def check_forward_finite(net, X, *, source: str, data_source: str) -> None:
    """Refuse numbers that later steps cannot handle, naming the file, the layer and
    the tensor: weights, biases or data beyond :data:`MAX_MAGNITUDE`, or a forward
    pass on the data whose pre-activations or activations overflow (to NaN, Inf or
    beyond :data:`MAX_MAGNITUDE`). Without this check the overflow surfaces far from
    its cause (an alignment, a cost matrix) as a message that names neither."""
    where = _first_bad(np.asarray(X))
    if where is not None:
        raise InvalidNetworkError(
            f"{data_source}: 'X' has an entry beyond +-{MAX_MAGNITUDE:g} (at {where}); rescale the data")
    for l, layer in enumerate(net.layers):
        for name, arr in (("weight", layer.weight), ("fixed", layer.fixed), ("bias", layer.bias)):
            where = _first_bad(np.asarray(arr))
            if where is not None:
                raise InvalidNetworkError(
                    f"{source}: tensor 'layers.{l}.{name}' has an entry beyond +-{MAX_MAGNITUDE:g} (at {where}); "
                    "such weights overflow float64 in inner products")
    with np.errstate(all="ignore"):
        trace = net.forward(X, record=True)
    for l, z in enumerate(trace.pre):
        where = _first_bad(z)
        if where is not None:
            raise InvalidNetworkError(
                f"{source}: layer {l} (tensors layers.{l}.weight/bias): pre-activations on {data_source} overflow "
                f"(NaN, Inf or beyond +-{MAX_MAGNITUDE:g}; first at point {where[0]}, neuron {where[1]}); "
                "weights or data too large")
        if l + 1 < len(trace.inputs):
            where = _first_bad(trace.inputs[l + 1])
            if where is not None:
                raise InvalidNetworkError(
                    f"{source}: layer {l}: activations on {data_source} overflow (NaN, Inf or beyond "
                    f"+-{MAX_MAGNITUDE:g}; first at point {where[0]}, neuron {where[1]})")


def require_same_sizes(path_a: str, A, path_b: str, B, why: str) -> None:
    """Refuse two networks of different layer sizes, naming both files and sizes."""
    if A.sizes != B.sizes:
        raise StructureMismatchError(
            f"{path_a} and {path_b}: sizes differ ({A.sizes} vs {B.sizes}); {why}")


def maybe_write_json(args, obj) -> None:
    if getattr(args, "json", None):
        write_json(args.json, obj)
        print(f"wrote {args.json}")


def require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidOptionError(message)


def progress_enabled(args) -> bool:
    """Progress bars only on a terminal: never into a redirected stderr."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


__all__ = [
    "MAX_SEED",
    "MAX_STEPS",
    "MAX_MAGNITUDE",
    "Output",
    "StoreOnce",
    "int_list",
    "int_in",
    "positive_int",
    "seed_int",
    "real",
    "activation_list",
    "name_list",
    "merged_names",
    "add_json_option",
    "add_force_option",
    "add_activations_option",
    "require_memory",
    "output_file",
    "output_folder",
    "guard_outputs",
    "json_output",
    "add_align_data_option",
    "load_align_data",
    "load_support_data",
    "note_shared_data",
    "load_networks",
    "load_data",
    "check_forward_finite",
    "require_same_sizes",
    "maybe_write_json",
    "progress_enabled",
    "require",
]
