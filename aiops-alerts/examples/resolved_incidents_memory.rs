//! What a long run of incidents leaves in the correlation engine, with and without forgetting
//! the resolved ones: `cargo run --release -p aiops-alerts --example resolved_incidents_memory
//! -- N keep|forget`. N services fail one after the other (a minute apart, each alert resolved
//! 30 s after it fired, so each is one incident that resolves after the 5-minute grace); in
//! `forget` mode the resolved incidents are forgotten after every tick, as `aiops serve` does
//! once their resolution is committed. Prints the incidents held, the snapshot's size, the run
//! time and the process' peak RSS.

use std::time::Instant;

use aiops_alerts::{Config, Engine};
use aiops_core::{Alert, AlertStatus, Labels};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: i64 = args.get(1).map_or(Ok(20_000), |s| s.parse())?;
    let forget = match args.get(2).map(String::as_str) {
        Some("forget") => true,
        Some("keep") | None => false,
        Some(other) => return Err(format!("mode {other:?}: keep or forget").into()),
    };
    let m = 60_000;
    let t0 = 1_700_000_000_000_i64;
    let mut e = Engine::new(Config::default(), None)?;
    let start = Instant::now();
    for i in 0..n {
        let t = t0 + i * m;
        let svc = format!("svc{i}");
        let labels = Labels::try_from_pairs([
            ("alertname", "Down"),
            ("service", svc.as_str()),
            ("severity", "critical"),
        ])?;
        let mut a = Alert::firing(labels, t)?;
        a.annotations
            .insert("summary".into(), format!("{svc} is down"));
        e.ingest(a.clone(), t)?;
        a.status = AlertStatus::Resolved;
        a.ends_at = Some(t + 30_000);
        e.ingest(a, t + 30_000)?;
        e.tick(t + 30_000)?;
        if forget {
            e.forget_resolved_incidents(i64::MAX);
        }
    }
    let end = t0 + (n + 10) * m;
    e.tick(end)?;
    if forget {
        e.forget_resolved_incidents(i64::MAX);
    }
    let elapsed = start.elapsed();
    let snapshot = serde_json::to_string(e.state())?.len();
    let (open, closed) = e.incidents_in_memory();
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
        })
        .unwrap_or_else(|| "?".into());
    println!(
        "mode={} incidents={} open={open} closed_held={closed} snapshot_bytes={snapshot} \
         run_ms={} peak_rss_kib={hwm}",
        if forget { "forget" } else { "keep" },
        e.stats().incidents,
        elapsed.as_millis()
    );
    Ok(())
}
