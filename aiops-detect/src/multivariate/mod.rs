//! The multivariate detector API: detectors over several metrics of one resource at once
//! (CPU, memory and latency of one service...), scoring each timestamp's *row* of values.
//!
//! It mirrors the univariate API of [`crate::detector`]: unchecked `XParams` →
//! [`crate::ParamGuard::check`] → a validated `X` implementing
//! [`MultivariateDetector`] (batch) → `X::online` giving a [`MultivariateOnline`] state
//! (streaming, serde-able). Results are the same [`Detections`] columns, one entry per row;
//! `expected`, `lower` and `upper` are empty (NaN), since a row has no single expected value.
//!
//! Input rules, each a typed error: at least one row and one metric
//! ([`CoreError::Empty`]), as many timestamps as rows and columns of equal length
//! ([`CoreError::LengthMismatch`]), strictly increasing timestamps ([`CoreError::Unsorted`],
//! [`CoreError::DuplicateTimestamp`]), finite values ([`CoreError::NonFinite`], with the row
//! index). Online, the number of metrics is fixed by the first row
//! ([`DetectError::DimensionMismatch`] afterwards) and a refused row leaves the state
//! unchanged ([`DetectError::OutOfOrder`], [`DetectError::NonFinite`]).
//!
//! [`build_multivariate`] makes a detector by name from a parameter map, like
//! [`crate::registry::build`] for univariate ones.

use std::fmt;

use aiops_core::series::check_sorted;
use aiops_core::{CoreError, Severity, TimestampMs};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::detector::{Described, Detections, MAX_ABS_VALUE, PROGRESS_EVERY, PointScore};
use crate::error::{DetectError, Result};
use crate::multivariate::mahalanobis::Mahalanobis;
use crate::multivariate::pca::Pca;
use crate::registry::DetectorInfo;

pub mod mahalanobis;
pub mod pca;

/// A configured multivariate detector: scores a whole table at once, and makes streaming
/// states.
pub trait MultivariateDetector: fmt::Debug + Send + Sync {
    /// The registry name (`mahalanobis`, `pca`).
    fn name(&self) -> &'static str;

    /// The severity of an anomaly with this score.
    fn severity(&self, score: f64) -> Severity;

    /// A fresh streaming state with these parameters.
    fn online(&self) -> Box<dyn MultivariateOnline>;

    /// Scores every row of `rows` (one row per timestamp, one column per metric). `progress`
    /// is called now and then with the number of rows done.
    fn detect_with_progress(
        &self,
        timestamps: &[TimestampMs],
        rows: ArrayView2<'_, f64>,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Detections>;

    /// Scores every row (see [`MultivariateDetector::detect_with_progress`]).
    fn detect(&self, timestamps: &[TimestampMs], rows: ArrayView2<'_, f64>) -> Result<Detections> {
        self.detect_with_progress(timestamps, rows, &mut |_| {})
    }

    /// Scores metrics given as columns (one slice per metric, each as long as `timestamps`).
    fn detect_columns(&self, timestamps: &[TimestampMs], columns: &[&[f64]]) -> Result<Detections> {
        self.detect(timestamps, columns_to_rows(timestamps, columns)?.view())
    }
}

/// Streaming state of a multivariate detector: one row at a time, bounded memory and time.
pub trait MultivariateOnline: fmt::Debug + Send {
    /// Scores the row, then learns from it. Timestamps must strictly increase, values be
    /// finite and every row have as many metrics as the first; a refused row leaves the state
    /// unchanged.
    fn update(&mut self, timestamp: TimestampMs, row: &[f64]) -> Result<PointScore>;

    /// Forgets everything seen, including the number of metrics.
    fn reset(&mut self);

    /// The whole state as JSON ([`MultivariateOnline::restore`] reads it back).
    fn snapshot(&self) -> Result<String>;

