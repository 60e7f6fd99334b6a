//! AutoETS: fits every admissible ETS form and keeps the one with the smallest AICc
//! (Hyndman et al. 2008, as R's `forecast::ets` and statsforecast's `AutoETS`).
//!
//! Admissible forms: additive-error models with no or additive season, multiplicative-error
//! models with any season (additive error with multiplicative season is left out: its
//! forecast variance can be infinite); multiplicative forms only for positive data; seasonal
//! forms only with a period >= 2 and at least two full seasons of history (else the search
//! silently falls back to the non-seasonal forms; [`FittedAutoEts::spec`] tells which won).

use crate::error::{ForecastError, Result};
use crate::ets::{ErrorKind, Ets, EtsSpec, FittedEts, SeasonKind, TrendKind, fit_ets};
use crate::model::{FittedModel, Model, Prediction, check_history};
use crate::optim::NelderMead;

/// Automatic ETS selection by AICc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoEts {
    period: usize,
    seasonal: bool,
    damped_only: bool,
}

impl AutoEts {
    /// Search over seasonal forms with `period` steps per season (1 = non-seasonal) too.
    pub fn new(period: usize) -> Result<Self> {
        crate::model::at_least_one_step("period", period)?;
        Ok(Self {
            period,
            seasonal: period >= 2,
            damped_only: false,
        })
    }

    /// Only the non-seasonal forms (ZZN).
    pub fn non_seasonal() -> Self {
        Self {
            period: 1,
            seasonal: false,
            damped_only: false,
        }
    }

    /// Restricts trended forms to the damped one (safer for long horizons).
    pub fn damped_only(mut self, yes: bool) -> Self {
        self.damped_only = yes;
        self
    }

    /// The forms this search would try on `history`.
    pub fn candidates(&self, history: &[f64]) -> Vec<EtsSpec> {
        let positive = history.iter().all(|v| *v > 0.0);
        let seasonal = self.seasonal && history.len() >= 2 * self.period;
        EtsSpec::all()
            .into_iter()
            .filter(|s| {
                positive
                    || (s.error == ErrorKind::Additive && s.season != SeasonKind::Multiplicative)
            })
            .filter(|s| !(s.error == ErrorKind::Additive && s.season == SeasonKind::Multiplicative))
            .filter(|s| seasonal || s.season == SeasonKind::None)
            .filter(|s| !(self.damped_only && s.trend == TrendKind::Additive))
            .collect()
    }
}

/// A fitted [`AutoEts`]: the winning ETS model.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedAutoEts {
    best: FittedEts,
}

impl FittedAutoEts {
    /// The chosen form.
    pub fn spec(&self) -> EtsSpec {
        self.best.spec()
    }

    /// The chosen fitted model.
    pub fn model(&self) -> &FittedEts {
        &self.best
    }
}

impl Model for AutoEts {
    type Fitted = FittedAutoEts;

    /// Needs 5 finite points (more for the seasonal forms to take part).
    fn fit(&self, history: &[f64]) -> Result<FittedAutoEts> {
        check_history(history, 5)?;
        // A looser search than a single fit's: the AICc ranking does not need the last
        // digits (measured on M4 hourly, 1e-5 vs 1e-7 changes MASE by < 0.1% at 1.5x speed).
        let opts = NelderMead {
            max_evals: 300,
            rel_tol: 1e-5,
            step: 0.1,
        };
        let mut best: Option<FittedEts> = None;
        let mut last_err = None;
        for spec in self.candidates(history) {
            let model = Ets::new(spec, self.period)?;
            match fit_ets(&model, history, opts) {
                Ok(f) => {
                    if best.as_ref().is_none_or(|b| f.aicc() < b.aicc()) {
                        best = Some(f);
                    }
                }
                Err(e) => last_err = Some(e),
            }
        }
        best.map(|best| FittedAutoEts { best }).ok_or_else(|| {
            last_err.unwrap_or_else(|| ForecastError::FitFailed {
                model: "auto-ets",
                reason: "no candidate form".into(),
            })
        })
    }
}

impl FittedModel for FittedAutoEts {
    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction> {
        self.best.predict(horizon, levels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ets::EtsParams;
    use crate::ets::tests::simulate;

    #[test]
    fn picks_a_seasonal_form_for_seasonal_data_and_none_for_noise() {
        let spec = EtsSpec::parse("MNM").unwrap();
        let season: Vec<f64> = (0..12)
            .map(|i| 1.0 + 0.3 * (i as f64 * std::f64::consts::TAU / 12.0).sin())
            .collect();
        let p = EtsParams {
            alpha: 0.2,
            beta: 0.0,
            gamma: 0.05,
            phi: 1.0,
        };
        let y = simulate(spec, p, 100.0, 0.0, season, 0.02, 240, 3);
        let f = AutoEts::new(12).unwrap().fit(&y).unwrap();
        assert_ne!(f.spec().season, SeasonKind::None, "{}", f.spec());
        let noise = simulate(
            EtsSpec::parse("ANN").unwrap(),
            EtsParams {
                alpha: 0.0001,
                beta: 0.0,
                gamma: 0.0,
                phi: 1.0,
            },
            50.0,
            0.0,
            vec![],
            1.0,
            200,
            4,
        );
        let f = AutoEts::new(12).unwrap().fit(&noise).unwrap();
        assert_eq!(f.spec().season, SeasonKind::None, "{}", f.spec());
        assert_eq!(f.spec().trend, TrendKind::None, "{}", f.spec());
    }

    #[test]
    fn candidates_respect_the_data() {
        let a = AutoEts::new(4).unwrap();
        assert_eq!(a.candidates(&[1.0; 20]).len(), 15);
        assert_eq!(
            a.candidates(&[0.0; 20]).len(),
            6,
            "no multiplicative forms with zeros"
        );
        assert_eq!(a.candidates(&[1.0; 7]).len(), 6, "too short for the season");
        assert_eq!(
            AutoEts::non_seasonal()
                .damped_only(true)
                .candidates(&[1.0; 9])
                .len(),
            4
        );
        assert!(AutoEts::new(0).is_err());
        assert!(AutoEts::new(4).unwrap().fit(&[1.0, 2.0]).is_err());
    }
}
