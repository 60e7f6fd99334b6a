//! Root-cause candidates.

use serde::{Deserialize, Serialize};

/// One ranked candidate for the cause of an incident or anomaly.
///
/// JSON: `{"rank": 1, "resource": "cart", "metric": "cpu", "score": x, "confidence": x,
/// "evidence": ["..."], "affected": ["frontend"]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootCause {
    /// Position in the ranking, 1 = most likely.
    pub rank: usize,
    /// The resource blamed.
    pub resource: String,
    /// Its most telling metric, when a metric is involved.
    pub metric: Option<String>,
    /// Method-specific score; higher is more likely.
    pub score: f64,
    /// Calibrated probability in [0, 1] that this candidate is the cause.
    pub confidence: f64,
    /// Sentences built from the data that support the candidate.
    #[serde(default)]
    pub evidence: Vec<String>,
    /// Resources whose health depends on this one (its blast radius).
    #[serde(default)]
    pub affected: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_shape() {
        let rc = RootCause {
            rank: 1,
            resource: "cart".into(),
            metric: Some("cpu".into()),
            score: 6.1,
            confidence: 0.9,
            evidence: vec!["cart:cpu rose 6.1 robust sigma".into()],
            affected: vec!["frontend".into()],
        };
        let v = serde_json::to_value(&rc).unwrap();
        assert_eq!(
            v,
            json!({"rank": 1, "resource": "cart", "metric": "cpu", "score": 6.1,
                   "confidence": 0.9, "evidence": ["cart:cpu rose 6.1 robust sigma"],
                   "affected": ["frontend"]})
        );
        assert_eq!(serde_json::from_value::<RootCause>(v).unwrap(), rc);
    }
}
