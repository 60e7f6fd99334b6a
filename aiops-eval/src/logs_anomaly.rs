//! Evaluation of log anomaly detection on loghub systems with line labels (BGL, Thunderbird).
//!
//! In those files the first whitespace-separated field is a label: `-` for a normal line,
//! an alert category (`KERNDTLB`, `APPREAD`...) for an alert line, and the settings'
//! `log_format` names it `<Label>`. The label is cut off every line before the detector sees
//! it, and the format given to the detector is the settings' format without its `<Label>`
//! field, so the label can be neither read nor used as a feature.
//!
//! Scores are line-level: a line is a true positive when the detector reports it (see
//! [`aiops_logs::log_detector`] for when a line is anomalous) and its label is not `-`. Two keyword
//! baselines run on the same lines: a line is flagged when its message or `Level` field holds
//! an error keyword ([`aiops_logs::keywords`]), or when it has a keyword under the
//! detector's level rule (a quiet level clears the message's keywords).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use aiops_logs::format::{CONTENT_FIELD, LogFormat};
use aiops_logs::{LogDetectorParams, LogError, LogStats, keywords, read_log_lines};

use crate::error::{EvalError, Result};
use crate::loghub::LoghubSettings;

/// The field that holds the label in loghub's formats.
pub const LABEL_FIELD: &str = "Label";

/// Precision, recall and F1 of a set of flagged lines.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    /// Lines flagged.
    pub flagged: usize,
    /// Flagged lines that are alerts.
    pub true_positives: usize,
    /// True positives / flagged (0 when nothing is flagged).
    pub precision: f64,
    /// True positives / alert lines (0 when there is no alert line).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
}

impl Prf {
    /// Scores flags against labels (same length; extra entries ignored).
    pub fn of(flags: &[bool], labels: &[bool]) -> Prf {
        let flagged = flags.iter().filter(|f| **f).count();
        let positives = labels.iter().filter(|l| **l).count();
        let tp = flags.iter().zip(labels).filter(|(f, l)| **f && **l).count();
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let (p, r) = (ratio(tp, flagged), ratio(tp, positives));
        Prf {
            flagged,
            true_positives: tp,
            precision: p,
            recall: r,
            f1: if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            },
        }
    }
}

/// Scores of one labelled system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyScore {
    /// The system (folder name).
    pub system: String,
    /// Lines scored.
    pub lines: usize,
    /// Alert lines (label other than `-`).
    pub alerts: usize,
    /// The detector.
    pub detector: Prf,
    /// The keyword baseline: an error keyword in the message or the `Level` field.
    pub keyword_baseline: Prf,
    /// The detector's own keyword rule alone: every line with a keyword after the level
    /// rule ([`keywords::scan_with_level`]), whatever its template and window.
    pub level_keyword_baseline: Prf,
    /// Windows made, and how (`60s`, `100lines`).
    pub windows: u64,
    /// The window setting used.
    pub window: String,
    /// Input problems met by the detector.
    pub stats: LogStats,
}

/// The format without its `<Label>` field (and the separator after it). Errors when the
/// format does not start with `<Label>`.
pub fn format_without_label(format: &str) -> Result<String> {
    let rest = format
        .strip_prefix(&format!("<{LABEL_FIELD}>"))
        .ok_or_else(|| LogError::LogFormat {
            format: format.to_string(),
            reason: format!("does not start with the <{LABEL_FIELD}> field"),
        })?;
    let stripped = rest.trim_start_matches(' ').to_string();
    let f = LogFormat::new(&stripped)?;
    debug_assert!(!f.fields().iter().any(|n| n == LABEL_FIELD));
    Ok(stripped)
}

/// Splits a labelled line into (is alert, the line without its label).
pub fn split_label(line: &str) -> (bool, &str) {
    let line = line.trim_start();
    match line.find(char::is_whitespace) {
        Some(i) => (&line[..i] != "-", line[i..].trim_start()),
        None => (!line.is_empty() && line != "-", ""),
    }
}

