"""Hypothesis profiles: ``fast`` (the default, for CI) and ``slow``, chosen by env var.

``HYPOTHESIS_PROFILE=slow pytest tests/test_differential.py --timeout 0`` runs the long
search (pydantic-core's ``tests/conftest.py`` does the same).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["load_profile"]

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

settings.register_profile(
    "fast", max_examples=100, deadline=None, suppress_health_check=_QUIET, print_blob=True
)
settings.register_profile(
    "slow", max_examples=2_000, deadline=None, suppress_health_check=_QUIET, print_blob=True
)


def load_profile() -> None:
    """Load the profile named by ``HYPOTHESIS_PROFILE`` (default ``fast``)."""
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


load_profile()
