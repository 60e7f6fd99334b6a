//! Deduplication of Prometheus HA pairs on remote_write: two (or more) Prometheus replicas
//! scrape the same targets and write the same series, told apart only by a replica label in
//! their external labels (`__replica__` by default) and grouped by a cluster label
//! (`cluster`). For each cluster one replica is elected: its samples are stored with the
//! replica label removed, so the pair makes one series, not two; the others' requests are
//! acknowledged and not stored (they hold the same series). When the elected replica has
//! sent nothing for `failover_timeout_s`, the next replica to write is elected.
//!
//! The election is per process (the service's memory, not its store): replicas of aiops
//! behind a load balancer each elect on their own, which keeps each one's data whole but may
//! keep two copies of a pair when each aiops hears another Prometheus first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ServiceError};

/// `metrics.ha`: which labels name a Prometheus HA pair, and when the election moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HaConfig {
    /// The label naming the pair (`cluster`); series without it form one unnamed cluster.
    pub cluster_label: String,
    /// The label naming the replica (`__replica__`): removed from the stored series.
    pub replica_label: String,
    /// Seconds without a request from the elected replica before another is elected (30).
    pub failover_timeout_s: u64,
}

impl Default for HaConfig {
    fn default() -> Self {
        Self {
            cluster_label: "cluster".into(),
            replica_label: "__replica__".into(),
            failover_timeout_s: 30,
        }
    }
}

impl HaConfig {
    /// Checks the labels and the timeout.
    pub fn check(&self) -> Result<()> {
        let bad = |key: &str, reason: &str| {
            ServiceError::invalid_config(format!("metrics.ha.{key}"), reason)
        };
        if self.replica_label.is_empty() {
            return Err(bad("replica_label", "must not be empty"));
        }
        if self.replica_label == self.cluster_label {
            return Err(bad("cluster_label", "must differ from replica_label"));
        }
        for (key, label) in [
            ("replica_label", &self.replica_label),
            ("cluster_label", &self.cluster_label),
        ] {
            if label == "__name__" {
                return Err(bad(key, "cannot be the metric name"));
            }
        }
        if self.failover_timeout_s == 0 {
            return Err(bad("failover_timeout_s", "must be at least 1"));
        }
        Ok(())
    }
}

/// What to do with a request from a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Store it (the replica is the elected one, or was just elected).
    Store,
    /// Acknowledge it without storing: `elected` writes this cluster's series.
    Standby {
        /// The elected replica.
        elected: String,
    },
}

/// The elected replica of a cluster and when it last wrote.
#[derive(Debug, Clone)]
struct Elected {
    replica: String,
    last_seen: TimestampMs,
}

/// Clusters kept at the most: an election idle for ten failover timeouts is forgotten first.
const MAX_CLUSTERS: usize = 10_000;

/// The elected replica per cluster.
#[derive(Debug)]
pub struct HaTracker {
    config: HaConfig,
    elected: Mutex<HashMap<String, Elected>>,
    standby_samples: AtomicU64,
    failovers: AtomicU64,
}

impl HaTracker {
    /// A tracker with no election yet.
    pub fn new(config: HaConfig) -> Result<Self> {
        config.check()?;
        Ok(Self {
            config,
            elected: Mutex::new(HashMap::new()),
            standby_samples: AtomicU64::new(0),
            failovers: AtomicU64::new(0),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &HaConfig {
        &self.config
    }

    /// Whether a request of `samples` samples from `replica` of `cluster`, received at `now`,
    /// is stored. The first replica heard is elected; another takes over once the elected
    /// one has been silent for the failover timeout.
    pub fn admit(
        &self,
        cluster: &str,
        replica: &str,
        samples: usize,
        now: TimestampMs,
    ) -> Admission {
        let timeout = (self.config.failover_timeout_s as i64).saturating_mul(1000);
        let mut elected = self.elected.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = elected.get_mut(cluster) {
            if e.replica == replica {
                e.last_seen = e.last_seen.max(now);
                return Admission::Store;
            }
            if now.saturating_sub(e.last_seen) < timeout {
                self.standby_samples
                    .fetch_add(samples as u64, Ordering::Relaxed);
                return Admission::Standby {
                    elected: e.replica.clone(),
                };
            }
            self.failovers.fetch_add(1, Ordering::Relaxed);
            tracing::info!(cluster, from = %e.replica, to = replica, "HA replica failover");
            *e = Elected {
                replica: replica.to_string(),
                last_seen: now,
            };
            return Admission::Store;
        }
        if elected.len() >= MAX_CLUSTERS {
            let stale = timeout.saturating_mul(10);
            elected.retain(|_, e| now.saturating_sub(e.last_seen) < stale);
        }
        elected.insert(
            cluster.to_string(),
            Elected {
                replica: replica.to_string(),
                last_seen: now,
            },
        );
        Admission::Store
    }

    /// Samples acknowledged without being stored, from replicas that were not elected.
    pub fn standby_samples(&self) -> u64 {
        self.standby_samples.load(Ordering::Relaxed)
    }

    /// Elections moved to another replica after the elected one went silent.
    pub fn failovers(&self) -> u64 {
        self.failovers.load(Ordering::Relaxed)
    }

    /// Clusters with an elected replica.
    pub fn clusters(&self) -> usize {
        self.elected.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_replica_is_elected_until_it_goes_silent() {
        let t = HaTracker::new(HaConfig::default()).unwrap();
        assert_eq!(t.admit("eu", "a", 10, 1_000), Admission::Store);
        let standby = Admission::Standby {
            elected: "a".into(),
        };
        assert_eq!(t.admit("eu", "b", 10, 2_000), standby);
        // Another cluster elects on its own.
        assert_eq!(t.admit("us", "b", 5, 2_000), Admission::Store);
        assert_eq!(t.admit("eu", "a", 10, 20_000), Admission::Store);
        // 29.9 s after a's last request b is still a standby; at 30 s it takes over.
        assert_eq!(t.admit("eu", "b", 10, 49_900), standby);
        assert_eq!(t.admit("eu", "b", 10, 50_000), Admission::Store);
        assert_eq!(
            t.admit("eu", "a", 10, 50_001),
            Admission::Standby {
                elected: "b".into()
            }
        );
        assert_eq!(
            (t.standby_samples(), t.failovers(), t.clusters()),
            (30, 1, 2)
        );
        // A request stamped before the last one does not move the clock back.
        assert_eq!(t.admit("eu", "b", 1, 40_000), Admission::Store);
        assert_eq!(
            t.admit("eu", "a", 1, 79_999),
            Admission::Standby {
                elected: "b".into()
            }
        );
    }

    #[test]
    fn bad_settings_are_refused_with_their_key() {
        let err = |c: HaConfig| HaTracker::new(c).unwrap_err().to_string();
        let mut c = HaConfig::default();
        c.replica_label.clear();
        assert!(err(c).contains("metrics.ha.replica_label"));
        let mut c = HaConfig::default();
        c.cluster_label = c.replica_label.clone();
        assert!(err(c).contains("metrics.ha.cluster_label"));
        let c = HaConfig {
            failover_timeout_s: 0,
            ..HaConfig::default()
        };
        assert!(err(c).contains("failover_timeout_s"));
    }
}
