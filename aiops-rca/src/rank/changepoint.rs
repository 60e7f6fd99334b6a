//! Finding the anomaly time when none is given: the earliest moment at which many metrics
//! change together.
//!
//! Each column is followed by a robust exponentially weighted baseline: a level (weight
//! [`ALPHA`] per point) and a noise scale (weight [`SCALE_ALPHA`], slower, so that a slow ramp
//! such as a memory leak outgrows it instead of inflating it), each update clipped at 3
//! scales so an outlier barely moves them; a point already [`Z`] scales away updates neither
//! (so a shift cannot teach the baseline to accept it). Both start from the median and median absolute first difference of the first
//! [`WARMUP`] points. A column *changes* at the first point from which [`RUN`] consecutive
//! points all sit at least [`Z`] scales from the baseline, on the same side: lone spikes (up
//! to `RUN - 1` points) are ignored, level shifts, ramps and variance bursts are caught. The
//! change is dated back to where it began: where a CUSUM of the column's deviations on that
//! side (drift [`CUSUM_K`] scales) last left zero, at most [`MAX_BACK`] points before the run,
//! when that CUSUM had reached [`BACK_MIN`] before the run began (else the run's start),
//! so a slow ramp is dated by its start, not by the point it became obvious. Once one of
//! those CUSUMs passes [`DRIFT_CUSUM`], the scale stops learning until it falls back below:
//! a slow ramp (a memory leak filling over two hours) used to raise the scale as fast as it
//! grew and was never confirmed. The
//! change times of all columns are then pooled, and the anomaly time is the first change in
//! the window of [`WINDOW`] points holding the most changes (ties: the earliest window): a
//! failure spreads to many metrics within minutes, while unrelated blips are scattered.
//!
//! The busiest window is one candidate; [`candidate_onsets`] also returns the next busiest
//! windows among the changes left, so that a ranking can be computed under each and the
//! rankings combined ([`super::onsets`]): the busiest window is not always the fault (a few
//! columns drifting together right after the warm-up outnumber a memory leak that moves
//! one column first).
//!
//! When no column changes that clearly (a small step in every column, as in a linear
//! structural model), the fallback takes the single split of the data that best explains all
//! columns as two levels each (a multivariate mean-shift test, O(points) per column). Each
//! column's profile of shift scores is scaled down so that its peak is at most
//! [`SPLIT_CAP`] standard errors: no column dominates, and each still peaks at its own shift
//! (capping the scores instead flattened every large shift into a plateau, and the split
//! wandered over it: the median error was 12-16 points on the random-DAG cases).
//!
//! O(points) per column with no allocation but the output, and columns run in parallel, so
//! 10,000 columns of 720 points take a few milliseconds. (BOCPD, in `aiops-detect`, gives a
//! posterior per point but costs about a microsecond per point and hypothesis, too slow for
//! thousands of columns within the one-second budget of a ranking.)

use aiops_core::TimestampMs;
use aiops_core::time::format_rfc3339;
use rayon::prelude::*;

use super::MIN_NORMAL_POINTS;
use super::metrics::MetricFrame;
use crate::error::{RcaError, Result};

