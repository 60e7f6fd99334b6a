//! Columnar time series.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::labels::Labels;
use crate::time::TimestampMs;

/// A series of `(timestamp, value)` points with its labels, stored as two columns.
///
/// Invariants, checked by every constructor: the columns have the same length and the
/// timestamps (ms since the epoch) strictly increase. Values may be NaN, which marks a missing
/// point (a gap); [`TimeSeries::validate`] is the stricter check that algorithms call: non-empty
/// and every value finite.
///
/// JSON: `{"labels": {...}, "timestamps": [ms, ...], "values": [x, ...]}`; JSON has no
/// non-finite numbers, so NaN is written as `null` and infinities as the strings `"+Inf"` and
/// `"-Inf"` (Prometheus' spelling); all three read back as they were.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeSeries {
    labels: Labels,
    timestamps: Vec<TimestampMs>,
    #[serde(serialize_with = "ser_values")]
    values: Vec<f64>,
}

/// One value cell of the JSON form.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum JsonValue {
    Number(f64),
    Text(String),
}

fn ser_values<S: serde::Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|&x| {
        if x.is_nan() {
            None
        } else if x.is_infinite() {
            Some(JsonValue::Text(
                if x > 0.0 { "+Inf" } else { "-Inf" }.into(),
            ))
        } else {
            Some(JsonValue::Number(x))
        }
    }))
}

impl<'de> Deserialize<'de> for TimeSeries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            labels: Labels,
            timestamps: Vec<TimestampMs>,
            values: Vec<Option<JsonValue>>,
        }
        let raw = Raw::deserialize(d)?;
        let values = raw
            .values
            .into_iter()
            .map(|v| match v {
                None => Ok(f64::NAN),
                Some(JsonValue::Number(x)) => Ok(x),
                Some(JsonValue::Text(t)) => match t.as_str() {
                    "+Inf" | "Inf" => Ok(f64::INFINITY),
                    "-Inf" => Ok(f64::NEG_INFINITY),
                    "NaN" => Ok(f64::NAN),
                    _ => Err(serde::de::Error::custom(format!(
                        "value {t:?} is not a number, null, \"+Inf\" or \"-Inf\""
                    ))),
                },
            })
            .collect::<Result<Vec<f64>, D::Error>>()?;
        TimeSeries::new(raw.labels, raw.timestamps, values).map_err(serde::de::Error::custom)
    }
}

/// What to do with points that share a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupPolicy {
    /// Refuse the input with [`CoreError::DuplicateTimestamp`].
    #[default]
    Error,
    /// Keep the first point seen.
    First,
    /// Keep the last point seen.
    Last,
    /// Keep the mean of the finite values (NaN if there are none).
    Mean,
}

/// How to fill a resampling bucket that holds no point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillPolicy {
    /// Leave it NaN (a gap).
    #[default]
    None,
    /// Carry the previous bucket's value forward.
    Previous,
    /// Interpolate linearly between the neighbouring non-empty buckets.
    Linear,
}

/// How to combine the points that fall in one resampling bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Mean of the finite values.
    #[default]
    Mean,
    /// The last finite value.
    Last,
    /// Minimum of the finite values.
    Min,
    /// Maximum of the finite values.
    Max,
    /// Sum of the finite values.
    Sum,
}

impl TimeSeries {
    /// Builds a series; timestamps must strictly increase and match the values in number.
    pub fn new(labels: Labels, timestamps: Vec<TimestampMs>, values: Vec<f64>) -> Result<Self> {
        if timestamps.len() != values.len() {
            return Err(CoreError::LengthMismatch {
                timestamps: timestamps.len(),
                values: values.len(),
            });
        }
        check_sorted(&timestamps)?;
        Ok(Self {
            labels,
            timestamps,
            values,
        })
    }

