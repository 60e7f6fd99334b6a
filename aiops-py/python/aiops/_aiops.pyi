"""Native module of aiops (Rust, PyO3): time series, readers, detectors and their errors.

Timestamps are int milliseconds since the Unix epoch (UTC); every argument taking timestamps
also takes NumPy ``datetime64`` (any unit), pandas ``DatetimeIndex`` / ``Timestamp`` and
``datetime.datetime``. Values are float64 and NaN marks a missing point. Heavy calls (parsing,
detection) release the GIL.
"""

import os
from collections.abc import Iterable, Sequence
import datetime
from typing import Any, Final, TypeAlias, final, overload

import numpy as np
import numpy.typing as npt

_Int64Array: TypeAlias = npt.NDArray[np.int64]
_Float64Array: TypeAlias = npt.NDArray[np.float64]
_BoolArray: TypeAlias = npt.NDArray[np.bool_]
# One timestamp: int ms since the epoch, numpy.datetime64, pandas.Timestamp (a datetime),
# datetime.datetime. Arrays of them: int or datetime64 arrays, sequences of timestamps, pandas
# DatetimeIndex / Series (anything with the array protocol).
_Timestamp: TypeAlias = int | np.integer[Any] | np.datetime64 | datetime.datetime
_TimestampsLike: TypeAlias = (
    npt.NDArray[np.int64] | npt.NDArray[np.datetime64] | Sequence[_Timestamp] | Any
)
# Values: anything NumPy turns into float64.
_ValuesLike: TypeAlias = npt.ArrayLike
_PathLike: TypeAlias = str | os.PathLike[str]

__all__ = [
    "__version__",
    "_error_variants",
    "Diagnostic",
    "RunRecord",
    "StepRecord",
    "Workflows",
    "workflow_lint",
    "Prometheus",
    "QueryResult",
    "Sample",
    "Alertmanager",
    "AlertmanagerAlert",
    "AlertEngine",
    "KnowledgeBase",
    "Topology",
    "AiopsError",
    "InvalidInputError",
    "ParseError",
    "InvalidParameterError",
    "ConfigError",
    "SnapshotError",
    "UnknownResourceError",
    "NotEnoughDataError",
    "ModelFitError",
    "RemoteError",
    "AiopsIOError",
    "AiopsFileNotFoundError",
    "TimeSeries",
    "Detections",
    "Detector",
    "MultivariateDetector",
    "TemplateMiner",
    "LogDetector",
    "loghub_template",
    "read_csv",
    "read_csv_text",
    "read_wide_csv",
    "read_jsonl",
    "read_prometheus_matrix",
    "detector_names",
    "build_detector",
    "nab_evaluate",
    "events_evaluate",
    "rca_method_names",
    "rca_rank",
    "RcaReport",
    "RootCause",
    "Runbook",
    "Recommendation",
    "SearchHit",
    "Alert",
    "Incident",
    "Notification",
    "IngestOutcome",
    "AlertStats",
    "ClosedWindow",
    "LogWindow",
    "LogLine",
    "LogReason",
    "LogStats",
    "LogReport",
    "multivariate_detector_names",
    "Prediction",
    "FittedModel",
    "fit_model",
    "model_names",
    "forecast",
    "forecast_many",
    "capacity_plan",
    "m4_evaluate",
    "CausalGraph",
    "GrangerResult",
    "causal_pc",
    "causal_granger",
]

_Float64Array2: TypeAlias = npt.NDArray[np.float64]

__version__: Final[str]

def _error_variants() -> list[tuple[str, int, int, AiopsError]]:
    """For the test suite: one exception per variant of every Rust error enum, as
    ``(enum name, variant number, number of variants, exception)``."""

class AiopsError(Exception):
    """Base class of every error raised by aiops."""

class InvalidInputError(AiopsError, ValueError):
    """Invalid data: empty, unsorted or duplicate timestamps, NaN where a number is needed,
    mismatched lengths, bad labels. Also a ValueError."""

class ParseError(InvalidInputError):
    """Malformed CSV, JSON or Prometheus input; the message names the line."""

class InvalidParameterError(InvalidInputError):
    """A detector or reader parameter is out of its valid range or unknown."""

class ConfigError(ParseError):
    """An invalid configuration: the alert engine's YAML or dict, an RCA or causal
    discovery configuration. Also a ParseError."""

class SnapshotError(ParseError):
    """A snapshot or pickled state that cannot be restored. Also a ParseError."""

class UnknownResourceError(InvalidInputError):
    """A resource (or a metric column's resource) that is not in the topology."""

class NotEnoughDataError(InvalidInputError):
    """Too few points or samples for the algorithm (an empty series included)."""

class ModelFitError(AiopsError):
    """A forecasting model could not be fitted to otherwise valid data."""

class RemoteError(AiopsError):
    """An external system (Prometheus...) could not be reached, or refused the request: an
    HTTP error or an error answer of its own, with its message."""

class AiopsIOError(AiopsError, OSError):
    """Reading a file failed. Also an OSError, with errno, strerror and filename set."""

class AiopsFileNotFoundError(AiopsIOError, FileNotFoundError):
    """The file does not exist. Also a FileNotFoundError."""

@final
class TimeSeries:
    """A series of (timestamp, value) points with labels, stored as two columns.

    Timestamps are int64 milliseconds since the Unix epoch and strictly increase; values are
    float64, NaN marking a missing point. Immutable: every operation returns a new series.
    Pickles through its JSON form.
    """

    def __new__(
        cls,
        timestamps: _TimestampsLike,
        values: _ValuesLike,
        labels: dict[str, str] | None = None,
    ) -> TimeSeries:
        """Builds a series from timestamps (int ms since the epoch or datetime64, strictly
        increasing), float64 values (NaN = missing) and optional labels (Prometheus names,
        non-empty values).

        Raises InvalidInputError for mismatched lengths, unsorted or duplicate timestamps and
        bad labels.
        """

    @property
    def timestamps(self) -> _Int64Array:
        """Timestamps, int64 ms since the epoch: a read-only view of the series' memory."""

    @property
    def values(self) -> _Float64Array:
        """Values, float64 (NaN = missing): a read-only view of the series' memory."""

    @property
    def labels(self) -> dict[str, str]:
        """The labels, as a new dict."""

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the labels: 16 hex digits, as Prometheus / Alertmanager compute it."""

    def __len__(self) -> int:
        """Number of points."""

    def validate(self) -> None:
        """Checks what algorithms need: at least one point and every value finite.

        Raises InvalidInputError otherwise.
        """

    def slice_time(self, start_ms: _Timestamp, end_ms: _Timestamp) -> TimeSeries:
        """The points with ``start_ms <= timestamp < end_ms``, as a new series."""

    def resample(self, step_ms: int, agg: str = "mean", fill: str = "none") -> TimeSeries:
        """Resamples to a grid of ``step_ms`` ms aligned to multiples of ``step_ms``.

        Each bucket takes the ``agg`` ("mean", "last", "min", "max", "sum") of its finite
        values; empty buckets are filled by ``fill`` ("none": NaN, "previous", "linear").
        Raises InvalidParameterError for a non-positive step or an unknown name.
        """

    def drop_missing(self) -> tuple[TimeSeries, int]:
        """The series without its missing (NaN) points, and how many points were removed."""

    def to_json(self) -> str:
        """JSON ``{"labels": {...}, "timestamps": [...], "values": [...]}``.

        NaN (and infinite) values are written as ``null``, read back as NaN.
        """

    @classmethod
    def from_json(cls, text: str) -> TimeSeries:
        """Reads the JSON written by ``to_json``.

        Raises ParseError for malformed JSON or a series that breaks the invariants.
        """

    def __reduce__(self) -> tuple[object, tuple[str]]:
        """Pickles through the JSON form."""

@final
class Detections:
    """Per-point results of a batch detection, as NumPy arrays of the series' length.

    NaN in ``expected``, ``lower`` or ``upper`` means the detector has no value at that point
    (for instance while it warms up).
    """

    @property
    def scores(self) -> _Float64Array:
        """Score per point; the scale is the detector's own (sigmas for the z-score)."""

    @property
    def is_anomaly(self) -> _BoolArray:
        """Whether the detector flags the point."""

    @property
    def expected(self) -> _Float64Array:
        """Expected value per point (NaN: none)."""

    @property
    def lower(self) -> _Float64Array:
        """Lower edge of the normal range per point (NaN: none)."""

    @property
    def upper(self) -> _Float64Array:
        """Upper edge of the normal range per point (NaN: none)."""

    def __len__(self) -> int:
        """Number of points."""

