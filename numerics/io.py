"""Network and data files (DESIGN.md "File formats").

Networks: ``.safetensors`` or ``.npz`` with tensors ``layers.{l}.weight`` (required),
``layers.{l}.bias``, ``layers.{l}.mask``, ``layers.{l}.fixed`` (optional) and JSON
metadata ``{"format": "neuronid.mlp/1", "activations": [...]}`` (safetensors:
``__metadata__["neuronid"]``; npz: key ``metadata``, a string). Networks with
normalization layers (THEORY N1) are written as ``neuronid.mlp/2``: metadata key
``"norms"`` (one entry per hidden layer: ``null``, ``{"kind": "layer", "eps": e,
"affine": true|false}`` or ``{"kind": "batch", "eps": e}``) and tensors
``layers.{l}.norm.weight|bias`` (+ ``running_mean|running_var`` for batch norm).
Networks without norms are still written as ``/1`` (byte-identical files). Data:
``.npz`` with ``X`` and optional ``y``.

Nothing is ever unpickled: npz files load with ``allow_pickle=False`` and an object
array is refused with :class:`UnsafeFileError`. Every error names the file, the
tensor or layer, and what was expected and found.

>>> import tempfile, os
>>> from neuronid.numerics.structures import standard_mlp
>>> net = standard_mlp([3, 4, 2], seed=0)
>>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
>>> save_network(net, path)
>>> load_network(path).sizes
[3, 4, 2]

Size (about 720 lines): kept whole as the one module that touches user files (safe
reading, atomic writing, the network and data formats of DESIGN.md, JSON with
``null`` for non-finite values), so that every file path goes through the same
checks and error messages.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
import zipfile
from pathlib import Path

import numpy as np

from neuronid.errors import (
    FileFormatError,
    InvalidDataError,
    InvalidNetworkError,
    UnsafeFileError,
)

from ._validation import ensure_finite
from .datasets import Dataset
from .network import Layer, Network, Norm

FORMAT = "neuronid.mlp/1"
FORMAT_NORMS = "neuronid.mlp/2"  # adds normalization layers (THEORY N1)
FORMATS = (FORMAT, FORMAT_NORMS)
NETWORK_SUFFIXES = (".safetensors", ".npz")
_TENSOR = re.compile(
    r"^layers\.(\d+)\.(weight|bias|mask|fixed|norm\.weight|norm\.bias|norm\.running_mean|norm\.running_var)$"
)
_NORM_TENSORS = {
    ("layer", True): ("weight", "bias"),
    ("layer", False): (),
    ("batch", True): ("weight", "bias", "running_mean", "running_var"),
}


# --- safe reading and writing ---------------------------------------------------------
#: Longest metadata JSON accepted (characters) and deepest nesting: the documented
#: metadata is two levels deep and a few hundred characters long.
MAX_METADATA_CHARS = 1 << 16
MAX_METADATA_DEPTH = 16
#: Longest ``.npy`` header accepted inside an ``.npz`` (numpy's own default limit).
MAX_NPY_HEADER = 10000
#: Largest class label accepted (labels index network outputs).
MAX_LABEL = 2**31 - 1


def available_memory() -> int | None:
    """Bytes of memory available now (``MemAvailable`` of /proc/meminfo, else the
    physical memory from ``sysconf``), or ``None`` when neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def check_memory(nbytes: float, what: str) -> None:
    """Refuse (:class:`FileFormatError`) when ``what`` needs more than the available
    memory; does nothing when the available memory cannot be read."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise FileFormatError(
            f"{what} needs about {format_bytes(nbytes)} of memory but only {format_bytes(free)} is available"
        )


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_regular_file(path) -> Path:
    """``path`` as a :class:`Path` if it is an existing, readable regular file whose
    size fits in the available memory; otherwise :class:`FileFormatError`.

    Only regular files are read: a FIFO would block forever and a device such as
    ``/dev/zero`` never ends; symbolic links are followed to what they name.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read ({_os_reason(exc)})") from None
    if stat.S_ISDIR(st.st_mode):
        raise FileFormatError(f"{path}: is a folder, expected a file")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a device" if
                (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) else "a socket" if
                stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise FileFormatError(f"{path}: is {kind}; only regular files are read")
    if not os.access(path, os.R_OK):
        raise FileFormatError(f"{path}: not readable (permission denied)")
    check_memory(st.st_size, f"{path}: reading this file ({format_bytes(st.st_size)})")
    return path


