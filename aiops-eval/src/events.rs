//! Event-level scoring of metric detectors on labelled series (`timestamp,value,label` CSVs),
//! with the point-adjusted F1 that papers on the NASA telemetry data report.
//!
//! Definitions, per series (points are counted by position, not by time):
//! - a **segment** is a maximal run of points labelled 1, `[start, end]`;
//! - a segment is **found** when a flagged point falls in `[start, end + tol]`;
//! - a **run** is a maximal run of flagged points; a run that touches no segment's
//!   `[start, end + tol]` is one **false alarm**;
//! - event precision = (runs − false alarms) / runs, event recall = found segments / segments,
//!   F1 = 2 P R / (P + R) (0 when P + R = 0);
//! - **point-adjusted**: every point of a segment counts as flagged when any of its points
//!   (within `[start, end]`, no tolerance) is flagged; then point-wise precision, recall, F1.
//!
//! Undefined values are `None` (`null` in JSON) and are left out of the means over series:
//! precision is undefined for a series with no run, recall for a series with no segment. F1 is
//! defined when recall is: a series with segments but no run has F1 0 (nothing found); a series
//! without segments has no F1 (its runs still count as false alarms in its precision, in the
//! mean precision and in the pooled precision). Point-adjusted values follow the same rule (no
//! flagged point: precision undefined; no labelled point: recall and F1 undefined). Besides the
//! means over series, the report has the pooled figures: every series' counts summed, then
//! the same formulas.
//!
//! The data are a folder of CSVs ([`load_dir`]): either `DIR/*.csv` (flat), or the layout of
//! the NASA telemetry conversion, `DIR/data/<channel>.csv` with `DIR/index.csv`
//! (`channel,spacecraft,train_points,test_points,...`), whose lengths are checked and whose
//! `train_points` let [`score_all`] score only each channel's test part (`test_only`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use aiops_core::TimestampMs;
use aiops_core::time::parse_timestamp;
use serde::Serialize;

use crate::error::{EvalError, Result};
use crate::progress::{Counter, Progress};

/// Default tolerance after a segment's end, points.
pub const DEFAULT_TOLERANCE: usize = 10;

/// One labelled series.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSeries {
    /// Name (the file name without `.csv`).
    pub name: String,
    /// Timestamps, ms, strictly increasing.
    pub timestamps: Vec<TimestampMs>,
    /// Values.
    pub values: Vec<f64>,
    /// Label per point: true inside a labelled anomaly.
    pub labels: Vec<bool>,
    /// Points of the training part that opens the series, when the data say (`index.csv` of
    /// the NASA telemetry layout); `--test-only` scores the points after it.
    pub train: Option<usize>,
}

/// Maximal runs of `true`, as inclusive `[start, end]` point indices.
pub fn runs_of(flags: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &f) in flags.iter().enumerate() {
        match (f, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, flags.len() - 1));
    }
    out
}

/// Event-level and point-adjusted scores of one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesScore {
    /// Series name.
    pub name: String,
    /// Points.
    pub points: usize,
    /// Labelled segments.
    pub segments: usize,
    /// Segments found (a flagged point in `[start, end + tol]`).
    pub found: usize,
    /// Maximal runs of flagged points.
    pub runs: usize,
    /// Runs touching no segment (with the tolerance).
    pub false_alarms: usize,
    /// Flagged points.
    pub flagged: usize,
    /// Event precision; `None` without runs.
    pub precision: Option<f64>,
    /// Event recall; `None` without segments.
    pub recall: Option<f64>,
    /// Event F1; `None` without segments.
    pub f1: Option<f64>,
    /// Point-adjusted counts: true positives, false positives, false negatives (points).
    pub pa_counts: PointCounts,
    /// Point-adjusted precision; `None` without flagged points.
    pub pa_precision: Option<f64>,
    /// Point-adjusted recall; `None` without labelled points.
    pub pa_recall: Option<f64>,
    /// Point-adjusted F1; `None` without labelled points.
    pub pa_f1: Option<f64>,
    /// Seconds the detector took on this series (0 when scored from given flags).
    pub seconds: f64,
}

/// Point counts after point adjustment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PointCounts {
    /// Labelled points counted as flagged.
    pub tp: usize,
    /// Flagged points outside segments.
    pub fp: usize,
    /// Labelled points not counted as flagged.
    pub r#fn: usize,
}

