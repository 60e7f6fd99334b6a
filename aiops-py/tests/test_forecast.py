"""aiops.forecast: models, intervals, batch forecasts, capacity planning and errors."""

import numpy as np
import pytest

import aiops
from aiops import forecast as fc


def seasonal(n: int, period: int = 24, slope: float = 0.0, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 50 + slope * t + 10 * np.sin(2 * np.pi * t / period) + noise * rng.standard_normal(n)


def test_pure_seasonal_series_is_forecast_near_exactly() -> None:
    y = seasonal(24 * 10)
    want = seasonal(24 * 12)[24 * 10 :]
    for model in [fc.SeasonalNaive(24), fc.AutoETS(24), fc.ETS("AAA", 24), fc.MSTL([24]), fc.Auto([24])]:
        p = model.fit(y).predict(48)
        assert np.allclose(p.mean, want, atol=0.05), model


def test_prediction_shapes_and_order() -> None:
    y = seasonal(24 * 14, noise=1.0, seed=1)
    p = fc.AutoETS(24).fit(y).predict(12, levels=[50, 80, 95])
    assert len(p) == 12 and p.mean.dtype == np.float64
    assert p.levels == [50.0, 80.0, 95.0]
    assert p.lower.shape == p.upper.shape == (3, 12)
    assert np.all(p.lower[2] <= p.lower[1]) and np.all(p.lower[1] <= p.mean)
    assert np.all(p.mean <= p.upper[1]) and np.all(p.upper[1] <= p.upper[2])


def test_every_model_by_name_and_class() -> None:
    y = seasonal(24 * 15, noise=0.5, seed=2)
    for name, summary in fc.model_names():
        assert summary
        m = fc.fit_model(name, y, [24])
        assert m.name == name and m.periods == [24]
        assert np.all(np.isfinite(m.predict(5).mean))
    for model in [fc.Naive(), fc.Drift(), fc.HistoricAverage(), fc.Theta(24), fc.OptimizedTheta(24), fc.MSTL([24, 168], log=True), fc.LinearTrend(24)]:
        assert model.fit(y).predict(3).mean.shape == (3,)
    assert fc.fit_model("auto", y).periods == [24], "detected"


def test_interval_coverage_on_a_random_walk() -> None:
    rng = np.random.default_rng(3)
    inside = total = 0
    for _ in range(100):
        y = np.cumsum(rng.standard_normal(210)) + 100
        p = fc.AutoETS().fit(y[:200]).predict(10, levels=[90])
        inside += int(np.sum((y[200:] >= p.lower[0]) & (y[200:] <= p.upper[0])))
        total += 10
    assert 0.8 <= inside / total <= 0.97


def test_forecast_many_matches_one_by_one() -> None:
    series = [seasonal(24 * 8, noise=1.0, seed=s) for s in range(6)]
    many = fc.forecast_many("ets", series, 24, periods=[24])
    for y, p in zip(series, many):
        assert np.allclose(p.mean, fc.AutoETS(24).fit(y).predict(24).mean)
    with pytest.raises(aiops.InvalidInputError, match="series 1"):
        fc.forecast_many("ets", [series[0], [1.0, np.nan, 2.0, 3.0, 4.0, 5.0]], 3)


def test_capacity_plan() -> None:
    y = seasonal(24 * 14, slope=0.1, noise=1.0, seed=4) - 10
    r = fc.capacity_plan(y, threshold=85, horizon=24 * 7, periods=[24], replicas=4)
    assert r["trend"]["direction"] == "increasing"  # type: ignore[index]
    assert isinstance(r["saturation_step"], int)
    assert r["status_forecast"] == "critical"
    assert r["replicas"]["needed"] > 4  # type: ignore[index]
    assert isinstance(r["prediction"], fc.Prediction)
    flat = fc.capacity_plan(seasonal(24 * 14, noise=1.0, seed=5) - 20, horizon=48, periods=[24])
    assert flat["saturation_step"] is None and flat["trend"]["direction"] == "stable"  # type: ignore[index]


def test_sampling_interval_and_bounds_as_the_cli() -> None:
    # Three days at five minutes of a percentage with a daily cycle: the cycle is found from
    # the sampling interval alone (288 steps a day), and the bounds hold.
    rng = np.random.default_rng(3)
    t = np.arange(288 * 3)
    y = 50 - 30 * np.cos(t * 2 * np.pi / 288) + 6 * rng.standard_normal(t.size)
    p, periods = fc.forecast(y, 288, step_seconds=300, bounds=(0, 100))
    assert [q["steps"] for q in periods] == [288]
    assert periods[0]["source"] == "daily" and periods[0]["seconds"] == 86400
    assert p.lower.min() >= 0 and p.upper.max() <= 100
    ts = np.datetime64("2026-01-01T00:00") + t * np.timedelta64(5, "m")
    _, by_ts = fc.forecast(y, 12, timestamps=ts)
    assert by_ts == periods
    r = fc.capacity_plan(y, threshold=90, horizon=288, timestamps=ts, name="cpu_percent")
    assert r["periods"] == periods
    assert r["bounds"] == (0.0, 100.0)
    assert r["trend"]["direction"] == "stable"  # type: ignore[index]
    pred = r["prediction"]
    assert isinstance(pred, fc.Prediction) and pred.upper.max() <= 100
    r = fc.capacity_plan(y, horizon=288, step_seconds=300, bounds=(None, None))
    assert r["bounds"] == (None, None)
    with pytest.raises(aiops.InvalidParameterError):
        fc.capacity_plan(y, step_seconds=300, timestamps=ts)
    with pytest.raises(aiops.InvalidParameterError):
        fc.forecast(y, 12, step_seconds=-5)
    with pytest.raises(aiops.InvalidParameterError):
        fc.forecast(y, 12, timestamps=ts[:10])
    with pytest.raises(aiops.InvalidParameterError):
        fc.forecast(y, 12, bounds=(100, 0))


def test_bad_input_raises_typed_errors() -> None:
    with pytest.raises(aiops.InvalidInputError):
        fc.AutoETS(24).fit([1.0, 2.0])
    with pytest.raises(aiops.InvalidInputError):
        fc.ETS("MNM", 4).fit(np.r_[np.zeros(1), np.ones(20)])
    with pytest.raises(aiops.InvalidInputError):
        fc.Theta().fit([1.0, np.nan, 3.0, 4.0, 5.0])
    with pytest.raises(aiops.InvalidParameterError):
        fc.fit_model("prophet", np.ones(30))
    with pytest.raises(aiops.InvalidParameterError):
        fc.ETS("XYZ").fit(np.ones(30))
    with pytest.raises(aiops.InvalidParameterError):
        fc.Naive().fit(np.arange(10.0)).predict(3, levels=[100])
    with pytest.raises(aiops.InvalidParameterError):
        fc.capacity_plan(np.ones(30), horizon=0)
    # A constant series is fine: a flat forecast with no width.
    p = fc.AutoETS().fit(np.full(30, 7.0)).predict(4)
    assert np.allclose(p.mean, 7.0)


def test_m4_evaluate_on_a_small_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def row(name: str, n: int, off: int) -> str:
        t = np.arange(off, off + n)
        return name + "," + ",".join(f"{v:.3f}" for v in 100 + 10 * (t % 24) + 0.05 * t) + "\n"

    (tmp_path / "Hourly-train.csv").write_text("id,v1\n" + row("H1", 120, 0) + row("H2", 96, 0))
    (tmp_path / "Hourly-test.csv").write_text("id,v1\n" + row("H1", 48, 120) + row("H2", 48, 96))
    r = fc.m4_evaluate(tmp_path, model="snaive")
    assert r["model"] == "snaive"
    assert set(r) >= {"smape", "mase", "owa", "seconds"}
    with pytest.raises(aiops.AiopsError):
        fc.m4_evaluate(tmp_path / "missing")
