//! End-to-end tests of `aiops forecast`, `aiops capacity` and `aiops eval m4`.

use std::process::Output;

mod common;
use common::{aiops, aiops_line, s, temp_file, write};

/// Two weeks of hourly load: a daily wave rising 0.1 per hour from 40.
fn hourly_csv() -> String {
    let mut s = String::from("timestamp,value\n");
    for i in 0..24 * 14 {
        let v = 40.0 + 0.1 * i as f64 + 5.0 * (i as f64 * std::f64::consts::TAU / 24.0).sin();
        s.push_str(&format!("{},{v:.4}\n", 1_700_000_000 + 3600 * i));
    }
    s
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn forecast_writes_steps_timestamps_and_bounds() {
    let (dir, f) = temp_file("load.csv", hourly_csv());
    let out = dir.path().join("fc.csv");
    let plot = dir.path().join("fc.svg");
    let o = aiops_line(&format!(
        "forecast {} --horizon 1d --season 24 --model ets --level 80,95 --output {} --plot {}",
        s(&f),
        s(&out),
        s(&plot)
    ));
    assert!(o.status.success(), "{:?}", text(&o));
    let csv = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "step,timestamp,mean,lower_80,upper_80,lower_95,upper_95"
    );
    assert_eq!(lines.len(), 25, "24 hourly steps");
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(first[0], "1");
    assert_eq!(first[1], (1_700_000_000 + 3600 * 24 * 14).to_string());
    let v: Vec<f64> = first[2..].iter().map(|c| c.parse().unwrap()).collect();
    assert!(
        v[3] <= v[1] && v[1] <= v[0] && v[0] <= v[2] && v[2] <= v[4],
        "{v:?}"
    );
    // 40 + 0.1 * 336 = 73.6 at the next step (sin(0) = 0).
    assert!((v[0] - 73.6).abs() < 1.0, "{v:?}");
    assert!(std::fs::read_to_string(&plot).unwrap().contains("<svg"));
}

#[test]
fn forecast_reads_a_single_column_and_refuses_bad_input() {
    let (dir, f) = temp_file("v.csv", "value\n1\n2\n3\n4\n5\n6\n7\n8\n");
    let o = aiops_line(&format!("forecast {} --horizon 2 -m drift", s(&f)));
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        out.lines()
            .nth(1)
            .unwrap()
            .split(',')
            .take(3)
            .collect::<Vec<_>>(),
        ["1", "", "9"]
    );
    let o = aiops(&["forecast", f.to_str().unwrap(), "--horizon", "2d"]);
    assert!(!o.status.success());
    assert!(text(&o).1.contains("needs timestamps"), "{:?}", text(&o));
    let o = aiops_line(&format!("forecast {} --horizon 2 -m nope", s(&f)));
    assert!(text(&o).1.contains("unknown model"), "{:?}", text(&o));
    let bad = write(dir.path(), "bad.csv", "value\n1\n2\nx\n");
    let o = aiops(&["forecast", bad.to_str().unwrap(), "--horizon", "2"]);
    assert!(text(&o).1.contains("line 4"), "{:?}", text(&o));
    let short = write(dir.path(), "short.csv", "1\n2\n");
    let o = aiops(&["forecast", short.to_str().unwrap(), "--horizon", "2"]);
    assert!(text(&o).1.contains("not enough data"), "{:?}", text(&o));
}

/// The project's own example: three days of a 5-minute CPU percentage with a daily cycle,
/// a spike and a one-hour surge.
#[test]
fn cpu_example_gets_its_daily_cycle_and_bounds() {
    let cpu = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/cpu.csv");
    let o = aiops(&["forecast", cpu, "--horizon", "1d", "--bounds", "0,100"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("288 steps (1d) daily"), "{err}");
    let rows: Vec<Vec<f64>> = out
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            cells[2..].iter().map(|c| c.parse().unwrap()).collect()
        })
        .collect();
    assert_eq!(rows.len(), 288);
    let mean: Vec<f64> = rows.iter().map(|r| r[0]).collect();
    let (lo, hi) = (
        mean.iter().copied().fold(f64::INFINITY, f64::min),
        mean.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    assert!(
        hi - lo > 20.0,
        "the daily cycle is forecast, not a flat line: {lo}..{hi}"
    );
    assert!(
        rows.iter().all(|r| r[3] >= 0.0 && r[4] <= 100.0),
        "95% band within 0-100"
    );
    let o = aiops(&["capacity", cpu, "--format", "json"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["trend"]["direction"], "stable", "{v}");
    assert_eq!(v["periods"][0]["steps"], 288, "{v}");
    assert_eq!(v["bounds"]["lower"], 0.0, "{v}");
    assert!(v["peak_upper"].as_f64().unwrap() < 85.0, "{v}");
    assert!(v["probability"].as_f64().unwrap() < 0.05, "{v}");
    let o = aiops(&["forecast", cpu, "--horizon", "2", "--bounds", "100,0"]);
    assert!(text(&o).1.contains("--bounds"), "{:?}", text(&o));
}

#[test]
fn capacity_reports_saturation_and_replicas() {
    let (_dir, f) = temp_file("load.csv", hourly_csv());
    let o = aiops_line(&format!(
        "capacity {} --threshold 85 --horizon 7d --season 24 --replicas 4 --format json",
        s(&f)
    ));
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["trend"]["direction"], "increasing");
    assert_eq!(v["horizon"], 168);
    let step = v["saturation_step"].as_u64().unwrap();
    assert!((50..=150).contains(&step), "{v}");
    assert!(v["saturation_time"].is_string());
    assert!(v["replicas"]["needed"].as_u64().unwrap() > 4);
    let o = aiops(&["capacity", f.to_str().unwrap(), "--horizon", "2d"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("saturation (mean)") && out.contains("trend              increasing"),
        "{out}"
    );
}

#[test]
fn eval_m4_scores_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let row = |id: &str, n: usize, off: usize| {
        let v: Vec<String> = (off..off + n)
            .map(|t| format!("{}", 100.0 + 10.0 * ((t % 24) as f64) + 0.05 * t as f64))
            .collect();
        format!("{id},{}\n", v.join(","))
    };
    write(
        dir.path(),
        "Hourly-train.csv",
        format!("id,v1\n{}{}", row("H1", 120, 0), row("H2", 96, 0)),
    );
    write(
        dir.path(),
        "Hourly-test.csv",
        format!("id,v1\n{}{}", row("H1", 48, 120), row("H2", 48, 96)),
    );
    let o = aiops_line(&format!(
        "eval m4 --data {} --model snaive --json",
        s(dir.path())
    ));
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in ["model", "smape", "mase", "owa", "seconds"] {
        assert!(!v[key].is_null(), "{key} missing: {v}");
    }
    assert!(v["owa"].as_f64().unwrap() > 0.0);
    let o = aiops_line(&format!("eval m4 --data {}", s(&dir.path().join("none"))));
    assert!(!o.status.success());
}
