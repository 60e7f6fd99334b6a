//! The detector API shared by every algorithm.
//!
//! Three types per detector, following linfa's checked parameters:
//! 1. `XParams`: unchecked hyper-parameters with builder methods (and serde, for config files
//!    and `key=value` flags);
//! 2. `X`: the validated parameters, obtained once by [`ParamGuard::check`]; it implements
//!    [`Detector`], the batch call over a whole series;
//! 3. `XOnline`: the streaming state made by `X::online`, implementing [`OnlineDetector`].
//!
//! The batch result equals feeding the same points one by one to a fresh online state; every
//! detector has a test that says so.

use std::fmt;

use aiops_core::series::validate_points;
use aiops_core::{Anomaly, Labels, Severity, TimeSeries, TimestampMs};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{DetectError, Result};

/// Turns unchecked parameters into validated ones.
pub trait ParamGuard {
    /// The validated type.
    type Checked;
    /// Validates, returning the checked parameters or the first problem found.
    fn check(&self) -> Result<Self::Checked>;
}

/// What a detector says about one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PointScore {
    /// How unusual the point is; the scale is the detector's own (σ for z-score, value units
    /// beyond the bound for a threshold). 0 while the detector warms up.
    pub score: f64,
    /// Whether the detector flags the point.
    pub is_anomaly: bool,
    /// The value the detector expected, when it has an expectation.
    pub expected: Option<f64>,
    /// Lower edge of the normal range, when it has one.
    pub lower: Option<f64>,
    /// Upper edge of the normal range, when it has one.
    pub upper: Option<f64>,
}

impl PointScore {
    /// A score flagged from `threshold` on, without expectation or bounds.
    pub fn at_least(score: f64, threshold: f64) -> Self {
        Self {
            score,
            is_anomaly: score >= threshold,
            ..Self::NEUTRAL
        }
    }

    /// A point scored 0 and not flagged, with no expectation (warm-up).
    pub const NEUTRAL: PointScore = PointScore {
        score: 0.0,
        is_anomaly: false,
        expected: None,
        lower: None,
        upper: None,
    };
}

/// Scores of a whole series, one entry per point, as columns. NaN in `expected`, `lower` or
/// `upper` means "none at this point".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Detections {
    /// Score per point.
    pub scores: Vec<f64>,
    /// Flag per point.
    pub is_anomaly: Vec<bool>,
    /// Expected value per point (NaN: none).
    pub expected: Vec<f64>,
    /// Lower edge of the normal range per point (NaN: none).
    pub lower: Vec<f64>,
    /// Upper edge of the normal range per point (NaN: none).
    pub upper: Vec<f64>,
}

impl Detections {
    /// Empty columns with room for `n` points.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            scores: Vec::with_capacity(n),
            is_anomaly: Vec::with_capacity(n),
            expected: Vec::with_capacity(n),
            lower: Vec::with_capacity(n),
            upper: Vec::with_capacity(n),
        }
    }

    /// Appends one point's score.
    pub fn push(&mut self, p: PointScore) {
        self.scores.push(p.score);
        self.is_anomaly.push(p.is_anomaly);
        self.expected.push(p.expected.unwrap_or(f64::NAN));
        self.lower.push(p.lower.unwrap_or(f64::NAN));
        self.upper.push(p.upper.unwrap_or(f64::NAN));
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The score of point `i`.
    pub fn point(&self, i: usize) -> PointScore {
        let opt = |x: f64| if x.is_nan() { None } else { Some(x) };
        PointScore {
            score: self.scores[i],
            is_anomaly: self.is_anomaly[i],
            expected: opt(self.expected[i]),
            lower: opt(self.lower[i]),
            upper: opt(self.upper[i]),
        }
    }

    /// Merges runs of consecutive flagged points into [`Anomaly`] windows.
    ///
    /// Each window reports the highest-scoring point's value, expectation and bounds, and the
    /// detector's severity for that score. `resource` comes from the `service`, `instance` or
    /// `job` label (the first present), `metric` from `__name__`.
    pub fn anomalies(
        &self,
        detector: &dyn Detector,
        timestamps: &[TimestampMs],
        values: &[f64],
        labels: &Labels,
    ) -> Vec<Anomaly> {
        let resource = ["service", "instance", "job"]
            .iter()
            .find_map(|k| labels.get(k))
            .unwrap_or("")
            .to_string();
        let metric = labels.get("__name__").unwrap_or("").to_string();
        let fp = labels.fingerprint();
        let n = timestamps.len().min(values.len());
        self.windows()
            .into_iter()
            .filter(|&(_, end, _)| end < n)
            .map(|(start, end, best)| {
                let p = self.point(best);
                Anomaly {
                    id: format!("{fp}-{}-{}", detector.name(), timestamps[start]),
                    resource: resource.clone(),
                    metric: metric.clone(),
                    labels: labels.clone(),
                    start: timestamps[start],
                    end: timestamps[end],
                    score: p.score,
                    severity: detector.severity(p.score),
                    detector: detector.name().to_string(),
                    value: values[best],
                    expected: p.expected,
                    lower: p.lower,
                    upper: p.upper,
                }
            })
            .collect()
    }

    /// Runs of consecutive flagged points as `(first, last, highest-scoring)` indices.
    pub fn windows(&self) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.len() {
            if !self.is_anomaly[i] {
                i += 1;
                continue;
            }
            let (start, mut best) = (i, i);
            while i < self.len() && self.is_anomaly[i] {
                if self.scores[i] > self.scores[best] {
                    best = i;
                }
                i += 1;
            }
            out.push((start, i - 1, best));
        }
        out
    }
}

