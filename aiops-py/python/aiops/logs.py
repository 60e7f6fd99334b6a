"""Log intelligence: streaming template mining (Drain) with named masks and snapshots, and
log anomaly detection (new/rare templates, count bursts, keyword rates, window-count PCA).

:class:`LogDetector` returns typed results: a :class:`ClosedWindow` (its :class:`LogWindow`
and anomalous :class:`LogLine` objects, each with :class:`LogReason` objects) per closed
window when streaming, a :class:`LogReport` for a whole run, and :class:`LogStats`.
"""

from aiops._aiops import (
    ClosedWindow,
    LogDetector,
    LogLine,
    LogReason,
    LogReport,
    LogStats,
    LogWindow,
    TemplateMiner,
    loghub_template,
)

__all__ = [
    "ClosedWindow",
    "LogDetector",
    "LogLine",
    "LogReason",
    "LogReport",
    "LogStats",
    "LogWindow",
    "TemplateMiner",
    "loghub_template",
]