fn ratio(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// F1 from precision and recall: `None` when recall is undefined, 0 when precision is
/// undefined (nothing flagged) or both are 0.
fn f1_of(precision: Option<f64>, recall: Option<f64>) -> Option<f64> {
    let r = recall?;
    let p = precision.unwrap_or(0.0);
    Some(if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    })
}

/// Scores one series' flags against its labels with tolerance `tol` (points after a
/// segment's end).
pub fn score_series(
    name: &str,
    labels: &[bool],
    flags: &[bool],
    tol: usize,
) -> Result<SeriesScore> {
    if labels.len() != flags.len() {
        return Err(EvalError::InvalidParameter {
            name: "flags",
            reason: format!("{name}: {} flags for {} points", flags.len(), labels.len()),
        });
    }
    let segments = runs_of(labels);
    let runs = runs_of(flags);
    // Prefix sums of flags, to find a flagged point in a range in O(1).
    let mut prefix = Vec::with_capacity(flags.len() + 1);
    prefix.push(0usize);
    for &f in flags {
        prefix.push(prefix.last().copied().unwrap_or(0) + usize::from(f));
    }
    let last = flags.len().saturating_sub(1);
    let flagged_in = |a: usize, b: usize| prefix[b + 1] - prefix[a];
    let found = segments
        .iter()
        .filter(|&&(s, e)| flagged_in(s, (e + tol).min(last)) > 0)
        .count();
    // Runs and extended segments are both sorted: one merge pass.
    let mut false_alarms = 0;
    let mut k = 0;
    for &(a, b) in &runs {
        while k < segments.len() && segments[k].1 + tol < a {
            k += 1;
        }
        let touches = k < segments.len() && segments[k].0 <= b;
        if !touches {
            false_alarms += 1;
        }
    }
    // Point adjustment.
    let mut pa = PointCounts::default();
    let mut labelled = 0;
    for &(s, e) in &segments {
        labelled += e - s + 1;
        if flagged_in(s, e) > 0 {
            pa.tp += e - s + 1;
        }
    }
    pa.r#fn = labelled - pa.tp;
    pa.fp = flags.iter().zip(labels).filter(|&(&f, &l)| f && !l).count();
    let precision = ratio(runs.len() - false_alarms, runs.len());
    let recall = ratio(found, segments.len());
    let pa_precision = ratio(pa.tp, pa.tp + pa.fp);
    let pa_recall = ratio(pa.tp, labelled);
    Ok(SeriesScore {
        name: name.to_string(),
        points: labels.len(),
        segments: segments.len(),
        found,
        runs: runs.len(),
        false_alarms,
        flagged: prefix[flags.len()],
        precision,
        recall,
        f1: f1_of(precision, recall),
        pa_counts: pa,
        pa_precision,
        pa_recall,
        pa_f1: f1_of(pa_precision, pa_recall),
        seconds: 0.0,
    })
}

/// Precision, recall and F1 of one kind of scoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Prf {
    /// Precision (`None`: undefined, see the module doc).
    pub precision: Option<f64>,
    /// Recall.
    pub recall: Option<f64>,
    /// F1.
    pub f1: Option<f64>,
}

fn mean(xs: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let (sum, n) = xs.flatten().fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// What `aiops eval events` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventReport {
    /// The data: a folder, or `synthetic (seed N)`.
    pub data: String,
    /// The detector's name.
    pub detector: String,
    /// Tolerance after a segment's end, points.
    pub tolerance: usize,
    /// Whether only the test parts were scored (`--test-only`).
    pub test_only: bool,
    /// Series scored.
    pub series: usize,
    /// Points scored.
    pub points: usize,
    /// Labelled segments in all.
    pub segments: usize,
    /// Segments found.
    pub found: usize,
    /// Runs of flagged points in all.
    pub runs: usize,
    /// False alarms in all.
    pub false_alarms: usize,
    /// Means over series of the event precision, recall and F1 (each over the series where
    /// it is defined).
    pub mean: Prf,
    /// Event precision, recall and F1 of the summed counts.
    pub pooled: Prf,
    /// Means over series of the point-adjusted precision, recall and F1.
    pub pa_mean: Prf,
    /// Point-adjusted precision, recall and F1 of the summed point counts.
    pub pa_pooled: Prf,
    /// Series counted in the mean F1 (those with segments).
    pub series_with_segments: usize,
    /// Seconds the detector ran, summed over series (one thread each).
    pub detector_seconds: f64,
    /// Microseconds per point of the detector (`detector_seconds` / `points`).
    pub us_per_point: f64,
    /// Wall time of the whole evaluation, seconds (series run in parallel).
    pub seconds: f64,
    /// Segments found per kind of anomaly, where the data say (the synthetic family); empty
    /// otherwise (and then left out of JSON).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_kind: BTreeMap<String, KindRecall>,
    /// Per series, in name order.
    pub per_series: Vec<SeriesScore>,
}

