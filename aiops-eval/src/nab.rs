//! The Numenta Anomaly Benchmark (NAB) scorer, reproducing NAB v1.1's scoring exactly.
//!
//! For each series the detector's per-point scores are turned into per-point *sweep scores*:
//! - the first `min(⌊0.15 n⌋, 750)` points are probationary and never scored;
//! - a point inside a labelled window at relative position `p = -(right - i + 1) / width`
//!   scores `σ(p) · tpWeight / σ(-1)`, with the scaled sigmoid `σ(p) = 2 / (1 + e^{5p}) - 1`;
//!   only the best (earliest) detection in a window counts;
//! - a point outside windows scores `σ(|i - prevRight| / (prevWidth - 1)) · fpWeight` after a
//!   window, and `-fpWeight` before any window (σ(p) = -1 for p >= 3);
//! - a window with no detection costs `-fnWeight`.
//!
//! A detection threshold is swept over every distinct score of the whole corpus; the one with
//! the best total is kept (per cost profile), each series is scored at that threshold, and the
//! total is normalised: `100 (S - S_null) / (S_perfect - S_null)`, where the null detector
//! (a constant score) is scored by the same procedure and the perfect detector earns `tpWeight`
//! per window.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aiops_core::TimestampMs;
use aiops_core::time::parse_timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};
use crate::progress::{Counter, Progress};

/// Share of each series, at most 750 points, that is probationary (not scored).
pub const PROBATION_PERCENT: f64 = 0.15;

/// The weights of one NAB application profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostProfile {
    /// Profile name (`standard`, `reward_low_FP_rate`, `reward_low_FN_rate`).
    pub name: String,
    /// Reward for a detected window.
    pub tp_weight: f64,
    /// Cost of a detection outside windows.
    pub fp_weight: f64,
    /// Cost of a missed window.
    pub fn_weight: f64,
}

impl CostProfile {
    /// NAB's three profiles, as in its `config/profiles.json`.
    pub fn nab_profiles() -> Vec<CostProfile> {
        let p = |name: &str, fp_weight, fn_weight| CostProfile {
            name: name.to_string(),
            tp_weight: 1.0,
            fp_weight,
            fn_weight,
        };
        vec![
            p("standard", 0.11, 1.0),
            p("reward_low_FP_rate", 0.22, 1.0),
            p("reward_low_FN_rate", 0.11, 2.0),
        ]
    }
}

/// One labelled series of the corpus: its timestamps and its anomaly windows.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledSeries {
    /// Relative path in the corpus, e.g. `realKnownCause/nyc_taxi.csv`.
    pub name: String,
    /// Timestamps, ms, in file order (NAB files may repeat one; see [`detection_timestamps`]).
    pub timestamps: Vec<TimestampMs>,
    /// Values (for running detectors).
    pub values: Vec<f64>,
    /// Anomaly windows `[start, end]` (inclusive), ms; each bound is one of `timestamps`.
    pub windows: Vec<(TimestampMs, TimestampMs)>,
}

/// A point after the sweep: its detector score, its sweep score and its window.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SweepPoint {
    score: f64,
    sweep: f64,
    /// Corpus-wide window id; `None` outside windows.
    window: Option<usize>,
}

/// Score of a detector at one threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ThresholdScore {
    /// Points scoring at or above this are detections.
    pub threshold: f64,
    /// Raw NAB score.
    pub score: f64,
    /// Detections inside windows (points).
    pub tp: usize,
    /// Quiet points outside windows.
    pub tn: usize,
    /// Detections outside windows (points).
    pub fp: usize,
    /// Quiet points inside windows (`fn` in JSON).
    #[serde(rename = "fn")]
    pub fn_: usize,
}

fn scaled_sigmoid(position: f64) -> f64 {
    if position >= 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * position).exp()) - 1.0
    }
}

fn probationary_length(n: usize) -> usize {
    ((PROBATION_PERCENT * n as f64).floor()).min(PROBATION_PERCENT * 5000.0) as usize
}

