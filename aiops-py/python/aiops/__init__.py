"""aiops: time series IO and anomaly detection, implemented in Rust.

The native module :mod:`aiops._aiops` holds everything; this package re-exports its public
names. ``aiops.detect`` groups the detectors, ``aiops.logs`` the log template miner.

Exceptions::

    AiopsError(Exception)
    ├── InvalidInputError(AiopsError, ValueError)
    │   ├── ParseError
    │   └── InvalidParameterError
    └── AiopsIOError(AiopsError, OSError)
        └── AiopsFileNotFoundError(AiopsIOError, FileNotFoundError)
"""

from aiops._aiops import (
    AiopsError,
    AiopsFileNotFoundError,
    AiopsIOError,
    Detections,
    Detector,
    InvalidInputError,
    InvalidParameterError,
    MultivariateDetector,
    ParseError,
    RollingZScore,
    TemplateMiner,
    Threshold,
    TimeSeries,
    __version__,
    build_detector,
    detector_names,
    loghub_template,
    multivariate_detector_names,
    nab_evaluate,
    read_csv,
    read_csv_text,
    read_jsonl,
    read_prometheus_matrix,
    read_wide_csv,
)

from aiops import detect, logs

__all__ = [
    "AiopsError",
    "AiopsFileNotFoundError",
    "AiopsIOError",
    "Detections",
    "Detector",
    "InvalidInputError",
    "InvalidParameterError",
    "MultivariateDetector",
    "ParseError",
    "RollingZScore",
    "TemplateMiner",
    "Threshold",
    "TimeSeries",
    "__version__",
    "build_detector",
    "detect",
    "detector_names",
    "loghub_template",
    "logs",
    "multivariate_detector_names",
    "nab_evaluate",
    "read_csv",
    "read_csv_text",
    "read_jsonl",
    "read_prometheus_matrix",
    "read_wide_csv",
]