/// Weight of each point in the running baseline.
pub const ALPHA: f64 = 0.05;
/// Weight of each point in the running noise variance: slower than the level, so that a slow
/// ramp (a memory leak) outgrows the scale instead of inflating it.
pub const SCALE_ALPHA: f64 = 0.01;
/// Points that seed the baseline (no change is looked for among them).
pub const WARMUP: usize = 20;
/// Consecutive deviant points that make a change.
pub const RUN: usize = 4;
/// Deviation, in baseline scales, of a deviant point.
pub const Z: f64 = 4.0;
/// Shift of a column's mean, in standard errors, that makes the fallback split count.
pub const MIN_SPLIT_Z: f64 = 5.0;
/// Drift of the CUSUMs that date a change's onset, in baseline scales: deviations smaller
/// than this do not count towards it.
pub const CUSUM_K: f64 = 1.0;
/// CUSUM level, in baseline scales, that the deviations before a run must have reached for
/// the run to be dated back to where they began.
pub const BACK_MIN: f64 = 8.0;
/// CUSUM level, in baseline scales, from which the deviations count as a drift under way and
/// no longer teach the noise scale (a slow ramp would otherwise inflate the scale as fast as
/// it grows, and never be confirmed). Far above [`BACK_MIN`]: the slow wander of a load-driven
/// metric must still be learnt as noise.
pub const DRIFT_CUSUM: f64 = 50.0;
/// Points a change's onset may be moved back from the run that confirmed it.
pub const MAX_BACK: usize = 60;
/// Largest mean-shift score, in standard errors, a column brings to the fallback split.
pub const SPLIT_CAP: f64 = 10.0;
/// Width of the window in which changes are pooled (points).
pub const WINDOW: usize = 6;
/// Points after a better candidate onset within which a busy window is the same incident
/// spreading to more columns (two windows), not a candidate of its own.
pub const SAME_INCIDENT: usize = 2 * WINDOW;
/// Most candidate onsets a ranking without a given time is computed under
/// ([`candidate_onsets`]); the simulators rarely show more than three distinct moments of
/// change, and each candidate costs one ranking.
pub const MAX_CANDIDATES: usize = 5;

/// An anomaly time found in the data, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangePoint {
    /// The anomaly time (ms since the epoch): the first change of the busiest window.
    pub time: TimestampMs,
    /// Index of that point in the frame.
    pub index: usize,
    /// Columns that changed within the window.
    pub columns_changed: usize,
    /// Columns that changed anywhere.
    pub columns_changing: usize,
    /// The column that changed first in the window.
    pub first_column: String,
    /// One sentence saying how the time was found.
    pub how: String,
}

/// Finds the anomaly time of a frame (see the module docs): the first of
/// [`candidate_onsets`].
pub fn find_anomaly_time(frame: &MetricFrame) -> Result<ChangePoint> {
    let mut all = candidate_onsets(frame, 1)?;
    all.pop()
        .ok_or_else(|| RcaError::NoChangeFound("no candidate onset".into()))
}

/// Up to `max` candidate anomaly times, best first: the busiest window of [`WINDOW`] points
/// (the one [`find_anomaly_time`] takes), then the busiest window among the changes left
/// outside it, and so on; a window starting within [`SAME_INCIDENT`] points after a better
/// candidate is skipped. Several candidates exist when the metrics changed at several
/// moments (warm-up drift early in the data, a fault, what it causes later); ranking under
/// each and combining the rankings ([`super::onsets`]) spares the choice between them.
/// Without any clear change, the one fallback split (see the module docs).
pub fn candidate_onsets(frame: &MetricFrame, max: usize) -> Result<Vec<ChangePoint>> {
    let n = frame.len();
    if n < WARMUP + RUN + 1 {
        return Err(RcaError::NotEnoughData(format!(
            "{n} points; finding the anomaly time needs at least {}",
            WARMUP + RUN + 1
        )));
    }
    let changes: Vec<Option<usize>> = frame
        .columns()
        .par_iter()
        .map(|c| {
            if c.constant {
                None
            } else {
                first_change(&c.values)
            }
        })
        .collect();
    let mut counts = vec![0usize; n];
    let mut changing = 0;
    for &i in changes.iter().flatten() {
        counts[i] += 1;
        changing += 1;
    }
    if changing == 0 {
        return best_split(frame).map(|c| vec![c]).ok_or_else(|| {
            RcaError::NoChangeFound(format!(
                "no column held {RUN} points {Z} scales away from its running baseline, \
                 and no split of the data shifts the columns' means by {MIN_SPLIT_Z} standard errors"
            ))
        });
    }
    let mut out: Vec<ChangePoint> = Vec::new();
    while out.len() < max.max(1) {
        // Busiest window of WINDOW points (earliest on ties); the time is its first change.
        let mut best = (0usize, 0usize);
        let mut in_window: usize = counts[..WINDOW.min(n)].iter().sum();
        for start in 0..n {
            if in_window > best.0 {
                best = (in_window, start);
            }
            in_window -= counts[start];
            if start + WINDOW < n {
                in_window += counts[start + WINDOW];
            }
        }
        let (count, start) = best;
        if count == 0 {
            break;
        }
        let first_change_at = (start..n).find(|&i| counts[i] > 0).unwrap_or(start);
        let index = first_change_at.max(MIN_NORMAL_POINTS);
        let window = start..(start + WINDOW).min(n);
        for c in &mut counts[window.clone()] {
            *c = 0;
        }
        // A window soon after a better candidate is the same incident spreading (the ranking
        // under the earlier onset scores it), so it is not ranked again; nor is one whose
        // onset clamps to a candidate's.
        if out
            .iter()
            .any(|c| index >= c.index && index - c.index <= SAME_INCIDENT)
        {
            continue;
        }
        let first = changes
            .iter()
            .position(|&c| c == Some(first_change_at))
            .map(|c| frame.columns()[c].name())
            .unwrap_or_default();
        let time = frame.timestamps()[index];
        out.push(ChangePoint {
            time,
            index,
            columns_changed: count,
            columns_changing: changing,
            first_column: first.clone(),
            how: format!(
                "anomaly time found in the data: {count} of {} columns changed within {WINDOW} points from {} (first: {first}); {changing} columns changed in all",
                frame.columns().len(),
                format_rfc3339(time)
            ),
        });
    }
    Ok(out)
}