    /// Builds a series from points in any order: sorts them by timestamp (stably, so arrival
    /// order decides among equal timestamps) and resolves duplicates by `dedup`.
    pub fn from_unsorted(
        labels: Labels,
        timestamps: Vec<TimestampMs>,
        values: Vec<f64>,
        dedup: DedupPolicy,
    ) -> Result<Self> {
        if timestamps.len() != values.len() {
            return Err(CoreError::LengthMismatch {
                timestamps: timestamps.len(),
                values: values.len(),
            });
        }
        let plan = SortPlan::new(&timestamps, dedup)?;
        Ok(Self {
            labels,
            values: plan.apply(&values),
            timestamps: plan.timestamps(&timestamps),
        })
    }

    /// A series of `values` at `start, start + step, ...` (ms).
    pub fn regular(
        labels: Labels,
        start: TimestampMs,
        step: i64,
        values: Vec<f64>,
    ) -> Result<Self> {
        if step <= 0 {
            return Err(CoreError::InvalidParameter {
                name: "step",
                reason: format!("must be positive, got {step} ms"),
            });
        }
        let timestamps = (0..values.len() as i64).map(|i| start + i * step).collect();
        Self::new(labels, timestamps, values)
    }

    /// The labels.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// Replaces the labels.
    pub fn set_labels(&mut self, labels: Labels) {
        self.labels = labels;
    }

    /// Timestamps, ms since the epoch, strictly increasing.
    pub fn timestamps(&self) -> &[TimestampMs] {
        &self.timestamps
    }

    /// Values; NaN marks a missing point.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Whether the series has no point.
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// Splits into `(labels, timestamps, values)` without copying.
    pub fn into_parts(self) -> (Labels, Vec<TimestampMs>, Vec<f64>) {
        (self.labels, self.timestamps, self.values)
    }

    /// The strict check algorithms need: at least one point and every value finite.
    pub fn validate(&self) -> Result<()> {
        validate_points(&self.timestamps, &self.values)
    }

    /// The points with `start <= timestamp < end` (ms), as a new series.
    pub fn slice_time(&self, start: TimestampMs, end: TimestampMs) -> Self {
        let (a, b) = self.index_range(start, end);
        Self {
            labels: self.labels.clone(),
            timestamps: self.timestamps[a..b].to_vec(),
            values: self.values[a..b].to_vec(),
        }
    }

    /// Index range `a..b` of the points with `start <= timestamp < end`.
    pub fn index_range(&self, start: TimestampMs, end: TimestampMs) -> (usize, usize) {
        let a = self.timestamps.partition_point(|&t| t < start);
        let b = self.timestamps.partition_point(|&t| t < end).max(a);
        (a, b)
    }

    /// The same series with the missing (NaN) points removed; returns how many were removed.
    pub fn drop_missing(&self) -> (Self, usize) {
        let keep: Vec<usize> = (0..self.len())
            .filter(|&i| !self.values[i].is_nan())
            .collect();
        let removed = self.len() - keep.len();
        let s = Self {
            labels: self.labels.clone(),
            timestamps: keep.iter().map(|&i| self.timestamps[i]).collect(),
            values: keep.iter().map(|&i| self.values[i]).collect(),
        };
        (s, removed)
    }

