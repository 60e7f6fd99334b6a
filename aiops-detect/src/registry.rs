//! Detectors by name, with parameters from a map: what the CLI, config files and the server use.
//!
//! Parameters arrive as a JSON object (`{"window": 30}`) or as `key=value` text, where each
//! value is read as JSON when it parses (`30`, `2.5`, `true`) and as a string otherwise (`up`).
//! Unknown keys and wrong types are errors that name the accepted keys.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::combine::{adaptive::Adaptive, calibrated::Calibrated, ensemble::Ensemble};
use crate::control::{cusum::Cusum, ewma::Ewma};
use crate::detector::{Described, Detector, ParamGuard};
use crate::error::{DetectError, Result};
use crate::learned::{
    contextual::Contextual, discord::Discord, extremes_contextual::ExtremesContextual,
    isolation_forest::IsolationForest, novelty::Novelty, random_cut_forest::RandomCutForest,
};
use crate::robust::{hampel::Hampel, mad::Mad};
use crate::seasonal::{
    profile::Seasonal, seasonal_esd::SeasonalEsd, spectral_residual::SpectralResidual, stl::Stl,
};
use crate::shift::{
    bocpd::Bocpd, level_shift::LevelShift, persist::Persist, volatility_shift::VolatilityShift,
};
use crate::statistical::{
    esd::Esd, iqr::Iqr, quantile::Quantile, threshold::Threshold,
    windowed_gaussian::WindowedGaussian, zscore::RollingZScore,
};

/// A detector's registry entry: what `--help` prints and how the detector is built. `D` is
/// the kind of detector built (`dyn Detector` here, `dyn MultivariateDetector` for
/// [`crate::multivariate::MULTIVARIATE_DETECTORS`]).
#[derive(Debug)]
pub struct DetectorInfo<D: ?Sized + 'static = dyn Detector> {
    /// Registry name.
    pub name: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// Accepted parameters, one `name: meaning (default N)` per line (see
    /// [`DetectorInfo::param_lines`]).
    pub params: &'static str,
    /// Builds the detector from a parameter map.
    pub build: fn(&Map<String, Value>) -> Result<Box<D>>,
    /// The default parameters, serialised (each `(default N)` of `params` is tied to them by a
    /// test).
    pub defaults: fn() -> Value,
}

impl<D: ?Sized> Clone for DetectorInfo<D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D: ?Sized> Copy for DetectorInfo<D> {}

impl<D: ?Sized> DetectorInfo<D> {
    /// The parameter lines, trimmed.
    pub fn param_lines(&self) -> impl Iterator<Item = &'static str> {
        self.params.lines().map(str::trim).filter(|l| !l.is_empty())
    }

    /// The entry of detector type `T`, built through `box_it` (a coercion to `Box<D>`).
    pub(crate) const fn of<T: Described>(build: fn(&Map<String, Value>) -> Result<Box<D>>) -> Self {
        Self {
            name: T::NAME,
            summary: T::SUMMARY,
            params: T::PARAMS,
            build,
            defaults: defaults::<T::Params>,
        }
    }
}

fn defaults<P: Default + Serialize>() -> Value {
    serde_json::to_value(P::default()).unwrap_or(Value::Null)
}

/// Reads the unchecked parameters of `T` from a map and checks them.
pub(crate) fn parse<T: Described>(params: &Map<String, Value>) -> Result<T> {
    let p: T::Params = serde_json::from_value(Value::Object(params.clone())).map_err(|e| {
        DetectError::BadParams {
            detector: T::NAME,
            message: e.to_string(),
        }
    })?;
    p.check()
}

fn build_as<T: Described + Detector + 'static>(
    params: &Map<String, Value>,
) -> Result<Box<dyn Detector>> {
    Ok(Box::new(parse::<T>(params)?))
}

/// The entry of detector type `T`: the one line a new detector adds to [`DETECTORS`].
const fn entry<T: Described + Detector + 'static>() -> DetectorInfo {
    DetectorInfo::of::<T>(build_as::<T>)
}

