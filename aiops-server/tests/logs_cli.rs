//! End-to-end tests of `aiops logs parse` and `aiops eval loghub`.

use std::path::{Path, PathBuf};

mod common;
use common::{aiops, aiops_line, s, stderr, stdout, strs, temp_file, write};

/// 30 lines of two events behind a `<Level>: <Content>` header, plus one line without a
/// header and one with invalid UTF-8.
fn small_log() -> Vec<u8> {
    let mut s = Vec::new();
    for i in 0..20 {
        s.extend_from_slice(format!("INFO: served block blk_{i} to 10.0.0.{i}\n").as_bytes());
    }
    for i in 0..10 {
        s.extend_from_slice(
            format!(
                "WARN: disk full on /dev/sd{} at {}%\n",
                (b'a' + i) as char,
                90 + i
            )
            .as_bytes(),
        );
    }
    s.extend_from_slice(b"garbage line without header\n");
    s.extend_from_slice(b"INFO: bad \xff bytes here\n");
    s
}

/// Runs `aiops logs <command> <log> --log-format <log_format> <args>`, which must succeed, and
/// returns its standard output.
fn logs_ok(command: &str, log: &Path, log_format: &str, args: &[&str]) -> String {
    let mut all = vec!["logs", command, s(log), "--log-format", log_format];
    all.extend_from_slice(args);
    let o = aiops(&all);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

/// Runs `aiops logs <command> <log> <args>`, which must fail with one line on standard error,
/// and returns that line.
fn one_line_error(command: &str, log: &str, args: &[&str]) -> String {
    let mut all = vec!["logs", command, log];
    all.extend_from_slice(args);
    let o = aiops(&all);
    assert!(!o.status.success(), "{args:?}");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    err
}

/// A temporary data folder with an empty system folder `Toy` in it, and that system folder.
fn toy_system() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("Toy");
    std::fs::create_dir_all(&sys).unwrap();
    (dir, sys)
}

#[test]
fn parse_prints_templates_most_frequent_first() {
    let (_dir, f) = temp_file("app.log", small_log());
    let out = logs_ok("parse", &f, "<Level>: <Content>", &[]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("32 lines, 4 templates, 1 lines without a matching header"),
        "{out}"
    );
    assert!(
        lines[2].contains("20") && lines[2].contains("served block blk_<:NUM:> to <:IP:>"),
        "{out}"
    );
    assert!(
        lines[3].contains("10") && lines[3].contains("disk full on /dev/<*> at <:NUM:>%"),
        "{out}"
    );
}

