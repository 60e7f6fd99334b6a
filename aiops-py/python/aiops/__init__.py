"""aiops: time series IO, anomaly detection, forecasting, log intelligence, alert correlation
and root-cause analysis, implemented in Rust.

The native module :mod:`aiops._aiops` holds everything; this package re-exports its public
names. ``aiops.detect`` groups the detectors, ``aiops.forecast`` the forecasting models and
capacity planning, ``aiops.logs`` the log template miner and anomaly detector,
``aiops.alerts`` the alert correlation engine, ``aiops.rca`` root-cause analysis: causal
discovery (PC, Granger), root-cause ranking and the runbook knowledge base, ``aiops.workflow``
the workflow engine (lint, trigger, run, dry run first), ``aiops.integrations`` the clients of
Prometheus and Alertmanager.

Typed objects go in and out: a :class:`Topology` is what every API that needs the service
topology takes; alerts are :class:`Alert` objects or dicts in Alertmanager's API v2 shape;
results are classes with attributes, a ``repr`` and ``to_dict()``. No API takes or returns
JSON text (snapshots are opaque strings for ``restore``).

Timestamps, everywhere: int milliseconds since the Unix epoch (UTC). Every argument taking
timestamps also accepts NumPy ``datetime64`` arrays and scalars of any unit (converted exactly
by NumPy's cast to ``datetime64[ms]``; finer units round down to the millisecond), pandas
``DatetimeIndex`` / datetime ``Series`` / ``Timestamp`` (time-zone aware ones converted to
UTC), and ``datetime.datetime`` (naive ones read as UTC). Numbers are never guessed from their
magnitude: an int is milliseconds, a float is refused. Returned timestamps are int ms (NumPy
int64 arrays for arrays). Arguments come in Rust's order: ``detect(timestamps, values)``.

Exceptions::

    AiopsError(Exception)
    ├── InvalidInputError(AiopsError, ValueError)
    │   ├── ParseError                 malformed CSV / JSON / YAML / Prometheus text
    │   │   ├── ConfigError            an invalid configuration
    │   │   └── SnapshotError          a snapshot or pickle that cannot be restored
    │   ├── InvalidParameterError      a parameter out of range or unknown
    │   ├── UnknownResourceError       a resource that is not in the topology
    │   └── NotEnoughDataError         too few points or samples
    ├── ModelFitError(AiopsError)      a forecasting model could not be fitted
    ├── RemoteError(AiopsError)        an external system unreachable or refusing a request
    └── AiopsIOError(AiopsError, OSError)
        └── AiopsFileNotFoundError(AiopsIOError, FileNotFoundError)
"""

from aiops._aiops import (
    AiopsError,
    AiopsFileNotFoundError,
    AiopsIOError,
    Alert,
    AlertEngine,
    Alertmanager,
    AlertmanagerAlert,
    AlertStats,
    CausalGraph,
    ClosedWindow,
    ConfigError,
    Detections,
    Detector,
    Diagnostic,
    FittedModel,
    GrangerResult,
    Incident,
    IngestOutcome,
    InvalidInputError,
    InvalidParameterError,
    KnowledgeBase,
    LogDetector,
    LogLine,
    LogReason,
    LogReport,
    LogStats,
    LogWindow,
    ModelFitError,
    MultivariateDetector,
    NotEnoughDataError,
    Notification,
    ParseError,
    Prediction,
    Prometheus,
    QueryResult,
    RcaReport,
    Recommendation,
    RemoteError,
    RootCause,
    RunRecord,
    Runbook,
    Sample,
    SearchHit,
    SnapshotError,
    StepRecord,
    TemplateMiner,
    TimeSeries,
    Topology,
    UnknownResourceError,
    Workflows,
    __version__,
    build_detector,
    capacity_plan,
    causal_granger,
    causal_pc,
    detector_names,
    events_evaluate,
    fit_model,
    forecast_many,
    loghub_template,
    m4_evaluate,
    model_names,
    multivariate_detector_names,
    nab_evaluate,
    rca_method_names,
    rca_rank,
    read_csv,
    read_csv_text,
    read_jsonl,
    read_prometheus_matrix,
    read_wide_csv,
    workflow_lint,
)

from aiops import alerts, detect, forecast, integrations, logs, rca, workflow

__all__ = [
    "AiopsError",
    "AiopsFileNotFoundError",
    "AiopsIOError",
    "Alert",
    "AlertEngine",
    "Alertmanager",
    "AlertmanagerAlert",
    "AlertStats",
    "CausalGraph",
    "ClosedWindow",
    "ConfigError",
    "Detections",
    "Detector",
    "Diagnostic",
    "FittedModel",
    "GrangerResult",
    "Incident",
    "IngestOutcome",
    "InvalidInputError",
    "InvalidParameterError",
    "KnowledgeBase",
    "LogDetector",
    "LogLine",
    "LogReason",
    "LogReport",
    "LogStats",
    "LogWindow",
    "ModelFitError",
    "MultivariateDetector",
    "NotEnoughDataError",
    "Notification",
    "ParseError",
    "Prediction",
    "Prometheus",
    "QueryResult",
    "RcaReport",
    "Recommendation",
    "RemoteError",
    "RootCause",
    "RunRecord",
    "Runbook",
    "Sample",
    "SearchHit",
    "SnapshotError",
    "StepRecord",
    "TemplateMiner",
    "TimeSeries",
    "Topology",
    "UnknownResourceError",
    "Workflows",
    "__version__",
    "alerts",
    "build_detector",
    "capacity_plan",
    "causal_granger",
    "causal_pc",
    "detect",
    "detector_names",
    "events_evaluate",
    "fit_model",
    "forecast",
    "forecast_many",
    "integrations",
    "loghub_template",
    "logs",
    "m4_evaluate",
    "model_names",
    "multivariate_detector_names",
    "nab_evaluate",
    "rca",
    "rca_method_names",
    "rca_rank",
    "read_csv",
    "read_csv_text",
    "read_jsonl",
    "read_prometheus_matrix",
    "read_wide_csv",
    "workflow",
    "workflow_lint",
]
