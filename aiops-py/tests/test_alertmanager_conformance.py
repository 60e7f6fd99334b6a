"""Differential test: the same timed alerts go to a real Alertmanager (Debian's
prometheus-alertmanager, started here on 127.0.0.1) and to ``aiops.alerts.AlertEngine`` with the
same configuration; the notifications each receiver gets must be the same.

It covers routing (child routes, ``continue``), ``group_by``, ``group_wait`` batching,
``group_interval`` updates, inhibition with ``equal`` (while the source fires, and after it
resolves), a silence (created through the API before its alert, expiring later), resolved
notifications and Alertmanager's rule that a group whose firing alerts are a subset of what
it last sent stays quiet.

The binary comes from ``scripts/test.sh`` (apt-get, when run as root); without it the test is
skipped unless ``AIOPS_REQUIRE_ALERTMANAGER=1``. It takes about 40 s of wall time: the
timers are real.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from aiops.alerts import AlertEngine

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
if BINARY is None and os.environ.get("AIOPS_REQUIRE_ALERTMANAGER") != "1":
    pytest.skip("Alertmanager binary not installed", allow_module_level=True)

# group_wait 2 s, group_interval 6 s: every step below is at least 1 s away from a flush.
ROUTES = """
global:
  resolve_timeout: 4s
route:
  receiver: default
  group_by: [alertname]
  group_wait: 2s
  group_interval: 6s
  repeat_interval: 1h
  routes:
    - matchers: ['team="db"']
      receiver: db
      group_by: [alertname, cluster]
      continue: true
    - matchers: ['severity="critical"']
      receiver: pager
inhibit_rules:
  - source_matchers: ['alertname="ClusterDown"']
    target_matchers: ['severity="warning"']
    equal: [cluster]
