"""Sweeps of independent units: atomic unit files, resume, local workers, Dask.

A sweep is a list of *units* (one trained pair, one cost analysis). Each unit is a
pure function of ``(config, params)``: every random draw inside it is seeded from the
unit's own key (:func:`derive_seed`), so a unit gives the same numbers whichever
worker runs it, in whatever order, alone or in a sweep.

Run folder layout::

    OUT/config.json          experiment, scale and the full configuration
    OUT/units/<key>.json     one finished unit (written atomically by the client)
    OUT/results.json         aggregated results (after all units finished)
    OUT/summary.md           the paper's claims and this run's verdicts
    OUT/*.png                plots

Guarantees:

- a unit file appears only complete (temporary file + ``os.replace``); the client
  writes it as soon as the unit's result arrives, so a run killed midway loses at
  most the units in progress;
- ``resume=True`` skips units whose file exists and belongs to this configuration,
  and refuses a folder written with another configuration (naming the differing
  keys);
- without ``resume`` a folder holding another configuration is refused too
  (choose a new folder, or pass the same options with ``--resume``).

Execution: ``workers == 1`` runs the units in this process; ``workers > 1`` in a
``concurrent.futures.ProcessPoolExecutor`` (spawn context, one BLAS / numba thread per
worker, so N workers use N cores); ``dask=ADDRESS`` on a Dask cluster through
``distributed.Client`` (``client.map`` + ``as_completed``; the optional extra
``neuronid[distributed]``). Workers only compute; the client writes every file, so
Dask workers need no shared file system.

Size (about 700 lines): kept whole; units, their sealed files, the folder's
configuration record, the three executors (serial, process pool, Dask) and the sweep
loop are one mechanism whose invariants (resume, checksums, worker exit) span all parts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import multiprocessing
import os
import signal
import stat
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from neuronid.numerics.io import to_jsonable
from neuronid.numerics.io import write_text as io_write_text
from neuronid.errors import FileFormatError, InvalidOptionError, NeuronidError

__all__ = [
    "FORMAT",
    "Experiment",
    "IncompatibleResultsError",
    "OutputFolderError",
    "SchedulerUnreachableError",
    "UnitFailedError",
    "UnknownExperimentError",
    "SweepReport",
    "derive_seed",
    "execute_unit",
    "result_checksum",
    "unit_problem",
    "run_sweep",
    "config_differences",
    "check_json_outside",
    "single_threaded",
]

FORMAT = "neuronid.reproduce/1"
#: environment variables that fix every thread pool a unit could use to one thread
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


# ----------------------------------------------------------------------------- errors
class UnknownExperimentError(InvalidOptionError):
    """An experiment name or scale that does not exist."""


class OutputFolderError(FileFormatError):
    """The results folder cannot be created or written."""


class IncompatibleResultsError(InvalidOptionError):
    """The results folder holds units of another configuration."""


class SchedulerUnreachableError(InvalidOptionError):
    """The Dask scheduler cannot be reached (or ``distributed`` is not installed)."""


class UnitFailedError(NeuronidError, RuntimeError):
    """A unit raised; finished units are kept (rerun with ``--resume``)."""

    def __init__(self, message: str, key: str):
        super().__init__(message)
        self.key = key


# ----------------------------------------------------------------------------- experiments
@dataclass(frozen=True)
class Experiment:
    """What :func:`run_sweep` needs to know about one experiment.

    ``scales`` maps a scale name to a complete configuration (a dict of JSON values);
    ``check_config(config) -> config`` validates (raises ``InvalidOptionError``);
    ``units(config) -> [(key, params)]``; ``run_unit(config, params) -> dict`` (pure,
    JSON-able, runs in a worker); ``aggregate(config, records) -> results`` (records
    in unit order); ``claims(config, results) -> [dict]`` (the summary's verdicts);
    ``summary(config, results, claims) -> str`` (markdown); ``plot(config, results,
    out_dir) -> [paths]``; ``warmup(config)`` compiles the numba kernels in the
    client before workers start (they then load the on-disk cache).
    """

    name: str
    title: str
    scales: dict
    check_config: Callable
    units: Callable
    run_unit: Callable
    aggregate: Callable
    claims: Callable
    summary: Callable
    plot: Callable
    warmup: Callable | None = None


def derive_seed(*parts) -> int:
    """A 63-bit seed from integers (``numpy.random.SeedSequence`` entropy).

    >>> derive_seed(0, 1, 2) == derive_seed(0, 1, 2), derive_seed(0, 1, 2) == derive_seed(0, 2, 1)
    (True, False)
    """
    entropy = [int(p) for p in parts]
    if any(p < 0 for p in entropy):
        raise InvalidOptionError(f"seed parts must be integers >= 0, found {parts!r}")
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & ((1 << 63) - 1)


@contextlib.contextmanager
def single_threaded():
    """One BLAS thread and one numba thread for the duration (results independent of
    how many workers run)."""
    limiter = contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn / scipy stacks
        pass
    prev = None
    try:
        import numba

        prev = numba.get_num_threads()
        numba.set_num_threads(1)
    except Exception:  # pragma: no cover - numba threading layer unavailable
        prev = None
    try:
        with limiter:
            yield
    finally:
        if prev is not None:
            import numba

            numba.set_num_threads(prev)


def _experiment(name: str) -> Experiment:
    from . import get_experiment

    return get_experiment(name)


def execute_unit(experiment: str, config: dict, key: str, params: dict) -> dict:
    """Run one unit (in a worker): the record written to ``units/<key>.json``."""
    exp = _experiment(experiment)
    t0 = time.perf_counter()
    with single_threaded():
        result = exp.run_unit(config, params)
    return {
        "key": key,
        "experiment": experiment,
        "params": params,
        "result": result,
        "seconds": time.perf_counter() - t0,
        "pid": os.getpid(),
    }


def result_checksum(result) -> str:
    """SHA-256 of a unit result in canonical JSON (sorted keys, no spaces, non-finite
    numbers as null): what a unit file stores to detect edits and corruption."""
    text = json.dumps(to_jsonable(result), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sealed(rec: dict) -> dict:
    """The unit record as written: canonical JSON values plus the result checksum."""
    rec = _canonical(rec)
    rec["checksum"] = result_checksum(rec["result"])
    return rec


def _exit_with_parent(parent: int) -> None:
    """End this worker when the sweep process that started it dies (``kill -9``
    included): the kernel's parent-death signal on Linux, and a thread that polls the
    parent id everywhere (it runs whenever the unit's code releases the GIL)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch():
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="neuronid-parent-watch", daemon=True).start()


def _worker_init(parent: int | None = None) -> None:
    if parent is not None:
        _exit_with_parent(parent)
    memory_limit().__enter__()  # for the worker's lifetime (see memory_limit)
    for var in THREAD_VARS:
        os.environ[var] = "1"
    with contextlib.suppress(Exception):
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)


