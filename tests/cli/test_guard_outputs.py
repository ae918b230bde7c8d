"""neuronid._cli_common.guard_outputs: the one place every command checks its outputs."""

from __future__ import annotations

import os

import pytest

from neuronid._cli_common import guard_outputs, output_file, output_folder
from neuronid.errors import InvalidOptionError


@pytest.fixture
def files(tmp_path):
    (tmp_path / "in.npz").write_bytes(b"data")
    (tmp_path / "old.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("mine")
    os.symlink(tmp_path / "in.npz", tmp_path / "link.json")
    os.link(tmp_path / "in.npz", tmp_path / "hard.npz")
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling.json")
    os.mkfifo(tmp_path / "fifo.json")
    return tmp_path


@pytest.mark.parametrize("out, force, words", [
    (output_file("--out", "in.npz", [".npz"]), True, "is an input"),
    (output_file("--json", "link.json", [".json"]), True, "is an input"),
    (output_file("--out", "hard.npz", [".npz"]), True, "is an input"),
    (output_file("--json", "notes.txt", [".json"]), False, "--force"),
    (output_file("--json", "dangling.json", [".json"]), True, "symbolic link"),
    (output_file("--json", "fifo.json", [".json"]), True, "never replaced"),
    (output_file("--json", "sub", [".json"]), False, "is a folder"),
    (output_file("--json", "nope/x.json", [".json"]), False, "does not exist"),
    (output_file("--json", "notes.txt/x.json", [".json"]), False, "is not a folder"),
    (output_file("--json", "/proc/x.json", [".json"]), False, "cannot write in folder /proc .it accepts no new files"),
    (output_file("--json", "z" * 300 + ".json", [".json"]), False, "limit is"),
    (output_file("--json", "", [".json"]), False, "empty"),
    (output_folder("--out", "notes.txt"), False, "not a folder"),
    (output_folder("--out", "/proc/x/y"), False, "cannot create the folder /proc/x/y"),
    (output_folder("--out", ".", ["in.npz"]), False, "is an input"),
])
def test_unsafe_outputs_are_refused(files, monkeypatch, out, force, words):
    monkeypatch.chdir(files)
    with pytest.raises(InvalidOptionError, match=words):
        guard_outputs(inputs=["in.npz"], outputs=[out], force=force)


def test_safe_outputs_pass(files, monkeypatch):
    monkeypatch.chdir(files)
    guard_outputs(inputs=["in.npz", None], outputs=[
        output_file("--json", "old.json", [".json"]),   # own kind: replaced
        output_file("--out", "new.safetensors", [".safetensors", ".npz"]),
        output_folder("--plots", "sub"), output_folder("--out", "new/deeper"), None])
    guard_outputs(inputs=["in.npz"], outputs=[output_file("--json", "notes.txt", [".json"])], force=True)
    assert sorted(os.listdir(files)) == ["dangling.json", "fifo.json", "hard.npz", "in.npz", "link.json", "notes.txt",
                                         "old.json", "sub"]


def test_two_outputs_on_one_path_are_refused(files, monkeypatch):
    monkeypatch.chdir(files)
    with pytest.raises(InvalidOptionError, match="same path"):
        guard_outputs(outputs=[output_file("--out", "a.npz", [".npz"]), output_file("--save-data", "./a.npz", [".npz"])])
