"""Root-cause analysis: rank the resources of a service topology as the cause of an incident
from their metrics, with a calibrated confidence, evidence sentences and the blast radius.

Ranking methods (``method_names()``): ``default`` (robust scoring combined with the topology
and timing), ``baro``, ``nsigma``, ``hypothesis`` and ``pagerank``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from aiops._aiops import rca_method_names, rca_rank_json

__all__ = ["method_names", "rank", "rank_frame"]


# --- root-cause ranking -------------------------------------------------------------------


def method_names() -> list[str]:
    """The ranking methods' names, the default first."""
    return rca_method_names()


def _seconds(timestamps: npt.ArrayLike) -> np.ndarray:
    """Unix seconds as float64 from numbers (seconds or ms) or numpy datetime64."""
    arr = np.asarray(timestamps)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[ms]").astype(np.int64).astype(np.float64) / 1000.0
    return arr.astype(np.float64)


def _time(t: Any) -> float | int | str | None:
    if t is None or isinstance(t, (str, int, float)):
        return t
    if isinstance(t, np.datetime64):
        return float(np.datetime64(t, "ms").astype(np.int64)) / 1000.0
    if hasattr(t, "timestamp"):  # datetime.datetime, pandas.Timestamp
        return float(t.timestamp())
    return float(t)


def rank(
    topology_json: str,
    timestamps: npt.ArrayLike,
    values: npt.ArrayLike,
    columns: Sequence[str],
    anomaly_time: Any = None,
    method: str = "default",
) -> dict[str, Any]:
    """Ranks every resource with metrics as the root cause of the incident.

    ``values`` has shape ``(len(timestamps), len(columns))``; columns are named
    ``<resource>:<metric>`` and NaN marks a missing value (filled by interpolation).
    ``timestamps`` are unix seconds (or ms) or ``datetime64``; ``anomaly_time`` likewise, or
    RFC 3339 text, or a ``datetime``; when ``None`` it is found in the data. Returns the report
    of ``aiops rca``: ``anomaly_time``, ``method``, ``root_causes`` (best first, each with
    ``rank``, ``resource``, ``metric``, ``score``, ``confidence``, ``evidence``), ``impact``
    (``affected``), ``recommended_actions``, and ``notes``.
    """
    text = rca_rank_json(
        topology_json,
        _seconds(timestamps),
        np.asarray(values, dtype=np.float64),
        list(columns),
        _time(anomaly_time),
        method,
    )
    result: dict[str, Any] = json.loads(text)
    return result


def rank_frame(
    topology_json: str,
    frame: Any,
    anomaly_time: Any = None,
    method: str = "default",
) -> dict[str, Any]:
    """:func:`rank` on a pandas DataFrame indexed by time (a ``DatetimeIndex`` or numbers)
    whose columns are ``<resource>:<metric>``."""
    return rank(
        topology_json,
        np.asarray(frame.index),
        frame.to_numpy(dtype=np.float64),
        [str(c) for c in frame.columns],
        anomaly_time,
        method,
    )
