//! Kafka as a message bus (cargo feature `kafka`, librdkafka through the `rdkafka` crate): a
//! [`BusProducer`] that waits for the delivery report (`acks=all`), and a [`BusConsumer`] in
//! a consumer group with automatic commits off, committing the offsets after a batch only
//! when the caller commits it (see [`crate::bus`] for the at-least-once contract).
//!
//! A group's committed offsets live in the brokers: a consumer started again with the same
//! `group_id` goes on after the last committed batch, so a batch handed out but not
//! committed comes again. Because a Kafka commit covers every offset below it, a consumer
//! refuses to hand out a batch while the previous one is not committed: after a failed batch,
//! drop the consumer and make a new one to get its messages again.
//!
//! Connections are plaintext unless `tls` is given: then TLS (librdkafka with the system's
//! OpenSSL), the brokers' certificates checked against `ca_file` (or the system's roots) and
//! their host names, with a client certificate when `cert_file` and `key_file` are given
//! (mutual TLS). SASL `PLAIN` credentials (`sasl`) go over TLS when both are set
//! (`sasl_ssl`), over plaintext otherwise.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aiops_core::time::Duration;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde::Deserialize;

use crate::bus::{
    AckHandle, Batch, BusConsumer, BusMessage, BusProducer, PublishAck, bus_error, std_duration,
};
use crate::error::{IntegrationError, Result};
use crate::http::SecretRef;
use crate::traits::BoxFuture;

/// The system name in errors and logs.
pub const SYSTEM: &str = "kafka";

/// Most messages in one batch.
pub const MAX_BATCH_SIZE: usize = 10_000;

/// SASL `PLAIN` credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSasl {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: SecretRef,
}

/// TLS to the brokers. Every field is optional: `tls: {}` is TLS checked against the system's
/// roots.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaTls {
    /// PEM certificates of the CA that signs the brokers' certificates (a private CA); the
    /// system's roots when not given.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (mutual TLS), with `key_file`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate, with `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The password of an encrypted `key_file`.
    #[serde(default)]
    pub key_password: Option<SecretRef>,
}

impl KafkaTls {
    /// Checks that the files are given together and can be read.
    fn validate(&self) -> Result<()> {
        let bad = |key: &str, reason: String| {
            IntegrationError::config(SYSTEM, format!("tls.{key}"), reason)
        };
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err(bad(
                if self.cert_file.is_some() {
                    "key_file"
                } else {
                    "cert_file"
                },
                "a client certificate needs both cert_file and key_file".into(),
            ));
        }
        if self.key_password.is_some() && self.key_file.is_none() {
            return Err(bad("key_password", "is only used with key_file".into()));
        }
        for (key, path) in [
            ("ca_file", &self.ca_file),
            ("cert_file", &self.cert_file),
            ("key_file", &self.key_file),
        ] {
            if let Some(path) = path {
                std::fs::File::open(path)
                    .map_err(|e| bad(key, format!("cannot read {}: {e}", path.display())))?;
            }
        }
        Ok(())
    }
}

/// Where a group with no committed offset starts reading a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetReset {
    /// At the oldest message kept (the default: nothing already stored is skipped).
    #[default]
    Earliest,
    /// At the next message produced.
    Latest,
}

/// Parameters of a Kafka bus, as a configuration writes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaParams {
    /// Bootstrap brokers (`host:port`).
    pub brokers: Vec<String>,
    /// SASL `PLAIN` credentials (none by default).
    #[serde(default)]
    pub sasl: Option<KafkaSasl>,
    /// TLS to the brokers (plaintext by default).
    #[serde(default)]
    pub tls: Option<KafkaTls>,
    /// Topics to consume.
    #[serde(default)]
    pub topics: Vec<String>,
    /// The consumer group (needed to consume): its committed offsets are kept by the brokers.
    #[serde(default)]
    pub group_id: Option<String>,
    /// Where a group without a committed offset starts (default `earliest`).
    #[serde(default)]
    pub offset_reset: OffsetReset,
    /// Most messages in one batch (default 100).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// How long the group waits for a silent consumer (one that crashed) before giving its
    /// partitions to another (`session.timeout.ms`, default `45s`, librdkafka's; the brokers
    /// bound it, 6s to 30m by default).
    #[serde(default = "default_session_timeout")]
    pub session_timeout: Duration,
    /// Time allowed for a message's delivery report (default `30s`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
}

