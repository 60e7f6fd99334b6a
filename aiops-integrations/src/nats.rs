//! NATS JetStream as a message bus: a [`BusProducer`] that publishes to a stream and waits for
//! the server's `PubAck`, and a [`BusConsumer`] over a durable pull consumer with the explicit
//! ack policy (see [`crate::bus`] for the at-least-once contract).
//!
//! The consumer's state (which messages were acknowledged) lives in the server under the
//! durable name, so a consumer started again with the same name goes on where the last one
//! committed; messages handed out but not acknowledged are delivered again after `ack_wait`,
//! or at once to a consumer started after the previous one stopped and its ack wait passed.
//! A record's key travels in the `Aiops-Key` header (JetStream has no keys).

use std::str::FromStr;

use aiops_core::time::Duration;
use async_nats::jetstream::{self, consumer, stream};
use async_nats::{ConnectOptions, HeaderMap, ServerAddr};
use futures_util::StreamExt;
use serde::Deserialize;

use crate::bus::{
    AckHandle, Batch, BusConsumer, BusMessage, BusProducer, PublishAck, bus_error, std_duration,
};
use crate::error::{IntegrationError, Result};
use crate::http::SecretRef;
use crate::traits::BoxFuture;

/// The system name in errors and logs.
pub const SYSTEM: &str = "nats";

/// The header that carries a record's key.
pub const KEY_HEADER: &str = "Aiops-Key";

/// Credentials of a NATS connection: a token, or a user and password.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsAuth {
    /// The server's authorization token.
    #[serde(default)]
    pub token: Option<SecretRef>,
    /// The user name (with `password`).
    #[serde(default)]
    pub user: Option<String>,
    /// The user's password.
    #[serde(default)]
    pub password: Option<SecretRef>,
}

/// Parameters of a NATS JetStream bus, as a configuration writes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsParams {
    /// Server URLs (`nats://127.0.0.1:4222`; `tls://` for TLS); the client picks one and
    /// fails over to the others.
    pub urls: Vec<String>,
    /// Credentials (none by default).
    #[serde(default)]
    pub auth: Option<NatsAuth>,
    /// The JetStream stream's name.
    pub stream: String,
    /// The subjects the stream stores (used when it is created, `create_stream`).
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Creates the stream (file storage, limits retention) when it does not exist (default
    /// false: a missing stream is an error).
    #[serde(default)]
    pub create_stream: bool,
    /// The durable consumer's name (needed to consume): its progress is kept under this name
    /// by the server.
    #[serde(default)]
    pub durable: Option<String>,
    /// Consume only the stream's messages on this subject (wildcards allowed; all by default).
    #[serde(default)]
    pub filter_subject: Option<String>,
    /// How long the server waits for the ack of a delivered message before delivering it
    /// again (default `30s`).
    #[serde(default = "default_ack_wait")]
    pub ack_wait: Duration,
    /// Most messages in one batch (default 100).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Time allowed to connect, and for one request or publish ack (default `10s`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
}

