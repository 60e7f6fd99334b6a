//! A small knowledge base of runbooks: documents matched to root causes by resource kind,
//! metric and resource, returned as recommended actions, with full-text search (BM25).
//!
//! A runbook is a YAML file (`.yaml` / `.yml`) or a Markdown file (`.md`) with YAML front
//! matter between `---` lines:
//!
//! ```text
//! ---
//! id: cpu-saturation            # default: the file name without extension
//! title: CPU saturation          # default: the first `# ` heading, else the id
//! kinds: [service, host]         # resource kinds it applies to (empty: any)
//! metrics: ["cpu*", load]        # metric names, `*` matches any run of characters
//! resources: []                  # resource ids (empty: any)
//! tags: [capacity]
//! actions:                       # default: the Markdown list items of the body
//!   - Find the hot process with `top` / a CPU profile
//!   - Scale out or throttle the noisy neighbour
//! remediation: restart_service   # optional: an allow-listed remediation for workflows
//! ---
//! # CPU saturation
//! Free text, searched too.
//! ```
//!
//! A runbook matches a root cause when every selector it sets (`kinds`, `metrics`,
//! `resources`) accepts the cause; a runbook that sets none is reached through search only.
//! Full-text search is a small BM25 over title, tags, kinds, metrics, actions and body
//! (written here rather than pulling in a search engine crate: the corpus is a folder of
//! documents, and the index is a few hash maps).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use aiops_core::RootCause;
use serde::{Deserialize, Serialize};

use crate::error::{RcaError, Result};

/// Front matter (or the whole YAML file) as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    id: Option<String>,
    title: Option<String>,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    metrics: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    actions: Option<Vec<String>>,
    remediation: Option<String>,
    /// Free text of a YAML runbook (Markdown runbooks have their body instead).
    #[serde(default)]
    description: String,
}

/// One runbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runbook {
    /// Unique id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Resource kinds it applies to, lower case (empty: any).
    pub kinds: Vec<String>,
    /// Metric name patterns (`*` wildcard; empty: any).
    pub metrics: Vec<String>,
    /// Resource ids it applies to (empty: any).
    pub resources: Vec<String>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Steps to take.
    pub actions: Vec<String>,
    /// The automatic remediation it suggests: the name of a command or HTTP target on the
    /// service's remediation allow-list, run by a workflow's `execute_remediation` step that
    /// names none (the allow-list is still checked at run time).
    #[serde(default)]
    pub remediation: Option<String>,
    /// Free text.
    pub body: String,
    /// The file it came from, if any.
    pub source: Option<PathBuf>,
}

/// A runbook recommended for a root cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// Runbook id.
    pub runbook: String,
    /// Runbook title.
    pub title: String,
    /// The root cause's resource.
    pub resource: String,
    /// The root cause's metric, if any.
    pub metric: Option<String>,
    /// Rank of the root cause it is for.
    pub cause_rank: usize,
    /// How well it fits: the cause's confidence times the share of selectors the runbook
    /// sets that name this cause specifically (resource > metric > kind).
    pub score: f64,
    /// Steps to take.
    pub actions: Vec<String>,
    /// The runbook's suggested automatic remediation, if it names one.
    pub remediation: Option<String>,
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// Runbook id.
    pub runbook: String,
    /// Runbook title.
    pub title: String,
    /// BM25 score (higher is better).
    pub score: f64,
}

/// Runbooks plus their full-text index.
#[derive(Debug, Clone, Default)]
pub struct KnowledgeBase {
    runbooks: Vec<Runbook>,
    /// term -> (runbook index, term frequency)
    postings: HashMap<String, Vec<(usize, u32)>>,
    lengths: Vec<u32>,
}

fn bad(document: &str, reason: impl Into<String>) -> RcaError {
    RcaError::Runbook {
        document: document.to_string(),
        reason: reason.into(),
    }
}

/// Lower-case alphanumeric terms (a term keeps inner `_`, so `disk_io` stays one word and
/// also yields `disk` and `io`).
fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
    {
        let w = word.to_lowercase();
        if w.contains('_') {
            out.extend(w.split('_').filter(|p| !p.is_empty()).map(str::to_string));
        }
        out.push(w);
    }
    out
}

