"""Log template mining: learn, match, parameters, snapshots and pickling, bad input."""

import pickle
from pathlib import Path

import numpy as np
import pytest

from aiops import AiopsFileNotFoundError, InvalidParameterError, ParseError, logs


def corpus() -> list[str]:
    lines = []
    for i in range(200):
        lines.append(f"INFO: served block blk_{i * 7} to 10.0.{i % 5}.{i % 11}")
        lines.append(f"WARN: disk full on /dev/sd{'abc'[i % 3]} at {90 + i % 10}%")
        if i % 7 == 0:
            lines.append(f"ERROR: worker {i % 4} restarted after code E{i % 9}")
    return lines


def test_learn_reports_new_changed_unchanged() -> None:
    m = logs.TemplateMiner()
    a = m.learn("saved file /tmp/a.txt to disk")
    assert a[1] == "new"
    b = m.learn("saved file /var/b.txt to disk")
    assert b == (a[0], "changed")
    c = m.learn("saved file /opt/c.txt to disk")
    assert c == (a[0], "unchanged")
    assert m.template(a[0]) == "saved file /<*> to disk"
    assert len(m) == 1
    assert m.template(999) is None


def test_learn_many_and_header_and_masks() -> None:
    m = logs.TemplateMiner(log_format="<Level>: <Content>", masks=[r"DEV=/dev/\w+"])
    ids = m.learn_many(corpus())
    assert ids.dtype == np.uint64 and ids.size == len(corpus())
    top = m.templates()
    assert [t[2] for t in top[:2]] == [200, 200]
    assert top[0][1] == "served block blk_<:NUM:> to <:IP:>"
    assert top[1][1] == "disk full on <:DEV:> at <:NUM:>%"
    assert logs.loghub_template(top[1][1]) == "disk full on <*> at <*>%"
    par = logs.TemplateMiner(log_format="<Level>: <Content>", masks=[r"DEV=/dev/\w+"])
    assert np.array_equal(par.learn_many(corpus(), parallel=True), ids)


def test_match_is_inference_only_and_parameters() -> None:
    m = logs.TemplateMiner()
    tid, _ = m.learn("fetched 12 rows from db1 in 5 ms")
    m.learn("fetched 7 rows from db2 in 15 ms")
    before = m.templates()
    assert m.match("fetched 9 rows from orders in 3 ms") == tid
    assert m.match("something else entirely") is None
    assert m.templates() == before
    assert m.parameters(tid, "fetched 9 rows from orders in 3 ms") == ["9", "orders", "3"]
    assert m.parameters(tid, "nope") is None


def test_snapshot_restore_continues_like_uninterrupted() -> None:
    lines = corpus()
    whole = logs.TemplateMiner(max_clusters=50)
    all_ids = whole.learn_many(lines)
    first = logs.TemplateMiner(max_clusters=50)
    head = first.learn_many(lines[:150])
    second = logs.TemplateMiner.restore(first.snapshot())
    tail = second.learn_many(lines[150:])
    assert np.array_equal(np.concatenate([head, tail]), all_ids)
    assert second.templates() == whole.templates()
    again = pickle.loads(pickle.dumps(first))
    assert again.templates() == first.templates()


def test_learn_file_keeps_every_line(tmp_path: Path) -> None:
    p = tmp_path / "x.log"
    p.write_bytes(b"INFO: ok 1\nno header here\nINFO: bad \xff byte\n" + b"INFO: " + b"x" * (1 << 20) + b"\n")
    m = logs.TemplateMiner(log_format="<Level>: <Content>")
    ids = m.learn_file(p)
    assert ids.size == 4
    assert m.template(int(ids[1])) == "no header here"
    assert m.template(int(ids[2])) == "bad \ufffd byte"
    with pytest.raises(AiopsFileNotFoundError):
        m.learn_file(tmp_path / "missing.log")


def test_bad_parameters_and_snapshots() -> None:
    with pytest.raises(InvalidParameterError):
        logs.TemplateMiner(sim_threshold=0.0)
    with pytest.raises(InvalidParameterError):
        logs.TemplateMiner(depth=2)
    with pytest.raises(InvalidParameterError, match="invalid mask"):
        logs.TemplateMiner(masks=["("])
    with pytest.raises(InvalidParameterError, match="Content"):
        logs.TemplateMiner(log_format="<Date> <Time>")
    with pytest.raises(ParseError):
        logs.TemplateMiner.restore("{not json")
