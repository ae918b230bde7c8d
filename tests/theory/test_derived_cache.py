"""The on-disk cache of SymPy-derived activation facts: a cache never changes a result."""

from __future__ import annotations

import json
import math

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
             "curvature": None, "kinks": [(0.0, 0.0, 1.0)], "piecewise_linear": False, "method": {"a": "b"}}
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
