"""Alert correlation: Alertmanager's dedup, grouping, inhibition and silences, and incidents
correlated by rules and by the service topology.

Alerts go in as :class:`Alert` objects or dicts in Alertmanager's API v2 / webhook shape;
the configuration as a dict or a YAML file (:meth:`AlertEngine.from_yaml` for YAML text);
the topology as a :class:`~aiops.Topology`. Time is the caller's: ``ingest(alerts, now)``
runs at ``now``, or at each alert's own event time when ``now`` is omitted; ``tick(now)``
sends what is due. There is no wall clock.
"""

from aiops._aiops import Alert, AlertEngine, AlertStats, Incident, IngestOutcome, Notification

__all__ = ["Alert", "AlertEngine", "AlertStats", "Incident", "IngestOutcome", "Notification"]