def read_csv(
    path: _PathLike, allow_missing: bool = False, sort: str | None = None
) -> TimeSeries:
    """Reads a ``timestamp,value`` CSV file (header optional) into a TimeSeries.

    Timestamps may be RFC 3339, ``YYYY-MM-DD HH:MM:SS`` (UTC) or unix seconds / milliseconds.
    ``allow_missing`` reads empty / NaN / null values as NaN gaps instead of refusing them.
    ``sort=None`` requires strictly increasing timestamps; "error", "first", "last" or "mean"
    sorts the points and resolves duplicate timestamps that way ("error" refuses them).

    Raises ParseError (with the line number) for malformed input, InvalidInputError for an
    empty file, AiopsIOError (an OSError; AiopsFileNotFoundError if missing) when the file
    cannot be read.
    """

def read_csv_text(
    text: str, allow_missing: bool = False, sort: str | None = None
) -> TimeSeries:
    """Reads ``timestamp,value`` CSV from a string; see ``read_csv``."""

def read_wide_csv(
    path: _PathLike, allow_missing: bool = False, sort: str | None = None
) -> tuple[_Int64Array, list[str], _Float64Array]:
    """Reads a wide CSV file: a header ``timestamp,<name>,<name>...``, then one row per time.

    Returns ``(timestamps, names, values)``: int64 ms, the column names, and a float64 array
    of shape (rows, columns) in which an empty cell is NaN. Options as for ``read_csv``.
    """

def read_jsonl(
    path: _PathLike, allow_missing: bool = False, sort: str | None = None
) -> list[TimeSeries]:
    """Reads a JSON lines file, one point per line:
    ``{"timestamp": ..., "value": ..., "labels": {...}}``.

    Returns one TimeSeries per distinct label set, in order of first appearance. Options as
    for ``read_csv``.
    """

def read_prometheus_matrix(text: str) -> list[TimeSeries]:
    """Parses the JSON of a Prometheus ``/api/v1/query_range`` response (a matrix) into one
    TimeSeries per result. NaN and +-Inf values are kept as they are.

    Raises ParseError for malformed JSON or an error / non-matrix response.
    """

def detector_names() -> list[str]:
    """Names of the available detectors, in the registry's order."""

@final
class Detector:
    """Any detector of the registry, by name: ``Detector("default")``,
    ``Detector("zscore", window=50)``.

    ``detect`` scores a whole series (GIL released); ``update`` streams one point into the
    state the object holds; both give the same scores on the same data. Pickling keeps the
    name, the parameters and the streaming state.
    """

    def __new__(cls, name: str = "default", **params: object) -> Detector: ...
    @property
    def name(self) -> str:
        """The registry name."""
    @property
    def params(self) -> dict[str, object]:
        """The parameters given at construction (defaults are not listed)."""
    @overload
    def detect(self, timestamps: TimeSeries, values: None = None) -> Detections: ...
    @overload
    def detect(self, timestamps: _TimestampsLike | None, values: _ValuesLike) -> Detections: ...
    @overload
    def detect(self, *, values: _ValuesLike) -> Detections: ...
    def update(self, timestamp: _Timestamp, value: float) -> tuple[float, bool]:
        """Streams one point; returns ``(score, is_anomaly)``."""
    def reset(self) -> None:
        """Forgets the streamed points."""
    def severity(self, score: float) -> str:
        """The severity name of an anomaly with this score."""
    def __getstate__(self) -> str: ...
    def __setstate__(self, state: str) -> None: ...
    def __getnewargs_ex__(self) -> tuple[tuple[str], dict[str, object]]: ...

@final
class MultivariateDetector:
    """A detector over several metrics of one resource, by name:
    ``MultivariateDetector("pca")``, ``MultivariateDetector("mahalanobis", window=100)``.

    Rows are points in time, columns are metrics. ``detect`` scores every row of a 2-D float64
    array (GIL released); ``update`` streams one row into the state the object holds; both give
    the same scores on the same data.
    """

    def __new__(cls, name: str, **params: object) -> MultivariateDetector: ...
    @property
    def name(self) -> str:
        """The registry name."""
    @property
    def params(self) -> dict[str, object]:
        """The parameters given at construction (defaults are not listed), as a new dict."""
    def detect(self, timestamps: _TimestampsLike | None, rows: npt.ArrayLike) -> Detections:
        """Scores every row of ``rows`` (shape (n, metrics), float64) at ``timestamps`` (int
        ms or datetime64; None: 0, 1, 2...). The GIL is released."""
    def update(self, timestamp: _Timestamp, row: _ValuesLike) -> tuple[float, bool]:
        """Streams one row (one value per metric); returns ``(score, is_anomaly)``."""
    def reset(self) -> None:
        """Forgets the streamed rows."""
    def __getstate__(self) -> str: ...
    def __setstate__(self, state: str) -> None: ...
    def __getnewargs_ex__(self) -> tuple[tuple[str], dict[str, object]]: ...

def multivariate_detector_names() -> list[str]:
    """Names of the multivariate detectors."""

def nab_evaluate(
    data: _PathLike, detector: str = "default", learn_range: bool = False, **params: object
) -> dict[str, float | str]:
    """Runs a detector over the Numenta Anomaly Benchmark folder ``data`` (holding ``data/``
    and ``labels/combined_windows.json``) and returns NAB's normalised scores:
    ``{"detector": ..., "standard": x, "reward_low_FP_rate": y, "reward_low_FN_rate": z,
    "seconds": t}``. As NAB does, detectors that take a known range get each series' minimum
    and maximum unless ``learn_range`` is true. The GIL is released while it runs.
    """