fn default_ack_wait() -> Duration {
    Duration::from_secs(30)
}
fn default_batch_size() -> usize {
    100
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Credentials read from their [`SecretRef`]s.
#[derive(Debug, Clone)]
enum Credentials {
    None,
    Token(SecretRef),
    User(String, SecretRef),
}

/// Checked [`NatsParams`].
#[derive(Debug, Clone)]
pub struct ValidNatsParams {
    urls: Vec<ServerAddr>,
    shown_urls: String,
    credentials: Credentials,
    stream: String,
    subjects: Vec<String>,
    create_stream: bool,
    durable: Option<String>,
    filter_subject: Option<String>,
    ack_wait: Duration,
    batch_size: usize,
    timeout: Duration,
}

/// Most messages in one batch.
pub const MAX_BATCH_SIZE: usize = 10_000;

impl NatsParams {
    /// Parameters for `url` and `stream` with the defaults.
    pub fn new(url: impl Into<String>, stream: impl Into<String>) -> Self {
        Self {
            urls: vec![url.into()],
            auth: None,
            stream: stream.into(),
            subjects: Vec::new(),
            create_stream: false,
            durable: None,
            filter_subject: None,
            ack_wait: default_ack_wait(),
            batch_size: default_batch_size(),
            timeout: default_timeout(),
        }
    }

    /// Checks the parameters (the secrets are read when connecting).
    pub fn validate(&self) -> Result<ValidNatsParams> {
        let bad = |key: &str, reason: String| IntegrationError::Config {
            system: SYSTEM,
            key: key.into(),
            reason,
        };
        if self.urls.is_empty() {
            return Err(bad("urls", "needs at least one server URL".into()));
        }
        let mut urls = Vec::new();
        for (i, url) in self.urls.iter().enumerate() {
            let addr = ServerAddr::from_str(url)
                .map_err(|e| bad(&format!("urls[{i}]"), format!("not a NATS URL: {e}")))?;
            if addr.has_user_pass() {
                return Err(bad(
                    &format!("urls[{i}]"),
                    "holds credentials: give them in auth".into(),
                ));
            }
            urls.push(addr);
        }
        check_name(&self.stream).map_err(|r| bad("stream", r))?;
        if let Some(d) = &self.durable {
            check_name(d).map_err(|r| bad("durable", r))?;
        }
        for (i, s) in self.subjects.iter().enumerate() {
            check_subject(s).map_err(|r| bad(&format!("subjects[{i}]"), r))?;
        }
        if self.create_stream && self.subjects.is_empty() {
            return Err(bad(
                "subjects",
                "needed to create the stream (create_stream is true)".into(),
            ));
        }
        if let Some(f) = &self.filter_subject {
            check_subject(f).map_err(|r| bad("filter_subject", r))?;
        }
        if self.ack_wait.as_millis() < 1000 {
            return Err(bad(
                "ack_wait",
                format!("must be at least 1s, got {}", self.ack_wait),
            ));
        }
        if self.timeout.as_millis() <= 0 {
            return Err(bad(
                "timeout",
                format!("must be positive, got {}", self.timeout),
            ));
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
        let credentials = match &self.auth {
            None => Credentials::None,
            Some(NatsAuth {
                token: Some(t),
                user: None,
                password: None,
            }) => Credentials::Token(t.clone()),
            Some(NatsAuth {
                token: None,
                user: Some(u),
                password: Some(p),
            }) => Credentials::User(u.clone(), p.clone()),
            Some(_) => {
                return Err(bad(
                    "auth",
                    "give either token, or user and password".into(),
                ));
            }
        };
        Ok(ValidNatsParams {
            shown_urls: self.urls.join(","),
            urls,
            credentials,
            stream: self.stream.clone(),
            subjects: self.subjects.clone(),
            create_stream: self.create_stream,
            durable: self.durable.clone(),
            filter_subject: self.filter_subject.clone(),
            ack_wait: self.ack_wait,
            batch_size: self.batch_size,
            timeout: self.timeout,
        })
    }
}

/// A stream or consumer name: not empty, no whitespace, `.`, `*`, `>`, `/` or `\`.
fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || ".*>/\\".contains(*c))
    {
        return Err(format!("{name:?} holds {c:?}, not allowed in a NATS name"));
    }
    Ok(())
}

/// A subject: dot-separated non-empty tokens without whitespace; `*` and `>` only as whole
/// tokens, `>` only last.
fn check_subject(subject: &str) -> std::result::Result<(), String> {
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, t) in tokens.iter().enumerate() {
        if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{subject:?} is not a NATS subject"));
        }
        if (t.contains('*') && *t != "*")
            || (t.contains('>') && (*t != ">" || i + 1 != tokens.len()))
        {
            return Err(format!("{subject:?} has a misplaced wildcard"));
        }
    }
    Ok(())
}

/// A connection to JetStream: the producer, and the maker of consumers.
#[derive(Debug, Clone)]
pub struct NatsBus {
    js: jetstream::Context,
    stream: stream::Stream,
    params: ValidNatsParams,
}

