//! Capacity forecasts of stored metrics: `POST /api/v1/capacity/forecast` (now, for the
//! resources asked) and `GET /api/v1/capacity/recommendations` (the last scheduled run over
//! the configured metrics). Forecasts come from `aiops-forecast`'s capacity analysis on the
//! series' recent history, resampled to its own step.

use std::collections::HashMap;

use aiops_core::time::format_rfc3339;
use aiops_core::{Aggregation, FillPolicy, TimestampMs};
use aiops_forecast::capacity::{self, CapacityParams};
use aiops_store::{SeriesRow, Store};
use serde::{Deserialize, Serialize};

use crate::error::{Result, ServiceError};
use crate::history::History;

/// Most history points one forecast reads.
const MAX_HISTORY: usize = 20_000;
/// The kv key of the last scheduled recommendations.
pub const RECOMMENDATIONS_KEY: &str = "capacity.recommendations";

/// `POST /api/v1/capacity/forecast`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityQuery {
    /// Resources to forecast.
    pub resources: Vec<String>,
    /// The metric.
    pub metric: String,
    /// Hours ahead (default 24, 1 to 720).
    #[serde(default = "default_hours")]
    pub forecast_hours: u32,
    /// Saturation threshold in the metric's unit (default 85, as for a percentage).
    #[serde(default)]
    pub threshold: Option<f64>,
}

fn default_hours() -> u32 {
    24
}

/// One forecast step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PredictionPoint {
    /// RFC 3339.
    pub timestamp: String,
    /// Forecast mean.
    pub value: f64,
    /// Lower bound (95%).
    pub lower: f64,
    /// Upper bound (95%).
    pub upper: f64,
}

/// One resource's forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResourceForecast {
    /// The resource.
    pub resource: String,
    /// The metric.
    pub metric: String,
    /// Forecast steps.
    pub predictions: Vec<PredictionPoint>,
    /// `increasing`, `decreasing` or `stable` (a significance test, not a guess).
    pub trend: String,
    /// Hours until the forecast mean reaches the threshold, if within the horizon.
    pub saturation_time_hours: Option<f64>,
    /// Hours until the upper bound reaches it (the early warning).
    pub saturation_time_hours_upper: Option<f64>,
    /// Probability of reaching the threshold within the horizon.
    pub probability: f64,
    /// Last observed value.
    pub current: f64,
    /// Threshold used.
    pub threshold: f64,
    /// `ok`, `warning` or `critical` at the forecast peak.
    pub status: String,
    /// Why no forecast could be made (too little history...).
    pub error: Option<String>,
}

/// `POST /api/v1/capacity/forecast` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CapacityForecasts {
    /// One per resource asked.
    pub forecasts: Vec<ResourceForecast>,
}

/// A scaling recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recommendation {
    /// The resource.
    pub resource: String,
    /// The metric.
    pub metric: String,
    /// `scale_up` or `none`.
    pub action: String,
    /// Why, with the numbers.
    pub reason: String,
    /// Hours to saturation, if within the horizon.
    pub saturation_time_hours: Option<f64>,
}

/// `GET /api/v1/capacity/recommendations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recommendations {
    /// When the scheduled run computed them (RFC 3339); absent before the first run.
    pub computed_at: Option<String>,
    /// One per resource and configured metric, most urgent first.
    pub recommendations: Vec<Recommendation>,
}

/// One metric the scheduled capacity run watches (`capacity.metrics` in the configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityTarget {
    /// The metric name.
    pub metric: String,
    /// Saturation threshold in its unit.
    pub threshold: f64,
}

/// `capacity:` of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CapacityConfig {
    /// Metrics to forecast on schedule, for every resource that has them.
    pub metrics: Vec<CapacityTarget>,
    /// How often (seconds; default 3,600).
    pub interval_s: u64,
    /// Hours ahead (default 48).
    pub horizon_hours: u32,
}

impl Default for CapacityConfig {
    fn default() -> Self {
        Self {
            metrics: Vec::new(),
            interval_s: 3_600,
            horizon_hours: 48,
        }
    }
}

