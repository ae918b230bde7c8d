"""Importing the package does no numeric work: no module of ``neuronid`` calls a numba
kernel at import time.

An import-time call compiles the kernel on an empty numba cache (seconds of CPU in
every process that imports the module: each CLI start, each test worker during
collection) and runs numerics nobody asked for. Checked in a fresh interpreter: every
module is imported, then every numba dispatcher the package defines must have no
compiled or cache-loaded signature (``signatures`` lists both, so the check does not
depend on the state of the on-disk cache).
"""

from __future__ import annotations

import subprocess
import sys

_PROBE = r"""
import importlib, pkgutil, sys
import neuronid
from numba.core.registry import CPUDispatcher

names = ["neuronid"]
for pkg in ("neuronid", "neuronid.theory", "neuronid.numerics", "neuronid.proofs_checks"):
    mod = importlib.import_module(pkg)
    names += [info.name for info in pkgutil.walk_packages(mod.__path__, pkg + ".")]
for name in sorted(set(names)):
    if name in ("neuronid.__main__",):  # runs the CLI
        continue
    importlib.import_module(name)
used = sorted(
    f"{mod_name}.{attr}"
    for mod_name, mod in list(sys.modules.items()) if mod_name.startswith("neuronid")
    for attr, obj in list(vars(mod).items())
    if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == mod_name and obj.signatures
)
print(len(names))
print("\n".join(used))
"""


def test_importing_every_module_runs_no_numba_kernel():
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    count, *used = proc.stdout.strip().splitlines()
    assert int(count) > 40, proc.stdout  # the walk found the package's modules
    assert used == [], f"kernels called at import time: {used}"
