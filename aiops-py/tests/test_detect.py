"""Detectors: batch detection, streaming equal to batch, parameters, pickling, registry."""

import pickle
import threading

import numpy as np
import pytest

from aiops import (
    Detections,
    InvalidInputError,
    InvalidParameterError,
    Detector,
    TimeSeries,
    build_detector,
    detect,
    detector_names,
)

Data = tuple[np.ndarray, np.ndarray, list[int]]


def test_zscore_finds_injected_spikes(noisy_with_spikes: Data) -> None:
    timestamps, values, spikes = noisy_with_spikes
    det = Detector("zscore", window=100, threshold=4.0)
    d = det.detect(timestamps, values)
    assert isinstance(d, Detections)
    assert len(d) == values.size
    assert d.scores.dtype == np.float64 and d.is_anomaly.dtype == np.bool_
    assert np.flatnonzero(d.is_anomaly).tolist() == spikes
    assert np.all(d.scores[:100] == 0.0), "warm-up scores 0"
    assert np.all(np.isnan(d.expected[:100])), "no expectation while warming up"
    assert abs(d.expected[500] - 100.0) < 0.2
    assert d.lower[500] < d.expected[500] < d.upper[500]
    assert det.severity(d.scores[500]) in ("medium", "high", "critical")
    assert repr(d) == f"Detections(len={values.size}, anomalies=3)"


def test_detect_accepts_series_default_timestamps_and_strided_input(noisy_with_spikes: Data) -> None:
    timestamps, values, _ = noisy_with_spikes
    det = Detector("zscore", window=50)
    reference = det.detect(timestamps, values)
    from_series = det.detect(TimeSeries(timestamps, values))
    default_ts = det.detect(values=values)
    as_datetime = det.detect(timestamps.astype("datetime64[ms]"), values)
    for d in (from_series, default_ts, as_datetime):
        np.testing.assert_array_equal(d.scores, reference.scores)
        np.testing.assert_array_equal(d.is_anomaly, reference.is_anomaly)
    strided = np.repeat(values, 2)[::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(det.detect(timestamps[::1], strided).scores, reference.scores)
    np.testing.assert_array_equal(det.detect(values=list(values)).scores, reference.scores)
    with pytest.raises(TypeError):
        det.detect(TimeSeries(timestamps, values), values)


def test_the_old_argument_order_is_refused_with_a_clear_error(noisy_with_spikes: Data) -> None:
    timestamps, values, _ = noisy_with_spikes
    det = Detector("zscore", window=50)
    with pytest.raises(TypeError, match=r"detect\(timestamps, values\).*old detect\(values, timestamps\)"):
        det.detect(values, timestamps)
    with pytest.raises(TypeError, match="old"):
        det.detect(values)
    with pytest.raises(TypeError, match="float"):
        det.detect(timestamps.astype(np.float64), values, )


def test_timestamps_in_every_accepted_form_give_the_same_scores(noisy_with_spikes: Data) -> None:
    timestamps, values, _ = noisy_with_spikes
    det = Detector("zscore", window=50)
    reference = det.detect(timestamps, values).scores
    for unit in ("ms", "us", "ns"):
        stamps = timestamps.astype(f"datetime64[{unit}]") if unit == "ms" else (
            timestamps.astype("datetime64[ms]").astype(f"datetime64[{unit}]")
        )
        np.testing.assert_array_equal(det.detect(stamps, values).scores, reference)
    # Seconds are exact too, and so are Python datetimes and ints.
    secs = (timestamps // 1000).astype("datetime64[s]")
    np.testing.assert_array_equal(
        det.detect(secs, values).scores, det.detect(timestamps // 1000 * 1000, values).scores
    )
    with pytest.raises(InvalidInputError, match="NaT|not a timestamp"):
        det.detect(np.array(["NaT", "2024-01-01"], dtype="datetime64[ms]"), [1.0, 2.0])
    # Streaming takes the same forms, one at a time.
    a, b = Detector("zscore", window=5), Detector("zscore", window=5)
    for t, v in zip(timestamps[:50], values[:50]):
        assert a.update(int(t), float(v)) == b.update(np.datetime64(int(t), "ms"), float(v))


def test_pandas_datetimes_are_converted_exactly(noisy_with_spikes: Data) -> None:
    pd = pytest.importorskip("pandas")
    timestamps, values, _ = noisy_with_spikes
    det = Detector("zscore", window=50)
    reference = det.detect(timestamps, values).scores
    index = pd.to_datetime(timestamps, unit="ms")
    np.testing.assert_array_equal(det.detect(index, values).scores, reference)
    aware = index.tz_localize("UTC").tz_convert("Europe/Paris")
    np.testing.assert_array_equal(det.detect(aware, values).scores, reference)
    np.testing.assert_array_equal(det.detect(pd.Series(aware), values).scores, reference)
    s, _ = Detector("zscore", window=5), None
    assert s.update(pd.Timestamp(int(timestamps[0]), unit="ms", tz="UTC"), 1.0) == (0.0, False)
    with pytest.raises(InvalidInputError):
        s.update(pd.Timestamp(int(timestamps[0]), unit="ms").tz_localize("UTC").tz_convert("Asia/Tokyo"), 1.0)


def test_threshold() -> None:
    det = Detector("threshold", upper=20.0, lower=10.0)
    d = det.detect(np.arange(1, 6), np.array([15.0, 25.0, 20.0, 10.0, 4.0]))
    assert d.is_anomaly.tolist() == [False, True, False, False, True]
    np.testing.assert_array_equal(d.scores, [0.0, 5.0, 0.0, 0.0, 6.0])
    assert d.upper[0] == 20.0 and d.lower[0] == 10.0 and np.isnan(d.expected[0])
    assert det.name == "threshold" and det.params == {"upper": 20.0, "lower": 10.0}
    assert det.severity(5.0) == "high"
    assert Detector("threshold", upper=1.0, severity="warning").severity(1.0) == "medium"


@pytest.mark.parametrize(
    "det",
    [
        Detector("zscore", window=100, threshold=4.0),
        Detector("zscore", window=20, min_periods=5, direction="up"),
        Detector("zscore", window=2, direction="down"),
        Detector("threshold", upper=105.0, lower=95.0),
    ],
    ids=repr,
)
def test_online_equals_batch_exactly(det: Detector, noisy_with_spikes: Data) -> None:
    timestamps, values, _ = noisy_with_spikes
    batch = det.detect(timestamps, values)
    streamed = [det.update(int(t), float(v)) for t, v in zip(timestamps, values)]
    assert [s for s, _ in streamed] == batch.scores.tolist()
    assert [a for _, a in streamed] == batch.is_anomaly.tolist()
    det.reset()
    assert det.update(int(timestamps[0]), float(values[0])) == (batch.scores[0], batch.is_anomaly[0])


def test_pickle_keeps_parameters_and_stream_state(noisy_with_spikes: Data) -> None:
    timestamps, values, _ = noisy_with_spikes
    det = Detector("zscore", window=30, threshold=2.5, min_periods=10, direction="up")
    batch = det.detect(timestamps, values)
    for i in range(1000):
        det.update(int(timestamps[i]), float(values[i]))
    restored = pickle.loads(pickle.dumps(det))
    assert repr(restored) == repr(det)
    assert restored.params == {"window": 30, "threshold": 2.5, "min_periods": 10, "direction": "up"}
    rest = [restored.update(int(t), float(v))[0] for t, v in zip(timestamps[1000:], values[1000:])]
    assert rest == batch.scores[1000:].tolist()

    th = Detector("threshold", lower=1.0, severity="critical")
    th.update(5, 0.0)
    back = pickle.loads(pickle.dumps(th))
    assert repr(back) == repr(th) == "Detector('threshold', lower=1.0, severity='critical')"
    with pytest.raises(InvalidInputError, match="not after"):
        back.update(5, 0.0)


def test_online_rejects_bad_points() -> None:
    det = Detector("zscore", window=3)
    det.update(10, 1.0)
    with pytest.raises(InvalidInputError, match="not after"):
        det.update(9, 1.0)
    with pytest.raises(InvalidInputError, match="not finite"):
        det.update(11, float("nan"))
    det.update(11, 1.0)  # the refused points left the state usable


@pytest.mark.parametrize(
    ("values", "timestamps", "match"),
    [
        ([], [], "empty"),
        ([0.0, 0.0], [1, 1], "duplicate"),
        ([0.0, 0.0], [2, 1], "not sorted"),
        ([0.0, np.nan], [1, 2], "not finite"),
        ([0.0], [1, 2], "length mismatch"),
    ],
)
def test_detect_rejects_bad_input(values: list[float], timestamps: list[int], match: str) -> None:
    for det in (Detector("zscore", window=3), Detector("threshold", upper=1.0)):
        with pytest.raises(InvalidInputError, match=match):
            det.detect(np.array(timestamps, dtype=np.int64), np.array(values, dtype=np.float64))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Detector("zscore", window=1), "window"),
        (lambda: Detector("zscore", window=-1), "-1"),
        (lambda: Detector("zscore", threshold=0.0), "threshold"),
        (lambda: Detector("zscore", threshold=float("nan")), "threshold"),
        (lambda: Detector("zscore", window=10, min_periods=11), "min_periods"),
        (lambda: Detector("zscore", min_periods=1), "min_periods"),
        (lambda: Detector("zscore", direction="sideways"), "sideways"),
        (lambda: Detector("threshold"), "upper"),
        (lambda: Detector("threshold", upper=1.0, lower=2.0), "inconsistent bounds"),
        (lambda: Detector("threshold", upper=float("inf")), "finite"),
        (lambda: Detector("threshold", upper=1.0, severity="bogus"), "severity"),
    ],
)
def test_bad_parameters(make: object, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match) as e:
        make()  # type: ignore[operator]
    assert isinstance(e.value, ValueError)