# ----------------------------------------------------------------------------- config
def _canonical(value):
    """JSON round trip: tuples -> lists, numpy scalars -> numbers."""
    return json.loads(json.dumps(to_jsonable(value)))


def config_differences(stored: dict, requested: dict) -> list[str]:
    """Keys whose values differ, as ``"key: stored -> requested"`` strings."""
    out = []
    for key in sorted(set(stored) | set(requested)):
        a, b = stored.get(key, "<absent>"), requested.get(key, "<absent>")
        if a != b:
            out.append(f"{key}: {json.dumps(a)} (stored) vs {json.dumps(b)} (requested)")
    return out


def _config_record(exp: Experiment, scale: str, config: dict) -> dict:
    return {"format": FORMAT, "experiment": exp.name, "scale": scale, "config": config}


def _prepare_folder(out: Path, record: dict, resume: bool) -> None:
    """Create ``out``, check it is writable and compatible; write ``config.json``."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(f"{out}: cannot create the results folder ({exc.strerror or exc})") from None
    if not out.is_dir():
        raise OutputFolderError(f"{out}: exists and is not a folder")
    probe = out / f".neuronid-write-test-{os.getpid()}"
    try:
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise OutputFolderError(
            f"{out}: the results folder is not writable ({exc.strerror or exc}); choose another --out"
        ) from None
    cfg_path = out / "config.json"
    if cfg_path.exists():
        try:
            stored = json.loads(cfg_path.read_text())
        except (OSError, ValueError):
            raise IncompatibleResultsError(
                f"{cfg_path}: unreadable or not JSON; this is not a neuronid results folder I can "
                "resume. Choose a new --out folder"
            ) from None
        if not isinstance(stored, dict) or stored.get("format") != FORMAT:
            raise IncompatibleResultsError(
                f"{cfg_path}: not a neuronid reproduce folder (format {stored.get('format') if isinstance(stored, dict) else None!r}, "
                f"expected {FORMAT!r}). Choose a new --out folder"
            )
        diffs = []
        if stored.get("experiment") != record["experiment"]:
            diffs.append(f"experiment: {stored.get('experiment')} (stored) vs {record['experiment']} (requested)")
        diffs += config_differences(stored.get("config", {}), record["config"])
        if diffs:
            what = "cannot resume" if resume else "refusing to mix configurations"
            advice = ("pass the same experiment, --scale and --set options as the stored run, or choose a new "
                      "--out folder")
            raise IncompatibleResultsError(
                f"{out}: {what}: the folder holds a run with another configuration ("
                + "; ".join(diffs) + f"); {advice}"
            )
    else:
        others = [p.name for p in out.iterdir() if not p.name.startswith(".")]
        if others:
            shown = ", ".join(sorted(others)[:5]) + (" ..." if len(others) > 5 else "")
            raise IncompatibleResultsError(
                f"{out}: the folder is not empty ({shown}) and holds no neuronid config.json; "
                "choose an empty or new --out folder"
            )
    write_json(cfg_path, record)
    (out / "units").mkdir(exist_ok=True)


def _unit_path(out: Path, key: str) -> Path:
    return out / "units" / f"{key}.json"


#: Unit-file fields and their JSON types (the schema a resumed unit must satisfy).
UNIT_SCHEMA = {"key": str, "experiment": str, "params": dict, "result": dict, "seconds": (int, float),
               "checksum": str}
#: Largest unit file read back (a unit result is a few kilobytes to a few megabytes).
MAX_UNIT_BYTES = 64 << 20


def unit_problem(rec, key: str, experiment: str, params: dict) -> str | None:
    """Why a unit record cannot be resumed (schema, identity, checksum), or ``None``."""
    if not isinstance(rec, dict):
        return f"not a JSON object ({type(rec).__name__})"
    for field, kind in UNIT_SCHEMA.items():
        if field not in rec:
            return f"field {field!r} is missing"
        value = rec[field]
        if isinstance(value, bool) or not isinstance(value, kind):
            return f"field {field!r} has the wrong type ({type(value).__name__})"
    if rec["key"] != key or rec["experiment"] != experiment:
        return f"it belongs to unit {rec['key']!r} of {rec['experiment']!r}"
    if rec["params"] != _canonical(params):
        return "its parameters differ from this unit's"
    if not math.isfinite(rec["seconds"]) or rec["seconds"] < 0:
        return "field 'seconds' is not a time"
    try:
        checksum = result_checksum(rec["result"])
    except (TypeError, ValueError):
        return "its result is not plain JSON"
    if checksum != rec["checksum"]:
        return "its result does not match its checksum (edited or corrupt)"
    return None


def _load_unit(path: Path, key: str, experiment: str, params: dict):
    """``(record, None)`` for a valid unit file, ``(None, reason)`` for an invalid one,
    ``(None, None)`` when there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    if not stat.S_ISREG(st.st_mode):
        return None, "not a regular file"
    if st.st_size > MAX_UNIT_BYTES:
        return None, f"{st.st_size} bytes, larger than any unit file"
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        return None, f"not valid JSON ({type(exc).__name__})"
    problem = unit_problem(rec, key, experiment, params)
    return (None, problem) if problem else (rec, None)


