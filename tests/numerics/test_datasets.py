"""Tests of neuronid.numerics.datasets (THEORY E1-E3 data generators)."""

from __future__ import annotations

import doctest
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neuronid.numerics.datasets as datasets
from neuronid.numerics.datasets import (
    DATASETS,
    Dataset,
    coherence_embedding,
    gaussian_mixture_subspace,
    make_dataset,
    parity_subspace,
    subspace_coherence,
    train_test_split,
)
from neuronid.errors import InvalidInputError, InvalidOptionError

FAMILIES = ("exact_copy", "random_tight_frame")

# name -> factory(n, seed, sample_seed) for the synthetic generators
GENERATORS = {
    "subspace": lambda n, seed, sample_seed=None: gaussian_mixture_subspace(
        n, k=3, ambient=12, n_classes=5, seed=seed, sample_seed=sample_seed
    ),
    "parity-label": lambda n, seed, sample_seed=None: parity_subspace(
        n, k=3, ambient=7, seed=seed, sample_seed=sample_seed
    ),
    "parity-value": lambda n, seed, sample_seed=None: parity_subspace(
        n, k=3, ambient=7, seed=seed, sample_seed=sample_seed, target="value"
    ),
    "coherence-exact": lambda n, seed, sample_seed=None: coherence_embedding(
        n, family="exact_copy", active=3, seed=seed, sample_seed=sample_seed
    ),
    "coherence-frame": lambda n, seed, sample_seed=None: coherence_embedding(
        n, family="random_tight_frame", active=3, seed=seed, sample_seed=sample_seed
    ),
}


def _structure_arrays(ds: Dataset) -> dict:
    return {k: v for k, v in ds.info.items() if isinstance(v, np.ndarray)}


# --------------------------------------------------------------------------- #
# Dataset type
# --------------------------------------------------------------------------- #


def test_dataset_coerces_dtypes_and_layout():
    X = np.asfortranarray(np.arange(12, dtype=np.int32).reshape(4, 3))
    ds = Dataset(X, np.array([0, 1, 1, 3], dtype=np.int32), name="t")
    assert ds.X.dtype == np.float64 and ds.X.flags.c_contiguous
    assert ds.y.dtype == np.int64
    assert (ds.n, ds.d, ds.task, ds.n_classes, ds.n_outputs) == (
        4, 3, "classification", 4, 4)

    reg = Dataset(np.zeros((3, 2)), np.array([0.5, 1.0, 2.0], dtype=np.float32))
    assert reg.y.shape == (3, 1) and reg.y.dtype == np.float64
    assert (reg.task, reg.n_classes, reg.n_outputs) == ("regression", None, 1)

    multi = Dataset(np.zeros((3, 2)), np.zeros((3, 4)))
    assert multi.n_outputs == 4

    unl = Dataset(np.zeros((3, 2)))
    assert (unl.task, unl.n_classes, unl.n_outputs, unl.info) == (
        "unlabelled", None, None, {})
    assert "n=3" in repr(unl) and "unlabelled" in repr(unl)


def test_dataset_is_frozen():
    ds = Dataset(np.zeros((2, 2)))
    with pytest.raises(AttributeError):
        ds.X = np.ones((2, 2))


@pytest.mark.parametrize(
    "index, rows",
    [
        (slice(1, 3), [1, 2]),
        ([3, 0], [3, 0]),
        (np.array([True, False, True, False]), [0, 2]),
        (np.array([], dtype=float), []),
    ],
)
def test_subset(index, rows):
    ds = Dataset(np.arange(8.0).reshape(4, 2), np.array([0, 1, 2, 3]), name="s",
                 info={"k": 1})
    sub = ds.subset(index)
    np.testing.assert_array_equal(sub.X, ds.X[rows])
    np.testing.assert_array_equal(sub.y, ds.y[rows])
    assert sub.name == "s" and sub.info == {"k": 1} and sub.info is not ds.info
    assert sub.X.shape == (len(rows), 2)