/// A configured detector: scores a whole series at once, and makes streaming states.
pub trait Detector: fmt::Debug + Send + Sync {
    /// The registry name (`threshold`, `zscore`...).
    fn name(&self) -> &'static str;

    /// The severity of an anomaly with this score.
    fn severity(&self, score: f64) -> Severity;

    /// A fresh streaming state with these parameters.
    fn online(&self) -> Box<dyn OnlineDetector>;

    /// Scores every point. `progress` is called now and then with the number of points done.
    /// Input must be non-empty, timestamps strictly increasing, values finite.
    fn detect_with_progress(
        &self,
        timestamps: &[TimestampMs],
        values: &[f64],
        progress: &mut dyn FnMut(usize),
    ) -> Result<Detections>;

    /// Scores every point (see [`Detector::detect_with_progress`]).
    fn detect(&self, timestamps: &[TimestampMs], values: &[f64]) -> Result<Detections> {
        self.detect_with_progress(timestamps, values, &mut |_| {})
    }

    /// Scores every point of a series.
    fn detect_series(&self, series: &TimeSeries) -> Result<Detections> {
        self.detect(series.timestamps(), series.values())
    }
}

/// Streaming state of a detector: one point at a time, O(1) or O(log w) memory and time.
pub trait OnlineDetector: fmt::Debug + Send {
    /// Scores the point, then learns from it. Timestamps must strictly increase and values be
    /// finite; a refused point leaves the state unchanged.
    fn update(&mut self, timestamp: TimestampMs, value: f64) -> Result<PointScore>;

    /// Forgets everything seen.
    fn reset(&mut self);

    /// The whole state as JSON, so that a restarted process can continue where this one
    /// stopped ([`OnlineDetector::restore`]).
    fn snapshot(&self) -> Result<String>;

    /// Replaces the state by one saved with [`OnlineDetector::snapshot`] from the same kind
    /// of detector; on error the state is unchanged.
    fn restore(&mut self, snapshot: &str) -> Result<()>;
}