fn default_batch_size() -> usize {
    100
}
fn default_session_timeout() -> Duration {
    Duration::from_secs(45)
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

/// Checked [`KafkaParams`].
#[derive(Debug, Clone)]
pub struct ValidKafkaParams {
    brokers: String,
    sasl: Option<KafkaSasl>,
    tls: Option<KafkaTls>,
    topics: Vec<String>,
    group_id: Option<String>,
    offset_reset: OffsetReset,
    batch_size: usize,
    session_timeout: Duration,
    timeout: Duration,
}

impl KafkaParams {
    /// Parameters for one bootstrap broker with the defaults.
    pub fn new(broker: impl Into<String>) -> Self {
        Self {
            brokers: vec![broker.into()],
            sasl: None,
            tls: None,
            topics: Vec::new(),
            group_id: None,
            offset_reset: OffsetReset::default(),
            batch_size: default_batch_size(),
            session_timeout: default_session_timeout(),
            timeout: default_timeout(),
        }
    }

    /// Checks the parameters (the password is read when a client is made).
    pub fn validate(&self) -> Result<ValidKafkaParams> {
        let bad = |key: &str, reason: String| IntegrationError::config(SYSTEM, key, reason);
        if self.brokers.is_empty() {
            return Err(bad("brokers", "needs at least one host:port".into()));
        }
        for (i, b) in self.brokers.iter().enumerate() {
            let ok = b
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            if !ok || b.contains(',') || b.contains("://") {
                return Err(bad(
                    &format!("brokers[{i}]"),
                    format!("{b:?} is not host:port"),
                ));
            }
        }
        for (i, t) in self.topics.iter().enumerate() {
            check_topic(t).map_err(|r| bad(&format!("topics[{i}]"), r))?;
        }
        if let Some(tls) = &self.tls {
            tls.validate()?;
        }
        if let Some(g) = &self.group_id
            && g.trim().is_empty()
        {
            return Err(bad("group_id", "must not be empty".into()));
        }
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_SIZE {
            return Err(bad(
                "batch_size",
                format!(
                    "must be from 1 to {MAX_BATCH_SIZE}, got {}",
                    self.batch_size
                ),
            ));
        }
        if self.session_timeout.as_millis() < 1000 {
            return Err(bad(
                "session_timeout",
                format!("must be at least 1s, got {}", self.session_timeout),
            ));
        }
        if self.timeout.as_millis() < 1000 {
            return Err(bad(
                "timeout",
                format!("must be at least 1s, got {}", self.timeout),
            ));
        }
        Ok(ValidKafkaParams {
            brokers: self.brokers.join(","),
            sasl: self.sasl.clone(),
            tls: self.tls.clone(),
            topics: self.topics.clone(),
            group_id: self.group_id.clone(),
            offset_reset: self.offset_reset,
            batch_size: self.batch_size,
            session_timeout: self.session_timeout,
            timeout: self.timeout,
        })
    }
}

/// A topic name: 1 to 249 of `a-z A-Z 0-9 . _ -`, not `.` or `..`.
fn check_topic(topic: &str) -> std::result::Result<(), String> {
    let ok = !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("{topic:?} is not a Kafka topic name"))
    }
}

impl ValidKafkaParams {
    /// The librdkafka settings shared by the producer and the consumer.
    fn client_config(&self) -> Result<ClientConfig> {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            .set("client.id", "aiops");
        let protocol = match (&self.sasl, &self.tls) {
            (None, None) => "plaintext",
            (None, Some(_)) => "ssl",
            (Some(_), None) => "sasl_plaintext",
            (Some(_), Some(_)) => "sasl_ssl",
        };
        c.set("security.protocol", protocol);
        if let Some(sasl) = &self.sasl {
            let password = sasl.password.resolve(SYSTEM, "sasl.password")?;
            c.set("sasl.mechanisms", "PLAIN")
                .set("sasl.username", &sasl.username)
                .set("sasl.password", password.expose());
        }
        if let Some(tls) = &self.tls {
            // The brokers' names are checked against their certificates.
            c.set("ssl.endpoint.identification.algorithm", "https");
            let path = |p: &PathBuf| p.to_string_lossy().into_owned();
            if let Some(ca) = &tls.ca_file {
                c.set("ssl.ca.location", path(ca));
            }
            if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
                c.set("ssl.certificate.location", path(cert))
                    .set("ssl.key.location", path(key));
            }
            if let Some(pw) = &tls.key_password {
                let pw = pw.resolve(SYSTEM, "tls.key_password")?;
                c.set("ssl.key.password", pw.expose());
            }
        }
        Ok(c)
    }
}

