//! Drain: online template mining with a fixed-depth prefix tree (He et al., "Drain: An Online
//! Log Parsing Approach with Fixed Depth Tree", ICWS 2017), the algorithm of drain3.
//!
//! Each line is masked ([`crate::mask`]), split into tokens, and routed through the tree:
//! first by its number of tokens, then by its first `depth - 2` tokens (a token holding a digit
//! or a placeholder goes to the `<*>` branch; a node holding `max_children` branches sends new
//! tokens there too). The leaf holds a few clusters; the line joins the most similar one
//! (similarity = share of positions where the template's constant token equals the line's; ties
//! go to the template with more variables) when the similarity reaches `sim_threshold`, and the
//! positions where they differ become `<*>`. Otherwise the line starts a new cluster.
//!
//! Template ids are given in creation order, from 1, and never reused, even after a template is
//! evicted. The whole state (parameters included) serialises with serde, so a restarted process
//! restores a snapshot and continues exactly where it stopped.
//!
//! # Bounded memory and work
//!
//! Input where every line is a new template (random bytes, a binary file, ids that no mask
//! catches) must not make the miner grow or slow down with the number of lines:
//! - at most `max_clusters` templates are held ([`DEFAULT_MAX_CLUSTERS`] unless set); beyond,
//!   the least recently used template is evicted (its id is not reused; lines that come back
//!   to it start a new template);
//! - a leaf holds at most [`LEAF_CAPACITY`] templates; a new template in a full leaf takes the
//!   place of that leaf's least recently used one (evicted when it is in no other leaf);
//! - the second chance compares the line with at most [`SECOND_CHANCE_SCAN`] templates of its
//!   length, the most recent first;
//! - the tree keeps no empty branch: evicting a template removes the nodes only it used.
//!
//! So memory grows with the templates held, not with the lines, and the cost per line is
//! masking plus O(depth) hash lookups plus at most `LEAF_CAPACITY + SECOND_CHANCE_SCAN`
//! template comparisons (counted by [`TemplateMiner::comparisons`]), each linear in the
//! line's tokens. On the loghub systems no leaf and no length comes near these bounds, so the
//! templates are those of unbounded Drain. A line is never lost: a line whose header does not
//! match the log format is mined whole, invalid UTF-8 is replaced (U+FFFD) by
//! [`TemplateMiner::learn_bytes`], and long lines only cost their length.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::error::{LogError, Result};
use crate::format::LogFormat;
use crate::mask::{MaskSpec, MaskedLine, Masker, WILDCARD, is_placeholder};
use crate::token::{self, Kind};

/// Identifier of a template: creation order from 1, stable for the life of the miner.
pub type TemplateId = u64;

/// Templates held at most by default (`max_clusters`): far above the few hundred templates of
/// a real system's log, low enough that random input keeps the miner at a few megabytes.
pub const DEFAULT_MAX_CLUSTERS: usize = 10_000;
/// The default tree depth ([`DrainParams::depth`]).
pub const DEFAULT_DEPTH: usize = 4;
/// The default similarity threshold ([`DrainParams::sim_threshold`]).
pub const DEFAULT_SIM_THRESHOLD: f64 = 0.5;

/// Templates a tree leaf holds at most: the similarity search of a line compares it with each.
pub const LEAF_CAPACITY: usize = 128;

/// Templates of the line's length the second chance compares the line with at most, the most
/// recently created first.
pub const SECOND_CHANCE_SCAN: usize = 256;

/// Unchecked parameters of [`Drain`].
///
/// ```
/// use aiops_logs::{Change, DrainParams};
/// let mut miner = DrainParams::new().sim_threshold(0.5).check()?.miner();
/// let a = miner.learn("connected to 10.0.0.1 in 5 ms");
/// let b = miner.learn("connected to 10.0.0.7 in 12 ms");
/// assert_eq!(a.id, b.id);
/// assert_eq!(b.change, Change::Unchanged);
/// assert_eq!(miner.template(a.id).unwrap(), "connected to <:IP:> in <:NUM:> ms");
/// # Ok::<(), aiops_logs::LogError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DrainParams {
    depth: usize,
    sim_threshold: f64,
    max_children: usize,
    max_clusters: Option<usize>,
    masks: Vec<MaskSpec>,
    builtin_masks: bool,
    log_format: Option<String>,
}

impl Default for DrainParams {
    fn default() -> Self {
        Self {
            depth: DEFAULT_DEPTH,
            sim_threshold: DEFAULT_SIM_THRESHOLD,
            max_children: 100,
            max_clusters: Some(DEFAULT_MAX_CLUSTERS),
            masks: Vec::new(),
            builtin_masks: true,
            log_format: None,
        }
    }
}

impl DrainParams {
    /// Defaults: depth 4, similarity threshold 0.5, 100 children per node, at most
    /// [`DEFAULT_MAX_CLUSTERS`] templates, built-in masks on, no user mask, no header format
    /// (the whole line is the message).
    pub fn new() -> Self {
        Self::default()
    }

    crate::fields!(
        /// Tree depth, counting the root and the leaf (>= 3): lines are routed by their first
        /// `depth - 2` tokens.
        depth: usize
    );

    crate::fields!(
        /// Share of equal tokens (0 < st <= 1) for a line to join a template.
        sim_threshold: f64
    );

    crate::fields!(
        /// Branches per tree node (>= 2); further tokens share the `<*>` branch.
        max_children: usize
    );

    /// Templates kept at most; the least recently used is evicted beyond (>= 1; default
    /// [`DEFAULT_MAX_CLUSTERS`]).
    pub fn max_clusters(mut self, n: usize) -> Self {
        self.max_clusters = Some(n);
        self
    }

    /// Adds a user mask, applied before the built-in ones, in the order added.
    pub fn mask(mut self, mask: MaskSpec) -> Self {
        self.masks.push(mask);
        self
    }