/// `*` matches any run of characters; everything else literally (case-insensitive).
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.to_lowercase(), text.to_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == t;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !t.starts_with(first) || !t[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &t[first.len()..t.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

impl Runbook {
    /// Parses one document: YAML when `name` ends in `.yaml` / `.yml`, else Markdown with
    /// optional front matter. `name` gives the default id and appears in errors.
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let stem = Path::new(name)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(name)
            .to_string();
        let is_yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        let (header, body) = if is_yaml {
            let h: Header = aiops_core::yaml::from_str(text).map_err(|e| bad(name, e))?;
            let body = h.description.clone();
            (h, body)
        } else {
            split_front_matter(name, text)?
        };
        let actions = header.actions.unwrap_or_else(|| list_items(&body));
        let title = header
            .title
            .or_else(|| {
                body.lines()
                    .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_string()))
            })
            .unwrap_or_else(|| header.id.clone().unwrap_or_else(|| stem.clone()));
        let id = header.id.unwrap_or(stem);
        if id.trim().is_empty() {
            return Err(bad(name, "empty id"));
        }
        let remediation = match header.remediation {
            Some(r) if r.trim().is_empty() => return Err(bad(name, "empty remediation")),
            r => r,
        };
        Ok(Self {
            id,
            title,
            kinds: header.kinds.iter().map(|k| k.to_lowercase()).collect(),
            metrics: header.metrics,
            resources: header.resources,
            tags: header.tags,
            actions,
            remediation,
            body,
            source: None,
        })
    }

    fn text(&self) -> String {
        [
            self.title.as_str(),
            &self.tags.join(" "),
            &self.kinds.join(" "),
            &self.metrics.join(" ").replace('*', " "),
            &self.actions.join(" "),
            &self.body,
        ]
        .join("\n")
    }

    /// How specifically this runbook names a cause (0 when it does not apply): the share of
    /// its selectors that accept the cause, weighting resource 3, metric 2, kind 1.
    fn fit(&self, cause: &RootCause, kind: Option<&str>) -> f64 {
        // Every selector set must accept the cause; a runbook that sets none matches nothing
        // here (weight 0).
        let mut weight = 0.0;
        if !self.resources.is_empty() {
            if !self.resources.contains(&cause.resource) {
                return 0.0;
            }
            weight += 3.0;
        }
        if !self.metrics.is_empty() {
            match &cause.metric {
                Some(m) if self.metrics.iter().any(|p| glob(p, m)) => weight += 2.0,
                _ => return 0.0,
            }
        }
        if !self.kinds.is_empty() {
            match kind {
                Some(k) if self.kinds.iter().any(|x| x.eq_ignore_ascii_case(k)) => weight += 1.0,
                _ => return 0.0,
            }
        }
        // Selectors set and matched, out of all three possible: a runbook for "cart's cpu"
        // beats one for "any service".
        weight / 6.0
    }
}

fn split_front_matter(name: &str, text: &str) -> Result<(Header, String)> {
    let t = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = t.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "---" {
        return Ok((Header::default(), t.to_string()));
    }
    let mut yaml = String::new();
    let mut closed = false;
    let mut consumed = first.len();
    for l in lines {
        consumed += l.len();
        if l.trim_end() == "---" || l.trim_end() == "..." {
            closed = true;
            break;
        }
        yaml.push_str(l);
    }
    if !closed {
        return Err(bad(name, "front matter opened with --- is never closed"));
    }
    let header: Header = if yaml.trim().is_empty() {
        Header::default()
    } else {
        aiops_core::yaml::from_str(&yaml).map_err(|e| bad(name, format!("front matter: {e}")))?
    };
    Ok((header, t[consumed..].to_string()))
}

/// Markdown list items (`- x`, `* x`, `1. x`) of a body.
fn list_items(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let rest = l
                .strip_prefix("- ")
                .or_else(|| l.strip_prefix("* "))
                .or_else(|| {
                    let digits = l.chars().take_while(char::is_ascii_digit).count();
                    (digits > 0)
                        .then(|| l[digits..].strip_prefix(". "))
                        .flatten()
                })?;
            let rest = rest.trim();
            (!rest.is_empty()).then(|| rest.to_string())
        })
        .collect()
}