/// Detector parameters for a system: its settings' format without the label, masks,
/// similarity and depth, over `base` for the rest.
pub fn params_for(
    settings: &LoghubSettings,
    base: &LogDetectorParams,
) -> Result<LogDetectorParams> {
    let format = format_without_label(&settings.log_format)?;
    let unlabelled = LoghubSettings {
        log_format: format,
        ..settings.clone()
    };
    Ok(base.clone().drain(unlabelled.params()))
}

/// Scores the detector and the keyword baseline on `dir/<system>/<system>_2k.log`.
pub fn evaluate_labelled(
    dir: &Path,
    system: &str,
    settings: &LoghubSettings,
    base: &LogDetectorParams,
) -> Result<AnomalyScore> {
    let path = dir.join(system).join(format!("{system}_2k.log"));
    let raw = read_log_lines(&path)?;
    let (labels, lines): (Vec<bool>, Vec<&str>) = raw.iter().map(|l| split_label(l)).unzip();
    let params = params_for(settings, base)?;
    let det = params.check()?;
    let report = det.detect(&lines);
    let mut flags = vec![false; lines.len()];
    for l in &report.lines {
        flags[(l.line - 1) as usize] = true;
    }
    // The baseline reads the same fields as the detector's keyword scan.
    let format = LogFormat::new(&format_without_label(&settings.log_format)?)?;
    let idx = |name: &str| {
        format
            .fields()
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
    };
    let (content_at, level_at) = (idx(CONTENT_FIELD), idx("Level"));
    let scan = |l: &str, level_rule: bool| match format.split(l) {
        Some(f) => {
            let content = content_at.map_or("", |i| f[i]);
            match level_at.map(|i| f[i]) {
                Some(level) if level_rule => !keywords::scan_with_level(content, level).is_empty(),
                Some(level) => !keywords::scan(content)
                    .union(keywords::scan(level))
                    .is_empty(),
                None => !keywords::scan(content).is_empty(),
            }
        }
        None => !keywords::scan(l).is_empty(),
    };
    let baseline: Vec<bool> = lines.iter().map(|l| scan(l, false)).collect();
    let level_baseline: Vec<bool> = lines.iter().map(|l| scan(l, true)).collect();
    Ok(AnomalyScore {
        system: system.to_string(),
        lines: lines.len(),
        alerts: labels.iter().filter(|l| **l).count(),
        detector: Prf::of(&flags, &labels),
        keyword_baseline: Prf::of(&baseline, &labels),
        level_keyword_baseline: Prf::of(&level_baseline, &labels),
        windows: report.stats.windows,
        window: report.window.clone(),
        stats: report.stats,
    })
}

/// Scores every system of the settings whose format starts with `<Label>` and whose folder
/// exists under `dir`, in name order. Errors when there is none.
pub fn evaluate_log_anomaly(
    dir: &Path,
    settings: &BTreeMap<String, LoghubSettings>,
    base: &LogDetectorParams,
) -> Result<Vec<AnomalyScore>> {
    evaluate_log_anomaly_with_progress(dir, settings, base, &crate::no_progress)
}

/// [`evaluate_log_anomaly`], reporting each scored system to `progress`.
pub fn evaluate_log_anomaly_with_progress(
    dir: &Path,
    settings: &BTreeMap<String, LoghubSettings>,
    base: &LogDetectorParams,
    progress: crate::Progress<'_>,
) -> Result<Vec<AnomalyScore>> {
    let systems: Vec<(&String, &LoghubSettings)> = settings
        .iter()
        .filter(|(system, s)| {
            s.log_format.starts_with(&format!("<{LABEL_FIELD}>")) && dir.join(system).is_dir()
        })
        .collect();
    if systems.is_empty() {
        return Err(EvalError::Data {
            path: dir.display().to_string(),
            reason: format!("no system with a <{LABEL_FIELD}> field in its format found"),
        });
    }
    let counter = crate::progress::Counter::new(systems.len(), progress);
    systems
        .into_iter()
        .map(|(system, s)| {
            let score = evaluate_labelled(dir, system, s, base)?;
            counter.tick();
            Ok(score)
        })
        .collect()
}

