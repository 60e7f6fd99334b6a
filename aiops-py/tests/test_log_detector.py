"""Log anomaly detection: bursts, new templates, streaming equals batch, pickling, bad input."""

import pickle
from pathlib import Path

import numpy as np
import pytest

from aiops import AiopsFileNotFoundError, InvalidParameterError, ParseError, SnapshotError, logs

FORMAT = "<Date> <Time> <Level>: <Content>"


def stamp(sec: int) -> str:
    return f"2024-01-01 {sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"


def service(minutes: int, start: int = 0) -> list[str]:
    """Minute windows of 3 logins and a cache refresh, a db error every 10th minute."""
    out = []
    for m in range(start, start + minutes):
        for i in range(3):
            out.append(f"{stamp(m * 60 + i * 10)} INFO: user u{m + i} logged in")
        if m % 10 == 3:
            out.append(f"{stamp(m * 60 + 40)} ERROR: db call {m} failed")
        out.append(f"{stamp(m * 60 + 50)} INFO: cache refreshed")
    return out


def incident_log() -> tuple[list[str], int]:
    lines = service(150)
    first = len(lines) + 1
    lines += [f"{stamp(150 * 60 + i)} ERROR: db call {i} failed" for i in range(20)]
    lines += service(10, start=151)
    return lines, first


def test_a_burst_is_reported_with_its_lines() -> None:
    lines, first = incident_log()
    det = logs.LogDetector(log_format=FORMAT, pca=False)
    assert det.window == "1m"
    report = det.detect(lines)
    assert isinstance(report, logs.LogReport) and report.window == "1m"
    assert report.stats.lines == len(lines)
    anomalous = [w for w in report.windows if w.anomalous]
    assert [w.index for w in anomalous] == [150]
    assert isinstance(anomalous[0], logs.LogWindow)
    assert anomalous[0].start_ms == 1704067200000 + 150 * 60_000
    assert anomalous[0].end_ms == anomalous[0].start_ms + 60_000
    signals = {r.signal for r in anomalous[0].reasons}
    assert "template_burst" in signals
    assert [l.line for l in report.lines] == list(range(first, first + 20))
    assert report.lines[0].keywords == ["error", "fail"]
    assert isinstance(report.lines[0].reasons[0], logs.LogReason)
    d = report.to_dict()
    assert list(d) == ["window", "windows", "lines", "stats"] and d["stats"]["lines"] == len(lines)
    assert "LogReport(window='1m'" in repr(report) and "LogLine(line=" in repr(report.lines[0])
    flags = det.line_flags(lines)
    assert flags.dtype == np.bool_ and flags.size == len(lines)
    assert np.flatnonzero(flags).tolist() == list(range(first - 1, first + 19))


def test_new_template_after_warm_up() -> None:
    lines = service(200)
    lines.append(f"{stamp(200 * 60 + 5)} FATAL: disk sda gone")
    report = logs.LogDetector(log_format=FORMAT, warmup_lines=500).detect(lines)
    last = report.lines[-1]
    assert last.line == len(lines)
    assert last.reasons[0].signal == "new_template"
    # Within the warm-up a new template is vocabulary being learned, not an anomaly (the
    # line may still be reported for its keyword in a window the PCA finds unusual).
    quiet = logs.LogDetector(log_format=FORMAT, warmup_lines=10_000).detect(lines)
    for line in quiet.lines:
        assert all(r.signal != "new_template" for r in line.reasons)
    no_pca = logs.LogDetector(log_format=FORMAT, warmup_lines=10_000, pca=False)
    assert all(l.line != len(lines) for l in no_pca.detect(lines).lines)


def test_streaming_equals_batch_and_pickle_mid_stream() -> None:
    lines, _ = incident_log()
    det = logs.LogDetector(log_format=FORMAT)
    batch = det.detect(lines)
    windows, flagged = [], []
    for i, line in enumerate(lines):
        if i == len(lines) // 2:
            det = pickle.loads(pickle.dumps(det))
        if i == len(lines) // 3:
            det = logs.LogDetector.restore(det.snapshot())
        closed = det.update(line)
        if closed is not None:
            assert isinstance(closed, logs.ClosedWindow)
            windows.append(closed.window)
            flagged += closed.lines
    closed = det.finish()
    assert closed is not None
    windows.append(closed.window)
    flagged += closed.lines
    assert det.finish() is None
    kept = [w for w in windows if w.anomalous or w.anomalous_lines > 0]
    assert kept == batch.windows
    assert flagged == batch.lines
    assert det.stats() == batch.stats


def test_bad_input_is_counted_not_lost(tmp_path: Path) -> None:
    det = logs.LogDetector(log_format=FORMAT)
    assert det.detect([]).stats.lines == 0
    assert det.update_bytes(b"2024-01-01 00:00:01 INFO: bad \xff byte") is None
    assert det.update("no header at all") is None
    stats = det.stats()
    assert (stats.lines, stats.invalid_utf8, stats.header_unmatched) == (2, 1, 1)
    f = tmp_path / "x.log"
    f.write_bytes(b"2024-01-01 00:00:01 INFO: a\n\xfe\xff\n\nno header\n")
    report = det.detect_file(f)
    assert report.stats.lines == 4
    assert report.stats.invalid_utf8 == 1
    with pytest.raises(AiopsFileNotFoundError):
        det.detect_file(tmp_path / "missing.log")


def test_bad_parameters_raise_typed_errors() -> None:
    for kwargs in [
        {"window": "5 parsecs"},
        {"rare_ratio": 2.0},
        {"count_history": 1},
        {"line_rule": "sometimes"},
        {"pca_alpha": 0.9},
        {"log_format": "<Date> no content"},
    ]:
        with pytest.raises(InvalidParameterError):
            logs.LogDetector(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(SnapshotError):
        logs.LogDetector.restore("{not json")
    assert issubclass(SnapshotError, ParseError)
    assert logs.LogDetector().window == "100lines"
    assert logs.LogDetector(window="500lines").window == "500lines"