def _temporary_name(folder: Path) -> Path:
    """A short, unused name in ``folder`` (short so that a target name of up to 255
    characters still works)."""
    return folder / f".nid{secrets.token_hex(4)}.tmp"


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the target folder, then rename.

    The temporary file is created with mode ``0o666`` minus the umask (the mode any
    ordinary new file gets). Every ``OSError`` becomes one :class:`FileFormatError`
    naming ``path``; the temporary file never survives a failure.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if os.path.isdir(path):
        raise FileFormatError(f"{path}: is a folder; give a file path")
    if not folder.is_dir():
        raise FileFormatError(f"{path}: folder {folder} does not exist")
    tmp = None
    try:
        for _ in range(100):
            tmp = _temporary_name(folder)
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                tmp = None
        if tmp is None:  # pragma: no cover - 100 random collisions
            raise FileExistsError(errno.EEXIST, "no free temporary name")
        mode = stat.S_IMODE(os.fstat(fd).st_mode)  # 0o666 minus the umask
        os.close(fd)
        write(str(tmp))
        os.chmod(tmp, mode)  # writers that recreate the file (safetensors) would leave 0o600
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot write ({_os_reason(exc)})") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


# --- networks ---------------------------------------------------------------------------
def network_tensors(net: Network) -> dict[str, np.ndarray]:
    """The file tensors of a network (all four per layer, float64)."""
    out = {}
    for l, layer in enumerate(net.layers):
        out[f"layers.{l}.weight"] = np.ascontiguousarray(layer.weight)
        out[f"layers.{l}.bias"] = np.ascontiguousarray(layer.bias)
        out[f"layers.{l}.mask"] = np.ascontiguousarray(layer.mask)
        out[f"layers.{l}.fixed"] = np.ascontiguousarray(layer.fixed)
        if layer.norm is not None:
            for name, arr in layer.norm.arrays().items():
                out[f"layers.{l}.norm.{name}"] = np.ascontiguousarray(arr)
    return out


def network_metadata(net: Network) -> dict:
    """``neuronid.mlp/1`` metadata, or ``/2`` with ``"norms"`` when a layer has a norm."""
    if not net.has_norms:
        return {"format": FORMAT, "activations": net.activations}
    return {
        "format": FORMAT_NORMS,
        "activations": net.activations,
        "norms": [None if norm is None else norm.describe() for norm in net.norms],
    }


