//! Evaluation of template mining against the loghub ground truth (logpai/loghub 2k samples).
//!
//! For each system folder `<System>/` holding `<System>_2k.log` and
//! `<System>_2k.log_structured.csv`, the log is parsed with that system's settings (header
//! format, masking regexes, similarity threshold, depth; the JSON of the Drain benchmark) and
//! compared line by line with the ground truth:
//! - grouping accuracy (GA): a line is right when the set of lines sharing its predicted
//!   template is exactly the set of lines sharing its ground-truth `EventId` (logparser's
//!   `get_accuracy`);
//! - template accuracy (PA): a line is right when its predicted template, with every variable
//!   written `<*>`, equals the ground-truth `EventTemplate`; both sides have their whitespace
//!   runs collapsed to one space and trimmed;
//! - corrected template accuracy: the same after both sides are rewritten by the correction
//!   rules of Khan et al. (ICSE 2022) that loghub-2.0 evaluates with ([`corrected_template`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use aiops_logs::{DrainParams, MaskSpec, TemplateId, read_log_lines, to_loghub};

use crate::error::{EvalError, Result};

/// One system's entry in the settings JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoghubSettings {
    /// Header format, loghub notation.
    pub log_format: String,
    /// Masking regexes, replaced by `<*>`.
    #[serde(default)]
    pub regex: Vec<String>,
    /// Similarity threshold.
    pub st: f64,
    /// Tree depth.
    pub depth: usize,
    /// Drain's published grouping accuracy, for comparison.
    #[serde(default)]
    pub drain_ga: Option<f64>,
}

impl LoghubSettings {
    /// What a user gets without tuning for the system: its header format kept (the format of
    /// one's own logs is known), no masking regexes (the built-in masks only), and the
    /// miner's default similarity threshold and depth.
    pub fn untuned(&self) -> Self {
        Self {
            log_format: self.log_format.clone(),
            regex: Vec::new(),
            st: aiops_logs::DEFAULT_SIM_THRESHOLD,
            depth: aiops_logs::DEFAULT_DEPTH,
            drain_ga: self.drain_ga,
        }
    }

    /// The Drain parameters these settings stand for.
    pub fn params(&self) -> DrainParams {
        let mut p = DrainParams::new()
            .log_format(&self.log_format)
            .sim_threshold(self.st)
            .depth(self.depth);
        for r in &self.regex {
            p = p.mask(MaskSpec::anonymous(r));
        }
        p
    }
}

/// Reads a settings JSON: an object of system name -> [`LoghubSettings`]; keys starting with
/// `_` (comments) are skipped.
pub fn load_settings(path: &Path) -> Result<BTreeMap<String, LoghubSettings>> {
    let data_err = |reason: String| EvalError::Data {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| data_err(e.to_string()))?;
    let raw: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| data_err(e.to_string()))?;
    raw.into_iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .map(|(k, v)| {
            let s: LoghubSettings =
                serde_json::from_value(v).map_err(|e| data_err(format!("{k}: {e}")))?;
            Ok((k, s))
        })
        .collect()
}

/// Scores of one system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemScore {
    /// The system (folder name).
    pub system: String,
    /// Lines scored.
    pub lines: usize,
    /// Grouping accuracy (0 to 1).
    pub ga: f64,
    /// Template accuracy (0 to 1).
    pub pa: f64,
    /// Template accuracy with both sides rewritten by [`corrected_template`] (0 to 1).
    pub pa_corrected: f64,
    /// Templates found.
    pub templates: usize,
    /// Templates in the ground truth.
    pub truth_templates: usize,
    /// Drain's published GA, when the settings give it.
    pub drain_ga: Option<f64>,
    /// Parse time (s), reading excluded.
    pub seconds: f64,
}

/// Grouping accuracy: the share of lines whose predicted group equals their true group.
/// `predicted` and `truth` hold one label per line.
pub fn grouping_accuracy<P: std::hash::Hash + Eq, T: std::hash::Hash + Eq>(
    predicted: &[P],
    truth: &[T],
) -> f64 {
    let n = predicted.len().min(truth.len());
    if n == 0 {
        return 0.0;
    }
    let mut truth_size: FxHashMap<&T, usize> = FxHashMap::default();
    for t in &truth[..n] {
        *truth_size.entry(t).or_default() += 1;
    }
    // Per predicted group: its size and the set of true labels in it.
    let mut groups: FxHashMap<&P, (usize, Option<&T>, bool)> = FxHashMap::default();
    for (p, t) in predicted[..n].iter().zip(&truth[..n]) {
        let g = groups.entry(p).or_insert((0, Some(t), true));
        g.0 += 1;
        if g.1 != Some(t) {
            g.2 = false;
        }
    }
    let right: usize = groups
        .values()
        .filter(|(size, t, pure)| *pure && t.is_some_and(|t| truth_size[t] == *size))
        .map(|(size, _, _)| size)
        .sum();
    right as f64 / n as f64
}

