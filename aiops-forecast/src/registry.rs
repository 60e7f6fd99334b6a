//! Every model by name, for the command line, the evaluation and Python: one place that turns
//! `"ets"` or `"mstl"` plus the seasonal periods into a fitted model.

use crate::auto::Auto;
use crate::auto_ets::AutoEts;
use crate::average::WindowAverage;
use crate::bounds::Bounds;
use crate::drift::Drift;
use crate::error::{ForecastError, Result};
use crate::ets::{Ets, EtsSpec};
use crate::linear_trend::LinearTrend;
use crate::model::{FittedModel, Model, Prediction};
use crate::mstl::Mstl;
use crate::naive::SeasonalNaive;
use crate::seasonality::{SeasonalPeriod, detect_periods, resolve_periods};
use crate::theta::{Theta, ThetaKind};

/// The default model.
pub const DEFAULT_MODEL: &str = "auto";

/// Model names and one-line summaries. `ets-XYZ` (e.g. `ets-AAdM`) fits one fixed ETS form.
pub const MODELS: &[(&str, &str)] = &[
    (
        "auto",
        "median of MSTL (log and raw) and seasonal naive; AutoETS, Theta, naive without season, or the recent level when it backtests better (default)",
    ),
    ("naive", "repeat the last value"),
    ("snaive", "repeat the last season (first period)"),
    ("drift", "random walk with drift"),
    ("average", "mean of the whole history"),
    (
        "ets",
        "AutoETS: every admissible ETS form, best AICc (first period)",
    ),
    ("theta", "standard Theta on the seasonally adjusted series"),
    ("otm", "optimised Theta"),
    (
        "mstl",
        "MSTL over all periods, AutoETS on the adjusted series",
    ),
    ("mstl-log", "MSTL on log values (multiplicative seasons)"),
    (
        "trend",
        "robust linear trend of the last segment after change points",
    ),
];

/// A fitted model of any kind.
pub type BoxedFitted = Box<dyn FittedModel + Send + Sync>;

fn boxed<M>(model: M, y: &[f64]) -> Result<BoxedFitted>
where
    M: Model,
    M::Fitted: Send + Sync + 'static,
{
    Ok(Box::new(model.fit(y)?))
}

/// Fits the model called `name` to `y`. `periods` are the seasonal periods in steps; when
/// empty they are detected ([`detect_periods`]).
pub fn fit(name: &str, y: &[f64], periods: &[usize]) -> Result<BoxedFitted> {
    let detected;
    let periods = if periods.is_empty() {
        detected = detect_periods(y);
        &detected[..]
    } else {
        periods
    };
    fit_periods(name, y, periods)
}