/// Fallback when no column shows a clear change: the one split of the data that best
/// explains every column as two constant levels. Each column scores each split `k` by the
/// shift of its mean, `|mean(k..) - mean(..k)|`, in standard errors (noise from the median
/// absolute first difference, which a step does not inflate), capped at 10; the split with
/// the largest sum of squared scores wins if some column reaches [`MIN_SPLIT_Z`] there.
fn best_split(frame: &MetricFrame) -> Option<ChangePoint> {
    let n = frame.len();
    let lo = WARMUP.max(MIN_NORMAL_POINTS);
    let hi = n.checked_sub(RUN)?;
    if hi <= lo {
        return None;
    }
    let per_column: Vec<Vec<f64>> = frame
        .columns()
        .par_iter()
        .filter(|c| !c.constant)
        .map(|c| {
            let v = &c.values;
            let mut diffs: Vec<f64> = v.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
            let sigma = super::column_stats::median_in_place(&mut diffs) / 0.954;
            let total: f64 = v.iter().sum();
            let mut before = 0.0;
            let mut out = vec![0.0; n];
            if sigma <= 0.0 {
                return out;
            }
            for (k, &x) in v.iter().enumerate().take(hi) {
                if k >= lo {
                    let (a, b) = (k as f64, (n - k) as f64);
                    let shift = (total - before) / b - before / a;
                    let se = sigma * (1.0 / a + 1.0 / b).sqrt();
                    out[k] = (shift / se).abs();
                }
                before += x;
            }
            // A column's weight is capped, not its profile: scaled so its peak is at most
            // SPLIT_CAP, it still peaks where its own shift is (a capped profile is flat
            // around a large shift, and the sum's peak wanders over the plateau).
            let peak = out.iter().fold(0.0f64, |m, &z| m.max(z));
            if peak > SPLIT_CAP {
                let f = SPLIT_CAP / peak;
                for z in &mut out {
                    *z *= f;
                }
            }
            out
        })
        .collect();
    let mut best = (0.0f64, 0usize);
    for k in lo..hi {
        let sum: f64 = per_column.iter().map(|c| c[k] * c[k]).sum();
        if sum > best.0 {
            best = (sum, k);
        }
    }
    let k = best.1;
    let strong = per_column.iter().filter(|c| c[k] >= MIN_SPLIT_Z).count();
    if strong == 0 {
        return None;
    }
    let time = frame.timestamps()[k];
    Some(ChangePoint {
        time,
        index: k,
        columns_changed: strong,
        columns_changing: strong,
        first_column: String::new(),
        how: format!(
            "anomaly time found in the data: no column changed abruptly, so the best single split of all columns into two levels was taken: {} ({strong} of {} columns shift by {MIN_SPLIT_Z} standard errors or more)",
            format_rfc3339(time),
            frame.columns().len()
        ),
    })
}