/// Collapses whitespace runs to one space and trims.
pub fn normalize_template(t: &str) -> String {
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Rewrites a template (`<*>` for variables) by the eight correction rules of Khan et al.,
/// "Guidelines for assessing the accuracy of log message template identification
/// techniques" (ICSE 2022), which loghub-2.0 applies to the ground truth and to every
/// parser's output before comparing templates. They remove differences of annotation style
/// that carry no parsing information, and are applied to both sides:
/// - whitespace runs become one space, trimmed (DS);
/// - a path-like piece (`/a/b`, between spaces and the punctuation `,!;:=|"'[](){}`) is a
///   variable (PS);
/// - within the line split at those characters and at `.-+@#$%&`: the words `true`, `false`
///   (BL), `null`, `root`, `admin` (US, any case) and digit-only tokens (DG) are variables,
///   and a token holding a variable with other characters but no `/` (`blk_<*>`, `<*>ms`) is
///   one variable (WV);
/// - variables joined by `.` (DV) or by nothing (CV) are one variable.
///
/// This is our own implementation of the rules as the paper states them.
pub fn corrected_template(t: &str) -> String {
    const PATH_DELIMS: &[char] = &[
        ' ', ',', '!', ';', ':', '=', '|', '"', '\'', '[', ']', '(', ')', '{', '}',
    ];
    const MORE_DELIMS: &[char] = &['.', '-', '+', '@', '#', '$', '%', '&'];
    let ds = normalize_template(t);
    // PS: every piece between path delimiters that is a path becomes a variable.
    let mut ps = String::with_capacity(ds.len());
    for piece in split_keep(&ds, |c| PATH_DELIMS.contains(&c)) {
        let is_path = piece.len() > 1
            && piece.starts_with('/')
            && piece[1..].split('/').all(|seg| !seg.is_empty());
        ps.push_str(if is_path { "<*>" } else { piece });
    }
    // BL, US, DG, WV, token by token.
    let is_delim = |c: char| PATH_DELIMS.contains(&c) || MORE_DELIMS.contains(&c);
    let mut out = String::with_capacity(ps.len());
    for tok in split_keep(&ps, is_delim) {
        let lower = tok.to_ascii_lowercase();
        let variable = matches!(lower.as_str(), "true" | "false" | "null" | "root" | "admin")
            || (!tok.is_empty() && tok.bytes().all(|b| b.is_ascii_digit()))
            || (tok.contains("<*>") && !tok.contains('/') && !tok.contains(char::is_whitespace));
        out.push_str(if variable { "<*>" } else { tok });
    }
    // DV, then CV.
    for joined in ["<*>.<*>", "<*><*>"] {
        while out.contains(joined) {
            out = out.replace(joined, "<*>");
        }
    }
    out
}

/// Splits `s` into the runs between delimiters and the delimiters themselves (one each), in
/// order; concatenated they give `s` back.
fn split_keep(s: &str, is_delim: impl Fn(char) -> bool) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if is_delim(c) {
            if start < i {
                parts.push(&s[start..i]);
            }
            parts.push(&s[i..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    if start < s.len() {
        parts.push(&s[start..]);
    }
    parts
}

/// Template accuracy after both sides are rewritten by [`corrected_template`] (loghub-2.0's
/// protocol): the share of lines whose corrected predicted template equals the corrected
/// true one.
pub fn corrected_template_accuracy<A: AsRef<str>, B: AsRef<str>>(
    predicted: &[A],
    truth: &[B],
) -> f64 {
    share_equal(predicted, truth, corrected_template)
}

/// The share of lines whose predicted and true templates are equal once both are rewritten
/// by `rewrite` (each distinct template rewritten once: templates repeat).
fn share_equal<A: AsRef<str>, B: AsRef<str>>(
    predicted: &[A],
    truth: &[B],
    rewrite: fn(&str) -> String,
) -> f64 {
    let n = predicted.len().min(truth.len());
    if n == 0 {
        return 0.0;
    }
    let mut cache: FxHashMap<&str, String> = FxHashMap::default();
    let mut right = 0;
    for (p, t) in predicted[..n].iter().zip(&truth[..n]) {
        let p = cache
            .entry(p.as_ref())
            .or_insert_with_key(|k| rewrite(k))
            .clone();
        let t = cache.entry(t.as_ref()).or_insert_with_key(|k| rewrite(k));
        right += usize::from(p == *t);
    }
    right as f64 / n as f64
}

/// Template accuracy: the share of lines whose predicted template equals the true one after
/// [`normalize_template`].
pub fn template_accuracy<A: AsRef<str>, B: AsRef<str>>(predicted: &[A], truth: &[B]) -> f64 {
    share_equal(predicted, truth, normalize_template)
}

/// The ground truth of a system: `EventId` and `EventTemplate` per line, in `LineId` order.
pub fn read_structured(path: &Path) -> Result<Vec<(String, String)>> {
    let data_err = |reason: String| EvalError::Data {
        path: path.display().to_string(),
        reason,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| data_err(e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| data_err(e.to_string()))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| data_err(format!("no {name} column")))
    };
    let (id_col, tpl_col) = (col("EventId")?, col("EventTemplate")?);
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| data_err(format!("record {}: {e}", i + 1)))?;
        let get = |c: usize| {
            rec.get(c)
                .map(str::to_string)
                .ok_or_else(|| data_err(format!("record {}: missing column {c}", i + 1)))
        };
        out.push((get(id_col)?, get(tpl_col)?));
    }
    Ok(out)
}

