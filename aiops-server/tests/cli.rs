//! End-to-end tests of the `aiops` binary: real files in, exit codes and output checked.

use std::path::Path;

mod common;
use common::{aiops, aiops_line, cpu_latency_csv, s, stderr, stdout, strs, temp_file, write};

/// 300 points of a gentle wave with a spike at point 200.
fn spiky_csv() -> String {
    let mut s = String::from("timestamp,value\n");
    for i in 0..300 {
        let v = 50.0 + ((i % 10) as f64) * 0.5 + if i == 200 { 40.0 } else { 0.0 };
        s.push_str(&format!("2024-01-01 {:02}:{:02}:00,{v}\n", i / 60, i % 60));
    }
    s
}

/// Runs `aiops <line> <dir/name>` (for arguments without spaces), which must succeed, and
/// returns the text it wrote to `dir/name`.
fn written_to(dir: &tempfile::TempDir, line: &str, name: &str) -> String {
    let out = dir.path().join(name);
    let o = aiops_line(&format!("{line} {}", s(&out)));
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read_to_string(&out).unwrap()
}

#[test]
fn detect_prints_the_spike_as_table_and_json() {
    let (_dir, f) = temp_file("s.csv", spiky_csv());
    let o = aiops(&[
        "detect",
        s(&f),
        "-d",
        "zscore",
        "-p",
        "window=30",
        "-p",
        "threshold=5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.starts_with("1 anomaly in 300 points"), "{out}");
    assert!(out.contains("2024-01-01 03:20:00"), "{out}");

    let o = aiops_line(&format!(
        "detect {} --detector zscore --param window=30 --param threshold=5 --format json",
        s(&f)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["detector"], "zscore");
    assert_eq!(v["points"], 300);
    let a = &v["anomalies"].as_array().unwrap()[0];
    assert_eq!(a["start"], "2024-01-01T03:20:00.000Z");
    assert_eq!(a["value"], 90.0);
}

#[test]
fn output_writes_one_row_per_point_with_input_timestamps() {
    let (dir, f) = temp_file("s.csv", spiky_csv());
    let text = written_to(
        &dir,
        &format!("detect {} --detector threshold -p upper=80 --output", s(&f)),
        "out.csv",
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "timestamp,value,score,label");
    assert_eq!(lines.len(), 301);
    assert_eq!(lines[1], "2024-01-01 00:00:00,50,0,0");
    assert_eq!(lines[201], "2024-01-01 03:20:00,90,10,1");
    assert_eq!(lines.iter().filter(|l| l.ends_with(",1")).count(), 1);
}

#[test]
fn reads_prometheus_and_jsonl_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let prom = write(
        dir.path(),
        "q.json",
        r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"up","instance":"a"},"values":[[1700000000,"1"],[1700000015,"0"]]},
            {"metric":{"__name__":"up","instance":"b"},"values":[[1700000000,"1"],[1700000015,"1"]]}]}}"#,
    );
    let text = written_to(
        &dir,
        &format!("detect {} -d threshold -p lower=0.5 -o", s(&prom)),
        "o.csv",
    );
    assert!(
        text.starts_with("series,timestamp,value,score,label\n"),
        "{text}"
    );
    assert!(
        text.contains(r#""{__name__=""up"", instance=""a""}",1700000015,0,0.5,1"#),
        "{text}"
    );

    let jl = write(
        dir.path(),
        "p.jsonl",
        "{\"timestamp\": 1700000000, \"value\": 1}\n{\"timestamp\": 1700000060, \"value\": 9}\n",
    );
    let o = aiops_line(&format!(
        "detect {} -d threshold -p upper=5 -f json",
        s(&jl)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["anomalies"][0]["start"], "2023-11-14T22:14:20.000Z");
}

/// Every bad input: non-zero exit, one line on stderr naming the problem, nothing on stdout.
#[test]
fn bad_input_gives_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "detect".into(),
                dir.path().join("missing.csv").display().to_string(),
            ],
            "no such file",
        ),
        (
            vec![
                "detect".into(),
                write(dir.path(), "empty.csv", "").display().to_string(),
            ],
            "empty",
        ),
        (
            vec![
                "detect".into(),
                write(dir.path(), "hdr.csv", "timestamp,value\n")
                    .display()
                    .to_string(),
            ],
            "no data rows",
        ),
        (
            vec![
                "detect".into(),
                write(dir.path(), "nan.csv", "timestamp,value\n1,2\n2,abc\n")
                    .display()
                    .to_string(),
            ],
            "line 3",
        ),
        (
            vec![
                "detect".into(),
                write(dir.path(), "uns.csv", "timestamp,value\n1,2\n3,2\n2,2\n")
                    .display()
                    .to_string(),
            ],
            "line 4",
        ),
        (
            vec![
                "detect".into(),
                write(dir.path(), "dup.csv", "timestamp,value\n1,2\n1,3\n")
                    .display()
                    .to_string(),
            ],
            "duplicate timestamp",
        ),
        (
            vec![
                "detect".into(),
                write(dir.path(), "ts.csv", "timestamp,value\n1,2\nyesterday,3\n")
                    .display()
                    .to_string(),
            ],
            "invalid timestamp",
        ),
        (
            vec![
                "detect".into(),
                write(dir.path(), "ok.csv", spiky_csv())
                    .display()
                    .to_string(),
                "-d".into(),
                "magic".into(),
            ],
            "unknown detector",
        ),
        (
            vec![
                "detect".into(),
                dir.path().join("ok.csv").display().to_string(),
                "-p".into(),
                "windw=3".into(),
            ],
            "unknown field `windw`",
        ),
        (
            vec![
                "detect".into(),
                dir.path().join("ok.csv").display().to_string(),
                "-p".into(),
                "window=1".into(),
            ],
            "window",
        ),
        (
            vec![
                "detect".into(),
                dir.path().join("ok.csv").display().to_string(),
                "-d".into(),
                "threshold".into(),
            ],
            "upper",
        ),
        (
            vec![
                "detect".into(),
                write(dir.path(), "bad.json", "{\"status\":")
                    .display()
                    .to_string(),
            ],
            "JSON",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = aiops(&args);
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(o.stdout.is_empty(), "{args:?} printed to stdout");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    }
}