    crate::fields!(
        /// Whether the built-in masks (numbers, hex, IPs, ids) run.
        builtin_masks: bool
    );

    /// A loghub header format (`<Date> <Time> <Level>: <Content>`): only `Content` is mined.
    pub fn log_format(mut self, format: &str) -> Self {
        self.log_format = Some(format.to_string());
        self
    }
}

impl DrainParams {
    /// Validates the parameters: the checked [`Drain`], or the first problem found.
    pub fn check(&self) -> Result<Drain> {
        if self.depth < 3 {
            return Err(LogError::InvalidParameter {
                name: "depth",
                reason: format!("must be at least 3, got {}", self.depth),
            });
        }
        if !(self.sim_threshold > 0.0 && self.sim_threshold <= 1.0) {
            return Err(LogError::InvalidParameter {
                name: "sim_threshold",
                reason: format!("must be in (0, 1], got {}", self.sim_threshold),
            });
        }
        if self.max_children < 2 {
            return Err(LogError::InvalidParameter {
                name: "max_children",
                reason: format!("must be at least 2, got {}", self.max_children),
            });
        }
        if self.max_clusters == Some(0) {
            return Err(LogError::InvalidParameter {
                name: "max_clusters",
                reason: "must be at least 1".to_string(),
            });
        }
        let masker = Masker::new(&self.masks, self.builtin_masks)?;
        let format = self.log_format.as_deref().map(LogFormat::new).transpose()?;
        Ok(Drain {
            params: self.clone(),
            masker,
            format,
        })
    }
}

/// Validated Drain parameters with their compiled masks and header format.
#[derive(Debug, Clone)]
pub struct Drain {
    params: DrainParams,
    masker: Masker,
    format: Option<LogFormat>,
}

/// Whether learning a line created, changed or reused a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A new template was created.
    New,
    /// An existing template gained a variable.
    Changed,
    /// An existing template matched as it was.
    Unchanged,
}

/// What [`TemplateMiner::learn`] says about one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnOutcome {
    /// The template the line belongs to.
    pub id: TemplateId,
    /// Whether that template is new, changed or unchanged.
    pub change: Change,
    /// False when the line did not match the log format and was mined whole.
    pub header_matched: bool,
}

/// One template and how many lines it has absorbed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateInfo {
    /// Its id.
    pub id: TemplateId,
    /// The template, tokens joined by one space (`<*>` and `<:NAME:>` are variables).
    pub template: String,
    /// Lines learned into it.
    pub count: u64,
}

impl Drain {
    /// The parameters it was checked from.
    pub fn params(&self) -> &DrainParams {
        &self.params
    }

    /// The compiled header format, if any.
    pub fn format(&self) -> Option<&LogFormat> {
        self.format.as_ref()
    }

    /// A fresh miner with these parameters.
    pub fn miner(&self) -> TemplateMiner {
        TemplateMiner {
            drain: self.clone(),
            state: State::default(),
            buf: MaskedLine::new(),
        }
    }

    /// The message of a raw line: its `Content` field, or the whole line when there is no
    /// format or the header does not match (second value false then).
    pub fn content<'a>(&self, line: &'a str) -> (&'a str, bool) {
        match &self.format {
            None => (line, true),
            Some(f) => match f.content(line) {
                Some(c) => (c, true),
                None => (line, false),
            },
        }
    }

    /// Masks a raw line (header removed) into `out`; returns whether the header matched.
    pub fn mask_line(&self, line: &str, out: &mut MaskedLine) -> bool {
        let (content, ok) = self.content(line);
        self.masker.mask_into(content, out);
        ok
    }

    /// Learns every line in order and returns the template id of each, with the miner. The
    /// header parsing and masking, most of the cost, run on all cores (rayon) in blocks; the
    /// tree updates then run in line order, so the result equals learning the lines one by one.
    pub fn learn_parallel<S: AsRef<str> + Sync>(
        &self,
        lines: &[S],
    ) -> (TemplateMiner, Vec<LearnOutcome>) {
        let mut miner = self.miner();
        let outcomes = miner.learn_all_parallel(lines);
        (miner, outcomes)
    }
}

/// A block of masked lines, built in parallel.
struct MaskedBlock {
    text: String,
    spans: Vec<(usize, usize)>,
    /// Per line: end index in `spans` and whether the header matched.
    lines: Vec<(usize, bool)>,
}

/// Token access shared by a [`MaskedLine`] and one line of a [`MaskedBlock`].
trait Tokens {
    fn count(&self) -> usize;
    fn get(&self, i: usize) -> &str;
}

impl Tokens for MaskedLine {
    fn count(&self) -> usize {
        self.len()
    }
    fn get(&self, i: usize) -> &str {
        self.token(i)
    }
}

struct BlockLine<'a> {
    text: &'a str,
    spans: &'a [(usize, usize)],
}

