"""aiops.integrations against local servers speaking the documented wire formats (Prometheus'
HTTP API, Alertmanager's API v2) on 127.0.0.1: what is sent, and what is read back."""

from __future__ import annotations

import datetime
import json
import math
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

import aiops
from aiops import integrations


class _Fake:
    """A server answering from `routes` (path -> callable(form) -> (status, body)), recording
    every request as (method, path, form, headers)."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes
        self.requests: list[tuple[str, str, dict[str, list[str]], dict[str, str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                url = urlparse(self.path)
                form = parse_qs(url.query)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                headers_ct = self.headers.get("Content-Type", "")
                if headers_ct.startswith("application/json"):
                    form["json"] = [body]
                else:
                    for k, v in parse_qs(body).items():
                        form.setdefault(k, []).extend(v)
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append((self.command, url.path, form, headers))
                route = fake.routes.get(url.path)
                status, answer = route(form) if route else (404, {"error": "no route"})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[_Fake]:
    f = _Fake({})
    yield f
    f.close()


def _ok(data: Any) -> tuple[int, Any]:
    return 200, {"status": "success", "data": data}


def test_query_range_reads_series_and_sends_seconds(fake: _Fake) -> None:
    def answer(form: dict[str, list[str]]) -> tuple[int, Any]:
        start, step = float(form["start"][0]), float(form["step"][0])
        values = [[start + i * step, str(v)] for i, v in enumerate([1.5, "NaN", 3.0])]
        return _ok(
            {
                "resultType": "matrix",
                "result": [{"metric": {"__name__": "up", "job": "api"}, "values": values}],
            }
        )

    fake.routes["/api/v1/query_range"] = answer
    prom = integrations.Prometheus(fake.url, timeout="5s")
    start = np.datetime64("2026-01-01T00:00:00", "ms")
    series = prom.query_range("up", start, start + np.timedelta64(2, "m"), "1m")
    assert len(series) == 1
    s = series[0]
    assert isinstance(s, aiops.TimeSeries)
    assert s.labels == {"__name__": "up", "job": "api"}
    t0 = int(start.astype("int64"))
    assert s.timestamps.tolist() == [t0, t0 + 60_000, t0 + 120_000]
    assert s.values[0] == 1.5 and math.isnan(s.values[1]) and s.values[2] == 3.0
    _, path, form, _ = fake.requests[0]
    assert path == "/api/v1/query_range"
    assert form["query"] == ["up"] and form["step"] == ["60"]
    assert float(form["start"][0]) == t0 / 1000


def test_long_range_is_split_and_merged(fake: _Fake) -> None:
    def answer(form: dict[str, list[str]]) -> tuple[int, Any]:
        start, end, step = (float(form[k][0]) for k in ("start", "end", "step"))
        n = int(round((end - start) / step)) + 1
        values = [[start + i * step, str(start + i * step)] for i in range(n)]
        return _ok({"resultType": "matrix", "result": [{"metric": {"a": "b"}, "values": values}]})

    fake.routes["/api/v1/query_range"] = answer
    prom = integrations.Prometheus(fake.url, max_points=10)
    (s,) = prom.query_range("x", 0, 29_000, datetime.timedelta(seconds=1))
    assert len(fake.requests) == 3
    assert s.timestamps.tolist() == list(range(0, 30_000, 1000))
    assert s.values.tolist() == [t / 1000 for t in range(0, 30_000, 1000)]


def test_instant_query_types(fake: _Fake) -> None:
    answers = iter(
        [
            _ok(
                {
                    "resultType": "vector",
                    "result": [{"metric": {"job": "a"}, "value": [1700000000.5, "+Inf"]}],
                }
            ),
            _ok({"resultType": "scalar", "result": [1700000000, "2"]}),
        ]
    )
    fake.routes["/api/v1/query"] = lambda form: next(answers)
    prom = integrations.Prometheus(fake.url)
    r = prom.query("up", at=1_700_000_000_500)
    assert r.result_type == "vector" and len(r) == 1 and r.series == []
    (sample,) = r.samples
    assert sample.labels == {"job": "a"}
    assert sample.timestamp == 1_700_000_000_500 and sample.value == math.inf
    assert float(fake.requests[0][2]["time"][0]) == 1_700_000_000.5
    r = prom.query("2")
    assert r.result_type == "scalar" and r.value == 2.0 and r.timestamp == 1_700_000_000_000
    assert "time" not in fake.requests[1][2]


def test_series_and_label_values(fake: _Fake) -> None:
    fake.routes["/api/v1/series"] = lambda form: _ok([{"__name__": "up", "job": "api"}])
    fake.routes["/api/v1/label/job/values"] = lambda form: _ok(["api", "db"])
    prom = integrations.Prometheus(fake.url)
    assert prom.series(['{job="api"}'], start=0, end=60_000) == [{"__name__": "up", "job": "api"}]
    assert fake.requests[0][2]["match[]"] == ['{job="api"}']
    assert prom.label_values("job", ["up"]) == ["api", "db"]
    assert fake.requests[1][2]["match[]"] == ["up"]
    with pytest.raises(aiops.ConfigError):
        prom.label_values("not a label")
    with pytest.raises(aiops.ConfigError):
        prom.series([])


def test_bearer_token_from_the_environment(fake: _Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.routes["/api/v1/label/job/values"] = lambda form: _ok([])
    monkeypatch.setenv("AIOPS_TEST_PROM_TOKEN", "s3cret")
    prom = integrations.Prometheus(fake.url, auth={"bearer": {"env": "AIOPS_TEST_PROM_TOKEN"}})
    assert "s3cret" not in repr(prom)
    prom.label_values("job")
    assert fake.requests[0][3]["authorization"] == "Bearer s3cret"
    monkeypatch.delenv("AIOPS_TEST_PROM_TOKEN")
    with pytest.raises(aiops.ConfigError, match="AIOPS_TEST_PROM_TOKEN"):
        integrations.Prometheus(fake.url, auth={"bearer": {"env": "AIOPS_TEST_PROM_TOKEN"}})


def test_errors_are_typed(fake: _Fake) -> None:
    fake.routes["/api/v1/query"] = lambda form: (
        400,
        {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"},
    )
    fake.routes["/api/v1/query_range"] = lambda form: (200, {"unexpected": True})
    prom = integrations.Prometheus(fake.url, retries=0)
    with pytest.raises(aiops.RemoteError, match="parse error at char 3"):
        prom.query("up{")
    with pytest.raises(aiops.ParseError):
        prom.query_range("up", 0, 60_000, "1m")
    with pytest.raises(aiops.InvalidParameterError):
        prom.query_range("up", 0, 60_000, "0s")
    with pytest.raises(aiops.InvalidInputError, match="before the start"):
        prom.query_range("up", 60_000, 0, "1m")
    with pytest.raises(TypeError):
        prom.query_range("up", 0, 60_000, 60)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        prom.query("up", at=1.5)  # type: ignore[arg-type]
    with pytest.raises(aiops.ConfigError):
        integrations.Prometheus("not a url")
    # Nothing listens on a port just released.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(aiops.RemoteError):
        integrations.Prometheus(f"http://127.0.0.1:{port}", retries=0).query("up")


def test_alertmanager_post_and_read(fake: _Fake) -> None:
    posted: list[Any] = []

    def post(form: dict[str, list[str]]) -> tuple[int, Any]:
        posted.extend(json.loads(form["json"][0]))
        return 200, ""

    def get(form: dict[str, list[str]]) -> tuple[int, Any]:
        return 200, [
            {
                "labels": {"alertname": "Down", "service": "api"},
                "annotations": {"summary": "api is down"},
                "startsAt": "2026-01-01T00:00:00Z",
                "endsAt": "2999-01-01T00:00:00Z",
                "updatedAt": "2026-01-01T00:00:05Z",
                "generatorURL": "http://prom/graph",
                "fingerprint": "0123456789abcdef",
                "receivers": [{"name": "team"}],
                "status": {"state": "suppressed", "silencedBy": ["s1"], "inhibitedBy": []},
            }
        ]

    def route(form: dict[str, list[str]]) -> tuple[int, Any]:
        return post(form) if "json" in form else get(form)

    fake.routes["/api/v2/alerts"] = route
    am = integrations.Alertmanager(fake.url)
    am.post_alerts(
        [
            aiops.Alert({"alertname": "Down", "service": "api"}, starts_at=1_767_225_600_000),
            {"labels": {"alertname": "Slow"}, "startsAt": 1_767_225_600_000},
        ]
    )
    assert [a["labels"]["alertname"] for a in posted] == ["Down", "Slow"]
    assert posted[0]["startsAt"].startswith("2026-01-01T00:00:00")
    (got,) = am.alerts(['alertname="Down"'], silenced=True)
    method, path, form, _ = fake.requests[-1]
    assert method == "GET" and form["filter"] == ['alertname="Down"']
    assert form["silenced"] == ["true"] and "active" not in form
    assert got.state == "suppressed" and got.silenced_by == ["s1"] and got.receivers == ["team"]
    assert got.fingerprint == "0123456789abcdef"
    assert got.updated_at == 1_767_225_605_000
    assert got.alert.labels == {"alertname": "Down", "service": "api"}
    assert got.alert.annotations == {"summary": "api is down"}
    with pytest.raises(TypeError):
        am.post_alerts("not alerts")
