"""The built-in default of ``neuronid check``: the paper's contrast in one command.

Generates Gaussian-mixture data in a random low-dimensional subspace (THEORY.md E2's
generator), trains two standard MLPs and two W-MLPs (``sigma_F = 1``, one shared
structure) from independent seeds, and compares each pair along linear paths,
unaligned and aligned (D5, D6). Later checks (supports, costs, certificates,
verdicts) hook into :func:`run_default_check` through the returned
:class:`DefaultCheck`, which keeps the networks and data.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from neuronid.numerics.datasets import gaussian_mixture_subspace
from neuronid.numerics.io import save_data, save_network
from neuronid.numerics.structures import standard_mlp, w_mlp
from neuronid.numerics.training import TrainConfig, train

from .report import full_check


@dataclass(frozen=True)
class DefaultCheckConfig:
    """Sizes chosen so the whole check runs in about a minute on 2 cores while the
    networks still fit the data well (see README for the measured time)."""

    ambient: int = 64
    k: int = 8
    n_classes: int = 10
    n_train: int = 4096
    n_test: int = 2048
    hidden: tuple = (128, 128)
    activation: str = "relu"
    n_fixed_fraction: float = 0.25  # W-MLP: fixed entries per row, as a fraction of the row
    sigma_F: float = 1.0
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-2
    steps: int = 21
    data_seed: int = 0
    structure_seed: int = 0
    seeds: tuple = (1, 2)


@dataclass
class DefaultCheck:
    config: DefaultCheckConfig
    train_data: object
    test_data: object
    networks: dict = field(default_factory=dict)  # name -> Network
    reports: list = field(default_factory=list)  # proofs_checks.report.Report, one per pair
    seconds: dict = field(default_factory=dict)

    def contrast(self) -> dict:
        """Per result ID: the verdicts of each pair side by side."""
        return {rid: {r.label: r.verdict_summary()[rid] for r in self.reports}
                for rid in self.reports[0].verdict_summary()} if self.reports else {}

    def to_json(self) -> dict:
        return {
            "config": asdict(self.config),
            "pairs": {r.label: r.to_json() for r in self.reports},
            "contrast": self.contrast(),
            "violations": [c.to_json() for r in self.reports for c in r.violations],
            "seconds": self.seconds,
        }


def run_default_check(config: DefaultCheckConfig | None = None, *, progress: bool = True, out_dir=None) -> DefaultCheck:
    """Run the default check; with ``out_dir`` also save the four networks and the data."""
    config = config or DefaultCheckConfig()
    t0 = time.perf_counter()
    train_data = gaussian_mixture_subspace(
        config.n_train, k=config.k, ambient=config.ambient, n_classes=config.n_classes, seed=config.data_seed
    )
    test_data = gaussian_mixture_subspace(
        config.n_test, k=config.k, ambient=config.ambient, n_classes=config.n_classes,
        seed=config.data_seed, sample_seed=config.data_seed + 10_000,
    )
    check = DefaultCheck(config=config, train_data=train_data, test_data=test_data)
    sizes = [config.ambient, *config.hidden, config.n_classes]
    n_fixed = [max(1, int(round(config.n_fixed_fraction * d))) for d in sizes[:-1]]
    builders = {
        "standard": lambda seed: standard_mlp(sizes, activation=config.activation, seed=seed),
        "w-mlp": lambda seed: w_mlp(
            sizes, activation=config.activation, n_fixed=n_fixed, sigma_F=config.sigma_F,
            seed=seed, structure_seed=config.structure_seed,
        ),
    }
    for kind, build in builders.items():
        for run, seed in zip("AB", config.seeds):
            tc = TrainConfig(
                loss="ce", optimizer="adamw", lr=config.lr, epochs=config.epochs,
                batch_size=config.batch_size, weight_decay=config.weight_decay, seed=seed,
            )
            result = train(build(seed), train_data.X, train_data.y, tc, progress=f"{kind} {run}" if progress else False)
            check.networks[f"{kind} {run}"] = result.network
    check.seconds["train"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    for kind in builders:
        label = f"{kind} A vs {kind} B" + (f" (sigma_F = {config.sigma_F:g})" if kind == "w-mlp" else "")
        check.reports.append(
            full_check(
                check.networks[f"{kind} A"], check.networks[f"{kind} B"], test_data.X, test_data.y,
                loss="ce", label=label, steps=config.steps, X_support=train_data.X, seed=config.data_seed,
            )
        )
    check.seconds["checks"] = time.perf_counter() - t1
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name, net in check.networks.items():
            save_network(net, out / f"{name.replace(' ', '_')}.safetensors")
        save_data(out / "train.npz", train_data.X, train_data.y)
        save_data(out / "test.npz", test_data.X, test_data.y)
        for kind, report in zip(builders, check.reports):
            report.write(out / kind)
    check.seconds["total"] = time.perf_counter() - t0
    return check


def format_default_check(check: DefaultCheck) -> str:
    c = check.config
    head = (
        f"neuronid check (built-in default): Gaussian mixture, {c.n_classes} classes, intrinsic dimension "
        f"{c.k} in {c.ambient} dimensions; MLP {[c.ambient, *c.hidden, c.n_classes]} {c.activation}; "
        f"{c.n_train} train / {c.n_test} test points; barriers on test cross-entropy (D5), supports, "
        f"costs and activation matching (D1-D4, D6) on train data.\n"
    )
    body = "\n".join(report.terminal() for report in check.reports)
    labels = [r.label.split(" A vs")[0] for r in check.reports]
    width = max(len(v) for row in check.contrast().values() for v in row.values()) + 2
    rows = [f"{'result':<8}" + "".join(f"{lab:<{width}}" for lab in labels)]
    for rid, verdicts in check.contrast().items():
        rows.append(f"{rid:<8}" + "".join(f"{v:<{width}}" for v in verdicts.values()))
    contrast = "verdicts side by side (per result, over layers and paths):\n  " + "\n  ".join(rows) + "\n"
    return head + "\n" + body + "\n" + contrast + f"time: {check.seconds['total']:.1f} s\n"
