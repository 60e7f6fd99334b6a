//! A seeded family of labelled metric series for event-level scoring ([`crate::events`]):
//! spikes, dips, level shifts, variance changes, trend changes and seasonal pattern breaks,
//! injected into flat, trending and seasonal bases, sparsely or densely.
//!
//! Series `i` has base `[flat, trending, seasonal][i % 3]` and density
//! `[sparse, dense][(i / 3) % 2]`; everything else is drawn from one [`SimRng`] seeded with
//! the family's seed, so a seed means the same series everywhere. Each series:
//! - has 2,000 to 5,000 points one minute apart (from 2026-01-01T00:00:00Z) and Gaussian
//!   noise of standard deviation `sigma` (0.5 to 2); a flat base is a level, a trending base a
//!   level plus a drift of 5 to 30 `sigma` over the series (either sign), a seasonal base a
//!   level plus a daily-like cycle (period 24 to 288 points, amplitude 3 to 10 `sigma`, a
//!   second harmonic) and a slight drift;
//! - carries 1 to 3 anomalies (sparse) or 6 to 14 (dense), none in the first 400 points or
//!   two periods (the warm-up), at least 60 points apart; kinds are drawn uniformly (a seasonal
//!   break only on a seasonal base);
//! - every point an anomaly changes is labelled 1, and only those.
//!
//! Anomalies (sizes in `sigma`): **spike** / **dip**, 1 to 3 points, ±5 to ±10; **level
//! shift**, 30 to 200 points moved by ±4 to ±8, then back; **variance change**, 50 to 300
//! points with the noise 3 to 6 times larger; **trend change**, 40 to 200 points on a ramp
//! reaching ±5 to ±10 at its end, then back; **seasonal break**, one to three periods where
//! the cycle is inverted, flattened or shifted by half a period.

use serde::Serialize;

use crate::error::{EvalError, Result};
use crate::events::EventSeries;
use crate::rng::SimRng;

/// Settings of the synthetic family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SyntheticParams {
    /// Series to generate.
    pub series: usize,
    /// Seed of the family.
    pub seed: u64,
}

impl Default for SyntheticParams {
    fn default() -> Self {
        Self {
            series: 60,
            seed: 1,
        }
    }
}

/// The shape of a series without anomalies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Base {
    /// A level and noise.
    Flat,
    /// A level, a linear drift and noise.
    Trending,
    /// A level, a cycle with a second harmonic, a slight drift and noise.
    Seasonal,
}

impl Base {
    /// The base's name, as in JSON and series names (`flat`, `trending`, `seasonal`).
    pub fn as_str(self) -> &'static str {
        match self {
            Base::Flat => "flat",
            Base::Trending => "trending",
            Base::Seasonal => "seasonal",
        }
    }
}

/// How many anomalies a series carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Density {
    /// 1 to 3 anomalies.
    Sparse,
    /// 6 to 14 anomalies.
    Dense,
}

impl Density {
    /// The density's name, as in JSON and series names (`sparse`, `dense`).
    pub fn as_str(self) -> &'static str {
        match self {
            Density::Sparse => "sparse",
            Density::Dense => "dense",
        }
    }
}

/// A kind of injected anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// 1 to 3 points far above.
    Spike,
    /// 1 to 3 points far below.
    Dip,
    /// A stretch moved up or down, then back.
    LevelShift,
    /// A stretch of much larger noise.
    VarianceChange,
    /// A stretch on a ramp away from the base, then back.
    TrendChange,
    /// A stretch of the cycle inverted, flattened or shifted by half a period.
    SeasonalBreak,
}

impl AnomalyKind {
    /// Every kind, in a fixed order.
    pub const ALL: [AnomalyKind; 6] = [
        AnomalyKind::Spike,
        AnomalyKind::Dip,
        AnomalyKind::LevelShift,
        AnomalyKind::VarianceChange,
        AnomalyKind::TrendChange,
        AnomalyKind::SeasonalBreak,
    ];