/// Regular values on the series' own step (bucket means, gaps carried forward), with the
/// step and the last bucket's time.
fn regular(pts: &[(TimestampMs, f64)]) -> Option<(Vec<f64>, i64, TimestampMs)> {
    let ts: Vec<TimestampMs> = pts.iter().map(|p| p.0).collect();
    let step = aiops_core::time::median_step(&ts)?.max(1);
    let series =
        aiops_core::TimeSeries::new(Default::default(), ts, pts.iter().map(|p| p.1).collect())
            .ok()?;
    let grid = series
        .resample(step, Aggregation::Mean, FillPolicy::Previous)
        .ok()?;
    let last = *grid.timestamps().last()?;
    Some((grid.values().to_vec(), step, last))
}

/// The series each resource forecasts `metric` with: its first series of that metric (by id),
/// none when it has none. Read without the detectors' saved states.
async fn series_for(
    store: &Store,
    resources: &[String],
    metric: &str,
) -> Result<Vec<Option<SeriesRow>>> {
    let mut first: HashMap<String, SeriesRow> = HashMap::new();
    for s in store.series_heads().await? {
        if s.metric == metric && !first.contains_key(&s.resource) {
            first.insert(s.resource.clone(), s);
        }
    }
    Ok(resources.iter().map(|r| first.get(r).cloned()).collect())
}

/// Series whose history is read at once (bounded: a week at 15 s is 40k samples a series).
const READ_CHUNK: usize = 64;

/// Forecasts `metric` of each resource from its stored history (read [`READ_CHUNK`] series at
/// a time: one pass over the pending samples for each chunk, not one a series).
pub async fn forecast_many(
    store: &Store,
    history: &History,
    resources: &[String],
    metric: &str,
    hours: u32,
    threshold: f64,
    now: TimestampMs,
) -> Result<Vec<ResourceForecast>> {
    let series = series_for(store, resources, metric).await?;
    let horizon_ms = i64::from(hours) * 3_600_000;
    let from = now - (horizon_ms * 10).max(7 * 86_400_000);
    let mut out = Vec::with_capacity(resources.len());
    for (rs, ss) in resources.chunks(READ_CHUNK).zip(series.chunks(READ_CHUNK)) {
        let found: Vec<SeriesRow> = ss.iter().flatten().cloned().collect();
        let mut points = history
            .samples_of(store, &found, from, now + 1, usize::MAX / 4)
            .await?
            .into_iter();
        for (r, s) in rs.iter().zip(ss) {
            if s.is_none() {
                out.push(ResourceForecast {
                    error: Some(format!("no series {metric} of {r}")),
                    current: 0.0,
                    ..blank(r, metric, threshold)
                });
                continue;
            }
            let pts = points.next().unwrap_or_default();
            out.push(forecast_points(r, metric, pts, hours, threshold));
        }
    }
    Ok(out)
}

/// A forecast with nothing computed yet.
fn blank(resource: &str, metric: &str, threshold: f64) -> ResourceForecast {
    ResourceForecast {
        resource: resource.to_string(),
        metric: metric.to_string(),
        predictions: Vec::new(),
        trend: "stable".into(),
        saturation_time_hours: None,
        saturation_time_hours_upper: None,
        probability: 0.0,
        current: f64::NAN,
        threshold,
        status: "ok".into(),
        error: None,
    }
}

/// Forecasts one resource's metric from its history `pts` (oldest first).
fn forecast_points(
    resource: &str,
    metric: &str,
    mut pts: Vec<(TimestampMs, f64)>,
    hours: u32,
    threshold: f64,
) -> ResourceForecast {
    let mut out = blank(resource, metric, threshold);
    let horizon_ms = i64::from(hours) * 3_600_000;
    if pts.len() > MAX_HISTORY {
        pts.drain(..pts.len() - MAX_HISTORY);
    }
    let Some((y, step, last)) = (pts.len() >= 16).then(|| regular(&pts)).flatten() else {
        out.error = Some(format!(
            "{} samples: a forecast needs at least 16",
            pts.len()
        ));
        out.current = pts.last().map_or(0.0, |p| p.1);
        return out;
    };
    let horizon = ((horizon_ms / step).max(1) as usize).min(10_000);
    let params = CapacityParams {
        threshold,
        horizon,
        warning: threshold * 0.8,
        critical: threshold,
        step_seconds: Some(step as f64 / 1000.0),
        bounds: Some(aiops_forecast::Bounds::infer(&y, Some(metric))),
        ..CapacityParams::default()
    };
    let report = match capacity::analyze(&y, &params) {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(e.to_string());
            out.current = *y.last().unwrap_or(&0.0);
            return out;
        }
    };
    let hours_of = |k: usize| (k as i64 * step) as f64 / 3_600_000.0;
    let iv = report.prediction.intervals.first();
    out.predictions = report
        .prediction
        .mean
        .iter()
        .enumerate()
        .map(|(i, &m)| PredictionPoint {
            timestamp: format_rfc3339(last + (i as i64 + 1) * step),
            value: m,
            lower: iv.map_or(m, |iv| iv.lower[i]),
            upper: iv.map_or(m, |iv| iv.upper[i]),
        })
        .collect();
    out.trend = report.trend.direction.as_str().to_string();
    out.saturation_time_hours = report.saturation_step.map(hours_of);
    out.saturation_time_hours_upper = report.saturation_step_upper.map(hours_of);
    out.probability = report.probability;
    out.current = report.current;
    out.status = report.status_forecast.as_str().to_string();
    out
}