impl NatsBus {
    /// Connects, then finds the stream (or creates it when `create_stream` is set).
    pub async fn connect(params: &ValidNatsParams) -> Result<Self> {
        let options = match &params.credentials {
            Credentials::None => ConnectOptions::new(),
            Credentials::Token(t) => {
                ConnectOptions::with_token(t.resolve(SYSTEM, "auth.token")?.expose().to_string())
            }
            Credentials::User(u, p) => ConnectOptions::with_user_and_password(
                u.clone(),
                p.resolve(SYSTEM, "auth.password")?.expose().to_string(),
            ),
        };
        let timeout = std_duration(params.timeout);
        let client = options
            .name("aiops")
            .connection_timeout(timeout)
            .request_timeout(Some(timeout))
            .connect(params.urls.as_slice())
            .await
            .map_err(|e| IntegrationError::Unreachable {
                system: SYSTEM,
                url: params.shown_urls.clone(),
                reason: e.to_string(),
                attempts: 1,
            })?;
        let js = jetstream::new(client);
        let stream = if params.create_stream {
            js.get_or_create_stream(stream::Config {
                name: params.stream.clone(),
                subjects: params.subjects.clone(),
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| bus_error(SYSTEM, &format!("stream {}", params.stream), e))?
        } else {
            js.get_stream(&params.stream)
                .await
                .map_err(|e| bus_error(SYSTEM, &format!("stream {}", params.stream), e))?
        };
        Ok(Self {
            js,
            stream,
            params: params.clone(),
        })
    }

    /// The durable pull consumer named by `durable` (created when missing, with the explicit
    /// ack policy, delivering the whole stream from its start).
    pub async fn consumer(&self) -> Result<NatsConsumer> {
        let durable = self
            .params
            .durable
            .clone()
            .ok_or(IntegrationError::Config {
                system: SYSTEM,
                key: "durable".into(),
                reason: "needed to consume".into(),
            })?;
        let config = consumer::pull::Config {
            durable_name: Some(durable.clone()),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: std_duration(self.params.ack_wait),
            deliver_policy: consumer::DeliverPolicy::All,
            filter_subject: self.params.filter_subject.clone().unwrap_or_default(),
            ..Default::default()
        };
        let consumer = self
            .stream
            .get_or_create_consumer(&durable, config)
            .await
            .map_err(|e| bus_error(SYSTEM, &format!("consumer {durable}"), e))?;
        // A consumer of that name made elsewhere may not take acks: refuse it rather than
        // lose the at-least-once guarantee.
        let policy = consumer.cached_info().config.ack_policy;
        if policy != consumer::AckPolicy::Explicit {
            return Err(bus_error(
                SYSTEM,
                &format!("consumer {durable}"),
                format!("exists with the ack policy {policy:?}, not explicit"),
            ));
        }
        Ok(NatsConsumer {
            consumer,
            batch_size: self.params.batch_size,
        })
    }
}

impl BusProducer for NatsBus {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        key: Option<&'a [u8]>,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<PublishAck>> {
        Box::pin(async move {
            let mut headers = HeaderMap::new();
            if let Some(key) = key {
                let key = std::str::from_utf8(key)
                    .ok()
                    .filter(|k| !k.chars().any(|c| c.is_control()))
                    .ok_or_else(|| IntegrationError::Payload {
                        system: SYSTEM,
                        message: "a key must be UTF-8 text without control characters".into(),
                    })?;
                headers.insert(KEY_HEADER, key);
            }
            let ack = self
                .js
                .publish_with_headers(topic.to_string(), headers, payload.to_vec().into())
                .await
                .map_err(|e| bus_error(SYSTEM, &format!("publish on {topic}"), e))?
                .await
                .map_err(|e| bus_error(SYSTEM, &format!("ack of a publish on {topic}"), e))?;
            Ok(PublishAck {
                stream: ack.stream,
                sequence: ack.sequence,
                partition: 0,
            })
        })
    }
}

/// A durable pull consumer of a JetStream stream.
#[derive(Debug)]
pub struct NatsConsumer {
    consumer: consumer::PullConsumer,
    batch_size: usize,
}

