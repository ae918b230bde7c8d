"""MNIST from the user's own IDX files (no download).

The IDX format (LeCun's MNIST files): a 4-byte magic ``00 00 TT ND`` (``TT`` the
element type, ``0x08`` = unsigned byte for MNIST; ``ND`` the number of dimensions),
``ND`` big-endian int32 sizes, then the data. Images are ``idx3`` (n, 28, 28), labels
``idx1`` (n,). Files may be gzipped (``.gz``). :func:`load_mnist` looks for the
standard names (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-...``; also ``train-images.idx3-ubyte``) in ``DIR``, ``DIR/raw`` and
``DIR/MNIST/raw`` (where torchvision stores them), scales pixels to [0, 1] and
flattens images to 784 features.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> write_idx(d / "t10k-images-idx3-ubyte", np.zeros((2, 28, 28), dtype=np.uint8))
>>> write_idx(d / "t10k-labels-idx1-ubyte", np.array([3, 7], dtype=np.uint8))
>>> ds = load_mnist(d, split="test")
>>> ds.X.shape, ds.y.tolist()
((2, 784), [3, 7])
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from neuronid.errors import FileFormatError, InvalidOptionError

from .datasets import Dataset

__all__ = ["MNIST_FILES", "find_mnist_file", "load_mnist", "read_idx", "write_idx"]

#: element type code -> numpy dtype (big-endian where it matters)
_IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
#: split -> (images stem, labels stem)
MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (EOFError, zlib.error) as exc:
        raise FileFormatError(f"{path}: truncated or corrupt gzip file ({exc})") from None
    except gzip.BadGzipFile as exc:
        raise FileFormatError(f"{path}: not a gzip file ({exc})") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_idx(path, *, ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (optionally gzipped); ``ndim`` checks the number of dimensions."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise FileFormatError(f"{path}: truncated IDX file ({len(raw)} bytes; the header alone has at least 4)")
    zero, type_code, nd = raw[:2], raw[2], raw[3]
    if zero != b"\x00\x00" or type_code not in _IDX_TYPES or nd == 0:
        raise FileFormatError(
            f"{path}: wrong magic number 0x{raw[:4].hex()} (expected 0x0000TTDD: type 08 (ubyte) and the number "
            "of dimensions, e.g. 0x00000803 for images, 0x00000801 for labels); not an IDX file"
        )
    if ndim is not None and nd != ndim:
        raise FileFormatError(
            f"{path}: wrong magic number 0x{raw[:4].hex()}: {nd} dimensions, expected {ndim} "
            f"(0x0000080{ndim}); images and labels swapped?"
        )
    header = 4 + 4 * nd
    if len(raw) < header:
        raise FileFormatError(f"{path}: truncated IDX file: the header needs {header} bytes, found {len(raw)}")
    dims = struct.unpack(f">{nd}i", raw[4:header])
    if any(d < 0 for d in dims):
        raise FileFormatError(f"{path}: negative size in the header {dims}")
    dtype = _IDX_TYPES[type_code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found < expected:
        raise FileFormatError(
            f"{path}: truncated IDX file: the header {dims} needs {expected} data bytes, found {found}"
        )
    if found > expected:
        raise FileFormatError(f"{path}: {found - expected} bytes after the data the header {dims} describes (corrupt?)")
    return np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header).reshape(dims)


def write_idx(path, array: np.ndarray) -> None:
    """Write an unsigned-byte IDX file (gzipped when the name ends in ``.gz``); for tests."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    data = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def find_mnist_file(folder, stem: str) -> Path:
    """The file ``stem`` (or ``stem.gz``, or with ``.idx`` instead of ``-idx``) in
    ``folder``, ``folder/raw`` or ``folder/MNIST/raw``; a clear error naming it if absent."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileFormatError(f"{folder}: no such folder (expected the MNIST IDX files in it)")
    names = [stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"]
    places = [folder, folder / "raw", folder / "MNIST" / "raw"]
    for place in places:
        for name in names:
            if (place / name).is_file():
                return place / name
    raise FileFormatError(
        f"{folder}: MNIST file {stem!r} (or {stem}.gz) not found in {', '.join(str(p) for p in places)}; "
        "neuronid does not download data: get the four IDX files (e.g. torchvision.datasets.MNIST(root, "
        "download=True) stores them under root/MNIST/raw/)"
    )


def load_mnist(folder, *, split: str = "train") -> Dataset:
    """MNIST ``split`` from IDX files in ``folder``: X (n, 784) in [0, 1], y (n,) int64."""
    if split not in MNIST_FILES:
        raise InvalidOptionError(f"split must be one of {', '.join(MNIST_FILES)}, found {split!r}")
    img_stem, lab_stem = MNIST_FILES[split]
    img_path, lab_path = find_mnist_file(folder, img_stem), find_mnist_file(folder, lab_stem)
    images = read_idx(img_path, ndim=3)
    labels = read_idx(lab_path, ndim=1)
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise FileFormatError(f"{img_path if images.dtype != np.uint8 else lab_path}: expected unsigned bytes (type 0x08)")
    if images.shape[0] != labels.shape[0]:
        raise FileFormatError(
            f"{img_path} has {images.shape[0]} images but {lab_path} has {labels.shape[0]} labels"
        )
    if labels.size and labels.max() > 9:
        raise FileFormatError(f"{lab_path}: labels must lie in 0..9, found {int(labels.max())}")
    X = images.reshape(images.shape[0], -1).astype(np.float64) / 255.0
    return Dataset(X=X, y=labels.astype(np.int64), name=f"mnist-{split}",
                   info={"images": str(img_path), "labels": str(lab_path), "image_shape": list(images.shape[1:])})