/// Segments of one kind found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KindRecall {
    /// Segments of this kind.
    pub segments: usize,
    /// Found.
    pub found: usize,
    /// `found / segments`.
    pub recall: f64,
}

impl EventReport {
    /// The report from the per-series scores.
    pub fn new(
        data: String,
        detector: String,
        tolerance: usize,
        per_series: Vec<SeriesScore>,
        seconds: f64,
    ) -> Self {
        let sum = |f: fn(&SeriesScore) -> usize| per_series.iter().map(f).sum::<usize>();
        let (points, segments, found) = (sum(|s| s.points), sum(|s| s.segments), sum(|s| s.found));
        let (runs, false_alarms) = (sum(|s| s.runs), sum(|s| s.false_alarms));
        let pooled_p = ratio(runs - false_alarms, runs);
        let pooled_r = ratio(found, segments);
        let tp = sum(|s| s.pa_counts.tp);
        let fp = sum(|s| s.pa_counts.fp);
        let fn_ = sum(|s| s.pa_counts.r#fn);
        let pa_p = ratio(tp, tp + fp);
        let pa_r = ratio(tp, tp + fn_);
        let detector_seconds: f64 = per_series.iter().map(|s| s.seconds).sum();
        Self {
            data,
            detector,
            tolerance,
            test_only: false,
            series: per_series.len(),
            points,
            segments,
            found,
            runs,
            false_alarms,
            mean: Prf {
                precision: mean(per_series.iter().map(|s| s.precision)),
                recall: mean(per_series.iter().map(|s| s.recall)),
                f1: mean(per_series.iter().map(|s| s.f1)),
            },
            pooled: Prf {
                precision: pooled_p,
                recall: pooled_r,
                f1: f1_of(pooled_p, pooled_r),
            },
            pa_mean: Prf {
                precision: mean(per_series.iter().map(|s| s.pa_precision)),
                recall: mean(per_series.iter().map(|s| s.pa_recall)),
                f1: mean(per_series.iter().map(|s| s.pa_f1)),
            },
            pa_pooled: Prf {
                precision: pa_p,
                recall: pa_r,
                f1: f1_of(pa_p, pa_r),
            },
            series_with_segments: per_series.iter().filter(|s| s.segments > 0).count(),
            detector_seconds,
            us_per_point: if points > 0 {
                detector_seconds * 1e6 / points as f64
            } else {
                0.0
            },
            seconds,
            by_kind: BTreeMap::new(),
            per_series,
        }
    }
}

/// The flags (`is_anomaly`) of one detector run over one series, with the seconds it took.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesFlags {
    /// Flag per point.
    pub flags: Vec<bool>,
    /// Seconds the detector took.
    pub seconds: f64,
}

