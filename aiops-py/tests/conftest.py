"""Shared fixtures: small series made in the test, never read from the repository."""

import numpy as np
import pytest


@pytest.fixture
def noisy_with_spikes() -> tuple[np.ndarray, np.ndarray, list[int]]:
    """2000 points of uniform noise around 100 (|z| stays below 2) with three +15 spikes."""
    rng = np.random.default_rng(7)
    values = 100.0 + rng.uniform(-1.0, 1.0, 2000)
    spikes = [500, 1200, 1800]
    values[spikes] += 15.0
    timestamps = 1_700_000_000_000 + np.arange(values.size, dtype=np.int64) * 60_000
    return timestamps, values, spikes