    /// The kind's name, as in JSON (`level_shift`...).
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::Spike => "spike",
            AnomalyKind::Dip => "dip",
            AnomalyKind::LevelShift => "level_shift",
            AnomalyKind::VarianceChange => "variance_change",
            AnomalyKind::TrendChange => "trend_change",
            AnomalyKind::SeasonalBreak => "seasonal_break",
        }
    }
}

/// One injected anomaly: its kind and the points it changed, `[start, end]` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Injected {
    /// Kind.
    pub kind: AnomalyKind,
    /// First changed point.
    pub start: usize,
    /// Last changed point.
    pub end: usize,
}

/// One generated series with what was injected into it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSeries {
    /// The labelled series (name `syn-<index>-<base>-<density>`).
    pub series: EventSeries,
    /// Its base.
    pub base: Base,
    /// Its density.
    pub density: Density,
    /// Period of the cycle, points (seasonal base only).
    pub period: Option<usize>,
    /// The anomalies, in time order.
    pub injected: Vec<Injected>,
}

/// Points before which nothing is injected (at least this, and two periods).
pub const WARM_UP: usize = 400;

/// Least distance between two anomalies, points.
pub const MIN_GAP: usize = 60;

/// 2026-01-01T00:00:00Z, ms: the first timestamp of every series.
const START_MS: i64 = 1_767_225_600_000;

/// Generates the family.
pub fn generate(params: &SyntheticParams) -> Result<Vec<SyntheticSeries>> {
    if params.series == 0 || params.series > 100_000 {
        return Err(EvalError::Invalid {
            what: "series",
            reason: format!("{} series; expected 1 to 100000", params.series),
        });
    }
    let mut rng = SimRng::new(params.seed);
    Ok((0..params.series).map(|i| one(&mut rng, i)).collect())
}