# ----------------------------------------------------------------------------- executors
def _progress(total: int, desc: str, enabled: bool, initial: int = 0):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="unit", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True, smoothing=0.1)


@contextlib.contextmanager
def memory_limit():
    """Cap this process's address space at its current size plus the available
    memory (``RLIMIT_AS``) for the duration, so that a configuration too large for
    this machine fails at once with ``MemoryError`` instead of swapping for hours.
    Does nothing where the limit or the available memory cannot be read."""
    from neuronid.numerics.io import available_memory

    try:
        import resource

        free = available_memory()
        with open("/proc/self/statm", encoding="ascii") as fh:
            size = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = size + int(free)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except Exception:  # no /proc, no resource module, no MemAvailable: run unlimited
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _run_local_serial(exp, config, todo, on_done):
    for key, params in todo:
        try:
            with memory_limit():
                rec = execute_unit(exp.name, config, key, params)
        except Exception as exc:
            raise UnitFailedError(f"unit {key} failed: {type(exc).__name__}: {exc}", key) from exc
        on_done(rec)


@contextlib.contextmanager
def _thread_env():
    saved = {var: os.environ.get(var) for var in THREAD_VARS}
    for var in THREAD_VARS:
        os.environ[var] = "1"
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _run_local_pool(exp, config, todo, on_done, workers: int):
    ctx = multiprocessing.get_context("spawn")
    with _thread_env():  # spawned workers inherit the environment: set before numpy/numba load there
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                   initargs=(os.getpid(),))
        futures = {pool.submit(execute_unit, exp.name, config, key, params): key for key, params in todo}
        try:
            for fut in as_completed(futures):
                key = futures[fut]
                try:
                    rec = fut.result()
                except Exception as exc:
                    raise UnitFailedError(f"unit {key} failed: {type(exc).__name__}: {exc}", key) from exc
                on_done(rec)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            _terminate(pool)
            raise
        pool.shutdown(wait=True)