/// Sweep scores of one series; probationary points are dropped. `first_window` numbers the
/// series' windows corpus-wide.
fn sweep(
    series: &LabelledSeries,
    scores: &[f64],
    profile: &CostProfile,
    first_window: usize,
) -> Result<Vec<SweepPoint>> {
    let ts = &series.timestamps;
    if scores.len() != ts.len() {
        return Err(EvalError::InvalidParameter {
            name: "scores",
            reason: format!(
                "{}: {} scores for {} points",
                series.name,
                scores.len(),
                ts.len()
            ),
        });
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(EvalError::InvalidParameter {
            name: "scores",
            reason: format!("{}: score {i} is not finite", series.name),
        });
    }
    // The first row with this timestamp, as NAB's `list.index`; rows are not necessarily sorted.
    let index_of = |t: TimestampMs| {
        ts.iter()
            .position(|&x| x == t)
            .ok_or_else(|| EvalError::InvalidParameter {
                name: "windows",
                reason: format!(
                    "{}: window bound {t} ms is not a timestamp of the series",
                    series.name
                ),
            })
    };
    let bounds: Vec<(usize, usize)> = series
        .windows
        .iter()
        .map(|&(a, b)| Ok((index_of(a)?, index_of(b)?)))
        .collect::<Result<_>>()?;
    let max_tp = scaled_sigmoid(-1.0);
    let probation = probationary_length(ts.len());
    let mut out = Vec::with_capacity(ts.len().saturating_sub(probation));
    let mut next = 0; // next window to enter
    let mut cur: Option<(usize, usize, f64)> = None; // (id, right index, width)
    let mut prev: Option<(usize, f64)> = None; // (right index, width)
    for (i, &score) in scores.iter().enumerate() {
        if cur.is_none() && next < bounds.len() && bounds[next].0 == i {
            let (l, r) = bounds[next];
            cur = Some((first_window + next, r, (r - l + 1) as f64));
            next += 1;
        }
        let sweep = match (cur, prev) {
            (Some((_, right, width)), _) => {
                let pos = -((right as f64) - (i as f64) + 1.0) / width;
                scaled_sigmoid(pos) * profile.tp_weight / max_tp
            }
            (None, None) => scaled_sigmoid(3.0) * profile.fp_weight,
            (None, Some((right, width))) => {
                let pos = (i as f64 - right as f64).abs() / (width - 1.0);
                scaled_sigmoid(pos) * profile.fp_weight
            }
        };
        if i >= probation {
            out.push(SweepPoint {
                score,
                sweep,
                window: cur.map(|c| c.0),
            });
        }
        if let Some((_, right, width)) = cur
            && right == i
        {
            prev = Some((right, width));
            cur = None;
        }
    }
    Ok(out)
}

/// The score at every distinct threshold, from "nothing detected" (threshold above every
/// score) down to "everything detected". `windows` is the number of corpus-wide window ids.
fn scores_by_threshold(points: &[SweepPoint], profile: &CostProfile) -> Vec<ThresholdScore> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    // Stable sort, descending by score, as NAB's Python `sorted(..., reverse=True)`.
    order.sort_by(|&a, &b| points[b].score.total_cmp(&points[a].score));
    // Each window scorable here starts as missed.
    let mut window_part: HashMap<usize, f64> = HashMap::new();
    for p in points {
        if let Some(w) = p.window {
            window_part.insert(w, -profile.fn_weight);
        }
    }
    let mut window_sum: f64 = window_part.values().sum();
    let mut fp_sum = 0.0;
    let tn = points.iter().filter(|p| p.window.is_none()).count();
    // The counts at the current threshold (its score is filled in as each row is written).
    // NAB starts at 1.1, above its [0, 1] scores; infinity is the same row for any scale.
    let mut row = ThresholdScore {
        threshold: f64::INFINITY,
        tn,
        fn_: points.len() - tn,
        ..ThresholdScore::default()
    };
    let mut out = Vec::new();
    for &k in &order {
        let p = points[k];
        if p.score != row.threshold {
            out.push(ThresholdScore {
                score: fp_sum + window_sum,
                ..row
            });
            row.threshold = p.score;
        }
        match p.window {
            Some(w) => {
                row.tp += 1;
                row.fn_ -= 1;
                let part = window_part.entry(w).or_insert(-profile.fn_weight);
                if p.sweep > *part {
                    window_sum += p.sweep - *part;
                    *part = p.sweep;
                }
            }
            None => {
                row.fp += 1;
                row.tn -= 1;
                fp_sum += p.sweep;
            }
        }
    }
    out.push(ThresholdScore {
        score: fp_sum + window_sum,
        ..row
    });
    out
}