/// `POST /api/v1/capacity/forecast`.
pub async fn forecast(
    store: &Store,
    history: &History,
    q: &CapacityQuery,
    now: TimestampMs,
) -> Result<CapacityForecasts> {
    if q.resources.is_empty() || q.resources.len() > 100 {
        return Err(ServiceError::invalid_parameter(
            "resources",
            "1 to 100 resources",
        ));
    }
    if !(1..=720).contains(&q.forecast_hours) {
        return Err(ServiceError::invalid_parameter(
            "forecast_hours",
            "1 to 720",
        ));
    }
    let threshold = q.threshold.unwrap_or(85.0);
    if !threshold.is_finite() {
        return Err(ServiceError::invalid_parameter(
            "threshold",
            "must be a finite number",
        ));
    }
    let forecasts = forecast_many(
        store,
        history,
        &q.resources,
        &q.metric,
        q.forecast_hours,
        threshold,
        now,
    )
    .await?;
    Ok(CapacityForecasts { forecasts })
}

/// The scheduled run: every resource with a configured metric, stored as recommendations.
pub async fn run_scheduled(
    store: &Store,
    history: &History,
    config: &CapacityConfig,
    now: TimestampMs,
) -> Result<Recommendations> {
    let mut recs = Vec::new();
    let series = store.series_heads().await?;
    for target in &config.metrics {
        let mut resources: Vec<&str> = series
            .iter()
            .filter(|s| s.metric == target.metric)
            .map(|s| s.resource.as_str())
            .collect();
        resources.sort_unstable();
        resources.dedup();
        let resources: Vec<String> = resources.into_iter().map(str::to_string).collect();
        let forecasts = forecast_many(
            store,
            history,
            &resources,
            &target.metric,
            config.horizon_hours,
            target.threshold,
            now,
        )
        .await?;
        for (r, f) in resources.iter().zip(forecasts) {
            let (action, reason) = match (
                &f.error,
                f.saturation_time_hours,
                f.saturation_time_hours_upper,
            ) {
                (Some(e), _, _) => ("none", format!("no forecast: {e}")),
                (None, Some(h), _) => (
                    "scale_up",
                    format!(
                        "forecast reaches {} within {h:.1} h (now {:.2}, trend {})",
                        target.threshold, f.current, f.trend
                    ),
                ),
                (None, None, Some(h)) => (
                    "scale_up",
                    format!(
                        "upper bound reaches {} within {h:.1} h (probability {:.2})",
                        target.threshold, f.probability
                    ),
                ),
                (None, None, None) => (
                    "none",
                    format!(
                        "stays under {} for {} h (peak status {})",
                        target.threshold, config.horizon_hours, f.status
                    ),
                ),
            };
            recs.push(Recommendation {
                resource: r.to_string(),
                metric: target.metric.clone(),
                action: action.into(),
                reason,
                saturation_time_hours: f.saturation_time_hours.or(f.saturation_time_hours_upper),
            });
        }
    }
    recs.sort_by(|a, b| {
        a.saturation_time_hours
            .unwrap_or(f64::INFINITY)
            .total_cmp(&b.saturation_time_hours.unwrap_or(f64::INFINITY))
    });
    let out = Recommendations {
        computed_at: Some(format_rfc3339(now)),
        recommendations: recs,
    };
    let text = serde_json::to_string(&out).map_err(|e| ServiceError::Internal {
        what: e.to_string(),
    })?;
    store.put_value(RECOMMENDATIONS_KEY, &text, now).await?;
    Ok(out)
}