@pytest.mark.parametrize(
    "index, fragment",
    [
        (np.zeros((2, 2), dtype=int), "shape (2, 2)"),
        (np.array([True, False]), "length 2; expected n=4"),
        (np.array([0.5, 1.0]), "dtype float64"),
    ],
)
def test_subset_rejects_bad_index(index, fragment):
    ds = Dataset(np.zeros((4, 2)))
    with pytest.raises(InvalidOptionError, match="subset") as info:
        ds.subset(index)
    assert fragment in str(info.value)


# --------------------------------------------------------------------------- #
# Determinism, shapes and dtypes
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_determinism(name):
    make = GENERATORS[name]
    a, b = make(50, seed=4), make(50, seed=4)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    for key, arr in _structure_arrays(a).items():
        np.testing.assert_array_equal(arr, b.info[key])
    c = make(50, seed=5)
    assert not np.array_equal(a.X, c.X)
    # sample_seed defaults to seed
    np.testing.assert_array_equal(make(50, seed=4, sample_seed=4).X, a.X)


def test_generators_do_not_touch_global_state():
    before = np.random.get_state()[1].copy()
    for make in GENERATORS.values():
        make(20, seed=1)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize(
    "name, d, y_shape, y_dtype, task",
    [
        ("subspace", 12, (30,), np.int64, "classification"),
        ("parity-label", 7, (30,), np.int64, "classification"),
        ("parity-value", 7, (30, 1), np.float64, "regression"),
        ("coherence-exact", 20, (30, 1), np.float64, "regression"),
        ("coherence-frame", 20, (30, 1), np.float64, "regression"),
    ],
)
def test_shapes_and_dtypes(name, d, y_shape, y_dtype, task):
    ds = GENERATORS[name](30, seed=0)
    assert ds.X.shape == (30, d) and ds.X.dtype == np.float64
    assert ds.X.flags.c_contiguous and np.isfinite(ds.X).all()
    assert ds.y.shape == y_shape and ds.y.dtype == y_dtype
    assert ds.task == task and ds.name


# --------------------------------------------------------------------------- #
# Subspace generators (E2, parity)
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("k", [1, 2, 8, 32])
def test_mixture_rank_and_basis(k):
    ds = gaussian_mixture_subspace(200, k=k, ambient=48, seed=k)
    B = ds.info["basis"]
    assert B.shape == (48, k)
    np.testing.assert_allclose(B.T @ B, np.eye(k), atol=1e-12)
    Xc = ds.X - ds.X.mean(axis=0)
    assert np.linalg.matrix_rank(Xc) == k
    np.testing.assert_allclose(ds.X @ B @ B.T, ds.X, atol=1e-12)
    assert k / 48 - 1e-12 <= ds.info["coherence"] <= 1.0
    assert ds.info["noise"] == pytest.approx(0.3 * np.sqrt(k) / 4)


def test_mixture_labels_balanced_and_in_range():
    ds = gaussian_mixture_subspace(1003, k=4, ambient=16, n_classes=20, seed=2)
    counts = np.bincount(ds.y, minlength=20)
    assert counts.size == 20 and counts.max() - counts.min() <= 1
    assert ds.n_classes == 20 and ds.n_outputs == 20
    assert not np.array_equal(ds.y[:40], np.arange(40) % 20)  # shuffled


def test_mixture_shared_between_sample_seeds_and_sizes():
    a = gaussian_mixture_subspace(300, k=5, ambient=20, seed=9)
    b = gaussian_mixture_subspace(4000, k=5, ambient=20, seed=9, sample_seed=77)
    for key in ("basis", "means", "rotations", "scales"):
        np.testing.assert_array_equal(a.info[key], b.info[key])
    assert not np.array_equal(a.X[:100], b.X[:100])
    # the test sample really comes from that mixture: class means and covariances
    Z, mu = b.X @ b.info["basis"], b.info["means"]
    for c in range(3):
        zc = Z[b.y == c]
        R, s = b.info["rotations"][c], b.info["scales"][c]
        cov = R @ np.diag(s**2) @ R.T
        np.testing.assert_allclose(zc.mean(0), mu[c], atol=5 * s.max() / np.sqrt(len(zc)))
        np.testing.assert_allclose(np.cov(zc.T), cov, atol=0.5 * s.max() ** 2)
    # another seed gives another mixture
    c = gaussian_mixture_subspace(300, k=5, ambient=20, seed=10)
    assert not np.allclose(a.info["means"], c.info["means"])