/// The row for `threshold` in a per-series threshold table: the exact threshold, or the last
/// row above it (every point scoring >= `threshold` detected).
fn row_at(rows: &[ThresholdScore], threshold: f64) -> ThresholdScore {
    let mut prev = rows[0];
    for r in rows {
        if r.threshold == threshold {
            return *r;
        }
        if r.threshold < threshold {
            return prev;
        }
        prev = *r;
    }
    prev
}

/// NAB result of one detector under one profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileResult {
    /// The profile.
    pub profile: String,
    /// The corpus-wide best threshold.
    pub threshold: f64,
    /// Raw score at that threshold, summed over series.
    pub raw: f64,
    /// Raw score of the null detector.
    pub null: f64,
    /// Raw score of the perfect detector.
    pub perfect: f64,
    /// `100 (raw - null) / (perfect - null)`.
    pub normalized: f64,
    /// Totals at the threshold.
    pub counts: ThresholdScore,
}

/// Scores a detector's per-point scores (one vector per series, aligned with the corpus) under
/// each profile.
pub fn score_corpus(
    corpus: &[LabelledSeries],
    scores: &[Vec<f64>],
    profiles: &[CostProfile],
) -> Result<Vec<ProfileResult>> {
    if corpus.len() != scores.len() {
        return Err(EvalError::InvalidParameter {
            name: "scores",
            reason: format!("{} score vectors for {} series", scores.len(), corpus.len()),
        });
    }
    let total_windows: usize = corpus.iter().map(|s| s.windows.len()).sum();
    let null_scores: Vec<Vec<f64>> = corpus
        .iter()
        .map(|s| vec![0.5; s.timestamps.len()])
        .collect();
    profiles
        .iter()
        .map(|profile| {
            let (threshold, raw, counts) = optimise(corpus, scores, profile)?;
            let (_, null, _) = optimise(corpus, &null_scores, profile)?;
            let perfect = total_windows as f64 * profile.tp_weight;
            Ok(ProfileResult {
                profile: profile.name.clone(),
                threshold,
                raw,
                null,
                perfect,
                normalized: 100.0 * (raw - null) / (perfect - null),
                counts,
            })
        })
        .collect()
}

/// Best corpus-wide threshold, then each series scored at it; returns (threshold, total,
/// summed counts).
fn optimise(
    corpus: &[LabelledSeries],
    scores: &[Vec<f64>],
    profile: &CostProfile,
) -> Result<(f64, f64, ThresholdScore)> {
    let mut per_series = Vec::with_capacity(corpus.len());
    let mut all = Vec::new();
    let mut first_window = 0;
    for (s, sc) in corpus.iter().zip(scores) {
        let pts = sweep(s, sc, profile, first_window)?;
        first_window += s.windows.len();
        all.extend_from_slice(&pts);
        per_series.push(pts);
    }
    let corpus_rows = scores_by_threshold(&all, profile);
    // Highest score wins; among equal scores the first row (the higher threshold), as a
    // stable descending sort in NAB.
    let best = corpus_rows
        .iter()
        .copied()
        .fold(None::<ThresholdScore>, |acc, r| match acc {
            Some(a) if a.score >= r.score => Some(a),
            _ => Some(r),
        })
        .ok_or_else(|| EvalError::InvalidParameter {
            name: "corpus",
            reason: "no scorable point".into(),
        })?;
    let mut total = 0.0;
    let mut counts = ThresholdScore {
        threshold: best.threshold,
        ..ThresholdScore::default()
    };
    for pts in &per_series {
        let rows = scores_by_threshold(pts, profile);
        let r = row_at(&rows, best.threshold);
        total += r.score;
        counts.tp += r.tp;
        counts.tn += r.tn;
        counts.fp += r.fp;
        counts.fn_ += r.fn_;
    }
    counts.score = total;
    Ok((best.threshold, total, counts))
}