def _terminate(pool) -> None:
    """Stop the pool's own worker processes (those this sweep started) after a failure."""
    procs = getattr(pool, "_processes", None) or {}
    for proc in list(procs.values()):
        with contextlib.suppress(Exception):
            if proc.is_alive():
                proc.terminate()
    for proc in list(procs.values()):
        with contextlib.suppress(Exception):
            proc.join(timeout=5)


#: Seconds to reach a Dask scheduler before ``--dask`` gives up with one clear line.
DASK_CONNECT_SECONDS = 5.0


def connect_dask(address: str, timeout: float | None = None):
    """``distributed.Client(address)``; a clear error within ``timeout`` seconds
    (default :data:`DASK_CONNECT_SECONDS`)."""
    if timeout is None:
        timeout = DASK_CONNECT_SECONDS
    try:
        from distributed import Client
    except ImportError:
        raise SchedulerUnreachableError(
            "--dask needs the optional extra 'distributed': pip install 'neuronid[distributed]'"
        ) from None
    if not isinstance(address, str) or not address.strip():
        raise SchedulerUnreachableError(f"--dask: expected a scheduler address like tcp://host:8786, found {address!r}")
    t0 = time.perf_counter()
    try:
        client = Client(address, timeout=f"{timeout:g}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerUnreachableError(
            f"--dask {address}: cannot reach the Dask scheduler within {time.perf_counter() - t0:.1f} s "
            f"({type(exc).__name__}: {exc}); start one with `dask scheduler` (and `dask worker ADDRESS`) or "
            "run without --dask to use local worker processes"
        ) from None
    return client


def _run_dask(exp, config, todo, on_done, client):
    from distributed import as_completed as dask_completed

    token = derive_seed(*[ord(c) for c in exp.name], int(time.time_ns() % (1 << 62)))
    keys = [key for key, _ in todo]
    futures = client.map(
        execute_unit,
        [exp.name] * len(todo), [config] * len(todo), keys, [params for _, params in todo],
        key=[f"neuronid-{exp.name}-{key}-{token:x}" for key in keys],
        pure=False,
    )
    by_future = dict(zip(futures, keys))
    try:
        for fut in dask_completed(futures, loop=client.loop):
            key = by_future[fut]
            try:
                rec = fut.result()
            except Exception as exc:
                raise UnitFailedError(f"unit {key} failed on the Dask cluster: {type(exc).__name__}: {exc}", key) from exc
            on_done(rec)
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel(futures)
        raise


# ----------------------------------------------------------------------------- the sweep
@dataclass
class SweepReport:
    """What :func:`run_sweep` did."""

    out: Path
    results: dict
    claims: list
    files: list
    ran: int
    skipped: int
    seconds: float
    rerun_invalid: int = 0


def _check_workers(workers) -> int:
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or int(workers) < 1:
        raise InvalidOptionError(f"workers must be an integer >= 1, found {workers!r}")
    return int(workers)