def test_registry() -> None:
    names = detector_names()
    assert names[0] == "default" and {"zscore", "threshold", "novelty"} <= set(names)
    z = build_detector("zscore", window=10, direction="up")
    assert isinstance(z, Detector) and z.params == {"window": 10, "direction": "up"}
    assert z.name == "zscore"
    assert isinstance(build_detector("zscore"), Detector)
    t = build_detector("threshold", upper=5)
    assert isinstance(t, Detector) and t.params == {"upper": 5}
    with pytest.raises(InvalidParameterError, match="zscore, threshold"):
        build_detector("nope")
    assert build_detector("novelty", levels=8).name == "novelty"
    with pytest.raises(InvalidParameterError, match="windw"):
        build_detector("zscore", windw=3)
    with pytest.raises(InvalidParameterError, match="window"):
        build_detector("zscore", window=1)
    with pytest.raises(InvalidParameterError):
        build_detector("threshold")


def test_detect_submodule() -> None:
    assert detect.Detector is Detector
    assert "Detector" in detect.__all__ and "RollingZScore" not in detect.__all__


def test_threads_share_a_detector(noisy_with_spikes: Data) -> None:
    # detect releases the GIL; concurrent calls on one object must agree.
    timestamps, values, _ = noisy_with_spikes
    det = Detector("zscore", window=100, threshold=4.0)
    expected = det.detect(timestamps, values).scores
    results: list[np.ndarray] = []

    def run() -> None:
        results.append(det.detect(timestamps, values).scores)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    for r in results:
        np.testing.assert_array_equal(r, expected)