/// Reads the NAB corpus: `data/<category>/<name>.csv` and `labels/combined_windows.json`,
/// sorted by relative path.
pub fn load_corpus(nab_dir: &Path) -> Result<Vec<LabelledSeries>> {
    let labels_path = nab_dir.join("labels").join("combined_windows.json");
    let text = std::fs::read_to_string(&labels_path).map_err(|e| io_err(&labels_path, e))?;
    let windows: std::collections::BTreeMap<String, Vec<(String, String)>> =
        serde_json::from_str(&text).map_err(|e| EvalError::InvalidParameter {
            name: "labels",
            reason: format!("{}: {e}", labels_path.display()),
        })?;
    let mut corpus = Vec::with_capacity(windows.len());
    for (name, wins) in windows {
        let path: PathBuf = nab_dir.join("data").join(&name);
        let (timestamps, values) = read_rows(&path)?;
        let parse = |t: &str| {
            parse_timestamp(t)
                .map(|x| x.0)
                .map_err(|e| EvalError::InvalidParameter {
                    name: "labels",
                    reason: format!("{name}: {e}"),
                })
        };
        let windows = wins
            .iter()
            .map(|(a, b)| Ok((parse(a)?, parse(b)?)))
            .collect::<Result<Vec<_>>>()?;
        corpus.push(LabelledSeries {
            name,
            timestamps,
            values,
            windows,
        });
    }
    Ok(corpus)
}

/// Reads a NAB data file row by row. NAB scores rows in file order, and a few of its files
/// repeat or step back a timestamp (daylight-saving changes, data glitches), so rows are kept
/// exactly as written: no sorting, no de-duplication.
fn read_rows(path: &Path) -> Result<(Vec<TimestampMs>, Vec<f64>)> {
    let text = std::fs::read_to_string(path).map_err(|e| io_err(path, e))?;
    let bad = |line: usize, what: String| {
        EvalError::Core(aiops_core::CoreError::Csv {
            line: line as u64,
            message: format!("{}: {what}", path.display()),
        })
    };
    let mut ts = Vec::new();
    let mut vs = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let (t, v) = line
            .split_once(',')
            .ok_or_else(|| bad(i + 1, "expected timestamp,value".into()))?;
        ts.push(parse_timestamp(t).map_err(|e| bad(i + 1, e.to_string()))?.0);
        vs.push(
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad(i + 1, format!("value {v:?} is not a finite number")))?,
        );
    }
    Ok((ts, vs))
}

/// Timestamps made strictly increasing for detectors, which refuse repeats: each is at least
/// 1 ms after the previous one. Scoring keeps NAB's row positions, so this changes nothing
/// there; detectors that use time (rather than order) see at most a few ms of shift.
pub fn detection_timestamps(timestamps: &[TimestampMs]) -> Vec<TimestampMs> {
    let mut out = Vec::with_capacity(timestamps.len());
    for &t in timestamps {
        let t = match out.last() {
            Some(&prev) if t <= prev => prev + 1,
            _ => t,
        };
        out.push(t);
    }
    out
}

/// Reads a published detector's per-point scores, `results/<detector>/<category>/<detector>_<name>.csv`
/// (column `anomaly_score`), aligned with `corpus`.
pub fn load_result_scores(results_dir: &Path, corpus: &[LabelledSeries]) -> Result<Vec<Vec<f64>>> {
    let detector = results_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    corpus
        .iter()
        .map(|s| {
            let (category, file) = s.name.split_once('/').unwrap_or(("", &s.name));
            let path = results_dir
                .join(category)
                .join(format!("{detector}_{file}"));
            let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
            let col = header
                .iter()
                .position(|h| *h == "anomaly_score")
                .ok_or_else(|| EvalError::InvalidParameter {
                    name: "results",
                    reason: format!("{}: no anomaly_score column", path.display()),
                })?;
            let scores = lines
                .enumerate()
                .map(|(i, l)| {
                    l.split(',')
                        .nth(col)
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .ok_or_else(|| EvalError::InvalidParameter {
                            name: "results",
                            reason: format!("{} line {}: bad anomaly_score", path.display(), i + 2),
                        })
                })
                .collect::<Result<Vec<f64>>>()?;
            Ok(scores)
        })
        .collect()
}

