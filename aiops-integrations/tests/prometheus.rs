//! The Prometheus `MetricSource` against the real things on 127.0.0.1: VictoriaMetrics
//! (Debian's `victoria-metrics`) holding samples this test wrote, and Prometheus (Debian's
//! `prometheus`) for its own limits and error answers. Each is skipped, with a message, when
//! not installed (`scripts/install-test-services.sh` installs them;
//! `AIOPS_REQUIRE_VICTORIAMETRICS=1` / `AIOPS_REQUIRE_PROMETHEUS=1` make a missing binary a
//! failure).

mod common;

use aiops_integrations::IntegrationError;
use aiops_integrations::prometheus::{
    MetricSource, PrometheusClient, PrometheusParams, QueryResult, RangeQuery, selector,
};
use common::{
    prometheus_or_skip, start_prometheus, start_victoria_metrics, victoria_metrics_or_skip,
    vm_import,
};

const STEP: i64 = 15_000;
const POINTS: i64 = 2_000;

fn client(url: &str, max_points: usize) -> PrometheusClient {
    let mut p = PrometheusParams::new(url);
    p.max_points = max_points;
    p.retries = 0;
    PrometheusClient::from_params(&p).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Two days ago, on the hour (ms).
fn t0() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    (now - 2 * 86_400_000) / 3_600_000 * 3_600_000
}