/// Runs the registry detector `name` with `params` over every series (a fresh detector each,
/// series in parallel) and returns its name and the flags per series. Detectors learn each
/// series' range themselves (none is given).
pub fn run_detector(
    corpus: &[EventSeries],
    name: &str,
    params: &serde_json::Map<String, serde_json::Value>,
    progress: Progress<'_>,
) -> Result<(String, Vec<SeriesFlags>)> {
    use rayon::prelude::*;
    let detector = aiops_detect::registry::build(name, params)?
        .name()
        .to_string();
    let counter = Counter::new(corpus.len(), progress);
    let flags = corpus
        .par_iter()
        .map(|s| {
            let det = aiops_detect::registry::build(name, params)?;
            let t = Instant::now();
            let flags = det
                .detect(&crate::nab::detection_timestamps(&s.timestamps), &s.values)?
                .is_anomaly;
            let seconds = t.elapsed().as_secs_f64();
            counter.tick();
            Ok(SeriesFlags { flags, seconds })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((detector, flags))
}

fn no_training_part(name: &str) -> EvalError {
    EvalError::InvalidParameter {
        name: "test_only",
        reason: format!("{name}: no training part is known (index.csv with train_points)"),
    }
}

/// Scores every series' flags with tolerance `tol` (their seconds kept in each score). With
/// `test_only`, only the points after each series' training part ([`EventSeries::train`]) are
/// scored (the detector has run over the whole series); a series without one is an error.
pub fn score_all(
    corpus: &[EventSeries],
    flags: &[SeriesFlags],
    tol: usize,
    test_only: bool,
) -> Result<Vec<SeriesScore>> {
    if corpus.len() != flags.len() {
        return Err(EvalError::InvalidParameter {
            name: "flags",
            reason: format!("{} flag series for {} series", flags.len(), corpus.len()),
        });
    }
    corpus
        .iter()
        .zip(flags)
        .map(|(s, f)| {
            let from = match (test_only, s.train) {
                (false, _) => 0,
                (true, Some(t)) => t.min(s.labels.len()).min(f.flags.len()),
                (true, None) => return Err(no_training_part(&s.name)),
            };
            let mut score = score_series(&s.name, &s.labels[from..], &f.flags[from..], tol)?;
            score.seconds = f.seconds;
            Ok(score)
        })
        .collect()
}

/// Runs the registry detector `name` with `params` over every series ([`run_detector`]),
/// scores its flags with tolerance `tol` (only the test parts with `test_only`, see
/// [`score_all`]), and reports, naming the data `data`.
pub fn evaluate_detector(
    corpus: &[EventSeries],
    data: &str,
    name: &str,
    params: &serde_json::Map<String, serde_json::Value>,
    tol: usize,
    test_only: bool,
    progress: Progress<'_>,
) -> Result<EventReport> {
    let start = Instant::now();
    if let Some(s) = corpus.iter().find(|s| test_only && s.train.is_none()) {
        return Err(no_training_part(&s.name));
    }
    let (detector, flags) = run_detector(corpus, name, params, progress)?;
    let per_series = score_all(corpus, &flags, tol, test_only)?;
    let mut report = EventReport::new(
        data.to_string(),
        detector,
        tol,
        per_series,
        start.elapsed().as_secs_f64(),
    );
    report.test_only = test_only;
    Ok(report)
}

fn io_err(path: &Path, e: std::io::Error) -> EvalError {
    EvalError::Core(aiops_core::CoreError::Io(std::io::Error::new(
        e.kind(),
        format!("{}: {e}", path.display()),
    )))
}

fn data_err(path: &Path, reason: String) -> EvalError {
    EvalError::Data {
        path: path.display().to_string(),
        reason,
    }
}

/// Reads one `timestamp,value,label` CSV. A header row (any first row whose first field is not
/// a timestamp) is skipped; when it names `timestamp`, `value` and `label`, the columns are
/// taken by name, else by position. Timestamps are any form `aiops detect` reads (unix
/// seconds or ms, RFC 3339, `YYYY-MM-DD HH:MM:SS`) and must increase; labels are `0` or `1`.
pub fn read_series(path: &Path) -> Result<EventSeries> {
    let text = std::fs::read_to_string(path).map_err(|e| io_err(path, e))?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    let mut cols = (0, 1, 2);
    let mut out = EventSeries {
        name,
        timestamps: Vec::new(),
        values: Vec::new(),
        labels: Vec::new(),
        train: None,
    };
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if i == 0 && parse_timestamp(fields[0]).is_err() {
            let at = |h: &str| fields.iter().position(|f| f.eq_ignore_ascii_case(h));
            if let (Some(t), Some(v), Some(l)) = (at("timestamp"), at("value"), at("label")) {
                cols = (t, v, l);
            }
            continue;
        }
        let bad = |reason: String| data_err(path, format!("line {}: {reason}", i + 1));
        let field = |c: usize| {
            fields
                .get(c)
                .copied()
                .ok_or_else(|| bad("expected timestamp,value,label".into()))
        };
        let t = parse_timestamp(field(cols.0)?)
            .map_err(|e| bad(e.to_string()))?
            .0;
        if out.timestamps.last().is_some_and(|&p| t <= p) {
            return Err(bad("timestamp does not increase".into()));
        }
        let v = field(cols.1)?;
        let v = v
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| bad(format!("value {v:?} is not a finite number")))?;
        let label = match field(cols.2)? {
            "0" => false,
            "1" => true,
            other => return Err(bad(format!("label {other:?} is not 0 or 1"))),
        };
        out.timestamps.push(t);
        out.values.push(v);
        out.labels.push(label);
    }
    if out.values.is_empty() {
        return Err(data_err(path, "no data rows".into()));
    }
    Ok(out)
}