/// Runs `detector` over every series of the corpus (a fresh state each) and returns its scores.
pub fn detector_scores(
    corpus: &[LabelledSeries],
    detector: &dyn aiops_detect::Detector,
) -> Result<Vec<Vec<f64>>> {
    corpus
        .iter()
        .map(|s| {
            Ok(detector
                .detect(&detection_timestamps(&s.timestamps), &s.values)?
                .scores)
        })
        .collect()
}

/// Runs the registry detector `name` with `params` over every series of the corpus, one
/// fresh detector per series, series in parallel. With `give_range`, as NAB does for every
/// detector, a detector that accepts a known range
/// ([`aiops_detect::registry::takes_input_range`]) is given the series' minimum and maximum as
/// `input_min` / `input_max`, unless `params` sets them; without it, it learns the range.
pub fn run_detector(
    corpus: &[LabelledSeries],
    name: &str,
    params: &serde_json::Map<String, serde_json::Value>,
    give_range: bool,
) -> Result<Vec<Vec<f64>>> {
    run_detector_with_progress(corpus, name, params, give_range, &crate::no_progress)
}

/// [`run_detector`], reporting each finished series to `progress`.
pub fn run_detector_with_progress(
    corpus: &[LabelledSeries],
    name: &str,
    params: &serde_json::Map<String, serde_json::Value>,
    give_range: bool,
    progress: Progress<'_>,
) -> Result<Vec<Vec<f64>>> {
    use rayon::prelude::*;
    // Build once up front so a bad name or parameter fails before any work.
    aiops_detect::registry::build(name, params)?;
    let ranged = give_range
        && aiops_detect::registry::takes_input_range(name)
        && !params.contains_key("input_min");
    let counter = Counter::new(corpus.len(), progress);
    corpus
        .par_iter()
        .map(|s| {
            let mut p = params.clone();
            if ranged && !s.values.is_empty() {
                let lo = s.values.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = s.values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                p.insert("input_min".into(), lo.into());
                p.insert("input_max".into(), hi.into());
            }
            let det = aiops_detect::registry::build(name, &p)?;
            let scores = det
                .detect(&detection_timestamps(&s.timestamps), &s.values)?
                .scores;
            counter.tick();
            Ok(scores)
        })
        .collect()
}

/// What `aiops eval nab` reports: each profile's normalised score (also as the three top-level
/// numbers NAB publishes) and the details of its best threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NabReport {
    /// The detector (its registry name, or the results folder's name).
    pub detector: String,
    /// Series scored.
    pub series: usize,
    /// Normalised score of the `standard` profile.
    pub standard: Option<f64>,
    /// Normalised score of the `reward_low_FP_rate` profile.
    #[serde(rename = "reward_low_FP_rate")]
    pub reward_low_fp_rate: Option<f64>,
    /// Normalised score of the `reward_low_FN_rate` profile.
    #[serde(rename = "reward_low_FN_rate")]
    pub reward_low_fn_rate: Option<f64>,
    /// Every profile's result, in the order of the profiles.
    pub profiles: Vec<ProfileResult>,
    /// Wall time of detection and scoring, seconds.
    pub seconds: f64,
}

impl NabReport {
    /// The report of `detector` from its profile results.
    pub fn new(
        detector: String,
        series: usize,
        profiles: Vec<ProfileResult>,
        seconds: f64,
    ) -> Self {
        let by = |p: &str| {
            profiles
                .iter()
                .find(|r| r.profile == p)
                .map(|r| r.normalized)
        };
        Self {
            detector,
            series,
            standard: by("standard"),
            reward_low_fp_rate: by("reward_low_FP_rate"),
            reward_low_fn_rate: by("reward_low_FN_rate"),
            profiles,
            seconds,
        }
    }
}