/// A builder method that sets one field of a parameter struct: `setter!(/// doc\n name: T);`.
/// `setter!(0 name: T)` sets the field of the wrapped config of a `XParams(X)` newtype, and an
/// `Option<T>` field takes a plain `T`.
macro_rules! setter {
    ($(#[$doc:meta])* 0 $name:ident: Option<$t:ty>) => {
        $(#[$doc])*
        pub fn $name(mut self, v: $t) -> Self {
            self.0.$name = Some(v);
            self
        }
    };
    ($(#[$doc:meta])* 0 $name:ident: $t:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, v: $t) -> Self {
            self.0.$name = v;
            self
        }
    };
    ($(#[$doc:meta])* $name:ident: $t:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, v: $t) -> Self {
            self.$name = v;
            self
        }
    };
}
pub(crate) use setter;

/// The unchecked parameters of a detector as a newtype over its validated config (as linfa
/// does), so the fields are declared once: `params_newtype!(XParams => X);` gives
/// `XParams(X)` with `new()` (the defaults), serde through `X` (`#[serde(default,
/// deny_unknown_fields)]` on `X`), and `From<X>`. Builder methods come from [`setter!`] with
/// the `0` form; `ParamGuard::check` validates and returns the config.
macro_rules! params_newtype {
    ($(#[$doc:meta])* $params:ident => $config:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $params($config);

        impl $params {
            /// The defaults.
            pub fn new() -> Self {
                Self::default()
            }
        }

        impl From<$config> for $params {
            fn from(config: $config) -> Self {
                Self(config)
            }
        }
    };
}
pub(crate) use params_newtype;

/// What a builder method of a parameter of type `Self` takes: the value itself, or for an
/// `Option<T>` parameter a plain `T`.
pub trait SetArg {
    /// The argument type.
    type Arg;
    /// The parameter value of an argument.
    fn wrap(arg: Self::Arg) -> Self;
}

impl<T> SetArg for Option<T> {
    type Arg = T;
    fn wrap(arg: T) -> Self {
        Some(arg)
    }
}

/// [`SetArg`] for types taken as they are.
macro_rules! plain_set_arg {
    ($($t:ty),* $(,)?) => {
        $(impl $crate::detector::SetArg for $t {
            type Arg = $t;
            fn wrap(arg: $t) -> Self {
                arg
            }
        })*
    };
}
pub(crate) use plain_set_arg;

plain_set_arg!(usize, u64, f64, bool, Severity);

/// The builder methods of a `XParams(X)` newtype, one per listed parameter:
/// `setters!(XParams: window: usize, min_periods: Option<usize>);` (an `Option<T>`
/// parameter takes a plain `T`). The parameters are documented once, in the detector's
/// [`Described::PARAMS`].
macro_rules! setters {
    ($params:ident: $($name:ident: $t:ty),* $(,)?) => {
        impl $params {
            $(
                #[doc = concat!(
                    "Sets `", stringify!($name),
                    "` (documented in the detector's `Described::PARAMS`, as `aiops detectors` \
                     prints them)."
                )]
                pub fn $name(mut self, v: <$t as $crate::detector::SetArg>::Arg) -> Self {
                    self.0.$name = <$t as $crate::detector::SetArg>::wrap(v);
                    self
                }
            )*
        }
    };
}
pub(crate) use setters;

/// The registry card of a streaming detector, its link to its kernel and its severity rule,
/// in one place:
///
/// ```text
/// describe!(Mad, MadParams, MadKernel.params => MadOnline, "mad", "one-line summary",
///     severity |config, score| ratio_severity(score, config.threshold), "
///     window: points in the reference window (default 100)
///     ...
/// ");
/// ```
///
/// gives `Described` (name, summary, parameter lines), `Streams` (kernel, severity),
/// `Configured` (the kernel's field holding its parameters) and the `XOnline` alias of its
/// streaming state. Without `Kernel => Online` and `severity`, only
/// `Described` (for detectors with an online state of their own).
macro_rules! describe {
    ($detector:ident, $params:ident, $kernel:ident . $field:ident => $online:ident, $name:literal,
     $summary:literal, severity |$c:pat_param, $s:pat_param| $severity:expr, $text:literal $(,)?) => {
        $crate::detector::describe!($detector, $params, $name, $summary, $text);

        impl $crate::detector::Configured for $kernel {
            type Config = $detector;

            fn config(&self) -> &$detector {
                &self.$field
            }
        }

        impl $crate::detector::Streams for $detector {
            type Kernel = $kernel;

            fn score_severity(&self, score: f64) -> aiops_core::Severity {
                let ($c, $s) = (self, score);
                $severity
            }
        }

        #[doc = concat!("Streaming state of [`", stringify!($detector), "`].")]
        pub type $online = $crate::detector::Streaming<$kernel>;
    };
    ($detector:ident, $params:ident, $name:literal, $summary:literal, $text:literal $(,)?) => {
        impl $crate::detector::Described for $detector {
            type Params = $params;
            const NAME: &'static str = $name;
            const SUMMARY: &'static str = $summary;
            const PARAMS: &'static str = $text;
        }
    };
}
pub(crate) use describe;

/// Implements `snapshot` / `restore` through the type's serde form.
macro_rules! snapshot_via_serde {
    () => {
        fn snapshot(&self) -> $crate::error::Result<String> {
            serde_json::to_string(self)
                .map_err(|e| $crate::error::DetectError::Snapshot(e.to_string()))
        }

        fn restore(&mut self, snapshot: &str) -> $crate::error::Result<()> {
            *self = serde_json::from_str(snapshot)
                .map_err(|e| $crate::error::DetectError::Snapshot(e.to_string()))?;
            Ok(())
        }
    };
}
pub(crate) use snapshot_via_serde;

/// Largest magnitude a detector accepts. Squares and sums of values near `f64::MAX` overflow
/// to infinity and turn scores into NaN; no metric comes near 1e150, so anything beyond is
/// refused with [`DetectError::OutOfRange`] rather than scored as garbage.
pub const MAX_ABS_VALUE: f64 = 1e150;

/// Checks the magnitude of every value (see [`MAX_ABS_VALUE`]).
pub(crate) fn check_range(timestamps: &[TimestampMs], values: &[f64]) -> Result<()> {
    match values.iter().position(|v| v.abs() > MAX_ABS_VALUE) {
        Some(i) => Err(DetectError::OutOfRange {
            timestamp: timestamps.get(i).copied().unwrap_or_default(),
            value: values[i],
            limit: MAX_ABS_VALUE,
        }),
        None => Ok(()),
    }
}

/// Reads a config saved by 0.1.0 whose validated struct also held values derived from the
/// parameters: the derived `keys` are dropped, then the config is read (a versioned
/// migration for `#[serde(deserialize_with)]`).
pub(crate) fn without_keys<'de, D, C>(d: D, keys: &[&str]) -> std::result::Result<C, D::Error>
where
    D: serde::Deserializer<'de>,
    C: DeserializeOwned,
{
    use serde::de::Error;
    let mut map = serde_json::Map::deserialize(d)?;
    for k in keys {
        map.remove(*k);
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(D::Error::custom)
}

/// How often batch runs report progress, in points.
pub(crate) const PROGRESS_EVERY: usize = 1 << 16;

/// The registry card of a detector type: its name, a one-line summary, its documented
/// parameters and the unchecked parameter type the registry parses. Every registry detector
/// implements it; `crate::registry::DETECTORS` lists the types.
pub trait Described: Sized {
    /// Unchecked parameters, read from a map by the registry (`-p key=value`, config files).
    type Params: ParamGuard<Checked = Self> + Default + Serialize + DeserializeOwned;
    /// The registry name (`zscore`, `threshold`...).
    const NAME: &'static str;
    /// One line for `aiops detectors` and `--help`.
    const SUMMARY: &'static str;
    /// One line per parameter, `name: meaning (default N)` (indentation and blank lines are
    /// ignored); a test ties each `(default N)` to `Self::Params::default()`.
    const PARAMS: &'static str;
}

/// The per-point logic of a streaming detector, written once: [`Streaming`] makes the online
/// state of it (order and value checks, reset, serde snapshots) and the blanket [`Detector`]
/// impl of its config the batch form (streaming over the series, so batch equals online by
/// construction).
///
/// Kernels whose meaning depends on evenly spaced points (a seasonal phase, an FFT) use the
/// timestamp to tell a gap; the others count points, not time.
pub trait Kernel:
    Configured<Config: Streams<Kernel = Self>>
    + fmt::Debug
    + Clone
    + Send
    + Serialize
    + DeserializeOwned
    + 'static
{
    /// A fresh state.
    fn new(config: &Self::Config) -> Self;

    /// Refuses a point this kernel cannot take, before [`Kernel::step`] and leaving the state
    /// unchanged (a typed error naming the point). The default takes every point that passed
    /// the order and value checks.
    fn admit(&self, _timestamp: TimestampMs, _value: f64) -> Result<()> {
        Ok(())
    }

    /// Scores an admitted point (finite, within [`MAX_ABS_VALUE`], after the previous point),
    /// then learns from it.
    fn step(&mut self, timestamp: TimestampMs, value: f64) -> PointScore;

    /// Scores a whole series already checked. The default streams a fresh state over it; a
    /// kernel with a genuinely faster batch algorithm overrides this and tests the agreement.
    fn batch(
        config: &Self::Config,
        timestamps: &[TimestampMs],
        values: &[f64],
        progress: &mut dyn FnMut(usize),
    ) -> Result<Detections> {
        stream(Self::new(config), timestamps, values, progress)
    }
}

/// The parameters a kernel was made with, for [`OnlineDetector::reset`] (written by
/// `describe!`).
pub trait Configured {
    /// The validated parameters, which are the detector.
    type Config;

    /// The parameters this state was made with.
    fn config(&self) -> &Self::Config;
}

/// Validated parameters that stream through a [`Kernel`]: they get [`Detector`] from it.
pub trait Streams: Described + fmt::Debug + Clone + Send + Sync + 'static {
    /// The per-point state.
    type Kernel: Kernel<Config = Self>;

    /// The severity of an anomaly with this score.
    fn score_severity(&self, score: f64) -> Severity;

    /// The streaming state, typed (serde-able, for snapshots).
    fn online_state(&self) -> Streaming<Self::Kernel> {
        Streaming::new(self)
    }
}

impl<C: Streams> Detector for C {
    fn name(&self) -> &'static str {
        C::NAME
    }

    fn severity(&self, score: f64) -> Severity {
        self.score_severity(score)
    }

    fn online(&self) -> Box<dyn OnlineDetector> {
        Box::new(self.online_state())
    }

    fn detect_with_progress(
        &self,
        timestamps: &[TimestampMs],
        values: &[f64],
        progress: &mut dyn FnMut(usize),
    ) -> Result<Detections> {
        validate_points(timestamps, values)?;
        check_range(timestamps, values)?;
        C::Kernel::batch(self, timestamps, values, progress)
    }
}