def _ls_accuracy(train: Dataset, test: Dataset) -> float:
    B = train.info["basis"]
    Z, Zt = train.X @ B, test.X @ B
    C = train.n_classes
    W = np.linalg.lstsq(np.c_[Z, np.ones(len(Z))], np.eye(C)[train.y], rcond=None)[0]
    return float(np.mean(np.argmax(np.c_[Zt, np.ones(len(Zt))] @ W, 1) == test.y))


@pytest.mark.parametrize("k", [2, 8, 32])
def test_default_noise_is_learnable_but_not_trivial(k):
    train = gaussian_mixture_subspace(6000, k=k, ambient=64, seed=0)
    test = gaussian_mixture_subspace(3000, k=k, ambient=64, seed=0, sample_seed=1)
    acc = _ls_accuracy(train, test)
    assert 3 * (1 / 20) < acc < 0.97, acc


def test_same_basis_across_subspace_generators():
    a = gaussian_mixture_subspace(20, k=3, ambient=9, seed=6)
    b = parity_subspace(20, k=3, ambient=9, seed=6)
    np.testing.assert_array_equal(a.info["basis"], b.info["basis"])


def test_parity_targets_follow_the_latent():
    lab = parity_subspace(400, k=4, ambient=10, seed=3)
    val = parity_subspace(400, k=4, ambient=10, seed=3, target="value")
    np.testing.assert_array_equal(lab.X, val.X)
    z = lab.X @ lab.info["basis"]
    assert np.abs(z).max() <= 1 + 1e-12
    np.testing.assert_allclose(val.y[:, 0], np.prod(z, axis=1), atol=1e-12)
    np.testing.assert_array_equal(lab.y, (val.y[:, 0] > 0).astype(np.int64))
    assert set(np.unique(lab.y)) == {0, 1} and lab.n_classes == 2
    assert 0.35 < lab.y.mean() < 0.65
    assert val.n_outputs == 1 and val.task == "regression"
    assert np.linalg.matrix_rank(lab.X - lab.X.mean(0)) == 4


# --------------------------------------------------------------------------- #
# Coherence embedding (E1)
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("active", range(1, 11))
def test_coherence_is_one_over_active(family, active):
    ds = coherence_embedding(64, family=family, active=active, seed=active)
    A = ds.info["embedding"]
    assert A.shape == (20, 2)
    np.testing.assert_allclose(A.T @ A, np.eye(2), atol=1e-14)
    assert ds.info["coherence"] == pytest.approx(1 / active, rel=1e-12)
    # coherence belongs to the span: recompute from a non-orthonormal spanning set
    G = np.array([[2.0, 1.0], [-0.5, 3.0]])
    assert subspace_coherence(A @ G) == pytest.approx(1 / active, rel=1e-10)
    # exactly `active` coordinate pairs are used, each with row norms^2 = 1/active
    used = np.flatnonzero(np.abs(A).sum(1) > 0)
    assert used.size == 2 * active
    np.testing.assert_allclose((A[used] ** 2).sum(1), 1 / active, rtol=1e-12)
    # the teacher is exactly relu(z1 + z2), with z recovered from X
    z = ds.X @ A
    np.testing.assert_allclose(ds.y[:, 0], np.maximum(z[:, 0] + z[:, 1], 0), atol=1e-12)
    assert np.linalg.matrix_rank(ds.X - ds.X.mean(0)) == 2


def test_exact_copy_uses_first_pairs_and_frame_random_pairs():
    ex = coherence_embedding(10, family="exact_copy", active=3)
    np.testing.assert_array_equal(ex.info["pairs"], [0, 1, 2])
    np.testing.assert_allclose(ex.X[:, 0], ex.X[:, 2])
    np.testing.assert_allclose(ex.X[:, 1], ex.X[:, 5])
    np.testing.assert_array_equal(ex.X[:, 6:], 0)
    pairs = {tuple(coherence_embedding(4, family="random_tight_frame", active=3,
                                       seed=s).info["pairs"]) for s in range(6)}
    assert len(pairs) > 1 and all(len(set(p)) == 3 for p in pairs)
    fr = coherence_embedding(10, family="random_tight_frame", active=3, seed=1)
    for R in fr.info["rotations"]:
        np.testing.assert_allclose(R @ R.T, np.eye(2), atol=1e-14)
        assert np.linalg.det(R) == pytest.approx(1.0)