    /// Resamples to a grid of `step` ms aligned to multiples of `step` since the epoch, from the
    /// bucket of the first point to the bucket of the last. Each bucket `[t, t + step)` takes the
    /// `agg` of its finite values; empty buckets are filled by `fill`. Missing (NaN) points count
    /// as absent. An empty series, or one with no finite value, resamples to an empty series.
    pub fn resample(&self, step: i64, agg: Aggregation, fill: FillPolicy) -> Result<Self> {
        if step <= 0 {
            return Err(CoreError::InvalidParameter {
                name: "step",
                reason: format!("must be positive, got {step} ms"),
            });
        }
        let (finite, _) = self.drop_missing();
        if finite.is_empty() {
            return Ok(Self {
                labels: self.labels.clone(),
                timestamps: Vec::new(),
                values: Vec::new(),
            });
        }
        let bucket = |t: TimestampMs| t.div_euclid(step) * step;
        let first = bucket(finite.timestamps[0]);
        let last = bucket(*finite.timestamps.last().unwrap_or(&first));
        let n = ((last - first) / step) as usize + 1;
        let mut acc: Vec<(f64, usize)> = vec![(0.0, 0); n];
        for (&t, &v) in finite.timestamps.iter().zip(&finite.values) {
            let i = ((bucket(t) - first) / step) as usize;
            let a = &mut acc[i];
            a.0 = match (agg, a.1) {
                (_, 0) => v,
                (Aggregation::Mean | Aggregation::Sum, _) => a.0 + v,
                (Aggregation::Last, _) => v,
                (Aggregation::Min, _) => a.0.min(v),
                (Aggregation::Max, _) => a.0.max(v),
            };
            a.1 += 1;
        }
        let mut values: Vec<f64> = acc
            .iter()
            .map(|&(x, c)| match (c, agg) {
                (0, _) => f64::NAN,
                (_, Aggregation::Mean) => x / c as f64,
                _ => x,
            })
            .collect();
        fill_gaps(&mut values, fill);
        let timestamps = (0..n as i64).map(|i| first + i * step).collect();
        Ok(Self {
            labels: self.labels.clone(),
            timestamps,
            values,
        })
    }
}

/// How points given in any order become a strictly increasing series: the stable sort order,
/// cut into runs of equal timestamps, each run resolved by a [`DedupPolicy`]. Computed once
/// from the timestamps and applied to any number of value columns.
#[derive(Debug, Clone)]
pub(crate) struct SortPlan {
    order: Vec<usize>,
    /// `order[runs[k]..runs[k + 1]]` share one timestamp.
    runs: Vec<usize>,
    dedup: DedupPolicy,
}

impl SortPlan {
    /// Sorts (stably, so arrival order decides among equal timestamps) and checks duplicates
    /// against `dedup`.
    pub(crate) fn new(timestamps: &[TimestampMs], dedup: DedupPolicy) -> Result<Self> {
        let mut order: Vec<usize> = (0..timestamps.len()).collect();
        if !timestamps.windows(2).all(|w| w[0] <= w[1]) {
            order.sort_by_key(|&i| timestamps[i]);
        }
        let mut runs = vec![0];
        for k in 1..order.len() {
            if timestamps[order[k]] != timestamps[order[k - 1]] {
                runs.push(k);
            } else if dedup == DedupPolicy::Error {
                return Err(CoreError::DuplicateTimestamp {
                    index: order[k],
                    timestamp: timestamps[order[k]],
                });
            }
        }
        runs.push(order.len());
        if order.is_empty() {
            runs.truncate(1);
        }
        Ok(Self { order, runs, dedup })
    }

    fn groups(&self) -> impl Iterator<Item = &[usize]> {
        self.runs.windows(2).map(|w| &self.order[w[0]..w[1]])
    }

    /// The kept timestamps, strictly increasing.
    pub(crate) fn timestamps(&self, timestamps: &[TimestampMs]) -> Vec<TimestampMs> {
        self.groups().map(|g| timestamps[g[0]]).collect()
    }

    /// One value column, sorted and de-duplicated.
    pub(crate) fn apply(&self, values: &[f64]) -> Vec<f64> {
        self.groups()
            .map(|g| match self.dedup {
                DedupPolicy::Last => values[g[g.len() - 1]],
                DedupPolicy::Mean if g.len() > 1 => mean_finite(g.iter().map(|&k| values[k])),
                _ => values[g[0]],
            })
            .collect()
    }

    /// For each kept point, the input index that stands for it (the last of its run under
    /// `Last`, else the first).
    pub(crate) fn representatives(&self) -> impl Iterator<Item = usize> + '_ {
        self.groups().map(|g| match self.dedup {
            DedupPolicy::Last => g[g.len() - 1],
            _ => g[0],
        })
    }
}

/// Checks that timestamps strictly increase.
pub fn check_sorted(timestamps: &[TimestampMs]) -> Result<()> {
    for (i, w) in timestamps.windows(2).enumerate() {
        if w[1] < w[0] {
            return Err(CoreError::Unsorted {
                index: i + 1,
                timestamp: w[1],
                previous: w[0],
            });
        }
        if w[1] == w[0] {
            return Err(CoreError::DuplicateTimestamp {
                index: i + 1,
                timestamp: w[1],
            });
        }
    }
    Ok(())
}

