//! Detectors by name, with parameters from a map: what the CLI, config files and the server use.
//!
//! Parameters arrive as a JSON object (`{"window": 30}`) or as `key=value` text, where each
//! value is read as JSON when it parses (`30`, `2.5`, `true`) and as a string otherwise (`up`).
//! Unknown keys and wrong types are errors that name the accepted keys.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::bocpd::BocpdParams;
use crate::contextual::ContextualParams;
use crate::cusum::CusumParams;
use crate::default_detector::DefaultParams;
use crate::detector::{Detector, ParamGuard};
use crate::ensemble::EnsembleParams;
use crate::error::{DetectError, Result};
use crate::esd::EsdParams;
use crate::ewma::EwmaParams;
use crate::hampel::HampelParams;
use crate::iqr::IqrParams;
use crate::isolation_forest::IsolationForestParams;
use crate::level_shift::LevelShiftParams;
use crate::mad::MadParams;
use crate::novelty::NoveltyParams;
use crate::persist::PersistParams;
use crate::quantile::QuantileParams;
use crate::random_cut_forest::RandomCutForestParams;
use crate::seasonal::SeasonalParams;
use crate::seasonal_esd::SeasonalEsdParams;
use crate::spectral_residual::SpectralResidualParams;
use crate::stl::StlParams;
use crate::threshold::ThresholdParams;
use crate::volatility_shift::VolatilityShiftParams;
use crate::windowed_gaussian::WindowedGaussianParams;
use crate::zscore::RollingZScoreParams;

/// A detector's registry entry.
#[derive(Debug, Clone, Copy)]
pub struct DetectorInfo {
    /// Registry name.
    pub name: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// Accepted parameters, `name: meaning`.
    pub params: &'static [&'static str],
}