impl Tokens for BlockLine<'_> {
    fn count(&self) -> usize {
        self.spans.len()
    }
    fn get(&self, i: usize) -> &str {
        let (s, e) = self.spans[i];
        &self.text[s..e]
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Node {
    #[serde(default, skip_serializing_if = "FxHashMap::is_empty")]
    children: FxHashMap<Box<str>, Node>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    clusters: Vec<TemplateId>,
}

/// The keys from a length's root to a leaf.
type LeafPath = Box<[Box<str>]>;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cluster {
    tokens: Vec<Box<str>>,
    #[serde(skip)]
    kinds: Vec<Kind>,
    count: u64,
    last_used: u64,
    /// The leaves that list it (rebuilt from the tree on restore).
    #[serde(skip)]
    leaves: Vec<LeafPath>,
}

impl Cluster {
    fn new(tokens: Vec<Box<str>>, tick: u64, leaf: LeafPath) -> Self {
        let kinds = tokens.iter().map(|t| token::kind(t)).collect();
        Self {
            tokens,
            kinds,
            count: 1,
            last_used: tick,
            leaves: vec![leaf],
        }
    }

    /// Equal tokens and variables of the template against a line; `None` when a constant
    /// word of the template meets another word (see [`token::distinct_words`]): then the line
    /// is another event, however similar. Unless the line's word is echoed in another token
    /// that also differs (`hive: SYSTEM, ... path '.../config/SYSTEM'`): a word repeated in
    /// a value is a value. Also `None` as soon as fewer than `needed` equal tokens are
    /// possible: such a template could not be joined, so the search stops comparing early.
    fn similarity(&self, tokens: &impl Tokens, needed: usize) -> Option<(usize, usize)> {
        let mut same = 0;
        let mut params = 0;
        let mut first_word_diff = None;
        let n = self.tokens.len();
        for (i, (t, k)) in self.tokens.iter().zip(&self.kinds).enumerate() {
            if same + (n - i) < needed {
                return None;
            }
            match k {
                Kind::Const => {
                    let tok = tokens.get(i);
                    if &**t == tok {
                        same += 1;
                    } else if first_word_diff.is_none() && token::distinct_words(t, tok) {
                        first_word_diff = Some(i);
                    }
                }
                Kind::Param | Kind::Framed => params += 1,
                Kind::Keyed => same += usize::from(token::glob_match(t, tokens.get(i))),
            }
        }
        if let Some(i) = first_word_diff {
            let word = token::core(tokens.get(i));
            let echoed = word.len() >= 3
                && (0..self.tokens.len()).any(|j| {
                    let tok = tokens.get(j);
                    j != i && &*self.tokens[j] != tok && tok.contains(word)
                });
            if !echoed {
                return None;
            }
        }
        Some((same, params))
    }

    /// Variable positions.
    fn params(&self) -> usize {
        self.kinds
            .iter()
            .filter(|k| **k != Kind::Const && **k != Kind::Keyed)
            .count()
    }

    /// Whether every position covers the line's token.
    fn covers(&self, tokens: &impl Tokens) -> bool {
        self.tokens.iter().enumerate().all(|(i, t)| {
            let tok = tokens.get(i);
            &**t == WILDCARD || &**t == tok || (t.contains(WILDCARD) && token::glob_match(t, tok))
        })
    }

    /// Positions the template does not cover (`usize::MAX` when a constant differs), and
    /// constant positions that are equal.
    fn mismatches(&self, tokens: &impl Tokens) -> (usize, usize) {
        let mut miss = 0;
        let mut same = 0;
        for (i, (t, k)) in self.tokens.iter().zip(&self.kinds).enumerate() {
            let tok = tokens.get(i);
            if *k == Kind::Const {
                if &**t != tok {
                    return (usize::MAX, 0);
                }
                same += 1;
            } else if !(&**t == WILDCARD || &**t == tok || token::glob_match(t, tok)) {
                miss += 1;
            }
        }
        (miss, same)
    }

    /// Generalises the template to cover the line; returns whether it changed.
    fn absorb(&mut self, tokens: &impl Tokens) -> bool {
        let mut changed = false;
        for (i, t) in self.tokens.iter_mut().enumerate() {
            let tok = tokens.get(i);
            if &**t == WILDCARD || &**t == tok {
                continue;
            }
            if t.contains(WILDCARD) && token::glob_match(t, tok) {
                continue;
            }
            *t = token::generalize(t, tok).into();
            self.kinds[i] = token::kind(t);
            changed = true;
        }
        changed
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    /// First level of the tree: token count.
    roots: FxHashMap<usize, Node>,
    /// Template ids per token count, in creation order (the second-chance search).
    by_len: FxHashMap<usize, BTreeSet<TemplateId>>,
    clusters: FxHashMap<TemplateId, Cluster>,
    next_id: TemplateId,
    tick: u64,
    /// Last-use tick -> id, kept only with a cluster cap (rebuilt on restore).
    #[serde(skip)]
    lru: BTreeMap<u64, TemplateId>,
    /// Template comparisons made (not saved: a measure of work).
    #[serde(skip)]
    comparisons: u64,
}

/// The streaming state of a Drain parser: learns lines, matches lines, and saves / restores
/// itself through serde (parameters included).
#[derive(Debug, Clone)]
pub struct TemplateMiner {
    drain: Drain,
    state: State,
    buf: MaskedLine,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    params: DrainParams,
    state: State,
}

impl Serialize for TemplateMiner {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct SnapshotRef<'a> {
            params: &'a DrainParams,
            state: &'a State,
        }
        SnapshotRef {
            params: &self.drain.params,
            state: &self.state,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for TemplateMiner {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let snap = Snapshot::deserialize(d)?;
        let drain = snap.params.check().map_err(serde::de::Error::custom)?;
        let mut state = snap.state;
        for c in state.clusters.values_mut() {
            c.kinds = c.tokens.iter().map(|t| token::kind(t)).collect();
        }
        // Each template's leaves, from the tree.
        fn walk(
            node: &Node,
            path: &mut Vec<Box<str>>,
            clusters: &mut FxHashMap<TemplateId, Cluster>,
        ) {
            for id in &node.clusters {
                if let Some(c) = clusters.get_mut(id) {
                    c.leaves.push(path.clone().into_boxed_slice());
                }
            }
            for (key, child) in &node.children {
                path.push(key.clone());
                walk(child, path, clusters);
                path.pop();
            }
        }
        for root in state.roots.values() {
            walk(root, &mut Vec::new(), &mut state.clusters);
        }
        if drain.params.max_clusters.is_some() {
            state.lru = state
                .clusters
                .iter()
                .map(|(&id, c)| (c.last_used, id))
                .collect();
        }
        Ok(TemplateMiner {
            drain,
            state,
            buf: MaskedLine::new(),
        })
    }
}

impl TemplateMiner {
    /// The parameters.
    pub fn drain(&self) -> &Drain {
        &self.drain
    }

    /// Number of templates held.
    pub fn len(&self) -> usize {
        self.state.clusters.len()
    }

    /// Whether no template is held.
    pub fn is_empty(&self) -> bool {
        self.state.clusters.is_empty()
    }

    /// Template comparisons made since this miner was made or restored: at most
    /// [`LEAF_CAPACITY`] + [`SECOND_CHANCE_SCAN`] per line, whatever the input.
    pub fn comparisons(&self) -> u64 {
        self.state.comparisons
    }

    /// Learns one raw line (header parsed with the log format, if any).
    pub fn learn(&mut self, line: &str) -> LearnOutcome {
        let mut buf = std::mem::take(&mut self.buf);
        let ok = self.drain.mask_line(line, &mut buf);
        let (id, change) = self.learn_tokens(&buf);
        self.buf = buf;
        LearnOutcome {
            id,
            change,
            header_matched: ok,
        }
    }

    /// Learns one raw line given as bytes; invalid UTF-8 is replaced by U+FFFD, never refused.
    pub fn learn_bytes(&mut self, line: &[u8]) -> LearnOutcome {
        self.learn(&String::from_utf8_lossy(line))
    }

    /// Learns a message whose header was already removed (the log format is not applied).
    pub fn learn_content(&mut self, content: &str) -> LearnOutcome {
        let mut buf = std::mem::take(&mut self.buf);
        self.drain.masker.mask_into(content, &mut buf);
        let (id, change) = self.learn_tokens(&buf);
        self.buf = buf;
        LearnOutcome {
            id,
            change,
            header_matched: true,
        }
    }

    /// Learns every line in order, masking on all cores; equal to calling
    /// [`TemplateMiner::learn`] on each line in turn.
    pub fn learn_all_parallel<S: AsRef<str> + Sync>(&mut self, lines: &[S]) -> Vec<LearnOutcome> {
        const BLOCK: usize = 4096;
        let mut outcomes = Vec::with_capacity(lines.len());
        // Mask a window of blocks in parallel, then learn it in order, so memory stays bounded.
        let window = BLOCK * 4 * rayon::current_num_threads().max(1);
        for group in lines.chunks(window) {
            let blocks: Vec<MaskedBlock> = group
                .par_chunks(BLOCK)
                .map(|chunk| self.drain.mask_block(chunk))
                .collect();
            for block in &blocks {
                let mut start = 0;
                for &(end, ok) in &block.lines {
                    let line = BlockLine {
                        text: &block.text,
                        spans: &block.spans[start..end],
                    };
                    let (id, change) = self.learn_tokens(&line);
                    outcomes.push(LearnOutcome {
                        id,
                        change,
                        header_matched: ok,
                    });
                    start = end;
                }
            }
        }
        outcomes
    }

    /// The template a raw line matches, without learning: the line must have the template's
    /// length and equal its constant tokens. `None` when no template covers it.
    pub fn match_line(&self, line: &str) -> Option<TemplateId> {
        let mut buf = MaskedLine::new();
        self.drain.mask_line(line, &mut buf);
        self.match_tokens(&buf)
    }

    /// The current template of `id` (tokens joined by one space), if it is held.
    pub fn template(&self, id: TemplateId) -> Option<String> {
        self.state.clusters.get(&id).map(|c| c.tokens.join(" "))
    }

    /// Lines learned into template `id` (0 when it is not held).
    pub fn count(&self, id: TemplateId) -> u64 {
        self.state.clusters.get(&id).map_or(0, |c| c.count)
    }

    /// Every template, most frequent first (ties by id).
    pub fn templates(&self) -> Vec<TemplateInfo> {
        let mut out: Vec<TemplateInfo> = self
            .state
            .clusters
            .iter()
            .map(|(&id, c)| TemplateInfo {
                id,
                template: c.tokens.join(" "),
                count: c.count,
            })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.id.cmp(&b.id)));
        out
    }

    /// The values of the variables of template `id` in a raw line (header removed with the log
    /// format), in order; `None` when the template is not held or does not fit the line.
    /// Whitespace runs in the line count as one space.
    pub fn parameters(&self, id: TemplateId, line: &str) -> Option<Vec<String>> {
        let template = self.template(id)?;
        let (content, _) = self.drain.content(line);
        extract_parameters(&template, content)
    }

    /// The branch a token takes: `<*>` for a token with a digit or a placeholder (likely
    /// variable), the key of a `key=value` token, else the token itself.
    fn descend_key(token: &str) -> &str {
        if token.bytes().any(|b| b.is_ascii_digit()) || token.contains('<') {
            if let Some(eq) = token.find('=')
                && eq > 0
                && !token[..eq].contains('<')
            {
                return &token[..=eq];
            }
            return WILDCARD;
        }
        match token.find('=') {
            Some(eq) if eq > 0 => &token[..=eq],
            _ => token,
        }
    }

    fn match_tokens(&self, tokens: &impl Tokens) -> Option<TemplateId> {
        let n = tokens.count();
        let mut node = self.state.roots.get(&n)?;
        let levels = (self.drain.params.depth - 2).min(n);
        for i in 0..levels {
            let key = Self::descend_key(tokens.get(i));
            node = match node.children.get(key) {
                Some(c) => c,
                None => node.children.get(WILDCARD)?,
            };
        }
        node.clusters
            .iter()
            .copied()
            .find(|id| self.state.clusters[id].covers(tokens))
    }

    fn learn_tokens(&mut self, tokens: &impl Tokens) -> (TemplateId, Change) {
        let n = tokens.count();
        let depth = self.drain.params.depth;
        let max_children = self.drain.params.max_children;
        let st = self.drain.params.sim_threshold;
        let state = &mut self.state;
        state.tick += 1;
        let tick = state.tick;
        let mut node = state.roots.entry(n).or_default();
        let levels = (depth - 2).min(n);
        for i in 0..levels {
            let key = Self::descend_key(tokens.get(i));
            // A new branch only while a slot stays free for the `<*>` branch.
            let room = || {
                node.children.len() + usize::from(!node.children.contains_key(WILDCARD))
                    < max_children
            };
            let key = if node.children.contains_key(key) || (key != WILDCARD && room()) {
                key
            } else {
                WILDCARD
            };
            if !node.children.contains_key(key) {
                node.children.insert(key.into(), Node::default());
            }
            node = node.children.get_mut(key).expect("inserted above");
        }
        // Best cluster in the leaf. Only a template with `needed` equal tokens can be joined,
        // so a template below that is not worth finishing the comparison with.
        let mut needed = (st * n as f64).ceil() as usize;
        while needed > 0 && (needed - 1) as f64 / n as f64 >= st {
            needed -= 1;
        }
        while needed <= n && (needed as f64 / n as f64) < st {
            needed += 1;
        }
        let mut best: Option<(TemplateId, usize, usize)> = None;
        state.comparisons += node.clusters.len() as u64;
        for &id in &node.clusters {
            let Some((same, params)) = state.clusters[&id].similarity(tokens, needed) else {
                continue;
            };
            let better = match best {
                None => true,
                Some((_, s, p)) => same > s || (same == s && params > p),
            };
            if better {
                best = Some((id, same, params));
            }
        }
        let mut matched = best
            .filter(|&(_, same, _)| n == 0 || same as f64 / n as f64 >= st)
            .map(|(id, _, _)| id);
        let leaf_full = node.clusters.len() >= LEAF_CAPACITY;
        let mut joined = false;
        if matched.is_none() && n >= 4 {
            // Second chance across the leaves of this length: a variable among the first
            // tokens (a bare word, so not masked) sends a line down another branch than its
            // template's. Join a template whose constant tokens all agree with the line and
            // whose variable positions all cover it but one; ties go to the oldest.
            let mut best_alt: Option<(TemplateId, usize, usize)> = None;
            let candidates = state.by_len.get(&n).into_iter().flatten().rev();
            for &id in candidates.take(SECOND_CHANCE_SCAN) {
                state.comparisons += 1;
                let c = &state.clusters[&id];
                let (miss, same) = c.mismatches(tokens);
                if miss <= 1 && same >= 2 && 2 * same >= n - c.params() {
                    let better = match best_alt {
                        None => true,
                        Some((b, m, s)) => {
                            miss < m || (miss == m && (same > s || (same == s && id < b)))
                        }
                    };
                    if better {
                        best_alt = Some((id, miss, same));
                    }
                }
            }
            if let Some((id, _, _)) = best_alt {
                // A full leaf does not list it: the next such line takes the second chance too.
                if !leaf_full {
                    node.clusters.push(id);
                    joined = true;
                }
                matched = Some(id);
            }
        }
        let victim = if matched.is_none() && leaf_full {
            node.clusters
                .iter()
                .copied()
                .min_by_key(|id| state.clusters[id].last_used)
        } else {
            None
        };
        let (id, change) = match matched {
            Some(id) => {
                if joined {
                    let path = Self::leaf_path(&state.roots, tokens, levels);
                    let c = state.clusters.get_mut(&id).expect("leaf ids are held");
                    c.leaves.push(path);
                }
                let c = state.clusters.get_mut(&id).expect("leaf ids are held");
                let changed = c.absorb(tokens);
                c.count += 1;
                let old = std::mem::replace(&mut c.last_used, tick);
                if self.drain.params.max_clusters.is_some() {
                    state.lru.remove(&old);
                    state.lru.insert(tick, id);
                }
                (
                    id,
                    if changed {
                        Change::Changed
                    } else {
                        Change::Unchanged
                    },
                )
            }
            None => {
                let path = Self::leaf_path(&state.roots, tokens, levels);
                if let Some(v) = victim {
                    Self::unlink(state, v, &path);
                }
                state.next_id += 1;
                let id = state.next_id;
                Self::leaf_mut(&mut state.roots, n, &path)
                    .expect("the leaf was made above")
                    .clusters
                    .push(id);
                state.by_len.entry(n).or_default().insert(id);
                state.clusters.insert(
                    id,
                    Cluster::new((0..n).map(|i| tokens.get(i).into()).collect(), tick, path),
                );
                if let Some(cap) = self.drain.params.max_clusters {
                    state.lru.insert(tick, id);
                    while state.clusters.len() > cap {
                        let Some((_, victim)) = state.lru.pop_first() else {
                            break;
                        };
                        Self::evict(state, victim);
                    }
                }
                (id, Change::New)
            }
        };
        (id, change)
    }

    /// The keys from the root of the line's length to the leaf the line was routed to by
    /// [`TemplateMiner::learn_tokens`] (which made every branch on the way).
    fn leaf_path(roots: &FxHashMap<usize, Node>, tokens: &impl Tokens, levels: usize) -> LeafPath {
        let mut node = &roots[&tokens.count()];
        let mut path = Vec::with_capacity(levels);
        for i in 0..levels {
            let key = Self::descend_key(tokens.get(i));
            let (k, child) = match node.children.get_key_value(key) {
                Some(kc) => kc,
                None => node
                    .children
                    .get_key_value(WILDCARD)
                    .expect("the line was routed there"),
            };
            path.push(k.clone());
            node = child;
        }
        path.into_boxed_slice()
    }

    fn leaf_mut<'a>(
        roots: &'a mut FxHashMap<usize, Node>,
        n: usize,
        path: &[Box<str>],
    ) -> Option<&'a mut Node> {
        let mut node = roots.get_mut(&n)?;
        for k in path {
            node = node.children.get_mut(k)?;
        }
        Some(node)
    }

    /// Takes a template out of one leaf (a full one, for a new template); evicts it when no
    /// other leaf lists it.
    fn unlink(state: &mut State, id: TemplateId, path: &LeafPath) {
        let Some(c) = state.clusters.get_mut(&id) else {
            return;
        };
        let n = c.tokens.len();
        c.leaves.retain(|p| p != path);
        let orphan = c.leaves.is_empty();
        if let Some(leaf) = Self::leaf_mut(&mut state.roots, n, path) {
            leaf.clusters.retain(|&x| x != id);
        }
        if orphan {
            Self::evict(state, id);
        }
    }

    /// Removes a template from its leaves, the tree (branches left empty go too), the
    /// second-chance list and the table.
    fn evict(state: &mut State, id: TemplateId) {
        let Some(c) = state.clusters.remove(&id) else {
            return;
        };
        let n = c.tokens.len();
        /// Removes `id` from the leaf at `path`; returns whether `node` is left empty.
        fn remove(node: &mut Node, path: &[Box<str>], id: TemplateId) -> bool {
            match path.split_first() {
                None => node.clusters.retain(|&x| x != id),
                Some((key, rest)) => {
                    if let Some(child) = node.children.get_mut(key)
                        && remove(child, rest, id)
                    {
                        node.children.remove(key);
                    }
                }
            }
            node.clusters.is_empty() && node.children.is_empty()
        }
        for path in &c.leaves {
            if let Some(root) = state.roots.get_mut(&n)
                && remove(root, path, id)
            {
                state.roots.remove(&n);
            }
        }
        if let Some(ids) = state.by_len.get_mut(&n) {
            ids.remove(&id);
            if ids.is_empty() {
                state.by_len.remove(&n);
            }
        }
        if state.lru.get(&c.last_used) == Some(&id) {
            state.lru.remove(&c.last_used);
        }
    }
}

