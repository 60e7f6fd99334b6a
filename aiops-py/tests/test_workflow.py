"""The workflow engine from Python: lint, triggers, runs (dry and real) and typed records."""

from __future__ import annotations

from pathlib import Path

import pytest

import aiops
from aiops import workflow

SEED = Path(__file__).resolve().parents[2] / "examples" / "workflows" / "seed.yaml"

ALERT = {
    "labels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"},
    "startsAt": "2026-12-01T10:00:00Z",
}


def test_lint_reports_unconfigured_systems_and_positions(tmp_path: Path) -> None:
    found = workflow.lint(str(SEED))
    assert found and all(d.level == "warning" for d in found)
    assert any("`jira` is not configured" in d.message for d in found)
    assert workflow.lint(str(SEED), ["jira", "slack", "pagerduty", "grafana"]) == []

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "workflows:\n  w:\n    trigger: {type: manual}\n    steps:\n"
        "      - name: a\n        action: nope\n"
    )
    (d,) = workflow.lint(str(tmp_path))
    assert (d.level, d.workflow, d.step, d.line, d.column) == ("error", "w", "a", 6, 17)
    assert "unknown action `nope`" in d.message
    assert d.file is not None and d.file.endswith("bad.yaml")
    assert d.to_dict()["level"] == "error"


def test_a_dry_run_decides_and_renders_every_step_and_calls_nothing() -> None:
    wf = workflow.Workflows.load(SEED)
    assert "alert_response" in wf.names
    assert wf.triggered_by(ALERT) == ["alert_response"]
    run = wf.run(
        "alert_response",
        ALERT,
        dry_run=True,
        assume={"analyze_root_cause": {"confidence": 0.9, "root_cause": "db", "candidates": []}},
    )
    assert isinstance(run, workflow.RunRecord)
    assert (run.workflow, run.dry_run) == ("alert_response", True)
    ticket = run.step("create_incident")
    assert isinstance(ticket, workflow.StepRecord)
    assert ticket.status == "would_run"
    assert ticket.input is not None and ticket.input["priority"] == "critical"
    assert ticket.systems == ["jira (not configured)"]
    remediate = run.steps[4]
    assert remediate.condition is not None and remediate.condition["value"] is True
    assert run.step("nope") is None
    assert run.to_dict()["steps"][2]["name"] == "create_incident"
    assert "alert_response" in repr(run)


def test_a_real_run_records_what_failed_without_a_configured_system() -> None:
    wf = workflow.Workflows.from_yaml(
        "workflows:\n"
        "  page:\n"
        "    trigger: {type: alert}\n"
        "    steps:\n"
        "      - name: tell\n"
        "        action: send_notification\n"
        "        params: {channels: [slack]}\n"
    )
    run = wf.run("page", ALERT)
    assert run.dry_run is False
    assert run.status == "failed"
    assert run.steps[0].status == "failed"
    assert run.steps[0].error


def test_bad_input_gets_typed_errors() -> None:
    with pytest.raises(aiops.ConfigError, match="unknown action"):
        workflow.Workflows.from_yaml(
            "workflows:\n  w:\n    trigger: {type: manual}\n    steps:\n"
            "      - name: a\n        action: nope\n"
        )
    wf = workflow.Workflows.load(SEED)
    with pytest.raises(aiops.ParseError, match="expected an alert"):
        wf.triggered_by({"what": 1})
    with pytest.raises(aiops.InvalidParameterError, match="no workflow `nope`"):
        wf.run("nope", ALERT, dry_run=True)
    with pytest.raises(aiops.ConfigError, match="remediation"):
        workflow.Workflows.load(SEED, remediation={"commands": 3})
