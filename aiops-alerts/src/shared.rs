//! Serde for alerts the engine's parts share behind an `Arc` (the deduplicator, the groups
//! and the incidents hold one copy of each alert): a snapshot holds them as plain alerts.

use std::collections::BTreeMap;
use std::sync::Arc;

use aiops_core::{Alert, Fingerprint};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `#[serde(with = "crate::shared::alert")]` for an `Arc<Alert>`.
pub(crate) mod alert {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(a: &Arc<Alert>, s: S) -> Result<S::Ok, S::Error> {
        a.as_ref().serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Alert>, D::Error> {
        Alert::deserialize(d).map(Arc::new)
    }
}

/// `#[serde(with = "crate::shared::alert_map")]` for a `BTreeMap<Fingerprint, Arc<Alert>>`.
pub(crate) mod alert_map {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        m: &BTreeMap<Fingerprint, Arc<Alert>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(k, v)| (k, v.as_ref())))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<Fingerprint, Arc<Alert>>, D::Error> {
        let m = BTreeMap::<Fingerprint, Alert>::deserialize(d)?;
        Ok(m.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}