#[test]
fn help_lists_detectors() {
    let o = aiops(&["detect", "--help"]);
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    for needle in ["zscore", "threshold", "--output", "--param", "window"] {
        assert!(out.contains(needle), "{needle}");
    }
    let o = aiops(&["detectors"]);
    assert!(String::from_utf8(o.stdout).unwrap().contains("zscore"));
    assert!(!aiops(&["detect"]).status.success());
}

/// A two-series NAB-layout corpus in a temp folder: a spike inside each labelled window.
fn tiny_nab(dir: &Path) {
    std::fs::create_dir_all(dir.join("data/cat")).unwrap();
    std::fs::create_dir_all(dir.join("labels")).unwrap();
    let mut windows = Vec::new();
    for (name, jump_at) in [("a.csv", 60), ("b.csv", 70)] {
        let mut s = String::from("timestamp,value\n");
        for i in 0..100 {
            let v = if i == jump_at {
                100.0
            } else {
                10.0 + (i % 3) as f64
            };
            s.push_str(&format!("2024-01-01 {:02}:{:02}:00,{v}\n", i / 60, i % 60));
        }
        std::fs::write(dir.join("data/cat").join(name), s).unwrap();
        let t = |i: usize| format!("2024-01-01 {:02}:{:02}:00.000000", i / 60, i % 60);
        windows.push(format!(
            "\"cat/{name}\": [[\"{}\", \"{}\"]]",
            t(jump_at - 5),
            t(jump_at + 10)
        ));
    }
    std::fs::write(
        dir.join("labels/combined_windows.json"),
        format!("{{{}}}", windows.join(", ")),
    )
    .unwrap();
}