/// Parses every line with these settings and returns each line's final template id and the
/// templates in loghub notation.
pub fn parse_with_settings(
    settings: &LoghubSettings,
    lines: &[String],
) -> Result<(Vec<TemplateId>, FxHashMap<TemplateId, String>)> {
    let drain = settings.params().check()?;
    let mut miner = drain.miner();
    let ids: Vec<TemplateId> = lines.iter().map(|l| miner.learn(l).id).collect();
    let templates = miner
        .templates()
        .into_iter()
        .map(|t| (t.id, to_loghub(&t.template)))
        .collect();
    Ok((ids, templates))
}

/// `EventId` and `EventTemplate` per line.
type Rows = Vec<(String, String)>;

/// Reads a system's log lines and ground truth, checking that they line up.
fn read_system(dir: &Path, system: &str) -> Result<(Vec<String>, Rows)> {
    let folder = dir.join(system);
    let lines = read_log_lines(&folder.join(format!("{system}_2k.log")))?;
    let structured_path = folder.join(format!("{system}_2k.log_structured.csv"));
    let truth = read_structured(&structured_path)?;
    check_rows(&structured_path, truth.len(), lines.len())?;
    Ok((lines, truth))
}

fn check_rows(path: &Path, rows: usize, lines: usize) -> Result<()> {
    if rows == lines {
        return Ok(());
    }
    Err(EvalError::Data {
        path: path.display().to_string(),
        reason: format!("{rows} rows for {lines} log lines"),
    })
}

/// Scores one system's predicted groups and templates (one of each per line) against its
/// ground truth.
fn score_predictions<G: std::hash::Hash + Eq>(
    system: &str,
    truth: &[(String, String)],
    groups: &[G],
    predicted: &[&str],
    templates: usize,
    drain_ga: Option<f64>,
    seconds: f64,
) -> SystemScore {
    let truth_ids: Vec<&str> = truth.iter().map(|(id, _)| id.as_str()).collect();
    let truth_templates: Vec<&str> = truth.iter().map(|(_, t)| t.as_str()).collect();
    SystemScore {
        system: system.to_string(),
        lines: truth.len(),
        ga: grouping_accuracy(groups, &truth_ids),
        pa: template_accuracy(predicted, &truth_templates),
        pa_corrected: corrected_template_accuracy(predicted, &truth_templates),
        templates,
        truth_templates: truth_ids
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        drain_ga,
        seconds,
    }
}