    /// Replaces the state by one saved with `snapshot` from the same kind of detector.
    fn restore(&mut self, snapshot: &str) -> Result<()>;
}

/// Copies metric columns into a row-major table, checking their lengths.
pub fn columns_to_rows(timestamps: &[TimestampMs], columns: &[&[f64]]) -> Result<Array2<f64>> {
    if columns.is_empty() {
        return Err(CoreError::Empty("no metric columns".into()).into());
    }
    let n = timestamps.len();
    if let Some(c) = columns.iter().find(|c| c.len() != n) {
        return Err(CoreError::LengthMismatch {
            timestamps: n,
            values: c.len(),
        }
        .into());
    }
    Ok(Array2::from_shape_fn((n, columns.len()), |(i, j)| {
        columns[j][i]
    }))
}

/// The strict check of a whole table: rows and metrics present, one timestamp per row,
/// timestamps strictly increasing, values finite and within [`MAX_ABS_VALUE`].
pub fn validate_rows(timestamps: &[TimestampMs], rows: ArrayView2<'_, f64>) -> Result<()> {
    let (n, d) = rows.dim();
    if timestamps.len() != n {
        return Err(CoreError::LengthMismatch {
            timestamps: timestamps.len(),
            values: n,
        }
        .into());
    }
    if n == 0 {
        return Err(CoreError::Empty("the table has no rows".into()).into());
    }
    if d == 0 {
        return Err(CoreError::Empty("the table has no metric columns".into()).into());
    }
    check_sorted(timestamps)?;
    for (i, row) in rows.outer_iter().enumerate() {
        if let Some(&value) = row.iter().find(|v| !v.is_finite()) {
            return Err(CoreError::NonFinite {
                index: i,
                timestamp: timestamps[i],
                value,
            }
            .into());
        }
        if let Some(&value) = row.iter().find(|v| v.abs() > MAX_ABS_VALUE) {
            return Err(DetectError::OutOfRange {
                timestamp: timestamps[i],
                value,
                limit: MAX_ABS_VALUE,
            });
        }
    }
    Ok(())
}

/// The inner step of a multivariate online detector, on a row already checked (finite, in
/// order, of the fixed dimension).
pub(crate) trait RowKernel {
    fn step(&mut self, row: &[f64]) -> PointScore;
}

/// Batch over an online kernel: validates the table once, then streams its rows, so batch
/// and online agree by construction.
pub(crate) fn run_rows<K: RowKernel>(
    mut kernel: K,
    timestamps: &[TimestampMs],
    rows: ArrayView2<'_, f64>,
    progress: &mut dyn FnMut(usize),
) -> Result<Detections> {
    validate_rows(timestamps, rows)?;
    let n = rows.nrows();
    let mut out = Detections::with_capacity(n);
    // Rows of a transposed or sliced view are not contiguous: copy each into one buffer.
    let mut buf = Vec::with_capacity(rows.ncols());
    for (i, row) in rows.outer_iter().enumerate() {
        buf.clear();
        buf.extend(row.iter().copied());
        out.push(kernel.step(&buf));
        if (i + 1) % PROGRESS_EVERY == 0 {
            progress(i + 1);
        }
    }
    progress(n);
    Ok(out)
}

/// Order, finiteness and dimension checks of one online row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RowGuard {
    last: Option<TimestampMs>,
    dim: Option<usize>,
}

impl RowGuard {
    pub(crate) fn admit(&mut self, timestamp: TimestampMs, row: &[f64]) -> Result<()> {
        let expected = self.dim.unwrap_or(row.len());
        if row.len() != expected || row.is_empty() {
            return Err(DetectError::DimensionMismatch {
                timestamp,
                expected: self.dim.unwrap_or(1).max(1),
                found: row.len(),
            });
        }
        if let Some(&value) = row.iter().find(|v| !v.is_finite()) {
            return Err(DetectError::NonFinite { timestamp, value });
        }
        if let Some(&value) = row.iter().find(|v| v.abs() > MAX_ABS_VALUE) {
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
        self.last = Some(timestamp);
        self.dim = Some(row.len());
        Ok(())
    }
}

fn build_as<T: Described + MultivariateDetector + 'static>(
    params: &Map<String, Value>,
) -> Result<Box<dyn MultivariateDetector>> {
    Ok(Box::new(crate::registry::parse::<T>(params)?))
}

/// The entry of multivariate detector type `T`.
const fn entry<T: Described + MultivariateDetector + 'static>()
-> DetectorInfo<dyn MultivariateDetector> {
    DetectorInfo::of::<T>(build_as::<T>)
}

/// Every multivariate detector, in the order help texts list them.
pub const MULTIVARIATE_DETECTORS: &[DetectorInfo<dyn MultivariateDetector>] =
    &[entry::<Mahalanobis>(), entry::<Pca>()];

