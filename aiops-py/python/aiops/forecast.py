"""Forecasting and capacity planning: unfitted model classes whose ``fit`` returns a
:class:`FittedModel`, whose ``predict`` returns a :class:`Prediction` (NumPy arrays).

Every class is a thin wrapper choosing a model of the Rust registry; ``fit_model(name, ...)``
reaches the same models by name (``model_names()`` lists them).

>>> import numpy as np
>>> y = 50 + 10 * np.sin(np.arange(24 * 14) * 2 * np.pi / 24)
>>> p = AutoETS(period=24).fit(y).predict(48, levels=[80, 95])
>>> p.mean.shape, p.lower.shape
((48,), (2, 48))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy.typing as npt

from aiops._aiops import (
    FittedModel,
    Prediction,
    capacity_plan,
    fit_model,
    forecast,
    forecast_many,
    m4_evaluate,
    model_names,
)

__all__ = [
    "ETS",
    "MSTL",
    "Auto",
    "AutoETS",
    "Drift",
    "FittedModel",
    "HistoricAverage",
    "LinearTrend",
    "Naive",
    "OptimizedTheta",
    "Prediction",
    "SeasonalNaive",
    "Theta",
    "capacity_plan",
    "fit_model",
    "forecast",
    "forecast_many",
    "m4_evaluate",
    "model_names",
]


class _Model:
    """An unfitted model: a registry name and seasonal periods."""

    _name: str
    _periods: list[int]

    def fit(self, values: npt.ArrayLike) -> FittedModel:
        """Fits the model to ``values`` (finite floats, oldest first, evenly spaced)."""
        return fit_model(self._name, values, self._periods)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, periods={self._periods!r})"


class Naive(_Model):
    """Repeat the last value."""

    def __init__(self) -> None:
        self._name, self._periods = "naive", [1]


class SeasonalNaive(_Model):
    """Repeat the last season of ``period`` steps."""

    def __init__(self, period: int) -> None:
        self._name, self._periods = "snaive", [period]


class Drift(_Model):
    """Random walk with drift."""

    def __init__(self) -> None:
        self._name, self._periods = "drift", [1]


class HistoricAverage(_Model):
    """Mean of the whole history."""

    def __init__(self) -> None:
        self._name, self._periods = "average", [1]


class ETS(_Model):
    """One ETS form, e.g. ``ETS("AAdM", period=24)`` (error A|M, trend N|A|Ad, season N|A|M)."""

    def __init__(self, spec: str, period: int = 1) -> None:
        self._name, self._periods = f"ets-{spec}", [period]


class AutoETS(_Model):
    """Every admissible ETS form, the best by AICc; ``period`` 1 means non-seasonal."""

    def __init__(self, period: int = 1) -> None:
        self._name, self._periods = "ets", [period]


class Theta(_Model):
    """Standard Theta on the seasonally adjusted series."""

    def __init__(self, period: int = 1) -> None:
        self._name, self._periods = "theta", [period]


class OptimizedTheta(_Model):
    """Theta with θ fitted."""

    def __init__(self, period: int = 1) -> None:
        self._name, self._periods = "otm", [period]


class MSTL(_Model):
    """MSTL over ``periods`` with AutoETS on the adjusted series; ``log`` for multiplicative
    seasons (positive data)."""

    def __init__(self, periods: Sequence[int], log: bool = False) -> None:
        self._name, self._periods = ("mstl-log" if log else "mstl"), list(periods)


class LinearTrend(_Model):
    """Robust linear trend of the last segment after change points; ``period`` is removed
    first."""

    def __init__(self, period: int = 1) -> None:
        self._name, self._periods = "trend", [period]


class Auto(_Model):
    """The default combination; ``periods`` empty means detect them."""

    def __init__(self, periods: Sequence[int] = ()) -> None:
        self._name, self._periods = "auto", list(periods)