def events_evaluate(
    data: _PathLike | None = None,
    detector: str = "default",
    tol: int = 10,
    test_only: bool = False,
    seed: int = 1,
    **params: object,
) -> dict[str, object]:
    """Scores a detector event by event on a folder ``data`` of labelled
    ``timestamp,value,label`` CSVs (telemanom's layout), or, when ``data`` is ``None``, on the
    seeded synthetic family (``seed``, 60 series). A labelled segment is found when a flagged
    point falls within ``tol`` points after it; ``test_only`` scores only the points after each
    series' training part (``index.csv``). Returns ``{"detector", "series", "segments",
    "found", "runs", "false_alarms", "precision", "recall", "f1"`` (means over series),
    ``"pooled_f1", "pa_f1"`` (point-adjusted, pooled), ``"us_per_point", "seconds"}``; with the
    synthetic family also ``"recall_by_kind"``. The GIL is released while it runs.
    """

def build_detector(name: str, **params: object) -> Detector:
    """Builds a detector by registry name from keyword parameters, as the CLI and config
    files do: ``build_detector("zscore", window=30)`` is ``Detector("zscore", window=30)``.

    Raises InvalidParameterError for an unknown name, an unknown parameter, or a bad value.
    """

@final
class Prediction:
    """A forecast: point forecasts and intervals as NumPy arrays."""

    @property
    def mean(self) -> _Float64Array:
        """Point forecast per step (length ``horizon``)."""
    @property
    def levels(self) -> list[float]:
        """Interval levels in percent, the rows of ``lower`` and ``upper``."""
    @property
    def lower(self) -> _Float64Array2:
        """Lower bounds, shape ``(len(levels), horizon)``."""
    @property
    def upper(self) -> _Float64Array2:
        """Upper bounds, shape ``(len(levels), horizon)``."""
    def __len__(self) -> int: ...

@final
class FittedModel:
    """A fitted forecasting model (from ``fit_model`` or the classes of ``aiops.forecast``)."""

    @property
    def name(self) -> str:
        """Name of the model as given to ``fit_model``."""
    @property
    def periods(self) -> list[int]:
        """Seasonal periods used (given, or detected when none were given)."""
    def predict(self, horizon: int, levels: Sequence[float] | None = None) -> Prediction:
        """Forecasts ``horizon`` steps with intervals at each level (percent, in (0, 100);
        None: 80 and 95)."""

def fit_model(
    name: str, values: _ValuesLike, periods: Sequence[int] | None = None
) -> FittedModel:
    """Fits the model called ``name`` (see ``model_names()``) to ``values``; ``periods`` are
    the seasonal periods in steps, detected when empty. The GIL is released while fitting.

    Raises InvalidInputError for too short, NaN or (multiplicative forms) non-positive data,
    InvalidParameterError for an unknown model or a bad parameter.
    """

def model_names() -> list[tuple[str, str]]:
    """Model names and one-line summaries."""

def forecast_many(
    name: str,
    series: Sequence[_ValuesLike],
    horizon: int,
    periods: Sequence[int] | None = None,
    levels: Sequence[float] | None = None,
) -> list[Prediction]:
    """Forecasts every series with the model ``name`` in parallel on all cores (GIL released).
    The first series that cannot be forecast raises, naming its index."""

def capacity_plan(
    values: _ValuesLike,
    threshold: float = 85.0,
    horizon: int = 24,
    *,
    model: str = "auto",
    periods: Sequence[int] | None = None,
    level: float = 95.0,
    warning: float = 70.0,
    critical: float = 85.0,
    replicas: int | None = None,
    target: float = 70.0,
    step_seconds: float | None = None,
    timestamps: _TimestampsLike | None = None,
    bounds: tuple[float | None, float | None] | None = None,
    name: str | None = None,
) -> dict[str, object]:
    """Capacity planning: a dict with ``current``, ``peak``, ``peak_upper``,
    ``saturation_step`` / ``saturation_step_upper`` (1-based or None), ``probability`` (a lower
    bound of crossing within the horizon), ``trend`` (``direction``, ``slope``, ``p_value``),
    ``status_now`` / ``status_forecast`` (ok, warning, critical), ``replicas`` (advice or
    None), ``periods`` (dicts ``steps``, ``seconds``, ``source``), ``bounds`` ``(lower,
    upper)`` and ``prediction``. The sampling interval (``step_seconds``, or the median
    spacing of ``timestamps``) lets daily and weekly cycles be found in time units;
    ``bounds`` limit the forecast (inferred from the history and the metric ``name`` when not
    given: non-negative for a never-negative series, 0-100 for a percentage name)."""

def forecast(
    values: _ValuesLike,
    horizon: int,
    *,
    model: str = "auto",
    periods: Sequence[int] | None = None,
    levels: Sequence[float] | None = None,
    step_seconds: float | None = None,
    timestamps: _TimestampsLike | None = None,
    bounds: tuple[float | None, float | None] | None = None,
    name: str | None = None,
) -> tuple[Prediction, list[dict[str, object]]]:
    """Forecasts ``values`` ``horizon`` steps ahead as the CLI does: periods found in time
    units from ``step_seconds`` or ``timestamps`` (or the given ``periods``, steps), intervals
    within the metric's ``bounds``. Returns the prediction and the periods used (dicts
    ``steps``, ``seconds``, ``source``). The GIL is released while fitting."""

def m4_evaluate(
    data: _PathLike, model: str = "auto", horizon: int = 48, season: int = 24
) -> dict[str, float | str]:
    """Scores a model on the M4 hourly series in ``data``: ``{"model", "smape", "mase", "owa",
    "seconds"}``. The GIL is released while it runs."""

_UInt64Array: TypeAlias = npt.NDArray[np.uint64]

@final
class TemplateMiner:
    """Streaming log template miner (Drain with a fixed-depth prefix tree).

    ``log_format`` is a loghub header format (``"<Date> <Time> <Level>: <Content>"``; only
    Content is mined, a line whose header does not match is mined whole). ``masks`` are regexes
    replaced by ``<*>``, or ``"NAME=REGEX"`` replaced by ``<:NAME:>``; they run after the
    built-in masks (numbers, hex, IPs, ids, dates: ``builtin_masks``). ``sim_threshold`` is the
    share of equal tokens (0 < st <= 1) for a line to join a template, ``depth`` the tree depth
    (>= 3), ``max_children`` the branches per node (>= 2), ``max_clusters`` the number of
    templates kept (least recently used evicted; None keeps the default, 10000). Raises
    InvalidParameterError for bad values.
    Template ids start at 1 and are never reused. Pickling keeps the whole state.
    """

    def __new__(
        cls,
        log_format: str | None = None,
        masks: Sequence[str] = ...,
        sim_threshold: float = 0.5,
        depth: int = 4,
        max_children: int = 100,
        max_clusters: int | None = None,
        builtin_masks: bool = True,
    ) -> TemplateMiner:
        """Checks the parameters and makes an empty miner."""

    def learn(self, line: str) -> tuple[int, str]:
        """Learns one line: ``(template_id, change)``, change "new", "changed" or "unchanged"."""

    def learn_many(self, lines: Sequence[str], parallel: bool = False) -> _UInt64Array:
        """Learns every line in order (GIL released); the template id of each line.

        ``parallel`` masks on all cores; the result equals the sequential one.
        """

    def learn_file(self, path: _PathLike, parallel: bool = False) -> _UInt64Array:
        """Reads a log file (invalid UTF-8 replaced, no line dropped) and learns every line."""

    def match(self, line: str) -> int | None:
        """The template covering a line, without learning; None when none does."""

    def template(self, template_id: int) -> str | None:
        """The current template of an id, or None when it is not held."""

    def templates(self) -> list[tuple[int, str, int]]:
        """Every template as ``(id, template, count)``, most frequent first."""

    def parameters(self, template_id: int, line: str) -> list[str] | None:
        """The values of the template's variables in a line, or None when it does not fit."""

    def snapshot(self) -> str:
        """The whole state, parameters included, as JSON."""

    @staticmethod
    def restore(snapshot: str) -> TemplateMiner:
        """A miner restored from ``snapshot()``; raises ParseError for bad JSON."""

    def __len__(self) -> int: ...
    def __getstate__(self) -> str: ...
    def __setstate__(self, state: str) -> None: ...