/// Builds the multivariate detector `name` from a parameter map.
pub fn build_multivariate(
    name: &str,
    params: &Map<String, Value>,
) -> Result<Box<dyn MultivariateDetector>> {
    crate::registry::lookup(MULTIVARIATE_DETECTORS, name, params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::{resource, ts};
    use crate::registry::parse_assignments;
    use ndarray::array;

    /// Every multivariate detector: batch equals streaming across snapshot/restore, columns
    /// give what rows give, and refused rows (wrong width, out of order, NaN, huge) are typed
    /// errors that leave the state unchanged.
    #[test]
    fn every_detector_streams_as_it_batches() {
        let mut m = resource(1500, 11);
        m[[1200, 1]] = 3.0;
        let t = ts(1500);
        let cols: Vec<Vec<f64>> = (0..3).map(|j| m.column(j).to_vec()).collect();
        let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
        for info in MULTIVARIATE_DETECTORS {
            let det = (info.build)(&Map::new()).unwrap();
            let batch = det.detect(&t, m.view()).unwrap();
            assert_eq!(det.detect_columns(&t, &refs).unwrap().scores, batch.scores);
            let mut online = det.online();
            for (i, &ti) in t.iter().enumerate() {
                if i == 1 || i == 777 {
                    let saved = online.snapshot().unwrap();
                    online = det.online();
                    online.restore(&saved).unwrap();
                }
                let row = m.row(i).to_vec();
                if i == 900 {
                    let bad: [(i64, &[f64]); 4] = [
                        (ti, &row[..2]),
                        (t[i - 1], &row),
                        (ti, &[f64::NAN, 0.0, 0.0]),
                        (ti, &[1e200, 0.0, 0.0]),
                    ];
                    for (at, r) in bad {
                        assert!(online.update(at, r).is_err(), "{} {at} {r:?}", info.name);
                    }
                }
                assert_eq!(
                    online.update(ti, &row).unwrap(),
                    batch.point(i),
                    "{} {i}",
                    info.name
                );
            }
            online.reset();
            assert_eq!(
                online.update(t[0], &m.row(0).to_vec()).unwrap(),
                batch.point(0)
            );
        }
    }

    #[test]
    fn tables_are_validated() {
        let ok = array![[1.0, 2.0], [3.0, 4.0]];
        assert!(validate_rows(&[1, 2], ok.view()).is_ok());
        let err = |r: Result<()>| match r {
            Err(DetectError::Core(e)) => e,
            other => panic!("{other:?}"),
        };
        assert!(matches!(
            err(validate_rows(&[1], ok.view())),
            CoreError::LengthMismatch { .. }
        ));
        assert!(matches!(
            err(validate_rows(&[2, 1], ok.view())),
            CoreError::Unsorted { index: 1, .. }
        ));
        assert!(matches!(
            err(validate_rows(&[1, 1], ok.view())),
            CoreError::DuplicateTimestamp { .. }
        ));
        let nan = array![[1.0, 2.0], [3.0, f64::NAN]];
        assert!(matches!(
            err(validate_rows(&[1, 2], nan.view())),
            CoreError::NonFinite { index: 1, .. }
        ));
        let empty = Array2::<f64>::zeros((0, 2));
        assert!(matches!(
            err(validate_rows(&[], empty.view())),
            CoreError::Empty(_)
        ));
        let narrow = Array2::<f64>::zeros((2, 0));
        assert!(matches!(
            err(validate_rows(&[1, 2], narrow.view())),
            CoreError::Empty(_)
        ));
    }

    #[test]
    fn columns_become_rows() {
        let t = columns_to_rows(&[1, 2, 3], &[&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]]).unwrap();
        assert_eq!(t, array![[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]);
        assert!(matches!(
            columns_to_rows(&[1, 2, 3], &[&[1.0, 2.0, 3.0], &[4.0, 5.0]]),
            Err(DetectError::Core(CoreError::LengthMismatch {
                timestamps: 3,
                values: 2
            }))
        ));
        assert!(matches!(
            columns_to_rows(&[1], &[]),
            Err(DetectError::Core(CoreError::Empty(_)))
        ));
    }

    #[test]
    fn the_guard_fixes_the_dimension_and_refuses_without_changing() {
        let mut g = RowGuard::default();
        assert!(matches!(
            g.admit(1, &[]),
            Err(DetectError::DimensionMismatch { found: 0, .. })
        ));
        g.admit(1, &[1.0, 2.0]).unwrap();
        assert!(matches!(
            g.admit(2, &[1.0]),
            Err(DetectError::DimensionMismatch {
                expected: 2,
                found: 1,
                ..
            })
        ));
        assert!(matches!(
            g.admit(2, &[1.0, f64::INFINITY]),
            Err(DetectError::NonFinite { .. })
        ));
        assert!(matches!(
            g.admit(1, &[1.0, 2.0]),
            Err(DetectError::OutOfOrder { .. })
        ));
        g.admit(2, &[1.0, 2.0]).unwrap();
    }

    #[test]
    fn builds_by_name() {
        for info in MULTIVARIATE_DETECTORS {
            let d = build_multivariate(info.name, &Map::new()).unwrap();
            assert_eq!(d.name(), info.name);
        }
        let p = parse_assignments(&["window=30", "alpha=0.01"]).unwrap();
        assert!(build_multivariate("mahalanobis", &p).is_ok());
        let e = build_multivariate("nope", &Map::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains("mahalanobis") && e.contains("pca"), "{e}");
        let p = parse_assignments(&["windw=30"]).unwrap();
        let e = build_multivariate("pca", &p).unwrap_err().to_string();
        assert!(e.contains("windw") && e.contains("window"), "{e}");
        let p = parse_assignments(&["window=1"]).unwrap();
        assert!(matches!(
            build_multivariate("mahalanobis", &p),
            Err(DetectError::InvalidParameter { .. })
        ));
    }
}