"""


def labels(name: str, **kw: str) -> dict[str, str]:
    return {"alertname": name, **kw}


A1 = labels("HighLatency", service="web", severity="warning", cluster="c1")
A2 = labels("HighLatency", service="api", severity="warning", cluster="c1")
A3 = labels("HighLatency", service="cart", severity="warning", cluster="c1")
A4 = labels("HighLatency", service="cache", severity="warning", cluster="c2")
D1 = labels("DiskFull", team="db", severity="warning", cluster="c1")
D2 = labels("DiskFull", team="db", severity="warning", cluster="c2")
P1 = labels("NodeDown", severity="critical", cluster="c3")
C = labels("ClusterDown", severity="critical", cluster="c1")
B1 = labels("Backup", severity="warning", cluster="c4")
T1 = labels("Heartbeat", severity="info", cluster="c5")

# (seconds from the start, [(labels, resolved?)]); a silence instead is ("silence", alertname,
# seconds it lasts). resolved = None: firing without endsAt, so `resolve_timeout` (4 s)
# resolves it unless it is sent again.
SCRIPT = [
    (0.0, [(A1, False), (A2, False), (D1, False), (D2, False), (P1, False)]),
    (0.5, ("silence", "Backup", 11.5)),
    (1.0, [(B1, False), (T1, None)]),
    (3.0, [(A3, False)]),
    (9.0, [(C, False)]),
    (15.0, [(A1, True)]),
    (21.0, [(C, True)]),
    (27.0, [(A4, False)]),
]
END = 35.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


class Sink(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Sink.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def key(group_labels: dict[str, str]) -> str:
    return json.dumps(group_labels, sort_keys=True)


def label_set(ls: dict[str, str]) -> str:
    return json.dumps(ls, sort_keys=True)


def normalise(notifications: list[tuple[str, dict[str, str], list[str], list[str]]]):
    """receiver -> group -> [(firing, resolved)], in order."""
    out: dict[str, dict[str, list[tuple[list[str], list[str]]]]] = {}
    for receiver, group, firing, resolved in notifications:
        out.setdefault(receiver, {}).setdefault(key(group), []).append(
            (sorted(firing), sorted(resolved))
        )
    return out


def post(url: str, body: object) -> None:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200


def run_alertmanager(tmp_path) -> tuple[list[tuple[int, dict]], list[dict], list[dict]]:
    sink_port, am_port = free_port(), free_port()
    Sink.received = []
    server = HTTPServer(("127.0.0.1", sink_port), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receivers = "\nreceivers:\n" + "".join(
        f"  - name: {r}\n    webhook_configs:\n"
        f"      - url: http://127.0.0.1:{sink_port}/{r}\n        send_resolved: true\n"
        for r in ("default", "db", "pager")
    )
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text(ROUTES + receivers)
    proc = subprocess.Popen(
        [
            BINARY,
            f"--config.file={cfg}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{am_port}"
    try:
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError(f"Alertmanager did not start: {proc.stderr.read()!r}")
            time.sleep(0.1)
        sent: list[tuple[int, dict]] = []
        silences: list[dict] = []
        start = time.time()
        for at, alerts in SCRIPT:
            time.sleep(max(0.0, start + at - time.time()))
            now = int(time.time() * 1000)
            if isinstance(alerts, tuple):
                _, name, seconds = alerts
                silence = {
                    "matchers": [
                        {"name": "alertname", "value": name, "isRegex": False, "isEqual": True}
                    ],
                    "startsAt": iso(now),
                    "endsAt": iso(now + int(seconds * 1000)),
                    "createdBy": "test",
                    "comment": "conformance",
                }
                post(f"{base}/api/v2/silences", silence)
                silences.append(silence)
                continue
            batch = []
            for ls, resolved in alerts:
                a = {"labels": ls, "annotations": {}}
                if resolved is None:
                    a["startsAt"] = iso(now)
                elif resolved:
                    a["endsAt"] = iso(now)
                else:
                    # Firing: as Prometheus sends it, with startsAt and an endsAt well ahead.
                    a["startsAt"] = iso(now)
                    a["endsAt"] = iso(now + 3_600_000)
                if resolved:
                    first = next(s for t, s in sent if s["labels"] == ls)
                    a["startsAt"] = first["startsAt"]
                batch.append(a)
                sent.append((now, a))
            post(f"{base}/api/v2/alerts", batch)
        time.sleep(max(0.0, start + END - time.time()))
        return sent, silences, list(Sink.received)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.shutdown()


def test_notifications_match_alertmanager(tmp_path):
    sent, silences, received = run_alertmanager(tmp_path)
    theirs = normalise(
        [
            (
                n["receiver"],
                n["groupLabels"],
                [label_set(a["labels"]) for a in n["alerts"] if a["status"] == "firing"],
                [label_set(a["labels"]) for a in n["alerts"] if a["status"] == "resolved"],
            )
            for n in received
        ]
    )

    # The same silences, in the engine's configuration (Alertmanager's API shape, with
    # matchers in the text form).
    ours_silences = "silences:\n" + "".join(
        f"  - id: s{i}\n"
        f"    matchers: ['{m['matchers'][0]['name']}=\"{m['matchers'][0]['value']}\"']\n"
        f"    startsAt: '{m['startsAt']}'\n    endsAt: '{m['endsAt']}'\n"
        for i, m in enumerate(silences)
    )
    engine = AlertEngine.from_yaml(ROUTES + ours_silences)
    ours_raw = []
    first, last = sent[0][0], sent[0][0] + int(END * 1000)
    pending = list(sent)
    t = first
    while t <= last:
        while pending and pending[0][0] <= t:
            at, a = pending.pop(0)
            engine.ingest(a, now=at)
        ours_raw.extend(engine.tick(t))
        t += 50
    ours = normalise(
        [
            (
                b.receiver,
                b.group_labels,
                [label_set(a.labels) for a in b.firing],
                [label_set(a.labels) for a in b.resolved],
            )
            for b in ours_raw
        ]
    )
    # The run exercised what it claims to: a batched first notification, an update, a
    # resolved notification, and inhibition that kept the c1 warnings quiet.
    assert len(theirs["default"][key({"alertname": "HighLatency"})]) == 3, theirs
    assert theirs["pager"][key({"alertname": "ClusterDown"})][-1][1], theirs
    assert len(theirs["default"][key({"alertname": "Backup"})]) == 1, theirs
    # Fired without endsAt: notified, then resolved by the 4 s resolve timeout.
    heartbeat = theirs["default"][key({"alertname": "Heartbeat"})]
    assert [bool(f) for f, _ in heartbeat] == [True, False], theirs
    def show(d):
        return "\n".join(
            f"{r} {g}: " + " | ".join(
                f"F{[json.loads(x).get('service') or json.loads(x)['alertname'] for x in f]}"
                f" R{[json.loads(x).get('service') or json.loads(x)['alertname'] for x in res]}"
                for f, res in seq
            )
            for r in sorted(d)
            for g, seq in sorted(d[r].items())
        )

    assert ours == theirs, f"ours:\n{show(ours)}\nAlertmanager:\n{show(theirs)}"
