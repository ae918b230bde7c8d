"""E3 with the paper's model (THEORY E3, N1-N3): Linear -> LayerNorm -> GELU networks,
the paper's mask constants, six paths per pair (unaligned / activation / weight
matched, each REPAIRed), the honest T4 column, MNIST from IDX files, and identical
results for 1 worker, 2 workers, Dask and a resumed run."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from neuronid.cli import main
from neuronid.errors import FileFormatError, InvalidOptionError
from neuronid.numerics.idx import write_idx
from neuronid.proofs_checks.experiments import e3, experiment_config, run_experiment

#: two units of a 16-16-4 LayerNorm network: seconds, not minutes
TINY = {"datasets": ["subspace"], "structures": ["standard", "w-mlp-1"], "pairs": 1, "hidden": [8],
        "mask_constants": [1.0, 0.25], "epochs": 2, "ambient": 16, "k": 4, "n_classes": 4, "n_train": 200,
        "n_test": 100, "n_align": 150, "restarts": 1, "batch_size": 50, "steps": 5}


def rows(results):
    return [json.dumps(r, sort_keys=True) for r in results["rows"]]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("e3") / "run"
    return out, run_experiment("E3", out=out, overrides=TINY)


# ----------------------------------------------------------------------------- the paper's model
def test_paper_config_is_the_authors_mlp_mnist_model():
    cfg = experiment_config("E3", "paper")
    assert cfg["hidden"] == [512, 512, 512] and cfg["norm"] == "layer" and cfg["activation"] == "gelu"
    assert cfg["mask_constants"] == [1.0, 1.0, 0.5, 0.25]
    assert (cfg["lr"], cfg["weight_decay"], cfg["epochs"], cfg["batch_size"], cfg["dtype"]) == (
        1e-3, 1e-2, 100, 128, "float32")
    sizes = [784, 512, 512, 512, 10]
    assert e3.n_fixed(cfg, sizes) == [64, 64, 64, 256]  # mlp_mnist.yaml num_fixed per layer
    net = e3.e3_network(cfg, "w-mlp-1", sizes, "subspace", seed=3)
    zero = e3.e3_network(cfg, "w-mlp-0", sizes, "subspace", seed=4)
    for l, (layer, c, k) in enumerate(zip(net.layers, cfg["mask_constants"], [64, 64, 64, 256])):
        fixed = layer.mask == 0
        assert np.all(fixed.sum(axis=1) == k)
        assert np.all(layer.fixed[~fixed] == 0.0)
        # fixed part c_l * N(0, 1): sample sd within 5 % of c_l (>= 2,560 draws per layer)
        assert abs(layer.fixed[fixed].std() / c - 1.0) < 0.05
        # trainable entries start as the authors' SparseLinear: N(0, 1/fan_in)
        assert abs(layer.weight[~fixed].std() * np.sqrt(layer.shape[1]) - 1.0) < 0.05
        assert np.array_equal(zero.layers[l].mask, layer.mask) and not zero.layers[l].fixed.any()
        if l < 3:
            assert layer.norm is not None and layer.norm.kind == "layer" and layer.activation == "gelu"
    std = e3.e3_network(cfg, "standard", sizes, "digits", seed=3)
    assert all(np.all(layer.mask == 1) and not layer.fixed.any() for layer in std.layers)


def test_small_scale_uses_the_same_model_family():
    cfg = experiment_config("E3", "small")
    assert cfg["norm"] == "layer" and cfg["activation"] == "gelu"
    assert len(cfg["mask_constants"]) == len(cfg["hidden"]) + 1


# ----------------------------------------------------------------------------- six paths, T4 column
def test_six_paths_per_pair_with_an_honest_certificate_column(tiny_run):
    out, rep = tiny_run
    res = rep.results
    row = res["rows"][0]
    assert set(row["paths"]) == set(e3.PATHS) and len(e3.PATHS) == 6
    assert row["n_align"] == 150 and row["n_train"] == 200 and row["n_test"] == 100
    for name in e3.ALIGNMENTS:
        cert = row["paths"][name]["certificate"]
        assert cert["status"] == "unsupported: normalization layer" and "normalization" in cert["reason"]
        rep_cert = row["paths"][name + "+repair"]["certificate"]
        assert rep_cert["status"] == "not applicable" and "straight line" in rep_cert["reason"]
        for block in (row["paths"][name], row["paths"][name + "+repair"]):
            assert len(block["loss_curve"]) == TINY["steps"]
            # REPAIR leaves the endpoints alone: both curves start and end at the same losses
            assert block["loss_curve"][0] == pytest.approx(row["L_A"], rel=1e-9)
    assert row["paths"]["weight"]["max_output_difference"] <= 1e-6
    groups = {(g["structure"], g["alignment"]) for g in res["groups"]}
    assert groups == {(s, a) for s in TINY["structures"] for a in e3.PATHS}
    summary = (out / "summary.md").read_text()
    assert "unsupported: normalization layer" in summary and "does not cover normalization layers" in summary
    assert summary.count("+repair |") == 6
    cert_claim = [c for c in res["claims"] if c["claim"].startswith("T4")]
    assert cert_claim and cert_claim[0]["verdict"] == "not available"
    assert any("REPAIR" in c["claim"] for c in res["claims"])
    png = out / "e3_barriers_subspace.png"
    assert 10_000 < png.stat().st_size < 400_000


def test_without_layernorm_the_certificate_is_computed_and_holds(tmp_path):
    rep = run_experiment("E3", out=tmp_path / "nonorm", overrides={**TINY, "norm": "none", "structures": ["syre"]},
                         plots=False)
    row = rep.results["rows"][0]
    for name in e3.ALIGNMENTS:
        cert = row["paths"][name]["certificate"]
        assert cert["status"] == "ok" and all(cert["holds"].values())
    assert "every plain path" in e3.certificate_sentence(rep.results)


# ----------------------------------------------------------------------------- workers, Dask, resume
def test_two_workers_give_the_serial_results(tiny_run, tmp_path):
    _, rep = tiny_run
    par = run_experiment("E3", out=tmp_path / "par", overrides=TINY, workers=2, plots=False)
    assert rows(par.results) == rows(rep.results)


def test_dask_gives_the_serial_results(tiny_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    _, rep = tiny_run
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None) as cluster:
        got = run_experiment("E3", out=tmp_path / "dask", overrides=TINY, dask=cluster.scheduler_address, plots=False)
    assert rows(got.results) == rows(rep.results)


def test_resume_reruns_only_the_missing_unit(tiny_run, tmp_path):
    out, rep = tiny_run
    copy = tmp_path / "copy"
    (copy / "units").mkdir(parents=True)
    (copy / "config.json").write_text((out / "config.json").read_text())
    names = sorted(p.name for p in (out / "units").iterdir())
    (copy / "units" / names[0]).write_text((out / "units" / names[0]).read_text())
    got = run_experiment("E3", out=copy, overrides=TINY, resume=True, plots=False)
    assert (got.ran, got.skipped) == (1, 1)
    assert rows(got.results) == rows(rep.results)


# ----------------------------------------------------------------------------- MNIST from IDX files
def write_mnist(folder, n_train=40, n_test=16, seed=0):
    """A tiny synthetic MNIST folder (random 28x28 images, labels 0..2), gzipped like the originals."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, size=(n, 28, 28)))
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", np.arange(n) % 3)
    return folder