#[test]
fn eval_nab_scores_a_detector() {
    let dir = tempfile::tempdir().unwrap();
    tiny_nab(dir.path());
    let data = dir.path().to_str().unwrap();
    let o = aiops(&[
        "eval",
        "nab",
        "--data",
        data,
        "-d",
        "threshold",
        "-p",
        "upper=50",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["detector"], "threshold");
    // Each spike is caught 5 points into a 16-point window: a high but not perfect score.
    let standard = v["standard"].as_f64().unwrap();
    assert!(standard > 80.0 && standard < 100.0, "{v}");
    for k in ["reward_low_FP_rate", "reward_low_FN_rate", "seconds"] {
        assert!(v[k].is_number(), "{k}: {v}");
    }
    let o = aiops(&["eval", "nab", "--data", data]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8(o.stdout).unwrap().contains("standard"));
    let o = aiops_line(&format!("eval nab --data {}", s(&dir.path().join("nope"))));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("combined_windows.json"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn eval_events_scores_a_folder_and_the_synthetic_family() {
    let dir = tempfile::tempdir().unwrap();
    // One series, two labelled segments; `threshold upper=50` flags the first only, and one
    // point far from both (a false alarm).
    let mut csv = String::from("timestamp,value,label\n");
    for i in 0..200 {
        let (v, l) = match i {
            50..=52 => (90.0, 1),
            120..=125 => (20.0, 1),
            180 => (60.0, 0),
            _ => (10.0, 0),
        };
        csv.push_str(&format!("{},{v},{l}\n", 1_700_000_000 + i * 60));
    }
    write(dir.path(), "a.csv", csv);
    let data = s(dir.path());
    let o = aiops(&[
        "eval",
        "events",
        "--data",
        data,
        "-d",
        "threshold",
        "-p",
        "upper=50",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["segments"].as_u64(), v["found"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (v["runs"].as_u64(), v["false_alarms"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(v["mean"]["f1"].as_f64(), Some(0.5));
    assert!(v["pa_pooled"]["f1"].is_number() && v["detector_seconds"].is_number());
    let o = aiops(&[
        "eval",
        "events",
        "--data",
        data,
        "-d",
        "threshold",
        "-p",
        "upper=50",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("point-adjusted"));

    // The telemetry layout: data/ and index.csv; --test-only scores after the training part.
    let tele = dir.path().join("tele");
    std::fs::create_dir_all(tele.join("data")).unwrap();
    std::fs::copy(dir.path().join("a.csv"), tele.join("data/a.csv")).unwrap();
    write(
        &tele,
        "index.csv",
        "channel,spacecraft,train_points,test_points,anomaly_sequences,classes\na,X,100,100,2,\n",
    );
    let o = aiops(&[
        "eval",
        "events",
        "--data",
        s(&tele),
        "-d",
        "threshold",
        "-p",
        "upper=50",
        "--test-only",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Points 100..200: the second segment (missed) and the false alarm at 180.
    assert_eq!(
        (v["points"].as_u64(), v["segments"].as_u64()),
        (Some(100), Some(1))
    );
    assert_eq!(
        (v["found"].as_u64(), v["false_alarms"].as_u64()),
        (Some(0), Some(1))
    );
    let o = aiops(&["eval", "events", "--data", data, "--test-only"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("train_points"), "{}", stderr(&o));

    // The synthetic family, exported and read back, scores as generated.
    let out = dir.path().join("syn");
    let o = aiops(&[
        "eval",
        "synthetic-export",
        "--out",
        s(&out),
        "--series",
        "4",
        "--seed",
        "9",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("anomalies.csv").is_file());
    let run = |extra: &[&str]| {
        let mut args = vec!["eval", "events", "-d", "zscore", "--json"];
        args.extend_from_slice(extra);
        let o = aiops(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let generated = run(&["--synthetic", "--series", "4", "--seed", "9"]);
    let read = run(&["--data", s(&out)]);
    assert!(generated["by_kind"].is_object());
    for k in [
        "series",
        "points",
        "segments",
        "found",
        "runs",
        "false_alarms",
    ] {
        assert_eq!(generated[k], read[k], "{k}");
    }
    let o = aiops_line(&format!(
        "eval events --data {}",
        s(&dir.path().join("nope"))
    ));
    assert!(!o.status.success());
}

#[test]
fn suppression_options_reduce_alarms() {
    let dir = tempfile::tempdir().unwrap();
    // Two spikes 20 points apart: both alarm without a gap, one with --min-gap 50.
    let mut s = String::from("timestamp,value\n");
    for i in 0..300 {
        let v = 50.0 + (i % 5) as f64 + if i == 200 || i == 220 { 40.0 } else { 0.0 };
        s.push_str(&format!("{},{v}\n", 1_700_000_000 + i * 60));
    }
    let f = write(dir.path(), "two.csv", &s);
    let count = |extra: &[&str]| {
        let mut args = vec![
            "detect",
            f.to_str().unwrap(),
            "-d",
            "zscore",
            "-p",
            "window=30",
            "-f",
            "json",
        ];
        args.extend_from_slice(extra);
        let o = aiops(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["anomalies"].as_array().unwrap().len()
    };
    assert_eq!(count(&[]), 2);
    assert_eq!(count(&["--min-gap", "50"]), 1);
    assert_eq!(count(&["--min-duration", "2"]), 0);
    let o = aiops(&["detect", f.to_str().unwrap(), "--min-duration", "0"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("min_duration"));
}

#[test]
fn plot_writes_an_svg() {
    let (dir, f) = temp_file("s.csv", spiky_csv());
    let text = written_to(
        &dir,
        &format!("detect {} -d zscore -p window=30 --plot", s(&f)),
        "p.svg",
    );
    assert!(text.starts_with("<svg") && text.contains("</svg>"));
    assert!(
        text.contains("polyline") || text.contains("<path"),
        "has a line"
    );
    assert!(text.contains("<circle"), "marks the flagged point");
    let png = dir.path().join("p.png");
    let o = aiops_line(&format!("detect {} --plot {}", s(&f), s(&png)));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("only .svg"), "{}", stderr(&o));
}

#[test]
fn detect_multi_scores_metrics_together() {
    let dir = tempfile::tempdir().unwrap();
    // cpu and latency move together; at row 500 latency jumps while cpu stays normal.
    let csv = cpu_latency_csv(700, 1_700_000_000, 500, |cpu| 2.0 * cpu + 40.0);
    let f = write(dir.path(), "wide.csv", &csv);
    for det in ["mahalanobis", "pca"] {
        let o = aiops(&["detect-multi", f.to_str().unwrap(), "-d", det, "-f", "json"]);
        assert!(o.status.success(), "{det}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["metrics"], serde_json::json!(["cpu", "latency"]));
        let starts = strs(&v["anomalies"], "start");
        assert!(starts.contains(&"1700030000"), "{det}: {starts:?}");
    }
    let text = written_to(&dir, &format!("detect-multi {} -o", s(&f)), "rows.csv");
    assert_eq!(text.lines().count(), 701);
    assert!(
        text.lines()
            .any(|l| l.starts_with("1700030000,") && l.ends_with(",1"))
    );
    let o = aiops(&["detect-multi", f.to_str().unwrap(), "-d", "nope"]);
    assert!(!o.status.success() && stderr(&o).contains("mahalanobis"));
    let bad = write(dir.path(), "bad.csv", "timestamp,a,b\n1,2\n");
    let o = aiops(&["detect-multi", bad.to_str().unwrap()]);
    assert!(
        !o.status.success() && stderr(&o).contains("line 2"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn eval_alerts_prints_the_three_scores_as_json_and_refuses_zero_cases() {
    let o = aiops(&["eval", "alerts", "--cases", "5", "--seed", "3", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for k in ["noise_reduction", "purity", "completeness"] {
        let x = v[k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&x), "{k} = {x}");
    }
    assert_eq!(v["cases"], 5);
    let o = aiops(&["eval", "alerts", "--cases", "0"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cases"), "{}", stderr(&o));
}

#[test]
fn a_closed_stdout_ends_the_command_without_a_panic() {
    use std::io::Read;
    use std::process::Stdio;
    // `aiops eval alerts` prints after seconds of work; the reader is gone by then.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["eval", "alerts", "--cases", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run aiops");
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(status.code(), Some(101), "{err}");
}