fn csv_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io_err(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    Ok(files)
}

/// Reads a folder of labelled series, sorted by name: `DIR/data/*.csv` when `DIR/data` is a
/// folder (the NASA telemetry layout; `DIR/index.csv`, when present, must list every channel
/// with `train_points + test_points` equal to its rows), else `DIR/*.csv`. Each file is read
/// with [`read_series`].
pub fn load_dir(dir: &Path) -> Result<Vec<EventSeries>> {
    let nested = dir.join("data");
    let corpus: Vec<EventSeries> = if nested.is_dir() {
        let mut corpus = csv_files(&nested)?
            .iter()
            .map(|p| read_series(p))
            .collect::<Result<Vec<_>>>()?;
        let index = dir.join("index.csv");
        if index.is_file() {
            let train = check_index(&index, &corpus)?;
            for s in &mut corpus {
                s.train = train.get(&s.name).copied();
            }
        }
        corpus
    } else {
        csv_files(dir)?
            .iter()
            .map(|p| read_series(p))
            .collect::<Result<Vec<_>>>()?
    };
    if corpus.is_empty() {
        return Err(data_err(dir, "no .csv file (nor in data/)".into()));
    }
    Ok(corpus)
}

/// Checks `index.csv` (`channel,spacecraft,train_points,test_points,...`) against the series
/// and returns each channel's training points (none when the file has other columns).
fn check_index(index: &Path, corpus: &[EventSeries]) -> Result<BTreeMap<String, usize>> {
    let text = std::fs::read_to_string(index).map_err(|e| io_err(index, e))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |h: &str| header.iter().position(|x| x.trim() == h);
    let (Some(c), Some(tr), Some(te)) = (col("channel"), col("train_points"), col("test_points"))
    else {
        // Not the telemetry index: nothing to check.
        return Ok(BTreeMap::new());
    };
    let mut train = BTreeMap::new();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let bad = |reason: String| data_err(index, format!("line {}: {reason}", i + 2));
        let num = |k: usize| {
            f.get(k)
                .and_then(|x| x.trim().parse::<usize>().ok())
                .ok_or_else(|| bad("bad point count".into()))
        };
        let name = f.get(c).map(|x| x.trim()).unwrap_or_default();
        let (t, n) = (num(tr)?, num(tr)? + num(te)?);
        let s = corpus
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| bad(format!("channel {name} has no data/{name}.csv")))?;
        if s.values.len() != n {
            return Err(bad(format!(
                "channel {name}: {} rows, index says {n}",
                s.values.len()
            )));
        }
        train.insert(name.to_string(), t);
    }
    if train.len() != corpus.len() {
        return Err(data_err(
            index,
            format!("lists {} channels, data/ has {}", train.len(), corpus.len()),
        ));
    }
    Ok(train)
}