/// Streams a kernel over a series already checked: the default batch form.
fn stream<K: Kernel>(
    mut kernel: K,
    timestamps: &[TimestampMs],
    values: &[f64],
    progress: &mut dyn FnMut(usize),
) -> Result<Detections> {
    let n = values.len();
    // Columns are allocated at full length and filled in chunks: one pass, no per-point
    // capacity checks, and the progress callback between chunks.
    let mut out = Detections {
        scores: vec![0.0; n],
        is_anomaly: vec![false; n],
        expected: vec![0.0; n],
        lower: vec![0.0; n],
        upper: vec![0.0; n],
    };
    let mut done = 0;
    while done < n {
        let end = (done + PROGRESS_EVERY).min(n);
        for i in done..end {
            kernel.admit(timestamps[i], values[i])?;
            let p = kernel.step(timestamps[i], values[i]);
            out.scores[i] = p.score;
            out.is_anomaly[i] = p.is_anomaly;
            out.expected[i] = p.expected.unwrap_or(f64::NAN);
            out.lower[i] = p.lower.unwrap_or(f64::NAN);
            out.upper[i] = p.upper.unwrap_or(f64::NAN);
        }
        done = end;
        progress(done);
    }
    Ok(out)
}

/// The streaming state of any [`Kernel`]: the kernel and the order check. Its serde form,
/// `{"kernel": {...}, "guard": {"last": ...}}`, is the snapshot format (`params` is read as
/// `kernel` for the states of stateless rules written by 0.1.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Streaming<K> {
    #[serde(alias = "params")]
    kernel: K,
    guard: PointGuard,
}

