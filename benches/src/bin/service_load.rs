//! Load generator for `aiops serve` and its peers (`benches/service_bench.sh` drives it; see
//! BENCHMARKS.md, "Service (aiops serve)"). Talks to loopback addresses only.
//!
//! - `rw-gen` pre-encodes Prometheus remote_write requests (snappy + protobuf, as Prometheus
//!   sends them) into a pool file, so that every target and every run gets the same bytes and
//!   no encoding happens while the clock runs.
//! - `rw-send` sends a pool with K concurrent connections for a fixed time (or until the pool
//!   is spent) and counts only 2xx-acknowledged samples; a 429 or 5xx is counted and the same
//!   request retried after a backoff (as Prometheus' shards do), so each series stays in time
//!   order. With `--metrics-token` it also reads aiops' `/metrics` to tell whether detection kept up.
//! - `detect-body` writes a `POST /api/v1/anomalies/detect` body of N points.
//! - `port` prints a free loopback port.
//! - `alerts` sends Alertmanager API v2 PostableAlert batches of distinct alerts.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aiops_benches::{SERVICE_METRICS, ServiceSeries};
use aiops_integrations::remote_write::{Label, Sample, TimeSeries, WriteRequest, encode};
use clap::{Parser, Subcommand};
use reqwest::blocking::Client;
use serde_json::json;

/// Magic bytes at the start of a pool file.
const POOL_MAGIC: &[u8; 8] = b"AIOPSRW1";

/// Scrape interval of the generated series (ms).
const STEP_MS: i64 = 15_000;

#[derive(Parser, Debug)]
#[command(about = "Load generator for aiops serve and its peers (loopback only)")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Pre-encodes remote_write requests into a pool file.
    RwGen {
        /// Distinct series.
        #[arg(long, default_value_t = 10_000)]
        series: usize,
        /// Independent request streams (each series belongs to one; a connection sends whole
        /// streams, so the most connections a pool serves).
        #[arg(long, default_value_t = 8)]
        streams: usize,
        /// Samples per request (Prometheus' `max_samples_per_send`, 2,000 by default).
        #[arg(long, default_value_t = 2_000)]
        samples_per_request: usize,
        /// Requests in the pool (all streams).
        #[arg(long, default_value_t = 10_000)]
        requests: usize,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sends a pool to a remote_write endpoint with K connections.
    RwSend {
        /// Pool file from `rw-gen`.
        #[arg(long)]
        pool: PathBuf,
        /// Endpoint, e.g. `http://127.0.0.1:8428/api/v1/write`.
        #[arg(long)]
        url: String,
        /// Bearer token (none for peers without auth).
        #[arg(long)]
        token: Option<String>,
        /// Concurrent connections (at most the pool's streams).
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Stop sending after this many seconds (or when the pool is spent).
        #[arg(long, default_value_t = 20.0)]
        duration_s: f64,
        /// Name of the target in the report.
        #[arg(long, default_value = "target")]
        name: String,
        /// aiops `/metrics` URL, read before and after (detector throughput).
        #[arg(long)]
        metrics_url: Option<String>,
        /// Token with read:metrics for `--metrics-url`.
        #[arg(long)]
        metrics_token: Option<String>,
        /// After sending, wait up to this long for detection to catch up (seconds).
        #[arg(long, default_value_t = 120.0)]
        drain_timeout_s: f64,
    },
    /// Writes a `POST /api/v1/anomalies/detect` body.
    DetectBody {
        /// Points in the series.
        #[arg(long, default_value_t = 1_000)]
        points: usize,
        /// Detector name (`default`, `zscore`...).
        #[arg(long, default_value = "default")]
        detector: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Prints a free TCP port on 127.0.0.1.
    Port,
    /// Sends Alertmanager API v2 alert batches (distinct alerts).
    Alerts {
        /// Endpoint, e.g. `http://127.0.0.1:8080/api/v2/alerts`.
        #[arg(long)]
        url: String,
        /// Bearer token (none for Alertmanager).
        #[arg(long)]
        token: Option<String>,
        /// Distinct alerts to send.
        #[arg(long, default_value_t = 100_000)]
        alerts: usize,
        /// Alerts per request.
        #[arg(long, default_value_t = 100)]
        per_request: usize,
        /// Distinct `service` values (the resource an incident forms on).
        #[arg(long, default_value_t = 10_000)]
        services: usize,
        /// Concurrent connections.
        #[arg(long, default_value_t = 2)]
        connections: usize,
        /// Name of the target in the report.
        #[arg(long, default_value = "target")]
        name: String,
    },
}

fn main() {
    let cli = Cli::parse();
    let r = match cli.command {
        Cmd::RwGen {
            series,
            streams,
            samples_per_request,
            requests,
            out,
        } => rw_gen(series, streams, samples_per_request, requests, &out),
        Cmd::RwSend {
            pool,
            url,
            token,
            connections,
            duration_s,
            name,
            metrics_url,
            metrics_token,
            drain_timeout_s,
        } => rw_send(&RwSend {
            pool,
            url,
            token,
            connections,
            duration: Duration::from_secs_f64(duration_s),
            name,
            metrics: metrics_url.zip(metrics_token),
            drain_timeout: Duration::from_secs_f64(drain_timeout_s),
        }),
        Cmd::DetectBody {
            points,
            detector,
            out,
        } => detect_body(points, &detector, &out),
        Cmd::Port => std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| println!("{}", a.port()))
            .map_err(|e| e.to_string()),
        Cmd::Alerts {
            url,
            token,
            alerts,
            per_request,
            services,
            connections,
            name,
        } => send_alerts(&AlertLoad {
            url,
            token,
            alerts,
            per_request,
            services,
            connections,
            name,
        }),
    };
    if let Err(e) = r {
        eprintln!("service_load: {e}");
        std::process::exit(1);
    }
}

