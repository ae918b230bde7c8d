"""The on-disk cache of SymPy-derived values: a cache never changes a result."""

from __future__ import annotations

import json

import pytest

from neuronid.numerics import _derived_cache
from neuronid.numerics import certificate as cert_mod


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("NEURONID_CACHE_DIR", str(folder))
    cert_mod.activation_constants.cache_clear()
    yield folder
    cert_mod.activation_constants.cache_clear()


def _files(folder):
    return sorted(folder.glob("t4-constants-*.json")) if folder.exists() else []


def test_constants_are_derived_once_then_read_back_equal(cache, monkeypatch):
    derived = cert_mod.activation_constants("tanh")
    assert derived.supported and len(_files(cache)) == 1
    cert_mod.activation_constants.cache_clear()
    monkeypatch.setattr(cert_mod, "_derive_constants", lambda name: pytest.fail("derived although cached"))
    read = cert_mod.activation_constants("tanh")
    assert read == derived and read.method == derived.method and read.gap_rule == derived.gap_rule


@pytest.mark.parametrize("text", ["{not json", "[]", '{"name": "other", "value": {}}',
                                  '{"name": "tanh", "value": {"lipschitz": "x"}}'])
def test_a_corrupt_or_foreign_entry_is_derived_afresh(cache, text):
    derived = cert_mod.activation_constants("tanh")
    (path,) = _files(cache)
    path.write_text(text)
    cert_mod.activation_constants.cache_clear()
    assert cert_mod.activation_constants("tanh") == derived
    assert json.loads(path.read_text())["name"] == "tanh"  # rewritten


def test_an_unwritable_or_disabled_cache_gives_the_same_constants(tmp_path, monkeypatch):
    cert_mod.activation_constants.cache_clear()
    monkeypatch.setenv("NEURONID_CACHE_DIR", "off")
    off = cert_mod.activation_constants("sigmoid")
    assert _derived_cache.cache_dir() is None
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv("NEURONID_CACHE_DIR", str(blocker / "sub"))
    cert_mod.activation_constants.cache_clear()
    assert cert_mod.activation_constants("sigmoid") == off
    cert_mod.activation_constants.cache_clear()


def test_unsupported_constants_are_not_stored(cache):
    c = cert_mod.activation_constants("sympy:exp(z)")  # no finite Lipschitz constant
    assert not c.supported and _files(cache) == []


def test_the_key_changes_with_the_deriving_code(tmp_path, monkeypatch):
    pkg = tmp_path / "fakepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _derived_cache._code_digest.cache_clear()
    before = _derived_cache._code_digest(("fakepkg",))
    (pkg / "a.py").write_text("X = 2\n")
    _derived_cache._code_digest.cache_clear()
    assert _derived_cache._code_digest(("fakepkg",)) != before
    _derived_cache._code_digest.cache_clear()