#[test]
fn parse_output_writes_one_row_per_line() {
    let (dir, f) = temp_file("app.log", small_log());
    let out = dir.path().join("out.csv");
    let o = aiops(&[
        "logs",
        "parse",
        f.to_str().unwrap(),
        "--log-format",
        "<Level>: <Content>",
        "--mask",
        r"DEV=/dev/\w+",
        "--st",
        "0.6",
        "--depth",
        "5",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    let csv = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "LineId,EventId,EventTemplate");
    assert_eq!(rows.len(), 33, "every line has a row: {csv}");
    assert_eq!(rows[1], "1,E1,served block blk_<*> to <*>");
    assert_eq!(rows[21], "21,E2,disk full on <*> at <*>%");
    assert_eq!(rows[31], "31,E3,garbage line without header");
    assert!(
        rows[32].starts_with("32,E4,bad \u{fffd} bytes here"),
        "{csv}"
    );
}

#[test]
fn parse_and_detect_warn_on_input_that_is_not_text_and_keep_the_cap() {
    let mut x = 9u64;
    let bytes: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let (dir, f) = temp_file("random.bin", &bytes);
    let out = dir.path().join("out.csv");
    let o = aiops(&[
        "logs",
        "parse",
        s(&f),
        "--max-clusters",
        "50",
        "--output",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.matches("does not look like text").count(), 1, "{err}");
    let lines = bytes.split(|&b| b == b'\n').count();
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        csv.lines().count(),
        lines + 1 - usize::from(bytes.ends_with(b"\n"))
    );
    let o = aiops(&["logs", "parse", s(&f), "--max-clusters", "50"]);
    let first = stdout(&o).lines().next().unwrap_or_default().to_string();
    assert!(first.ends_with(", 50 templates"), "{first}");
    let o = aiops(&["logs", "detect", s(&f), "--window", "100lines"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).matches("does not look like text").count(),
        1,
        "{}",
        stderr(&o)
    );
}

#[test]
fn parse_refuses_bad_options_with_one_line() {
    let (_dir, f) = temp_file("app.log", b"a b c\n");
    for (args, needle) in [
        (vec!["--st", "0"], "sim_threshold"),
        (vec!["--depth", "2"], "depth"),
        (vec!["--mask", "("], "invalid mask"),
        (vec!["--log-format", "<Date> <Time>"], "no <Content> field"),
    ] {
        let err = one_line_error("parse", s(&f), &args);
        assert!(err.contains(needle), "{err}");
    }
    one_line_error("parse", "/nonexistent/x.log", &[]);
}

#[test]
fn eval_loghub_scores_an_unseen_system() {
    let (dir, sys) = toy_system();
    let mut log = String::new();
    let mut csv = String::from("LineId,Level,Content,EventId,EventTemplate\n");
    for i in 0..40 {
        let (content, id, tpl) = if i % 3 == 0 {
            (
                format!("job {i} finished in {} ms", i * 7),
                "E1",
                "job <*> finished in <*> ms",
            )
        } else {
            (format!("connected to 10.1.1.{i}"), "E2", "connected to <*>")
        };
        log.push_str(&format!("INFO {content}\n"));
        csv.push_str(&format!("{},INFO,{content},{id},{tpl}\n", i + 1));
    }
    write(&sys, "Toy_2k.log", log.as_bytes());
    write(&sys, "Toy_2k.log_structured.csv", csv.as_bytes());
    write(
        dir.path(),
        "settings.json",
        br#"{"Toy": {"log_format": "<Level> <Content>", "regex": [], "st": 0.5, "depth": 4, "drain_ga": 0.5}}"#,
    );
    let o = aiops_line(&format!("eval loghub --data {} --json", s(dir.path())));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["systems"]["Toy"]["ga"], 1.0);
    assert_eq!(v["systems"]["Toy"]["pa"], 1.0);
    assert_eq!(v["systems"]["Toy"]["pa_corrected"], 1.0);
    assert_eq!(v["mean_ga"], 1.0);
    assert_eq!(v["mean_pa_corrected"], 1.0);
    let o = aiops(&["eval", "loghub", "--data", dir.path().to_str().unwrap()]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("Toy"));
    // A tuned regex that masks a constant word costs template accuracy; `--untuned` drops
    // the settings' regexes (and threshold, depth) and keeps the header format.
    write(
        dir.path(),
        "settings.json",
        br#"{"Toy": {"log_format": "<Level> <Content>", "regex": ["connected"], "st": 0.9, "depth": 5}}"#,
    );
    let pa = |extra: &str| {
        let o = aiops_line(&format!(
            "eval loghub --data {} --json{extra}",
            s(dir.path())
        ));
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["systems"]["Toy"]["pa"].as_f64().unwrap()
    };
    assert!(pa("") < 1.0);
    assert_eq!(pa(" --untuned"), 1.0);
    // Another parser's output, scored by the same scorer: one line in the wrong group and
    // with the wrong template, and a template that differs from the truth only by its style
    // (`blk_<*>` for `<*>`), which the corrected accuracy accepts.
    let pred = tempfile::tempdir().unwrap();
    let psys = pred.path().join("Toy");
    std::fs::create_dir_all(&psys).unwrap();
    let mut rows = String::from("LineId,EventId,EventTemplate\n");
    for i in 0..40 {
        let (id, tpl) = match i {
            0 => ("E9", "job 0 finished in no ms"),
            _ if i % 3 == 0 => ("E1", "job <*> finished in <*> ms"),
            _ => ("E2", "connected to ip<*>"),
        };
        rows.push_str(&format!("{},{id},{tpl}\n", i + 1));
    }
    write(&psys, "Toy_2k.log_structured.csv", rows.as_bytes());
    let o = aiops_line(&format!(
        "eval loghub --data {} --predicted {} --json",
        s(dir.path()),
        s(pred.path())
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let toy = &v["systems"]["Toy"];
    // E1 loses its first line: its 13 other lines and E9's line are wrong groups.
    assert_eq!(toy["ga"].as_f64().unwrap(), 26.0 / 40.0);
    assert_eq!(toy["pa"].as_f64().unwrap(), 13.0 / 40.0);
    assert_eq!(toy["pa_corrected"].as_f64().unwrap(), 39.0 / 40.0);
    assert_eq!(toy["templates"], 3);
    // A predicted file with a line missing is an error.
    write(
        &psys,
        "Toy_2k.log_structured.csv",
        b"LineId,EventId,EventTemplate\n1,E1,x\n",
    );
    let o = aiops_line(&format!(
        "eval loghub --data {} --predicted {}",
        s(dir.path()),
        s(pred.path())
    ));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("1 rows for 40 log lines"),
        "{}",
        stderr(&o)
    );
    assert!(
        !aiops(&["eval", "loghub", "--data", "/nonexistent"])
            .status
            .success()
    );
}

/// A minute-stamped service log: `minutes` minutes of 4 steady lines, then a burst of a
/// known error template, then a new error template, one line without a header and one line
/// with invalid UTF-8.
fn service_log(minutes: u64) -> Vec<u8> {
    let ts = |s: u64| {
        format!(
            "2024-01-01 {:02}:{:02}:{:02}",
            s / 3600,
            (s / 60) % 60,
            s % 60
        )
    };
    let mut out = Vec::new();
    for m in 0..minutes {
        for i in 0..3 {
            out.extend_from_slice(
                format!("{} INFO: user u{} logged in\n", ts(m * 60 + i * 10), m + i).as_bytes(),
            );
        }
        if m % 10 == 3 {
            out.extend_from_slice(
                format!("{} ERROR: db call {} failed\n", ts(m * 60 + 40), m).as_bytes(),
            );
        }
        out.extend_from_slice(format!("{} INFO: cache refreshed\n", ts(m * 60 + 50)).as_bytes());
    }
    let m = minutes;
    for i in 0..20 {
        out.extend_from_slice(format!("{} ERROR: db call {i} failed\n", ts(m * 60 + i)).as_bytes());
    }
    out.extend_from_slice(format!("{} FATAL: disk sda gone\n", ts(m * 60 + 30)).as_bytes());
    out.extend_from_slice(b"no header on this line\n");
    out.extend_from_slice(format!("{} INFO: bad ", ts(m * 60 + 40)).as_bytes());
    out.extend_from_slice(b"\xff byte\n");
    out
}

#[test]
fn detect_reports_windows_and_lines_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let log = service_log(150);
    let lines_in = log.split(|&b| b == b'\n').count() - 1;
    let f = write(dir.path(), "svc.log", &log);
    let out = logs_ok(
        "detect",
        &f,
        "<Date> <Time> <Level>: <Content>",
        &["--window", "60s", "--format", "json", "-p", "pca=null"],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["window"], "1m");
    assert_eq!(v["stats"]["lines"], lines_in as u64);
    assert_eq!(v["stats"]["invalid_utf8"], 1);
    assert_eq!(v["stats"]["header_unmatched"], 1);
    let windows = v["windows"].as_array().unwrap();
    let burst = windows
        .iter()
        .find(|w| w["anomalous"] == true)
        .expect("an anomalous window");
    assert_eq!(burst["start_ms"], 150 * 60_000 + 1_704_067_200_000_i64);
    let signals = strs(&burst["reasons"], "signal");
    assert!(signals.contains(&"template_burst"), "{signals:?}");
    assert!(signals.contains(&"keyword_rate"), "{signals:?}");
    let lines = v["lines"].as_array().unwrap();
    // The 20 burst lines and the new fatal line, nothing else.
    assert_eq!(lines.len(), 21, "{lines:?}");
    let last = &lines[20];
    assert_eq!(last["reasons"][0]["signal"], "new_template");
    assert_eq!(last["keywords"], serde_json::json!(["fatal"]));
    assert_eq!(last["line"], lines[19]["line"].as_u64().unwrap() + 1);
}