type Res<T> = Result<T, String>;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Refuses any URL whose host is not a loopback address.
fn loopback_only(url: &str) -> Res<()> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    let host = u.host_str().ok_or(format!("{url}: no host"))?;
    let port = u.port_or_known_default().unwrap_or(80);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = if let Ok(ip) = host.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else {
        (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("{url}: {e}"))?
            .collect()
    };
    if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
        return Err(format!("{url}: not a loopback address; refusing to send"));
    }
    Ok(())
}

fn client() -> Res<Client> {
    Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(1)
        .build()
        .map_err(|e| e.to_string())
}

/// One generated series: its labels and its values.
struct GenSeries {
    labels: Vec<Label>,
    values: ServiceSeries,
    t: i64,
}

impl GenSeries {
    fn new(i: usize, start: i64) -> Self {
        let (name, kind) = SERVICE_METRICS[i % SERVICE_METRICS.len()];
        let host = i / SERVICE_METRICS.len();
        let l = |n: &str, v: String| Label {
            name: n.into(),
            value: v,
        };
        // Sorted by name, as Prometheus sends them.
        let labels = vec![
            l("__name__", name.into()),
            l("env", "prod".into()),
            l(
                "instance",
                format!(
                    "10.{}.{}.{}:9100",
                    host / 65536 % 256,
                    host / 256 % 256,
                    host % 256
                ),
            ),
            l("job", format!("job-{}", host % 20)),
            l(
                "region",
                ["eu-west-1", "us-east-1", "ap-south-1"][host % 3].into(),
            ),
            l("service", format!("svc-{}", host % 500)),
        ];
        Self {
            labels,
            values: ServiceSeries::new(kind, i as u64, STEP_MS),
            t: start,
        }
    }

    fn sample(&mut self) -> Sample {
        let s = Sample {
            value: self.values.value(self.t),
            timestamp: self.t,
        };
        self.t += STEP_MS;
        s
    }
}

