//! The message bus roles of the pipeline: a [`BusConsumer`] of records (metric samples and
//! log lines, JSON) with at-least-once delivery, and a [`BusProducer`] that publishes a
//! payload and waits until the broker has it. Implemented by NATS JetStream
//! ([`crate::nats`]) and Kafka ([`crate::kafka`], cargo feature `kafka`).
//!
//! At least once: [`BusConsumer::next_batch`] hands out a [`Batch`], the caller processes
//! it, then gives it back to [`BusConsumer::commit`], which acknowledges every message of it
//! (NATS: an ack per message; Kafka: the offsets after the batch, per partition). A message
//! that was handed out but not committed (the process stopped, the batch was dropped) is
//! delivered again: to the next consumer of the same durable name or group after a restart,
//! and on NATS also after the consumer's ack wait. A caller must therefore accept duplicates
//! (records carry their own timestamp and labels, so storing one twice is idempotent).
//!
//! Payloads: a metric sample is a [`MetricRecord`] as JSON
//! (`{"labels": {"__name__": "cpu", "host": "a"}, "timestamp": 1700000000000, "value": 0.5}`),
//! a log line a [`LogRecord`] as JSON
//! (`{"labels": {"service": "api"}, "timestamp": 1700000000000, "line": "GET / 200"}`).

use std::collections::BTreeMap;

use aiops_core::time::Duration;
use aiops_core::{Labels, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::error::{IntegrationError, Result};
use crate::traits::BoxFuture;

/// One metric sample as carried on the bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricRecord {
    /// The series' labels, `__name__` included.
    pub labels: Labels,
    /// When, ms since the epoch.
    pub timestamp: TimestampMs,
    /// The value (`null` in JSON for NaN).
    #[serde(with = "nan_as_null")]
    pub value: f64,
}

/// One log line as carried on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogRecord {
    /// Where it comes from (`service`, `host`...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// When, ms since the epoch.
    pub timestamp: TimestampMs,
    /// The line, without its trailing newline.
    pub line: String,
}

mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_nan() {
            s.serialize_none()
        } else {
            s.serialize_f64(*v)
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// One message received from the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusMessage {
    /// The subject (NATS) or topic (Kafka) it was published on.
    pub topic: String,
    /// The key it was published with, if any.
    pub key: Option<Vec<u8>>,
    /// The payload, as published.
    pub payload: Vec<u8>,
    /// Where it is in the broker: the stream sequence (NATS) or the offset in its partition
    /// (Kafka).
    pub sequence: u64,
    /// The Kafka partition (0 on NATS).
    pub partition: i32,
    /// True when the broker says it was delivered before (NATS' delivery count above 1; Kafka
    /// does not tell, so always false there).
    pub redelivered: bool,
}

impl BusMessage {
    /// The payload read as a [`MetricRecord`].
    pub fn metric(&self) -> Result<MetricRecord> {
        decode(&self.payload, "metric record")
    }

    /// The payload read as a [`LogRecord`].
    pub fn log(&self) -> Result<LogRecord> {
        decode(&self.payload, "log record")
    }
}

fn decode<T: for<'de> Deserialize<'de>>(payload: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(payload).map_err(|e| IntegrationError::Payload {
        system: "bus",
        message: format!("not a {what}: {e}"),
    })
}

/// Encodes a record as the JSON payload a [`BusConsumer`] reads back.
pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    serde_json::to_vec(record).expect("records serialize to JSON")
}

/// What the consumer needs to acknowledge one message (private to each implementation).
pub(crate) enum AckHandle {
    /// NATS: the message's acker (its reply subject).
    Nats(Box<async_nats::jetstream::message::Acker>),
    /// Kafka: the offset is in the message itself.
    #[cfg(feature = "kafka")]
    Kafka,
}

impl std::fmt::Debug for AckHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AckHandle::Nats(_) => f.write_str("Nats"),
            #[cfg(feature = "kafka")]
            AckHandle::Kafka => f.write_str("Kafka"),
        }
    }
}