fn one(rng: &mut SimRng, index: usize) -> SyntheticSeries {
    let base = [Base::Flat, Base::Trending, Base::Seasonal][index % 3];
    let density = [Density::Sparse, Density::Dense][(index / 3) % 2];
    let n = 2000 + rng.below(3001);
    let sigma = rng.uniform(0.5, 2.0);
    let level = rng.uniform(-50.0, 150.0);
    let sign = |rng: &mut SimRng| if rng.chance(0.5) { 1.0 } else { -1.0 };
    let drift = match base {
        Base::Flat => 0.0,
        Base::Trending => sign(rng) * rng.uniform(5.0, 30.0) * sigma / n as f64,
        Base::Seasonal => sign(rng) * rng.uniform(0.0, 3.0) * sigma / n as f64,
    };
    let (period, amplitude, second, phase) = if base == Base::Seasonal {
        let p = [24, 48, 96, 144, 288][rng.below(5)];
        (
            Some(p),
            rng.uniform(3.0, 10.0) * sigma,
            rng.uniform(0.0, 0.4),
            rng.uniform(0.0, std::f64::consts::TAU),
        )
    } else {
        (None, 0.0, 0.0, 0.0)
    };
    let cycle = |i: f64| match period {
        Some(p) => {
            let x = std::f64::consts::TAU * i / p as f64 + phase;
            amplitude * (x.sin() + second * (2.0 * x).sin())
        }
        None => 0.0,
    };
    // Base parts kept apart so that anomalies can change one of them.
    let mut seasonal: Vec<f64> = (0..n).map(|i| cycle(i as f64)).collect();
    let mut noise_scale = vec![1.0; n];
    let mut offset = vec![0.0; n];
    let count = match density {
        Density::Sparse => 1 + rng.below(3),
        Density::Dense => 6 + rng.below(9),
    };
    let warm = WARM_UP.max(2 * period.unwrap_or(0));
    let kinds: Vec<AnomalyKind> = AnomalyKind::ALL
        .into_iter()
        .filter(|&k| k != AnomalyKind::SeasonalBreak || period.is_some())
        .collect();
    let mut injected: Vec<Injected> = Vec::new();
    for _ in 0..count {
        let kind = kinds[rng.below(kinds.len())];
        let len = match kind {
            AnomalyKind::Spike | AnomalyKind::Dip => 1 + rng.below(3),
            AnomalyKind::LevelShift => 30 + rng.below(171),
            AnomalyKind::VarianceChange => 50 + rng.below(251),
            AnomalyKind::TrendChange => 40 + rng.below(161),
            AnomalyKind::SeasonalBreak => period.unwrap_or(24) * (1 + rng.below(3)),
        };
        // Place it: random starts until one keeps its distance (a dense series may get
        // fewer than drawn when the room runs out).
        let Some(start) = (0..200).find_map(|_| {
            let start = warm + rng.below(n.saturating_sub(warm + len + 1));
            let end = start + len - 1;
            let clear = injected
                .iter()
                .all(|a| end + MIN_GAP < a.start || a.end + MIN_GAP < start);
            clear.then_some(start)
        }) else {
            continue;
        };
        let end = start + len - 1;
        let size = sign(rng) * rng.uniform(5.0, 10.0) * sigma;
        match kind {
            AnomalyKind::Spike => offset[start..=end]
                .iter_mut()
                .for_each(|x| *x += size.abs()),
            AnomalyKind::Dip => offset[start..=end]
                .iter_mut()
                .for_each(|x| *x -= size.abs()),
            AnomalyKind::LevelShift => {
                let shift = size * 0.8; // ±4 to ±8 sigma
                offset[start..=end].iter_mut().for_each(|x| *x += shift);
            }
            AnomalyKind::VarianceChange => {
                let k = rng.uniform(3.0, 6.0);
                noise_scale[start..=end].iter_mut().for_each(|x| *x = k);
            }
            AnomalyKind::TrendChange => {
                for (j, x) in offset[start..=end].iter_mut().enumerate() {
                    *x += size * (j + 1) as f64 / len as f64;
                }
            }
            AnomalyKind::SeasonalBreak => {
                let p = period.unwrap_or(24) as f64;
                let how = rng.below(3);
                for (i, x) in seasonal.iter_mut().enumerate().take(end + 1).skip(start) {
                    *x = match how {
                        0 => -cycle(i as f64),
                        1 => 0.0,
                        _ => cycle(i as f64 + p / 2.0),
                    };
                }
            }
        }
        injected.push(Injected { kind, start, end });
    }
    injected.sort_by_key(|a| a.start);
    let mut labels = vec![false; n];
    for a in &injected {
        labels[a.start..=a.end].iter_mut().for_each(|l| *l = true);
    }
    let values = (0..n)
        .map(|i| {
            level
                + drift * i as f64
                + seasonal[i]
                + offset[i]
                + sigma * noise_scale[i] * rng.normal()
        })
        .collect();
    let name = format!("syn-{index:03}-{}-{}", base.as_str(), density.as_str());
    SyntheticSeries {
        series: EventSeries {
            name,
            timestamps: (0..n as i64).map(|i| START_MS + i * 60_000).collect(),
            values,
            labels,
            train: None,
        },
        base,
        density,
        period,
        injected,
    }
}

