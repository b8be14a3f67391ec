"""Shared test configuration: hypothesis profiles and small fixtures."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# CI runs derandomised so a failure reproduces from the log; locally examples vary per run.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None)
settings.register_profile("long", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