impl Drain {
    fn mask_block<S: AsRef<str>>(&self, chunk: &[S]) -> MaskedBlock {
        let mut buf = MaskedLine::new();
        let mut block = MaskedBlock {
            text: String::new(),
            spans: Vec::new(),
            lines: Vec::with_capacity(chunk.len()),
        };
        for line in chunk {
            let ok = self.mask_line(line.as_ref(), &mut buf);
            let base = block.text.len();
            block.text.push_str(buf.as_str());
            let mut pos = base;
            for t in buf.tokens() {
                // Tokens are joined by single spaces in the masked text.
                block.spans.push((pos, pos + t.len()));
                pos += t.len() + 1;
            }
            block.text.push(' ');
            block.lines.push((block.spans.len(), ok));
        }
        block
    }
}

/// The values of a template's variables in a message, in order; `None` when the template does
/// not fit. Every `<*>` or `<:NAME:>` matches one or more characters; whitespace runs in the
/// message match one space.
pub fn extract_parameters(template: &str, content: &str) -> Option<Vec<String>> {
    let normalized: String = content.split_whitespace().collect::<Vec<_>>().join(" ");
    // Literal pieces between placeholders.
    let mut pieces: Vec<&str> = Vec::new();
    let mut rest = template;
    loop {
        let next = find_placeholder(rest);
        match next {
            Some((s, e)) => {
                pieces.push(&rest[..s]);
                rest = &rest[e..];
            }
            None => {
                pieces.push(rest);
                break;
            }
        }
    }
    let hay = normalized.as_str();
    if !hay.starts_with(pieces[0]) {
        return None;
    }
    let vars = pieces.len() - 1;
    if vars == 0 {
        return (hay == pieces[0]).then(Vec::new);
    }
    // Backtracking over literal positions; each variable takes at least one character.
    fn solve<'a>(hay: &'a str, pos: usize, pieces: &[&str], out: &mut Vec<&'a str>) -> bool {
        let (piece, rest) = (pieces[0], &pieces[1..]);
        if rest.is_empty() {
            // The last literal must end the message.
            if hay.len() >= pos + 1 + piece.len() && hay.ends_with(piece) {
                let end = hay.len() - piece.len();
                if hay.is_char_boundary(end) {
                    out.push(&hay[pos..end]);
                    return true;
                }
            }
            return false;
        }
        let mut from = pos + 1;
        while from <= hay.len() {
            if !hay.is_char_boundary(from) {
                from += 1;
                continue;
            }
            let found = if piece.is_empty() {
                Some(from)
            } else {
                hay[from..].find(piece).map(|i| from + i)
            };
            let Some(at) = found else { return false };
            out.push(&hay[pos..at]);
            if solve(hay, at + piece.len(), rest, out) {
                return true;
            }
            out.pop();
            from = at + 1;
            if piece.is_empty() {
                // An empty literal between two variables: one split is as good as another.
                return false;
            }
        }
        false
    }
    let mut out = Vec::with_capacity(vars);
    if solve(hay, pieces[0].len(), &pieces[1..], &mut out) {
        Some(out.into_iter().map(str::to_string).collect())
    } else {
        None
    }
}

