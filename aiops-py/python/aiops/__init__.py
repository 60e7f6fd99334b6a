"""aiops: time series IO, anomaly detection and forecasting, implemented in Rust.

The native module :mod:`aiops._aiops` holds everything; this package re-exports its public
names. ``aiops.detect`` groups the detectors, ``aiops.forecast`` the forecasting models and
capacity planning, ``aiops.logs`` the log template miner and anomaly detector,
``aiops.alerts`` the alert correlation engine, ``aiops.rca`` root-cause analysis: causal
discovery (PC, Granger), root-cause ranking and the runbook knowledge base.

Exceptions::

    AiopsError(Exception)
    ├── InvalidInputError(AiopsError, ValueError)
    │   ├── ParseError
    │   └── InvalidParameterError
    └── AiopsIOError(AiopsError, OSError)
        └── AiopsFileNotFoundError(AiopsIOError, FileNotFoundError)
"""

from aiops._aiops import (
    AlertEngine,
    AiopsError,
    UnknownResourceError,
    SnapshotError,
    NotEnoughDataError,
    ModelFitError,
    ConfigError,
    CausalGraph,
    GrangerResult,
    AiopsFileNotFoundError,
    AiopsIOError,
    Detections,
    Detector,
    FittedModel,
    InvalidInputError,
    InvalidParameterError,
    KnowledgeBase,
    Topology,
    LogDetector,
    MultivariateDetector,
    ParseError,
    Prediction,
    TemplateMiner,
    TimeSeries,
    __version__,
    build_detector,
    capacity_plan,
    causal_granger,
    causal_pc,
    detector_names,
    fit_model,
    forecast_many,
    m4_evaluate,
    model_names,
    loghub_template,
    multivariate_detector_names,
    nab_evaluate,
    rca_method_names,
    rca_rank_json,
    read_csv,
    read_csv_text,
    read_jsonl,
    read_prometheus_matrix,
    read_wide_csv,
)

from aiops import alerts, detect, forecast, logs, rca

__all__ = [
    "AlertEngine",
    "alerts",
    "rca",
    "KnowledgeBase",
    "Topology",
    "AiopsError",
    "UnknownResourceError",
    "SnapshotError",
    "NotEnoughDataError",
    "ModelFitError",
    "ConfigError",
    "AiopsFileNotFoundError",
    "AiopsIOError",
    "CausalGraph",
    "Detections",
    "Detector",
    "FittedModel",
    "InvalidInputError",
    "InvalidParameterError",
    "LogDetector",
    "MultivariateDetector",
    "ParseError",
    "GrangerResult",
    "Prediction",
    "TemplateMiner",
    "TimeSeries",
    "__version__",
    "build_detector",
    "capacity_plan",
    "causal_granger",
    "causal_pc",
    "detect",
    "forecast",
    "detector_names",
    "fit_model",
    "forecast_many",
    "m4_evaluate",
    "model_names",
    "loghub_template",
    "logs",
    "multivariate_detector_names",
    "nab_evaluate",
    "rca_method_names",
    "rca_rank_json",
    "read_csv",
    "read_csv_text",
    "read_jsonl",
    "read_prometheus_matrix",
    "read_wide_csv",
    "rca",
]
