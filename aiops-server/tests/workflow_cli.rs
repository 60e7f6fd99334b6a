//! End-to-end tests of `aiops workflow lint` and `aiops workflow run`.

mod common;
use common::{aiops, s, stderr, stdout, write};

fn seed() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/workflows/seed.yaml"
    )
    .to_string()
}

#[test]
fn lint_passes_the_seed_with_warnings_and_fails_a_bad_file_with_positions() {
    let o = aiops(&["workflow", "lint", &seed()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("warning:") && out.contains("`jira` is not configured"),
        "{out}"
    );
    let o = aiops(&[
        "workflow",
        "lint",
        &seed(),
        "--system",
        "jira",
        "--system",
        "slack",
        "--system",
        "pagerduty",
        "--system",
        "grafana",
    ]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "");

    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.yaml",
        "workflows:\n  w:\n    trigger: {type: manual}\n    steps:\n      - name: a\n        action: nope\n",
    );
    let o = aiops(&["workflow", "lint", s(dir.path())]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "{}:6:17: error: workflow `w`, step `a`: unknown action `nope`",
            s(&bad)
        )),
        "{out}"
    );
    assert!(stderr(&o).contains("1 error(s)"), "{}", stderr(&o));
}

#[test]
fn run_dry_prints_each_step_with_its_decision_and_rendered_params() {
    let dir = tempfile::tempdir().unwrap();
    let event = write(
        dir.path(),
        "alert.json",
        r#"{"labels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"},
            "startsAt": "2026-12-01T10:00:00Z"}"#,
    );
    let assume = write(
        dir.path(),
        "assume.json",
        r#"{"analyze_root_cause": {"confidence": 0.9, "root_cause": "db", "candidates": [], "remediation": "restart"}}"#,
    );
    let o = aiops(&[
        "workflow",
        "run",
        &seed(),
        "--event",
        s(&event),
        "--dry-run",
        "--assume",
        s(&assume),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["workflow"], "alert_response");
    assert_eq!(v["dry_run"], true);
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps[2]["name"], "create_incident");
    assert_eq!(steps[2]["status"], "would_run");
    assert_eq!(steps[2]["input"]["priority"], "critical");
    assert_eq!(steps[2]["systems"][0], "jira (not configured)");
    assert_eq!(steps[4]["condition"]["value"], true);
    assert_eq!(steps[4]["status"], "would_run");

    // --workflow chooses one of the file's workflows; an unknown one is an error.
    let deploy = write(
        dir.path(),
        "deploy.json",
        r#"{"source": "kubernetes", "event_type": "deployment", "name": "checkout"}"#,
    );
    let o = aiops(&[
        "workflow",
        "run",
        &seed(),
        "--workflow",
        "deployment_monitoring",
        "--event",
        s(&deploy),
        "--dry-run",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["steps"][3]["name"], "auto_rollback");
    assert_eq!(v["steps"][3]["status"], "skipped");
    let o = aiops(&[
        "workflow",
        "run",
        &seed(),
        "--workflow",
        "nope",
        "--event",
        s(&deploy),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no workflow `nope`"), "{}", stderr(&o));
}