def test_coherence_teacher_shared_across_families():
    a = coherence_embedding(30, family="exact_copy", active=2, seed=3)
    b = coherence_embedding(30, family="random_tight_frame", active=5, seed=3)
    np.testing.assert_array_equal(a.y, b.y)  # same latent draw, same teacher


# --------------------------------------------------------------------------- #
# digits
# --------------------------------------------------------------------------- #


def test_digits():
    pytest.importorskip("sklearn")
    ds = datasets.digits(seed=0)
    assert ds.X.shape == (1797, 64) and ds.y.dtype == np.int64
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0 and ds.n_classes == 10
    np.testing.assert_array_equal(ds.X, datasets.digits(seed=0).X)
    other = datasets.digits(seed=1)
    assert not np.array_equal(ds.y, other.y)
    assert np.array_equal(np.sort(ds.y), np.sort(other.y))
    assert make_dataset("digits", None).n == 1797
    sub = make_dataset("digits", 100, seed=0)
    np.testing.assert_array_equal(sub.X, ds.X[:100])


def test_digits_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(InvalidOptionError, match=r"pip install 'neuronid\[data\]'"):
        datasets.digits()


# --------------------------------------------------------------------------- #
# train_test_split and the registry
# --------------------------------------------------------------------------- #


def test_train_test_split():
    ds = gaussian_mixture_subspace(100, k=2, ambient=4, n_classes=4, seed=0)
    ds = Dataset(ds.X, np.arange(100), name=ds.name, info=ds.info)  # y = row id
    train, test = train_test_split(ds, n_test=30, seed=1)
    assert (train.n, test.n) == (70, 30)
    assert sorted(np.r_[train.y, test.y].tolist()) == list(range(100))
    np.testing.assert_array_equal(train.X, ds.X[train.y])
    assert train.info["split"] == "train" and test.info["split"] == "test"
    again, _ = train_test_split(ds, n_test=30, seed=1)
    np.testing.assert_array_equal(again.y, train.y)
    other, _ = train_test_split(ds, n_test=30, seed=2)
    assert not np.array_equal(other.y, train.y)
    tr, te = train_test_split(ds, test_fraction=0.25)
    assert (tr.n, te.n) == (75, 25)


@pytest.mark.parametrize("name", ["subspace", "parity", "coherence-exact",
                                  "coherence-frame"])
def test_make_dataset(name):
    opts = {"subspace": {"k": 3}, "parity": {"k": 2, "ambient": 5},
            "coherence-exact": {"active": 2}, "coherence-frame": {"active": 2}}[name]
    ds = make_dataset(name, 40, seed=1, **opts)
    assert isinstance(ds, Dataset) and ds.n == 40
    np.testing.assert_array_equal(ds.X, DATASETS[name](40, seed=1, **opts).X)


# --------------------------------------------------------------------------- #
# Bad options: one table
# --------------------------------------------------------------------------- #

_DS = Dataset(np.zeros((10, 2)), np.zeros(10, dtype=int))