#[test]
fn victoria_metrics_answers_queries_series_label_values_and_errors() {
    let Some(binary) = victoria_metrics_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // VictoriaMetrics refuses a query_range of more than 1,000 points per series here, so the
    // 2,000-point range below only works split.
    let vm = start_victoria_metrics(&binary, dir.path(), 1_000);
    let t0 = t0();
    let mut lines = String::new();
    for i in 0..POINTS {
        let t = t0 + i * STEP;
        lines.push_str(&format!(
            "aiops_it_cpu{{service=\"api\",zone=\"a\"}} {i} {t}\n"
        ));
        lines.push_str(&format!(
            "aiops_it_cpu{{service=\"db\",zone=\"a\"}} {} {t}\n",
            2 * i
        ));
    }
    vm_import(&vm, &lines, "aiops_it_cpu", 2, t0);
    let end = t0 + (POINTS - 1) * STEP;
    let rt = runtime();
    rt.block_on(async {
        // Instant query: one sample per series, at the time asked.
        let c = client(&vm.url, 1_000);
        let QueryResult::Vector(v) = c.instant("aiops_it_cpu", Some(end)).await.unwrap() else {
            panic!("not a vector")
        };
        let mut got: Vec<(String, f64, i64)> = v
            .iter()
            .map(|s| {
                (
                    s.labels.get("service").unwrap().to_string(),
                    s.value,
                    s.timestamp,
                )
            })
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let last = (POINTS - 1) as f64;
        assert_eq!(
            got,
            [
                ("api".to_string(), last, end),
                ("db".to_string(), 2.0 * last, end)
            ]
        );
        // A range selector answers a matrix of raw samples.
        let QueryResult::Matrix(m) = c
            .instant("aiops_it_cpu{service=\"api\"}[1m]", Some(end))
            .await
            .unwrap()
        else {
            panic!("not a matrix")
        };
        assert_eq!(m[0].values(), [last - 3.0, last - 2.0, last - 1.0, last]);

        // The whole range at once is over VictoriaMetrics' limit: a typed error, its message.
        let range = RangeQuery::new(t0, end, STEP).unwrap();
        let big = client(&vm.url, 100_000);
        let e = big.range("aiops_it_cpu", range).await.unwrap_err();
        match &e {
            IntegrationError::Remote { message, .. } => {
                assert!(message.contains("maxPointsPerTimeseries"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        // Split in two (and in seven, with uneven parts): every point once, in order.
        for max_points in [1_000, 300] {
            let c = client(&vm.url, max_points);
            let series = c.query_range("aiops_it_cpu", range).await.unwrap();
            assert_eq!(series.len(), 2, "max_points {max_points}");
            for s in &series {
                let k = if s.labels().get("service") == Some("db") {
                    2.0
                } else {
                    1.0
                };
                assert_eq!(s.len(), POINTS as usize, "max_points {max_points}");
                assert_eq!(s.timestamps()[0], t0);
                assert!(s.timestamps().windows(2).all(|w| w[1] - w[0] == STEP));
                assert!(
                    s.values()
                        .iter()
                        .enumerate()
                        .all(|(i, &v)| v == k * i as f64)
                );
            }
        }
        // The selector written from a series' labels finds exactly that series.
        let series = c
            .range(
                "aiops_it_cpu",
                RangeQuery::new(t0, t0 + STEP, STEP).unwrap(),
            )
            .await
            .unwrap();
        let db = series
            .iter()
            .find(|s| s.labels().get("service") == Some("db"))
            .unwrap();
        let one = c
            .range(
                &selector(db.labels()),
                RangeQuery::new(t0, t0 + 10 * STEP, STEP).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].values()[10], 20.0);

        // Series and label values.
        let found = c
            .series(&["aiops_it_cpu"], Some(t0), Some(end))
            .await
            .unwrap();
        let mut services: Vec<&str> = found.iter().filter_map(|l| l.get("service")).collect();
        services.sort_unstable();
        assert_eq!(services, ["api", "db"]);
        assert!(
            found
                .iter()
                .all(|l| l.get("__name__") == Some("aiops_it_cpu"))
        );
        let values = c
            .label_values("service", &["aiops_it_cpu"], Some(t0), Some(end))
            .await
            .unwrap();
        assert_eq!(values, ["api", "db"]);
        assert!(c.label_values("bad-name", &[], None, None).await.is_err());

        // Bad PromQL: VictoriaMetrics' error, typed, with its message.
        let e = c.instant("sum(aiops_it_cpu", None).await.unwrap_err();
        assert!(matches!(e, IntegrationError::Remote { .. }), "{e}");
        assert!(e.to_string().contains("sum(aiops_it_cpu"), "{e}");
    });
}

#[test]
fn prometheus_ranges_over_its_limit_are_split_and_errors_are_typed() {
    let Some(binary) = prometheus_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prom = start_prometheus(&binary, dir.path());
    let rt = runtime();
    rt.block_on(async {
        let start = 1_700_000_000_000;
        // 20,001 points: over Prometheus' 11,000.
        let range = RangeQuery::new(start, start + 20_000_000, 1_000).unwrap();
        let e = client(&prom.url, 30_000)
            .range("time()", range)
            .await
            .unwrap_err();
        match &e {
            IntegrationError::Remote {
                status,
                error_type,
                message,
                ..
            } => {
                assert_eq!((*status, error_type.as_str()), (400, "bad_data"));
                assert!(message.contains("11,000"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let c = client(
            &prom.url,
            aiops_integrations::prometheus::MAX_POINTS_PER_SERIES,
        );
        let series = c.query_range("time()", range).await.unwrap();
        assert_eq!(series.len(), 1);
        let s = &series[0];
        assert_eq!(s.len(), 20_001);
        assert!(
            s.timestamps()
                .iter()
                .zip(s.values())
                .all(|(&t, &v)| v * 1000.0 == t as f64)
        );

        // Scalars, strings and the special values.
        assert_eq!(
            c.query("1 + 1", Some(start)).await.unwrap(),
            QueryResult::Scalar {
                timestamp: start,
                value: 2.0
            }
        );
        assert!(matches!(
            c.query("\"hi\"", Some(start)).await.unwrap(),
            QueryResult::String { value, .. } if value == "hi"
        ));
        let QueryResult::Vector(v) = c.query("vector(0) / 0", Some(start)).await.unwrap() else {
            panic!()
        };
        assert!(v[0].value.is_nan());
        let QueryResult::Scalar { value, .. } = c.query("1 / 0", Some(start)).await.unwrap() else {
            panic!()
        };
        assert_eq!(value, f64::INFINITY);
        let QueryResult::Scalar { value, .. } = c.query("-1 / 0", Some(start)).await.unwrap()
        else {
            panic!()
        };
        assert_eq!(value, f64::NEG_INFINITY);

        let e = c.query("rate(up[5m]", None).await.unwrap_err();
        match &e {
            IntegrationError::Remote {
                error_type,
                message,
                ..
            } => {
                assert_eq!(error_type, "bad_data");
                assert!(message.contains("parse error"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // A server that is not there: unreachable, after the retries.
        let gone = format!("http://127.0.0.1:{}", common::free_port());
        let e = client(&gone, 100).query("up", None).await.unwrap_err();
        assert!(matches!(e, IntegrationError::Unreachable { .. }), "{e}");
    });
}
