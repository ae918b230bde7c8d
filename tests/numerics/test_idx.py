"""MNIST IDX files (numerics.idx) and ``neuronid data mnist``: synthetic IDX files,
gzipped or not, torchvision's folder layout, and the bad-input table."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from neuronid.cli import main
from neuronid.errors import FileFormatError, InvalidOptionError
from neuronid.numerics.idx import load_mnist, read_idx, write_idx
from neuronid.numerics.io import load_data

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
LABELS = (np.arange(12) % 10).astype(np.uint8)


def _write_split(folder, split="train", gz=False, n_labels=12):
    prefix = "train" if split == "train" else "t10k"
    suffix = ".gz" if gz else ""
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", IMAGES)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", LABELS[:n_labels])


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("where", ["", "raw", "MNIST/raw"])
def test_load_mnist_layouts(tmp_path, gz, where):
    _write_split(tmp_path / where if where else tmp_path, "test", gz=gz)
    ds = load_mnist(tmp_path, split="test")
    assert ds.X.shape == (12, 784) and ds.X.dtype == np.float64
    assert ds.X.min() >= 0.0 and ds.X.max() <= 1.0
    assert np.array_equal(ds.X, IMAGES.reshape(12, -1) / 255.0)  # row-major flattening, /255
    assert ds.y.tolist() == LABELS.tolist() and ds.y.dtype == np.int64


def test_cli_data_mnist(tmp_path, capsys):
    _write_split(tmp_path / "MNIST" / "raw", "train", gz=True)
    out = tmp_path / "train.npz"
    assert main(["data", "mnist", "--from", str(tmp_path), "--out", str(out)]) == 0
    data = load_data(out)
    assert data.X.shape == (12, 784) and data.y.tolist() == LABELS.tolist()
    assert main(["data", "mnist", "--from", str(tmp_path), "--out", str(out), "--n", "5"]) == 0
    assert load_data(out).X.shape == (5, 784)


def _bytes(path):
    return path.read_bytes()


def _corrupt(tmp_path, kind):
    _write_split(tmp_path)
    img = tmp_path / "train-images-idx3-ubyte"
    lab = tmp_path / "train-labels-idx1-ubyte"
    if kind == "truncated":
        img.write_bytes(_bytes(img)[:-100])
    elif kind == "truncated-header":
        img.write_bytes(_bytes(img)[:10])
    elif kind == "tiny":
        img.write_bytes(b"\x00\x00")
    elif kind == "extra":
        img.write_bytes(_bytes(img) + b"\x00" * 7)
    elif kind == "magic":
        img.write_bytes(b"\x12\x34" + _bytes(img)[2:])
    elif kind == "swapped":
        img.write_bytes(_bytes(lab))
    elif kind == "count":
        write_idx(lab, LABELS[:10])
    elif kind == "label-range":
        write_idx(lab, np.full(12, 11, dtype=np.uint8))
    elif kind == "missing":
        lab.unlink()
    elif kind == "gz-truncated":
        img.unlink()
        gz = tmp_path / "train-images-idx3-ubyte.gz"
        write_idx(gz, IMAGES)
        gz.write_bytes(_bytes(gz)[:200])
    elif kind == "gz-bad":
        img.unlink()
        (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"plain bytes, not gzip")


BAD = [
    ("truncated", "truncated IDX file: the header (12, 28, 28) needs 9408 data bytes, found 9308"),
    ("truncated-header", "truncated IDX file: the header needs 16 bytes"),
    ("tiny", "truncated IDX file (2 bytes"),
    ("extra", "7 bytes after the data"),
    ("magic", "wrong magic number 0x12340803"),
    ("swapped", "1 dimensions, expected 3"),
    ("count", "has 12 images but"),
    ("label-range", "labels must lie in 0..9"),
    ("missing", "MNIST file 'train-labels-idx1-ubyte' (or train-labels-idx1-ubyte.gz) not found"),
    ("gz-truncated", "truncated or corrupt gzip file"),
    ("gz-bad", "not a gzip file"),
]


@pytest.mark.parametrize("kind, fragment", BAD)
def test_bad_idx_files(tmp_path, capsys, kind, fragment):
    _corrupt(tmp_path, kind)
    with pytest.raises(FileFormatError) as info:
        load_mnist(tmp_path)
    assert fragment in str(info.value)
    # the CLI: exit 2, one line naming the problem
    code = main(["data", "mnist", "--from", str(tmp_path), "--out", str(tmp_path / "x.npz")])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and err.count("\n") == 1


def test_bad_options(tmp_path, capsys):
    assert main(["data", "mnist", "--out", str(tmp_path / "x.npz")]) == 2
    assert "--from DIR" in capsys.readouterr().err
    assert main(["data", "subspace", "--from", str(tmp_path), "--out", str(tmp_path / "x.npz")]) == 2
    assert "--from applies to 'data mnist'" in capsys.readouterr().err
    assert main(["data", "mnist", "--from", str(tmp_path / "nope"), "--out", str(tmp_path / "x.npz")]) == 2
    assert "no such folder" in capsys.readouterr().err
    with pytest.raises(InvalidOptionError):
        load_mnist(tmp_path, split="val")


def test_read_idx_roundtrip_types(tmp_path):
    write_idx(tmp_path / "a.gz", IMAGES[:2])
    assert np.array_equal(read_idx(tmp_path / "a.gz"), IMAGES[:2])
    with gzip.open(tmp_path / "a.gz", "rb") as fh:
        assert fh.read(4) == b"\x00\x00\x08\x03"


def test_doctests():
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module("neuronid.numerics.idx"), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