def save_network(net: Network, path) -> None:
    """Save to ``.safetensors`` or ``.npz`` (chosen by suffix), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    tensors = network_tensors(net)
    meta = json.dumps(network_metadata(net))
    if suffix == ".safetensors":
        from safetensors.numpy import save_file

        _atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"neuronid": meta}))
    elif suffix == ".npz":
        def write(tmp):
            with open(tmp, "wb") as fh:
                np.savez(fh, metadata=np.array(meta), **tensors)

        _atomic_write(path, write)
    else:
        raise FileFormatError(f"{path}: unknown network file type {suffix!r}; use .safetensors or .npz")


def _read_safetensors(path: Path) -> tuple[dict, str | None]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = (fh.metadata() or {}).get("neuronid")
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}
    except Exception as exc:  # safetensors raises its own error types (SafetensorError, ...)
        raise FileFormatError(
            f"{path}: not a readable safetensors file (corrupt or truncated?): {exc}"
        ) from None
    return tensors, meta


def _npz_members(path: Path, what: str) -> None:
    """Check every member of an ``.npz`` before numpy reads it: a ``.npy`` array with
    a header of at most :data:`MAX_NPY_HEADER` bytes, no object dtype (that would need
    unpickling), and a declared size that the member actually holds and that fits in
    memory. numpy would otherwise return raw bytes for a non-array member, call a long
    header "pickled", or allocate whatever shape a header declares."""
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename
                key = name[:-4] if name.endswith(".npy") else name
                if not name.endswith(".npy") or info.is_dir():
                    raise FileFormatError(
                        f"{path}: member {name!r} is not a .npy array; a .npz file holds only arrays "
                        f"(save {what} with numpy.savez)"
                    )
                with archive.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    try:
                        shape, _fortran, dtype = reader(fh, max_header_size=MAX_NPY_HEADER)
                    except ValueError as exc:
                        if "Header info length" in str(exc) or "max_header_size" in str(exc):
                            raise FileFormatError(
                                f"{path}: array {key!r} has a header longer than {MAX_NPY_HEADER} bytes "
                                "(corrupt or hostile file)"
                            ) from None
                        raise
                    data_start = fh.tell()
                del _fortran
                if dtype.hasobject:
                    raise UnsafeFileError(
                        f"{path}: array {key!r} is a pickled object array; neuronid never unpickles "
                        f"files (it could run code). Save {what} as plain numeric arrays."
                    )
                nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
                held = info.file_size - data_start
                if nbytes > held:
                    raise FileFormatError(
                        f"{path}: array {key!r} declares shape {tuple(shape)} {dtype} ({format_bytes(nbytes)}) "
                        f"but the file holds only {format_bytes(max(held, 0))} for it (truncated or corrupt)"
                    )
                total += nbytes
    except (FileFormatError, UnsafeFileError):
        raise
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError, TypeError, OverflowError) as exc:
        raise FileFormatError(f"{path}: could not read .npz file: {exc}") from None
    check_memory(total, f"{path}: the arrays of this file ({format_bytes(total)})")


def _read_npz(path: Path, *, what: str) -> dict:
    if not zipfile.is_zipfile(path):
        raise FileFormatError(f"{path}: not a valid .npz file (not a zip archive; corrupt or a different format?)")
    _npz_members(path, what)
    try:
        with np.load(path, allow_pickle=False) as archive:
            out = {}
            for key in archive.files:
                try:
                    value = archive[key]
                except ValueError as exc:
                    if "allow_pickle" in str(exc) or "pickled" in str(exc):
                        raise UnsafeFileError(
                            f"{path}: array {key!r} is a pickled object array; neuronid never unpickles "
                            f"files (it could run code). Save {what} as plain numeric arrays."
                        ) from None
                    raise
                if not isinstance(value, np.ndarray):
                    raise FileFormatError(f"{path}: member {key!r} is not a .npy array")
                out[key] = value
    except (UnsafeFileError, FileFormatError):
        raise
    except Exception as exc:
        raise FileFormatError(f"{path}: could not read .npz file: {exc}") from None
    return out


def _check_exists(path) -> Path:
    return check_regular_file(path)


def _json_depth(text: str) -> int:
    """Deepest bracket nesting of a JSON text (brackets inside strings ignored), found
    without recursion so that hostile nesting cannot exhaust the stack."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _bounded_json(path: Path, raw):
    """The metadata JSON, parsed only when within :data:`MAX_METADATA_CHARS` characters
    and :data:`MAX_METADATA_DEPTH` levels of nesting (else :class:`FileFormatError`)."""
    if not isinstance(raw, str):
        raise FileFormatError(f"{path}: metadata must be a JSON string, found {type(raw).__name__}")
    if len(raw) > MAX_METADATA_CHARS:
        raise FileFormatError(
            f"{path}: metadata is {len(raw)} characters long; at most {MAX_METADATA_CHARS} are accepted"
        )
    depth = _json_depth(raw)
    if depth > MAX_METADATA_DEPTH:
        raise FileFormatError(
            f"{path}: metadata JSON is nested {depth} levels deep; at most {MAX_METADATA_DEPTH} are accepted"
        )
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, TypeError, RecursionError) as exc:
        raise FileFormatError(f"{path}: metadata is not valid JSON ({exc}); found {str(raw)[:80]!r}") from None


