"""Shared pytest configuration: hypothesis profiles (STYLE.md).

``HYPOTHESIS_PROFILE`` selects the profile: ``ci`` (default; derandomized, bounded,
used by ``.ci/run``), ``thorough`` (long local runs), ``debug`` (verbose).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Verbosity, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=30,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("debug", max_examples=10, deadline=None, verbosity=Verbosity.verbose)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
