//! End-to-end tests of `aiops logs parse` and `aiops eval loghub`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn aiops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(args)
        .output()
        .expect("run aiops")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

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

#[test]
fn parse_prints_templates_most_frequent_first() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "app.log", &small_log());
    let o = aiops(&[
        "logs",
        "parse",
        f.to_str().unwrap(),
        "--log-format",
        "<Level>: <Content>",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
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
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "app.log", &small_log());
    let out = dir.path().join("out.csv");
    for parallel in [false, true] {
        let mut args = vec![
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
        ];
        if parallel {
            args.push("--parallel");
        }
        let o = aiops(&args);
        assert!(o.status.success(), "{}", stderr(&o));
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
}

#[test]
fn parse_refuses_bad_options_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "app.log", b"a b c\n");
    for (args, needle) in [
        (vec!["--st", "0"], "sim_threshold"),
        (vec!["--depth", "2"], "depth"),
        (vec!["--mask", "("], "invalid mask"),
        (vec!["--log-format", "<Date> <Time>"], "no <Content> field"),
    ] {
        let mut all = vec!["logs", "parse", f.to_str().unwrap()];
        all.extend(args);
        let o = aiops(&all);
        assert!(!o.status.success());
        let err = stderr(&o);
        assert!(err.contains(needle) && err.lines().count() == 1, "{err}");
    }
    let o = aiops(&["logs", "parse", "/nonexistent/x.log"]);
    assert!(!o.status.success());
}

#[test]
fn eval_loghub_scores_an_unseen_system() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("Toy");
    std::fs::create_dir_all(&sys).unwrap();
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
    let o = aiops(&[
        "eval",
        "loghub",
        "--data",
        dir.path().to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["systems"]["Toy"]["ga"], 1.0);
    assert_eq!(v["systems"]["Toy"]["pa"], 1.0);
    assert_eq!(v["mean_ga"], 1.0);
    let o = aiops(&["eval", "loghub", "--data", dir.path().to_str().unwrap()]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("Toy"));
    let o = aiops(&["eval", "loghub", "--data", "/nonexistent"]);
    assert!(!o.status.success());
}
