//! PCA on per-window template-count vectors: windows whose mix of templates the usual mixes do
//! not explain (Xu et al., SOSP 2009; as evaluated by He et al., "Experience Report: System
//! Log Analysis for Anomaly Detection", ISSRE 2016, and implemented in loglizer).
//!
//! Each window is a vector of template counts. On the trailing `history` windows the counts
//! are centred by the history's mean (and, with `idf`, first weighted by the templates'
//! inverse document frequency `ln(N / df)`, `N` windows, `df` of them holding the template,
//! as loglizer does for sessions). The leading principal components that explain `variance` (95 %) of the
//! variance span the normal space; a window's squared prediction error `SPE = ‖(I − PPᵀ) z‖²`
//! is its part outside it. The window is abnormal when SPE exceeds the Q-statistic threshold
//! `Q_α` of Jackson and Mudholkar (1979), computed from the eigenvalues of the residual space
//! (`α` = 0.001 by default). Where their approximation breaks down (`h₀ ≤ 0`, a residual
//! spectrum dominated by one value), Box's `g χ²_h` approximation is used instead.
//!
//! A template unseen in the history (or beyond the `max_templates` most frequent) is outside
//! the normal space by construction: its count (weighted `ln N` with idf, as if seen once)
//! goes to the residual whole.
//!
//! The model is fitted first once `min_windows` windows are held, then every `refit_every`
//! windows; a window is always scored by a model fitted on earlier windows only, so the batch
//! run and the streaming run are the same computation.
//!
//! The eigendecomposition is linfa-linalg's symmetric `eigh` (pure Rust, also used by
//! `aiops_detect::pca`; no LAPACK to install). Its O(d³) cost is bounded by capping the dimension
//! at `max_templates` (200: a few ms per refit).

use std::collections::VecDeque;

use linfa_linalg::eigh::Eigh;
use ndarray::Array2;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

use crate::drain::TemplateId;
use crate::error::{LogError, Result};

/// Unchecked parameters of [`CountPca`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CountPcaParams {
    history: usize,
    min_windows: usize,
    refit_every: usize,
    variance: f64,
    alpha: f64,
    max_templates: usize,
    idf: bool,
}

impl Default for CountPcaParams {
    fn default() -> Self {
        Self {
            history: 500,
            min_windows: 20,
            refit_every: 20,
            variance: 0.95,
            alpha: 0.001,
            max_templates: 200,
            idf: false,
        }
    }
}

impl CountPcaParams {
    /// Defaults: fit on the last 500 windows, first after 20, refit every 20, components for
    /// 95 % of the variance, α = 0.001, at most 200 template dimensions.
    pub fn new() -> Self {
        Self::default()
    }

    crate::fields!(
        /// Windows the model is fitted on (>= 2).
        history: usize
    );

    crate::fields!(
        /// Windows held before the first fit (2..=history).
        min_windows: usize
    );

    crate::fields!(
        /// Windows between two fits (>= 1).
        refit_every: usize
    );

    crate::fields!(
        /// Share of the variance the normal space explains (0 < variance < 1).
        variance: f64
    );

    crate::fields!(
        /// False-alarm rate of the Q-statistic threshold (0 < alpha < 0.5).
        alpha: f64
    );

    crate::fields!(
        /// Template dimensions kept, the most frequent in the history (>= 1).
        max_templates: usize
    );

    crate::fields!(
        /// Whether counts are weighted by inverse document frequency, as loghub's sessions
        /// are in loglizer. Off by default: in time windows the busiest templates are in every
        /// window, where idf weighs them 0 and hides a broken ratio between them.
        idf: bool
    );
}

impl CountPcaParams {
    /// Validates the parameters: the checked [`CountPca`], or the first problem found.
    pub fn check(&self) -> Result<CountPca> {
        let bad = |name, reason: String| Err(LogError::InvalidParameter { name, reason });
        if self.history < 2 {
            return bad(
                "pca.history",
                format!("must be at least 2, got {}", self.history),
            );
        }
        if !(2..=self.history).contains(&self.min_windows) {
            return bad(
                "pca.min_windows",
                format!("must be in 2..={}, got {}", self.history, self.min_windows),
            );
        }
        if self.refit_every == 0 {
            return bad("pca.refit_every", "must be at least 1".to_string());
        }
        if !(self.variance > 0.0 && self.variance < 1.0) {
            return bad(
                "pca.variance",
                format!("must be in (0, 1), got {}", self.variance),
            );
        }
        if !(self.alpha > 0.0 && self.alpha < 0.5) {
            return bad(
                "pca.alpha",
                format!("must be in (0, 0.5), got {}", self.alpha),
            );
        }
        if self.max_templates == 0 {
            return bad("pca.max_templates", "must be at least 1".to_string());
        }
        Ok(CountPca {
            params: self.clone(),
        })
    }
}

/// Validated parameters of the window-count PCA.
#[derive(Debug, Clone, PartialEq)]
pub struct CountPca {
    params: CountPcaParams,
}

impl CountPca {
    /// The parameters it was checked from.
    pub fn params(&self) -> &CountPcaParams {
        &self.params
    }

    /// A fresh streaming state.
    pub fn state(&self) -> CountPcaState {
        CountPcaState {
            params: self.params.clone(),
            rows: VecDeque::new(),
            since_fit: 0,
            model: None,
        }
    }
}

/// The SPE of one window against the normal space.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpeScore {
    /// Squared prediction error of the window.
    pub spe: f64,
    /// The Q-statistic threshold `Q_α`.
    pub threshold: f64,
    /// The template with the largest share of the SPE, and that share (0 to 1).
    pub top: Option<(TemplateId, f64)>,
}

impl SpeScore {
    /// Whether the window is abnormal (`spe > threshold`).
    pub fn is_anomaly(&self) -> bool {
        self.spe > self.threshold
    }
}

/// Streaming state: the trailing windows and the model fitted on them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountPcaState {
    params: CountPcaParams,
    /// Sparse rows, sorted by template id.
    rows: VecDeque<Vec<(TemplateId, u32)>>,
    since_fit: usize,
    model: Option<Model>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Model {
    /// Template of each dimension, sorted.
    ids: Vec<TemplateId>,
    weight: Vec<f64>,
    mean: Vec<f64>,
    /// d × k, row-major.
    basis: Vec<f64>,
    k: usize,
    unseen_weight: f64,
    threshold: f64,
}

impl CountPcaState {
    /// Whether a model is fitted.
    pub fn is_fitted(&self) -> bool {
        self.model.is_some()
    }

    /// Scores a window's template counts against the model fitted on earlier windows
    /// (`None` before the first fit), then adds it to the history and refits on schedule.
    /// `counts` may be in any order; ids are unique.
    pub fn update(&mut self, counts: &[(TemplateId, u32)]) -> Option<SpeScore> {
        let mut row = counts.to_vec();
        row.sort_unstable_by_key(|&(id, _)| id);
        let score = self.model.as_ref().map(|m| m.score(&row));
        self.rows.push_back(row);
        while self.rows.len() > self.params.history {
            self.rows.pop_front();
        }
        self.since_fit += 1;
        if self.rows.len() >= self.params.min_windows
            && (self.model.is_none() || self.since_fit >= self.params.refit_every)
        {
            self.model = Some(Model::fit(&self.rows, &self.params));
            self.since_fit = 0;
        }
        score
    }
}

impl Model {
    fn fit(rows: &VecDeque<Vec<(TemplateId, u32)>>, params: &CountPcaParams) -> Model {
        let n = rows.len();
        let nf = n as f64;
        // Document frequency and total count per template.
        let mut stats: FxHashMap<TemplateId, (u64, u64)> = FxHashMap::default();
        for row in rows {
            for &(id, c) in row {
                let s = stats.entry(id).or_default();
                s.0 += 1;
                s.1 += u64::from(c);
            }
        }
        let mut chosen: Vec<(TemplateId, u64, u64)> = stats
            .into_iter()
            .map(|(id, (df, tot))| (id, df, tot))
            .collect();
        chosen.sort_unstable_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        chosen.truncate(params.max_templates);
        chosen.sort_unstable_by_key(|c| c.0);
        let d = chosen.len();
        let ids: Vec<TemplateId> = chosen.iter().map(|c| c.0).collect();
        let weight: Vec<f64> = chosen
            .iter()
            .map(|c| {
                if params.idf {
                    (nf / c.1 as f64).ln()
                } else {
                    1.0
                }
            })
            .collect();
        let dense = |row: &[(TemplateId, u32)]| {
            let mut x = vec![0.0; d];
            for &(id, c) in row {
                if let Ok(j) = ids.binary_search(&id) {
                    x[j] = f64::from(c) * weight[j];
                }
            }
            x
        };
        let mut data = Array2::<f64>::zeros((n, d));
        for (i, row) in rows.iter().enumerate() {
            for (j, v) in dense(row).into_iter().enumerate() {
                data[[i, j]] = v;
            }
        }
        let mean: Vec<f64> = (0..d).map(|j| data.column(j).sum() / nf).collect();
        for mut row in data.rows_mut() {
            for (v, m) in row.iter_mut().zip(&mean) {
                *v -= m;
            }
        }
        let cov = data.t().dot(&data) / (nf - 1.0).max(1.0);
        let (k, basis, residual_eigs, total) = match cov.eigh() {
            Ok((vals, vecs)) if d > 0 => {
                let mut order: Vec<usize> = (0..d).collect();
                order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
                let eig: Vec<f64> = order.iter().map(|&o| vals[o].max(0.0)).collect();
                let total: f64 = eig.iter().sum();
                let mut k = 0;
                let mut acc = 0.0;
                while k < d && acc < params.variance * total {
                    acc += eig[k];
                    k += 1;
                }
                let mut basis = vec![0.0; d * k];
                for (c, &o) in order.iter().take(k).enumerate() {
                    for i in 0..d {
                        basis[i * k + c] = vecs[[i, o]];
                    }
                }
                (k, basis, eig[k..].to_vec(), total)
            }
            // No template or a failed decomposition: no normal space, every deviation from
            // the mean is residual.
            _ => (0, Vec::new(), cov.diag().to_vec(), cov.diag().sum()),
        };
        let threshold = q_threshold(&residual_eigs, params.alpha)
            .max(1e-9 * (1.0 + total))
            .max(f64::MIN_POSITIVE);
        Model {
            ids,
            weight,
            mean,
            basis,
            k,
            unseen_weight: if params.idf { nf.ln().max(1.0) } else { 1.0 },
            threshold,
        }
    }

    fn score(&self, row: &[(TemplateId, u32)]) -> SpeScore {
        let k = self.k;
        let mut z: Vec<f64> = self.mean.iter().map(|m| -m).collect();
        let mut unseen: Vec<(TemplateId, f64)> = Vec::new();
        for &(id, c) in row {
            match self.ids.binary_search(&id) {
                Ok(j) => z[j] += f64::from(c) * self.weight[j],
                Err(_) => unseen.push((id, (f64::from(c) * self.unseen_weight).powi(2))),
            }
        }
        // Row i of the d × k basis (empty when no component is kept).
        let basis_row = |i: usize| &self.basis[i * k..(i + 1) * k];
        let mut proj = vec![0.0; k];
        for (i, zi) in z.iter().enumerate() {
            for (p, b) in proj.iter_mut().zip(basis_row(i)) {
                *p += b * zi;
            }
        }
        let mut spe = 0.0;
        let mut top: Option<(TemplateId, f64)> = None;
        let mut consider = |id: TemplateId, e: f64| {
            if top.is_none_or(|(_, best)| e > best) {
                top = Some((id, e));
            }
        };
        for (i, (zi, &id)) in z.iter().zip(&self.ids).enumerate() {
            let fitted: f64 = basis_row(i).iter().zip(&proj).map(|(b, p)| b * p).sum();
            let e = (zi - fitted).powi(2);
            spe += e;
            consider(id, e);
        }
        for &(id, e) in &unseen {
            spe += e;
            consider(id, e);
        }
        SpeScore {
            spe,
            threshold: self.threshold,
            top: top
                .filter(|_| spe > 0.0)
                .map(|(id, e)| (id, (e / spe).clamp(0.0, 1.0))),
        }
    }
}

/// The Q-statistic threshold of Jackson and Mudholkar for residual eigenvalues `eig` at
/// false-alarm rate `alpha`, or Box's `g χ²_h` where theirs does not apply; 0 when the residual
/// space holds no variance.
pub fn q_threshold(eig: &[f64], alpha: f64) -> f64 {
    let t1: f64 = eig.iter().sum();
    let t2: f64 = eig.iter().map(|l| l * l).sum();
    let t3: f64 = eig.iter().map(|l| l * l * l).sum();
    if t1 <= 0.0 || t2 <= 0.0 {
        return 0.0;
    }
    let h0 = 1.0 - 2.0 * t1 * t3 / (3.0 * t2 * t2);
    let c = Normal::standard().inverse_cdf(1.0 - alpha);
    if h0 > 1e-6 {
        let inner = c * (2.0 * t2 * h0 * h0).sqrt() / t1 + 1.0 + t2 * h0 * (h0 - 1.0) / (t1 * t1);
        if inner > 0.0 {
            return t1 * inner.powf(1.0 / h0);
        }
    }
    // Box (1954): Q ≈ g χ²_h with the same first two moments.
    let g = t2 / t1;
    let h = t1 * t1 / t2;
    match ChiSquared::new(h) {
        Ok(chi) => g * chi.inverse_cdf(1.0 - alpha),
        Err(_) => t1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random sequence in [0, 1).
    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Windows where templates 1, 2 and 3 come in a fixed 1:2:1 ratio (a request path) and
    /// template 4 in varying numbers on its own.
    fn normal_window(seed: &mut u64) -> Vec<(TemplateId, u32)> {
        let load = 5 + (lcg(seed) * 10.0) as u32;
        let other = (lcg(seed) * 4.0) as u32;
        vec![(1, load), (2, 2 * load), (3, load), (4, other)]
    }

    #[test]
    fn flags_a_broken_ratio_and_an_unseen_template() {
        let det = CountPcaParams::new().min_windows(50).check().unwrap();
        let mut st = det.state();
        let mut seed = 7;
        let mut flagged = 0;
        for i in 0..200 {
            let s = st.update(&normal_window(&mut seed));
            assert_eq!(s.is_some(), i >= 50, "scored from the first fit on");
            flagged += usize::from(s.is_some_and(|s| s.is_anomaly()));
        }
        assert!(flagged <= 2, "false alarms on normal windows: {flagged}");
        // Requests start without their second step: 1 and 3 but no 2.
        let s = st.update(&[(1, 10), (2, 0), (3, 10), (4, 1)]).unwrap();
        assert!(s.is_anomaly(), "{s:?}");
        assert!(
            (1..=3).contains(&s.top.unwrap().0),
            "the path drives the SPE: {s:?}"
        );
        // A template never seen.
        let s = st.update(&[(1, 8), (2, 16), (3, 8), (9, 6)]).unwrap();
        assert!(s.is_anomaly() && s.top.unwrap().0 == 9, "{s:?}");
        // A normal window after them is still normal.
        let s = st.update(&[(1, 9), (2, 18), (3, 9), (4, 2)]).unwrap();
        assert!(!s.is_anomaly(), "{s:?}");
    }

    #[test]
    fn snapshot_continues_the_same() {
        let det = CountPcaParams::new()
            .min_windows(10)
            .refit_every(7)
            .check()
            .unwrap();
        let mut a = det.state();
        let mut seed = 3;
        let rows: Vec<_> = (0..80).map(|_| normal_window(&mut seed)).collect();
        let whole: Vec<_> = rows.iter().map(|r| a.update(r)).collect();
        let mut b = det.state();
        let mut out = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            if i == 33 {
                let json = serde_json::to_string(&b).unwrap();
                b = serde_json::from_str(&json).unwrap();
            }
            out.push(b.update(r));
        }
        assert_eq!(whole, out);
    }

    #[test]
    fn q_threshold_matches_a_chi_square_for_equal_eigenvalues() {
        // Equal unit eigenvalues: Q is χ² with 10 degrees of freedom; its 0.999 quantile is
        // 29.588. Jackson-Mudholkar approximates it within a few percent.
        let q = q_threshold(&[1.0; 10], 0.001);
        assert!((q - 29.588).abs() < 1.5, "{q}");
        assert_eq!(q_threshold(&[], 0.01), 0.0);
        assert_eq!(q_threshold(&[0.0, 0.0], 0.01), 0.0);
        assert!(q_threshold(&[5.0, 1e-9], 0.01) > 5.0);
    }

    #[test]
    fn bad_params() {
        for p in [
            CountPcaParams::new().history(1),
            CountPcaParams::new().min_windows(1),
            CountPcaParams::new().min_windows(600),
            CountPcaParams::new().refit_every(0),
            CountPcaParams::new().variance(1.0),
            CountPcaParams::new().alpha(0.0),
            CountPcaParams::new().max_templates(0),
        ] {
            assert!(matches!(p.check(), Err(LogError::InvalidParameter { .. })));
        }
    }
}