/// Writes the family as `DIR/data/<name>.csv` (`timestamp,value,label`, unix seconds: the
/// layout [`crate::events::load_dir`] reads) and `DIR/anomalies.csv`, one row per injected
/// anomaly: `series,base,density,period,kind,start,end` (point indices from 0, inclusive;
/// `period` empty without a cycle).
pub fn write_family(dir: &std::path::Path, family: &[SyntheticSeries]) -> Result<()> {
    use std::fmt::Write;
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(|e| EvalError::Data {
        path: data.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut index = String::from("series,base,density,period,kind,start,end\n");
    for s in family {
        crate::events::write_series(&data, &s.series)?;
        for a in &s.injected {
            let _ = writeln!(
                index,
                "{},{},{},{},{},{},{}",
                s.series.name,
                s.base.as_str(),
                s.density.as_str(),
                s.period.map(|p| p.to_string()).unwrap_or_default(),
                a.kind.as_str(),
                a.start,
                a.end
            );
        }
    }
    let path = dir.join("anomalies.csv");
    std::fs::write(&path, index).map_err(|e| EvalError::Data {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Found and total injected anomalies of each kind, for one run of a detector: a segment is
/// found as in [`crate::events`] (a flagged point in `[start, end + tol]`). `flags` holds one
/// series' flags per series of `family`.
pub fn recall_by_kind(
    family: &[SyntheticSeries],
    flags: &[Vec<bool>],
    tol: usize,
) -> std::collections::BTreeMap<AnomalyKind, (usize, usize)> {
    let mut out = std::collections::BTreeMap::new();
    for (s, f) in family.iter().zip(flags) {
        for a in &s.injected {
            let e = out.entry(a.kind).or_insert((0, 0));
            e.1 += 1;
            let hi = (a.end + tol).min(f.len().saturating_sub(1));
            if f.get(a.start..=hi).is_some_and(|w| w.iter().any(|&x| x)) {
                e.0 += 1;
            }
        }
    }
    out
}

/// Generates the family, runs the registry detector `name` with `params` over it
/// ([`crate::events::run_detector`]) and scores it with tolerance `tol`, with the recall per
/// kind of anomaly.
pub fn evaluate_detector(
    family_params: &SyntheticParams,
    name: &str,
    params: &serde_json::Map<String, serde_json::Value>,
    tol: usize,
    progress: crate::Progress<'_>,
) -> Result<crate::events::EventReport> {
    let start = std::time::Instant::now();
    let family = generate(family_params)?;
    let corpus: Vec<EventSeries> = family.iter().map(|s| s.series.clone()).collect();
    let (detector, flags) = crate::events::run_detector(&corpus, name, params, progress)?;
    let per_series = crate::events::score_all(&corpus, &flags, tol, false)?;
    let flag_vecs: Vec<Vec<bool>> = flags.into_iter().map(|f| f.flags).collect();
    let mut report = crate::events::EventReport::new(
        format!(
            "synthetic (seed {}, {} series)",
            family_params.seed, family_params.series
        ),
        detector,
        tol,
        per_series,
        start.elapsed().as_secs_f64(),
    );
    report.by_kind = recall_by_kind(&family, &flag_vecs, tol)
        .into_iter()
        .map(|(k, (found, segments))| {
            let recall = if segments > 0 {
                found as f64 / segments as f64
            } else {
                0.0
            };
            (
                k.as_str().to_string(),
                crate::events::KindRecall {
                    segments,
                    found,
                    recall,
                },
            )
        })
        .collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::runs_of;

    #[test]
    fn deterministic_for_a_seed() {
        let p = SyntheticParams {
            series: 12,
            seed: 7,
        };
        let a = generate(&p).unwrap();
        assert_eq!(a, generate(&p).unwrap());
        let b = generate(&SyntheticParams { seed: 8, ..p }).unwrap();
        assert_ne!(a[0].series.values, b[0].series.values);
        assert!(generate(&SyntheticParams { series: 0, seed: 1 }).is_err());
    }

    #[test]
    fn labels_cover_exactly_what_was_injected() {
        let family = generate(&SyntheticParams::default()).unwrap();
        assert_eq!(family.len(), 60);
        let mut kinds = std::collections::BTreeSet::new();
        for s in &family {
            let n = s.series.values.len();
            assert!((2000..=5000).contains(&n), "{n}");
            assert!(
                s.series
                    .timestamps
                    .windows(2)
                    .all(|w| w[1] - w[0] == 60_000)
            );
            assert!(!s.injected.is_empty(), "{}", s.series.name);
            // Each anomaly is one labelled segment, in order, after the warm-up.
            let segs = runs_of(&s.series.labels);
            let want: Vec<(usize, usize)> = s.injected.iter().map(|a| (a.start, a.end)).collect();
            assert_eq!(segs, want, "{}", s.series.name);
            for a in &s.injected {
                assert!(a.start >= WARM_UP);
                kinds.insert(a.kind);
                if a.kind == AnomalyKind::SeasonalBreak {
                    assert_eq!(s.base, Base::Seasonal);
                }
            }
            assert!(
                s.injected
                    .windows(2)
                    .all(|w| w[0].end + MIN_GAP < w[1].start)
            );
            match s.density {
                Density::Sparse => assert!(s.injected.len() <= 3),
                Density::Dense => assert!(s.injected.len() >= 4, "{}", s.series.name),
            }
        }
        assert_eq!(kinds.len(), AnomalyKind::ALL.len(), "every kind appears");
    }

    #[test]
    fn anomalies_change_the_values_they_label() {
        // Same seed, same draws: compare a spike's points with the base around it.
        let family = generate(&SyntheticParams {
            series: 30,
            seed: 3,
        })
        .unwrap();
        let spike = family
            .iter()
            .filter(|s| s.base == Base::Flat)
            .find_map(|s| {
                s.injected
                    .iter()
                    .find(|a| a.kind == AnomalyKind::Spike)
                    .map(|a| (s, *a))
            })
            .expect("a spike on a flat base");
        let (s, a) = spike;
        let v = &s.series.values;
        let before: Vec<f64> = v[a.start - 50..a.start - 5].to_vec();
        let mean = before.iter().sum::<f64>() / before.len() as f64;
        let sd =
            (before.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / before.len() as f64).sqrt();
        assert!(
            v[a.start] > mean + 3.0 * sd,
            "{} vs {mean} ± {sd}",
            v[a.start]
        );
    }

    #[test]
    fn writes_a_folder_the_event_reader_reads() {
        let dir = tempfile::tempdir().unwrap();
        let family = generate(&SyntheticParams { series: 4, seed: 2 }).unwrap();
        write_family(dir.path(), &family).unwrap();
        let back = crate::events::load_dir(dir.path()).unwrap();
        assert_eq!(back.len(), 4);
        for (b, s) in back.iter().zip(&family) {
            assert_eq!(b.name, s.series.name);
            assert_eq!(b.labels, s.series.labels);
            assert_eq!(b.values, s.series.values, "values written exactly");
        }
        let rows = std::fs::read_to_string(dir.path().join("anomalies.csv")).unwrap();
        let injected: usize = family.iter().map(|s| s.injected.len()).sum();
        assert_eq!(rows.lines().count(), injected + 1);
        // Recall by kind: flags equal to the labels find everything.
        let flags: Vec<Vec<bool>> = family.iter().map(|s| s.series.labels.clone()).collect();
        let by = recall_by_kind(&family, &flags, 10);
        assert_eq!(by.values().map(|v| v.1).sum::<usize>(), injected);
        assert!(by.values().all(|&(f, t)| f == t));
    }

    #[test]
    fn evaluates_a_detector_on_the_family() {
        let p = SyntheticParams { series: 6, seed: 5 };
        let r = evaluate_detector(
            &p,
            "zscore",
            &serde_json::Map::new(),
            10,
            &crate::no_progress,
        )
        .unwrap();
        assert_eq!(r.series, 6);
        let injected: usize = generate(&p).unwrap().iter().map(|s| s.injected.len()).sum();
        assert_eq!(r.segments, injected);
        assert_eq!(
            r.by_kind.values().map(|k| k.segments).sum::<usize>(),
            injected
        );
        assert!(r.found > 0, "zscore finds some of them");
    }
}