/// [`fit`] with the periods as given (none = non-seasonal), no detection.
fn fit_periods(name: &str, y: &[f64], periods: &[usize]) -> Result<BoxedFitted> {
    let first = periods.first().copied().unwrap_or(1);
    match name {
        "auto" => boxed(Auto::new(periods)?, y),
        "naive" => boxed(SeasonalNaive::naive(), y),
        "snaive" => boxed(SeasonalNaive::new(first)?, y),
        "drift" => boxed(Drift, y),
        "average" => boxed(WindowAverage::historic(), y),
        "ets" => boxed(AutoEts::new(first)?, y),
        "theta" => boxed(Theta::new(first, ThetaKind::Standard)?, y),
        "otm" => boxed(Theta::new(first, ThetaKind::Optimized)?, y),
        "mstl" => boxed(Mstl::new(periods)?, y),
        "mstl-log" => boxed(Mstl::new(periods)?.log(true), y),
        "trend" => boxed(LinearTrend::new(first)?, y),
        other => {
            if let Some(code) = other.strip_prefix("ets-") {
                return boxed(Ets::new(EtsSpec::parse(code)?, first)?, y);
            }
            Err(ForecastError::UnknownModel {
                name: other.to_string(),
                known: MODELS
                    .iter()
                    .map(|(n, _)| *n)
                    .chain(["ets-<ETS code>"])
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
}

/// Fits `name` and predicts `horizon` steps with intervals at `levels` (percent).
pub fn forecast(
    name: &str,
    y: &[f64],
    periods: &[usize],
    horizon: usize,
    levels: &[f64],
) -> Result<Prediction> {
    fit(name, y, periods)?.predict(horizon, levels)
}

/// A forecast with what it assumed: the seasonal periods and the metric's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastReport {
    /// The forecast, within `bounds`.
    pub prediction: Prediction,
    /// Seasonal periods used (given, or found from the timestamps or the values).
    pub periods: Vec<SeasonalPeriod>,
    /// Limits applied to the point forecast and the intervals.
    pub bounds: Bounds,
}

/// Fits `name` to `y` sampled every `step_seconds` (`None` without timestamps) and predicts
/// `horizon` steps with intervals at `levels` (percent). Periods are `given` (steps) or found
/// by [`resolve_periods`]; the forecast is clipped to `bounds` (`None`: [`Bounds::infer`]
/// from the history, i.e. non-negative when it has never been negative).
pub fn forecast_report(
    name: &str,
    y: &[f64],
    given: &[usize],
    step_seconds: Option<f64>,
    horizon: usize,
    levels: &[f64],
    bounds: Option<Bounds>,
) -> Result<ForecastReport> {
    crate::model::check_history(y, 1)?;
    let periods = resolve_periods(y, given, step_seconds);
    let steps: Vec<usize> = periods.iter().map(|p| p.steps).collect();
    let mut prediction = fit_periods(name, y, &steps)?.predict(horizon, levels)?;
    let bounds = bounds.unwrap_or_else(|| Bounds::infer(y, None));
    bounds.apply(&mut prediction);
    Ok(ForecastReport {
        prediction,
        periods,
        bounds,
    })
}

/// Forecasts many series at once, in parallel over the rayon thread pool (one result per
/// series, in order: a series that cannot be forecast does not stop the others).
pub fn forecast_many(
    name: &str,
    series: &[Vec<f64>],
    periods: &[usize],
    horizon: usize,
    levels: &[f64],
) -> Vec<Result<Prediction>> {
    use rayon::prelude::*;
    series
        .par_iter()
        .map(|y| forecast(name, y, periods, horizon, levels))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_cycle_found_from_the_timestamps_and_bounded() {
        let mut g = crate::stats::Rng::new(9);
        // Three days at five minutes, a percentage between about 20 and 60.
        let y: Vec<f64> = (0..288 * 3)
            .map(|t| {
                let phase = (t % 288) as f64 * std::f64::consts::TAU / 288.0;
                40.0 - 18.0 * phase.cos() + 1.5 * g.normal()
            })
            .collect();
        let r = forecast_report("auto", &y, &[], Some(300.0), 288, &[95.0], None).unwrap();
        assert_eq!(r.periods.len(), 1);
        assert_eq!(r.periods[0].steps, 288);
        assert_eq!(r.periods[0].seconds, Some(86_400.0));
        assert_eq!(r.periods[0].describe(), "288 steps (1d)");
        assert_eq!(r.bounds.lower, Some(0.0));
        let iv = &r.prediction.intervals[0];
        for h in 0..288 {
            let phase = (h % 288) as f64 * std::f64::consts::TAU / 288.0;
            let truth = 40.0 - 18.0 * phase.cos();
            assert!((r.prediction.mean[h] - truth).abs() < 3.0, "h={h}");
            assert!(
                iv.lower[h] >= 0.0 && iv.upper[h] - iv.lower[h] < 20.0,
                "h={h}"
            );
        }
        // Hourly sampling: 24 steps a day.
        let hourly: Vec<f64> = (0..24 * 10)
            .map(|t| {
                10.0 + 3.0 * (t as f64 * std::f64::consts::TAU / 24.0).sin() + 0.3 * g.normal()
            })
            .collect();
        let r = forecast_report("auto", &hourly, &[], Some(3600.0), 24, &[80.0], None).unwrap();
        assert_eq!(r.periods[0].steps, 24);
        // No cycle: none reported.
        let noise: Vec<f64> = (0..288 * 3).map(|_| 50.0 + g.normal()).collect();
        let r = forecast_report("auto", &noise, &[], Some(300.0), 12, &[80.0], None).unwrap();
        assert!(r.periods.is_empty(), "{:?}", r.periods);
    }

    #[test]
    fn every_model_runs_on_a_seasonal_series() {
        let y: Vec<f64> = (0..24 * 20)
            .map(|t| 50.0 + 10.0 * (t as f64 * std::f64::consts::TAU / 24.0).sin() + (t % 7) as f64)
            .collect();
        for (name, _) in MODELS.iter().chain(&[("ets-MAdM", "")]) {
            let p = forecast(name, &y, &[24], 30, &[80.0, 95.0]).unwrap();
            assert_eq!(p.mean.len(), 30, "{name}");
            assert!(p.mean.iter().all(|v| v.is_finite()), "{name}");
            for iv in &p.intervals {
                for h in 0..30 {
                    assert!(
                        iv.lower[h] <= p.mean[h] + 1e-9 && p.mean[h] <= iv.upper[h] + 1e-9,
                        "{name}"
                    );
                }
            }
        }
        let many = forecast_many("ets", &[y.clone(), vec![1.0, f64::NAN]], &[24], 5, &[]);
        assert_eq!(
            many[0].as_ref().unwrap(),
            &forecast("ets", &y, &[24], 5, &[]).unwrap()
        );
        assert!(many[1].is_err());
        let auto = forecast("auto", &y, &[], 24, &[]).unwrap();
        assert_eq!(auto.mean.len(), 24);
        assert_eq!(auto.mean.len(), 24);
        assert!(matches!(
            fit("prophet", &y, &[24]),
            Err(ForecastError::UnknownModel { .. })
        ));
    }

    /// Bad input never panics: each model either refuses it with a typed error or forecasts
    /// finite values (the documented fallbacks).
    #[test]
    fn bad_input_is_an_error_or_a_documented_fallback() {
        let names: Vec<&str> = MODELS
            .iter()
            .map(|(n, _)| *n)
            .chain(["ets-MAM", "ets-ANA"])
            .collect();
        let mut zeros: Vec<f64> = (0..24 * 10).map(|t| (t % 24) as f64).collect();
        zeros[50] = 0.0;
        let mut nan = zeros.clone();
        nan[7] = f64::NAN;
        let cases: Vec<(&str, Vec<f64>)> = vec![
            ("constant", vec![5.0; 24 * 10]),
            ("zeros", zeros),
            ("too short", vec![1.0, 2.0, 3.0]),
            ("short for the season", (0..30).map(|t| t as f64).collect()),
            ("nan", nan),
            ("empty", vec![]),
        ];
        for name in &names {
            for (case, y) in &cases {
                match forecast(name, y, &[24], 12, &[95.0]) {
                    Ok(p) => {
                        assert!(
                            p.mean.iter().all(|v| v.is_finite()),
                            "{name} on {case}: {:?}",
                            p.mean
                        );
                        if *case == "constant" {
                            assert!(
                                p.mean.iter().all(|v| (v - 5.0).abs() < 1e-6),
                                "{name}: {:?}",
                                p.mean
                            );
                        }
                    }
                    Err(e) => {
                        assert!(
                            !matches!(*case, "constant"),
                            "{name} refused a constant series: {e}"
                        );
                        assert!(!e.to_string().is_empty());
                    }
                }
            }
            assert!(
                forecast(name, &cases[4].1, &[24], 12, &[]).is_err(),
                "{name} took NaN"
            );
        }
        assert!(matches!(
            forecast("ets-MAM", &cases[1].1, &[24], 12, &[]),
            Err(ForecastError::NonPositive { index: 0, .. })
        ));
    }
}