/// What `aiops eval logs-anomaly` reports: every labelled system's scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogAnomalyReport {
    /// Scores by system name.
    pub systems: BTreeMap<String, AnomalyScore>,
    /// Wall time of the whole evaluation, seconds.
    pub seconds: f64,
}

impl LogAnomalyReport {
    /// The report of these systems' scores.
    pub fn new(scores: Vec<AnomalyScore>, seconds: f64) -> Self {
        Self {
            systems: scores.into_iter().map(|s| (s.system.clone(), s)).collect(),
            seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prf_counts() {
        let p = Prf::of(&[true, true, false, false], &[true, false, true, false]);
        assert_eq!((p.flagged, p.true_positives), (2, 1));
        assert_eq!((p.precision, p.recall, p.f1), (0.5, 0.5, 0.5));
        let none = Prf::of(&[false], &[false]);
        assert_eq!((none.precision, none.recall, none.f1), (0.0, 0.0, 0.0));
    }

    #[test]
    fn the_label_is_removed_from_line_and_format() {
        assert_eq!(
            format_without_label("<Label> <Timestamp> <Level> <Content>").unwrap(),
            "<Timestamp> <Level> <Content>"
        );
        assert!(format_without_label("<Date> <Content>").is_err());
        assert_eq!(
            split_label("- 1117838570 INFO x"),
            (false, "1117838570 INFO x")
        );
        assert_eq!(
            split_label("KERNDTLB 1117838570 FATAL y"),
            (true, "1117838570 FATAL y")
        );
        assert_eq!(split_label(""), (false, ""));
        assert_eq!(split_label("APPREAD"), (true, ""));
    }

    #[test]
    fn scores_a_labelled_folder() {
        let dir = std::env::temp_dir().join(format!("aiops-anomaly-eval-{}", std::process::id()));
        let sys = dir.join("Toy");
        std::fs::create_dir_all(&sys).unwrap();
        let mut log = String::new();
        for i in 0..1200u64 {
            log.push_str(&format!(
                "- {} INFO job {} finished in {} ms\n",
                1_000_000 + i * 10,
                i % 50,
                i % 13
            ));
        }
        // An alert with a new template and a keyword, and a normal line with a keyword only.
        log.push_str("BADDISK 1000012000 FATAL disk sda failed\n");
        log.push_str("- 1000012010 INFO job 3 finished in 4 ms\n");
        std::fs::write(sys.join("Toy_2k.log"), log).unwrap();
        let settings = LoghubSettings {
            log_format: "<Label> <Timestamp> <Level> <Content>".to_string(),
            regex: vec![],
            st: 0.5,
            depth: 4,
            drain_ga: None,
        };
        let mut all = BTreeMap::new();
        all.insert("Toy".to_string(), settings);
        let scores = evaluate_log_anomaly(&dir, &all, &LogDetectorParams::new()).unwrap();
        let s = &scores[0];
        assert_eq!((s.lines, s.alerts), (1202, 1));
        assert_eq!(s.detector.true_positives, 1);
        assert_eq!(s.detector.flagged, 1, "{s:?}");
        assert_eq!(s.keyword_baseline.flagged, 1);
        assert_eq!(s.level_keyword_baseline.flagged, 1);
        assert_eq!(s.stats.header_unmatched, 0);
        assert_eq!(s.window, "1m");
        std::fs::remove_dir_all(&dir).unwrap();
        // A folder without labelled systems.
        assert!(evaluate_log_anomaly(&dir, &BTreeMap::new(), &LogDetectorParams::new()).is_err());
    }
}
