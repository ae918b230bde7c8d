"""THEORY.md E1-E3 as resumable sweeps (``neuronid reproduce E1|E2|E3``).

>>> from neuronid.proofs_checks.experiments import EXPERIMENT_NAMES, get_experiment
>>> EXPERIMENT_NAMES
('E1', 'E2', 'E3', 'E4')
>>> sorted(get_experiment("e1").scales)
['paper', 'small']

Run one from Python::

    from neuronid.proofs_checks.experiments import run_experiment
    report = run_experiment("E1", scale="small", out="out/E1-small", workers=2)
    report.results["families"]["exact_copy"][0]["B_mid"]

Modules: :mod:`.sweep` (units, atomic writes, resume, workers, Dask), :mod:`.e1`,
:mod:`.e2`, :mod:`.e3` (the protocols), :mod:`.plots`, :mod:`.common` (the plug
points for the T4 certificate and the swap costs, config checks, verdicts).
"""

from __future__ import annotations

import importlib
import json

from .sweep import (
    Experiment,
    IncompatibleResultsError,
    OutputFolderError,
    SchedulerUnreachableError,
    SweepReport,
    UnitFailedError,
    UnknownExperimentError,
    run_sweep,
)

__all__ = [
    "EXPERIMENT_NAMES",
    "SCALES",
    "Experiment",
    "IncompatibleResultsError",
    "OutputFolderError",
    "SchedulerUnreachableError",
    "SweepReport",
    "UnitFailedError",
    "UnknownExperimentError",
    "get_experiment",
    "experiment_config",
    "parse_overrides",
    "run_experiment",
]

EXPERIMENT_NAMES = ("E1", "E2", "E3", "E4")
SCALES = ("small", "paper")
_MODULES = {"E1": "e1", "E2": "e2", "E3": "e3", "E4": "e4"}


def get_experiment(name: str) -> Experiment:
    """The :class:`~.sweep.Experiment` called ``name`` (case-insensitive)."""
    key = name.upper() if isinstance(name, str) else name
    if key not in _MODULES:
        raise UnknownExperimentError(
            f"unknown experiment {name!r}: expected one of {', '.join(EXPERIMENT_NAMES)} (THEORY.md section 3)"
        )
    return importlib.import_module(f"{__name__}.{_MODULES[key]}").EXPERIMENT


def experiment_config(name: str, scale: str = "small", overrides: dict | None = None) -> dict:
    """The configuration of ``name`` at ``scale`` with ``overrides`` applied and checked."""
    exp = get_experiment(name)
    if scale not in exp.scales:
        raise UnknownExperimentError(f"unknown scale {scale!r} for {exp.name}: expected one of {', '.join(exp.scales)}")
    cfg = json.loads(json.dumps(exp.scales[scale]))
    for key, value in (overrides or {}).items():
        if key not in cfg:
            raise UnknownExperimentError(
                f"{exp.name}: unknown configuration key {key!r}; valid keys: {', '.join(sorted(cfg))}"
            )
        cfg[key] = value
    return exp.check_config(cfg)


def parse_overrides(items) -> dict:
    """``["epochs=10", "actives=[1,2]", "mask_reading=masked"]`` -> a dict (values are
    JSON when they parse as JSON, strings otherwise; a value that starts like a JSON list,
    object or string (``[``, ``{``, ``"``) but does not parse is refused, not taken as a
    string).

    >>> parse_overrides(["epochs=10", "hidden=[32, 32]", "mask_reading=masked"])
    {'epochs': 10, 'hidden': [32, 32], 'mask_reading': 'masked'}
    >>> try:
    ...     parse_overrides(["hidden=[32,"])
    ... except UnknownExperimentError as exc:
    ...     print(exc)
    --set hidden=[32,: the value did not parse as JSON (Expecting value at character 4; found '[32,')
    """
    out = {}
    for item in items or []:
        if "=" not in item:
            raise UnknownExperimentError(f"--set {item!r}: expected KEY=VALUE, e.g. --set epochs=20")
        key, text = item.split("=", 1)
        key = key.strip()
        try:
            value = json.loads(text)
        except ValueError as exc:
            if text.lstrip()[:1] in ("[", "{", '"'):  # meant as JSON: a string would hide the typo
                why = f"{exc.msg} at character {exc.pos}" if isinstance(exc, json.JSONDecodeError) else str(exc)
                raise UnknownExperimentError(
                    f"--set {item}: the value did not parse as JSON ({why}; found {text!r})") from None
            value = text
        out[key] = value
    return out


def run_experiment(
    name: str,
    *,
    scale: str = "small",
    out,
    overrides: dict | None = None,
    workers: int = 1,
    dask: str | None = None,
    client=None,
    resume: bool = False,
    progress: bool = False,
    json_path=None,
    plots: bool = True,
) -> SweepReport:
    """Run experiment ``name`` at ``scale`` into the folder ``out`` (see :func:`.sweep.run_sweep`)."""
    exp = get_experiment(name)
    config = experiment_config(exp.name, scale, overrides)
    return run_sweep(exp, scale, config, out, workers=workers, dask=dask, client=client, resume=resume,
                     progress=progress, json_path=json_path, plots=plots)
