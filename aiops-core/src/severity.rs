//! Severity levels.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::CoreError;

/// How bad something is, ordered `Critical > High > Medium > Low > Info`.
///
/// Written in lower case (`"critical"`). Parsing is case-insensitive and also accepts the
/// spellings other tools use: `crit`, `fatal`, `emergency`, `page` and `p1` for critical;
/// `error`, `major` and `p2` for high; `warning`, `warn` and `p3` for medium; `minor` and `p4` for
/// low; `informational`, `notice`, `none`, `ok` and `p5` for info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Severity {
    /// Informational; no action needed.
    #[default]
    Info,
    /// Low impact.
    Low,
    /// Degradation worth a look.
    Medium,
    /// Serious; act soon.
    High,
    /// Outage or imminent outage; act now.
    Critical,
}

impl Severity {
    /// All levels, most severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The canonical lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, CoreError> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "critical" | "crit" | "fatal" | "emergency" | "page" | "p1" => Severity::Critical,
            "high" | "error" | "major" | "p2" => Severity::High,
            "medium" | "warning" | "warn" | "p3" => Severity::Medium,
            "low" | "minor" | "p4" => Severity::Low,
            "info" | "informational" | "notice" | "none" | "ok" | "p5" => Severity::Info,
            _ => {
                return Err(CoreError::UnknownVariant {
                    what: "severity",
                    text: s.to_string(),
                    expected: "critical, high, medium, low, info",
                });
            }
        })
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_and_parsing() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::High > Severity::Medium);
        assert!(Severity::Medium > Severity::Low);
        assert!(Severity::Low > Severity::Info);
        for s in Severity::ALL {
            assert_eq!(s.to_string().parse::<Severity>().unwrap(), s);
        }
        assert_eq!("WARNING".parse::<Severity>().unwrap(), Severity::Medium);
        assert_eq!("error".parse::<Severity>().unwrap(), Severity::High);
        assert!(matches!(
            "bogus".parse::<Severity>(),
            Err(CoreError::UnknownVariant { .. })
        ));
    }

    #[test]
    fn json_shape() {
        assert_eq!(serde_json::to_string(&Severity::High).unwrap(), r#""high""#);
        assert_eq!(
            serde_json::from_str::<Severity>(r#""Critical""#).unwrap(),
            Severity::Critical
        );
        assert!(serde_json::from_str::<Severity>(r#""x""#).is_err());
    }
}