/// Every detector, in the order `aiops detect --help` lists them.
pub const DETECTORS: &[DetectorInfo] = &[
    DetectorInfo {
        name: "default",
        summary: "new extremes and a contextual sequence memory, scores in [0, 1]; no tuning needed",
        params: &[
            "contextual: JSON settings of the contextual memory (see the contextual detector)",
            "threshold: score at which a point is flagged (default 0.75)",
            "warmup: points learned before anything is scored (default 300)",
            "window: points behind the displayed expectation and bounds (default 100)",
        ],
    },
    DetectorInfo {
        name: "ensemble",
        summary: "several detectors, each calibrated per series, combined by max or mean",
        params: &[
            "members: JSON list of {\"detector\": name, \"params\": {...}} (default zscore, bocpd, novelty)",
            "combine: max | mean (default max)",
            "calibration: JSON likelihood settings {learning, history, averaging, min_variance}",
            "threshold: combined score at which a point is flagged (default 0.5)",
        ],
    },
    DetectorInfo {
        name: "contextual",
        summary: "contextual sequence memory (CAD-style): share of failed predictions and new contexts",
        params: &[
            "bits: bits per value, the range is cut into 2^bits levels (default 3)",
            "input_min, input_max: known range of the series (default: set by the warm-up)",
            "warmup: points that set the range when none is given (default 150)",
            "max_active: most active contexts carried to the next point (default 15)",
            "max_left: largest left side made by generalising (default 7)",
            "rest: points silenced after a high raw score (default 150)",
            "rest_threshold: raw score that starts a rest (default 0.75)",
            "threshold: score at which a point is flagged (default 0.75)",
            "capacity: contexts at which the memory starts afresh from the last replay points (default 20000)",
            "replay: recent points relearned when levels are re-cut or memory is full (default 500)",
            "rescale: range widths outside the learned range that re-cut the levels (default 0.25)",
        ],
    },
    DetectorInfo {
        name: "novelty",
        summary: "sequence novelty: share of recent n-grams of quantised values never seen",
        params: &[
            "levels: bins the seen range is cut into (default 16)",
            "order: longest n-gram considered, 1..=7 (default 4)",
            "warmup: points learned before scoring (default 300)",
            "rest: points silenced after a high score (default 300)",
            "rest_threshold: raw score that starts a rest (default 0.75)",
            "threshold: score at which a point is flagged (default 0.75)",
            "capacity: most n-grams remembered (default 262144)",
        ],
    },
    DetectorInfo {
        name: "zscore",
        summary: "rolling z-score: distance from the mean of the previous window, in sigmas",
        params: &[
            "window: points in the reference window (default 60)",
            "threshold: sigmas at which a point is flagged (default 3)",
            "min_periods: points before scoring starts (default: window)",
            "direction: both | up | down (default both)",
        ],
    },
    DetectorInfo {
        name: "threshold",
        summary: "static threshold: values above `upper` or below `lower`",
        params: &[
            "upper: flag values above this",
            "lower: flag values below this",
            "severity: severity of a breach (default high)",
        ],
    },
    DetectorInfo {
        name: "quantile",
        summary: "quantile bounds of a reference window (fitted once, or rolling): values beyond high/low",
        params: &[
            "window: points in the reference window (default 500)",
            "high: upper quantile, null = none (default 0.99)",
            "low: lower quantile, null = none (default 0.01)",
            "min_periods: points before scoring starts (default: window)",
            "fit: once | rolling (once: bounds fitted on the first window, then kept; default once)",
        ],
    },
    DetectorInfo {
        name: "iqr",
        summary: "inter-quartile range fences of a reference window (fitted once, or rolling)",
        params: &[
            "window: points in the reference window (default 200)",
            "c: fence distance in IQRs beyond the quartiles (default 3)",
            "min_periods: points before scoring starts (default: window)",
            "direction: both | up | down (default both)",
            "fit: once | rolling (once: fences fitted on the first window, then kept; default once)",
        ],
    },
    DetectorInfo {
        name: "mad",
        summary: "robust z-score (x - median) / (1.4826 MAD) of the previous window",
        params: &[
            "window: points in the reference window (default 100)",
            "threshold: robust sigmas at which a point is flagged (default 3.5)",
            "min_periods: points before scoring starts (default: window)",
            "direction: both | up | down (default both)",
        ],
    },
    DetectorInfo {
        name: "hampel",
        summary: "Hampel identifier; flagged points are kept out of the window",
        params: &[
            "window: points in the reference window (default 60)",
            "threshold: t, robust sigmas (default 3)",
            "max_run: flagged points kept out before a run counts as a level change, 0 = none (default window/4)",
            "min_periods: points before scoring starts (default: window)",
            "direction: both | up | down (default both)",
        ],
    },
    DetectorInfo {
        name: "windowed_gaussian",
        summary: "NAB's windowed Gaussian: erf(|z|/sqrt 2) against a sliding window",
        params: &[
            "window: points in the window (default 6400)",
            "step: points by which a full window slides (default 100)",
            "threshold: score at which a point is flagged, in (0,1) (default 0.999)",
            "min_periods: points before scoring starts (default 1)",
            "direction: both | up | down (default both)",
        ],
    },
    DetectorInfo {
        name: "ewma",
        summary: "EWMA control chart",
        params: &[
            "alpha: smoothing weight of the newest value (default 0.3)",
            "l: control-limit width in chart sigmas (default 3)",
            "window: points in the reference window for mean and sigma (default 100)",
            "min_periods: points before scoring starts (default: window)",
            "direction: both | up | down (default both)",
        ],
    },
    DetectorInfo {
        name: "cusum",
        summary: "two-sided tabular CUSUM on standardised values",
        params: &[
            "k: slack in sigmas (default 0.5)",
            "h: decision interval in sigmas (default 5)",
            "window: points in the reference window (default 100)",
            "min_periods: points before scoring starts (default: window)",
            "direction: both | up | down (default both)",
        ],
    },
    DetectorInfo {
        name: "level_shift",
        summary: "level shift: median of the last window against the window before it",
        params: &[
            "window: points in each compared window (default 10)",
            "c: fence in IQRs above Q3 of past differences (default 6)",
            "history: past differences kept for the fence (default 500)",
            "min_periods: differences before scoring starts (default min(100, history))",
            "direction: both | up | down (default both)",
            "fit: rolling | once (once: fence fitted on the first history values, then kept; default rolling)",
        ],
    },
    DetectorInfo {
        name: "volatility_shift",
        summary: "volatility shift: log ratio of the standard deviations of two adjacent windows",
        params: &[
            "window: points in each compared window (default 30)",
            "c: fence in IQRs (default 6)",
            "history: past ratios kept for the fence (default 500)",
            "min_periods: ratios before scoring starts (default min(100, history))",
            "direction: both | up | down (default both)",
            "fit: rolling | once (once: fence fitted on the first history values, then kept; default rolling)",
        ],
    },
    DetectorInfo {
        name: "persist",
        summary: "persist: deviation from the median or mean of the previous points",
        params: &[
            "window: preceding points, 1 = the previous value (default 1)",
            "c: fence in IQRs (default 3)",
            "agg: median | mean (default median)",
            "history: past deviations kept for the fence (default 500)",
            "min_periods: deviations before scoring starts (default min(100, history))",
            "direction: both | up | down (default both)",
            "fit: rolling | once (once: fence fitted on the first history values, then kept; default rolling)",
        ],
    },
    DetectorInfo {
        name: "seasonal",
        summary: "seasonal profile: residual from the mean of the same phase over past seasons",
        params: &[
            "period: seasonal period in points (default: detected on the first detect_window points)",
            "detect_window: points buffered to detect the period (default 1024)",
            "cycles: past seasons averaged into the profile (default 4)",
            "c: fence distance in IQRs beyond the residual quartiles (default 3)",
            "history: residuals kept for the fences (default 500)",
            "min_periods: residuals before scoring starts (default 100)",
            "direction: both | up | down (default both)",
        ],
    },
    DetectorInfo {
        name: "esd",
        summary: "generalized ESD test fitted on the first window, then one ESD step per point",
        params: &[
            "window: points the test is fitted on (default 500)",
            "alpha: significance level (default 0.05)",
        ],
    },
    DetectorInfo {
        name: "stl",
        summary: "robust STL forecast error of the trailing window, in robust sigmas",
        params: &[
            "period: seasonal period in points (default: detected on the first window)",
            "threshold: robust sigmas at which a point is flagged (default 4)",
            "window: points decomposed (default max(8 * period, 48))",
            "refit_every: points between decompositions (default max(1, window / 16))",
            "robust: true | false (default true)",
        ],
    },
    DetectorInfo {
        name: "seasonal_esd",
        summary: "seasonal hybrid ESD: generalized ESD on median/MAD of STL forecast errors",
        params: &[
            "period: seasonal period in points (default: detected on the first window)",
            "window: points in the STL and ESD windows (default max(8 * period, 128))",
            "max_anomalies: largest share of the window called anomalous (default 0.02)",
            "alpha: significance level (default 0.05)",
            "hop: points between STL decompositions (default max(1, window / 16))",
        ],
    },
    DetectorInfo {
        name: "spectral_residual",
        summary: "spectral residual saliency (Ren et al. 2019) of the newest point",
        params: &[
            "window: points transformed (default 128)",
            "extend: estimated points appended after the newest (default 5)",
            "mag_window: frequency bins in the log-amplitude average, odd (default 3)",
            "score_window: points whose mean saliency is the reference (default 21)",
            "threshold: saliency excess over its local mean, as a multiple of it (default 3)",
        ],
    },
    DetectorInfo {
        name: "bocpd",
        summary: "Bayesian online change-point detection (Normal-Gamma, truncated run lengths)",
        params: &[
            "lambda: expected segment length in points, hazard 1/lambda (default 250)",
            "max_run_length: most run-length hypotheses kept (default 300)",
            "prune: drop hypotheses below this probability (default 1e-6)",
            "short_run: run lengths that count as just changed (default 5)",
            "warmup: points that seed the prior (default 20)",
            "threshold: change probability at which a point is flagged (default 0.5)",
        ],
    },
    DetectorInfo {
        name: "isolation_forest",
        summary: "isolation forest over shingles, refitted on a trailing window",
        params: &[
            "shingle: values per shingle (default 4)",
            "differences: shingle first differences instead of values (default false)",
            "window: shingles in the training buffer (default 512)",
            "refit_every: points between refits (default 128)",
            "trees: trees in the forest (default 100)",
            "sample_size: shingles per tree (default 256)",
            "threshold: score at which a point is flagged (default 0.65)",
            "seed: random seed (default 24301)",
        ],
    },
    DetectorInfo {
        name: "random_cut_forest",
        summary: "streaming robust random cut forest over shingles (CoDisp)",
        params: &[
            "trees: trees in the forest (default 50)",
            "tree_size: shingles per tree, the sliding window (default 256)",
            "shingle: values per shingle (default 4)",
            "threshold: multiple of the usual CoDisp at which a point is flagged (default 4)",
            "seed: random seed (default 24301)",
        ],
    },
];

