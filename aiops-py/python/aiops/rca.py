"""Root-cause analysis: causal discovery from metrics (PC, Granger), the runbook knowledge
base and, with the :class:`~aiops.Topology`, ranking of candidate root causes (``rank``;
methods from ``method_names()``: ``default``, ``baro``, ``nsigma``, ``hypothesis``,
``pagerank``), which returns an :class:`RcaReport` of :class:`RootCause` objects.

Data is a samples x variables matrix: a 2-D float64 NumPy array (one column per
``resource:metric``) or a pandas DataFrame, whose column names become the variable names.
Timestamps are int milliseconds since the epoch, or datetime64 / pandas datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from aiops._aiops import (
    CausalGraph,
    GrangerResult,
    KnowledgeBase,
    RcaReport,
    Recommendation,
    RootCause,
    Runbook,
    SearchHit,
    Topology,
    causal_granger,
    causal_pc,
    rca_method_names,
    rca_rank,
)

__all__ = [
    "CausalGraph",
    "GrangerResult",
    "KnowledgeBase",
    "RcaReport",
    "Recommendation",
    "RootCause",
    "Runbook",
    "SearchHit",
    "Topology",
    "granger",
    "method_names",
    "pc",
    "rank",
    "rank_frame",
]


# --- causal discovery -------------------------------------------------------------------


def _matrix(data: Any, names: Sequence[str] | None) -> tuple[npt.NDArray[np.float64], list[str] | None]:
    """A C-contiguous float64 matrix and the names (a DataFrame's columns unless given)."""
    if names is None and hasattr(data, "columns") and hasattr(data, "to_numpy"):
        names = [str(c) for c in data.columns]
        data = data.to_numpy(dtype=np.float64)
    array = np.ascontiguousarray(np.asarray(data, dtype=np.float64))
    if array.ndim != 2:
        raise ValueError(f"data must be 2-D (samples, variables), got {array.ndim} dimensions")
    return array, (list(names) if names is not None else None)


def _pairs(edges: Iterable[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
    return None if edges is None else [(str(a), str(b)) for a, b in edges]


def pc(
    data: Any,
    names: Sequence[str] | None = None,
    alpha: float = 0.05,
    *,
    max_cond_size: int | None = None,
    forbidden: Iterable[tuple[str, str]] | None = None,
    required: Iterable[tuple[str, str]] | None = None,
    root_nodes: Iterable[str] | None = None,
    leaf_nodes: Iterable[str] | None = None,
    knowledge: str | None = None,
    topology: Topology | None = None,
    max_hops: int = 1,
    follow_dependencies: bool = False,
    sepset_rule: str = "union",
) -> CausalGraph:
    """The PC algorithm (stable variant, Fisher-z test at level ``alpha``): a CPDAG.

    ``forbidden`` / ``required`` are ``(source, target)`` edges, ``root_nodes`` have no parents,
    ``leaf_nodes`` no children; ``knowledge`` is PyRCA's ``domain_knowledge.yaml`` text (merged
    with the lists). ``topology`` (a :class:`~aiops.Topology`, variables named
    ``resource:metric``) forbids edges between resources more than ``max_hops`` apart, and with
    ``follow_dependencies`` edges from a dependent's variable to its dependency's.
    ``sepset_rule``: ``"union"`` of every separating set of the removal level (causal-learn)
    or the ``"first"`` found (pcalg); it decides which colliders are oriented.

    Raises InvalidInputError for NaN, constant or collinear columns and fewer than
    ``variables + 2`` samples; InvalidParameterError for unknown names or contradictory
    constraints.
    """
    array, names = _matrix(data, names)
    return causal_pc(
        array,
        names,
        alpha,
        max_cond_size,
        _pairs(forbidden),
        _pairs(required),
        None if root_nodes is None else [str(v) for v in root_nodes],
        None if leaf_nodes is None else [str(v) for v in leaf_nodes],
        knowledge,
        topology,
        max_hops,
        follow_dependencies,
        sepset_rule,
    )


def granger(
    data: Any,
    names: Sequence[str] | None = None,
    max_lag: int = 5,
    criterion: str = "bic",
    alpha: float = 0.05,
    conditional: bool = False,
) -> GrangerResult:
    """Pairwise Granger causality, rows in time order: the lag of each pair chosen in
    ``1..max_lag`` by ``criterion`` (``"aic"`` or ``"bic"``), an F-test p-value per ordered
    pair, and the graph of the pairs below ``alpha`` (no multiple-testing correction).

    ``conditional=True`` regresses each target on the lags of every variable (a VAR equation)
    and tests dropping one cause's lags: indirect and common-cause pairs drop out."""
    array, names = _matrix(data, names)
    return causal_granger(array, names, max_lag, criterion, alpha, conditional)


# --- end of causal discovery ------------------------------------------------------------


# --- root-cause ranking -------------------------------------------------------------------


def method_names() -> list[str]:
    """The ranking methods' names, the default first."""
    return rca_method_names()


def rank(
    topology: Topology,
    timestamps: Any,
    values: npt.ArrayLike,
    columns: Sequence[str],
    anomaly_time: Any = None,
    method: str = "default",
    knowledge_base: KnowledgeBase | None = None,
) -> RcaReport:
    """Ranks every resource with metrics as the root cause of the incident.

    ``values`` has shape ``(len(timestamps), len(columns))``; columns are named
    ``<resource>:<metric>`` and NaN marks a missing value (filled by interpolation).
    ``timestamps`` are int milliseconds since the epoch, ``datetime64`` or a pandas
    ``DatetimeIndex``; ``anomaly_time`` likewise (or RFC 3339 text, or a ``datetime``); when
    ``None`` it is found in the data. With ``knowledge_base``, the report recommends its
    runbooks for the first three causes. Returns an :class:`RcaReport`: ``anomaly_time``
    (int ms), ``method``, ``root_causes`` (best first, each a :class:`RootCause` with
    ``rank``, ``resource``, ``metric``, ``score``, ``confidence``, ``evidence``),
    ``affected`` (the impact), ``recommended_actions`` and ``notes``; ``to_dict()`` gives
    the JSON report of ``aiops rca``.
    """
    return rca_rank(
        topology,
        timestamps,
        np.asarray(values, dtype=np.float64),
        [str(c) for c in columns],
        anomaly_time,
        method,
        knowledge_base,
    )


def rank_frame(
    topology: Topology,
    frame: Any,
    anomaly_time: Any = None,
    method: str = "default",
    knowledge_base: KnowledgeBase | None = None,
) -> RcaReport:
    """:func:`rank` on a pandas DataFrame indexed by time (a ``DatetimeIndex``, or int ms)
    whose columns are ``<resource>:<metric>``."""
    return rank(
        topology,
        frame.index,
        frame.to_numpy(dtype=np.float64),
        [str(c) for c in frame.columns],
        anomaly_time,
        method,
        knowledge_base,
    )


# --- end of root-cause ranking ------------------------------------------------------------