/// The strict check on raw columns: same length, non-empty, strictly increasing timestamps,
/// finite values.
pub fn validate_points(timestamps: &[TimestampMs], values: &[f64]) -> Result<()> {
    if timestamps.len() != values.len() {
        return Err(CoreError::LengthMismatch {
            timestamps: timestamps.len(),
            values: values.len(),
        });
    }
    if values.is_empty() {
        return Err(CoreError::Empty("the series has no points".into()));
    }
    check_sorted(timestamps)?;
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(CoreError::NonFinite {
            index: i,
            timestamp: timestamps[i],
            value: values[i],
        });
    }
    Ok(())
}

fn mean_finite(it: impl Iterator<Item = f64>) -> f64 {
    let (s, c) = it
        .filter(|v| v.is_finite())
        .fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if c == 0 { f64::NAN } else { s / c as f64 }
}

fn fill_gaps(values: &mut [f64], fill: FillPolicy) {
    match fill {
        FillPolicy::None => {}
        FillPolicy::Previous => {
            let mut last = f64::NAN;
            for v in values.iter_mut() {
                if v.is_nan() {
                    *v = last;
                } else {
                    last = *v;
                }
            }
        }
        FillPolicy::Linear => {
            let mut prev: Option<usize> = None;
            for i in 0..values.len() {
                if values[i].is_nan() {
                    continue;
                }
                if let Some(p) = prev
                    && i > p + 1
                {
                    let (a, b) = (values[p], values[i]);
                    let span = (i - p) as f64;
                    for (k, v) in values[p + 1..i].iter_mut().enumerate() {
                        *v = a + (b - a) * (k + 1) as f64 / span;
                    }
                }
                prev = Some(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(t: Vec<i64>, v: Vec<f64>) -> Result<TimeSeries> {
        TimeSeries::new(Labels::new(), t, v)
    }

    #[test]
    fn constructor_checks_order_and_length() {
        assert!(ts(vec![1, 2, 3], vec![1.0, 2.0, 3.0]).is_ok());
        assert!(matches!(
            ts(vec![1, 3, 2], vec![0.0; 3]),
            Err(CoreError::Unsorted {
                index: 2,
                timestamp: 2,
                previous: 3
            })
        ));
        assert!(matches!(
            ts(vec![1, 2, 2], vec![0.0; 3]),
            Err(CoreError::DuplicateTimestamp {
                index: 2,
                timestamp: 2
            })
        ));
        assert!(matches!(
            ts(vec![1, 2], vec![0.0; 3]),
            Err(CoreError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn validate_rejects_empty_and_non_finite() {
        assert!(matches!(
            ts(vec![], vec![]).unwrap().validate(),
            Err(CoreError::Empty(_))
        ));
        let s = ts(vec![1, 2, 3], vec![1.0, f64::NAN, 3.0]).unwrap();
        assert!(matches!(
            s.validate(),
            Err(CoreError::NonFinite {
                index: 1,
                timestamp: 2,
                ..
            })
        ));
        let s = ts(vec![1, 2], vec![1.0, f64::INFINITY]).unwrap();
        assert!(matches!(
            s.validate(),
            Err(CoreError::NonFinite { index: 1, .. })
        ));
    }

    #[test]
    fn from_unsorted_sorts_and_dedups() {
        let t = vec![3, 1, 2, 1];
        let v = vec![30.0, 10.0, 20.0, 11.0];
        assert!(matches!(
            TimeSeries::from_unsorted(Labels::new(), t.clone(), v.clone(), DedupPolicy::Error),
            Err(CoreError::DuplicateTimestamp { timestamp: 1, .. })
        ));
        let first =
            TimeSeries::from_unsorted(Labels::new(), t.clone(), v.clone(), DedupPolicy::First)
                .unwrap();
        assert_eq!(first.timestamps(), [1, 2, 3]);
        assert_eq!(first.values(), [10.0, 20.0, 30.0]);
        let last =
            TimeSeries::from_unsorted(Labels::new(), t.clone(), v.clone(), DedupPolicy::Last)
                .unwrap();
        assert_eq!(last.values(), [11.0, 20.0, 30.0]);
        let mean = TimeSeries::from_unsorted(Labels::new(), t, v, DedupPolicy::Mean).unwrap();
        assert_eq!(mean.values(), [10.5, 20.0, 30.0]);
    }

    #[test]
    fn slicing_by_time_is_half_open() {
        let s = ts(vec![10, 20, 30, 40], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let part = s.slice_time(20, 40);
        assert_eq!(part.timestamps(), [20, 30]);
        assert_eq!(part.values(), [2.0, 3.0]);
        assert!(s.slice_time(50, 60).is_empty());
        assert!(s.slice_time(40, 10).is_empty());
    }

    #[test]
    fn resample_fill_policies() {
        // Points at 0, 5 (bucket 0), 30 (bucket 30): buckets 10 and 20 are empty.
        let s = ts(vec![0, 5, 30], vec![1.0, 3.0, 8.0]).unwrap();
        let none = s.resample(10, Aggregation::Mean, FillPolicy::None).unwrap();
        assert_eq!(none.timestamps(), [0, 10, 20, 30]);
        assert_eq!(none.values()[0], 2.0);
        assert!(none.values()[1].is_nan() && none.values()[2].is_nan());
        let prev = s
            .resample(10, Aggregation::Mean, FillPolicy::Previous)
            .unwrap();
        assert_eq!(prev.values(), [2.0, 2.0, 2.0, 8.0]);
        let lin = s
            .resample(10, Aggregation::Mean, FillPolicy::Linear)
            .unwrap();
        assert_eq!(lin.values(), [2.0, 4.0, 6.0, 8.0]);
        let last = s.resample(10, Aggregation::Last, FillPolicy::None).unwrap();
        assert_eq!(last.values()[0], 3.0);
        let max = s.resample(10, Aggregation::Max, FillPolicy::None).unwrap();
        assert_eq!(max.values()[0], 3.0);
        let sum = s.resample(10, Aggregation::Sum, FillPolicy::None).unwrap();
        assert_eq!(sum.values()[0], 4.0);
        assert!(s.resample(0, Aggregation::Mean, FillPolicy::None).is_err());
        // Negative timestamps bucket by floor, not truncation.
        let neg = ts(vec![-15, -5], vec![1.0, 2.0]).unwrap();
        let r = neg
            .resample(10, Aggregation::Mean, FillPolicy::None)
            .unwrap();
        assert_eq!(r.timestamps(), [-20, -10]);
    }

    #[test]
    fn json_shape() {
        let s = TimeSeries::new(
            Labels::try_from_pairs([("job", "api")]).unwrap(),
            vec![1000, 2000],
            vec![1.5, f64::NAN],
        )
        .unwrap();
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(
            j,
            r#"{"labels":{"job":"api"},"timestamps":[1000,2000],"values":[1.5,null]}"#
        );
        let back: TimeSeries = serde_json::from_str(&j).unwrap();
        assert_eq!(back.timestamps(), s.timestamps());
        assert!(back.values()[1].is_nan());
        assert!(
            serde_json::from_str::<TimeSeries>(r#"{"timestamps":[2,1],"values":[1,2]}"#).is_err()
        );
        assert!(
            serde_json::from_str::<TimeSeries>(r#"{"timestamps":[1],"values":["x"]}"#).is_err()
        );
        let inf = TimeSeries::new(
            Labels::new(),
            vec![1, 2],
            vec![f64::INFINITY, f64::NEG_INFINITY],
        )
        .unwrap();
        let j = serde_json::to_string(&inf).unwrap();
        assert_eq!(
            j,
            r#"{"labels":{},"timestamps":[1,2],"values":["+Inf","-Inf"]}"#
        );
        assert_eq!(serde_json::from_str::<TimeSeries>(&j).unwrap(), inf);
    }
}