fn rw_gen(
    series: usize,
    streams: usize,
    per_request: usize,
    requests: usize,
    out: &PathBuf,
) -> Res<()> {
    if streams == 0 || series < streams || per_request == 0 {
        return Err("need streams >= 1, series >= streams, samples_per_request >= 1".into());
    }
    let per_stream = requests.div_ceil(streams);
    // Enough history that the newest sample is about now.
    let max_samples_per_series = (per_stream * per_request).div_ceil(series / streams) as i64;
    let start = (now_ms() - (max_samples_per_series + 10) * STEP_MS) / STEP_MS * STEP_MS;
    let started = Instant::now();
    // One thread per stream; each returns its requests in order.
    let pools: Vec<Vec<(u32, Vec<u8>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..streams)
            .map(|st| {
                scope.spawn(move || gen_stream(st, series, streams, per_request, per_stream, start))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| "generator thread panicked".to_string())?
            })
            .collect::<Res<Vec<_>>>()
    })?;
    let mut w = BufWriter::new(File::create(out).map_err(|e| format!("{}: {e}", out.display()))?);
    let io = |e: std::io::Error| e.to_string();
    w.write_all(POOL_MAGIC).map_err(io)?;
    w.write_all(&(streams as u32).to_le_bytes()).map_err(io)?;
    w.write_all(&(series as u32).to_le_bytes()).map_err(io)?;
    let mut bytes = 0usize;
    let mut n = 0usize;
    let mut total = 0u64;
    for (st, reqs) in pools.iter().enumerate() {
        for (samples, body) in reqs {
            w.write_all(&(st as u32).to_le_bytes()).map_err(io)?;
            w.write_all(&samples.to_le_bytes()).map_err(io)?;
            w.write_all(&(body.len() as u32).to_le_bytes())
                .map_err(io)?;
            w.write_all(body).map_err(io)?;
            bytes += body.len();
            n += 1;
            total += u64::from(*samples);
        }
    }
    w.flush().map_err(io)?;
    eprintln!(
        "rw-gen: {n} requests, {total} samples, {series} series in {streams} streams, {:.1} MB encoded ({} B/request), {:.1} s",
        bytes as f64 / 1e6,
        bytes / n.max(1),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The requests of one stream: its series (index % streams == stream) taken round-robin, one
/// sample per series at a time, `per_request` samples per request (a series appears with
/// several samples in one request when the stream has fewer series than that).
fn gen_stream(
    stream: usize,
    series: usize,
    streams: usize,
    per_request: usize,
    requests: usize,
    start: i64,
) -> Res<Vec<(u32, Vec<u8>)>> {
    let mut all: Vec<GenSeries> = (stream..series)
        .step_by(streams)
        .map(|i| GenSeries::new(i, start))
        .collect();
    let mut cursor = 0usize;
    let mut out = Vec::with_capacity(requests);
    for _ in 0..requests {
        // Series index -> its samples in this request, oldest first.
        let mut picked: std::collections::BTreeMap<usize, Vec<Sample>> = Default::default();
        for _ in 0..per_request {
            let i = cursor % all.len();
            cursor += 1;
            picked.entry(i).or_default().push(all[i].sample());
        }
        let req = WriteRequest {
            timeseries: picked
                .into_iter()
                .map(|(i, samples)| TimeSeries {
                    labels: all[i].labels.clone(),
                    samples,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        out.push((per_request as u32, encode(&req).map_err(|e| e.to_string())?));
    }
    Ok(out)
}

/// The requests of each stream, in order: (samples, encoded body).
type Streams = Vec<Vec<(u32, Vec<u8>)>>;

/// One pre-encoded request.
struct PoolRequest {
    samples: u32,
    /// The encoded body, leaked for the life of the process so that every send borrows it.
    body: &'static [u8],
}

fn read_pool(path: &PathBuf) -> Res<(usize, usize, Streams)> {
    let mut r = BufReader::new(File::open(path).map_err(|e| format!("{}: {e}", path.display()))?);
    let mut magic = [0u8; 8];
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    r.read_exact(&mut magic).map_err(io)?;
    if &magic != POOL_MAGIC {
        return Err(format!("{}: not a pool file", path.display()));
    }
    let mut u = [0u8; 4];
    let mut read_u32 = |r: &mut BufReader<File>| -> std::io::Result<u32> {
        r.read_exact(&mut u)?;
        Ok(u32::from_le_bytes(u))
    };
    let streams = read_u32(&mut r).map_err(io)? as usize;
    let series = read_u32(&mut r).map_err(io)? as usize;
    let mut pools = vec![Vec::new(); streams];
    loop {
        let st = match read_u32(&mut r) {
            Ok(v) => v as usize,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(io(e)),
        };
        let samples = read_u32(&mut r).map_err(io)?;
        let len = read_u32(&mut r).map_err(io)? as usize;
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).map_err(io)?;
        pools
            .get_mut(st)
            .ok_or("bad stream index in pool")?
            .push((samples, body));
    }
    Ok((streams, series, pools))
}

struct RwSend {
    pool: PathBuf,
    url: String,
    token: Option<String>,
    connections: usize,
    duration: Duration,
    name: String,
    metrics: Option<(String, String)>,
    drain_timeout: Duration,
}

#[derive(Default)]
struct Counts {
    ok_requests: AtomicU64,
    ok_samples: AtomicU64,
    too_many: AtomicU64,
    server_errors: AtomicU64,
    errors: AtomicU64,
    /// Nanoseconds since the start at the last 2xx answer.
    last_ok_ns: AtomicU64,
}

/// Reads counters from an aiops `/metrics` text (name -> value).
fn scrape(http: &Client, url: &str, token: &str, names: &[&str]) -> Res<Vec<f64>> {
    let text = http
        .get(url)
        .bearer_auth(token)
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.text())
        .map_err(|e| format!("{url}: {e}"))?;
    names
        .iter()
        .map(|n| {
            text.lines()
                .find_map(|l| {
                    let rest = l.strip_prefix(n)?;
                    if !rest.starts_with(' ') {
                        return None;
                    }
                    rest.trim().parse::<f64>().ok()
                })
                .ok_or(format!("{url}: no {n}"))
        })
        .collect()
}

const DETECTED: &str = "aiops_detector_samples_total";
const INGESTED: &str = "aiops_ingest_samples_total";
const DETECTOR_S: &str = "aiops_detector_seconds_total";
const OUT_OF_ORDER: &str = "aiops_detector_out_of_order_total";

fn rw_send(a: &RwSend) -> Res<()> {
    loopback_only(&a.url)?;
    if let Some((m, _)) = &a.metrics {
        loopback_only(m)?;
    }
    let (streams, series, pools) = read_pool(&a.pool)?;
    if a.connections == 0 || a.connections > streams {
        return Err(format!(
            "connections must be 1..={streams} (the pool's streams)"
        ));
    }
    // Connection k sends streams k, k+K, ... interleaved, each stream in order.
    let mut per_conn: Vec<Vec<PoolRequest>> = (0..a.connections).map(|_| Vec::new()).collect();
    let mut pools: Vec<std::vec::IntoIter<(u32, Vec<u8>)>> =
        pools.into_iter().map(Vec::into_iter).collect();
    loop {
        let mut any = false;
        for (st, p) in pools.iter_mut().enumerate() {
            if let Some((samples, body)) = p.next() {
                per_conn[st % a.connections].push(PoolRequest {
                    samples,
                    body: Box::leak(body.into_boxed_slice()),
                });
                any = true;
            }
        }
        if !any {
            break;
        }
    }
    let pool_samples: u64 = per_conn
        .iter()
        .flatten()
        .map(|r| u64::from(r.samples))
        .sum();
    let http = client()?;
    let before = match &a.metrics {
        Some((u, t)) => Some(scrape(&http, u, t, &[DETECTED, INGESTED, DETECTOR_S])?),
        None => None,
    };
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = per_conn
        .into_iter()
        .map(|reqs| {
            let counts = Arc::clone(&counts);
            let stop = Arc::clone(&stop);
            let url = a.url.clone();
            let token = a.token.clone();
            let deadline = started + a.duration;
            std::thread::spawn(move || -> Res<()> {
                let http = client()?;
                for r in reqs {
                    let mut backoff = Duration::from_millis(30);
                    loop {
                        if Instant::now() >= deadline || stop.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        let mut b = http
                            .post(&url)
                            .header("Content-Type", "application/x-protobuf")
                            .header("Content-Encoding", "snappy")
                            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                            .header("User-Agent", "Prometheus/2.53.0")
                            .body(r.body);
                        if let Some(t) = &token {
                            b = b.bearer_auth(t);
                        }
                        match b.send() {
                            Ok(resp) if resp.status().is_success() => {
                                let _ = resp.bytes();
                                counts.ok_requests.fetch_add(1, Ordering::Relaxed);
                                counts
                                    .ok_samples
                                    .fetch_add(u64::from(r.samples), Ordering::Relaxed);
                                counts.last_ok_ns.fetch_max(
                                    started.elapsed().as_nanos() as u64,
                                    Ordering::Relaxed,
                                );
                                break;
                            }
                            Ok(resp) if resp.status().as_u16() == 429 => {
                                let _ = resp.bytes();
                                counts.too_many.fetch_add(1, Ordering::Relaxed);
                                std::thread::sleep(backoff);
                                backoff = (backoff * 2).min(Duration::from_secs(1));
                            }
                            Ok(resp) if resp.status().is_server_error() => {
                                // Prometheus retries a 5xx; so do we, counting it.
                                let status = resp.status();
                                let text = resp.text().unwrap_or_default();
                                if counts.server_errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                    eprintln!(
                                        "{url}: {status} (retried): {}",
                                        text.chars().take(300).collect::<String>()
                                    );
                                }
                                std::thread::sleep(backoff);
                                backoff = (backoff * 2).min(Duration::from_secs(1));
                            }
                            Ok(resp) => {
                                let status = resp.status();
                                let text = resp.text().unwrap_or_default();
                                counts.errors.fetch_add(1, Ordering::Relaxed);
                                stop.store(true, Ordering::Relaxed);
                                return Err(format!(
                                    "{url}: {status}: {}",
                                    text.chars().take(300).collect::<String>()
                                ));
                            }
                            Err(e) => {
                                counts.errors.fetch_add(1, Ordering::Relaxed);
                                stop.store(true, Ordering::Relaxed);
                                return Err(format!("{url}: {e}"));
                            }
                        }
                    }
                }
                Ok(())
            })
        })
        .collect();
    let mut failure = None;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some("sender thread panicked".into()),
        }
    }
    let sent_for = started.elapsed();
    if let Some(e) = failure {
        return Err(e);
    }
    let ok_samples = counts.ok_samples.load(Ordering::Relaxed);
    let elapsed = Duration::from_nanos(counts.last_ok_ns.load(Ordering::Relaxed))
        .max(Duration::from_millis(1))
        .min(sent_for);
    let rate = ok_samples as f64 / elapsed.as_secs_f64();
    let mut report = json!({
        "target": a.name,
        "connections": a.connections,
        "series": series,
        "pool_samples": pool_samples,
        "ok_requests": counts.ok_requests.load(Ordering::Relaxed),
        "ok_samples": ok_samples,
        "status_429": counts.too_many.load(Ordering::Relaxed),
        "status_5xx": counts.server_errors.load(Ordering::Relaxed),
        "elapsed_s": elapsed.as_secs_f64(),
        "samples_per_s": rate,
    });
    if let (Some((u, t)), Some(b)) = (&a.metrics, before) {
        let at_end = scrape(&http, u, t, &[DETECTED, INGESTED, DETECTOR_S])?;
        let detected_in_window = at_end[0] - b[0];
        // Wait until every ingested sample is scored (or the timeout).
        let drain_start = Instant::now();
        let mut last = at_end.clone();
        while last[0] < last[1] && drain_start.elapsed() < a.drain_timeout {
            std::thread::sleep(Duration::from_millis(200));
            last = scrape(&http, u, t, &[DETECTED, INGESTED, DETECTOR_S])?;
        }
        let drained = last[0] >= last[1];
        let ooo = scrape(&http, u, t, &[OUT_OF_ORDER])?[0];
        let detected_total = last[0] - b[0];
        let detector_s = last[2] - b[2];
        let caught_up_after = sent_for + drain_start.elapsed();
        report["detected_during_send"] = json!(detected_in_window);
        report["detected_per_s_during_send"] = json!(detected_in_window / sent_for.as_secs_f64());
        report["detected_total"] = json!(detected_total);
        report["detection_caught_up"] = json!(drained);
        report["detection_caught_up_after_s"] = json!(caught_up_after.as_secs_f64());
        report["detected_per_s_overall"] = json!(detected_total / caught_up_after.as_secs_f64());
        report["detector_cpu_s"] = json!(detector_s);
        report["detector_ns_per_sample"] = json!(detector_s * 1e9 / detected_total.max(1.0));
        report["out_of_order"] = json!(ooo);
    }
    println!("{report}");
    Ok(())
}