/// Runs the registry detector `name` with `params` over the corpus ([`run_detector`]) and
/// scores it under NAB's three profiles, reporting each finished series to `progress`.
pub fn evaluate_detector(
    corpus: &[LabelledSeries],
    name: &str,
    params: &serde_json::Map<String, serde_json::Value>,
    give_range: bool,
    progress: Progress<'_>,
) -> Result<NabReport> {
    let start = std::time::Instant::now();
    let detector = aiops_detect::registry::build(name, params)?
        .name()
        .to_string();
    let scores = run_detector_with_progress(corpus, name, params, give_range, progress)?;
    let results = score_corpus(corpus, &scores, &CostProfile::nab_profiles())?;
    Ok(NabReport::new(
        detector,
        corpus.len(),
        results,
        start.elapsed().as_secs_f64(),
    ))
}

/// Scores a published detector's per-point results (`results/<detector>`, see
/// [`load_result_scores`]) under NAB's three profiles; the report is named after the folder.
pub fn evaluate_results(corpus: &[LabelledSeries], results_dir: &Path) -> Result<NabReport> {
    let start = std::time::Instant::now();
    let detector = results_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("results")
        .to_string();
    let scores = load_result_scores(results_dir, corpus)?;
    let results = score_corpus(corpus, &scores, &CostProfile::nab_profiles())?;
    Ok(NabReport::new(
        detector,
        corpus.len(),
        results,
        start.elapsed().as_secs_f64(),
    ))
}

