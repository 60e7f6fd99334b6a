"""Root-cause ranking from Python: a small shop made in the test."""

import json

import numpy as np
import pytest

import aiops
from aiops import rca

TOPOLOGY = json.dumps(
    {
        "nodes": [
            {"id": "frontend", "kind": "service"},
            {"id": "cart", "kind": "service"},
            {"id": "checkout", "kind": "service"},
            {"id": "host1", "kind": "host"},
        ],
        "edges": [
            {"from": "frontend", "to": "cart", "kind": "calls"},
            {"from": "frontend", "to": "checkout", "kind": "calls"},
            {"from": "cart", "to": "host1", "kind": "runs_on"},
            {"from": "checkout", "to": "host1", "kind": "runs_on"},
        ],
    }
)
COLUMNS = ["frontend:latency", "cart:cpu", "cart:latency", "checkout:latency", "host1:cpu"]
START = 1_767_268_800  # 2026-01-01T12:00:00Z


def shop() -> tuple[np.ndarray, np.ndarray]:
    """120 minutes; cart's CPU and latency jump at minute 90, the frontend a minute later."""
    rng = np.random.default_rng(5)
    t = START + 60 * np.arange(120, dtype=np.int64)
    v = rng.normal(0.0, 1.0, (120, 5)) + np.array([60.0, 20.0, 15.0, 30.0, 40.0])
    v[90:, 1] += 30.0
    v[90:, 2] += 25.0
    v[91:, 0] += 25.0
    return t, v


def test_ranks_the_culprit_first_with_the_report_shape() -> None:
    t, v = shop()
    r = rca.rank(TOPOLOGY, t, v, COLUMNS, anomaly_time=START + 90 * 60)
    assert list(r) == [
        "anomaly_time",
        "method",
        "root_causes",
        "impact",
        "recommended_actions",
        "notes",
    ]
    assert r["anomaly_time"] == "2026-01-01T13:30:00.000Z"
    causes = r["root_causes"]
    assert [c["rank"] for c in causes] == [1, 2, 3, 4]
    assert causes[0]["resource"] == "cart"
    assert 0.0 <= causes[0]["confidence"] <= 1.0
    assert causes[0]["evidence"][0].startswith("cart:")
    assert r["impact"]["affected"] == ["frontend"]
    assert r["recommended_actions"] == []


def test_finds_the_time_and_accepts_datetime64_and_every_method() -> None:
    t, v = shop()
    stamps = (t * 1000).astype("datetime64[ms]")
    for method in rca.method_names():
        r = rca.rank(TOPOLOGY, stamps, v, COLUMNS, method=method)
        assert r["method"] == method
        assert r["anomaly_time"] == "2026-01-01T13:30:00.000Z"
        assert "anomaly time found in the data" in r["notes"][0]
    assert rca.method_names()[0] == "default"


def test_missing_values_are_filled_and_noted() -> None:
    t, v = shop()
    v[10, 3] = np.nan
    r = rca.rank(TOPOLOGY, t, v, COLUMNS, anomaly_time="2026-01-01T13:30:00Z")
    assert any("1 missing values filled" in n for n in r["notes"])
    assert len(r["root_causes"]) == 4


def test_bad_input_raises_typed_errors() -> None:
    t, v = shop()
    with pytest.raises(aiops.InvalidInputError, match="not in the topology"):
        rca.rank(TOPOLOGY, t, v, COLUMNS[:4] + ["db:cpu"])
    with pytest.raises(aiops.InvalidInputError, match="outside"):
        rca.rank(TOPOLOGY, t, v, COLUMNS, anomaly_time=START + 10_000_000)
    with pytest.raises(aiops.InvalidInputError, match="strictly increase"):
        rca.rank(TOPOLOGY, t[::-1], v, COLUMNS)
    with pytest.raises(aiops.InvalidInputError, match="constant"):
        rca.rank(TOPOLOGY, t, np.ones_like(v), COLUMNS)
    with pytest.raises(aiops.InvalidParameterError, match="unknown method"):
        rca.rank(TOPOLOGY, t, v, COLUMNS, method="magic")
    with pytest.raises(aiops.InvalidParameterError, match="shape"):
        rca.rank(TOPOLOGY, t, v[:, :3], COLUMNS)
    with pytest.raises(aiops.ParseError):
        rca.rank("{", t, v, COLUMNS)
