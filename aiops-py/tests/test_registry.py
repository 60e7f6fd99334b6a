"""The generic Detector (every registry detector) and the NAB evaluation."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import aiops
from aiops import Detector, InvalidParameterError


def _series(n: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    t = np.arange(n)
    v = 50 + 10 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 0.5, n)
    v[1200] += 60
    return t.astype(np.int64) * 60_000, v


@pytest.mark.parametrize("name", aiops.detector_names())
def test_every_registry_detector_runs_batch_and_online_alike(name: str) -> None:
    params = {"upper": 90.0} if name == "threshold" else {}
    det = aiops.build_detector(name, **params)
    ts, v = _series()
    d = det.detect(ts, v)
    assert len(d) == len(v)
    assert np.all(np.isfinite(d.scores))
    online = Detector(name, **params)
    for i in range(len(v)):
        score, flagged = online.update(int(ts[i]), float(v[i]))
        assert score == d.scores[i]
        assert flagged == d.is_anomaly[i]


@pytest.mark.parametrize("name", aiops.detector_names())
def test_pickled_streaming_state_continues(name: str) -> None:
    params = {"upper": 90.0} if name == "threshold" else {}
    ts, v = _series()
    whole = Detector(name, **params).detect(ts, v)
    det = Detector(name, **params)
    for i in range(700):
        det.update(int(ts[i]), float(v[i]))
    det = pickle.loads(pickle.dumps(det))
    for i in range(700, len(v)):
        score, _ = det.update(int(ts[i]), float(v[i]))
        assert score == whole.scores[i], i


def test_default_detector_flags_the_spike() -> None:
    ts, v = _series()
    d = Detector().detect(ts, v)
    assert d.is_anomaly[1200]
    assert Detector().name == "default"


def test_params_errors_and_pickle() -> None:
    det = Detector("zscore", window=30, threshold=4.0)
    assert det.params == {"window": 30, "threshold": 4.0}
    back = pickle.loads(pickle.dumps(det))
    assert back.name == "zscore" and back.params == det.params
    assert "zscore" in repr(det)
    with pytest.raises(InvalidParameterError, match="unknown detector"):
        Detector("nope")
    with pytest.raises(InvalidParameterError, match="windw"):
        Detector("zscore", windw=3)
    with pytest.raises(ValueError):
        Detector("default", threshold=5.0)
    det = Detector()
    det.update(10, 1.0)
    with pytest.raises(aiops.InvalidInputError):
        det.update(10, 1.0)
    det.reset()
    det.update(10, 1.0)


def _tiny_nab(root: Path) -> None:
    (root / "data" / "cat").mkdir(parents=True)
    (root / "labels").mkdir()
    windows = {}
    for name, at in [("a.csv", 600), ("b.csv", 700)]:
        lines = ["timestamp,value"]
        for i in range(1000):
            t = np.datetime64("2024-01-01T00:00") + np.timedelta64(5 * i, "m")
            v = 100.0 if i == at else 10.0 + i % 3
            lines.append(f"{str(t).replace('T', ' ')}:00,{v}")
        (root / "data" / "cat" / name).write_text("\n".join(lines) + "\n")
        s = lambda i: str(np.datetime64("2024-01-01T00:00") + np.timedelta64(5 * i, "m")).replace("T", " ") + ":00.000000"
        windows[f"cat/{name}"] = [[s(at - 10), s(at + 20)]]
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))


def test_nab_evaluate(tmp_path: Path) -> None:
    _tiny_nab(tmp_path)
    r = aiops.nab_evaluate(tmp_path)
    assert r["detector"] == "default"
    assert 50.0 < float(r["standard"]) <= 100.0
    r = aiops.nab_evaluate(tmp_path, "threshold", upper=50.0)
    assert float(r["standard"]) > 50.0
    # Given each file's range (NAB's protocol) or learning it, the spike is found either way.
    for learn_range in (False, True):
        r = aiops.nab_evaluate(tmp_path, "contextual", learn_range=learn_range)
        assert r["detector"] == "contextual"
        assert 50.0 < float(r["standard"]) <= 100.0
    with pytest.raises(aiops.AiopsIOError):
        aiops.nab_evaluate(tmp_path / "missing")


def test_events_evaluate(tmp_path: Path) -> None:
    # Two labelled series: a spike at 300 (labelled), and one with no anomaly.
    rng = np.random.default_rng(3)
    for name, spike in (("a.csv", True), ("b.csv", False)):
        lines = ["timestamp,value,label"]
        for i in range(600):
            v = 10.0 + rng.normal() * 0.1 + (50.0 if spike and i == 300 else 0.0)
            lines.append(f"{1_700_000_000 + 60 * i},{v},{int(spike and i == 300)}")
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    r = aiops.events_evaluate(tmp_path, "threshold", upper=30.0)
    assert r["detector"] == "threshold"
    assert (r["series"], r["segments"], r["found"], r["false_alarms"]) == (2, 1, 1, 0)
    assert r["f1"] == pytest.approx(1.0)
    # Nothing flagged: the segment is missed.
    r = aiops.events_evaluate(tmp_path, "threshold", upper=1000.0)
    assert (r["found"], r["f1"]) == (0, 0.0)
    # The seeded synthetic family, with recall per kind of anomaly.
    r = aiops.events_evaluate(None, "zscore")
    assert r["series"] == 60
    assert 0.0 < float(r["f1"]) < 1.0  # type: ignore[arg-type]
    assert "spike" in r["recall_by_kind"]  # type: ignore[operator]
    with pytest.raises(aiops.InvalidParameterError):
        aiops.events_evaluate(tmp_path, "zscore", window=-1)
    with pytest.raises(aiops.AiopsIOError):
        aiops.events_evaluate(tmp_path / "missing")


@pytest.mark.parametrize("name", aiops.multivariate_detector_names())
def test_multivariate_detectors(name: str) -> None:
    rng = np.random.default_rng(5)
    n = 800
    base = rng.normal(0, 1, n)
    rows = np.column_stack([base, 2 * base + rng.normal(0, 0.1, n), rng.normal(0, 1, n)])
    rows[600] = [0.0, 8.0, 0.0]  # breaks the correlation between the first two metrics
    det = aiops.MultivariateDetector(name)
    d = det.detect(None, rows)
    assert len(d) == n
    assert d.is_anomaly[600]
    online = aiops.MultivariateDetector(name)
    for i in range(n):
        score, flagged = online.update(i, rows[i])
        assert score == d.scores[i] and flagged == d.is_anomaly[i]
    with pytest.raises(aiops.InvalidInputError):
        online.update(n + 1, [1.0, 2.0])
    with pytest.raises(InvalidParameterError):
        aiops.MultivariateDetector("nope")
    back = pickle.loads(pickle.dumps(det))
    assert back.name == name


_EXTREMES = {
    "huge": np.random.default_rng(0).normal(0, 1, 1500) * 1e140,
    "tiny": np.random.default_rng(1).normal(0, 1, 1500) * 1e-300,
    "flat": np.full(1500, 5.0),
    "steps": np.repeat(np.random.default_rng(2).normal(0, 1, 15), 100),
    "limits": np.concatenate([np.zeros(500), np.full(500, 1e150), -np.full(500, 1e150)]),
    "short": np.array([1.0, 2.0, 3.0]),
}


@pytest.mark.parametrize("name", aiops.detector_names())
def test_extreme_inputs_give_finite_scores_or_a_clear_error(name: str) -> None:
    params = {"upper": 1.0} if name == "threshold" else {}
    for case, v in _EXTREMES.items():
        d = Detector(name, **params).detect(values=v)
        assert np.all(np.isfinite(d.scores)), (name, case)
    with pytest.raises(aiops.InvalidInputError, match="out of range"):
        Detector(name, **params).detect(values=np.array([0.0, 1e300]))