def test_mnist_from_idx_files(tmp_path):
    folder = write_mnist(tmp_path / "mnist")
    over = {**TINY, "datasets": ["digits"], "structures": ["w-mlp-1"], "mnist_dir": str(folder), "mnist_n_train": 30}
    cfg = experiment_config("E3", "small", over)
    assert cfg["datasets"] == ["digits", "mnist"]  # mnist_dir adds MNIST to the data sets
    tr, te = e3.e3_data(cfg, "mnist")
    assert (tr.n, tr.d, te.n) == (30, 784, 16) and 0.0 <= tr.X.min() and tr.X.max() <= 1.0
    rep = run_experiment("E3", out=tmp_path / "run", overrides={**over, "datasets": ["mnist"]}, plots=False)
    row = rep.results["rows"][0]
    assert row["dataset"] == "mnist" and row["sizes"] == [784, 8, 10] and row["n_train"] == 30  # ten classes, whichever labels occur
    assert rep.results["datasets_run"] == ["mnist"]


def test_mnist_dir_without_the_files_is_a_clear_error(tmp_path):
    folder = write_mnist(tmp_path / "partial")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileFormatError, match="t10k-labels-idx1-ubyte"):
        experiment_config("E3", "small", {"mnist_dir": str(folder)})
    with pytest.raises(FileFormatError, match="no such folder"):
        experiment_config("E3", "small", {"mnist_dir": str(tmp_path / "absent")})


def _truncate(path, n=7):
    import gzip

    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-n]))


def _wrong_size_images(path):
    write_idx(path, np.zeros((40, 27, 27), dtype=np.uint8))


