//! Severity mappings from a score: by its ratio to a threshold, or by IQRs beyond a fence.

use aiops_core::Severity;

/// Severity from the ratio of a score to its threshold: 1×, 1.5× and 2× map to medium, high
/// and critical (as `zscore`).
pub(crate) fn ratio_severity(score: f64, threshold: f64) -> Severity {
    let r = score / threshold;
    if r >= 2.0 {
        Severity::Critical
    } else if r >= 1.5 {
        Severity::High
    } else if r >= 1.0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// Severity of a score in IQR units beyond a fence at `c` IQRs: beyond the fence is medium,
/// c / 2 further is high, c further (twice as far from the quartile) critical.
pub(crate) fn fence_severity(score: f64, c: f64) -> Severity {
    if score >= c {
        Severity::Critical
    } else if score >= c / 2.0 {
        Severity::High
    } else if score > 0.0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// Severity of a score in [0, 1] flagged at `threshold`: from the threshold medium, from 0.9
/// high (the learned detectors, whose scores are shares of surprise).
pub(crate) fn unit_severity(score: f64, threshold: f64) -> Severity {
    if score >= 0.9 {
        Severity::High
    } else if score >= threshold {
        Severity::Medium
    } else {
        Severity::Low
    }
}
