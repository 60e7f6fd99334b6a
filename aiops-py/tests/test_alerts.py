"""aiops.alerts: the correlation engine fed from Python."""

from __future__ import annotations

import json

import pytest

import aiops
from aiops.alerts import AlertEngine

TOPOLOGY = json.dumps(
    {
        "nodes": [{"id": s, "kind": "service"} for s in ("frontend", "cart", "db", "mail")],
        "edges": [
            {"from": "frontend", "to": "cart", "kind": "calls"},
            {"from": "cart", "to": "db", "kind": "calls"},
        ],
    }
)


def alert(name: str, service: str, minute: int, severity: str = "critical") -> str:
    return json.dumps(
        {
            "labels": {"alertname": name, "service": service, "severity": severity},
            "annotations": {},
            "startsAt": f"2024-05-01T10:{minute:02d}:00Z",
        }
    )


def test_topology_storm_becomes_one_incident_with_its_origin() -> None:
    e = AlertEngine(topology=TOPOLOGY)
    lines = "\n".join(
        [
            alert("DbDown", "db", 0),
            alert("CartErrors", "cart", 1),
            alert("FrontendLatency", "frontend", 2, "warning"),
            alert("CartErrors", "cart", 1),  # re-sent: a duplicate
            alert("MailQueue", "mail", 3),  # unrelated
        ]
    )
    ids = e.ingest(lines)
    assert len(ids) == 5
    assert ids[0] is not None and ids[0] == ids[1] == ids[2]
    assert ids[4] is not None and ids[4] != ids[0]
    incidents = {i["id"]: i for i in e.incidents()}
    storm = incidents[ids[0]]
    assert storm["probable_origin"] == "db"
    assert len(storm["alerts"]) == 3
    stats = e.stats()
    assert stats["alerts_in"] == 5
    assert stats["duplicates"] == 1
    assert stats["incidents"] == 2


def test_an_alert_linking_two_incidents_merges_them() -> None:
    e = AlertEngine(topology=TOPOLOGY)
    # frontend and db are two hops apart: two incidents, until cart links them.
    ids = e.ingest("\n".join([alert("Latency", "frontend", 0), alert("Down", "db", 0)]))
    assert ids[0] != ids[1]
    (joined,) = e.ingest(alert("Errors", "cart", 1))
    assert joined == ids[0]
    assert e.current_incident(ids[1]) == ids[0]
    assert e.current_incident("inc-99") is None
    (incident,) = e.incidents()
    assert incident["probable_origin"] == "db"
    assert e.stats()["incidents"] == 1


def test_grouping_timers_and_snapshot() -> None:
    config = "route:\n  receiver: team\n  group_by: [alertname]\n  group_wait: 30s\n  group_interval: 5m\n"
    e = AlertEngine(config=config)
    e.ingest(alert("CartErrors", "cart", 0))
    t0 = 1714557600000  # 2024-05-01T10:00:00Z
    assert e.tick(t0 + 10_000) == []
    restored = AlertEngine.restore(e.snapshot())
    for engine in (e, restored):
        batches = engine.tick(t0 + 30_000)
        assert len(batches) == 1
        assert batches[0]["receiver"] == "team"
        assert len(batches[0]["firing"]) == 1


def test_bad_input_raises_typed_errors() -> None:
    with pytest.raises(aiops.ParseError):
        AlertEngine(config="route: [")
    with pytest.raises(aiops.ParseError):
        AlertEngine(topology="{")
    e = AlertEngine()
    with pytest.raises(aiops.InvalidInputError):
        e.ingest('{"labels": {}, "startsAt": "yesterday"}')
    # A bad regex inside the YAML is reported as the configuration's parse error, naming it.
    with pytest.raises(aiops.ParseError, match="invalid regular expression"):
        AlertEngine(config='inhibit_rules:\n  - source_matchers: [\'a=~"("\']\n    target_matchers: [b="c"]\n')
    with pytest.raises(aiops.ParseError):
        AlertEngine.restore("not json")
