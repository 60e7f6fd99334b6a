//! remote_write from outside the crate: a Prometheus-sized batch written as a load generator
//! would, read back into aiops series.

use aiops_core::Labels;
use aiops_integrations::IntegrationError;
use aiops_integrations::remote_write::{
    self, Label, Limits, STALE_NAN_BITS, Sample, SeriesOptions, TimeSeries, WriteRequest,
};

/// `series` series of `points` samples 15 s apart, sent as Prometheus 2.x does: one entry per
/// sample, series interleaved, labels in reverse order. The last sample of every tenth series
/// is a staleness marker.
fn load(series: usize, points: i64) -> WriteRequest {
    let entry = |i: usize, k: i64| TimeSeries {
        labels: vec![
            Label {
                name: "job".into(),
                value: "node".into(),
            },
            Label {
                name: "instance".into(),
                value: format!("host{i}:9100"),
            },
            Label {
                name: "__name__".into(),
                value: "node_load1".into(),
            },
        ],
        samples: vec![Sample {
            value: if i.is_multiple_of(10) && k == points - 1 {
                f64::from_bits(STALE_NAN_BITS)
            } else {
                (i as f64) + (k as f64) / 100.0
            },
            timestamp: 1_700_000_000_000 + 15_000 * k,
        }],
        ..TimeSeries::default()
    };
    WriteRequest {
        timeseries: (0..points)
            .flat_map(|k| (0..series).map(move |i| (i, k)))
            .map(|(i, k)| entry(i, k))
            .collect(),
        metadata: Vec::new(),
    }
}

#[test]
fn a_prometheus_sized_batch_round_trips() {
    let request = load(500, 4);
    let body = remote_write::encode(&request).unwrap();
    let batches =
        remote_write::decode_batches(&body, &Limits::default(), &SeriesOptions::default()).unwrap();
    let s = batches.summary;
    assert_eq!(
        (s.series, s.samples, s.stale_markers, s.rejected),
        (500, 1950, 50, 0)
    );

    let third = &batches.series[3];
    assert_eq!(third.resource.as_deref(), Some("host3:9100"));
    let expected = Labels::try_from_pairs([
        ("__name__", "node_load1"),
        ("instance", "host3:9100"),
        ("job", "node"),
    ])
    .unwrap();
    assert_eq!(third.labels, expected);
    assert_eq!(third.labels.fingerprint(), expected.fingerprint());
    let ts = third.to_time_series().unwrap();
    assert_eq!(ts.len(), 4);
    assert_eq!(ts.values()[3], 3.03);
    assert_eq!(batches.series[10].stale, [1_700_000_045_000]);
}

#[test]
fn the_limit_applies_to_the_decompressed_size() {
    let body = remote_write::encode(&load(500, 4)).unwrap();
    let raw = remote_write::decode(&body, &Limits::default())
        .map(|r| prost::Message::encoded_len(&r))
        .unwrap();
    let tight = Limits {
        max_decoded_bytes: raw - 1,
    };
    match remote_write::decode(&body, &tight) {
        Err(IntegrationError::TooLarge { size, limit, .. }) => {
            assert_eq!((size, limit), (raw as u64, raw as u64 - 1));
            assert!(body.len() < raw, "the body is compressed");
        }
        other => panic!("{other:?}"),
    }
}