#[test]
fn detect_text_output_and_bad_options() {
    let (dir, f) = temp_file("svc.log", service_log(150));
    let out = logs_ok("detect", &f, "<Date> <Time> <Level>: <Content>", &[]);
    assert!(out.contains("windows of 1m"), "{out}");
    assert!(out.contains("ANOMALOUS"), "{out}");
    assert!(out.contains("template_burst"), "{out}");
    assert!(out.contains("FATAL: disk sda gone"), "{out}");
    assert!(out.contains("1 lines with invalid UTF-8"), "{out}");
    // An empty file is no error.
    let empty = write(dir.path(), "empty.log", b"");
    let o = aiops(&["logs", "detect", empty.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("0 lines"), "{}", stdout(&o));
    // Bad options fail with one line.
    for args in [
        vec!["--window", "5 parsecs"],
        vec!["-p", "nope=1"],
        vec!["-p", "rare_ratio"],
        vec!["--log-format", "<Date> no content field"],
    ] {
        one_line_error("detect", s(&f), &args);
    }
    one_line_error("detect", "/nonexistent.log", &[]);
}

#[test]
fn eval_logs_anomaly_scores_a_labelled_system() {
    let (dir, sys) = toy_system();
    let mut log = String::new();
    for i in 0..1500u64 {
        log.push_str(&format!(
            "- {} INFO job {} done\n",
            1_000_000 + i * 5,
            i % 20
        ));
    }
    log.push_str("DISK 1000007600 FATAL disk sda failed\n");
    std::fs::write(sys.join("Toy_2k.log"), log).unwrap();
    std::fs::write(
        dir.path().join("settings.json"),
        r#"{"Toy": {"log_format": "<Label> <Timestamp> <Level> <Content>", "regex": [], "st": 0.5, "depth": 4}}"#,
    )
    .unwrap();
    let o = aiops_line(&format!(
        "eval logs-anomaly --data {} --json",
        s(dir.path())
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let toy = &v["systems"]["Toy"];
    assert_eq!(toy["alerts"], 1);
    assert_eq!(toy["detector"]["true_positives"], 1);
    assert_eq!(toy["detector"]["f1"], 1.0);
    assert!(
        !aiops(&["eval", "logs-anomaly", "--data", "/nonexistent"])
            .status
            .success()
    );
}