/// The last scheduled recommendations (empty before the first run).
pub async fn recommendations(store: &Store) -> Result<Recommendations> {
    match store.value(RECOMMENDATIONS_KEY).await? {
        Some(t) => serde_json::from_str(&t).map_err(|e| ServiceError::Internal {
            what: format!("stored recommendations: {e}"),
        }),
        None => Ok(Recommendations {
            computed_at: None,
            recommendations: Vec::new(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rising_series_saturates_and_is_recommended_for_scaling() {
        let (store, ids) = crate::testing::store_with_cpu_series().await;
        let t0 = 1_700_000_000_000i64;
        let rows: Vec<_> = (0..600)
            .map(|i| {
                (
                    ids[0],
                    t0 + i * 300_000,
                    20.0 + i as f64 * 0.1 + ((i * 37) % 7) as f64 * 0.2,
                )
            })
            .collect();
        store.insert_samples(&rows).await.unwrap();
        let now = t0 + 600 * 300_000;
        let f = forecast(
            &store,
            &History::default(),
            &CapacityQuery {
                resources: vec!["api".into(), "nope".into()],
                metric: "cpu".into(),
                forecast_hours: 48,
                threshold: Some(85.0),
            },
            now,
        )
        .await
        .unwrap();
        let api = &f.forecasts[0];
        assert_eq!(api.trend, "increasing");
        assert_eq!(api.predictions.len(), 48 * 12);
        assert!(api.saturation_time_hours_upper.is_some(), "{api:?}");
        assert!(f.forecasts[1].error.is_some());
        let recs = run_scheduled(
            &store,
            &History::default(),
            &CapacityConfig {
                metrics: vec![CapacityTarget {
                    metric: "cpu".into(),
                    threshold: 85.0,
                }],
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
        assert_eq!(recs.recommendations[0].action, "scale_up");
        assert_eq!(recommendations(&store).await.unwrap(), recs);
        let e = forecast(
            &store,
            &History::default(),
            &CapacityQuery {
                resources: vec![],
                metric: "cpu".into(),
                forecast_hours: 1,
                threshold: None,
            },
            now,
        )
        .await
        .unwrap_err();
        assert_eq!(e.status(), 400);
    }

    #[tokio::test]
    async fn history_older_than_the_store_comes_from_the_source() {
        let (store, ids) = crate::testing::store_with_cpu_series().await;
        let now = 1_700_000_000_000i64;
        // The store holds the last two samples only (retention deleted the rest).
        let t = |k: i64| now - k * 300_000;
        store
            .insert_samples(&[
                (ids[0], t(1), t(1) as f64 / 1000.0),
                (ids[0], t(0), t(0) as f64 / 1000.0),
            ])
            .await
            .unwrap();
        let api = ["api".to_string()];
        let f = forecast_many(&store, &History::default(), &api, "cpu", 1, 1e12, now)
            .await
            .unwrap()
            .remove(0);
        assert!(f.error.as_deref().unwrap().contains("2 samples"), "{f:?}");
        // With a source (a rising line): 7 days of 5-minute points before the store's.
        let fake = std::sync::Arc::new(crate::history::testing::Fake::default());
        let history = History::with_source(fake.clone(), 300_000);
        let f = forecast_many(&store, &history, &api, "cpu", 1, 1e12, now)
            .await
            .unwrap()
            .remove(0);
        assert!(f.error.is_none(), "{f:?}");
        assert_eq!(f.trend, "increasing");
        assert_eq!(f.predictions.len(), 12);
        let (query, range) = fake.asked.lock().unwrap()[0].clone();
        assert_eq!(query, r#"{__name__="cpu",service="api"}"#);
        assert_eq!((range.start, range.end), (now - 7 * 86_400_000, t(1) - 1));
        // Several resources at once, in the order asked: one twice, one without the metric.
        let names = ["api", "nope", "api"].map(String::from);
        let all = forecast_many(&store, &history, &names, "cpu", 1, 1e12, now)
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0], f);
        assert_eq!(all[2], f);
        assert_eq!(all[1].resource, "nope");
        assert!(
            all[1]
                .error
                .as_deref()
                .unwrap()
                .contains("no series cpu of nope"),
            "{:?}",
            all[1]
        );
    }
}