BAD_CALLS = [
    # (id, call, fragments the message must contain)
    ("mix-k-zero", lambda: gaussian_mixture_subspace(50, k=0), ["k=0", "[1, 512]"]),
    ("mix-k-big", lambda: gaussian_mixture_subspace(50, k=9, ambient=8), ["k=9", "[1, 8]"]),
    ("mix-k-float", lambda: gaussian_mixture_subspace(50, k=2.0), ["k=2.0", "integer"]),
    ("mix-k-bool", lambda: gaussian_mixture_subspace(50, k=True), ["k=True", "integer"]),
    ("mix-n-small", lambda: gaussian_mixture_subspace(10, k=2), ["n=10", ">= 20"]),
    ("mix-classes", lambda: gaussian_mixture_subspace(50, k=2, n_classes=1),
     ["n_classes=1", ">= 2"]),
    ("mix-ambient", lambda: gaussian_mixture_subspace(50, k=1, ambient=0), ["ambient=0", ">= 1"]),
    ("mix-sep", lambda: gaussian_mixture_subspace(50, k=2, sep=-1.0), ["sep=-1.0", "> 0"]),
    ("mix-noise-nan", lambda: gaussian_mixture_subspace(50, k=2, noise=float("nan")),
     ["noise=nan", "finite"]),
    ("mix-noise-str", lambda: gaussian_mixture_subspace(50, k=2, noise="big"),
     ["noise='big'", "real"]),
    ("mix-seed", lambda: gaussian_mixture_subspace(50, k=2, seed=-1), ["seed=-1", ">= 0"]),
    ("mix-sample-seed", lambda: gaussian_mixture_subspace(50, k=2, sample_seed=1.5),
     ["sample_seed=1.5", "integer"]),
    ("parity-target", lambda: parity_subspace(5, k=2, ambient=3, target="sign"),
     ["target='sign'", "'label', 'value'"]),
    ("parity-n", lambda: parity_subspace(0, k=2, ambient=3), ["n=0", ">= 1"]),
    ("parity-k", lambda: parity_subspace(5, k=4, ambient=3), ["k=4", "[1, 3]"]),
    ("coh-family", lambda: coherence_embedding(5, family="copy", active=1),
     ["family='copy'", "'exact_copy', 'random_tight_frame'"]),
    ("coh-active-0", lambda: coherence_embedding(5, family="exact_copy", active=0),
     ["active=0", "[1, 10]"]),
    ("coh-active-big", lambda: coherence_embedding(5, family="exact_copy", active=4, copies=3),
     ["active=4", "[1, 3]"]),
    ("coh-copies", lambda: coherence_embedding(5, family="exact_copy", active=1, copies=0),
     ["copies=0", ">= 1"]),
    ("coh-nested", lambda: coherence_embedding(5, family="random_tight_frame", active=1, nested="yes"),
     ["nested must be True or False", "'yes'"]),
    ("digits-seed", lambda: datasets.digits(seed="a"), ["seed='a'", "integer"]),
    ("split-both", lambda: train_test_split(_DS, n_test=2, test_fraction=0.2),
     ["exactly one", "n_test=2", "test_fraction=0.2"]),
    ("split-none", lambda: train_test_split(_DS), ["exactly one", "n_test=None"]),
    ("split-n-test", lambda: train_test_split(_DS, n_test=10), ["n_test=10", "[1, 9]"]),
    ("split-frac", lambda: train_test_split(_DS, test_fraction=1.0),
     ["test_fraction=1.0", "(0, 1)"]),
    ("split-frac-tiny", lambda: train_test_split(_DS, test_fraction=0.01),
     ["test_fraction=0.01", "n_test=0"]),
    ("split-one-point", lambda: train_test_split(_DS.subset([0]), n_test=1),
     ["n >= 2", "n=1"]),
    ("make-unknown", lambda: make_dataset("mnist", 10),
     ["'mnist'", "subspace", "parity", "coherence-exact", "coherence-frame", "digits"]),
    ("make-missing", lambda: make_dataset("subspace", 10), ["'subspace'", "requires k"]),
    ("make-extra", lambda: make_dataset("parity", 10, k=1, ambient=2, colour=3),
     ["'parity'", "colour", "accepts"]),
    ("make-n-none", lambda: make_dataset("parity", None, k=1, ambient=2), ["n=None"]),
    ("make-digits-big", lambda: make_dataset("digits", 1798), ["n=1798", "[1, 1797]"]),
]


@pytest.mark.parametrize("call, fragments", [c[1:] for c in BAD_CALLS],
                         ids=[c[0] for c in BAD_CALLS])
def test_bad_options(call, fragments):
    with pytest.raises(InvalidOptionError) as info:
        call()
    assert isinstance(info.value, (InvalidInputError, ValueError))
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


# --------------------------------------------------------------------------- #
# Properties
# --------------------------------------------------------------------------- #