/// Scores one system folder `dir/<system>/`.
pub fn evaluate_system(dir: &Path, system: &str, settings: &LoghubSettings) -> Result<SystemScore> {
    let (lines, truth) = read_system(dir, system)?;
    let start = Instant::now();
    let (ids, templates) = parse_with_settings(settings, &lines)?;
    let seconds = start.elapsed().as_secs_f64();
    let predicted: Vec<&str> = ids.iter().map(|id| templates[id].as_str()).collect();
    Ok(score_predictions(
        system,
        &truth,
        &ids,
        &predicted,
        templates.len(),
        settings.drain_ga,
        seconds,
    ))
}

/// Scores another parser's output for one system: `predicted/<system>/<system>_2k.log_structured.csv`
/// with an `EventId` and an `EventTemplate` (`<*>` for variables) per line, in the log's
/// order (loghub's layout, as logparser's parsers and `aiops logs parse --output` write it),
/// against the ground truth in `dir/<system>/`. The same scorer as [`evaluate_system`], so
/// parsers are compared on equal terms; `seconds` is 0 (the parse ran elsewhere).
pub fn evaluate_predicted(
    dir: &Path,
    predicted: &Path,
    system: &str,
    settings: &LoghubSettings,
) -> Result<SystemScore> {
    let (_, truth) = read_system(dir, system)?;
    let path = predicted
        .join(system)
        .join(format!("{system}_2k.log_structured.csv"));
    let rows = read_structured(&path)?;
    check_rows(&path, rows.len(), truth.len())?;
    let groups: Vec<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
    let templates: Vec<&str> = rows.iter().map(|(_, t)| t.as_str()).collect();
    Ok(score_predictions(
        system,
        &truth,
        &groups,
        &templates,
        groups
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        settings.drain_ga,
        0.0,
    ))
}

/// Scores every system of the settings whose folder exists under `dir`, in name order.
/// Errors when none does.
pub fn evaluate_loghub(
    dir: &Path,
    settings: &BTreeMap<String, LoghubSettings>,
) -> Result<Vec<SystemScore>> {
    evaluate_loghub_with_progress(dir, settings, &crate::no_progress)
}

/// [`evaluate_loghub`], reporting each scored system to `progress`.
pub fn evaluate_loghub_with_progress(
    dir: &Path,
    settings: &BTreeMap<String, LoghubSettings>,
    progress: crate::Progress<'_>,
) -> Result<Vec<SystemScore>> {
    evaluate_loghub_systems(dir, settings, None, progress)
}

/// [`evaluate_loghub_with_progress`]; with `predicted`, scores another parser's output for
/// each system ([`evaluate_predicted`]) instead of parsing.
pub fn evaluate_loghub_systems(
    dir: &Path,
    settings: &BTreeMap<String, LoghubSettings>,
    predicted: Option<&Path>,
    progress: crate::Progress<'_>,
) -> Result<Vec<SystemScore>> {
    let systems: Vec<(&String, &LoghubSettings)> = settings
        .iter()
        .filter(|(system, _)| dir.join(system).is_dir())
        .collect();
    if systems.is_empty() {
        return Err(EvalError::Data {
            path: dir.display().to_string(),
            reason: "no system folder of the settings found".to_string(),
        });
    }
    let counter = crate::progress::Counter::new(systems.len(), progress);
    systems
        .into_iter()
        .map(|(system, s)| {
            let score = match predicted {
                Some(p) => evaluate_predicted(dir, p, system, s)?,
                None => evaluate_system(dir, system, s)?,
            };
            counter.tick();
            Ok(score)
        })
        .collect()
}

/// What `aiops eval loghub` reports: every system's scores and the means of GA and PA.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoghubReport {
    /// Scores by system name.
    pub systems: BTreeMap<String, SystemScore>,
    /// Mean grouping accuracy over the systems.
    pub mean_ga: f64,
    /// Mean template (parsing) accuracy over the systems.
    pub mean_pa: f64,
    /// Mean of [`SystemScore::pa_corrected`] over the systems.
    pub mean_pa_corrected: f64,
}