/// Writes `series` as `DIR/<name>.csv`, `timestamp,value,label` (unix seconds).
pub fn write_series(dir: &Path, series: &EventSeries) -> Result<()> {
    use std::fmt::Write;
    let mut text = String::with_capacity(series.values.len() * 24);
    text.push_str("timestamp,value,label\n");
    for ((t, v), l) in series
        .timestamps
        .iter()
        .zip(&series.values)
        .zip(&series.labels)
    {
        let _ = writeln!(text, "{},{v},{}", t.div_euclid(1000), u8::from(*l));
    }
    let path = dir.join(format!("{}.csv", series.name));
    std::fs::write(&path, text).map_err(|e| io_err(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(n: usize, ranges: &[(usize, usize)]) -> Vec<bool> {
        let mut v = vec![false; n];
        for &(a, b) in ranges {
            v[a..=b].iter_mut().for_each(|x| *x = true);
        }
        v
    }

    #[test]
    fn runs_are_maximal() {
        assert_eq!(runs_of(&[]), vec![]);
        assert_eq!(
            runs_of(&mask(10, &[(0, 1), (4, 4), (8, 9)])),
            vec![(0, 1), (4, 4), (8, 9)]
        );
    }

    #[test]
    fn hand_made_series() {
        // Segments [20, 24] and [60, 69]; tolerance 5.
        let labels = mask(100, &[(20, 24), (60, 69)]);
        // A run inside the first segment, one 3 points after the second's end (within the
        // tolerance), and two false alarms (one 6 points after the first segment's end).
        let flags = mask(100, &[(22, 23), (72, 73), (30, 30), (90, 91)]);
        let s = score_series("s", &labels, &flags, 5).unwrap();
        assert_eq!((s.segments, s.found, s.runs, s.false_alarms), (2, 2, 4, 2));
        assert_eq!(s.precision, Some(0.5));
        assert_eq!(s.recall, Some(1.0));
        assert!((s.f1.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        // Point-adjusted: the first segment is detected inside (5 points); the second only
        // after its end, which point adjustment does not count (10 missed); 5 false points.
        assert_eq!(
            s.pa_counts,
            PointCounts {
                tp: 5,
                fp: 5,
                r#fn: 10
            }
        );
        assert_eq!(s.pa_precision, Some(0.5));
        assert_eq!(s.pa_recall, Some(5.0 / 15.0));
        // With tolerance 0 the late run is a false alarm and the second segment is missed.
        let s = score_series("s", &labels, &flags, 0).unwrap();
        assert_eq!((s.found, s.false_alarms), (1, 3));
        assert_eq!(s.precision, Some(0.25));
        assert_eq!(s.recall, Some(0.5));
    }

    #[test]
    fn one_run_across_two_segments_is_one_true_run() {
        let labels = mask(50, &[(10, 12), (15, 17)]);
        let flags = mask(50, &[(11, 16)]);
        let s = score_series("s", &labels, &flags, 0).unwrap();
        assert_eq!((s.found, s.runs, s.false_alarms), (2, 1, 0));
        assert_eq!(s.f1, Some(1.0));
        // A run ending before a segment starts does not touch it.
        let s = score_series("s", &labels, &mask(50, &[(5, 9)]), 10).unwrap();
        assert_eq!((s.found, s.false_alarms), (0, 1));
        // A segment at the end: the tolerance is cut at the last point.
        let labels = mask(20, &[(18, 19)]);
        let s = score_series("s", &labels, &mask(20, &[(19, 19)]), 10).unwrap();
        assert_eq!((s.found, s.false_alarms), (1, 0));
    }

    #[test]
    fn undefined_values_and_means() {
        // No segments, one run: precision 0, recall and F1 undefined.
        let quiet = score_series("a", &[false; 10], &mask(10, &[(3, 4)]), 2).unwrap();
        assert_eq!(
            (quiet.precision, quiet.recall, quiet.f1),
            (Some(0.0), None, None)
        );
        // Segments, no run: precision undefined, recall 0, F1 0.
        let missed = score_series("b", &mask(10, &[(3, 4)]), &[false; 10], 2).unwrap();
        assert_eq!(
            (missed.precision, missed.recall, missed.f1),
            (None, Some(0.0), Some(0.0))
        );
        assert_eq!((missed.pa_precision, missed.pa_f1), (None, Some(0.0)));
        // Perfect.
        let labels = mask(10, &[(3, 4)]);
        let perfect = score_series("c", &labels, &labels, 2).unwrap();
        assert_eq!(perfect.f1, Some(1.0));
        assert_eq!(perfect.pa_f1, Some(1.0));
        let r = EventReport::new("d".into(), "x".into(), 2, vec![quiet, missed, perfect], 0.0);
        // Precision over a and c, recall and F1 over b and c.
        assert_eq!(r.mean.precision, Some(0.5));
        assert_eq!(r.mean.recall, Some(0.5));
        assert_eq!(r.mean.f1, Some(0.5));
        assert_eq!(r.series_with_segments, 2);
        // Pooled: 2 runs, 1 false alarm; 2 segments, 1 found.
        assert_eq!((r.runs, r.false_alarms, r.segments, r.found), (2, 1, 2, 1));
        assert_eq!(r.pooled.f1, Some(0.5));
        assert!(score_series("e", &[false; 3], &[false; 2], 0).is_err());
    }

    #[test]
    fn reads_flat_and_telemetry_layouts() {
        let dir = tempfile::tempdir().unwrap();
        let body = "timestamp,value,label\n1514764800,1.5,0\n1514764860,2,1\n1514764920,0.5,0\n";
        std::fs::write(dir.path().join("b.csv"), body).unwrap();
        // Columns by name, in another order.
        std::fs::write(
            dir.path().join("a.csv"),
            "label,timestamp,value\n0,2024-01-01 00:00:00,1\n1,2024-01-01 00:01:00,2\n",
        )
        .unwrap();
        let flat = load_dir(dir.path()).unwrap();
        assert_eq!(flat.len(), 2);
        assert_eq!(flat[0].name, "a");
        assert_eq!(flat[0].labels, [false, true]);
        assert_eq!(flat[1].values, [1.5, 2.0, 0.5]);
        assert_eq!(flat[1].timestamps[1], 1_514_764_860_000);
        // The telemetry layout: data/ and index.csv.
        let tele = tempfile::tempdir().unwrap();
        std::fs::create_dir(tele.path().join("data")).unwrap();
        std::fs::write(tele.path().join("data/P-1.csv"), body).unwrap();
        let index = "channel,spacecraft,train_points,test_points,anomaly_sequences,classes\n";
        std::fs::write(
            tele.path().join("index.csv"),
            format!("{index}P-1,SMAP,1,2,1,\"[point]\"\n"),
        )
        .unwrap();
        let t = load_dir(tele.path()).unwrap();
        assert_eq!((t.len(), t[0].name.as_str()), (1, "P-1"));
        assert_eq!((t[0].train, flat[0].train), (Some(1), None));
        std::fs::write(
            tele.path().join("index.csv"),
            format!("{index}P-1,SMAP,1,5,1,\"[point]\"\n"),
        )
        .unwrap();
        assert!(load_dir(tele.path()).is_err(), "lengths are checked");
        // Bad rows name the line.
        std::fs::write(dir.path().join("c.csv"), "timestamp,value,label\n1,2,7\n").unwrap();
        let e = load_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("label"), "{e}");
        std::fs::write(dir.path().join("c.csv"), "1514764800,2,0\n1514764800,3,0\n").unwrap();
        assert!(load_dir(dir.path()).is_err(), "repeated timestamp");
        assert!(load_dir(tempfile::tempdir().unwrap().path()).is_err());
    }

    #[test]
    fn write_then_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let s = EventSeries {
            name: "x".into(),
            timestamps: vec![60_000, 120_000, 180_000],
            values: vec![1.25, -3.0, 1e-3],
            labels: vec![false, true, false],
            train: None,
        };
        write_series(dir.path(), &s).unwrap();
        assert_eq!(load_dir(dir.path()).unwrap(), vec![s]);
    }

    #[test]
    fn evaluates_a_registry_detector() {
        let n = 400;
        let mut values: Vec<f64> = (0..n).map(|i| ((i * 7919) % 13) as f64 * 0.1).collect();
        values[300] = 50.0;
        let s = EventSeries {
            name: "spike".into(),
            timestamps: (0..n as i64).map(|i| i * 60_000).collect(),
            values,
            labels: mask(n, &[(300, 300)]),
            train: Some(250),
        };
        let run = |s: &EventSeries, test_only| {
            evaluate_detector(
                std::slice::from_ref(s),
                "mem",
                "zscore",
                &serde_json::Map::new(),
                DEFAULT_TOLERANCE,
                test_only,
                &crate::no_progress,
            )
        };
        let r = run(&s, false).unwrap();
        assert_eq!((r.series, r.segments, r.found), (1, 1, 1));
        assert_eq!(r.detector, "zscore");
        assert!(r.per_series[0].seconds >= 0.0);
        assert_eq!(r.points, 400);
        // Only the 150 points after the training part are scored.
        let t = run(&s, true).unwrap();
        assert_eq!((t.points, t.found, t.per_series[0].points), (150, 1, 150));
        assert!(t.test_only);
        let untrained = EventSeries { train: None, ..s };
        assert!(run(&untrained, true).is_err());
    }
}