/// Every detector, in the order `aiops detect --help` lists them.
pub const DETECTORS: &[DetectorInfo] = &[
    entry::<Calibrated>(),
    entry::<ExtremesContextual>(),
    entry::<Ensemble>(),
    entry::<Adaptive>(),
    entry::<Contextual>(),
    entry::<Novelty>(),
    entry::<Discord>(),
    entry::<RollingZScore>(),
    entry::<Threshold>(),
    entry::<Quantile>(),
    entry::<Iqr>(),
    entry::<Mad>(),
    entry::<Hampel>(),
    entry::<WindowedGaussian>(),
    entry::<Ewma>(),
    entry::<Cusum>(),
    entry::<LevelShift>(),
    entry::<VolatilityShift>(),
    entry::<Persist>(),
    entry::<Seasonal>(),
    entry::<Esd>(),
    entry::<Stl>(),
    entry::<SeasonalEsd>(),
    entry::<SpectralResidual>(),
    entry::<Bocpd>(),
    entry::<IsolationForest>(),
    entry::<RandomCutForest>(),
];

/// Detectors that accept `input_min` / `input_max`, the known range of a series. NAB hands
/// every detector its file's minimum and maximum, and `aiops_eval::nab::run_detector` does the
/// same for these.
pub const INPUT_RANGE_DETECTORS: &[&str] = &["contextual"];

/// Whether the detector `name` accepts `input_min` / `input_max`.
pub fn takes_input_range(name: &str) -> bool {
    INPUT_RANGE_DETECTORS.contains(&name)
}

/// The name of the detector used when none is given.
pub const DEFAULT_DETECTOR: &str = "default";

/// Builds the detector `name` from a parameter map.
pub fn build(name: &str, params: &Map<String, Value>) -> Result<Box<dyn Detector>> {
    lookup(DETECTORS, name, params)
}