@settings(deadline=None)
@given(ambient=st.integers(1, 24), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_property_subspace_rank_and_coherence(ambient, data, seed):
    k = data.draw(st.integers(1, ambient), label="k")
    ds = gaussian_mixture_subspace(2 * k + 20, k=k, ambient=ambient, n_classes=2,
                                   seed=seed)
    assert np.linalg.matrix_rank(ds.X - ds.X.mean(0)) == k
    nu = ds.info["coherence"]
    assert k / ambient - 1e-12 <= nu <= 1 + 1e-12
    par = parity_subspace(k + 5, k=k, ambient=ambient, seed=seed)
    np.testing.assert_array_equal(par.info["basis"], ds.info["basis"])


@settings(deadline=None)
@given(copies=st.integers(1, 12), data=st.data(), seed=st.integers(0, 2**32 - 1),
       family=st.sampled_from(FAMILIES))
def test_property_coherence_embedding(copies, data, seed, family):
    active = data.draw(st.integers(1, copies), label="active")
    ds = coherence_embedding(8, family=family, active=active, copies=copies, seed=seed)
    nu = ds.info["coherence"]
    assert 2 / (2 * copies) - 1e-12 <= nu <= 1 + 1e-12
    assert nu == pytest.approx(1 / active, rel=1e-12)


@settings(deadline=None)
@given(d=st.integers(1, 10), data=st.data(), seed=st.integers(0, 1000))
def test_property_subspace_coherence_bounds_and_invariance(d, data, seed):
    r = data.draw(st.integers(1, d), label="r")
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((d, r))
    nu = subspace_coherence(M)
    assert r / d - 1e-9 <= nu <= 1 + 1e-9
    G = rng.standard_normal((r, r)) + 3 * np.eye(r)  # generic invertible change of basis
    assert subspace_coherence(M @ G) == pytest.approx(nu, rel=1e-7, abs=1e-9)


# --------------------------------------------------------------------------- #
# Docstring examples run
# --------------------------------------------------------------------------- #


def test_docstring_examples():
    result = doctest.testmod(datasets, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10 and result.failed == 0


@given(copies=st.integers(1, 12), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_nested_tight_frames_are_nested_across_active(copies, data, seed):
    """``nested=True`` (E1's common random numbers): the frame at ``a`` uses a subset
    of the pairs at ``b >= a`` with the same rotations; still a tight frame of
    coherence ``1/a`` on the same latent samples."""
    a = data.draw(st.integers(1, copies))
    b = data.draw(st.integers(a, copies))
    fa = coherence_embedding(8, family="random_tight_frame", active=a, copies=copies, seed=seed, nested=True)
    fb = coherence_embedding(8, family="random_tight_frame", active=b, copies=copies, seed=seed, nested=True)
    rot_a = dict(zip(fa.info["pairs"].tolist(), fa.info["rotations"]))
    rot_b = dict(zip(fb.info["pairs"].tolist(), fb.info["rotations"]))
    assert set(rot_a) <= set(rot_b) and len(rot_a) == a
    assert all(np.array_equal(rot_a[p], rot_b[p]) for p in rot_a)
    A = fa.info["embedding"]
    assert np.allclose(A.T @ A, np.eye(2), rtol=0, atol=1e-12)
    assert abs(fa.info["coherence"] - 1.0 / a) < 1e-12 and fa.info["nested"] is True
    assert np.allclose(fa.X @ A, fb.X @ fb.info["embedding"], rtol=0, atol=1e-12)


def test_nested_exact_copy_is_unchanged_and_default_draws_are_kept():
    plain = coherence_embedding(16, family="exact_copy", active=3, seed=5)
    nested = coherence_embedding(16, family="exact_copy", active=3, seed=5, nested=True)
    assert np.array_equal(plain.X, nested.X)
    # the default is nested=False (the draws made before the option existed)
    old = coherence_embedding(16, family="random_tight_frame", active=3, seed=5)
    again = coherence_embedding(16, family="random_tight_frame", active=3, seed=5, nested=False)
    assert np.array_equal(old.X, again.X) and old.info["nested"] is False
