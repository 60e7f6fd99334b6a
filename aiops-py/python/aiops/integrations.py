"""Clients of the systems operators run: read metrics from Prometheus (or VictoriaMetrics,
Thanos, Mimir: anything answering its HTTP query API) into :class:`~aiops.TimeSeries`, and
send alerts to or read them from Alertmanager. The same clients, parameters and errors as
the Rust crate ``aiops-integrations`` and the service's configuration.

Authentication takes the configuration's shape, with secrets read from the environment or a
file (``{"bearer": {"env": "PROM_TOKEN"}}``, ``{"basic": {"username": "u", "password":
{"file": "/run/secrets/pw"}}}``). An unreachable system or an error answer raises
:class:`~aiops.RemoteError`; an answer in no documented shape :class:`~aiops.ParseError`.
Calls block (the GIL released) and retry idempotent requests with backoff.

Example::

    from aiops import detect, integrations

    prom = integrations.Prometheus("http://127.0.0.1:9090")
    for s in prom.query_range("rate(http_requests_total[5m])",
                              start=now - 86_400_000, end=now, step="1m"):
        d = detect.Detector().detect(s)
        print(s.labels, int(d.is_anomaly.sum()))
"""

from __future__ import annotations

from aiops._aiops import (
    Alertmanager,
    AlertmanagerAlert,
    Prometheus,
    QueryResult,
    Sample,
)

__all__ = ["Alertmanager", "AlertmanagerAlert", "Prometheus", "QueryResult", "Sample"]
