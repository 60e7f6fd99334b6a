"""Readers: CSV, wide CSV, JSON lines, Prometheus; errors name the line or the file."""

import errno
import json
from pathlib import Path

import numpy as np
import pytest

from aiops import (
    AiopsError,
    AiopsFileNotFoundError,
    AiopsIOError,
    InvalidInputError,
    InvalidParameterError,
    ParseError,
    read_csv,
    read_csv_text,
    read_jsonl,
    read_prometheus_matrix,
    read_wide_csv,
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_csv_nab_style(tmp_path: Path) -> None:
    p = write(tmp_path, "s.csv", "timestamp,value\n2014-04-01 00:00:00,1.5\n2014-04-01 00:05:00,2\n")
    for arg in (p, str(p)):
        ts = read_csv(arg)
        np.testing.assert_array_equal(ts.timestamps, [1_396_310_400_000, 1_396_310_700_000])
        np.testing.assert_array_equal(ts.values, [1.5, 2.0])


def test_read_csv_text_names_metric() -> None:
    ts = read_csv_text("ts,cpu_usage\n1700000000000,1\n1700000060000,2\n")
    assert ts.labels == {"__name__": "cpu_usage"}
    assert len(ts) == 2


def test_allow_missing_and_sort() -> None:
    text = "3,30\n1,\n2,20\n1,11\n"
    with pytest.raises(ParseError):
        read_csv_text(text)
    ts = read_csv_text(text, allow_missing=True, sort="last")
    np.testing.assert_array_equal(ts.timestamps, [1000, 2000, 3000])
    np.testing.assert_array_equal(ts.values, [11.0, 20.0, 30.0])
    first = read_csv_text(text, allow_missing=True, sort="first")
    assert np.isnan(first.values[0])
    mean = read_csv_text("2,4\n1,1\n2,6\n", sort="mean")
    np.testing.assert_array_equal(mean.values, [1.0, 5.0])
    with pytest.raises(InvalidInputError, match="duplicate"):
        read_csv_text("2,4\n1,1\n2,6\n", sort="error")
    with pytest.raises(InvalidParameterError, match="sort"):
        read_csv_text("1,1\n", sort="newest")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,abc\n", 3),
        ("timestamp,value\n1,1\n2,2\nnot-a-time,3\n", 4),
        ("timestamp,value\n5,1\n3,2\n", 3),
        ("timestamp,value\n5,1\n5,2\n", 3),
        ("timestamp,value\n5,1\n6,\n", 3),
        ("timestamp,value\n5,1\n6,inf\n", 3),
    ],
)
def test_malformed_csv_names_the_line(tmp_path: Path, text: str, line: int) -> None:
    with pytest.raises(ParseError, match=f"line {line}\\b") as e:
        read_csv(write(tmp_path, "bad.csv", text))
    assert isinstance(e.value, InvalidInputError) and isinstance(e.value, ValueError)
    with pytest.raises(ParseError, match=f"line {line}\\b"):
        read_csv_text(text)


def test_empty_csv() -> None:
    with pytest.raises(InvalidInputError, match="empty"):
        read_csv_text("timestamp,value\n")


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    for reader in (read_csv, read_jsonl, read_wide_csv):
        with pytest.raises(AiopsIOError) as e:
            reader(missing)
        err = e.value
        assert isinstance(err, OSError)
        assert isinstance(err, FileNotFoundError)
        assert isinstance(err, AiopsFileNotFoundError)
        assert isinstance(err, AiopsError)
        assert err.errno == errno.ENOENT
        assert err.filename == str(missing)
        assert "nope.csv" in str(err)
    with pytest.raises(FileNotFoundError):
        read_csv(missing)


def test_directory_is_an_io_error(tmp_path: Path) -> None:
    with pytest.raises(AiopsIOError) as e:
        read_csv(tmp_path)
    assert isinstance(e.value, OSError)
    assert not isinstance(e.value, FileNotFoundError)


