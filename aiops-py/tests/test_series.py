"""TimeSeries: construction, zero-copy columns, operations, JSON and pickle."""

import copy
import gc
import pickle

import numpy as np
import pytest

import aiops
from aiops import InvalidInputError, InvalidParameterError, ParseError, TimeSeries


def make(n: int = 5, labels: dict[str, str] | None = None) -> TimeSeries:
    return TimeSeries(np.arange(n, dtype=np.int64) * 1000, np.arange(n, dtype=np.float64), labels)


def test_construct_and_read_back() -> None:
    ts = make(4, {"job": "api", "instance": "h1"})
    assert len(ts) == 4
    assert ts.timestamps.dtype == np.int64
    assert ts.values.dtype == np.float64
    np.testing.assert_array_equal(ts.timestamps, [0, 1000, 2000, 3000])
    np.testing.assert_array_equal(ts.values, [0.0, 1.0, 2.0, 3.0])
    assert ts.labels == {"instance": "h1", "job": "api"}
    assert "len=4" in repr(ts) and 'job="api"' in repr(ts)


def test_accepts_lists_and_int_values() -> None:
    ts = TimeSeries([1, 2, 3], [1, 2, 3])
    assert ts.values.dtype == np.float64
    np.testing.assert_array_equal(ts.values, [1.0, 2.0, 3.0])


def test_non_contiguous_input_is_copied_correctly() -> None:
    t = np.arange(20, dtype=np.int64)[::2]
    v = np.arange(20, dtype=np.float64)[::2]
    ts = TimeSeries(t, v)
    np.testing.assert_array_equal(ts.timestamps, t)
    np.testing.assert_array_equal(ts.values, v)


def test_columns_are_zero_copy_read_only_views() -> None:
    ts = make(1000)
    a, b = ts.values, ts.values
    assert a is not b
    assert np.shares_memory(a, b), "both views must point at the series' own buffer"
    assert np.shares_memory(ts.timestamps, ts.timestamps)
    assert a.base is ts
    for arr in (ts.values, ts.timestamps):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 42
        with pytest.raises(ValueError):
            arr.setflags(write=True)
    assert ts.values[0] == 0.0


def test_view_keeps_series_alive() -> None:
    values = make(100).values
    gc.collect()
    np.testing.assert_array_equal(values, np.arange(100.0))


def test_empty_series_is_allowed_but_not_valid() -> None:
    ts = TimeSeries(np.array([], dtype=np.int64), np.array([], dtype=np.float64))
    assert len(ts) == 0
    assert ts.values.shape == (0,)
    with pytest.raises(InvalidInputError, match="empty"):
        ts.validate()


@pytest.mark.parametrize(
    ("timestamps", "values", "match"),
    [
        ([1, 3, 2], [0.0, 0.0, 0.0], "not sorted"),
        ([1, 2, 2], [0.0, 0.0, 0.0], "duplicate timestamp"),
        ([1, 2], [0.0, 0.0, 0.0], "length mismatch"),
    ],
)
def test_bad_columns(timestamps: list[int], values: list[float], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match) as e:
        TimeSeries(np.array(timestamps, dtype=np.int64), np.array(values))
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        ({"a-b": "x"}, "invalid label name"),
        ({"9a": "x"}, "invalid label name"),
        ({"job": ""}, "empty value"),
    ],
)
def test_bad_labels(labels: dict[str, str], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        make(3, labels)


def test_wrong_types_are_type_errors() -> None:
    with pytest.raises(TypeError):
        TimeSeries(np.array([1.5, 2.5]), np.array([1.0, 2.0]))
    with pytest.raises(TypeError):
        TimeSeries([1, 2], [1.0, 2.0], {"job": 3})  # type: ignore[dict-item]


def test_validate_rejects_nan() -> None:
    ts = TimeSeries([1, 2, 3], [1.0, np.nan, 3.0])
    with pytest.raises(InvalidInputError, match="not finite"):
        ts.validate()
    make(3).validate()


def test_slice_drop_missing_resample() -> None:
    ts = TimeSeries(np.arange(10, dtype=np.int64) * 1000, np.arange(10.0), {"job": "x"})
    s = ts.slice_time(2000, 5000)
    np.testing.assert_array_equal(s.timestamps, [2000, 3000, 4000])
    assert s.labels == {"job": "x"}

    gaps = TimeSeries([1, 2, 3, 4], [1.0, np.nan, 3.0, np.nan])
    kept, removed = gaps.drop_missing()
    assert removed == 2
    np.testing.assert_array_equal(kept.values, [1.0, 3.0])

    r = ts.resample(2000)
    np.testing.assert_array_equal(r.timestamps, [0, 2000, 4000, 6000, 8000])
    np.testing.assert_array_equal(r.values, [0.5, 2.5, 4.5, 6.5, 8.5])
    np.testing.assert_array_equal(ts.resample(5000, agg="max").values, [4.0, 9.0])
    sparse = TimeSeries([0, 3000], [0.0, 3.0])
    np.testing.assert_array_equal(sparse.resample(1000, fill="linear").values, [0, 1, 2, 3])
    np.testing.assert_array_equal(sparse.resample(1000, fill="previous").values, [0, 0, 0, 3])
    assert np.isnan(sparse.resample(1000).values[1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"step_ms": 0}, "step"),
        ({"step_ms": 1000, "agg": "median"}, "agg"),
        ({"step_ms": 1000, "fill": "zero"}, "fill"),
    ],
)
def test_resample_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match) as e:
        make(3).resample(**kwargs)  # type: ignore[arg-type]
    assert isinstance(e.value, ValueError)