fn io_err(path: &Path, e: std::io::Error) -> EvalError {
    EvalError::Core(aiops_core::CoreError::Io(std::io::Error::new(
        e.kind(),
        format!("{}: {e}", path.display()),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(n: usize, windows: Vec<(usize, usize)>) -> LabelledSeries {
        LabelledSeries {
            name: "t/s.csv".into(),
            timestamps: (0..n as i64).collect(),
            values: vec![0.0; n],
            windows: windows
                .into_iter()
                .map(|(a, b)| (a as i64, b as i64))
                .collect(),
        }
    }

    #[test]
    fn scaled_sigmoid_matches_nab_reference_points() {
        assert!((scaled_sigmoid(-1.0) - 0.986_614_298).abs() < 1e-8);
        assert!((scaled_sigmoid(-0.5) - 0.848_283_639).abs() < 1e-8);
        assert_eq!(scaled_sigmoid(0.0), 0.0);
        assert!((scaled_sigmoid(1.0) + 0.986_614_298).abs() < 1e-8);
        assert_eq!(scaled_sigmoid(3.0), -1.0);
        assert_eq!(probationary_length(100), 15);
        assert_eq!(probationary_length(100_000), 750);
    }

    #[test]
    fn hand_computed_scores() {
        // 100 points, probation 15, one window [40, 59] (width 20).
        let s = series(100, vec![(40, 59)]);
        let std = &CostProfile::nab_profiles()[0];
        // The standard profile's result for one scoring of the series.
        let score = |sc: &[f64]| {
            score_corpus(
                std::slice::from_ref(&s),
                &[sc.to_vec()],
                std::slice::from_ref(std),
            )
            .unwrap()
            .remove(0)
        };
        // Detection at the window's first point: full reward, tpWeight = 1.
        let mut sc = vec![0.0; 100];
        sc[40] = 1.0;
        let r = score(&sc);
        assert_eq!(r.threshold, 1.0);
        assert!((r.raw - 1.0).abs() < 1e-12);
        assert_eq!(r.null, -1.0);
        assert_eq!(r.perfect, 1.0);
        assert!((r.normalized - 100.0).abs() < 1e-9);
        // Add an early false positive (before any window): costs fpWeight.
        sc[20] = 1.0;
        let r = score(&sc);
        assert!((r.raw - (1.0 - 0.11)).abs() < 1e-12);
        assert_eq!((r.counts.tp, r.counts.fp), (1, 1));
        // A false positive 10 points after the window: sigma(10 / 19) * 0.11.
        sc[20] = 0.0;
        sc[69] = 1.0;
        let r = score(&sc);
        let fp = scaled_sigmoid(10.0 / 19.0) * 0.11;
        assert!((r.raw - (1.0 + fp)).abs() < 1e-12, "{}", r.raw);
        // Only the earliest detection in a window counts; a late one alone earns less.
        let mut late = vec![0.0; 100];
        late[55] = 1.0;
        let r = score(&late);
        let want = scaled_sigmoid(-(59.0 - 55.0 + 1.0) / 20.0) / scaled_sigmoid(-1.0);
        assert!((r.raw - want).abs() < 1e-12);
        // Detections in the probationary period are ignored.
        let mut prob = vec![0.0; 100];
        prob[3] = 1.0;
        let r = score(&prob);
        assert_eq!(r.raw, -1.0);
    }

    #[test]
    fn threshold_is_swept_over_the_corpus() {
        // Two series; the right threshold (0.7) keeps both true detections and drops the
        // lower-scored false positive.
        let a = series(100, vec![(40, 59)]);
        let b = series(100, vec![(60, 79)]);
        let mut sa = vec![0.0; 100];
        sa[45] = 0.9;
        sa[90] = 0.5;
        let mut sb = vec![0.0; 100];
        sb[60] = 0.7;
        let profiles = CostProfile::nab_profiles();
        let r = score_corpus(&[a, b], &[sa, sb], &profiles).unwrap();
        assert_eq!(r[0].threshold, 0.7);
        assert_eq!((r[0].counts.tp, r[0].counts.fp), (2, 0));
        assert_eq!(r[2].null, -4.0, "reward_low_FN_rate doubles the miss cost");
    }

    /// A corpus and a published-results folder in NAB's layout, read back and scored.
    #[test]
    fn loads_corpus_and_published_results() {
        let dir = std::env::temp_dir().join(format!("aiops-nab-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data/cat")).unwrap();
        std::fs::create_dir_all(dir.join("labels")).unwrap();
        std::fs::create_dir_all(dir.join("results/det/cat")).unwrap();
        let t = |i: usize| format!("2024-01-01 {:02}:{:02}:00", i / 60, i % 60);
        let mut data = String::from("timestamp,value\n");
        let mut res = String::from("timestamp,value,anomaly_score,label\n");
        for i in 0..100 {
            // A repeated timestamp, as in a few NAB files: kept, in file order.
            let ts = if i == 30 { t(29) } else { t(i) };
            data.push_str(&format!("{ts},{i}\n"));
            let score = if i == 45 { 0.9 } else { 0.1 };
            res.push_str(&format!("{ts},{i},{score},0\n"));
        }
        std::fs::write(dir.join("data/cat/s.csv"), data).unwrap();
        std::fs::write(dir.join("results/det/cat/det_s.csv"), res).unwrap();
        std::fs::write(
            dir.join("labels/combined_windows.json"),
            format!(
                "{{\"cat/s.csv\": [[\"{}.000000\", \"{}.000000\"]]}}",
                t(40),
                t(59)
            ),
        )
        .unwrap();
        let corpus = load_corpus(&dir).unwrap();
        assert_eq!(corpus.len(), 1);
        assert_eq!(corpus[0].timestamps.len(), 100);
        assert_eq!(corpus[0].timestamps[29], corpus[0].timestamps[30]);
        let det_ts = detection_timestamps(&corpus[0].timestamps);
        assert!(det_ts.windows(2).all(|w| w[0] < w[1]));
        let scores = load_result_scores(&dir.join("results/det"), &corpus).unwrap();
        assert_eq!(scores[0][45], 0.9);
        let r = score_corpus(&corpus, &scores, &CostProfile::nab_profiles()).unwrap();
        // Detected 5 points into a 20-point window, no false positive.
        let want = scaled_sigmoid(-(59.0 - 45.0 + 1.0) / 20.0) / scaled_sigmoid(-1.0);
        assert!((r[0].raw - want).abs() < 1e-12, "{}", r[0].raw);
        assert!(load_result_scores(&dir.join("results/nope"), &corpus).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_input() {
        let s = series(10, vec![(4, 6)]);
        let p = CostProfile::nab_profiles();
        assert!(score_corpus(std::slice::from_ref(&s), &[vec![0.0; 9]], &p).is_err());
        assert!(score_corpus(std::slice::from_ref(&s), &[vec![f64::NAN; 10]], &p).is_err());
        assert!(score_corpus(std::slice::from_ref(&s), &[], &p).is_err());
        let bad = LabelledSeries {
            windows: vec![(100, 200)],
            ..s
        };
        assert!(score_corpus(&[bad], &[vec![0.0; 10]], &p).is_err());
        assert!(load_corpus(Path::new("/nonexistent")).is_err());
    }
}