def loghub_template(template: str) -> str:
    """A template in the loghub notation: every ``<:NAME:>`` becomes ``<*>``."""

def rca_rank(
    topology: Topology,
    timestamps: _TimestampsLike,
    values: npt.ArrayLike,
    columns: Sequence[str],
    anomaly_time: _Timestamp | str | None = None,
    method: str = "default",
    knowledge_base: KnowledgeBase | None = None,
) -> RcaReport:
    """Ranks the resources of ``topology`` as the root cause of the incident seen in
    ``values`` (shape ``(len(timestamps), len(columns))``, NaN = missing), whose columns are
    named ``<resource>:<metric>`` and whose rows are at ``timestamps`` (int ms or
    datetime64). ``anomaly_time`` (a timestamp or RFC 3339 text) is found in the data when
    None; with ``knowledge_base`` the report recommends runbooks for the first three causes.
    The GIL is released while ranking.

    Raises UnknownResourceError for a column of a resource not in the topology,
    InvalidInputError for bad data (unsorted timestamps, an anomaly time outside the
    data...), InvalidParameterError for an unknown method or a bad shape.
    """

@final
class RootCause:
    """One candidate root cause."""

    def __new__(
        cls,
        rank: int,
        resource: str,
        metric: str | None = None,
        score: float = 0.0,
        confidence: float = 0.0,
        evidence: list[str] = ...,
        affected: list[str] = ...,
    ) -> RootCause: ...
    @property
    def rank(self) -> int:
        """Position, 1 = most likely."""
    @property
    def resource(self) -> str:
        """The resource."""
    @property
    def metric(self) -> str | None:
        """Its most telling metric, if any."""
    @property
    def score(self) -> float:
        """The method's score (higher is more likely)."""
    @property
    def confidence(self) -> float:
        """Calibrated probability in [0, 1] that it is the cause."""
    @property
    def evidence(self) -> list[str]:
        """Sentences built from the data."""
    @property
    def affected(self) -> list[str]:
        """Its blast radius, nearest first."""
    def to_dict(self) -> dict[str, Any]:
        """``{"rank", "resource", "metric", "score", "confidence", "evidence", "affected"}``."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class RcaReport:
    """The report of a root-cause ranking."""

    @property
    def anomaly_time(self) -> int:
        """The anomaly time used, int ms since the epoch."""
    @property
    def anomaly_time_source(self) -> str:
        """How the anomaly time was obtained."""
    @property
    def anomaly_time_detected(self) -> bool:
        """Whether the anomaly time was found in the data (not given)."""
    @property
    def method(self) -> str:
        """The ranking method's name."""
    @property
    def root_causes(self) -> list[RootCause]:
        """Every candidate resource, best first."""
    @property
    def affected(self) -> list[str]:
        """The impact: the blast radius of the best candidate, nearest first."""
    @property
    def recommended_actions(self) -> list[Recommendation]:
        """Runbooks matched to the first root causes (empty without a knowledge base)."""
    @property
    def notes(self) -> list[str]:
        """What was done to the input (how the time was found, gaps filled...)."""
    def to_dict(self) -> dict[str, Any]:
        """The JSON report of ``aiops rca`` (``anomaly_time`` as RFC 3339 text, ``method``,
        ``root_causes``, ``impact`` ``{"affected"}``, ``recommended_actions``) plus
        ``notes``."""

def rca_method_names() -> list[str]:
    """The ranking methods' names, the default first."""

@final
class LogDetector:
    """Streaming log anomaly detector: new and rare templates, template counts per window that
    burst or vanish (rolling median/MAD capped by Poisson noise), error-keyword rates, and a
    PCA reconstruction error (SPE vs the Q statistic) of each window's template counts.

    ``log_format``, ``masks``, ``sim_threshold`` and ``depth`` configure the template miner as
    in ``TemplateMiner``; the format's Date/Time/Timestamp fields give time windows of
    ``window`` (``"60s"``, ``"5m"``, ``"1h"``); without them, or with ``"1000lines"``, windows
    are runs of lines (``fallback_lines`` per window when time was asked). A line is
    anomalous (``line_rule="keyword"``) when it holds an error keyword (error, exception,
    warn, fatal, fail; an INFO/DEBUG ``Level`` field clears them when ``level_keywords``) and
    its template is new after ``warmup_lines``, rare (below ``rare_ratio`` of the lines after
    ``rare_min_lines``) or bursting, or its window is anomalous; ``line_rule="any"`` also
    reports new, rare and bursting templates without a keyword. Reports are plain dicts.
    Raises InvalidParameterError for bad values. Pickling keeps the whole state.
    """

    def __new__(
        cls,
        log_format: str | None = None,
        masks: Sequence[str] = ...,
        window: str = "60s",
        sim_threshold: float = 0.5,
        depth: int = 4,
        fallback_lines: int = 100,
        warmup_lines: int = 500,
        rare_ratio: float = 0.005,
        rare_min_lines: int = 1000,
        count_history: int = 60,
        count_min_windows: int = 10,
        count_threshold: float = 4.0,
        level_keywords: bool = True,
        line_rule: str = "keyword",
        pca: bool = True,
        pca_alpha: float = 0.001,
    ) -> LogDetector:
        """Checks the parameters and makes a fresh detector."""

    @property
    def window(self) -> str:
        """How lines are grouped: ``"1m"``-style time windows or ``"100lines"``."""

    def update(self, line: str) -> ClosedWindow | None:
        """Takes one line; the window it closed, or None."""

    def update_bytes(self, line: bytes) -> ClosedWindow | None:
        """Takes one line as bytes; invalid UTF-8 is replaced and counted."""

    def finish(self) -> ClosedWindow | None:
        """Closes the current window (end of input); the closed window or None."""

    def detect(self, lines: Sequence[str]) -> LogReport:
        """Runs a list of lines from a fresh state (the streaming state is untouched), GIL
        released; equals streaming them."""

    def detect_file(self, path: _PathLike) -> LogReport:
        """Reads a log file (invalid UTF-8 replaced and counted) and runs it like ``detect``."""

    def line_flags(self, lines: Sequence[str]) -> _BoolArray:
        """One boolean per line: whether ``detect`` reports it."""

    def stats(self) -> LogStats:
        """Counts of the streaming run so far (lines, windows, input problems...)."""

    def snapshot(self) -> str:
        """The whole streaming state, parameters included, as JSON."""

    @staticmethod
    def restore(snapshot: str) -> LogDetector:
        """A detector restored from ``snapshot()``; raises SnapshotError for a bad one."""

    def __getstate__(self) -> str: ...
    def __setstate__(self, state: str) -> None: ...