def _parse_metadata(path: Path, raw, activations) -> tuple[list, list | None]:
    """``(activations, norms)`` from the metadata; explicit ``activations`` override the
    file's (its ``norms`` are still read when the metadata is a valid JSON object)."""
    if activations is not None:
        norms = None
        if raw is not None:
            try:
                meta = _bounded_json(path, raw)
            except FileFormatError:
                meta = None
            if isinstance(meta, dict) and meta.get("norms") is not None:
                norms = _parse_norms(path, meta)
        return list(activations), norms
    if raw is None:
        raise FileFormatError(
            f"{path}: metadata missing (expected JSON with 'activations'); give the activations "
            "explicitly (--activations relu,relu or activations=[...])"
        )
    meta = _bounded_json(path, raw)
    if not isinstance(meta, dict) or "activations" not in meta:
        raise FileFormatError(f"{path}: metadata must be a JSON object with key 'activations', found {str(raw)[:80]!r}")
    fmt = meta.get("format", FORMAT)
    if fmt not in FORMATS:
        raise FileFormatError(
            f"{path}: metadata format {fmt!r} is not supported (expected one of {list(FORMATS)})"
        )
    acts = meta["activations"]
    if not isinstance(acts, list):
        raise FileFormatError(f"{path}: metadata 'activations' must be a list, found {type(acts).__name__}")
    for l, entry in enumerate(acts):
        names = entry if isinstance(entry, list) else [entry]
        if not all(isinstance(name, str) for name in names):
            raise FileFormatError(
                f"{path}: metadata 'activations' entry {l} (hidden layer {l}) must be a name or a list of names, "
                f"found {json.dumps(entry)[:60]}")
    if "norms" in meta and fmt == FORMAT:
        raise FileFormatError(
            f"{path}: metadata key 'norms' needs format {FORMAT_NORMS!r}, found format {fmt!r}"
        )
    norms = _parse_norms(path, meta) if meta.get("norms") is not None else None
    return acts, norms


def _parse_norms(path, meta: dict) -> list:
    """Validate the ``"norms"`` metadata entry: a list of ``null`` or norm descriptions."""
    norms = meta["norms"]
    if not isinstance(norms, list):
        raise FileFormatError(
            f"{path}: metadata 'norms' must be a list (one entry per hidden layer), found {type(norms).__name__}"
        )
    out = []
    for l, entry in enumerate(norms):
        if entry is None:
            out.append(None)
            continue
        where = f"{path}: metadata 'norms' entry for layer {l}"
        if not isinstance(entry, dict):
            raise FileFormatError(f"{where} must be null or an object, found {entry!r}")
        kind = entry.get("kind")
        allowed = {"layer": {"kind", "eps", "affine"}, "batch": {"kind", "eps"}}
        if kind not in allowed:
            raise FileFormatError(f"{where}: 'kind' must be 'layer' or 'batch', found {kind!r}")
        unknown = sorted(set(entry) - allowed[kind])
        if unknown:
            raise FileFormatError(
                f"{where}: unknown keys {unknown} for kind {kind!r} (expected {sorted(allowed[kind])})"
            )
        eps = entry.get("eps")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not np.isfinite(eps) or eps < 0:
            raise FileFormatError(f"{where}: 'eps' must be a finite number >= 0, found {eps!r}")
        affine = entry.get("affine", True)
        if not isinstance(affine, bool):
            raise FileFormatError(f"{where}: 'affine' must be true or false, found {affine!r}")
        out.append({"kind": kind, "eps": float(eps), "affine": affine if kind == "layer" else True})
    return out