/// Detectors that accept `input_min` / `input_max`, the known range of a series. NAB hands
/// every detector its file's minimum and maximum, and [`crate::nab::run_detector`] does the
/// same for these.
pub const INPUT_RANGE_DETECTORS: &[&str] = &["contextual"];

/// Whether the detector `name` accepts `input_min` / `input_max`.
pub fn takes_input_range(name: &str) -> bool {
    INPUT_RANGE_DETECTORS.contains(&name)
}

/// The name of the detector used when none is given.
pub const DEFAULT_DETECTOR: &str = "default";

fn parse<P: DeserializeOwned + ParamGuard>(
    detector: &'static str,
    params: &Map<String, Value>,
) -> Result<P::Checked> {
    let p: P = serde_json::from_value(Value::Object(params.clone())).map_err(|e| {
        DetectError::BadParams {
            detector,
            message: e.to_string(),
        }
    })?;
    p.check()
}

/// Builds the detector `name` from a parameter map.
pub fn build(name: &str, params: &Map<String, Value>) -> Result<Box<dyn Detector>> {
    Ok(match name {
        "default" => Box::new(parse::<DefaultParams>("default", params)?),
        "novelty" => Box::new(parse::<NoveltyParams>("novelty", params)?),
        "contextual" => Box::new(parse::<ContextualParams>("contextual", params)?),
        "ensemble" => Box::new(parse::<EnsembleParams>("ensemble", params)?),
        "quantile" => Box::new(parse::<QuantileParams>("quantile", params)?),
        "iqr" => Box::new(parse::<IqrParams>("iqr", params)?),
        "mad" => Box::new(parse::<MadParams>("mad", params)?),
        "hampel" => Box::new(parse::<HampelParams>("hampel", params)?),
        "windowed_gaussian" => Box::new(parse::<WindowedGaussianParams>(
            "windowed_gaussian",
            params,
        )?),
        "ewma" => Box::new(parse::<EwmaParams>("ewma", params)?),
        "cusum" => Box::new(parse::<CusumParams>("cusum", params)?),
        "level_shift" => Box::new(parse::<LevelShiftParams>("level_shift", params)?),
        "volatility_shift" => Box::new(parse::<VolatilityShiftParams>("volatility_shift", params)?),
        "persist" => Box::new(parse::<PersistParams>("persist", params)?),
        "seasonal" => Box::new(parse::<SeasonalParams>("seasonal", params)?),
        "esd" => Box::new(parse::<EsdParams>("esd", params)?),
        "stl" => Box::new(parse::<StlParams>("stl", params)?),
        "seasonal_esd" => Box::new(parse::<SeasonalEsdParams>("seasonal_esd", params)?),
        "spectral_residual" => Box::new(parse::<SpectralResidualParams>(
            "spectral_residual",
            params,
        )?),
        "bocpd" => Box::new(parse::<BocpdParams>("bocpd", params)?),
        "isolation_forest" => Box::new(parse::<IsolationForestParams>("isolation_forest", params)?),
        "random_cut_forest" => {
            Box::new(parse::<RandomCutForestParams>("random_cut_forest", params)?)
        }
        "zscore" => Box::new(parse::<RollingZScoreParams>("zscore", params)?),
        "threshold" => Box::new(parse::<ThresholdParams>("threshold", params)?),
        _ => {
            return Err(DetectError::UnknownDetector {
                name: name.to_string(),
                known: DETECTORS
                    .iter()
                    .map(|d| d.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    })
}

/// Parses `key=value` assignments into a parameter map (see the module docs).
pub fn parse_assignments<S: AsRef<str>>(items: &[S]) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for item in items {
        let item = item.as_ref();
        let Some((k, v)) = item.split_once('=') else {
            return Err(DetectError::InvalidParameter {
                name: "param",
                reason: format!(
                    "{item:?} has no value: write key=value (e.g. {}=30)",
                    item.trim()
                ),
            });
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() {
            return Err(DetectError::InvalidParameter {
                name: "param",
                reason: format!("{item:?} has an empty key"),
            });
        }
        let value = match serde_json::from_str(v) {
            Ok(value) => value,
            // A list or an object must be JSON; anything else that is not is a string.
            Err(e) if v.starts_with(['[', '{']) => {
                return Err(DetectError::InvalidParameter {
                    name: "param",
                    reason: format!(
                        "{k}: {v:?} is not valid JSON ({} at column {}); write keys and strings in double quotes, e.g. [{{\"detector\": \"zscore\"}}]",
                        e.to_string().split(" at line ").next().unwrap_or_default(),
                        e.column()
                    ),
                });
            }
            Err(_) => Value::String(v.to_string()),
        };
        if map.insert(k.to_string(), value).is_some() {
            return Err(DetectError::InvalidParameter {
                name: "param",
                reason: format!("{k:?} is given twice"),
            });
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_by_name_with_typed_params() {
        let p = parse_assignments(&["window=10", "direction=up", "threshold=2.5"]).unwrap();
        let d = build("zscore", &p).unwrap();
        assert_eq!(d.name(), "zscore");
        let ts: Vec<i64> = (0..12).collect();
        let mut v = vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 9.0, 1.5];
        assert!(d.detect(&ts, &v).unwrap().is_anomaly[10]);
        v[10] = -9.0;
        assert!(!d.detect(&ts, &v).unwrap().is_anomaly[10], "direction=up");
        let t = build("threshold", &parse_assignments(&["upper=5"]).unwrap()).unwrap();
        assert_eq!(t.name(), "threshold");
        assert!(build("zscore", &Map::new()).is_ok(), "defaults suffice");
    }

    #[test]
    fn errors_name_the_problem() {
        let e = build("nope", &Map::new()).unwrap_err().to_string();
        assert!(e.contains("zscore") && e.contains("threshold"), "{e}");
        let e = build("zscore", &parse_assignments(&["windw=3"]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("windw") && e.contains("window"), "{e}");
        let e = build("zscore", &parse_assignments(&["window=abc"]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("window") || e.contains("invalid type"), "{e}");
        assert!(build("zscore", &parse_assignments(&["window=1"]).unwrap()).is_err());
        assert!(build("threshold", &Map::new()).is_err());
        assert!(parse_assignments(&["window"]).is_err());
        assert!(parse_assignments(&["=3"]).is_err());
        assert!(parse_assignments(&["a=1", "a=2"]).is_err());
    }
}