impl BusConsumer for NatsConsumer {
    fn next_batch(&self, max_wait: Duration) -> BoxFuture<'_, Result<Batch>> {
        Box::pin(async move {
            let wait = std_duration(max_wait);
            let mut messages = if wait.is_zero() {
                self.consumer
                    .fetch()
                    .max_messages(self.batch_size)
                    .messages()
                    .await
                    .map_err(|e| bus_error(SYSTEM, "fetch", e))?
            } else {
                self.consumer
                    .batch()
                    .max_messages(self.batch_size)
                    .expires(wait)
                    .messages()
                    .await
                    .map_err(|e| bus_error(SYSTEM, "fetch", e))?
            };
            let mut batch = Batch::default();
            while let Some(m) = messages.next().await {
                let m = m.map_err(|e| bus_error(SYSTEM, "fetch", e))?;
                let (sequence, redelivered) = {
                    let info = m.info().map_err(|e| bus_error(SYSTEM, "message info", e))?;
                    (info.stream_sequence, info.delivered > 1)
                };
                let (m, acker) = m.split();
                let key = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(KEY_HEADER))
                    .map(|v| v.as_str().as_bytes().to_vec());
                batch.push(
                    BusMessage {
                        topic: m.subject.to_string(),
                        key,
                        payload: m.payload.to_vec(),
                        sequence,
                        partition: 0,
                        redelivered,
                    },
                    AckHandle::Nats(Box::new(acker)),
                );
            }
            Ok(batch)
        })
    }

    fn commit(&self, batch: Batch) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let (_, acks) = batch.into_parts();
            let last = acks.len().saturating_sub(1);
            for (i, ack) in acks.into_iter().enumerate() {
                #[cfg_attr(not(feature = "kafka"), allow(clippy::infallible_destructuring_match))]
                let acker = match ack {
                    AckHandle::Nats(acker) => acker,
                    #[cfg(feature = "kafka")]
                    _ => return Err(bus_error(SYSTEM, "commit", "a batch of another system")),
                };
                // Acks go in order on one connection: the server confirming the last one
                // means it has every one before it.
                if i == last {
                    acker.double_ack().await
                } else {
                    acker.ack().await
                }
                .map_err(|e| bus_error(SYSTEM, "ack", e))?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> NatsParams {
        let mut p = NatsParams::new("nats://127.0.0.1:4222", "AIOPS");
        p.subjects = vec!["metrics.>".into(), "logs.*".into()];
        p.durable = Some("pipeline".into());
        p
    }

    #[test]
    fn validates_params() {
        assert!(params().validate().is_ok());
        let yaml = "urls: [\"nats://a:4222\", \"b:4222\"]\nstream: S\nsubjects: [metrics.>]\n\
                    create_stream: true\ndurable: d\nack_wait: 1m\nbatch_size: 5\n\
                    auth: {user: u, password: {env: NATS_PASSWORD}}\n";
        let p: NatsParams = serde_saphyr::from_str(yaml).unwrap();
        let v = p.validate().unwrap();
        assert_eq!(v.urls.len(), 2);
        assert!(matches!(v.credentials, Credentials::User(..)));

        let err = |p: NatsParams| p.validate().unwrap_err().to_string();
        let mut p = params();
        p.urls = vec!["nats://u:secret@h:4222".into()];
        assert!(err(p).contains("auth"));
        let mut p = params();
        p.stream = "a.b".into();
        assert!(err(p).contains("stream"));
        let mut p = params();
        p.subjects = vec!["a.>.b".into()];
        assert!(err(p).contains("wildcard"));
        let mut p = params();
        p.subjects = vec![];
        p.create_stream = true;
        assert!(err(p).contains("subjects"));
        let mut p = params();
        p.batch_size = 0;
        assert!(err(p).contains("batch_size"));
        let mut p = params();
        p.ack_wait = Duration(10);
        assert!(err(p).contains("ack_wait"));
        let mut p = params();
        p.auth = Some(NatsAuth {
            token: Some(SecretRef::Env("T".into())),
            user: Some("u".into()),
            password: None,
        });
        assert!(err(p).contains("either token"));
        assert!(serde_saphyr::from_str::<NatsParams>("urls: []\nstream: S\nbogus: 1\n").is_err());
    }
}
