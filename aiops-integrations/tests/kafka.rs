//! The Kafka bus against librdkafka's mock cluster (an in-process broker with consumer groups
//! and offset commits): records produced with their delivery reports, consumed in batches by
//! a group, a consumer dropped with a batch not committed (a crash), and every record
//! received at least once by the consumer started again in the same group.
#![cfg(feature = "kafka")]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use aiops_core::Labels;
use aiops_core::time::Duration;
use aiops_integrations::bus::{BusConsumer, BusMessage, BusProducer, MetricRecord, encode};
use aiops_integrations::kafka::{KafkaConsumer, KafkaParams, KafkaProducer};
use rdkafka::mocking::MockCluster;

const RECORDS: u64 = 60;
const PARTITIONS: i32 = 3;

fn metric(i: u64) -> MetricRecord {
    MetricRecord {
        labels: Labels::try_from_pairs([
            ("__name__", "cpu".to_string()),
            ("host", format!("h{}", i % 5)),
        ])
        .unwrap(),
        timestamp: 1_700_000_000_000 + i as i64 * 1000,
        value: i as f64,
    }
}

/// `(partition, offset)` of a message.
fn position(m: &BusMessage) -> (i32, u64) {
    (m.partition, m.sequence)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_across_a_crash() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("metrics", PARTITIONS, 1).unwrap();
    let mut params = KafkaParams::new(cluster.bootstrap_servers());
    params.topics = vec!["metrics".into()];
    params.group_id = Some("pipeline".into());
    params.batch_size = 10;
    params.timeout = Duration::from_secs(10);
    // The mock cluster's least session timeout: a crashed consumer's partitions move soon.
    params.session_timeout = Duration::from_secs(6);
    let valid = params.validate().unwrap();

    // Produce: each publish returns its delivery report (partition and offset).
    let producer = KafkaProducer::new(&valid).unwrap();
    let mut published: BTreeMap<(i32, u64), MetricRecord> = BTreeMap::new();
    for i in 0..RECORDS {
        let r = metric(i);
        let host = r.labels.get("host").unwrap().to_string();
        let ack = producer
            .publish("metrics", Some(host.as_bytes()), &encode(&r))
            .await
            .unwrap();
        assert_eq!(ack.stream, "metrics");
        assert!((0..PARTITIONS).contains(&ack.partition));
        assert!(
            published.insert((ack.partition, ack.sequence), r).is_none(),
            "two records at one offset"
        );
    }
    // A key always goes to the same partition.
    let mut by_host: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for ((p, _), r) in &published {
        by_host
            .entry(r.labels.get("host").unwrap().to_string())
            .or_default()
            .insert(*p);
    }
    assert!(by_host.values().all(|p| p.len() == 1), "{by_host:?}");

    let check = |m: &BusMessage| {
        assert_eq!(m.topic, "metrics");
        let r = m.metric().unwrap();
        assert_eq!(published[&position(m)], r);
        assert_eq!(
            m.key.as_deref(),
            Some(r.labels.get("host").unwrap().as_bytes())
        );
    };

    // Consume: one batch committed, the next handed out and never committed.
    let consumer = KafkaConsumer::new(&valid).unwrap();
    let mut first = Vec::new();
    let started = Instant::now();
    while first.is_empty() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no message came"
        );
        let batch = consumer.next_batch(Duration::from_secs(2)).await.unwrap();
        first.extend(batch.messages().iter().cloned());
        consumer.commit(batch).await.unwrap();
    }
    let second = consumer.next_batch(Duration::from_secs(5)).await.unwrap();
    assert!(!second.is_empty());
    let uncommitted: Vec<BusMessage> = second.messages().to_vec();
    drop(second);
    // The next batch is refused: committing it would commit the one dropped.
    let err = consumer
        .next_batch(Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not committed"), "{err}");
    drop(consumer);
    eprintln!("dropped the consumer at {:?}", started.elapsed());
    first.iter().chain(&uncommitted).for_each(check);

    // A new consumer of the group: the uncommitted batch and the rest come, nothing is lost.
    let consumer = KafkaConsumer::new(&valid).unwrap();
    let mut seen: Vec<BusMessage> = Vec::new();
    let committed: BTreeSet<(i32, u64)> = first.iter().map(position).collect();
    let started = Instant::now();
    loop {
        let all: BTreeSet<(i32, u64)> = committed
            .iter()
            .copied()
            .chain(seen.iter().map(position))
            .collect();
        if all.len() == RECORDS as usize {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{} of {RECORDS} record(s) received",
            all.len()
        );
        let batch = consumer.next_batch(Duration::from_secs(1)).await.unwrap();
        seen.extend(batch.messages().iter().cloned());
        consumer.commit(batch).await.unwrap();
    }
    eprintln!("all received after {:?}", started.elapsed());
    seen.iter().for_each(check);
    let again: BTreeSet<(i32, u64)> = seen.iter().map(position).collect();
    assert!(
        committed.is_disjoint(&again),
        "a committed record came back"
    );
    for m in &uncommitted {
        assert!(
            again.contains(&position(m)),
            "{:?} not delivered again",
            position(m)
        );
    }
    assert_eq!(
        seen.len(),
        again.len(),
        "a record came twice after the restart"
    );
    // Everything committed: nothing more comes.
    let rest = consumer.next_batch(Duration::from_secs(2)).await.unwrap();
    assert!(rest.is_empty(), "{:?}", rest.messages());
}

