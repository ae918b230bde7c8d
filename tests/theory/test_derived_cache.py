"""The on-disk cache of SymPy-derived activation facts: a cache never changes a result."""

from __future__ import annotations

import json
import math
import os
import stat

import pytest

from neuronid.theory import _derived_cache
from neuronid.theory import activations as act_mod


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("NEURONID_CACHE_DIR", str(folder))
    return folder


def _fresh(name):
    """A new Activation object (get_activation's are cached in the process)."""
    return act_mod.Activation(name, act_mod.activation_expression(name))


def _files(folder):
    return sorted(folder.glob("activation-facts-*.json")) if folder.exists() else []


def _no_analysis(monkeypatch):
    monkeypatch.setattr(act_mod.Activation, "analysis",
                        property(lambda self: pytest.fail("analysed although cached")))


@pytest.mark.parametrize("name", ["elu", "leaky_relu:0.2"])
def test_facts_are_derived_once_then_read_back_equal(cache, monkeypatch, name):
    derived = _fresh(name).facts
    assert len(_files(cache)) == 1
    _no_analysis(monkeypatch)
    read = _fresh(name)
    assert read.facts == derived
    assert (read.monotone, read.lipschitz, read.curvature, read.kinks, read.method) == (
        derived["monotone"], derived["lipschitz"], derived["curvature"], derived["kinks"], derived["method"])


def test_non_finite_values_round_trip_in_strict_json():
    facts = {"monotone": "non_monotone", "decreasing_intervals": [(-math.inf, -0.75)], "lipschitz": math.inf,
             "curvature": None, "kinks": [(0.0, 0.0, 1.0)], "piecewise_linear": False, "method": {"a": "b"},
             "undetermined": None}
    text = json.dumps(act_mod._facts_to_json(facts), allow_nan=False)
    assert act_mod._facts_from_json(json.loads(text)) == facts


@pytest.mark.parametrize("text", ["{not json", "[]", '{"name": "other", "value": {}}',
                                  '{"name": "elu", "value": {"monotone": 3}}', '{"name": "elu", "value": {"monotone": "rising"}}',
                                  '{"name": "elu", "value": {"monotone": "x", "piecewise_linear": true, '
                                  '"method": {"a": 1}}}'])
def test_a_corrupt_or_foreign_entry_is_derived_afresh(cache, text):
    derived = _fresh("elu").facts
    (path,) = _files(cache)
    path.write_text(text)
    assert _fresh("elu").facts == derived
    assert json.loads(path.read_text())["name"] == "elu"  # rewritten


def test_a_hand_edited_entry_is_not_trusted(cache):
    """A valid-looking entry whose value was changed after writing (here: ELU claimed
    1-Lipschitz... with a tiny constant, or NaN) fails its checksum: derived afresh."""
    derived = _fresh("elu").facts
    (path,) = _files(cache)
    for lipschitz in (0.01, "NaN"):
        entry = json.loads(path.read_text())
        entry["value"]["lipschitz"] = lipschitz
        path.write_text(json.dumps(entry))
        assert _fresh("elu").facts == derived
    assert act_mod._facts_from_json(json.loads(path.read_text())["value"]) == derived


def test_nan_or_negative_bounds_are_refused_even_with_a_valid_checksum():
    facts = {"monotone": "non_monotone", "decreasing_intervals": [], "lipschitz": 1.0, "curvature": None,
             "kinks": [], "piecewise_linear": False, "method": {}}
    raw = act_mod._facts_to_json(facts)
    for field, bad in (("lipschitz", "nan"), ("lipschitz", -1.0), ("curvature", "nan"), ("kinks", [["inf", 0, 1]])):
        with pytest.raises(ValueError):
            act_mod._facts_from_json(dict(raw, **{field: bad}))


@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
def test_a_fifo_device_or_huge_file_under_an_entry_name_is_ignored(cache, kind):
    """Never a hang (a FIFO is opened non-blocking) and never a huge read."""
    derived = _fresh("relu").facts
    (path,) = _files(cache)
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        os.symlink("/dev/zero", path)
    else:
        with open(path, "wb") as fh:
            fh.truncate(1 << 30)  # sparse
    assert _derived_cache.load("activation-facts", "relu", act_mod._FACTS_SOURCES) is None
    assert _fresh("relu").facts == derived


def test_an_unwritable_or_disabled_cache_gives_the_same_facts(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURONID_CACHE_DIR", "off")
    assert _derived_cache.cache_dir() is None
    off = _fresh("relu").facts
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv("NEURONID_CACHE_DIR", str(blocker / "sub"))
    assert _fresh("relu").facts == off


def test_an_undetermined_analysis_is_not_stored(cache, monkeypatch):
    monkeypatch.setattr(act_mod.Activation, "analysis",
                        property(lambda self: act_mod.undetermined_analysis("budget (test)")))
    facts = _fresh("relu").facts
    assert facts["monotone"] == "non_monotone" and _files(cache) == []


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


@pytest.mark.parametrize("variable", ["NEURONID_CACHE_DIR", "XDG_CACHE_HOME"])
def test_a_leading_tilde_is_the_home_folder(tmp_path, monkeypatch, variable):
    """``NEURONID_CACHE_DIR="~/x"`` (quoted: the shell did not expand it) names
    ``$HOME/x``, never a folder literally called ``~`` in the working folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    if variable == "XDG_CACHE_HOME":
        monkeypatch.delenv("NEURONID_CACHE_DIR", raising=False)
        expected = tmp_path / "home" / "xdg" / "neuronid"
    else:
        expected = tmp_path / "home" / "xdg"
    monkeypatch.setenv(variable, "~/xdg")
    assert _derived_cache.cache_dir() == expected
    _derived_cache.store("test-entry", "x", (), {"a": 1})
    assert _derived_cache.load("test-entry", "x", ()) == {"a": 1}
    assert len(list(expected.glob("test-entry-*.json"))) == 1
    assert not (tmp_path / "~").exists()


@pytest.fixture
def umask():
    """Set the process umask for one test (restored afterwards)."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield os.umask
    os.umask(saved)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077, 0o000])
def test_entries_honour_the_umask_like_any_new_file(cache, umask, mask):
    """A cache folder shared by a group is shared: an entry gets mode 0666 & ~umask
    (mkstemp alone would give 0600 whatever the umask)."""
    umask(mask)
    _derived_cache.store("test-entry", "x", (), {"a": 1})
    (path,) = cache.glob("test-entry-*.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~mask
    assert _derived_cache.load("test-entry", "x", ()) == {"a": 1}


def test_the_umask_is_read_without_changing_it(umask):
    """Read from /proc/self/status where the kernel has it (os.umask would set it
    process-wide, racing other threads); the fallback is the value at import."""
    umask(0o027)
    assert _derived_cache._current_umask() == 0o027
    assert os.umask(0o027) == 0o027  # unchanged by the read


def test_the_umask_fallback_without_proc(monkeypatch, umask):
    monkeypatch.setattr(_derived_cache, "_PROC_STATUS", "/nonexistent/status")
    monkeypatch.setattr(_derived_cache, "_IMPORT_UMASK", 0o037)
    assert _derived_cache._current_umask() == 0o037
