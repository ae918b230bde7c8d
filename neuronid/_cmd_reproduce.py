"""``neuronid reproduce E1|E2|E3|E4``: the paper's experiments (THEORY.md section 3) as
resumable sweeps, with the theory's predictions beside the measurements."""

from __future__ import annotations

import os
import sys
from concurrent.futures.process import BrokenProcessPool

from neuronid._cli_common import (
    add_force_option,
    add_json_option,
    guard_outputs,
    int_in,
    json_output,
    output_folder,
    progress_enabled,
)
from neuronid.errors import InvalidInputError, InvalidOptionError


def register(sub) -> None:
    p = sub.add_parser(
        "reproduce",
        help="run experiment E1, E2, E3 or E4 (sweeps with resume, local workers or Dask)",
        description=(
            "Run one of the paper's experiments (THEORY.md E1 synthetic coherence, E2 swap costs vs intrinsic "
            "dimension, E3 LMC unaligned vs aligned, E4 identifiability during training) as a sweep of independent units. Each finished unit is written "
            "to OUT/units/ at once; --resume skips finished units. Writes OUT/results.json, OUT/summary.md (each of "
            "the paper's claims with this run's verdict and numbers) and PNG plots."
        ),
    )
    p.add_argument("experiment", metavar="EXPERIMENT", help="E1, E2, E3 or E4")
    p.add_argument("--scale", default="small",
                   help="small (under a minute on 2 cores; the default) or paper (the full protocol)")
    p.add_argument("--out", metavar="DIR", help="results folder (default: out/reproduce/<EXPERIMENT>-<scale>)")
    p.add_argument("--workers", type=int_in(1, 1024), default=None,
                   help="local worker processes (default: the number of CPU cores; 1 runs in this process)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run the units on a Dask cluster, e.g. tcp://scheduler:8786 (needs neuronid[distributed])")
    p.add_argument("--resume", action="store_true", help="keep finished units of an earlier run in --out")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one configuration value (JSON), e.g. --set epochs=50 --set mask_reading=masked")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_option(p)
    add_force_option(p)
    p.set_defaults(func=run)


#: Files the sweep writes directly in --out (``guard_outputs``: never through a link).
_OUT_FILES = ("config.json", "results.json", "summary.md", "*.png")


def _has_units(out: str) -> bool:
    """Whether the run folder's ``units`` subfolder exists (only then do messages point at it)."""
    return os.path.isdir(os.path.join(out, "units"))


def run(args) -> int:
    # imported when the command runs: cli imports every command module to build its
    # parser, and the experiment runners (training, dask) would slow every command
    from neuronid.proofs_checks.experiments import (
        UnitFailedError,
        UnknownExperimentError,
        experiment_config,
        get_experiment,
        parse_overrides,
        run_sweep,
    )
    from neuronid.proofs_checks.experiments.sweep import check_json_outside

    exp = get_experiment(args.experiment)
    if args.scale not in exp.scales:
        raise UnknownExperimentError(
            f"unknown scale {args.scale!r}: expected one of {', '.join(exp.scales)}"
        )
    config = experiment_config(exp.name, args.scale, parse_overrides(args.overrides))
    if args.out is not None and not args.out.strip():
        raise InvalidOptionError("--out: expected a folder path, found an empty string")
    out = args.out or os.path.join("out", "reproduce", f"{exp.name}-{args.scale}")
    if args.json is not None:
        check_json_outside(args.json, out)
    guard_outputs(outputs=[output_folder("--out", out, _OUT_FILES), json_output(args)], force=args.force)
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if args.dask and args.workers is not None:
        sys.stderr.write("note: --workers is ignored with --dask (the cluster's workers run the units)\n")
    where = f"Dask scheduler {args.dask}" if args.dask else f"{workers} local worker(s)"
    print(f"neuronid reproduce {exp.name} ({exp.title}), scale {args.scale}, {where}, results in {out}")
    try:
        report = run_sweep(exp, args.scale, config, out, workers=workers, dask=args.dask, resume=args.resume,
                           progress=progress_enabled(args), json_path=args.json, plots=not args.no_plots)
    except KeyboardInterrupt:
        if _has_units(out):
            sys.stderr.write(f"finished units are kept in {out}/units; continue with the same command plus --resume\n")
        raise
    except UnitFailedError as exc:
        hint = (f"; the finished units are kept in {out}/units (continue with --resume once the cause is fixed)"
                if _has_units(out) else "")
        if isinstance(exc.__cause__, InvalidInputError):  # bad input: fix it first, no --resume advice
            kept = f"; the finished units are kept in {out}/units" if _has_units(out) else ""
            raise InvalidOptionError(f"{exc}{kept}") from None
        if isinstance(exc.__cause__, BrokenProcessPool):
            raise InvalidOptionError(
                f"unit {exc.key}: its worker process died abruptly (most often it ran out of memory; choose smaller "
                f"sizes with --set, or fewer --workers){hint}") from None
        if isinstance(exc.__cause__, MemoryError):
            raise InvalidOptionError(
                f"unit {exc.key} needs more memory than this machine has available; choose smaller sizes with "
                f"--set (or a smaller --scale){hint}") from None
        sys.stderr.write(f"neuronid reproduce: {exc}{hint}\n")
        raise
    rerun = (f" ({report.rerun_invalid} of them re-run because their unit file was invalid or failed its checksum)"
             if report.rerun_invalid else "")
    print(f"units: {report.ran} run, {report.skipped} resumed{rerun}; wall time {report.seconds:.1f} s")
    print()
    for c in report.claims:
        print(f"[{c['verdict']}] {c['claim']}")
        print(f"    {c['evidence']}")
    print()
    for f in report.files:
        print(f"wrote {f}")
    return 0
