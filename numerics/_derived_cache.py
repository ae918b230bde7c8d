"""An on-disk cache of values the theory layer derives with SymPy (what numba's
``cache=True`` is for compiled kernels).

Why: the certificate's constants of one activation (Lipschitz constant, curvature
bound, kinks, monotonicity: :func:`~.certificate.activation_constants`) cost 0.4-3.6 s
of SymPy analysis per activation and process (measured: GELU 1.6 s, SiLU 3.6 s), paid
again by every ``neuronid check``. They are a pure function of the activation name, the
theory code and the SymPy version, so they are derived once and stored.

Key: SHA-256 of the activation name, the SymPy and mpmath versions and the bytes of
every module that derives the values (the ``theory`` package and the deriving numerics
modules); any change to them derives afresh. Location: ``$NEURONID_CACHE_DIR``, else
``$XDG_CACHE_HOME/neuronid``, else ``~/.cache/neuronid``; ``NEURONID_CACHE_DIR=off``
disables the cache. A cache that cannot be read or written is ignored (the value is
derived as without it): a cache never changes a result, only when it is computed.
Files are strict JSON written atomically (one file per key).
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

from neuronid.errors import FileFormatError

from .io import write_json

#: Format of the stored entries (part of the key).
_FORMAT = 1


def cache_dir() -> Path | None:
    """The cache folder, or ``None`` when disabled (``NEURONID_CACHE_DIR=off``)."""
    env = os.environ.get("NEURONID_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("off", "") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "neuronid"


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


def load(kind: str, name: str, modules: tuple[str, ...]) -> dict | None:
    """The stored entry for ``name`` (``None``: absent, unreadable or not ours)."""
    path = _path(kind, name, modules)
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            entry = json.load(fh)
    except (OSError, ValueError):  # absent, unreadable or corrupt: derive afresh
        return None
    if not isinstance(entry, dict) or entry.get("name") != name or not isinstance(entry.get("value"), dict):
        return None
    return entry["value"]


def store(kind: str, name: str, modules: tuple[str, ...], value: dict) -> None:
    """Store ``value`` (JSON-able, finite) for ``name``; failures are ignored."""
    path = _path(kind, name, modules)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"name": name, "value": value})
    except (OSError, FileFormatError, ValueError):  # read-only or full disk: no cache, same result
        return