impl KnowledgeBase {
    /// Indexes runbooks; ids must be unique.
    pub fn new(runbooks: Vec<Runbook>) -> Result<Self> {
        let mut seen = BTreeMap::new();
        for (i, r) in runbooks.iter().enumerate() {
            if let Some(j) = seen.insert(r.id.clone(), i) {
                let src = |k: usize| {
                    runbooks[k]
                        .source
                        .as_ref()
                        .map_or_else(|| format!("#{k}"), |p| p.display().to_string())
                };
                return Err(bad(
                    &src(i),
                    format!("id {:?} already used by {}", r.id, src(j)),
                ));
            }
        }
        let mut postings: HashMap<String, Vec<(usize, u32)>> = HashMap::new();
        let mut lengths = Vec::with_capacity(runbooks.len());
        for (i, r) in runbooks.iter().enumerate() {
            let ts = terms(&r.text());
            lengths.push(ts.len() as u32);
            let mut tf: HashMap<String, u32> = HashMap::new();
            for t in ts {
                *tf.entry(t).or_default() += 1;
            }
            for (t, n) in tf {
                postings.entry(t).or_default().push((i, n));
            }
        }
        Ok(Self {
            runbooks,
            postings,
            lengths,
        })
    }

    /// Loads every `.md`, `.markdown`, `.yaml` and `.yml` file under `dir` (recursively, in
    /// path order). Other files are not runbooks and are left alone; a runbook that does not
    /// parse is an error naming the file, never skipped.
    pub fn load_dir(dir: &Path) -> Result<Self> {
        let mut files = Vec::new();
        collect_files(dir, &mut files)?;
        files.sort();
        let mut runbooks = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|e| RcaError::Io {
                path: path.clone(),
                source: e,
            })?;
            let name = path.display().to_string();
            let mut r = Runbook::parse(&name, &text)?;
            r.source = Some(path);
            runbooks.push(r);
        }
        Self::new(runbooks)
    }

    /// The runbooks, in load order.
    pub fn runbooks(&self) -> &[Runbook] {
        &self.runbooks
    }

    /// Number of runbooks.
    pub fn len(&self) -> usize {
        self.runbooks.len()
    }

    /// Whether there is no runbook.
    pub fn is_empty(&self) -> bool {
        self.runbooks.is_empty()
    }

    /// BM25 (k1 = 1.2, b = 0.75) search; at most `limit` hits with a positive score, best
    /// first (ties by id).
    pub fn search(&self, query: &str, limit: usize) -> Vec<SearchHit> {
        let n = self.runbooks.len() as f64;
        if n == 0.0 {
            return Vec::new();
        }
        let avg = self.lengths.iter().map(|&l| f64::from(l)).sum::<f64>() / n;
        let mut scores = vec![0.0f64; self.runbooks.len()];
        let mut q = terms(query);
        q.sort();
        q.dedup();
        for t in q {
            let Some(post) = self.postings.get(&t) else {
                continue;
            };
            let df = post.len() as f64;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(i, tf) in post {
                let tf = f64::from(tf);
                let len = f64::from(self.lengths[i]) / avg.max(1e-9);
                scores[i] += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len));
            }
        }
        let mut hits: Vec<SearchHit> = scores
            .into_iter()
            .enumerate()
            .filter(|(_, s)| *s > 0.0)
            .map(|(i, score)| SearchHit {
                runbook: self.runbooks[i].id.clone(),
                title: self.runbooks[i].title.clone(),
                score,
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.runbook.cmp(&b.runbook)));
        hits.truncate(limit);
        hits
    }

    /// Runbooks for the first `top` root causes (in rank order): for each cause, the runbooks
    /// whose selectors accept it, most specific first; `kind_of` gives a resource's kind
    /// (lower case, as in the topology). Each runbook is recommended once, for the
    /// best-ranked cause it fits.
    pub fn recommend(
        &self,
        causes: &[RootCause],
        kind_of: impl Fn(&str) -> Option<String>,
        top: usize,
    ) -> Vec<Recommendation> {
        let mut out = Vec::new();
        let mut used = vec![false; self.runbooks.len()];
        let mut ranked: Vec<&RootCause> = causes.iter().collect();
        ranked.sort_by_key(|c| c.rank);
        for cause in ranked.into_iter().take(top) {
            let kind = kind_of(&cause.resource);
            let mut fits: Vec<(f64, usize)> = self
                .runbooks
                .iter()
                .enumerate()
                .filter(|(i, _)| !used[*i])
                .map(|(i, r)| (r.fit(cause, kind.as_deref()), i))
                .filter(|(f, _)| *f > 0.0)
                .collect();
            fits.sort_by(|a, b| {
                b.0.total_cmp(&a.0)
                    .then(self.runbooks[a.1].id.cmp(&self.runbooks[b.1].id))
            });
            for (fit, i) in fits {
                used[i] = true;
                let r = &self.runbooks[i];
                out.push(Recommendation {
                    runbook: r.id.clone(),
                    title: r.title.clone(),
                    resource: cause.resource.clone(),
                    metric: cause.metric.clone(),
                    cause_rank: cause.rank,
                    score: cause.confidence.clamp(0.0, 1.0) * fit,
                    actions: r.actions.clone(),
                    remediation: r.remediation.clone(),
                });
            }
        }
        out
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |e| RcaError::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("md" | "markdown" | "yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPU: &str = "---\nid: cpu-saturation\nkinds: [service, host]\nmetrics: ['cpu*']\ntags: [capacity]\n---\n# CPU saturation\nThe process is starved of CPU.\n\n- Find the hot code path with a CPU profile\n- Scale out, or move the noisy neighbour\n";
    const CART: &str = "id: cart-cpu\ntitle: Cart CPU runaway\nresources: [cart]\nmetrics: [cpu]\nactions: [Restart the cart pricing worker]\nremediation: restart_cart\ndescription: Known leak in the pricing worker spins the CPU.\n";
    const DB: &str = "---\nkinds: [database]\nmetrics: [latency, 'conn*']\n---\n# Slow database\n1. Check slow query log\n2. Look for lock contention\n";
    const GENERAL: &str = "# Incident etiquette\nOpen a channel, name an incident commander.\n";

    fn kb() -> KnowledgeBase {
        KnowledgeBase::new(vec![
            Runbook::parse("cpu.md", CPU).unwrap(),
            Runbook::parse("cart.yaml", CART).unwrap(),
            Runbook::parse("db-slow.md", DB).unwrap(),
            Runbook::parse("general.md", GENERAL).unwrap(),
        ])
        .unwrap()
    }

    fn cause(rank: usize, resource: &str, metric: &str, confidence: f64) -> RootCause {
        RootCause {
            rank,
            resource: resource.into(),
            metric: Some(metric.into()),
            score: 1.0,
            confidence,
            evidence: vec![],
            affected: vec![],
        }
    }

    #[test]
    fn parses_front_matter_yaml_and_defaults() {
        let kb = kb();
        let r = &kb.runbooks()[0];
        assert_eq!(
            (r.id.as_str(), r.title.as_str()),
            ("cpu-saturation", "CPU saturation")
        );
        assert_eq!(r.actions.len(), 2);
        assert_eq!(r.actions[1], "Scale out, or move the noisy neighbour");
        let db = &kb.runbooks()[2];
        assert_eq!(db.id, "db-slow"); // from the file name
        assert_eq!(
            db.actions,
            ["Check slow query log", "Look for lock contention"]
        );
        assert_eq!(
            kb.runbooks()[1].body,
            "Known leak in the pricing worker spins the CPU."
        );
        assert_eq!(kb.runbooks()[3].title, "Incident etiquette");
    }

    #[test]
    fn recommends_most_specific_runbook_for_each_cause() {
        let kb = kb();
        let kinds = |r: &str| {
            Some(
                match r {
                    "orders-db" => "database",
                    _ => "service",
                }
                .to_string(),
            )
        };
        let causes = [
            cause(1, "cart", "cpu", 0.9),
            cause(2, "orders-db", "connections", 0.5),
            cause(3, "web", "errors", 0.1),
        ];
        let rec = kb.recommend(&causes, kinds, 3);
        let got: Vec<(&str, &str)> = rec
            .iter()
            .map(|r| (r.runbook.as_str(), r.resource.as_str()))
            .collect();
        // cart's own runbook first, then the generic CPU one; the database one for the
        // database; nothing for web's errors; the general one never (search only).
        assert_eq!(
            got,
            [
                ("cart-cpu", "cart"),
                ("cpu-saturation", "cart"),
                ("db-slow", "orders-db")
            ]
        );
        // The remediation a runbook names goes with its recommendation.
        assert_eq!(
            rec.iter()
                .map(|r| r.remediation.as_deref())
                .collect::<Vec<_>>(),
            [Some("restart_cart"), None, None]
        );
        assert!(rec[0].score > rec[1].score);
        // A host's cpu_seconds metric matches the cpu* pattern and the host kind.
        let host = [cause(1, "node1", "cpu_seconds", 1.0)];
        let rec = kb.recommend(&host, |_| Some("host".into()), 1);
        assert_eq!(rec.len(), 1);
        assert_eq!(rec[0].runbook, "cpu-saturation");
        // Unknown kind: kind-selecting runbooks do not apply.
        assert!(kb.recommend(&host, |_| None, 1).is_empty());
    }

    #[test]
    fn search_ranks_by_bm25() {
        let kb = kb();
        let hits = kb.search("slow query lock", 10);
        assert_eq!(hits[0].runbook, "db-slow");
        assert_eq!(hits.len(), 1);
        let hits = kb.search("CPU", 10);
        let ids: Vec<&str> = hits.iter().map(|h| h.runbook.as_str()).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&"cpu-saturation") && ids.contains(&"cart-cpu"));
        assert!(kb.search("incident commander", 1)[0].runbook == "general");
        assert!(kb.search("kubernetes", 10).is_empty());
        assert!(kb.search("", 10).is_empty());
    }

    #[test]
    fn glob_patterns() {
        assert!(glob("cpu*", "cpu_seconds"));
        assert!(glob("*latency*", "p99_latency_ms"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXcYb"));
        assert!(glob("CPU", "cpu"));
        assert!(!glob("cpu", "cpu2"));
    }

    #[test]
    fn bad_documents_are_errors() {
        assert!(matches!(
            Runbook::parse("x.yaml", "remediation: ' '\n"),
            Err(RcaError::Runbook { .. })
        ));
        assert!(matches!(
            Runbook::parse("x.md", "---\nkinds: [a]\n"),
            Err(RcaError::Runbook { .. })
        ));
        assert!(matches!(
            Runbook::parse("x.md", "---\nbogus: 1\n---\n"),
            Err(RcaError::Runbook { .. })
        ));
        assert!(matches!(
            Runbook::parse("x.yaml", "kinds: [unclosed"),
            Err(RcaError::Runbook { .. })
        ));
        let a = Runbook::parse("a.md", "# A").unwrap();
        assert!(matches!(
            KnowledgeBase::new(vec![a.clone(), a]),
            Err(RcaError::Runbook { .. })
        ));
    }

    #[test]
    fn loads_a_folder_and_names_the_bad_file() {
        let dir = std::env::temp_dir().join(format!("aiops-runbooks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("db")).unwrap();
        std::fs::write(dir.join("cpu.md"), CPU).unwrap();
        std::fs::write(dir.join("db").join("db-slow.md"), DB).unwrap();
        std::fs::write(dir.join("notes.txt"), "not a runbook").unwrap();
        let kb = KnowledgeBase::load_dir(&dir).unwrap();
        assert_eq!(kb.len(), 2);
        assert!(kb.runbooks().iter().all(|r| r.source.is_some()));
        std::fs::write(dir.join("broken.yaml"), "kinds: [").unwrap();
        match KnowledgeBase::load_dir(&dir) {
            Err(RcaError::Runbook { document, .. }) => assert!(document.ends_with("broken.yaml")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            KnowledgeBase::load_dir(&dir.join("missing")),
            Err(RcaError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
