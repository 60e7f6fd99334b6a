//! Label sets and their fingerprint.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{CoreError, Result};

/// A set of `name="value"` pairs identifying a series or an alert, sorted by name.
///
/// Names follow Prometheus' rule `[a-zA-Z_][a-zA-Z0-9_]*`; values are any non-empty UTF-8 text.
/// In JSON a label set is an object, `{"job": "api", "instance": "h1:9100"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

/// A stable 64-bit fingerprint of a label set.
///
/// It is FNV-1a (64 bit) over the labels sorted by name, each name and value followed by the byte
/// `0xff`: the algorithm of Prometheus' `model.LabelSet.Fingerprint`, so an alert's fingerprint is
/// the one Alertmanager shows. It does not depend on the platform, the process or the run.
/// Written as 16 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u64);

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const SEPARATOR: u8 = 0xff;

/// Streaming FNV-1a 64 (hand written: eight lines, and its exact definition matters for
/// compatibility with Prometheus/Alertmanager fingerprints).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv64(u64);

impl Fnv64 {
    pub(crate) fn new() -> Self {
        Self(FNV_OFFSET)
    }
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }
    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

impl Fingerprint {
    /// Fingerprint of the given (name, value) pairs, which must be sorted by name.
    pub fn of_sorted<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut h = Fnv64::new();
        for (name, value) in pairs {
            h.write(name.as_bytes());
            h.write(&[SEPARATOR]);
            h.write(value.as_bytes());
            h.write(&[SEPARATOR]);
        }
        Fingerprint(h.finish())
    }

    /// Parses 16 (or fewer) hex digits.
    pub fn from_hex(text: &str) -> Result<Self> {
        u64::from_str_radix(text, 16)
            .map(Fingerprint)
            .map_err(|_| CoreError::InvalidParameter {
                name: "fingerprint",
                reason: format!("{text:?} is not a hexadecimal 64-bit number"),
            })
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Fingerprint::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Whether `name` is a valid Prometheus label name.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether `name` is a valid Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

impl Labels {
    /// The empty label set.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Builds a label set, validating every name and value; duplicate names are an error.
    pub fn try_from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut v: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        for (k, val) in &v {
            if !is_valid_label_name(k) {
                return Err(CoreError::InvalidLabelName(k.clone()));
            }
            if val.is_empty() {
                return Err(CoreError::EmptyLabelValue(k.clone()));
            }
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = v.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(CoreError::DuplicateLabel(w[0].0.clone()));
        }
        Ok(Self(v))
    }

    /// Returns the set with `name` set to `value` (replacing any previous value).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Result<Self> {
        self.insert(name, value)?;
        Ok(self)
    }

    /// Sets `name` to `value`, replacing any previous value; returns the previous value.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Option<String>> {
        let (name, value) = (name.into(), value.into());
        if !is_valid_label_name(&name) {
            return Err(CoreError::InvalidLabelName(name));
        }
        if value.is_empty() {
            return Err(CoreError::EmptyLabelValue(name));
        }
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&name)) {
            Ok(i) => Ok(Some(std::mem::replace(&mut self.0[i].1, value))),
            Err(i) => {
                self.0.insert(i, (name, value));
                Ok(None)
            }
        }
    }

    /// Removes `name`; returns its value if it was present.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let i = self
            .0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()?;
        Some(self.0.remove(i).1)
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The (name, value) pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Fingerprint of the whole set (see [`Fingerprint`]).
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_sorted(self.iter())
    }

    /// Fingerprint of the labels whose names are in `names` (absent names are skipped), as
    /// Alertmanager does for `group_by`.
    pub fn fingerprint_of(&self, names: &[&str]) -> Fingerprint {
        Fingerprint::of_sorted(self.iter().filter(|(k, _)| names.contains(k)))
    }
}

impl fmt::Display for Labels {
    /// Prometheus notation: `{instance="h1", job="api"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

impl Serialize for Labels {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // serde_json maps keep the last duplicate key; a BTreeMap is sorted already.
        let map = BTreeMap::<String, String>::deserialize(d)?;
        Labels::try_from_pairs(map).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<BTreeMap<String, String>> for Labels {
    type Error = CoreError;
    fn try_from(map: BTreeMap<String, String>) -> Result<Self> {
        Labels::try_from_pairs(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_validated() {
        let l = Labels::try_from_pairs([("job", "api"), ("instance", "h1")]).unwrap();
        assert_eq!(
            l.iter().collect::<Vec<_>>(),
            [("instance", "h1"), ("job", "api")]
        );
        assert_eq!(l.to_string(), r#"{instance="h1", job="api"}"#);
        assert!(matches!(
            Labels::try_from_pairs([("1abc", "x")]),
            Err(CoreError::InvalidLabelName(_))
        ));
        assert!(matches!(
            Labels::try_from_pairs([("a-b", "x")]),
            Err(CoreError::InvalidLabelName(_))
        ));
        assert!(matches!(
            Labels::try_from_pairs([("a", "")]),
            Err(CoreError::EmptyLabelValue(_))
        ));
        assert!(matches!(
            Labels::try_from_pairs([("a", "1"), ("a", "2")]),
            Err(CoreError::DuplicateLabel(_))
        ));
        assert!(Labels::try_from_pairs([("__name__", "up"), ("_x9", "é")]).is_ok());
    }

    #[test]
    fn insert_get_remove() {
        let mut l = Labels::new()
            .with("b", "2")
            .unwrap()
            .with("a", "1")
            .unwrap();
        assert_eq!(l.insert("b", "3").unwrap(), Some("2".into()));
        assert_eq!(l.get("b"), Some("3"));
        assert_eq!(l.remove("a"), Some("1".into()));
        assert_eq!(l.get("a"), None);
        assert!(l.insert("bad name", "x").is_err());
    }

    #[test]
    fn fingerprint_matches_prometheus() {
        // Golden values of prometheus/common's LabelsToSignature / LabelSet.Fingerprint.
        assert_eq!(Labels::new().fingerprint().0, 14_695_981_039_346_656_037);
        let l =
            Labels::try_from_pairs([("name", "garland, briggs"), ("fear", "love is not enough")])
                .unwrap();
        assert_eq!(l.fingerprint().0, 5_799_056_148_416_392_346);
        // Order of construction does not matter.
        let l2 =
            Labels::try_from_pairs([("fear", "love is not enough"), ("name", "garland, briggs")])
                .unwrap();
        assert_eq!(l.fingerprint(), l2.fingerprint());
        assert_eq!(
            l.fingerprint_of(&["name", "missing"]),
            Labels::try_from_pairs([("name", "garland, briggs")])
                .unwrap()
                .fingerprint()
        );
    }

    #[test]
    fn json_shape() {
        let l = Labels::try_from_pairs([("job", "api"), ("instance", "h1")]).unwrap();
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"{"instance":"h1","job":"api"}"#
        );
        let back: Labels = serde_json::from_str(r#"{"job":"api","instance":"h1"}"#).unwrap();
        assert_eq!(back, l);
        assert!(serde_json::from_str::<Labels>(r#"{"bad-name":"x"}"#).is_err());
        let fp = l.fingerprint();
        let text = serde_json::to_string(&fp).unwrap();
        assert_eq!(text.len(), 18);
        assert_eq!(serde_json::from_str::<Fingerprint>(&text).unwrap(), fp);
    }
}
