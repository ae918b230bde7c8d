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
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from neuronid.errors import FileFormatError, InvalidOptionError

from .datasets import Dataset

__all__ = ["MNIST_FILES", "check_mnist_folder", "find_mnist_file", "idx_shape", "load_mnist", "read_idx", "write_idx"]

#: element type code -> numpy dtype (big-endian where it matters)
_IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
#: split -> (images stem, labels stem)
MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


@contextmanager
def _reading(path: Path):
    """Turn the OS and gzip errors of reading ``path`` into one-line :class:`FileFormatError`."""
    try:
        yield
    except (EOFError, zlib.error) as exc:
        raise FileFormatError(f"{path}: truncated or corrupt gzip file ({exc})") from None
    except gzip.BadGzipFile as exc:
        raise FileFormatError(f"{path}: not a gzip file ({exc})") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _read_bytes(path: Path) -> bytes:
    with _reading(path):
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()


def _data_length(path: Path, header: int) -> int:
    """Bytes after the first ``header`` bytes of ``path`` (decompressed for ``.gz``, streamed
    in chunks: nothing of the data is kept)."""
    with _reading(path):
        if path.suffix != ".gz":
            return path.stat().st_size - header
        total = 0
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                total += len(chunk)
        return total - header


def _read_head(path: Path, n: int = 4 + 4 * 255) -> bytes:
    """The first ``n`` bytes (the longest IDX header: 255 dimensions)."""
    with _reading(path):
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read(n)
        with open(path, "rb") as fh:
            return fh.read(n)


def _parse_header(path: Path, raw: bytes, ndim: int | None, data_length) -> tuple:
    """``(dtype, dims, header bytes)`` of an IDX file whose first bytes are ``raw``;
    ``data_length(header)`` gives the bytes after the header (checked against the sizes)."""
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
    found = data_length(header)
    if found < expected:
        raise FileFormatError(
            f"{path}: truncated IDX file: the header {dims} needs {expected} data bytes, found {found}"
        )
    if found > expected:
        raise FileFormatError(f"{path}: {found - expected} bytes after the data the header {dims} describes (corrupt?)")
    return dtype, dims, header


def read_idx(path, *, ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (optionally gzipped); ``ndim`` checks the number of dimensions."""
    path = Path(path)
    raw = _read_bytes(path)
    dtype, dims, header = _parse_header(path, raw, ndim, lambda h: len(raw) - h)
    return np.frombuffer(raw, dtype=dtype, count=int(np.prod(dims, dtype=np.int64)), offset=header).reshape(dims)


def idx_shape(path, *, ndim: int | None = None) -> tuple:
    """``(dtype, dims)`` of one IDX file from its header, after checking that the file
    holds exactly the data the header describes (reads the header only; a ``.gz`` file is
    decompressed in a stream to count its bytes). The checks of :func:`read_idx`."""
    path = Path(path)
    dtype, dims, _ = _parse_header(path, _read_head(path), ndim, lambda h: _data_length(path, h))
    return dtype, dims


def check_mnist_folder(folder) -> dict:
    """Check the four MNIST IDX files in ``folder`` before anything is trained: present,
    headers (unsigned bytes, 28x28 images), data sizes as the headers say, as many labels
    as images, labels in 0..9. Returns ``{split: (n images, images path, labels path)}``; raises
    :class:`FileFormatError` naming the file otherwise. Cheap: headers, file sizes and the label bytes.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for s in ("train", "t10k"):
    ...     write_idx(d / f"{s}-images-idx3-ubyte", np.zeros((3, 28, 28), dtype=np.uint8))
    ...     write_idx(d / f"{s}-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    >>> check_mnist_folder(d)["test"][0]
    3
    >>> (d / "t10k-images-idx3-ubyte").write_bytes((d / "t10k-images-idx3-ubyte").read_bytes()[:-5]) > 0
    True
    >>> check_mnist_folder(d)
    Traceback (most recent call last):
    ...
    neuronid.errors.FileFormatError: ...t10k-images-idx3-ubyte: truncated IDX file: the header (3, 28, 28) needs 2352 data bytes, found 2347
    """
    out = {}
    for split, (img_stem, lab_stem) in MNIST_FILES.items():
        img_path, lab_path = find_mnist_file(folder, img_stem), find_mnist_file(folder, lab_stem)
        img_type, img_dims = idx_shape(img_path, ndim=3)
        labels = read_idx(lab_path, ndim=1)  # n bytes: read whole, a bad label must not wait for training
        lab_type, lab_dims = labels.dtype, labels.shape
        if img_type != np.uint8 or lab_type != np.uint8:
            raise FileFormatError(f"{img_path if img_type != np.uint8 else lab_path}: expected unsigned bytes (type 0x08)")
        if tuple(img_dims[1:]) != (28, 28):
            raise FileFormatError(
                f"{img_path}: MNIST images are 28x28, found {img_dims[1]}x{img_dims[2]} (header {tuple(img_dims)}); "
                "not an MNIST image file")
        if img_dims[0] != lab_dims[0]:
            raise FileFormatError(f"{img_path} has {img_dims[0]} images but {lab_path} has {lab_dims[0]} labels")
        if labels.size and int(labels.max()) > 9:
            raise FileFormatError(f"{lab_path}: MNIST labels must lie in 0..9, found {int(labels.max())}")
        out[split] = (int(img_dims[0]), img_path, lab_path)
    return out


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
    if folder.exists() and not folder.is_dir():
        raise FileFormatError(f"{folder}: not a folder (expected a folder holding the MNIST IDX files)")
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
    if images.shape[1:] != (28, 28):  # MNIST (and Fashion-MNIST) images are 28x28: 784 features
        raise FileFormatError(
            f"{img_path}: MNIST images are 28x28, found {images.shape[1]}x{images.shape[2]} "
            f"(header {tuple(images.shape)}); not an MNIST image file"
        )
    if images.shape[0] != labels.shape[0]:
        raise FileFormatError(
            f"{img_path} has {images.shape[0]} images but {lab_path} has {labels.shape[0]} labels"
        )
    if labels.size and labels.max() > 9:
        raise FileFormatError(f"{lab_path}: labels must lie in 0..9, found {int(labels.max())}")
    X = images.reshape(images.shape[0], -1).astype(np.float64) / 255.0
    return Dataset(X=X, y=labels.astype(np.int64), name=f"mnist-{split}",
                   info={"images": str(img_path), "labels": str(lab_path), "image_shape": list(images.shape[1:])})