impl<K: Kernel> Streaming<K> {
    /// A fresh state with these parameters.
    pub fn new(config: &K::Config) -> Self {
        Self {
            kernel: K::new(config),
            guard: PointGuard::default(),
        }
    }

    /// The per-point state.
    pub fn kernel(&self) -> &K {
        &self.kernel
    }
}

impl<K: Kernel> OnlineDetector for Streaming<K> {
    snapshot_via_serde!();

    fn update(&mut self, timestamp: TimestampMs, value: f64) -> Result<PointScore> {
        self.guard.check(timestamp, value)?;
        self.kernel.admit(timestamp, value)?;
        let p = self.kernel.step(timestamp, value);
        self.guard.last = Some(timestamp);
        Ok(p)
    }

    fn reset(&mut self) {
        self.kernel = K::new(self.kernel.config());
        self.guard = PointGuard::default();
    }
}

/// Order and finiteness checks of one online point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PointGuard {
    last: Option<TimestampMs>,
}

impl PointGuard {
    /// Refuses a non-finite or out-of-range value or a timestamp not after the last admitted.
    pub(crate) fn check(&self, timestamp: TimestampMs, value: f64) -> Result<()> {
        if !value.is_finite() {
            return Err(DetectError::NonFinite { timestamp, value });
        }
        if value.abs() > MAX_ABS_VALUE {
            return Err(DetectError::OutOfRange {
                timestamp,
                value,
                limit: MAX_ABS_VALUE,
            });
        }
        if let Some(previous) = self.last
            && timestamp <= previous
        {
            return Err(DetectError::OutOfOrder {
                timestamp,
                previous,
            });
        }
        Ok(())
    }
}