fn detect_body(points: usize, detector: &str, out: &PathBuf) -> Res<()> {
    let (ts, vs) = aiops_benches::synthetic_series(points);
    let pts: Vec<_> = ts
        .iter()
        .zip(&vs)
        .map(|(t, v)| json!({"timestamp": t, "value": v}))
        .collect();
    let body = json!({
        "points": pts,
        "detector": detector,
        "resource": "bench",
        "metric": "synthetic",
    });
    std::fs::write(out, body.to_string()).map_err(|e| format!("{}: {e}", out.display()))
}

struct AlertLoad {
    url: String,
    token: Option<String>,
    alerts: usize,
    per_request: usize,
    services: usize,
    connections: usize,
    name: String,
}

/// RFC 3339 (UTC, seconds) of a time in ms.
fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil from days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

const ALERT_NAMES: [&str; 10] = [
    "HighCPU",
    "HighLatency",
    "ErrorRateHigh",
    "DiskFillingUp",
    "MemoryPressure",
    "PodCrashLooping",
    "TargetDown",
    "CertificateExpiring",
    "QueueBacklog",
    "ReplicationLag",
];

fn send_alerts(a: &AlertLoad) -> Res<()> {
    loopback_only(&a.url)?;
    if a.connections == 0 || a.per_request == 0 || a.services == 0 {
        return Err("connections, per_request and services must be at least 1".into());
    }
    let now = now_ms();
    let starts = rfc3339(now - 60_000);
    // Active for the whole measurement (Prometheus re-sends with a moving endsAt).
    let ends = rfc3339(now + 3 * 3_600_000);
    let bodies: Vec<(usize, Vec<u8>)> = (0..a.alerts)
        .step_by(a.per_request)
        .map(|first| {
            let batch: Vec<_> = (first..(first + a.per_request).min(a.alerts))
                .map(|i| {
                    let service = i % a.services;
                    let name = ALERT_NAMES[(i / a.services) % ALERT_NAMES.len()];
                    let severity = ["critical", "warning", "info"][i % 3];
                    json!({
                        "labels": {
                            "alertname": name,
                            "service": format!("svc-{service}"),
                            "instance": format!("svc-{service}-{}:9100", i / (a.services * ALERT_NAMES.len())),
                            "severity": severity,
                            "cluster": format!("c{}", service % 7),
                        },
                        "annotations": {
                            "summary": format!("{name} on svc-{service}"),
                            "description": "generated by the service benchmark",
                        },
                        "startsAt": starts,
                        "endsAt": ends,
                        "generatorURL": format!("http://prometheus.local/graph?g0.expr=alert{i}"),
                    })
                })
                .collect();
            let n = batch.len();
            (n, serde_json::to_vec(&batch).unwrap_or_default())
        })
        .collect();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicU64::new(0));
    let counts = Arc::new(Counts::default());
    let started = Instant::now();
    let handles: Vec<_> = (0..a.connections)
        .map(|_| {
            let bodies = Arc::clone(&bodies);
            let next = Arc::clone(&next);
            let counts = Arc::clone(&counts);
            let url = a.url.clone();
            let token = a.token.clone();
            std::thread::spawn(move || -> Res<()> {
                let http = client()?;
                loop {
                    let j = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some((n, body)) = bodies.get(j) else {
                        return Ok(());
                    };
                    let mut backoff = Duration::from_millis(30);
                    loop {
                        let mut b = http
                            .post(&url)
                            .header("Content-Type", "application/json")
                            .body(body.clone());
                        if let Some(t) = &token {
                            b = b.bearer_auth(t);
                        }
                        let resp = b.send().map_err(|e| format!("{url}: {e}"))?;
                        let status = resp.status();
                        let text = resp.text().unwrap_or_default();
                        if status.is_success() {
                            counts.ok_requests.fetch_add(1, Ordering::Relaxed);
                            counts.ok_samples.fetch_add(*n as u64, Ordering::Relaxed);
                            break;
                        } else if status.as_u16() == 429 || status.is_server_error() {
                            if status.as_u16() == 429 {
                                counts.too_many.fetch_add(1, Ordering::Relaxed);
                            } else if counts.server_errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!(
                                    "{url}: {status} (retried): {}",
                                    text.chars().take(300).collect::<String>()
                                );
                            }
                            std::thread::sleep(backoff);
                            backoff = (backoff * 2).min(Duration::from_secs(1));
                        } else {
                            return Err(format!(
                                "{url}: {status}: {}",
                                text.chars().take(300).collect::<String>()
                            ));
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| "sender thread panicked".to_string())??;
    }
    let elapsed = started.elapsed();
    let ok = counts.ok_samples.load(Ordering::Relaxed);
    println!(
        "{}",
        json!({
            "target": a.name,
            "connections": a.connections,
            "per_request": a.per_request,
            "services": a.services,
            "ok_requests": counts.ok_requests.load(Ordering::Relaxed),
            "ok_alerts": ok,
            "status_429": counts.too_many.load(Ordering::Relaxed),
            "status_5xx": counts.server_errors.load(Ordering::Relaxed),
            "elapsed_s": elapsed.as_secs_f64(),
            "alerts_per_s": ok as f64 / elapsed.as_secs_f64(),
        })
    );
    Ok(())
}
