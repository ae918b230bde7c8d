"""An on-disk cache of values the theory layer derives with SymPy (what numba's
``cache=True`` is for compiled kernels).

Why: the analysis of one activation (monotonicity, Lipschitz constant, curvature
bound, kinks: :attr:`~.activations.Activation.facts`) costs 0.4-3.6 s of SymPy per
activation and process (measured: GELU 1.6-2.2 s, SiLU 3.6 s), paid again by every
``neuronid check`` (P1, P5, T2 and the T4 certificate read it). Its plain results are a
pure function of the activation name, the theory code and the SymPy version, so they
are derived once and stored.

Key: SHA-256 of the activation name, the SymPy and mpmath versions and the bytes of
every module that derives the values (the ``theory`` package); any change to them
derives afresh. Location: ``$NEURONID_CACHE_DIR``, else
``$XDG_CACHE_HOME/neuronid``, else ``~/.cache/neuronid`` (a leading ``~`` in either
variable is the home folder, as the shell would expand it); ``NEURONID_CACHE_DIR=off``
(or empty) disables the cache. Each entry carries a SHA-256 checksum of its key and
value, and only a small regular file is read (a FIFO, a device or a huge file under an
entry's name is ignored). A cache that cannot be read or written is ignored (the value is
derived as without it): a cache never changes a result, only when it is computed.
Files are strict JSON written atomically (one file per key), with the mode of any new
file (``0666 & ~umask``), so a cache folder shared by a group is shared.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from functools import lru_cache
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

#: Format of the stored entries (part of the key).
_FORMAT = 1


def cache_dir() -> Path | None:
    """The cache folder, or ``None`` when disabled (``NEURONID_CACHE_DIR=off``)."""
    env = os.environ.get("NEURONID_CACHE_DIR")
    if env is not None:
        # "~/x" quoted in a shell reaches us unexpanded: it means the home folder, not "./~"
        return None if env.strip().lower() in ("off", "") else Path(os.path.expanduser(env))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(os.path.expanduser(base)) / "neuronid"


#: Where Linux (4.7+) shows the process umask without changing it.
_PROC_STATUS = "/proc/self/status"


def _umask_by_setting() -> int:
    """The umask via ``os.umask`` (set and restore: process-wide, so called once, at
    import, and only where :data:`_PROC_STATUS` has no ``Umask:`` line)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _proc_umask() -> int | None:
    try:
        with open(_PROC_STATUS, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


#: The umask at import, for systems without ``Umask:`` in ``/proc/self/status``.
_IMPORT_UMASK = _umask_by_setting() if _proc_umask() is None else None


def _current_umask() -> int:
    """The process umask, read without changing it where the system allows
    (``/proc/self/status``), else the value at import (``os.umask`` cannot be read
    without setting it, which would race other threads creating files)."""
    mask = _proc_umask()
    if mask is None:
        mask = _IMPORT_UMASK if _IMPORT_UMASK is not None else _umask_by_setting()
    return mask


@lru_cache(maxsize=8)
def _code_digest(modules: tuple[str, ...]) -> str:
    """SHA-256 over the library versions and the source bytes of ``modules`` (a package
    contributes every ``.py`` file in its folder), without importing them."""
    h = hashlib.sha256(f"format {_FORMAT}\n".encode())
    for dist in ("sympy", "mpmath"):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover - both are dependencies
            version = "absent"
        h.update(f"{dist} {version}\n".encode())
    for name in modules:
        spec = find_spec(name)
        if spec is None or spec.origin is None:  # pragma: no cover - our own modules
            h.update(f"{name} missing\n".encode())
            continue
        origin = Path(spec.origin)
        files = sorted(origin.parent.glob("*.py")) if origin.name == "__init__.py" else [origin]
        for f in files:
            h.update(f"{name}:{f.name}\n".encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def _path(kind: str, name: str, modules: tuple[str, ...]) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    key = hashlib.sha256(f"{kind}\n{name}\n{_code_digest(modules)}".encode()).hexdigest()[:32]
    return folder / f"{kind}-{key}.json"


#: Largest entry read (an entry is well under 2 KB): a bigger file is not ours.
_MAX_ENTRY_BYTES = 1 << 16


def _checksum(key: str, value) -> str:
    """SHA-256 of the entry's key and canonical value: a file edited or damaged after it
    was written no longer matches (the cache is trusted like numba's: this catches
    accidents and hand edits, not someone who recomputes the checksum)."""
    text = json.dumps(value, sort_keys=True, allow_nan=False, separators=(",", ":"))
    return hashlib.sha256(f"{key}\n{text}".encode()).hexdigest()


def load(kind: str, name: str, modules: tuple[str, ...]) -> dict | None:
    """The stored entry for ``name`` (``None``: absent, unreadable, not a regular file of
    at most :data:`_MAX_ENTRY_BYTES`, or not ours: wrong name or checksum)."""
    path = _path(kind, name, modules)
    if path is None:
        return None
    try:
        # non-blocking: a FIFO under the entry's name must not hang the run; only a small
        # regular file is read (not /dev/zero, not a 20 GB file)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_ENTRY_BYTES:
                return None
            raw = os.read(fd, _MAX_ENTRY_BYTES + 1)
        finally:
            os.close(fd)
        entry = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError):  # absent, unreadable or corrupt: derive afresh
        return None
    if not isinstance(entry, dict) or entry.get("name") != name or not isinstance(entry.get("value"), dict):
        return None
    try:
        if entry.get("checksum") != _checksum(path.name, entry["value"]):
            return None
    except ValueError:  # NaN or infinity in the value: never written by store()
        return None
    return entry["value"]


def store(kind: str, name: str, modules: tuple[str, ...], value: dict) -> None:
    """Store ``value`` (strict JSON: finite numbers) for ``name``, atomically (a
    temporary file in the folder, then a rename); failures are ignored."""
    path = _path(kind, name, modules)
    if path is None:
        return
    tmp = None
    try:
        text = json.dumps({"name": name, "value": value, "checksum": _checksum(path.name, value)},
                          allow_nan=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:  # mkstemp makes 0600 whatever the umask: give the entry a new file's mode
            os.fchmod(fd, 0o666 & ~_current_umask())
        except OSError:  # pragma: no cover - a file system without modes: keep 0600
            pass
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
        tmp = None
    except (OSError, TypeError, ValueError):  # read-only or full disk, or not JSON-able: no cache, same result
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass

