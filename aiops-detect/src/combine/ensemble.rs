//! Ensemble: several detectors, each calibrated per series, combined into one score.
//!
//! Raw scores of different detectors live on different scales (σ, probabilities, CoDisp), so
//! each member's score goes through its own [`Likelihood`] calibrator and [`log_score`], which
//! map "how unusual for this detector on this series" to [0, 1]; the ensemble then takes the
//! maximum (any member is alarmed) or the mean (members agree) of those.
//!
//! Parameters come as JSON, as in `aiops detect -d ensemble -p 'members=[{"detector":
//! "zscore"}, {"detector": "bocpd", "params": {"lambda": 100}}]' -p combine=mean`.
//!
//! The streaming state is saved as each member's own snapshot plus the calibrators, and
//! restored into an ensemble built with the same members.

use aiops_core::{Severity, TimestampMs};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::combine::likelihood::{Likelihood, LikelihoodParams, log_score};
use crate::common::score_severity::tiered;
use crate::detector::{
    Detections, Detector, OnlineDetector, PROGRESS_EVERY, ParamGuard, PointScore,
};
use crate::error::{DetectError, Result};
use crate::registry;

/// How member scores are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// The largest calibrated score.
    #[default]
    Max,
    /// The mean calibrated score.
    Mean,
}

/// One member: a registry name and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Registry name.
    pub detector: String,
    /// Parameters (as for `-p`).
    #[serde(default)]
    pub params: Map<String, Value>,
}

/// Unchecked parameters of [`Ensemble`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnsembleParams {
    /// The members (at least one).
    pub members: Vec<Member>,
    /// How calibrated scores combine.
    pub combine: Combine,
    /// Calibration of each member.
    pub calibration: LikelihoodParams,
    /// Combined score at which a point is flagged, in (0, 1].
    pub threshold: f64,
}

impl Default for EnsembleParams {
    fn default() -> Self {
        let m = |d: &str| Member {
            detector: d.to_string(),
            params: Map::new(),
        };
        Self {
            members: vec![m("zscore"), m("bocpd"), m("novelty")],
            combine: Combine::Max,
            // No averaging: a short-term mean would delay every alarm by its length.
            calibration: LikelihoodParams {
                averaging: 1,
                ..LikelihoodParams::default()
            },
            threshold: 0.5,
        }
    }
}

impl ParamGuard for EnsembleParams {
    type Checked = Ensemble;

    fn check(&self) -> Result<Ensemble> {
        if self.members.is_empty() {
            return Err(DetectError::InvalidParameter {
                name: "members",
                reason: "an ensemble needs at least one member".into(),
            });
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(DetectError::InvalidParameter {
                name: "threshold",
                reason: format!("must be in (0, 1], got {}", self.threshold),
            });
        }
        self.calibration.build()?;
        let members = self
            .members
            .iter()
            .map(|m| {
                if m.detector == "ensemble" {
                    return Err(DetectError::InvalidParameter {
                        name: "members",
                        reason: "an ensemble cannot contain an ensemble".into(),
                    });
                }
                registry::build(&m.detector, &m.params)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Ensemble {
            params: self.clone(),
            members,
        })
    }
}

/// Validated ensemble.
#[derive(Debug)]
pub struct Ensemble {
    params: EnsembleParams,
    members: Vec<Box<dyn Detector>>,
}

impl Ensemble {
    /// A fresh streaming state.
    pub fn online_state(&self) -> EnsembleOnline {
        EnsembleOnline {
            members: self.members.iter().map(|m| m.online()).collect(),
            calibrators: self.calibrators(),
            combine: self.params.combine,
            threshold: self.params.threshold,
        }
    }

    fn calibrators(&self) -> Vec<Likelihood> {
        let fresh = self
            .params
            .calibration
            .build()
            .unwrap_or_else(|_| unreachable!("validated in check"));
        vec![fresh; self.members.len()]
    }
}

fn combine(how: Combine, calibrated: &[f64]) -> f64 {
    match how {
        Combine::Max => calibrated.iter().copied().fold(0.0, f64::max),
        Combine::Mean => calibrated.iter().sum::<f64>() / calibrated.len().max(1) as f64,
    }
}

crate::detector::describe!(
    Ensemble,
    EnsembleParams,
    "ensemble",
    "several detectors, each calibrated per series, combined by max or mean",
    "
    members: JSON list of {\"detector\": name, \"params\": {...}} (default zscore, bocpd, novelty)
    combine: max | mean (default max)
    calibration: JSON likelihood settings {learning, history, averaging, min_variance}
    threshold: combined score at which a point is flagged (default 0.5)
"
);

impl Detector for Ensemble {
    fn name(&self) -> &'static str {
        <Self as crate::detector::Described>::NAME
    }

    fn severity(&self, score: f64) -> Severity {
        tiered(score, self.params.threshold, 0.7, 0.9)
    }

    fn online(&self) -> Box<dyn OnlineDetector> {
        Box::new(self.online_state())
    }

    /// Each member runs its own batch; calibration and combination then stream over the
    /// columns, exactly as [`EnsembleOnline::update`] does point by point.
    fn detect_with_progress(
        &self,
        timestamps: &[TimestampMs],
        values: &[f64],
        progress: &mut dyn FnMut(usize),
    ) -> Result<Detections> {
        let runs = self
            .members
            .iter()
            .map(|m| m.detect(timestamps, values))
            .collect::<Result<Vec<_>>>()?;
        let mut cal = self.calibrators();
        let mut out = Detections::with_capacity(values.len());
        let mut scores = vec![0.0; runs.len()];
        for i in 0..values.len() {
            for (k, r) in runs.iter().enumerate() {
                scores[k] = log_score(cal[k].update(r.scores[i]));
            }
            let s = combine(self.params.combine, &scores);
            out.push(PointScore::at_least(s, self.params.threshold));
            if (i + 1) % PROGRESS_EVERY == 0 {
                progress(i + 1);
            }
        }
        progress(values.len());
        Ok(out)
    }
}

/// Streaming state of [`Ensemble`].
#[derive(Debug)]
pub struct EnsembleOnline {
    members: Vec<Box<dyn OnlineDetector>>,
    calibrators: Vec<Likelihood>,
    combine: Combine,
    threshold: f64,
}

impl OnlineDetector for EnsembleOnline {
    fn update(&mut self, timestamp: TimestampMs, value: f64) -> Result<PointScore> {
        // The first member checks order and finiteness before anyone's state changes.
        let mut raw = Vec::with_capacity(self.members.len());
        for m in &mut self.members {
            raw.push(m.update(timestamp, value)?.score);
        }
        let calibrated: Vec<f64> = raw
            .iter()
            .zip(&mut self.calibrators)
            .map(|(&r, c)| log_score(c.update(r)))
            .collect();
        let s = combine(self.combine, &calibrated);
        Ok(PointScore::at_least(s, self.threshold))
    }

    fn reset(&mut self) {
        for m in &mut self.members {
            m.reset();
        }
        for c in &mut self.calibrators {
            *c = c.fresh();
        }
    }

    fn snapshot(&self) -> Result<String> {
        let members = self
            .members
            .iter()
            .map(|m| m.snapshot())
            .collect::<Result<Vec<_>>>()?;
        serde_json::to_string(&(members, &self.calibrators))
            .map_err(|e| DetectError::Snapshot(e.to_string()))
    }

