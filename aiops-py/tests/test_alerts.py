"""aiops.alerts: the correlation engine fed from Python."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import aiops
from aiops import Topology
from aiops.alerts import Alert, AlertEngine, AlertStats, Incident, IngestOutcome, Notification

TOPOLOGY = Topology(
    nodes=[(s, "service") for s in ("frontend", "cart", "db", "mail")],
    edges=[("frontend", "cart", "calls"), ("cart", "db", "calls")],
)
T0 = 1714557600000  # 2024-05-01T10:00:00Z


def alert(name: str, service: str, minute: int, severity: str = "critical") -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "service": service, "severity": severity},
        "annotations": {},
        "startsAt": f"2024-05-01T10:{minute:02d}:00Z",
    }


def test_topology_storm_becomes_one_incident_with_its_origin() -> None:
    e = AlertEngine(topology=TOPOLOGY)
    out = e.ingest(
        [
            alert("DbDown", "db", 0),
            alert("CartErrors", "cart", 1),
            alert("FrontendLatency", "frontend", 2, "warning"),
            alert("CartErrors", "cart", 1),  # re-sent: a duplicate
            alert("MailQueue", "mail", 3),  # unrelated
        ]
    )
    assert all(isinstance(o, IngestOutcome) for o in out)
    ids = [o.incident for o in out]
    assert ids[0] is not None and ids[0] == ids[1] == ids[2]
    assert ids[4] is not None and ids[4] != ids[0]
    assert [o.outcome for o in out] == ["new", "new", "new", "duplicate", "new"]
    # Each alert ran at its own start; the late duplicate at the engine's time.
    assert [o.at for o in out] == [T0, T0 + 60_000, T0 + 120_000, T0 + 120_000, T0 + 180_000]
    assert e.now == T0 + 180_000
    incidents = {i.id: i for i in e.incidents()}
    storm = incidents[ids[0]]
    assert isinstance(storm, Incident)
    assert storm.probable_origin == "db"
    assert len(storm.alerts) == 3 and all(isinstance(a, Alert) for a in storm.alerts)
    assert storm.resources == ["cart", "db", "frontend"]
    assert storm.started_at == T0 and storm.resolved_at is None and storm.status == "open"
    assert storm.to_dict()["id"] == storm.id
    assert "probable_origin='db'" in repr(storm)
    stats = e.stats()
    assert isinstance(stats, AlertStats)
    assert (stats.alerts_in, stats.duplicates, stats.incidents) == (5, 1, 2)
    assert stats.to_dict()["alerts_in"] == 5


def test_an_alert_linking_two_incidents_merges_them() -> None:
    e = AlertEngine(topology=TOPOLOGY)
    # frontend and db are two hops apart: two incidents, until cart links them.
    ids = [o.incident for o in e.ingest([alert("Latency", "frontend", 0), alert("Down", "db", 0)])]
    assert ids[0] != ids[1]
    (joined,) = e.ingest(alert("Errors", "cart", 1))
    assert joined.incident == ids[0]
    assert e.current_incident(ids[1]) == ids[0]
    assert e.current_incident("inc-99") is None
    (incident,) = e.incidents()
    assert incident.probable_origin == "db"
    assert e.stats().incidents == 1


def test_config_from_a_dict_a_yaml_file_or_yaml_text_and_snapshots(tmp_path: Path) -> None:
    yaml = "route:\n  receiver: team\n  group_by: [alertname]\n  group_wait: 30s\n  group_interval: 5m\n"
    (tmp_path / "am.yml").write_text(yaml)
    as_dict = {
        "route": {"receiver": "team", "group_by": ["alertname"], "group_wait": "30s", "group_interval": "5m"}
    }
    engines = [
        AlertEngine(as_dict),
        AlertEngine(tmp_path / "am.yml"),
        AlertEngine(str(tmp_path / "am.yml")),
        AlertEngine.from_yaml(yaml),
    ]
    for e in engines:
        e.ingest(alert("CartErrors", "cart", 0))
        assert e.tick(T0 + 10_000) == []
        restored = AlertEngine.restore(e.snapshot())
        pickled = pickle.loads(pickle.dumps(e))
        for engine in (e, restored, pickled):
            (batch,) = engine.tick(T0 + 30_000)
            assert isinstance(batch, Notification)
            assert batch.receiver == "team" and batch.at == T0 + 30_000
            assert batch.group_labels == {"alertname": "CartErrors"}
            assert [a.labels["service"] for a in batch.firing] == ["cart"] and batch.resolved == []
            assert batch.to_dict()["receiver"] == "team"


def test_alert_objects_and_timestamps() -> None:
    a = Alert({"alertname": "X", "severity": "critical"}, np.datetime64("2024-05-01T10:00:00", "s"))
    assert a.starts_at == T0 and a.ends_at is None and a.status == "firing"
    assert a.severity == "critical" and len(a.fingerprint) == 16
    d = a.to_dict()
    assert d["startsAt"] == "2024-05-01T10:00:00.000Z" and d["labels"] == {"alertname": "X", "severity": "critical"}
    assert Alert.from_dict(d) == a
    assert pickle.loads(pickle.dumps(a)) == a
    # Timestamps in a dict may be int ms or datetimes as well as RFC 3339 text.
    assert Alert.from_dict({"labels": {"alertname": "X", "severity": "critical"}, "startsAt": T0}) == a
    ended = Alert({"alertname": "X"}, T0, ends_at=T0 + 60_000)
    assert ended.status_at(T0) == "firing" and ended.status_at(T0 + 60_000) == "resolved"
    # An explicit time runs every alert at it.
    e = AlertEngine()
    (o,) = e.ingest(a, now=T0 + 5_000)
    assert o.at == T0 + 5_000 and o.fingerprint == a.fingerprint
    assert o.to_dict()["outcome"] == "new"
    # Webhook payloads are read as their alerts.
    out = e.ingest({"version": "4", "status": "firing", "alerts": [alert("A", "cart", 1), alert("B", "db", 1)]})
    assert len(out) == 2


def test_time_never_goes_backwards() -> None:
    e = AlertEngine()
    e.tick(T0 + 60_000)
    with pytest.raises(aiops.InvalidParameterError, match="backwards"):
        e.ingest(alert("A", "cart", 0), now=T0)
    # Without `now`, a late alert runs at the engine's time.
    (o,) = e.ingest(alert("A", "cart", 0))
    assert o.at == T0 + 60_000
    with pytest.raises(aiops.InvalidParameterError, match="backwards"):
        e.tick(T0)


def test_bad_input_raises_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(aiops.ConfigError):
        AlertEngine.from_yaml("route: [")
    with pytest.raises(aiops.ConfigError):
        AlertEngine({"route": {"receiver": "x", "bogus": 1}})
    with pytest.raises(aiops.AiopsFileNotFoundError):
        AlertEngine(tmp_path / "missing.yml")
    with pytest.raises(TypeError):
        AlertEngine(topology='{"nodes": []}')  # type: ignore[arg-type]
    e = AlertEngine()
    with pytest.raises(aiops.ParseError):
        e.ingest({"labels": {}, "startsAt": "yesterday"})
    with pytest.raises(TypeError, match="json.loads"):
        e.ingest('{"labels": {"a": "b"}}')  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        e.ingest(alert("A", "cart", 0), now=1.5e12)  # type: ignore[arg-type]
    # A bad regex inside the YAML is reported as the configuration's error, naming it.
    with pytest.raises(aiops.ParseError, match="invalid regular expression"):
        AlertEngine.from_yaml('inhibit_rules:\n  - source_matchers: [\'a=~"("\']\n    target_matchers: [b="c"]\n')
    with pytest.raises(aiops.SnapshotError):
        AlertEngine.restore("not json")
    with pytest.raises(aiops.SnapshotError):
        AlertEngine.restore('{"version": 3}')
