"""Snapshots and pickles written by aiops 0.1.0 restore and continue as 0.1.0 would have.

``fixtures/snapshots_v1.json`` was written by 0.1.0: detectors pickled in the middle of a
series, a template miner, a log detector and an alert engine saved mid-stream, with what each
answered afterwards.
"""

import base64
import io
import json
import pickle
from pathlib import Path

import pytest

import aiops

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "snapshots_v1.json").read_text())


# `default` became a different algorithm on 2026-12-07; the one 0.1.0 pickled as `default`
# is `extremes_contextual` now.
RENAMED = {"default": "extremes_contextual"}


class _Renamed(pickle.Unpickler):
    """Unpickles a detector saved under a name that now builds another algorithm as the
    algorithm it was."""

    def find_class(self, module: str, name: str) -> object:
        found = super().find_class(module, name)
        if found is not aiops.Detector:
            return found

        class Legacy:
            def __new__(cls, name: str, **params: object) -> aiops.Detector:  # type: ignore[misc]
                return aiops.Detector(RENAMED.get(name, name), **params)

        return Legacy


@pytest.mark.parametrize("name", sorted(FIXTURE["detectors"]))
def test_pickled_detectors_continue(name: str) -> None:
    case = FIXTURE["detectors"][name]
    raw = base64.b64decode(case["pickle"])
    if name in RENAMED:
        # Unpickled as is, the state does not fit the new algorithm: a typed error.
        with pytest.raises(aiops.SnapshotError):
            pickle.loads(raw)
        det = _Renamed(io.BytesIO(raw)).load()
        assert det.name == RENAMED[name]
    else:
        det = pickle.loads(raw)
    got = [list(det.update(t, v)) for t, v in zip(FIXTURE["timestamps"], FIXTURE["values"])]
    assert got == case["tail"]


def test_template_miner_snapshot_and_pickle_continue() -> None:
    case = FIXTURE["miner"]
    for miner in (
        aiops.TemplateMiner.restore(case["snapshot"]),
        pickle.loads(base64.b64decode(case["pickle"])),
    ):
        assert [list(miner.learn(line)) for line in case["tail"]] == case["learned"]


def test_log_detector_snapshot_continues() -> None:
    case = FIXTURE["log_detector"]
    det = aiops.LogDetector.restore(case["snapshot"])
    closed = [det.update(line) for line in case["tail"]] + [det.finish()]
    assert [None if c is None else c.to_dict() for c in closed] == case["closed"]


def test_alert_engine_snapshot_continues() -> None:
    case = FIXTURE["alert_engine"]
    # 0.1 took the alerts as JSON lines; they are dicts now.
    alerts = [json.loads(line) for line in case["alerts"].splitlines() if line.strip()]
    restored = aiops.AlertEngine.restore(case["snapshot"])
    # A snapshot written now (version 2) restores to the same engine.
    again = aiops.AlertEngine.restore(restored.snapshot())
    assert json.loads(again.snapshot())["version"] == 2
    for engine in (restored, again):
        assert [o.incident for o in engine.ingest(alerts, now=case["now"])] == case["ingested"]
        assert [b.to_dict() for b in engine.tick(case["tick"])] == case["batches"]
        assert [i.to_dict() for i in engine.incidents()] == case["incidents"]
        assert engine.stats().to_dict() == case["stats"]