def test_fingerprint_matches_prometheus() -> None:
    # Golden value of prometheus/common's LabelSet.Fingerprint (see aiops-core).
    ts = make(1, {"name": "garland, briggs", "fear": "love is not enough"})
    assert ts.fingerprint == format(5_799_056_148_416_392_346, "016x")
    assert make(1).fingerprint == format(14_695_981_039_346_656_037, "016x")
    assert len(ts.fingerprint) == 16


def test_json_round_trip_keeps_gaps() -> None:
    ts = TimeSeries([1, 2, 3], [1.5, np.nan, -2.0], {"job": "api"})
    text = ts.to_json()
    assert '"values":[1.5,null,-2.0]' in text
    back = TimeSeries.from_json(text)
    np.testing.assert_array_equal(back.timestamps, ts.timestamps)
    np.testing.assert_array_equal(back.values, ts.values)
    assert back.labels == ts.labels


@pytest.mark.parametrize(
    "text",
    [
        '{"timestamps": [1, 2], "values": [1.0',
        '{"timestamps": [2, 1], "values": [1.0, 2.0]}',
        '{"timestamps": [1], "values": [1.0], "extra": 1}',
        '{"labels": {"a-b": "x"}, "timestamps": [1], "values": [1.0]}',
    ],
)
def test_from_json_rejects_bad_input(text: str) -> None:
    with pytest.raises(ParseError, match="JSON"):
        TimeSeries.from_json(text)


def test_pickle_and_copy_round_trip() -> None:
    ts = TimeSeries(np.arange(50, dtype=np.int64) * 15_000, np.sin(np.arange(50.0)), {"job": "a"})
    for back in (pickle.loads(pickle.dumps(ts)), copy.deepcopy(ts), copy.copy(ts)):
        assert isinstance(back, TimeSeries)
        np.testing.assert_array_equal(back.timestamps, ts.timestamps)
        np.testing.assert_array_equal(back.values, ts.values)  # exact: JSON keeps f64 bits
        assert back.labels == ts.labels
        assert back.fingerprint == ts.fingerprint


def test_pickle_keeps_gaps_and_infinities() -> None:
    values = np.array([1.0, np.nan, np.inf, -np.inf])
    ts = TimeSeries(np.arange(4, dtype=np.int64), values)
    back = pickle.loads(pickle.dumps(ts))
    np.testing.assert_array_equal(back.values, values)


def test_reexports() -> None:
    assert aiops.TimeSeries is aiops._aiops.TimeSeries
    assert set(aiops.__all__) >= {n for n in aiops._aiops.__all__ if not n.startswith("_")}
    assert aiops.__version__ == aiops._aiops.__version__


def test_datetimes_are_milliseconds() -> None:
    ts = np.array([0, 60_000, 120_000], dtype=np.int64)
    a = TimeSeries(ts, [1.0, 2.0, 3.0])
    b = TimeSeries(ts.astype("datetime64[ms]").astype("datetime64[s]"), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    assert b.timestamps.dtype == np.int64
    assert len(a.slice_time(np.datetime64(60, "s"), 120_000)) == 1