    fn restore(&mut self, snapshot: &str) -> Result<()> {
        let (members, calibrators): (Vec<String>, Vec<Likelihood>) =
            serde_json::from_str(snapshot).map_err(|e| DetectError::Snapshot(e.to_string()))?;
        if members.len() != self.members.len() || calibrators.len() != self.calibrators.len() {
            return Err(DetectError::Snapshot(format!(
                "the snapshot has {} members, this ensemble {}",
                members.len(),
                self.members.len()
            )));
        }
        // Keep the current states, so that a failure part-way leaves everything unchanged.
        let backup = self
            .members
            .iter()
            .map(|m| m.snapshot())
            .collect::<Result<Vec<_>>>()?;
        for (k, text) in members.iter().enumerate() {
            if let Err(e) = self.members[k].restore(text) {
                for (m, old) in self.members.iter_mut().zip(&backup).take(k) {
                    m.restore(old)?;
                }
                return Err(e);
            }
        }
        self.calibrators = calibrators;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> (Vec<i64>, Vec<f64>) {
        let mut s: u64 = 9;
        let mut v: Vec<f64> = (0..1500)
            .map(|i| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                10.0 + ((s >> 11) as f64 / (1u64 << 53) as f64) + (i % 50) as f64 * 0.01
            })
            .collect();
        v[1200] += 30.0;
        ((0..1500).collect(), v)
    }

    #[test]
    fn combines_calibrated_members_and_flags_the_spike() {
        let (ts, v) = series();
        for combine in [Combine::Max, Combine::Mean] {
            let det = EnsembleParams {
                combine,
                ..Default::default()
            }
            .check()
            .unwrap();
            let d = det.detect(&ts, &v).unwrap();
            assert!(d.is_anomaly[1200], "{combine:?}");
            let mut sorted = d.scores.clone();
            sorted.sort_by(f64::total_cmp);
            let p99 = sorted[sorted.len() * 99 / 100];
            assert!(
                d.scores[1200] >= p99,
                "{combine:?}: {} < {p99}",
                d.scores[1200]
            );
            assert!(d.scores.iter().all(|s| (0.0..=1.0).contains(s)));
        }
    }

    #[test]
    fn online_equals_batch() {
        let (ts, v) = series();
        let det = EnsembleParams::default().check().unwrap();
        let batch = det.detect(&ts, &v).unwrap();
        let mut online = det.online_state();
        for i in 0..v.len() {
            assert_eq!(
                online.update(ts[i], v[i]).unwrap(),
                batch.point(i),
                "point {i}"
            );
        }
        online.reset();
        assert_eq!(online.update(ts[0], v[0]).unwrap(), batch.point(0));

        // A snapshot taken mid-stream restores into a fresh ensemble that continues alike.
        let mut a = det.online_state();
        for i in 0..700 {
            a.update(ts[i], v[i]).unwrap();
        }
        let mut b = det.online_state();
        b.restore(&a.snapshot().unwrap()).unwrap();
        for i in 700..v.len() {
            assert_eq!(b.update(ts[i], v[i]).unwrap(), batch.point(i), "point {i}");
        }
        assert!(b.restore("{").is_err());
        assert!(b.restore("[[], []]").is_err());
    }

    #[test]
    fn bad_params_and_input() {
        let none = EnsembleParams {
            members: vec![],
            ..Default::default()
        };
        assert!(none.check().is_err());
        let unknown = EnsembleParams {
            members: vec![Member {
                detector: "nope".into(),
                params: Map::new(),
            }],
            ..Default::default()
        };
        assert!(matches!(
            unknown.check(),
            Err(DetectError::UnknownDetector { .. })
        ));
        let nested = EnsembleParams {
            members: vec![Member {
                detector: "ensemble".into(),
                params: Map::new(),
            }],
            ..Default::default()
        };
        assert!(nested.check().is_err());
        let det = EnsembleParams::default().check().unwrap();
        assert!(det.detect(&[], &[]).is_err());
        assert!(det.detect(&[1, 1], &[1.0, 2.0]).is_err());
        let mut o = det.online_state();
        o.update(5, 1.0).unwrap();
        assert!(o.update(5, 1.0).is_err());
    }
}