/// Builds `name` from a table of entries, or names the known ones.
pub(crate) fn lookup<D: ?Sized>(
    table: &[DetectorInfo<D>],
    name: &str,
    params: &Map<String, Value>,
) -> Result<Box<D>> {
    match table.iter().find(|d| d.name == name) {
        Some(d) => (d.build)(params),
        None => Err(DetectError::UnknownDetector {
            name: name.to_string(),
            known: table.iter().map(|d| d.name).collect::<Vec<_>>().join(", "),
        }),
    }
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
    use aiops_core::CoreError;
    use serde_json::json;

    use crate::common::testing::{assert_online_equals_batch, daily, ts};
    use crate::multivariate::MULTIVARIATE_DETECTORS;

    /// Parameters per detector for the registry-wide tests: the defaults, made smaller where
    /// the default state is large.
    fn test_params(name: &str) -> Map<String, Value> {
        let p = match name {
            "threshold" => json!({"upper": 75, "lower": 30}),
            "isolation_forest" => {
                json!({"trees": 10, "window": 128, "sample_size": 64, "refit_every": 64})
            }
            "random_cut_forest" => json!({"trees": 8, "tree_size": 64}),
            _ => json!({}),
        };
        p.as_object().cloned().unwrap_or_default()
    }

    /// A daily cycle with a trend, a spike and a level shift: every detector warms up and
    /// sees something.
    fn eventful(n: usize) -> (Vec<i64>, Vec<f64>) {
        let mut v = daily(n, 11);
        v[n / 2] += 40.0;
        for x in &mut v[3 * n / 4..] {
            *x += 15.0;
        }
        (ts(n), v)
    }

    #[test]
    fn every_detector_streams_as_it_batches_across_snapshots() {
        let (t, v) = eventful(1500);
        for info in DETECTORS {
            let det = (info.build)(&test_params(info.name)).unwrap();
            assert_eq!(det.name(), info.name);
            assert_online_equals_batch(det.as_ref(), &t, &v, &[1, 650, 1300]);
        }
    }

    #[test]
    fn every_detector_refuses_bad_input_with_typed_errors() {
        let (t, v) = eventful(300);
        let with = |i: usize, x: f64| {
            let mut w = v.clone();
            w[i] = x;
            w
        };
        let stamped = |f: &dyn Fn(&mut Vec<i64>)| {
            let mut s = t.clone();
            f(&mut s);
            s
        };
        for info in DETECTORS {
            let det = (info.build)(&test_params(info.name)).unwrap();
            let name = info.name;
            let core = |r: Result<crate::Detections>| match r {
                Err(DetectError::Core(e)) => e,
                other => panic!("{name}: {other:?}"),
            };
            assert!(matches!(core(det.detect(&[], &[])), CoreError::Empty(_)));
            assert!(matches!(
                core(det.detect(&t, &v[..10])),
                CoreError::LengthMismatch { .. }
            ));
            for x in [f64::NAN, f64::NEG_INFINITY] {
                assert!(matches!(
                    core(det.detect(&t, &with(150, x))),
                    CoreError::NonFinite { index: 150, .. }
                ));
            }
            assert!(matches!(
                core(det.detect(&stamped(&|s| s.swap(150, 151)), &v)),
                CoreError::Unsorted { .. }
            ));
            assert!(matches!(
                core(det.detect(&stamped(&|s| s[151] = s[150]), &v)),
                CoreError::DuplicateTimestamp { .. }
            ));
            assert!(matches!(
                det.detect(&t, &with(150, 1e200)),
                Err(DetectError::OutOfRange { .. })
            ));
            assert!(
                matches!(det.detect(&[1], &[0.0]).map(|d| d.len()), Ok(1)),
                "{name}: one point"
            );
            // Online, a refused point leaves the state as it was.
            let batch = det.detect(&t, &v).unwrap();
            let mut online = det.online();
            for i in 0..t.len() {
                if i == 200 {
                    let (now, before) = (t[i], t[i - 1]);
                    for (ts, x) in [(now, f64::NAN), (now, f64::INFINITY), (before, v[i])] {
                        assert!(online.update(ts, x).is_err(), "{name}: ({ts}, {x})");
                    }
                    assert!(matches!(
                        online.update(now, -1e200),
                        Err(DetectError::OutOfRange { .. })
                    ));
                    assert!(matches!(
                        online.update(before - 1, v[i]),
                        Err(DetectError::OutOfOrder { .. })
                    ));
                    assert!(online.restore("{not json").is_err());
                }
                assert_eq!(
                    online.update(t[i], v[i]).unwrap(),
                    batch.point(i),
                    "{name} {i}"
                );
            }
            online.reset();
            assert_eq!(online.update(t[0], v[0]).unwrap(), batch.point(0), "{name}");
        }
    }

    /// Each `(default N)` in the parameter text is the value of `Params::default()`, each
    /// parameter is documented, and each documented name is a parameter.
    #[test]
    fn documented_defaults_are_the_defaults() {
        let univariate = DETECTORS
            .iter()
            .map(|d| (d.name, d.param_lines().collect::<Vec<_>>(), (d.defaults)()));
        let multivariate = MULTIVARIATE_DETECTORS
            .iter()
            .map(|d| (d.name, d.param_lines().collect(), (d.defaults)()));
        for (name, lines, defaults) in univariate.chain(multivariate) {
            let defaults = defaults.as_object().cloned().unwrap_or_default();
            let mut documented = Vec::new();
            for line in lines {
                let (keys, text) = line.split_once(':').unwrap();
                for key in keys.split(", ") {
                    let value = defaults
                        .get(key)
                        .unwrap_or_else(|| panic!("{name}: {key} is not a parameter"));
                    documented.push(key);
                    check_default(&format!("{name}.{key}"), text, value);
                }
            }
            for key in defaults.keys() {
                assert!(
                    documented.contains(&key.as_str()),
                    "{name}: {key} undocumented"
                );
            }
        }
    }

    /// `text` documents `value` as its default: a literal (number, word, list of detector
    /// names) equal to it, or, for a default computed from other parameters or the data
    /// (`default: window`, `default max(1, window / 16)`, `default none`), no value at all.
    fn check_default(what: &str, text: &str, value: &Value) {
        let Some(at) = text.rfind("default") else {
            assert!(
                value.is_null() || value.is_object(),
                "{what}: default {value} is not documented"
            );
            return;
        };
        let said = text[at + "default".len()..]
            .trim_end()
            .strip_suffix(')')
            .unwrap_or(text)
            .trim();
        let word =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if let Some(items) = value.as_array() {
            let names: Vec<&str> = items
                .iter()
                .filter_map(|m| m["detector"].as_str())
                .collect();
            assert_eq!(names.join(", "), said, "{what}");
        } else if let Ok(number) = said.parse::<f64>() {
            assert_eq!(
                value.as_f64(),
                Some(number),
                "{what}: says {said}, is {value}"
            );
        } else if let Ok(flag) = said.parse::<bool>() {
            assert_eq!(
                value.as_bool(),
                Some(flag),
                "{what}: says {said}, is {value}"
            );
        } else if word(said) && said != "none" {
            assert_eq!(value, &json!(said), "{what}: says {said}, is {value}");
        } else {
            assert!(value.is_null(), "{what}: says {said}, is {value}");
        }
    }

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