def load_network(path, *, activations=None) -> Network:
    """Load a network file; ``activations`` (one entry per hidden layer) overrides the
    metadata (needed for files without metadata)."""
    path = _check_exists(path)
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        tensors, raw_meta = _read_safetensors(path)
    elif suffix == ".npz":
        tensors = _read_npz(path, what="networks")
        raw_meta = tensors.pop("metadata", None)
        if raw_meta is not None:
            if raw_meta.dtype.kind not in "US" or raw_meta.ndim != 0:
                raise FileFormatError(f"{path}: 'metadata' must be a string (0-d string array), found {raw_meta.dtype} {raw_meta.shape}")
            raw_meta = str(raw_meta)
    else:
        raise FileFormatError(f"{path}: unknown network file type {suffix!r}; use .safetensors or .npz")
    acts, norms = _parse_metadata(path, raw_meta, activations)
    return network_from_tensors(tensors, acts, norms=norms, source=str(path))


def network_from_tensors(
    tensors: dict, activations: list, *, norms: list | None = None, source: str = "<tensors>"
) -> Network:
    """Validate a tensor dict in the file layout and build a :class:`Network`.

    ``norms``: the parsed ``"norms"`` metadata (one ``None`` or ``{"kind", "eps",
    "affine"}`` per hidden layer) or ``None`` for a network without normalization."""
    by_layer: dict[int, dict] = {}
    for key, value in tensors.items():
        match = _TENSOR.match(key)
        if not match:
            raise InvalidNetworkError(
                f"{source}: unexpected tensor {key!r} (expected layers.<l>.weight/bias/mask/fixed "
                "or layers.<l>.norm.weight/bias/running_mean/running_var)"
            )
        by_layer.setdefault(int(match.group(1)), {})[match.group(2)] = value
    if not by_layer:
        raise InvalidNetworkError(f"{source}: no layers.<l>.weight tensors found")
    n_layers = max(by_layer) + 1
    for l in range(n_layers):
        if "weight" not in by_layer.get(l, {}):
            raise InvalidNetworkError(f"{source}: tensor 'layers.{l}.weight' is missing (layers 0..{n_layers - 1} expected)")
    if len(activations) != n_layers - 1:
        raise InvalidNetworkError(
            f"{source}: {n_layers} layers need {n_layers - 1} hidden-layer activations, found {len(activations)}"
        )
    if norms is not None and len(norms) != n_layers - 1:
        raise InvalidNetworkError(
            f"{source}: {n_layers} layers need {n_layers - 1} entries in metadata 'norms' (one per hidden "
            f"layer), found {len(norms)}"
        )
    layers = []
    for l in range(n_layers):
        parts = {}
        for name, value in by_layer[l].items():
            arr = np.asarray(value)
            if arr.dtype.kind not in "fiub":
                raise InvalidNetworkError(
                    f"{source}: tensor 'layers.{l}.{name}' has dtype {arr.dtype}; expected a real float (or 0/1 int for mask)"
                )
            if name != "mask" and arr.dtype.kind != "f":
                raise InvalidNetworkError(
                    f"{source}: tensor 'layers.{l}.{name}' has dtype {arr.dtype}; expected float32 or float64"
                )
            parts[name] = arr
        W = parts["weight"]
        if W.ndim != 2:
            raise InvalidNetworkError(f"{source}: tensor 'layers.{l}.weight' must be 2-D (m, d), found shape {W.shape}")
        m, d = W.shape
        expected = {"bias": (m,), "mask": (m, d), "fixed": (m, d)}
        for name, shape in expected.items():
            if name in parts and parts[name].shape != shape:
                raise InvalidNetworkError(
                    f"{source}: tensor 'layers.{l}.{name}' must have shape {shape} to match "
                    f"'layers.{l}.weight' {W.shape}, found {parts[name].shape}"
                )
        if l > 0 and d != layers[-1].shape[0]:
            raise InvalidNetworkError(
                f"{source}: layer {l}: 'layers.{l}.weight' has {d} inputs but layer {l - 1} has "
                f"{layers[-1].shape[0]} neurons (shapes {layers[-1].shape} then {W.shape})"
            )
        act = activations[l] if l < n_layers - 1 else None
        spec = norms[l] if norms is not None and l < n_layers - 1 else None
        norm = _norm_from_parts(parts, spec, m, l, source, output=l == n_layers - 1)
        layers.append(
            Layer(W, parts.get("bias"), parts.get("mask"), parts.get("fixed"), act, norm, where=f"{source}: layer {l}")
        )
    return Network(layers)