/// Messages handed out by [`BusConsumer::next_batch`], to give back to
/// [`BusConsumer::commit`] once processed. Dropping a batch without committing it leaves its
/// messages to be delivered again.
#[derive(Debug, Default)]
pub struct Batch {
    messages: Vec<BusMessage>,
    acks: Vec<AckHandle>,
}

impl Batch {
    pub(crate) fn push(&mut self, message: BusMessage, ack: AckHandle) {
        self.messages.push(message);
        self.acks.push(ack);
    }

    pub(crate) fn into_parts(self) -> (Vec<BusMessage>, Vec<AckHandle>) {
        (self.messages, self.acks)
    }

    /// The messages, in the order received.
    pub fn messages(&self) -> &[BusMessage] {
        &self.messages
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// True when the wait ended with no message.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// A consumer of the bus with at-least-once delivery: take a batch, process it, commit it.
pub trait BusConsumer: Send + Sync + std::fmt::Debug {
    /// Up to the configured batch size of messages, waiting at most `max_wait` for the first;
    /// an empty batch when none came.
    fn next_batch(&self, max_wait: Duration) -> BoxFuture<'_, Result<Batch>>;

    /// Acknowledges every message of `batch`: they will not be delivered again to this
    /// durable consumer or group.
    fn commit(&self, batch: Batch) -> BoxFuture<'_, Result<()>>;
}

/// The broker's receipt of a published message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishAck {
    /// The stream (NATS) or topic (Kafka) that stored it.
    pub stream: String,
    /// Its sequence in the stream (NATS) or offset in its partition (Kafka).
    pub sequence: u64,
    /// The Kafka partition (0 on NATS).
    pub partition: i32,
}

/// A producer on the bus: each publish returns once the broker acknowledged the message.
pub trait BusProducer: Send + Sync + std::fmt::Debug {
    /// Publishes `payload` on `topic` (a NATS subject or a Kafka topic) with an optional `key`
    /// (Kafka's partitioning key; a header on NATS), and waits for the broker's ack.
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        key: Option<&'a [u8]>,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<PublishAck>>;
}

/// A bus error of `system` (`nats`, `kafka`).
pub(crate) fn bus_error(
    system: &'static str,
    what: &str,
    e: impl std::fmt::Display,
) -> IntegrationError {
    IntegrationError::Bus {
        system,
        reason: format!("{what}: {e}"),
    }
}

/// The std duration of a configured one (negative is zero).
pub(crate) fn std_duration(d: Duration) -> std::time::Duration {
    std::time::Duration::from_millis(d.as_millis().max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_as_json() {
        let m = MetricRecord {
            labels: Labels::try_from_pairs([("__name__", "cpu"), ("host", "a")]).unwrap(),
            timestamp: 1_700_000_000_000,
            value: 0.5,
        };
        let json = String::from_utf8(encode(&m)).unwrap();
        assert_eq!(
            json,
            r#"{"labels":{"__name__":"cpu","host":"a"},"timestamp":1700000000000,"value":0.5}"#
        );
        let msg = BusMessage {
            topic: "metrics".into(),
            key: None,
            payload: json.into_bytes(),
            sequence: 1,
            partition: 0,
            redelivered: false,
        };
        assert_eq!(msg.metric().unwrap(), m);
        assert!(msg.log().is_err());

        let nan = MetricRecord {
            value: f64::NAN,
            ..m
        };
        let back: MetricRecord = serde_json::from_slice(&encode(&nan)).unwrap();
        assert!(back.value.is_nan());

        let l: LogRecord =
            serde_json::from_str(r#"{"timestamp": 5, "line": "GET / 200"}"#).unwrap();
        assert!(l.labels.is_empty());
        assert_eq!(serde_json::from_slice::<LogRecord>(&encode(&l)).unwrap(), l);
    }
}
