"""Root-cause ranking from Python: a small shop made in the test."""

import numpy as np
import pytest

import aiops
from aiops import rca

TOPOLOGY = aiops.Topology.from_dict(
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
START = 1_767_268_800_000  # 2026-01-01T12:00:00Z, ms


def shop() -> tuple[np.ndarray, np.ndarray]:
    """120 minutes; cart's CPU and latency jump at minute 90, the frontend a minute later."""
    rng = np.random.default_rng(5)
    t = START + 60_000 * np.arange(120, dtype=np.int64)
    v = rng.normal(0.0, 1.0, (120, 5)) + np.array([60.0, 20.0, 15.0, 30.0, 40.0])
    v[90:, 1] += 30.0
    v[90:, 2] += 25.0
    v[91:, 0] += 25.0
    return t, v


def test_ranks_the_culprit_first_with_the_report_shape() -> None:
    t, v = shop()
    r = rca.rank(TOPOLOGY, t, v, COLUMNS, anomaly_time=START + 90 * 60_000)
    assert isinstance(r, rca.RcaReport)
    assert r.anomaly_time == START + 90 * 60_000 and not r.anomaly_time_detected
    causes = r.root_causes
    assert all(isinstance(c, rca.RootCause) for c in causes)
    assert [c.rank for c in causes] == [1, 2, 3, 4]
    assert causes[0].resource == "cart" and causes[0].metric is not None
    assert 0.0 <= causes[0].confidence <= 1.0
    assert causes[0].evidence[0].startswith("cart:")
    assert r.affected == ["frontend"]
    assert r.recommended_actions == []
    assert "best='cart'" in repr(r) and "RootCause(rank=1, resource='cart'" in repr(causes[0])
    d = r.to_dict()
    assert list(d) == [
        "anomaly_time",
        "method",
        "root_causes",
        "impact",
        "recommended_actions",
        "notes",
    ]
    assert d["anomaly_time"] == "2026-01-01T13:30:00.000Z"
    assert d["impact"]["affected"] == ["frontend"]
    assert d["root_causes"][0]["resource"] == "cart"


def test_timestamps_in_every_form_give_the_same_report() -> None:
    t, v = shop()
    reference = rca.rank(TOPOLOGY, t, v, COLUMNS).to_dict()
    for stamps in (t.astype("datetime64[ms]"), (t // 1000).astype("datetime64[s]"), list(t)):
        assert rca.rank(TOPOLOGY, stamps, v, COLUMNS).to_dict() == reference
    given = rca.rank(TOPOLOGY, t, v, COLUMNS, anomaly_time=np.datetime64(START + 90 * 60_000, "ms"))
    assert given.anomaly_time == START + 90 * 60_000
    # Seconds are not guessed: a float array is refused, an int array is milliseconds.
    with pytest.raises(TypeError, match="float"):
        rca.rank(TOPOLOGY, t / 1000.0, v, COLUMNS)
    with pytest.raises(TypeError, match="float"):
        rca.rank(TOPOLOGY, t, v, COLUMNS, anomaly_time=1.7e12)


def test_rank_frame_with_pandas() -> None:
    pd = pytest.importorskip("pandas")
    t, v = shop()
    frame = pd.DataFrame(v, columns=COLUMNS, index=pd.to_datetime(t, unit="ms", utc=True))
    r = rca.rank_frame(TOPOLOGY, frame, anomaly_time=pd.Timestamp("2026-01-01T13:30:00Z"))
    assert r.to_dict() == rca.rank(TOPOLOGY, t, v, COLUMNS, anomaly_time=START + 90 * 60_000).to_dict()


def test_finds_the_time_and_accepts_datetime64_and_every_method() -> None:
    t, v = shop()
    stamps = t.astype("datetime64[ms]")
    for method in rca.method_names():
        r = rca.rank(TOPOLOGY, stamps, v, COLUMNS, method=method)
        assert r.method == method
        assert r.anomaly_time == START + 90 * 60_000 and r.anomaly_time_detected
        assert "anomaly time found in the data" in r.notes[0]
    assert rca.method_names()[0] == "default"


def test_missing_values_are_filled_and_noted() -> None:
    t, v = shop()
    v[10, 3] = np.nan
    r = rca.rank(TOPOLOGY, t, v, COLUMNS, anomaly_time="2026-01-01T13:30:00Z")
    assert any("1 missing values filled" in n for n in r.notes)
    assert len(r.root_causes) == 4


def test_bad_input_raises_typed_errors() -> None:
    t, v = shop()
    with pytest.raises(aiops.UnknownResourceError, match="not in the topology"):
        rca.rank(TOPOLOGY, t, v, COLUMNS[:4] + ["db:cpu"])
    with pytest.raises(aiops.InvalidInputError, match="outside"):
        rca.rank(TOPOLOGY, t, v, COLUMNS, anomaly_time=START + 10_000_000_000)
    with pytest.raises(aiops.InvalidInputError, match="strictly increase"):
        rca.rank(TOPOLOGY, t[::-1], v, COLUMNS)
    with pytest.raises(aiops.InvalidInputError, match="constant"):
        rca.rank(TOPOLOGY, t, np.ones_like(v), COLUMNS)
    with pytest.raises(aiops.InvalidParameterError, match="unknown method"):
        rca.rank(TOPOLOGY, t, v, COLUMNS, method="magic")
    with pytest.raises(aiops.InvalidParameterError, match="shape"):
        rca.rank(TOPOLOGY, t, v[:, :3], COLUMNS)
    with pytest.raises(TypeError):
        rca.rank("{", t, v, COLUMNS)  # type: ignore[arg-type]
