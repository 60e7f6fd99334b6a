"""Workflows: check workflow files, see which workflows an event triggers and run them, dry run
first (the engine of ``aiops workflow`` and of the service).

Events are dicts: an alert in Alertmanager's API v2 shape (``labels``, ``annotations``,
``startsAt``...), an incident (``id``, ``alerts``...), or an event with ``source`` and
``event_type``. A run returns a :class:`RunRecord` whose :class:`StepRecord` objects say what
each step decided, rendered and returned. Only the remediation allow-list is configured here
(``remediation=`` of :meth:`Workflows.load`): a step that reaches an external system (Jira,
Slack...) fails unless the run is a dry run, whose steps are recorded ``would_run``.

Example::

    from aiops import workflow

    wf = workflow.Workflows.load("examples/workflows/seed.yaml")
    event = {"labels": {"alertname": "HighErrorRate", "service": "checkout",
                        "severity": "critical"}}
    for name in wf.triggered_by(event):
        run = wf.run(name, event, dry_run=True)
        print(run.status, [(s.name, s.status) for s in run.steps])
"""

from __future__ import annotations

from aiops._aiops import Diagnostic, RunRecord, StepRecord, Workflows, workflow_lint

__all__ = ["Diagnostic", "RunRecord", "StepRecord", "Workflows", "lint"]


def lint(path: str, systems: list[str] | None = None) -> list[Diagnostic]:
    """Checks a workflow file or a directory of them (``*.yaml``, ``*.yml``): unknown actions
    and keys, forward references, expressions and templates. ``systems`` are the systems you
    have configured (``jira``, ``slack``...); steps naming others get warnings. Returns every
    finding (errors and warnings), with file, workflow, step, line and column."""
    return workflow_lint(path, systems)