/// A producer awaiting each message's delivery report.
pub struct KafkaProducer {
    producer: FutureProducer,
    timeout: Duration,
}

impl std::fmt::Debug for KafkaProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaProducer")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl KafkaProducer {
    /// A producer (`acks=all`: delivered means written to every in-sync replica). Does not
    /// connect yet: an unreachable broker shows as a publish failing after `timeout`.
    pub fn new(params: &ValidKafkaParams) -> Result<Self> {
        let producer = params
            .client_config()?
            .set("acks", "all")
            .set("message.timeout.ms", params.timeout.as_millis().to_string())
            .create()
            .map_err(|e| bus_error(SYSTEM, "producer", e))?;
        Ok(Self {
            producer,
            timeout: params.timeout,
        })
    }
}

impl BusProducer for KafkaProducer {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        key: Option<&'a [u8]>,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<PublishAck>> {
        Box::pin(async move {
            let mut record = FutureRecord::<[u8], [u8]>::to(topic).payload(payload);
            if let Some(key) = key {
                record = record.key(key);
            }
            let delivery = self
                .producer
                .send(record, std_duration(self.timeout))
                .await
                .map_err(|(e, _)| bus_error(SYSTEM, &format!("publish on {topic}"), e))?;
            Ok(PublishAck {
                stream: topic.to_string(),
                sequence: delivery.offset.max(0) as u64,
                partition: delivery.partition,
            })
        })
    }
}

/// A member of a consumer group, committing offsets only when a batch is committed.
pub struct KafkaConsumer {
    consumer: Arc<StreamConsumer>,
    batch_size: usize,
    /// True while a batch handed out is not committed.
    pending: Mutex<bool>,
}

impl std::fmt::Debug for KafkaConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConsumer")
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl KafkaConsumer {
    /// Joins `group_id` and subscribes to `topics` (`enable.auto.commit=false`).
    pub fn new(params: &ValidKafkaParams) -> Result<Self> {
        let missing = |key: &str| IntegrationError::config(SYSTEM, key, "needed to consume");
        let group = params
            .group_id
            .as_ref()
            .ok_or_else(|| missing("group_id"))?;
        if params.topics.is_empty() {
            return Err(missing("topics"));
        }
        let consumer: StreamConsumer = params
            .client_config()?
            .set("group.id", group)
            .set(
                "session.timeout.ms",
                params.session_timeout.as_millis().to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                (params.session_timeout.as_millis() / 3)
                    .clamp(1, 3000)
                    .to_string(),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set(
                "auto.offset.reset",
                match params.offset_reset {
                    OffsetReset::Earliest => "earliest",
                    OffsetReset::Latest => "latest",
                },
            )
            .create()
            .map_err(|e| bus_error(SYSTEM, "consumer", e))?;
        let topics: Vec<&str> = params.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|e| bus_error(SYSTEM, "subscribe", e))?;
        Ok(Self {
            consumer: Arc::new(consumer),
            batch_size: params.batch_size,
            pending: Mutex::new(false),
        })
    }
}

