"""Hypothesis profiles, chosen by HYPOTHESIS_PROFILE (default: `ci` where CI=true, else `dev`).

- `ci`: derandomised (the examples follow from each test's source: a run's verdict does not depend
  on luck) and no example database, so every CI run is the same run.
- `dev`: random examples, failures kept in .hypothesis/ (gitignored) and replayed first next time.
- `deep`: ten times each test's own number of examples (`make test-deep`), random, for hunting.

Each property test keeps its own `max_examples` (sized to keep `make test` fast); `deep` scales it.
"""
from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import HealthCheck, settings

DEEP_FACTOR = 10

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.register_profile("deep", deadline=None, suppress_health_check=[HealthCheck.too_slow])

# The suite's own per-user cache (machine code, image key, measured thresholds), inherited by every
# `noodle` subprocess: what a person's `noodle tune` left in ~/.cache/noodle (an OpenCL measurement
# changes what `noodle run` imports and builds) must not change a test's verdict.  One folder for all
# runs and workers, so compiled machine code stays warm as it does for a user.
os.environ.setdefault("NOODLE_CACHE_DIR", os.path.join(tempfile.gettempdir(), f"noodle-test-cache-{os.getuid()}"))

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI", "").lower() == "true" else "dev")
settings.load_profile(PROFILE)


def pytest_report_header(config: pytest.Config) -> str:
    return f"hypothesis profile: {PROFILE} ({settings.default.max_examples} examples unless a test says)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `deep`, every property test runs DEEP_FACTOR times its own number of examples."""
    if PROFILE != "deep":
        return
    for item in items:
        test = getattr(item, "obj", None)
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is not None:
            test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
                own, max_examples=own.max_examples * DEEP_FACTOR)