/// First point of the first run of [`RUN`] points at least [`Z`] scales from the running
/// baseline on one side, after the warm-up.
fn first_change(v: &[f64]) -> Option<usize> {
    let mut warm: Vec<f64> = v[..WARMUP].to_vec();
    let mut diffs: Vec<f64> = v[..WARMUP]
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .collect();
    let mut level = super::column_stats::median_in_place(&mut warm);
    // Median |first difference| / 0.954 is sigma for Gaussian noise and ignores level shifts.
    let spread = v.iter().fold(0.0f64, |m, &x| m.max((x - level).abs()));
    let mut scale = super::column_stats::floor_sigma(
        super::column_stats::median_in_place(&mut diffs) / 0.954,
        level,
        spread,
    );
    let mut var = scale * scale;
    let (mut run, mut side) = (0usize, 0.0f64);
    // Two one-sided CUSUMs of z (drift CUSUM_K) and where each last left zero: the onset of a
    // change is where its CUSUM last started to climb, which a run of deviant points only
    // confirms later (a slow ramp) or a little later (a step). (A CUSUM alarm of its own, for
    // small shifts, fired on the autocorrelated metrics of the microservice simulator.)
    // Only a CUSUM that had climbed to BACK_MIN before the run began dates it back: noise
    // alone lifts it for a point or two before any change.
    let (mut up, mut down) = (0.0f64, 0.0f64);
    let (mut up_from, mut down_from) = (WARMUP, WARMUP);
    let mut before_run = 0.0f64;
    for (i, &x) in v.iter().enumerate().skip(WARMUP) {
        let d = x - level;
        let z = d / scale;
        let (up_before, down_before) = (up, down);
        // Clipped, so a lone spike adds little and is soon forgotten.
        let zc = z.clamp(-Z, Z);
        up = (up + zc - CUSUM_K).max(0.0);
        down = (down - zc - CUSUM_K).max(0.0);
        if up == 0.0 {
            up_from = i + 1;
        }
        if down == 0.0 {
            down_from = i + 1;
        }
        if z.abs() >= Z {
            if run > 0 && z.signum() == side {
                run += 1;
            } else {
                run = 1;
                side = z.signum();
                before_run = if side > 0.0 { up_before } else { down_before };
            }
            if run >= RUN {
                let start = i + 1 - RUN;
                if before_run < BACK_MIN {
                    return Some(start);
                }
                let from = if side > 0.0 { up_from } else { down_from };
                return Some(from.clamp(start.saturating_sub(MAX_BACK), start));
            }
            // A point that may open a change does not teach the baseline.
            continue;
        }
        run = 0;
        let clipped = d.clamp(-3.0 * scale, 3.0 * scale);
        level += ALPHA * clipped;
        // A CUSUM this high means the deviations are a drift under way (a leak's ramp), not
        // noise: learning the scale from them would inflate it as fast as the ramp grows.
        if up.max(down) < DRIFT_CUSUM {
            var = (1.0 - SCALE_ALPHA) * var + SCALE_ALPHA * clipped * clipped;
            scale = var.sqrt();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::build;

    #[test]
    fn finds_the_shared_change_not_the_lone_spike() {
        let topo = r#"{"nodes": [{"id": "a", "kind": "service"}, {"id": "b", "kind": "service"}],
            "edges": [{"from": "a", "to": "b", "kind": "calls"}]}"#;
        let (_, f) = build(
            topo,
            &[
                ("a:latency", 20.0, 71),
                ("b:latency", 20.0, 70),
                ("b:cpu", 20.0, 72),
                ("a:cpu", 0.0, 0),
            ],
        );
        let cp = find_anomaly_time(&f).unwrap();
        assert_eq!(cp.index, 70);
        assert_eq!(cp.columns_changed, 3);
        assert_eq!(cp.first_column, "b:latency");
        assert!(cp.how.contains("3 of 4 columns"));
    }

    #[test]
    fn spikes_are_not_changes() {
        let mut v: Vec<f64> = (0..100).map(|i| [0.0, 1.0, -1.0, 0.5][i % 4]).collect();
        v[50] = 40.0;
        v[51] = 40.0;
        v[52] = 40.0;
        assert_eq!(first_change(&v), None);
        for x in v.iter_mut().skip(80) {
            *x += 30.0;
        }
        assert_eq!(first_change(&v), Some(80));
    }

    #[test]
    fn a_ramp_is_dated_by_its_start() {
        // Noise, then a slow ramp from 120 (a leak): the run of deviant points comes many
        // points later, and the change is dated back to the ramp's start.
        let mut noise = crate::testing::Noise::new(3);
        let v: Vec<f64> = (0..300)
            .map(|i| {
                50.0 + noise.normal()
                    + if i >= 120 {
                        0.5 * (i - 120) as f64
                    } else {
                        0.0
                    }
            })
            .collect();
        let at = first_change(&v).unwrap();
        assert!((115..=125).contains(&at), "{at}");
    }

    #[test]
    fn a_slow_ramp_is_found_and_dated_back() {
        // A leak: from point 400 the level climbs by 0.35-0.5 noise units a point, and the
        // noise, 3 % of the level with 1 % heavy-tailed outliers, grows with it. Before the
        // scale stopped learning from a drift under way, the first of these was never
        // confirmed (the scale grew as fast as the ramp). Found, and dated within 12 points
        // of the ramp's start.
        for (seed, slope) in [(7u64, 0.35), (9, 0.35), (4, 0.4), (8, 0.5)] {
            let mut noise = crate::testing::Noise::new(seed);
            let v: Vec<f64> = (0..600)
                .map(|i| {
                    let ramp = if i >= 400 {
                        slope * (i - 400) as f64
                    } else {
                        0.0
                    };
                    let level = 100.0 + 3.0 * ramp;
                    let tail = if noise.normal().abs() > 2.576 {
                        5.0
                    } else {
                        1.0
                    };
                    level * (1.0 + 0.03 * tail * noise.normal())
                })
                .collect();
            let at = first_change(&v);
            assert!(
                at.is_some_and(|a| (395..=412).contains(&a)),
                "slope {slope}: {at:?}"
            );
        }
    }

    #[test]
    fn candidates_are_the_busiest_windows_in_turn() {
        // Two columns drift together early, one column changes later and another 9 points
        // after it: the early pair is the busiest window, the later change the second
        // candidate, and the change after it the same incident spreading.
        let topo = r#"{"nodes": [{"id": "a", "kind": "service"}, {"id": "b", "kind": "service"},
            {"id": "c", "kind": "service"}, {"id": "d", "kind": "service"}]}"#;
        let (_, f) = build(
            topo,
            &[
                ("a:requests", 20.0, 30),
                ("b:requests", 20.0, 31),
                ("c:memory", 20.0, 75),
                ("d:cpu", 20.0, 84),
            ],
        );
        let c = candidate_onsets(&f, MAX_CANDIDATES).unwrap();
        let at: Vec<usize> = c.iter().map(|c| c.index).collect();
        assert_eq!(at, [30, 75]);
        assert_eq!(c[0].columns_changed, 2);
        assert_eq!(c[1].first_column, "c:memory");
        assert_eq!(find_anomaly_time(&f).unwrap(), c[0]);
        assert_eq!(candidate_onsets(&f, 1).unwrap().len(), 1);
    }

    #[test]
    fn the_fallback_split_peaks_at_a_large_shift() {
        // Small steps (2 noise SD) in every column at 70: too small for the running baseline,
        // large enough for the split test to saturate a cap; the split must be exact.
        let topo = r#"{"nodes": [{"id": "a", "kind": "service"}, {"id": "b", "kind": "service"},
            {"id": "c", "kind": "service"}]}"#;
        let (_, f) = build(
            topo,
            &[
                ("a:latency", 2.0, 70),
                ("b:latency", 2.0, 70),
                ("c:latency", 2.0, 70),
            ],
        );
        let cp = find_anomaly_time(&f).unwrap();
        assert!(cp.how.contains("best single split"), "{}", cp.how);
        assert!((69..=71).contains(&cp.index), "{}", cp.index);
    }

    #[test]
    fn no_change_is_an_error() {
        let topo = r#"{"nodes": [{"id": "a", "kind": "service"}]}"#;
        let (_, f) = build(topo, &[("a:latency", 0.0, 0)]);
        assert!(matches!(
            find_anomaly_time(&f),
            Err(RcaError::NoChangeFound(_))
        ));
    }
}