#[tokio::test]
async fn an_unreachable_broker_fails_the_publish_after_the_timeout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut params = KafkaParams::new(format!("127.0.0.1:{port}"));
    params.timeout = Duration::from_secs(1);
    let producer = KafkaProducer::new(&params.validate().unwrap()).unwrap();
    let started = Instant::now();
    let err = producer.publish("metrics", None, b"x").await.unwrap_err();
    assert!(err.to_string().contains("publish on metrics"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// What a TLS server on loopback saw of one client: the first Kafka request (its API key and
/// client id) after a handshake that checked the client's certificate, or why the handshake
/// failed.
type Seen = Result<(i16, String), String>;

/// A TLS server with the fixtures' server certificate that requires a client certificate
/// signed by the fixtures' CA, and reads the first Kafka request of each connection (a size,
/// then the request header: API key, version, correlation id, client id).
async fn tls_listener() -> (u16, tokio::sync::mpsc::UnboundedReceiver<Seen>) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::AsyncReadExt;
    use tokio_rustls::rustls::{RootCertStore, ServerConfig, server::WebPkiClientVerifier};

    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(format!("{dir}/server.pem"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{dir}/server.key")).unwrap();
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(format!("{dir}/ca.pem")).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let verifier = WebPkiClientVerifier::builder(roots.into()).build().unwrap();
    let config = ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let mut tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let mut head = [0u8; 14];
                if let Err(e) = tls.read_exact(&mut head).await {
                    let _ = tx.send(Err(format!("no request: {e}")));
                    return;
                }
                let api_key = i16::from_be_bytes([head[4], head[5]]);
                let len = i16::from_be_bytes([head[12], head[13]]).max(0) as usize;
                let mut id = vec![0u8; len];
                let seen = match tls.read_exact(&mut id).await {
                    Ok(_) => Ok((api_key, String::from_utf8_lossy(&id).into_owned())),
                    Err(e) => Err(format!("no client id: {e}")),
                };
                let _ = tx.send(seen);
                // Held open without an answer: the client's request times out.
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            });
        }
    });
    (port, rx)
}

/// The first thing a TLS server saw from a producer with `tls`, within 20 s.
async fn first_seen(tls: aiops_integrations::kafka::KafkaTls) -> Seen {
    let (port, mut seen) = tls_listener().await;
    let mut params = KafkaParams::new(format!("localhost:{port}"));
    params.tls = Some(tls);
    params.timeout = Duration::from_secs(3);
    let producer = KafkaProducer::new(&params.validate().unwrap()).unwrap();
    let publish = tokio::spawn(async move { producer.publish("metrics", None, b"x").await });
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), seen.recv())
        .await
        .expect("the client never reached the TLS server")
        .unwrap();
    // The server never answers: the publish fails after its timeout, it does not hang.
    assert!(publish.await.unwrap().is_err());
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca_and_a_client_certificate() {
    use aiops_integrations::kafka::KafkaTls;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let mutual = KafkaTls {
        ca_file: Some(dir.join("ca.pem")),
        cert_file: Some(dir.join("client.pem")),
        key_file: Some(dir.join("client.key")),
        key_password: None,
    };
    // The broker's certificate checked against the private CA, the client's presented: the
    // Kafka protocol runs inside TLS (librdkafka's first request asks for the API versions).
    assert_eq!(first_seen(mutual.clone()).await, Ok((18, "aiops".into())));

    // A broker whose certificate another CA signed is refused by the client.
    let other = KafkaTls {
        ca_file: Some(dir.join("other-ca.pem")),
        ..mutual.clone()
    };
    let refused = first_seen(other).await.unwrap_err();
    assert!(refused.contains("UnknownCA"), "{refused}");

    // Without a client certificate the broker refuses the handshake.
    let anonymous = KafkaTls {
        cert_file: None,
        key_file: None,
        ..mutual
    };
    let refused = first_seen(anonymous).await.unwrap_err();
    assert!(refused.contains("no certificates"), "{refused}");
}
