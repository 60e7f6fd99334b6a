//! The service's own metrics, in the Prometheus text exposition format (`GET /metrics`):
//! request latency histograms per route, and the pipelines' counters and queue depths.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use crate::metrics::MetricPipeline;

/// Upper bounds of the latency buckets (seconds).
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request latencies by (method, route, status).
#[derive(Debug, Default)]
pub struct Telemetry {
    requests: Mutex<BTreeMap<(String, String, u16), Histogram>>,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Telemetry {
    /// Records one request: its method, route template (`/api/v1/anomalies/{id}`, never the
    /// raw path, so the label set stays bounded), status and duration (seconds).
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut m = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let h = m
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The exposition text: request histograms, then the metric pipeline's counters.
    pub fn render(&self, metrics: &MetricPipeline) -> String {
        let mut out = String::new();
        out.push_str("# HELP aiops_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE aiops_http_request_duration_seconds histogram\n");
        let m = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        for ((method, route, status), h) in m.iter() {
            let labels = format!(
                "method=\"{}\",route=\"{}\",status=\"{status}\"",
                escape(method),
                escape(route)
            );
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "aiops_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "aiops_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "aiops_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "aiops_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        drop(m);
        let c = &metrics.counters;
        let counters = [
            (
                "aiops_ingest_samples_total",
                "Samples received and committed.",
                &c.samples_in,
            ),
            (
                "aiops_detector_samples_total",
                "Samples scored by a detector.",
                &c.samples_scored,
            ),
            (
                "aiops_detector_out_of_order_total",
                "Samples not scored: not newer than the last scored one of their series.",
                &c.out_of_order,
            ),
            ("aiops_anomalies_total", "Anomalies stored.", &c.anomalies),
            (
                "aiops_ingest_refused_total",
                "Ingest batches refused with 429 (queue full).",
                &c.refused,
            ),
            (
                "aiops_detector_errors_total",
                "Samples a detector refused.",
                &c.detector_errors,
            ),
            (
                "aiops_detector_states_saved_total",
                "Detector states written to the store.",
                &c.states_saved,
            ),
            (
                "aiops_detector_states_evicted_total",
                "Idle detector states saved and dropped from memory (metrics.idle_evict_s).",
                &c.states_evicted,
            ),
            (
                "aiops_detector_states_reloaded_total",
                "Dropped detector states restored from the store at their series' next sample.",
                &c.states_reloaded,
            ),
            (
                "aiops_detector_checkpoints_total",
                "Saves of detector states (each writes the longest-unsaved changed states first).",
                &c.checkpoints,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        if let Ok(by) = c.anomalies_by_resource.lock() {
            let _ = writeln!(
                out,
                "# HELP aiops_anomalies_by_resource_total Anomalies stored, by resource.\n# TYPE aiops_anomalies_by_resource_total counter"
            );
            for (resource, n) in by.iter() {
                let _ = writeln!(
                    out,
                    "aiops_anomalies_by_resource_total{{resource=\"{}\"}} {n}",
                    escape(resource)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP aiops_detector_seconds_total Time spent in detectors.\n# TYPE aiops_detector_seconds_total counter\naiops_detector_seconds_total {}",
            c.detector_nanos.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(
            out,
            "# HELP aiops_detector_checkpoint_seconds_total Time spent saving detector states.\n# TYPE aiops_detector_checkpoint_seconds_total counter\naiops_detector_checkpoint_seconds_total {}",
            c.checkpoint_nanos.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(
            out,
            "# HELP aiops_queue_depth Batches waiting for detection.\n# TYPE aiops_queue_depth gauge\naiops_queue_depth{{queue=\"detection\"}} {}",
            metrics.queue_depth()
        );
        let _ = writeln!(
            out,
            "# HELP aiops_series_active Series with a detector state in memory (counted against metrics.max_series).\n# TYPE aiops_series_active gauge\naiops_series_active {}",
            metrics.active_series()
        );
        let m = metrics.memory();
        let _ = writeln!(
            out,
            "# HELP aiops_series_cache_entries Per-series entries the metric pipeline holds in memory, by map (cache: raw remote_write label sets; keys: canonical series keys; infos: series infos; resources: resources with an anomaly count); each holds only series with a detector state in memory plus those made or come back since the last periodic save.\n# TYPE aiops_series_cache_entries gauge"
        );
        for (map, n) in [
            ("cache", m.cache_entries),
            ("keys", m.keys),
            ("infos", m.infos),
            ("resources", m.resources),
        ] {
            let _ = writeln!(out, "aiops_series_cache_entries{{map=\"{map}\"}} {n}");
        }
        if let Some(ha) = metrics.ha() {
            let _ = writeln!(
                out,
                "# HELP aiops_ha_standby_samples_total remote_write samples of an HA replica that is not the elected one (acknowledged, not stored).\n# TYPE aiops_ha_standby_samples_total counter\naiops_ha_standby_samples_total {}",
                ha.standby_samples()
            );
            let _ = writeln!(
                out,
                "# HELP aiops_ha_failovers_total Elections moved to another HA replica after the elected one went silent.\n# TYPE aiops_ha_failovers_total counter\naiops_ha_failovers_total {}",
                ha.failovers()
            );
            let _ = writeln!(
                out,
                "# HELP aiops_ha_clusters HA clusters with an elected replica.\n# TYPE aiops_ha_clusters gauge\naiops_ha_clusters {}",
                ha.clusters()
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn histograms_are_cumulative_and_labelled_by_route() {
        let t = Telemetry::default();
        t.observe("GET", "/api/v1/anomalies/{id}", 200, 0.003);
        t.observe("GET", "/api/v1/anomalies/{id}", 200, 0.2);
        let store = aiops_store::Store::open("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        let p = MetricPipeline::new(store, Default::default())
            .await
            .unwrap();
        let text = t.render(&p);
        assert!(text.contains(
            "aiops_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/anomalies/{id}\",status=\"200\",le=\"0.005\"} 1"
        ), "{text}");
        assert!(text.contains("le=\"+Inf\"} 2"), "{text}");
        assert!(
            text.contains("aiops_queue_depth{queue=\"detection\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("aiops_series_cache_entries{map=\"cache\"} 0"),
            "{text}"
        );
    }
}