def test_read_wide_csv(tmp_path: Path) -> None:
    text = "timestamp,cart:cpu,frontend:latency\n1700000000,0.5,120\n1700000060,,130\n1700000120,0.7,\n"
    timestamps, names, values = read_wide_csv(write(tmp_path, "w.csv", text))
    assert names == ["cart:cpu", "frontend:latency"]
    assert timestamps.dtype == np.int64 and values.dtype == np.float64
    np.testing.assert_array_equal(timestamps, [1_700_000_000_000, 1_700_000_060_000, 1_700_000_120_000])
    assert values.shape == (3, 2)
    np.testing.assert_array_equal(values[:, 1][:2], [120.0, 130.0])
    assert values[0, 0] == 0.5 and np.isnan(values[1, 0]) and np.isnan(values[2, 1])
    assert values[:, 0].flags.c_contiguous, "columns are stored contiguously"


def test_read_wide_csv_errors(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="line 1"):
        read_wide_csv(write(tmp_path, "a.csv", "timestamp,a,a\n1,2,3\n"))
    with pytest.raises(ParseError, match="line 2"):
        read_wide_csv(write(tmp_path, "b.csv", "timestamp,a\n1,x\n"))
    _, _, v = read_wide_csv(write(tmp_path, "c.csv", "timestamp,a\n2,20\n1,10\n"), sort="error")
    np.testing.assert_array_equal(v[:, 0], [10.0, 20.0])


def test_read_jsonl(tmp_path: Path) -> None:
    lines = [
        {"timestamp": 1700000000, "value": 1, "labels": {"host": "a"}},
        {"timestamp": "2023-11-14T22:13:20Z", "value": 5, "labels": {"host": "b"}},
        {"timestamp": 1700000060000, "value": 2.5, "labels": {"host": "a"}},
    ]
    p = write(tmp_path, "p.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    series = read_jsonl(p)
    assert [s.labels for s in series] == [{"host": "a"}, {"host": "b"}]
    np.testing.assert_array_equal(series[0].timestamps, [1_700_000_000_000, 1_700_000_060_000])
    np.testing.assert_array_equal(series[0].values, [1.0, 2.5])


def test_read_jsonl_errors(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.jsonl", '{"timestamp": 1, "value": 1}\n{"timestamp": 2\n')
    with pytest.raises(ParseError, match="line 2"):
        read_jsonl(p)
    p = write(tmp_path, "null.jsonl", '{"timestamp": 1, "value": null}\n')
    with pytest.raises(ParseError, match="line 1"):
        read_jsonl(p)
    assert np.isnan(read_jsonl(p, allow_missing=True)[0].values[0])
    with pytest.raises(InvalidInputError, match="empty"):
        read_jsonl(write(tmp_path, "empty.jsonl", "\n\n"))


def test_read_prometheus_matrix() -> None:
    text = json.dumps(
        {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [
                    {
                        "metric": {"__name__": "up", "job": "prometheus"},
                        "values": [[1435781430.781, "1"], [1435781445.781, "NaN"], [1435781460.781, "+Inf"]],
                    },
                    {"metric": {"job": "node"}, "values": [[1435781430, "0.5"]]},
                ],
            },
        }
    )
    series = read_prometheus_matrix(text)
    assert len(series) == 2
    assert series[0].labels == {"__name__": "up", "job": "prometheus"}
    np.testing.assert_array_equal(
        series[0].timestamps, [1_435_781_430_781, 1_435_781_445_781, 1_435_781_460_781]
    )
    v = series[0].values
    assert v[0] == 1.0 and np.isnan(v[1]) and v[2] == np.inf
    np.testing.assert_array_equal(series[1].values, [0.5])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{", "JSON"),
        ('{"status": "error", "errorType": "bad_data", "error": "parse error"}', "bad_data"),
        ('{"status": "success", "data": {"resultType": "vector", "result": []}}', "matrix"),
    ],
)
def test_read_prometheus_errors(text: str, match: str) -> None:
    with pytest.raises(ParseError, match=match):
        read_prometheus_matrix(text)
