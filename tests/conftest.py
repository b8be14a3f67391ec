"""Shared test configuration: hypothesis profiles and small fixtures."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

import ledger
from ledger.keys import ED25519_BACKENDS

# CI runs derandomised so a failure reproduces from the log; locally examples vary per run.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None)
settings.register_profile("long", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(params=ED25519_BACKENDS)
def ed25519_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once with each Ed25519 backend (libsodium needs PyNaCl: the test extra)."""
    name: str = request.param
    previous = ledger.ed25519_backend()
    if name == "libsodium" and importlib.util.find_spec("nacl") is None:
        pytest.skip("PyNaCl is not installed (pip install endorsement-ledger[fast])")
    ledger.use_ed25519_backend(name)
    try:
        yield name
    finally:
        ledger.use_ed25519_backend(previous)
