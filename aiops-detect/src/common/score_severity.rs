//! Severity from a score: every detector names the three scores at which its anomalies
//! become medium, high and critical (`tiered`); the usual rules are ready-made.

use aiops_core::Severity;

/// Medium from `medium` on, high from `high`, critical from `critical` (inclusive).
pub(crate) fn tiered(score: f64, medium: f64, high: f64, critical: f64) -> Severity {
    if score >= critical {
        Severity::Critical
    } else if score >= high {
        Severity::High
    } else if score >= medium {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// Severity from the ratio of a score to its threshold: 1×, 1.5× and 2× map to medium, high
/// and critical (as `zscore`).
pub(crate) fn ratio_severity(score: f64, threshold: f64) -> Severity {
    tiered(score / threshold, 1.0, 1.5, 2.0)
}

/// Severity of a score in IQR units beyond a fence at `c` IQRs: beyond the fence (> 0) is
/// medium, c / 2 further is high, c further (twice as far from the quartile) critical.
pub(crate) fn fence_severity(score: f64, c: f64) -> Severity {
    tiered(score, 0.0_f64.next_up(), c / 2.0, c)
}

/// Severity of a score in [0, 1] flagged at `threshold`: from the threshold medium, from 0.9
/// high (the learned detectors, whose scores are shares of surprise).
pub(crate) fn unit_severity(score: f64, threshold: f64) -> Severity {
    tiered(score, threshold, 0.9, f64::INFINITY)
}