def _swap_labels(path):
    write_idx(path, np.zeros(15, dtype=np.uint8))


def _corrupt_gzip(path):
    path.write_bytes(path.read_bytes()[:40])


def _label_out_of_range(path):
    write_idx(path, np.full(40, 200, dtype=np.uint8))


def _no_test_images(folder):
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((0, 28, 28), dtype=np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(0, dtype=np.uint8))


@pytest.mark.parametrize("name, damage, fragment", [
    ("train-labels-idx1-ubyte.gz", _label_out_of_range, "MNIST labels must lie in 0..9, found 200"),
    ("t10k-images-idx3-ubyte.gz", _truncate, "truncated IDX file: the header (16, 28, 28) needs 12544 data bytes"),
    ("train-labels-idx1-ubyte.gz", _truncate, "truncated IDX file"),
    ("train-images-idx3-ubyte.gz", _wrong_size_images, "MNIST images are 28x28, found 27x27"),
    ("t10k-labels-idx1-ubyte.gz", _swap_labels, "has 16 images but"),
    ("train-images-idx3-ubyte.gz", _corrupt_gzip, "gzip"),
])
def test_bad_mnist_files_are_refused_before_any_unit(tmp_path, capsys, name, damage, fragment):
    folder = write_mnist(tmp_path / "mnist")
    damage(folder / name)
    with pytest.raises(FileFormatError, match=name.split(".")[0]) as info:
        experiment_config("E3", "small", {"mnist_dir": str(folder)})
    assert fragment in str(info.value)
    out = tmp_path / "o"
    code = main(["reproduce", "E3", "--scale", "small", "--out", str(out), "--quiet", "--set", f"mnist_dir={folder}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and fragment in err and "--resume" not in err
    assert not out.exists()  # refused before the folder (and any unit) was made


def test_mnist_dir_naming_a_file_says_not_a_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(FileFormatError, match="not a folder"):
        experiment_config("E3", "small", {"mnist_dir": str(f)})


def test_mnist_dir_error_through_the_cli_is_one_line(tmp_path, capsys):
    code = main(["reproduce", "E3", "--scale", "small", "--out", str(tmp_path / "o"), "--quiet",
                 "--set", f"mnist_dir={tmp_path / 'absent'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "MNIST" in err and "Traceback" not in err


BAD = [
    ({"mask_constants": [1.0, 1.0]}, "mask_constants"),
    ({"mask_constants": [1.0, -1.0, 0.5]}, "mask_constants"),
    ({"mask_constants": "paper"}, "mask_constants"),
    ({"mask_constants": [1.0, True, 0.5]}, "mask_constants"),
    ({"norm": "batch"}, "norm"),
    ({"n_align": 1}, "n_align"),
    ({"bias_decay": -0.1}, "bias_decay"),
    ({"mnist_n_train": 1}, "mnist_n_train"),
    ({"mnist_n_test": "all"}, "mnist_n_test"),
    ({"mnist_dir": ""}, "mnist_dir"),
    ({"mnist_dir": 3}, "mnist_dir"),
    ({"datasets": ["mnist"]}, "mnist_dir"),
    ({"datasets": ["cifar"]}, "datasets"),
]


@pytest.mark.parametrize("override,needle", BAD, ids=[f"{next(iter(o))}-{i}" for i, (o, _) in enumerate(BAD)])
def test_bad_configuration(override, needle):
    with pytest.raises(InvalidOptionError, match=needle):
        experiment_config("E3", "small", override)


@pytest.mark.parametrize("setup, over, fragment", [
    (_no_test_images, {}, "0 test images; E3 needs at least 2"),
    (None, {"mnist_n_train": 1000}, "mnist_n_train=1000: more than the 40 train images"),
    (None, {"mnist_n_test": 17}, "mnist_n_test=17: more than the 16 test images"),
])
def test_mnist_sizes_are_checked_before_any_unit(tmp_path, capsys, setup, over, fragment):
    folder = write_mnist(tmp_path / "mnist")
    if setup is not None:
        setup(folder)
    with pytest.raises(InvalidOptionError, match=re.escape(fragment)):
        experiment_config("E3", "small", {"mnist_dir": str(folder), **over})
    out = tmp_path / "o"
    sets = [a for k, v in over.items() for a in ("--set", f"{k}={v}")]
    code = main(["reproduce", "E3", "--scale", "small", "--out", str(out), "--quiet",
                 "--set", f"mnist_dir={folder}", *sets])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and fragment in err and not out.exists()