def _norm_from_parts(parts: dict, spec: dict | None, m: int, l: int, source: str, *, output: bool) -> Norm | None:
    """The layer's :class:`Norm` from its ``norm.*`` tensors and metadata entry."""
    found = sorted(name[len("norm."):] for name in parts if name.startswith("norm."))
    if spec is None:
        if found and output:
            raise InvalidNetworkError(
                f"{source}: layer {l} (output): tensors {['layers.%d.norm.%s' % (l, n) for n in found]} found, "
                "but the output layer has no normalization"
            )
        if found:
            raise InvalidNetworkError(
                f"{source}: layer {l}: tensors {['layers.%d.norm.%s' % (l, n) for n in found]} found but the "
                "metadata declares no norm for this layer (metadata 'norms' entry missing or null)"
            )
        return None
    expected = sorted(_NORM_TENSORS[(spec["kind"], spec["affine"])])
    if found != expected:
        raise InvalidNetworkError(
            f"{source}: layer {l}: a {spec['kind']} norm (affine={spec['affine']}) needs tensors "
            f"{['layers.%d.norm.%s' % (l, n) for n in expected]}, found {['layers.%d.norm.%s' % (l, n) for n in found]}"
        )
    arrays = {}
    for name in expected:
        arr = parts[f"norm.{name}"]
        if arr.shape != (m,):
            raise InvalidNetworkError(
                f"{source}: tensor 'layers.{l}.norm.{name}' must have shape ({m},) to match "
                f"'layers.{l}.weight' with {m} rows, found {arr.shape}"
            )
        arrays[name] = arr
    return Norm(spec["kind"], spec["eps"], size=m, where=f"{source}: layer {l} norm", **arrays)