/// The byte range of the first placeholder in `s`.
fn find_placeholder(s: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = s[from..].find('<').map(|i| from + i) {
        let rest = &s[i..];
        if rest.starts_with(WILDCARD) {
            return Some((i, i + WILDCARD.len()));
        }
        if rest.starts_with("<:")
            && let Some(j) = rest[2..].find(":>")
            && is_placeholder(&rest[..j + 4])
        {
            return Some((i, i + j + 4));
        }
        from = i + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn miner() -> TemplateMiner {
        DrainParams::new().check().unwrap().miner()
    }

    #[test]
    fn learns_templates_and_reports_changes() {
        let mut m = miner();
        let a = m.learn("user logged in from web as /home/a");
        assert_eq!(a.change, Change::New);
        let b = m.learn("user logged in from web as /home/b");
        assert_eq!((b.id, b.change), (a.id, Change::Changed));
        let c = m.learn("user logged in from web as /home/c");
        assert_eq!((c.id, c.change), (a.id, Change::Unchanged));
        assert_eq!(
            m.template(a.id).unwrap(),
            "user logged in from web as /home/<*>"
        );
        let d = m.learn("disk full on volume data");
        assert_eq!(d.change, Change::New);
        assert_ne!(d.id, a.id);
        let t = m.templates();
        assert_eq!(t[0].count, 3);
        assert_eq!(t[1].count, 1);
        assert_eq!(m.count(a.id), 3);
    }

    #[test]
    fn distinct_words_split_templates_unless_echoed() {
        let mut m = miner();
        let a = m.learn("block stored as bytes in memory");
        let b = m.learn("block stored as values in memory");
        assert_ne!(a.id, b.id);
        let c = m.learn("loading hive SYSTEM from /config/SYSTEM now");
        let d = m.learn("loading hive SOFTWARE from /config/SOFTWARE now");
        assert_eq!(c.id, d.id);
        assert_eq!(
            m.template(c.id).unwrap(),
            "loading hive <*> from /config/<*> now"
        );
        // A masked number meeting a symbol is another event too.
        let e = m.learn("fan speed 3500 rpm");
        let f = m.learn("fan speed **** rpm");
        assert_ne!(e.id, f.id);
    }

    #[test]
    fn different_lengths_never_share_a_template() {
        let mut m = miner();
        let a = m.learn("job started");
        let b = m.learn("job started twice");
        assert_ne!(a.id, b.id);
    }

    #[test]
    fn match_is_inference_only() {
        let mut m = miner();
        let a = m.learn("user logged in as /home/a");
        m.learn("user logged in as /var/b");
        let before = m.templates();
        assert_eq!(m.match_line("user logged in as /opt/z"), Some(a.id));
        assert_eq!(m.match_line("user logged out as /opt/z"), None);
        assert_eq!(m.match_line("totally different"), None);
        assert_eq!(m.templates(), before);
    }

    #[test]
    fn parameters_are_extracted() {
        let mut m = miner();
        let a = m.learn("fetched 12 rows from db1 in 5 ms");
        m.learn("fetched 7 rows from db2 in 15 ms");
        assert_eq!(
            m.template(a.id).unwrap(),
            "fetched <:NUM:> rows from <*> in <:NUM:> ms"
        );
        assert_eq!(
            m.parameters(a.id, "fetched 9 rows  from orders in 3 ms")
                .unwrap(),
            vec!["9", "orders", "3"]
        );
        assert_eq!(m.parameters(a.id, "nothing like it"), None);
        assert_eq!(
            extract_parameters("blk_<:NUM:> to <:IP:>:<*>", "blk_-7 to 10.0.0.1:80").unwrap(),
            vec!["-7", "10.0.0.1", "80"]
        );
        assert_eq!(extract_parameters("a <*><*> b", "a xy b").unwrap().len(), 2);
        assert_eq!(extract_parameters("plain", "plain").unwrap().len(), 0);
        assert_eq!(extract_parameters("plain", "other"), None);
    }

    fn corpus() -> Vec<String> {
        let mut lines = Vec::new();
        for i in 0..300u64 {
            let u = ["alice", "bob", "carol", "dave"][(i % 4) as usize];
            lines.push(format!("user {u} logged in from 10.0.{}.{}", i % 7, i % 13));
            lines.push(format!(
                "request {} took {} ms status {}",
                i * 7,
                i % 50,
                200 + i % 3
            ));
            if i % 5 == 0 {
                lines.push(format!(
                    "cache {} evicted entry key{}x{}",
                    ["a", "b"][(i % 2) as usize],
                    i,
                    i * 3
                ));
            }
            if i % 11 == 0 {
                lines.push(format!(
                    "worker {} restarted after error code E{}",
                    i % 4,
                    i % 9
                ));
            }
            lines.push(format!("svc-{} heartbeat ok", i % 17));
        }
        lines
    }

    #[test]
    fn snapshot_restore_then_continue_equals_uninterrupted() {
        for cap in [None, Some(4)] {
            let mut p = DrainParams::new().mask(MaskSpec::named("KEY", r"key\d+"));
            if let Some(c) = cap {
                p = p.max_clusters(c);
            }
            let drain = p.check().unwrap();
            let lines = corpus();
            let mut whole = drain.miner();
            let all: Vec<LearnOutcome> = lines.iter().map(|l| whole.learn(l)).collect();
            let mut first = drain.miner();
            let half = lines.len() / 2;
            let mut resumed: Vec<LearnOutcome> =
                lines[..half].iter().map(|l| first.learn(l)).collect();
            let snap = serde_json::to_string(&first).unwrap();
            drop(first);
            let mut second: TemplateMiner = serde_json::from_str(&snap).unwrap();
            resumed.extend(lines[half..].iter().map(|l| second.learn(l)));
            assert_eq!(all, resumed, "cap {cap:?}");
            assert_eq!(whole.templates(), second.templates());
        }
    }

    #[test]
    fn parallel_equals_sequential() {
        let lines = corpus();
        let drain = DrainParams::new().check().unwrap();
        let mut seq = drain.miner();
        let a: Vec<LearnOutcome> = lines.iter().map(|l| seq.learn(l)).collect();
        let (par, b) = drain.learn_parallel(&lines);
        assert_eq!(a, b);
        assert_eq!(seq.templates(), par.templates());
    }

    #[test]
    fn cluster_cap_evicts_least_recently_used_and_ids_stay_unique() {
        let mut m = DrainParams::new().max_clusters(2).check().unwrap().miner();
        let a = m.learn("alpha one");
        let b = m.learn("beta two three");
        m.learn("alpha one");
        let c = m.learn("gamma four five six");
        assert_eq!(m.len(), 2);
        assert!(m.template(b.id).is_none(), "beta was least recently used");
        assert!(m.template(a.id).is_some() && m.template(c.id).is_some());
        let b2 = m.learn("beta two three");
        assert_eq!(b2.change, Change::New);
        assert!(b2.id > c.id, "ids are never reused");
    }

    /// Lines of random bytes, as a binary file read as text gives: nearly every one is new.
    fn random_lines(n: usize, seed: u64) -> Vec<Vec<u8>> {
        let mut x = seed;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..n)
            .map(|_| {
                let len = 20 + (next() % 200) as usize;
                (0..len)
                    .map(|_| {
                        // Some spaces, so lines have several tokens; never a newline.
                        let b = (next() % 256) as u8;
                        if b.is_multiple_of(16) {
                            b' '
                        } else if b == b'\n' {
                            b'x'
                        } else {
                            b
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn random_input_keeps_templates_at_the_cap_and_work_per_line_bounded() {
        let cap = 300;
        let mut m = DrainParams::new()
            .max_clusters(cap)
            .check()
            .unwrap()
            .miner();
        let lines = random_lines(5_000, 7);
        let mut most = 0;
        for (i, l) in lines.iter().enumerate() {
            let before = m.comparisons();
            m.learn_bytes(l);
            most = most.max(m.comparisons() - before);
            assert!(m.len() <= cap, "line {i}: {} templates", m.len());
        }
        assert_eq!(m.len(), cap, "random lines fill the cap");
        assert!(
            most <= (LEAF_CAPACITY + SECOND_CHANCE_SCAN) as u64,
            "{most} comparisons for one line"
        );
        // The tree keeps no branch of evicted templates: as many leaf entries as templates'
        // leaves, and the second-chance lists hold only held templates.
        let listed: usize = m.state.by_len.values().map(BTreeSet::len).sum();
        assert_eq!(listed, m.len());
        fn leaves(node: &Node) -> usize {
            node.clusters.len() + node.children.values().map(leaves).sum::<usize>()
        }
        let in_tree: usize = m.state.roots.values().map(leaves).sum();
        let linked: usize = m.state.clusters.values().map(|c| c.leaves.len()).sum();
        assert_eq!(in_tree, linked);

        // With the default cap, the leaves and the second chance bound the work too.
        let mut d = DrainParams::new().check().unwrap().miner();
        let mut most = 0;
        for l in &random_lines(3_000, 11) {
            let before = d.comparisons();
            d.learn_bytes(l);
            most = most.max(d.comparisons() - before);
        }
        assert!(d.len() <= DEFAULT_MAX_CLUSTERS);
        assert!(most <= (LEAF_CAPACITY + SECOND_CHANCE_SCAN) as u64);
    }

    #[test]
    fn a_full_leaf_gives_way_to_a_new_template() {
        // Lines of one length whose first tokens are all variables share one leaf.
        fn word(mut i: usize) -> String {
            let mut w = String::from("w");
            for _ in 0..3 {
                w.push((b'a' + (i % 26) as u8) as char);
                i /= 26;
            }
            w
        }
        let mut m = miner();
        let ids: Vec<TemplateId> = (0..LEAF_CAPACITY + 10)
            .map(|i| {
                let w = word(i);
                m.learn(&format!("{i} {i} {w} {w}b {w}c")).id
            })
            .collect();
        let root = &m.state.roots[&5];
        let leaf = &root.children[WILDCARD].children[WILDCARD];
        assert_eq!(leaf.clusters.len(), LEAF_CAPACITY);
        assert_eq!(m.len(), LEAF_CAPACITY, "the oldest gave way");
        assert!(m.template(ids[0]).is_none());
        assert!(m.template(ids[LEAF_CAPACITY + 9]).is_some());
    }

    #[test]
    fn max_children_routes_overflow_to_wildcard() {
        let mut m = DrainParams::new()
            .max_children(3)
            .depth(3)
            .check()
            .unwrap()
            .miner();
        let ids: Vec<_> = ["/a x", "/b x", "/c x", "/d x", "/e x"]
            .iter()
            .map(|l| m.learn(l).id)
            .collect();
        // Two named branches, then everything shares the wildcard branch and its template.
        assert_eq!(ids[3], ids[4]);
        assert_eq!(m.template(ids[3]).unwrap(), "/<*> x");
    }

    #[test]
    fn malformed_lines_are_mined_not_lost() {
        let mut m = DrainParams::new()
            .log_format("<Level>: <Content>")
            .check()
            .unwrap()
            .miner();
        let ok = m.learn("INFO: started 3 workers");
        assert!(ok.header_matched);
        let bad = m.learn("garbage without header");
        assert!(!bad.header_matched);
        assert_eq!(m.template(bad.id).unwrap(), "garbage without header");
        let utf = m.learn_bytes(b"WARN: bad \xff\xfe bytes");
        assert!(utf.header_matched);
        assert_eq!(m.template(utf.id).unwrap(), "bad \u{fffd}\u{fffd} bytes");
        let huge = format!("INFO: {}", "word ".repeat(200_000));
        let h = m.learn(&huge);
        assert_eq!(
            m.template(h.id).unwrap().len(),
            "word ".repeat(200_000).len() - 1
        );
        let one = format!("INFO: {}", "x".repeat(1 << 20));
        let o = m.learn(&one);
        assert_eq!(o.change, Change::New);
        let e = m.learn("");
        assert_eq!(m.template(e.id).unwrap(), "");
        assert_eq!(m.learn("").id, e.id);
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(DrainParams::new().depth(2).check().is_err());
        assert!(DrainParams::new().sim_threshold(0.0).check().is_err());
        assert!(DrainParams::new().sim_threshold(f64::NAN).check().is_err());
        assert!(DrainParams::new().max_children(1).check().is_err());
        assert!(DrainParams::new().max_clusters(0).check().is_err());
        assert!(DrainParams::new().log_format("<Date>").check().is_err());
        assert!(
            DrainParams::new()
                .mask(MaskSpec::anonymous("["))
                .check()
                .is_err()
        );
        let snap = r#"{"params": {"depth": 1}, "state": {}}"#;
        assert!(serde_json::from_str::<TemplateMiner>(snap).is_err());
    }
}