impl BusConsumer for KafkaConsumer {
    /// Waits until the batch is full or `max_wait` passed. Refused while the previous batch is
    /// not committed (see the module's documentation).
    fn next_batch(&self, max_wait: Duration) -> BoxFuture<'_, Result<Batch>> {
        Box::pin(async move {
            if *self.pending.lock().expect("not poisoned") {
                return Err(bus_error(
                    SYSTEM,
                    "next batch",
                    "the previous batch is not committed (make a new consumer to get it again)",
                ));
            }
            let deadline = tokio::time::Instant::now() + std_duration(max_wait);
            let mut batch = Batch::default();
            while batch.len() < self.batch_size {
                let m = match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                    Err(_) => break,
                    Ok(m) => m.map_err(|e| bus_error(SYSTEM, "receive", e))?,
                };
                batch.push(
                    BusMessage {
                        topic: m.topic().to_string(),
                        key: m.key().map(<[u8]>::to_vec),
                        payload: m.payload().unwrap_or_default().to_vec(),
                        sequence: m.offset().max(0) as u64,
                        partition: m.partition(),
                        redelivered: false,
                    },
                    AckHandle::Kafka,
                );
            }
            if !batch.is_empty() {
                *self.pending.lock().expect("not poisoned") = true;
            }
            Ok(batch)
        })
    }

    /// Commits, per partition, the offset after the batch's last message (a synchronous
    /// commit: done when the group coordinator has it).
    fn commit(&self, batch: Batch) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let (messages, _) = batch.into_parts();
            if messages.is_empty() {
                return Ok(());
            }
            let mut next: BTreeMap<(String, i32), u64> = BTreeMap::new();
            for m in &messages {
                let e = next.entry((m.topic.clone(), m.partition)).or_default();
                *e = (*e).max(m.sequence + 1);
            }
            let mut list = TopicPartitionList::new();
            for ((topic, partition), offset) in &next {
                list.add_partition_offset(topic, *partition, Offset::Offset(*offset as i64))
                    .map_err(|e| bus_error(SYSTEM, "commit", e))?;
            }
            let consumer = Arc::clone(&self.consumer);
            tokio::task::spawn_blocking(move || {
                // A synchronous commit blocks its thread until the coordinator answers.
                consumer.commit(&list, CommitMode::Sync)
            })
            .await
            .map_err(|e| bus_error(SYSTEM, "commit", e))?
            .map_err(|e| bus_error(SYSTEM, "commit", e))?;
            *self.pending.lock().expect("not poisoned") = false;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_params() {
        let yaml = "brokers: [\"k1:9092\", \"k2:9092\"]\ntopics: [metrics, logs]\n\
                    group_id: aiops\noffset_reset: latest\nbatch_size: 500\n\
                    sasl: {username: u, password: {env: KAFKA_PASSWORD}}\n";
        let p: KafkaParams = serde_saphyr::from_str(yaml).unwrap();
        let v = p.validate().unwrap();
        assert_eq!(v.brokers, "k1:9092,k2:9092");
        assert_eq!(v.offset_reset, OffsetReset::Latest);

        let err = |p: KafkaParams| p.validate().unwrap_err().to_string();
        assert!(err(KafkaParams::new("k1")).contains("host:port"));
        assert!(err(KafkaParams::new("kafka://k1:9092")).contains("host:port"));
        let mut p = KafkaParams::new("k1:9092");
        p.topics = vec!["a b".into()];
        assert!(err(p).contains("topic"));
        let mut p = KafkaParams::new("k1:9092");
        p.batch_size = 0;
        assert!(err(p).contains("batch_size"));
        assert!(serde_saphyr::from_str::<KafkaParams>("brokers: [\"a:1\"]\nbogus: 1\n").is_err());
        let mut p = KafkaParams::new("k1:9092");
        p.tls = Some(KafkaTls {
            cert_file: Some("c.pem".into()),
            ..KafkaTls::default()
        });
        assert!(err(p).contains("tls.key_file"));
        let mut p = KafkaParams::new("k1:9092");
        p.tls = Some(KafkaTls {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..KafkaTls::default()
        });
        let e = err(p);
        assert!(
            e.contains("tls.ca_file") && e.contains("/nonexistent/ca.pem"),
            "{e}"
        );
        // Consuming needs a group and topics.
        let v = KafkaParams::new("k1:9092").validate().unwrap();
        assert!(
            KafkaConsumer::new(&v)
                .unwrap_err()
                .to_string()
                .contains("group_id")
        );
    }

    #[test]
    fn security_protocol_follows_sasl_and_tls() {
        let protocol = |yaml: &str| {
            let p: KafkaParams = serde_saphyr::from_str(yaml).unwrap();
            let c = p.validate().unwrap().client_config().unwrap();
            let get = |k: &str| c.get(k).map(str::to_string);
            (get("security.protocol").unwrap(), get("ssl.ca.location"))
        };
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/ca.pem");
        assert_eq!(protocol("brokers: [\"a:1\"]\n").0, "plaintext");
        assert_eq!(
            protocol("brokers: [\"a:1\"]\ntls: {}\n"),
            ("ssl".into(), None)
        );
        let sasl = "sasl: {username: u, password: {value: p}}\n";
        assert_eq!(
            protocol(&format!("brokers: [\"a:1\"]\n{sasl}")).0,
            "sasl_plaintext"
        );
        assert_eq!(
            protocol(&format!(
                "brokers: [\"a:1\"]\n{sasl}tls: {{ca_file: {ca}}}\n"
            )),
            ("sasl_ssl".into(), Some(ca.to_string()))
        );
    }
}