# --- data -------------------------------------------------------------------------------
def save_data(path, X, y=None) -> None:
    """Write a data file (``.npz`` with ``X`` and optional ``y``), atomically."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise FileFormatError(f"{path}: data files are .npz")
    arrays = {"X": np.asarray(X, dtype=np.float64)}
    if y is not None:
        arrays["y"] = np.asarray(y)

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    _atomic_write(path, write)


def load_data(path) -> Dataset:
    """Load and validate a data file: ``X`` (n, d) real, finite, non-empty; ``y``
    integer labels (n,) or real targets (n, o) / (n,)."""
    path = _check_exists(path)
    if path.suffix.lower() != ".npz":
        raise FileFormatError(f"{path}: data files are .npz with arrays X and optional y, found suffix {path.suffix!r}")
    arrays = _read_npz(path, what="data")
    if "X" not in arrays:
        raise InvalidDataError(f"{path}: no array 'X' (found: {', '.join(sorted(arrays)) or 'nothing'})")
    X = arrays["X"]
    if X.dtype.kind not in "fiu":
        raise InvalidDataError(f"{path}: 'X' must be real numbers, found dtype {X.dtype}")
    if X.ndim != 2:
        raise InvalidDataError(f"{path}: 'X' must be 2-D (n, d), found shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InvalidDataError(f"{path}: 'X' is empty, shape {X.shape}")
    ensure_finite(X, "'X'", where=str(path))
    y = arrays.get("y")
    if y is not None:
        if y.dtype.kind not in "fiub":
            raise InvalidDataError(f"{path}: 'y' must be integer labels or real targets, found dtype {y.dtype}")
        if y.ndim == 0 or y.shape[0] != X.shape[0]:
            found = "a scalar" if y.ndim == 0 else f"{y.shape[0]} rows"
            raise InvalidDataError(f"{path}: 'y' has {found} but 'X' has {X.shape[0]} rows")
        if y.dtype.kind in "iub":
            if y.ndim != 1:
                raise InvalidDataError(f"{path}: integer labels 'y' must be 1-D (n,), found shape {y.shape}")
            lo, hi = (int(y.min()), int(y.max())) if y.size else (0, 0)  # Python ints: exact for uint64
            if lo < 0:
                raise InvalidDataError(f"{path}: labels 'y' must be >= 0, found range [{lo}, {hi}]")
            if hi > MAX_LABEL:
                raise InvalidDataError(
                    f"{path}: labels 'y' must be class indices in [0, {MAX_LABEL}], found range [{lo}, {hi}]"
                )
            y = y.astype(np.int64)
        else:
            if y.ndim not in (1, 2):
                raise InvalidDataError(f"{path}: real targets 'y' must be (n,) or (n, o), found shape {y.shape}")
            ensure_finite(y, "'y'", where=str(path))
            y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
    return Dataset(X=np.asarray(X, dtype=np.float64), y=y, name=path.stem, info={"path": str(path)})


def check_data_for(net: Network, data: Dataset, *, source: str = "data") -> None:
    """Check a data set against a network's input/output sizes (clear error if not)."""
    if data.X.shape[1] != net.n_inputs:
        raise InvalidDataError(
            f"{source}: 'X' has {data.X.shape[1]} features but the network expects {net.n_inputs} inputs"
        )
    y = data.y
    if y is None:
        return
    if y.dtype.kind == "i" and y.size and y.max() >= net.n_outputs:
        raise InvalidDataError(
            f"{source}: labels 'y' must lie in [0, {net.n_outputs - 1}] for a network with {net.n_outputs} "
            f"outputs, found max {int(y.max())}"
        )
    if y.dtype.kind == "f" and y.shape[1] != net.n_outputs:
        raise InvalidDataError(
            f"{source}: real targets 'y' have {y.shape[1]} columns but the network has {net.n_outputs} outputs"
        )


# --- JSON -------------------------------------------------------------------------------
def _nonfinite_reason(value: float) -> str:
    if np.isnan(value):
        return "nan (undefined)"
    return "+inf (unrealizable or unbounded)" if value > 0 else "-inf"


def to_jsonable(obj):
    """Plain JSON values: numpy scalars/arrays to numbers/lists; non-finite floats to
    ``null`` with a ``"<key>_reason"`` entry beside them in the enclosing object
    (DESIGN.md "Machine-readable output")."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            key = str(key)
            if isinstance(value, (float, np.floating)) and not np.isfinite(value):
                out[key] = None
                out.setdefault(f"{key}_reason", _nonfinite_reason(float(value)))
                continue
            converted = to_jsonable(value)
            out[key] = converted
            if isinstance(value, (list, tuple, np.ndarray)):
                arr = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
                if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                    kinds = sorted({_nonfinite_reason(float(v)) for v in arr[~np.isfinite(arr)].ravel()})
                    out.setdefault(f"{key}_reason", "null entries were " + " / ".join(kinds))
        return out
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; an ``OSError`` becomes one
    :class:`FileFormatError` naming ``path``."""

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    _atomic_write(Path(path), write)


def write_figure(path, fig, **savefig_kwargs) -> None:
    """Save a matplotlib figure to ``path`` atomically, in the format of its suffix
    (a temporary file, then a rename: a hard link at ``path`` is replaced, never written
    through)."""
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    _atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format=fmt, **savefig_kwargs))


def write_json(path, obj) -> None:
    """Write ``to_jsonable(obj)`` to ``path`` atomically (strict JSON: no NaN)."""
    text = json.dumps(to_jsonable(obj), indent=2, allow_nan=False)
    path = Path(path)

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")

    _atomic_write(path, write)
