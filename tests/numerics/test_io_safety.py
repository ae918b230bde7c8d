"""Reading and writing safety of numerics/io.py (issue 12, items 3-6, 11, 12)."""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile

import numpy as np
import pytest

from neuronid.errors import FileFormatError, InvalidDataError, UnsafeFileError
from neuronid.numerics import io as nio
from neuronid.numerics.io import load_data, load_network, network_tensors, save_data, save_network, write_json
from neuronid.numerics.structures import standard_mlp


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(8, 3))


def test_only_regular_files_are_read(tmp_path):
    os.mkfifo(tmp_path / "fifo.npz")
    os.symlink("/dev/zero", tmp_path / "zero.npz")
    with pytest.raises(FileFormatError, match="FIFO"):
        load_data(tmp_path / "fifo.npz")
    with pytest.raises(FileFormatError, match="device"):
        load_data(tmp_path / "zero.npz")
    with pytest.raises(FileFormatError, match="device"):
        load_network(tmp_path / "zero.npz")


def test_file_larger_than_memory_is_refused_before_reading(tmp_path, X, monkeypatch):
    save_data(tmp_path / "d.npz", X)
    monkeypatch.setattr(nio, "available_memory", lambda: 100)
    with pytest.raises(FileFormatError, match="memory"):
        load_data(tmp_path / "d.npz")


def test_npz_members_are_checked_before_numpy_reads_them(tmp_path, X):
    _zip(tmp_path / "member.npz", {"X.npy": _npy(X), "readme.txt": b"hi"})
    with pytest.raises(FileFormatError, match="'readme.txt' is not a .npy array"):
        load_data(tmp_path / "member.npz")
    long_header = b"\x93NUMPY\x01\x00" + (50_000).to_bytes(2, "little") + b" " * 50_000
    _zip(tmp_path / "header.npz", {"X.npy": long_header})
    with pytest.raises(FileFormatError, match="header longer than") as info:
        load_data(tmp_path / "header.npz")
    assert "pickled" not in str(info.value)
    hdr = np.lib.format.header_data_from_array_1_0(X)
    hdr["shape"] = (10**12, 3)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, hdr)
    _zip(tmp_path / "lie.npz", {"X.npy": buf.getvalue() + X.tobytes()})
    with pytest.raises(FileFormatError, match="truncated or corrupt"):
        load_data(tmp_path / "lie.npz")
    np.savez(tmp_path / "obj.npz", X=np.array([None, 1], dtype=object))
    with pytest.raises(UnsafeFileError, match="pickled"):
        load_data(tmp_path / "obj.npz")


def test_uint64_labels_are_reported_with_their_true_range(tmp_path, X):
    np.savez(tmp_path / "u.npz", X=X, y=np.array([0, 1] * 3 + [2, 2**64 - 1], dtype=np.uint64))
    with pytest.raises(InvalidDataError, match=r"found range \[0, 18446744073709551615\]"):
        load_data(tmp_path / "u.npz")


@pytest.mark.parametrize("meta, words", [
    ("[" * 100_000 + "]" * 100_000, "characters long"),
    ("[" * 1000 + "]" * 1000, "nested 1000 levels"),
    ('{"a": "' + "[" * 1000 + '"}', "activations"),  # brackets inside a string are not nesting
])
def test_metadata_size_and_depth_are_limited(tmp_path, meta, words):
    np.savez(tmp_path / "n.npz", metadata=np.array(meta), **network_tensors(standard_mlp([3, 4, 2], seed=0)))
    with pytest.raises(FileFormatError, match=words):
        load_network(tmp_path / "n.npz")


def test_writes_respect_the_umask_and_replace_atomically(tmp_path, X):
    old = os.umask(0o027)
    try:
        save_data(tmp_path / "d.npz", X)
        save_network(standard_mlp([3, 4, 2], seed=0), tmp_path / "n.safetensors")
        save_network(standard_mlp([3, 4, 2], seed=0), tmp_path / "n.npz")
        write_json(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old)
    for name in ("d.npz", "n.safetensors", "n.npz", "r.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz", "n.npz", "n.safetensors", "r.json"]


def test_long_names_work_and_os_errors_are_one_clear_error(tmp_path, X):
    name = "x" * 251 + ".npz"  # 255 bytes: the file system's limit
    save_data(tmp_path / name, X)
    assert (tmp_path / name).is_file()
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(FileFormatError, match="is a folder"):
        write_json(tmp_path / "folder.json", {})
    with pytest.raises(FileFormatError, match="cannot write"):
        write_json("/proc/x.json", {})
    with pytest.raises(FileFormatError, match="cannot write"):
        write_json(tmp_path / ("y" * 300 + ".json"), {})
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "a temporary file survived"
