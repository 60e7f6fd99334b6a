"""Alert correlation: Alertmanager's dedup, grouping, inhibition and silences, and incidents
correlated by rules and by the service topology."""

from aiops._aiops import AlertEngine

__all__ = ["AlertEngine"]