def run_sweep(
    exp: Experiment,
    scale: str,
    config: dict,
    out,
    *,
    workers: int = 1,
    dask: str | None = None,
    client=None,
    resume: bool = False,
    progress: bool = True,
    json_path=None,
    plots: bool = True,
) -> SweepReport:
    """Run (or resume) every unit of ``exp`` under ``config`` into the folder ``out``.

    ``client``: an existing ``distributed.Client`` (tests); ``dask``: a scheduler
    address to connect to (closed afterwards). Returns a :class:`SweepReport`; the
    results are also in ``out/results.json`` (and ``json_path`` when given).
    """
    workers = _check_workers(workers)
    t0 = time.perf_counter()
    out = Path(out)
    if json_path is not None:
        _check_json_target(Path(json_path), out)
    config = _canonical(exp.check_config(dict(config)))
    units = exp.units(config)
    keys = [k for k, _ in units]
    if len(set(keys)) != len(keys):  # pragma: no cover - experiment definition bug
        raise RuntimeError(f"{exp.name}: duplicate unit keys")
    own_client = None
    if dask is not None and client is None:
        own_client = client = connect_dask(dask)  # fail fast, before touching the folder
    try:
        _prepare_folder(out, _config_record(exp, scale, config), resume)
        records = {}
        invalid = []
        if resume:
            for key, params in units:
                rec, problem = _load_unit(_unit_path(out, key), key, exp.name, params)
                if rec is not None:
                    records[key] = rec
                elif problem is not None:
                    invalid.append((key, problem))
        todo = [(k, p) for k, p in units if k not in records]
        skipped = len(units) - len(todo)
        bar = _progress(len(units), f"{exp.name} units", progress, initial=skipped)

        def on_done(rec):
            rec = _sealed(rec)
            write_json(_unit_path(out, rec["key"]), rec)
            records[rec["key"]] = rec
            bar.update(1)

        try:
            if todo:
                if client is not None:
                    _run_dask(exp, config, todo, on_done, client)
                elif workers == 1 or len(todo) == 1:
                    _run_local_serial(exp, config, todo, on_done)
                else:
                    if exp.warmup is not None:
                        with single_threaded():
                            exp.warmup(config)
                    _run_local_pool(exp, config, todo, on_done, min(workers, len(todo)))
        finally:
            bar.close()
    finally:
        if own_client is not None:
            with contextlib.suppress(Exception):
                own_client.close()
    ordered = [records[k] for k in keys]
    results = exp.aggregate(config, ordered)
    claims = exp.claims(config, results)
    results = {
        "experiment": exp.name,
        "title": exp.title,
        "scale": scale,
        "config": config,
        **results,
        "claims": claims,
        "units": {"total": len(units), "ran": len(todo), "skipped": skipped, "invalid_rerun": len(invalid),
                  "invalid": [{"key": k, "reason": why} for k, why in invalid],
                  "unit_seconds_total": float(sum(r.get("seconds", 0.0) for r in ordered))},
        "wall_seconds": time.perf_counter() - t0,
    }
    files = []
    if plots:
        files += [str(p) for p in exp.plot(config, results, out)]
    results["plots"] = [Path(f).name for f in files]
    results["wall_seconds"] = time.perf_counter() - t0
    write_json(out / "results.json", results)
    files.insert(0, str(out / "results.json"))
    summary = exp.summary(config, results, claims)
    if invalid:
        summary += (f"\n{len(invalid)} unit file(s) were invalid or did not match their checksum and were re-run: "
                    + "; ".join(f"{k} ({why})" for k, why in invalid) + ".\n")
    _write_text(out / "summary.md", summary)
    files.insert(1, str(out / "summary.md"))
    if json_path is not None:
        write_json(Path(json_path), results)
        files.append(str(json_path))
    return SweepReport(out=out, results=results, claims=claims, files=files, ran=len(todo), skipped=skipped,
                       seconds=time.perf_counter() - t0, rerun_invalid=len(invalid))


def check_json_outside(json_path, out) -> None:
    """Refuse a ``--json`` path inside the results folder ``out`` (symbolic links
    resolved): it could replace ``config.json`` or a unit file, and ``results.json`` is
    written there anyway."""
    real_json, real_out = Path(os.path.realpath(json_path)), Path(os.path.realpath(out))
    if real_json == real_out or real_out in real_json.parents:
        raise InvalidOptionError(
            f"--json {json_path}: is inside the --out folder {out} (which holds config.json, units/ and "
            "results.json); choose a path outside it")


def _check_json_target(path: Path, out: Path) -> None:
    """``--json PATH`` must be outside ``out`` and its folder writable."""
    check_json_outside(path, out)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputFolderError(f"--json {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputFolderError(f"--json {path}: folder {folder} is not writable")


def _write_text(path: Path, text: str) -> None:
    """Atomic write (short temporary name in the same folder, then ``os.replace``; mode
    from the umask) through :func:`neuronid.numerics.io.write_text`."""
    io_write_text(path, text)


def write_json(path, obj) -> None:
    """``obj`` as strict JSON (non-finite numbers -> null with a reason), atomically."""
    path = Path(path)
    try:
        _write_text(path, json.dumps(to_jsonable(obj), indent=1, allow_nan=False) + "\n")
    except FileFormatError as exc:
        raise OutputFolderError(str(exc)) from None


# ----------------------------------------------------------------------------- small helpers for runners
def finite(values) -> np.ndarray:
    """Finite floats of ``values`` (``None`` and non-finite dropped)."""
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    return arr[np.isfinite(arr)]


def describe(values) -> dict:
    """mean, std, median, quartiles, min, max, n of the finite values."""
    v = finite(values)
    if v.size == 0:
        return {"n": 0, "mean": None, "std": None, "median": None, "q25": None, "q75": None, "min": None, "max": None}
    return {
        "n": int(v.size),
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
        "sem": float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0,
        "median": float(np.median(v)),
        "q25": float(np.quantile(v, 0.25)),
        "q75": float(np.quantile(v, 0.75)),
        "min": float(v.min()),
        "max": float(v.max()),
    }