@final
class LogReason:
    """Why a line or a window is anomalous."""

    @property
    def signal(self) -> str:
        """"new_template", "rare_template", "template_burst", "template_vanish",
        "keyword_rate", "spe" or "keyword"."""
    @property
    def score(self) -> float:
        """Its strength, in the signal's own scale."""
    @property
    def template(self) -> int | None:
        """The template concerned, when there is one."""
    @property
    def message(self) -> str:
        """A sentence for people."""
    def to_dict(self) -> dict[str, Any]:
        """The same fields as a dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class LogLine:
    """An anomalous line."""

    @property
    def line(self) -> int:
        """Line number in the input, from 1."""
    @property
    def window(self) -> int:
        """Index of its window, from 0."""
    @property
    def template_id(self) -> int:
        """Its template id."""
    @property
    def template(self) -> str:
        """Its template when its window closed."""
    @property
    def keywords(self) -> list[str]:
        """The error keywords it holds."""
    @property
    def reasons(self) -> list[LogReason]:
        """Why it is anomalous."""
    def to_dict(self) -> dict[str, Any]:
        """The same fields as a dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class LogWindow:
    """A closed window of log lines."""

    @property
    def index(self) -> int:
        """Index from 0, in closing order."""
    @property
    def start_ms(self) -> int | None:
        """Start of a time window, int ms since the epoch (None for line windows)."""
    @property
    def end_ms(self) -> int | None:
        """End (exclusive) of a time window, int ms since the epoch."""
    @property
    def first_line(self) -> int:
        """First line number in it."""
    @property
    def last_line(self) -> int:
        """Last line number in it."""
    @property
    def lines(self) -> int:
        """Lines in it."""
    @property
    def keyword_lines(self) -> int:
        """Lines in it with an error keyword."""
    @property
    def anomalous(self) -> bool:
        """Whether a window signal fired."""
    @property
    def reasons(self) -> list[LogReason]:
        """Window signals, strongest first."""
    @property
    def anomalous_lines(self) -> int:
        """Anomalous lines in it."""
    def to_dict(self) -> dict[str, Any]:
        """The same fields as a dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class LogStats:
    """Counts of a run, and of the input problems met."""

    @property
    def lines(self) -> int:
        """Lines read."""
    @property
    def windows(self) -> int:
        """Windows closed."""
    @property
    def anomalous_windows(self) -> int:
        """Windows with a window signal."""
    @property
    def anomalous_lines(self) -> int:
        """Anomalous lines."""
    @property
    def templates(self) -> int:
        """Templates mined."""
    @property
    def header_unmatched(self) -> int:
        """Lines whose header did not match the log format."""
    @property
    def untimed(self) -> int:
        """Lines without a readable time in time windows."""
    @property
    def late(self) -> int:
        """Lines older than their window's start."""
    @property
    def invalid_utf8(self) -> int:
        """Lines with invalid UTF-8."""
    def to_dict(self) -> dict[str, Any]:
        """The same fields as a dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class ClosedWindow:
    """What closing a window produced: the window and its anomalous lines."""

    @property
    def window(self) -> LogWindow:
        """The window."""
    @property
    def lines(self) -> list[LogLine]:
        """Its anomalous lines, in line order."""
    def to_dict(self) -> dict[str, Any]:
        """``{"window": {...}, "lines": [...]}``."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class LogReport:
    """The result of a whole run."""

    @property
    def window(self) -> str:
        """How windows were made: ``"1m"``-style or ``"100lines"``."""
    @property
    def windows(self) -> list[LogWindow]:
        """Windows that are anomalous or hold an anomalous line, in order."""
    @property
    def lines(self) -> list[LogLine]:
        """Anomalous lines, in order."""
    @property
    def stats(self) -> LogStats:
        """Counts."""
    def to_dict(self) -> dict[str, Any]:
        """``{"window", "windows", "lines", "stats"}``."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class AlertEngine:
    """The alert correlation engine: dedup, routing and grouping, inhibition, silences and
    incidents. Time only moves when the caller says so (int ms since the epoch).

    ``config`` is a dict shaped like Alertmanager's YAML (route, inhibit_rules, silences,
    maintenance_windows, correlation...) or the path of a YAML file (``from_yaml`` takes the
    text); ``topology`` a :class:`Topology`. Raises ConfigError or InvalidParameterError for
    a bad configuration.
    """

    def __new__(
        cls, config: dict[str, Any] | _PathLike | None = None, topology: Topology | None = None
    ) -> AlertEngine:
        """Builds an engine; both arguments are optional."""

    @staticmethod
    def from_yaml(text: str, topology: Topology | None = None) -> AlertEngine:
        """An engine from YAML text (Alertmanager's configuration format)."""

    def ingest(
        self,
        alerts: Alert | dict[str, Any] | Iterable[Alert | dict[str, Any]],
        now: _Timestamp | None = None,
    ) -> list[IngestOutcome]:
        """Feeds alerts in order (Alert objects, or dicts in Alertmanager's API v2 or webhook
        shape, or a webhook payload), each at ``now``, or without it at its own event time
        (``endsAt`` when resolved, else ``startsAt``) or the engine's time if later."""

    def tick(self, now: _Timestamp) -> list[Notification]:
        """Advances to ``now``; the notifications due."""

    @property
    def now(self) -> int | None:
        """The engine's time (int ms): the latest ``now`` it ran at."""

    def current_incident(self, id: str) -> str | None:
        """The incident now holding incident ``id``'s alerts (itself, or the one it was
        merged into); None for an unknown id."""

    def incidents(self) -> list[Incident]:
        """Every incident so far, open and resolved, in opening order."""

    def stats(self) -> AlertStats:
        """The counters."""

    def snapshot(self) -> str:
        """The whole state as text, configuration and topology included."""

    @staticmethod
    def restore(snapshot: str) -> AlertEngine:
        """An engine restored from ``snapshot()`` (0.1 snapshots included); raises
        SnapshotError for a bad one."""

    def __reduce__(self) -> tuple[object, tuple[str]]: ...

@final
class Alert:
    """One alert, as Alertmanager knows it; timestamps are int ms since the epoch."""

    def __new__(
        cls,
        labels: dict[str, str],
        starts_at: _Timestamp,
        *,
        annotations: dict[str, str] | None = None,
        ends_at: _Timestamp | None = None,
        status: str = "firing",
        generator_url: str = "",
        acknowledged: bool = False,
    ) -> Alert: ...
    @staticmethod
    def from_dict(data: dict[str, Any]) -> Alert:
        """An alert from a dict in Alertmanager's API v2 or webhook shape (``startsAt`` /
        ``endsAt`` as RFC 3339 text or any timestamp)."""
    def to_dict(self) -> dict[str, Any]:
        """The webhook shape (``startsAt`` / ``endsAt`` as RFC 3339 text)."""
    @property
    def fingerprint(self) -> str:
        """Fingerprint of the labels, 16 hex digits."""
    @property
    def labels(self) -> dict[str, str]:
        """The identifying labels."""
    @property
    def annotations(self) -> dict[str, str]:
        """The annotations."""
    @property
    def status(self) -> str:
        """"firing" or "resolved" as sent."""
    @property
    def acknowledged(self) -> bool:
        """Whether an operator has acknowledged it."""
    @property
    def starts_at(self) -> int:
        """Start, int ms since the epoch."""
    @property
    def ends_at(self) -> int | None:
        """End (or planned end), int ms; None when not set."""
    @property
    def generator_url(self) -> str:
        """Link to the rule or query that produced it."""
    @property
    def severity(self) -> str | None:
        """The ``severity`` label when it names a known severity."""
    def status_at(self, now: _Timestamp) -> str:
        """"firing" or "resolved" at time ``now``."""
    def __reduce__(self) -> tuple[object, tuple[dict[str, Any]]]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class Incident:
    """One incident: its alerts, the resources they touch, its likely origin."""

    @property
    def id(self) -> str:
        """Id, ``inc-<n>``."""
    @property
    def title(self) -> str:
        """Title, from its first alert."""
    @property
    def severity(self) -> str:
        """The highest severity of its alerts."""
    @property
    def status(self) -> str:
        """"open", "acknowledged" or "resolved"."""
    @property
    def resources(self) -> list[str]:
        """Resources its alerts touch, sorted."""
    @property
    def alerts(self) -> list[Alert]:
        """Its alerts."""
    @property
    def started_at(self) -> int:
        """When it started, int ms."""
    @property
    def resolved_at(self) -> int | None:
        """When it resolved, int ms; None while open."""
    @property
    def probable_origin(self) -> str | None:
        """The resource the trouble most likely started at, if known."""
    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the Rust crate (timestamps as RFC 3339 text)."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class Notification:
    """One notification: what a receiver gets for one alert group at one time."""

    @property
    def at(self) -> int:
        """When it is sent (engine time), int ms."""
    @property
    def receiver(self) -> str:
        """The receiver of the route."""
    @property
    def group_key(self) -> str:
        """The group key."""
    @property
    def group_labels(self) -> dict[str, str]:
        """The labels the group shares."""
    @property
    def firing(self) -> list[Alert]:
        """Firing alerts."""
    @property
    def resolved(self) -> list[Alert]:
        """Resolved alerts (empty without ``send_resolved``)."""
    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the Rust crate."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class IngestOutcome:
    """What happened to one incoming alert."""

    @property
    def at(self) -> int:
        """The engine time it was ingested at, int ms."""
    @property
    def fingerprint(self) -> str:
        """The fingerprint of its labels."""
    @property
    def outcome(self) -> str:
        """"new", "duplicate" or "updated"."""
    @property
    def muted_by(self) -> list[str]:
        """Silences / maintenance windows muting it."""
    @property
    def inhibited_by(self) -> str | None:
        """Fingerprint of the alert inhibiting it."""
    @property
    def incident(self) -> str | None:
        """The incident it belongs to."""
    def to_dict(self) -> dict[str, Any]:
        """The same fields as a dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class AlertStats:
    """Counters over everything an engine was fed."""

    @property
    def alerts_in(self) -> int:
        """Alerts received, duplicates included."""
    @property
    def duplicates(self) -> int:
        """Repeats with unchanged content."""
    @property
    def suppressed(self) -> int:
        """Firing alerts muted on arrival."""
    @property
    def inhibited(self) -> int:
        """Firing alerts inhibited on arrival."""
    @property
    def incidents(self) -> int:
        """Incidents opened, less those merged."""
    @property
    def noise_reduction(self) -> float:
        """``1 - incidents / alerts_in``."""
    def to_dict(self) -> dict[str, Any]:
        """The counters as a dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

# --- causal discovery (aiops.rca) -------------------------------------------------------

@final
class CausalGraph:
    """A learned causal graph over named variables: a CPDAG from ``causal_pc`` (directed and
    undirected edges), a directed graph from ``causal_granger``."""

    @property
    def names(self) -> list[str]:
        """Variable names, in column order."""
    @property
    def adjacency(self) -> npt.NDArray[np.uint8]:
        """``adjacency[i, j] == 1`` when ``i -> j`` or ``i -- j`` (uint8, shape (p, p)); an
        undirected edge sets both ``[i, j]`` and ``[j, i]``."""
    @property
    def edges(self) -> list[tuple[str, str, bool, float]]:
        """Edges as ``(source, target, directed, p_value)``; an undirected edge lists the
        earlier column first. ``p_value``: PC's largest p-value among the tests the edge
        survived, Granger's F-test p-value."""
    @property
    def tests(self) -> int:
        """Conditional independence tests run (PC; 0 for Granger)."""
    def parents(self, name: str) -> list[str]:
        """Parents of ``name``: the sources of directed edges into it."""
    def has_edge(self, source: str, target: str) -> bool:
        """Whether the directed edge ``source -> target`` is in the graph."""
    def is_adjacent(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` are joined by an edge of any kind."""
    def __len__(self) -> int: ...

@final
class GrangerResult:
    """Pairwise Granger causality: the significant edges and every pair's test."""

    @property
    def graph(self) -> CausalGraph:
        """Edges ``x -> y`` with p-value below alpha (one per pair: the stronger direction)."""
    @property
    def p_values(self) -> npt.NDArray[np.float64]:
        """``p_values[x, y]``: p-value of "x Granger-causes y" (NaN on the diagonal)."""
    @property
    def f_statistics(self) -> npt.NDArray[np.float64]:
        """``f_statistics[x, y]``: its F statistic (NaN on the diagonal)."""
    @property
    def lags(self) -> npt.NDArray[np.int64]:
        """``lags[x, y]``: the lag chosen for that test (samples, 0 on the diagonal)."""

def causal_pc(
    data: npt.NDArray[np.float64],
    names: Sequence[str] | None = None,
    alpha: float = 0.05,
    max_cond_size: int | None = None,
    forbidden: Sequence[tuple[str, str]] | None = None,
    required: Sequence[tuple[str, str]] | None = None,
    root_nodes: Sequence[str] | None = None,
    leaf_nodes: Sequence[str] | None = None,
    knowledge: str | None = None,
    topology: Topology | None = None,
    max_hops: int = 1,
    follow_dependencies: bool = False,
    sepset_rule: str = "union",
) -> CausalGraph:
    """PC (stable, Fisher z) on ``data`` (float64, shape (samples, variables)); see
    ``aiops.rca.pc``."""

def causal_granger(
    data: npt.NDArray[np.float64],
    names: Sequence[str] | None = None,
    max_lag: int = 5,
    criterion: str = "bic",
    alpha: float = 0.05,
    conditional: bool = False,
) -> GrangerResult:
    """Pairwise Granger causality on ``data`` (float64, shape (samples, variables), rows in
    time order); see ``aiops.rca.granger``."""
@final
class Topology:
    """A checked topology: resources (nodes with an ``id`` and a ``kind``) and the edges
    between them (kinds ``calls``, ``runs_on``, ``depends_on``). Every API that needs the
    topology takes this object. Trouble travels against the edges: a resource's dependents
    are its blast radius. Building raises InvalidInputError for a duplicate node, an edge to
    an unknown node or a cycle of ``runs_on`` edges (ParseError for malformed JSON); the
    queries raise UnknownResourceError for an unknown resource."""

    def __new__(
        cls,
        nodes: Iterable[dict[str, Any] | tuple[str, str]],
        edges: Iterable[dict[str, Any] | tuple[str, str, str]] | None = None,
    ) -> Topology:
        """From nodes (dicts ``{"id", "kind"}`` or ``(id, kind)`` pairs) and edges (dicts
        ``{"from", "to", "kind"}`` or ``(from, to, kind)`` triples)."""
    @staticmethod
    def from_dict(data: dict[str, Any]) -> Topology:
        """From a dict shaped like the topology JSON: ``{"nodes": [...], "edges": [...]}``."""
    @staticmethod
    def from_json(text: str) -> Topology:
        """From the topology JSON text."""
    @staticmethod
    def from_file(path: _PathLike) -> Topology:
        """Reads a topology JSON file."""
    def to_dict(self) -> dict[str, Any]:
        """``{"nodes": [...], "edges": [...]}``."""
    def edges(self) -> list[tuple[str, str, str]]:
        """Edges as ``(from, to, kind)``, in declaration order."""
    def __eq__(self, value: object, /) -> bool: ...
    def __getnewargs__(self) -> tuple[Any, Any]: ...
    def __len__(self) -> int: ...
    def __contains__(self, key: object, /) -> bool: ...
    def nodes(self) -> list[str]:
        """Resource ids, in declaration order."""

    def kind(self, id: str) -> str:
        """The kind of a resource."""

    def dependencies(self, id: str, direct: bool = False) -> list[str]:
        """Everything ``id`` needs, nearest first (``direct``: its edges' targets only)."""

    def dependents(self, id: str, direct: bool = False) -> list[str]:
        """Everything that needs ``id``, nearest first (``direct``: edges to it only)."""

    def blast_radius(self, id: str) -> list[str]:
        """Every resource whose health depends on ``id``."""

    def within(self, id: str, k: int) -> list[tuple[str, int]]:
        """Resources within ``k`` edges of ``id`` ignoring direction, with their distance."""

    def hops(self, a: str, b: str) -> int | None:
        """Shortest distance between ``a`` and ``b`` ignoring direction; None if apart."""

@final
class KnowledgeBase:
    """Runbooks matched to root causes by resource kind, metric and resource, with BM25
    full-text search. Documents are Markdown with YAML front matter (``id``, ``title``,
    ``kinds``, ``metrics`` with ``*`` wildcards, ``resources``, ``tags``, ``actions``) or
    YAML files with the same keys plus ``description``. Raises ParseError for a bad
    document."""

    def __new__(cls, documents: dict[str, str]) -> KnowledgeBase:
        """From ``{file name: text}``; the name's stem is the default id."""

    @staticmethod
    def load_dir(path: str | os.PathLike[str]) -> KnowledgeBase:
        """Every .md, .markdown, .yaml and .yml file under ``path``; OSError when it cannot
        be read."""

    def __len__(self) -> int: ...
    def runbooks(self) -> list[Runbook]:
        """The runbooks, sorted by id."""

    def search(self, query: str, limit: int = 10) -> list[SearchHit]:
        """BM25 hits, best first."""

    def recommend(
        self,
        causes: Sequence[RootCause | dict[str, Any]],
        kinds: Topology | dict[str, str],
        top: int = 3,
    ) -> list[Recommendation]:
        """Runbooks for the first ``top`` root causes (RootCause objects or dicts of their
        fields), given each resource's kind by a Topology or a dict."""

@final
class Runbook:
    """One runbook."""

    @property
    def id(self) -> str:
        """Unique id."""
    @property
    def title(self) -> str:
        """Title."""
    @property
    def kinds(self) -> list[str]:
        """Resource kinds it applies to (empty: any)."""
    @property
    def metrics(self) -> list[str]:
        """Metric name patterns (empty: any)."""
    @property
    def resources(self) -> list[str]:
        """Resource ids it applies to (empty: any)."""
    @property
    def tags(self) -> list[str]:
        """Free tags."""
    @property
    def actions(self) -> list[str]:
        """Steps to take."""
    @property
    def remediation(self) -> str | None:
        """The automatic remediation it suggests (an allow-listed name), if any."""
    @property
    def body(self) -> str:
        """Free text."""
    @property
    def source(self) -> str | None:
        """The file it came from, if any."""
    def to_dict(self) -> dict[str, Any]:
        """The same fields as a dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class Recommendation:
    """A runbook recommended for a root cause."""

    @property
    def runbook(self) -> str:
        """Runbook id."""
    @property
    def title(self) -> str:
        """Runbook title."""
    @property
    def resource(self) -> str:
        """The root cause's resource."""
    @property
    def metric(self) -> str | None:
        """The root cause's metric."""
    @property
    def cause_rank(self) -> int:
        """Rank of the root cause it is for."""
    @property
    def score(self) -> float:
        """How well it fits."""
    @property
    def actions(self) -> list[str]:
        """Steps to take."""
    @property
    def remediation(self) -> str | None:
        """The runbook's suggested automatic remediation, if any."""
    def to_dict(self) -> dict[str, Any]:
        """The same fields as a dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class SearchHit:
    """A full-text search hit."""

    @property
    def runbook(self) -> str:
        """Runbook id."""
    @property
    def title(self) -> str:
        """Runbook title."""
    @property
    def score(self) -> float:
        """BM25 score (higher is better)."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

# Workflows (aiops.workflow).

@final
class Diagnostic:
    """A finding of the workflow checks: an error or a warning, with where it is."""

    @property
    def level(self) -> str:
        """``error`` or ``warning``."""
    @property
    def message(self) -> str:
        """What is wrong, in words."""
    @property
    def file(self) -> str | None:
        """The file, when the workflows came from one."""
    @property
    def workflow(self) -> str | None:
        """The workflow, when the finding is inside one."""
    @property
    def step(self) -> str | None:
        """The step, when the finding is inside one."""
    @property
    def line(self) -> int | None:
        """Line in the file (from 1), when known."""
    @property
    def column(self) -> int | None:
        """Column in the file (from 1), when known."""
    def to_dict(self) -> dict[str, Any]:
        """The same fields as a dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class StepRecord:
    """What one step of a run did."""

    @property
    def name(self) -> str:
        """The step."""
    @property
    def action(self) -> str:
        """Its action."""
    @property
    def status(self) -> str:
        """``succeeded``, ``failed``, ``skipped``, ``would_run``, ``not_run`` or ``throttled``."""
    @property
    def condition(self) -> dict[str, Any] | None:
        """The condition and what it decided (``expr``, ``value``), if it has one."""
    @property
    def input(self) -> Any:
        """Rendered params (a list, one per item, for ``foreach``), or None."""
    @property
    def output(self) -> Any:
        """What it returned (a list for ``foreach``), or None."""
    @property
    def attempts(self) -> list[dict[str, Any]]:
        """Every attempt."""
    @property
    def error(self) -> str | None:
        """Why it failed."""
    @property
    def systems(self) -> list[str]:
        """Systems it reaches, with ``(not configured)`` when none is."""
    @property
    def started_at(self) -> int:
        """When it started, ms since the epoch."""
    @property
    def duration_ms(self) -> int:
        """How long it took, ms."""
    def to_dict(self) -> dict[str, Any]:
        """The same fields as a dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class RunRecord:
    """One run of a workflow."""

    @property
    def run_id(self) -> str:
        """Its id."""
    @property
    def workflow(self) -> str:
        """The workflow."""
    @property
    def dry_run(self) -> bool:
        """Whether it was a dry run."""
    @property
    def status(self) -> str:
        """How it ended (``succeeded``, ``failed``...)."""
    @property
    def steps(self) -> list[StepRecord]:
        """Each step, in order."""
    @property
    def audit(self) -> list[dict[str, Any]]:
        """The audit entry of every remediation attempted."""
    @property
    def error(self) -> str | None:
        """Why it failed."""
    @property
    def started_at(self) -> int:
        """When it started, ms since the epoch."""
    @property
    def duration_ms(self) -> int:
        """How long it took, ms."""
    def step(self, name: str) -> StepRecord | None:
        """The step called ``name``, or None."""
    def to_dict(self) -> dict[str, Any]:
        """The same fields as a dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class Workflows:
    """Workflows loaded from YAML and checked, ready to run."""

    @staticmethod
    def load(path: str | os.PathLike[str], remediation: dict[str, Any] | None = None) -> Workflows:
        """Loads and checks the workflows of a YAML file; ``remediation`` is the allow-list."""
    @staticmethod
    def from_yaml(text: str, remediation: dict[str, Any] | None = None) -> Workflows:
        """Parses and checks workflows from YAML text."""
    @property
    def names(self) -> list[str]:
        """The workflows' names, sorted."""
    @property
    def warnings(self) -> list[Diagnostic]:
        """Warnings found while loading."""
    def triggered_by(self, event: dict[str, Any]) -> list[str]:
        """The workflows this event triggers."""
    def run(
        self,
        name: str,
        event: dict[str, Any],
        *,
        dry_run: bool = False,
        assume: dict[str, Any] | None = None,
    ) -> RunRecord:
        """Runs the workflow ``name`` on ``event``; ``dry_run`` calls nothing."""

def workflow_lint(path: str | os.PathLike[str], systems: list[str] | None = None) -> list[Diagnostic]:
    """Checks a workflow file or a directory of them; returns every finding."""

_Duration: TypeAlias = str | datetime.timedelta

@final
class Sample:
    """One sample of an instant vector."""

    @property
    def labels(self) -> dict[str, str]:
        """The series' labels (``__name__`` included when the result keeps it)."""
    @property
    def timestamp(self) -> int:
        """When, int ms since the epoch."""
    @property
    def value(self) -> float:
        """The value (may be NaN or infinite)."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class QueryResult:
    """The result of an instant query, by Prometheus' ``resultType``."""

    @property
    def result_type(self) -> str:
        """``vector``, ``matrix``, ``scalar`` or ``string``."""
    @property
    def samples(self) -> list[Sample]:
        """The samples of a vector (empty for other types)."""
    @property
    def series(self) -> list[TimeSeries]:
        """The series of a matrix (empty for other types)."""
    @property
    def value(self) -> float | str | None:
        """The value of a scalar or string; ``None`` for vectors and matrices."""
    @property
    def timestamp(self) -> int | None:
        """When a scalar or string was evaluated, int ms."""
    def __len__(self) -> int: ...

@final
class Prometheus:
    """A client of the Prometheus HTTP query API (Prometheus, VictoriaMetrics, Thanos...)."""

    def __new__(
        cls,
        url: str,
        *,
        auth: dict[str, Any] | None = None,
        timeout: _Duration | None = None,
        retries: int = 3,
        max_points: int = 11000,
    ) -> Prometheus: ...
    def query(self, promql: str, at: _Timestamp | None = None) -> QueryResult:
        """Evaluates ``promql`` at ``at`` (the server's now when ``None``)."""
    def query_range(
        self, promql: str, start: _Timestamp, end: _Timestamp, step: _Duration
    ) -> list[TimeSeries]:
        """Evaluates ``promql`` from ``start`` to ``end`` every ``step``: one series per result."""
    def series(
        self, matchers: list[str], start: _Timestamp | None = None, end: _Timestamp | None = None
    ) -> list[dict[str, str]]:
        """The label sets of the series matching any of ``matchers``."""
    def label_values(
        self,
        name: str,
        matchers: list[str] | None = None,
        start: _Timestamp | None = None,
        end: _Timestamp | None = None,
    ) -> list[str]:
        """The values of label ``name`` over the matching series."""

@final
class AlertmanagerAlert:
    """An alert as Alertmanager's ``GET /api/v2/alerts`` answers it."""

    @property
    def alert(self) -> Alert:
        """The alert (labels, annotations, times, generator URL)."""
    @property
    def state(self) -> str:
        """``active``, ``suppressed`` or ``unprocessed``."""
    @property
    def silenced_by(self) -> list[str]:
        """Ids of the silences muting it."""
    @property
    def inhibited_by(self) -> list[str]:
        """Fingerprints of the alerts inhibiting it."""
    @property
    def receivers(self) -> list[str]:
        """The receivers it is routed to."""
    @property
    def updated_at(self) -> int | None:
        """When Alertmanager last updated it, int ms."""
    @property
    def fingerprint(self) -> str:
        """Alertmanager's fingerprint (its own hash of the labels)."""

@final
class Alertmanager:
    """A client of Alertmanager's API v2: send alerts to it, read what it holds."""

    def __new__(
        cls,
        url: str,
        *,
        auth: dict[str, Any] | None = None,
        timeout: _Duration | None = None,
        retries: int = 3,
    ) -> Alertmanager: ...
    def post_alerts(self, alerts: Alert | dict[str, Any] | Iterable[Alert | dict[str, Any]]) -> None:
        """Sends alerts (``POST /api/v2/alerts``)."""
    def alerts(
        self,
        filter: list[str] | None = None,
        *,
        active: bool | None = None,
        silenced: bool | None = None,
        inhibited: bool | None = None,
        unprocessed: bool | None = None,
        receiver: str | None = None,
    ) -> list[AlertmanagerAlert]:
        """The alerts Alertmanager holds that match every matcher of ``filter``."""