impl LoghubReport {
    /// The report of these systems' scores (the means are 0 when there is none).
    pub fn new(scores: Vec<SystemScore>) -> Self {
        let n = scores.len().max(1) as f64;
        let mean_ga = scores.iter().map(|s| s.ga).sum::<f64>() / n;
        let mean_pa = scores.iter().map(|s| s.pa).sum::<f64>() / n;
        let mean_pa_corrected = scores.iter().map(|s| s.pa_corrected).sum::<f64>() / n;
        Self {
            systems: scores.into_iter().map(|s| (s.system.clone(), s)).collect(),
            mean_ga,
            mean_pa,
            mean_pa_corrected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_accuracy_counts_exact_groups() {
        // Group 1 is exact (2 lines), group 2 mixes A and B, line 5 alone is B's only... no:
        // B has 2 lines in truth, split over two predicted groups.
        let pred = [1, 1, 2, 2, 3];
        let truth = ["A", "A", "B", "C", "B"];
        // Lines 0,1 right; group 2 impure; group 3 has one B of two.
        assert!((grouping_accuracy(&pred, &truth) - 0.4).abs() < 1e-12);
        assert_eq!(grouping_accuracy(&[1, 2], &["A", "B"]), 1.0);
        assert_eq!(grouping_accuracy::<i32, &str>(&[], &[]), 0.0);
        // Over-merging two true groups loses both.
        assert_eq!(grouping_accuracy(&[1, 1], &["A", "B"]), 0.0);
    }

    #[test]
    fn corrected_templates_follow_the_published_rules() {
        let c = corrected_template;
        // DS, and a path.
        assert_eq!(c("  open   /var/log/<*>.log  done "), "open <*> done");
        // BL, US, DG, case-insensitive, split at every delimiter.
        assert_eq!(c("user=ROOT ok=true id 42"), "user=<*> ok=<*> id <*>");
        assert_eq!(c("port 8080-9090"), "port <*>-<*>");
        // WV: a variable glued to letters is one variable; not across a '/'.
        assert_eq!(c("blk_<*> took <*>ms"), "<*> took <*>");
        assert_eq!(c("a/<*> x"), "a/<*> x");
        // DV and CV; variables separated by a space stay two.
        assert_eq!(c("v <*>.<*>.<*> at <*><*>"), "v <*> at <*>");
        assert_eq!(c("at <*> <*>"), "at <*> <*>");
        // Words that are not in the lists stay.
        assert_eq!(c("Fan speeds ( <*> )"), "Fan speeds ( <*> )");
        assert_eq!(
            corrected_template_accuracy(&["x blk_<*>", "a <*>"], &["x <*>", "a b"]),
            0.5
        );
    }

    #[test]
    fn template_accuracy_normalizes_whitespace() {
        let pred = ["delete  blk_<*>", "a <*>", "x"];
        let truth = ["delete blk_<*> ", "a b", "x"];
        assert!((template_accuracy(&pred, &truth) - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn evaluates_a_system_folder_it_has_not_seen() {
        let dir = tempfile_dir();
        let sys = dir.join("Toy");
        std::fs::create_dir_all(&sys).unwrap();
        let mut log = String::new();
        let mut csv = String::from("LineId,Level,Content,EventId,EventTemplate\n");
        for i in 0..20 {
            let (content, id, tpl) = if i % 2 == 0 {
                (
                    format!("opened file f{i}.txt in {i} ms"),
                    "E1",
                    "opened file <*> in <*> ms",
                )
            } else {
                (format!("user u{i} quit"), "E2", "user <*> quit")
            };
            log.push_str(&format!("INFO: {content}\n"));
            csv.push_str(&format!("{},INFO,{content},{id},{tpl}\n", i + 1));
        }
        std::fs::write(sys.join("Toy_2k.log"), log).unwrap();
        std::fs::write(sys.join("Toy_2k.log_structured.csv"), csv).unwrap();
        let settings_path = dir.join("settings.json");
        std::fs::write(
            &settings_path,
            r#"{"_about": "x", "Toy": {"log_format": "<Level>: <Content>", "regex": [], "st": 0.5, "depth": 4}}"#,
        )
        .unwrap();
        let settings = load_settings(&settings_path).unwrap();
        let scores = evaluate_loghub(&dir, &settings).unwrap();
        assert_eq!(scores.len(), 1);
        assert_eq!(scores[0].ga, 1.0);
        assert_eq!(scores[0].lines, 20);
        assert!(scores[0].pa > 0.0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_files_are_errors() {
        let dir = tempfile_dir();
        let s = LoghubSettings {
            log_format: "<Content>".to_string(),
            regex: vec![],
            st: 0.5,
            depth: 4,
            drain_ga: None,
        };
        assert!(matches!(
            evaluate_system(&dir, "Nope", &s),
            Err(EvalError::Logs(aiops_logs::LogError::Read { .. }))
        ));
        assert!(evaluate_loghub(&dir, &BTreeMap::new()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "aiops-loghub-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
