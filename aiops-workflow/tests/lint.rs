//! Loading and linting: the seed loads unchanged and lints clean; bad files give the right
//! errors at the right places.

use std::path::{Path, PathBuf};

use aiops_workflow::{Diagnostic, Invalid, Level, Registry, WorkflowSet, lint};

fn seed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/workflows/seed.yaml")
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match WorkflowSet::parse(text, Some(Path::new("bad.yaml")), &Registry::builtin()) {
        Ok(_) => panic!("expected errors"),
        Err(Invalid(d)) => d,
    }
}

#[test]
fn the_seed_loads_unchanged_with_its_three_workflows() {
    let set = WorkflowSet::load(&seed(), &Registry::builtin()).unwrap();
    let names: Vec<&str> = set.workflows.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["alert_response", "capacity_alert", "deployment_monitoring"]
    );
    let ar = set.get("alert_response").unwrap();
    assert_eq!(ar.steps.len(), 5);
    let rem = &ar.steps[4];
    assert_eq!(rem.policy.max_attempts, 1);
    assert!(rem.policy.rollback_on_failure);
    assert!(
        rem.params.is_empty(),
        "engine keys are lifted out of params"
    );
    assert_eq!(rem.pos.unwrap().line, 38);
    assert_eq!(
        rem.condition.as_ref().unwrap().value,
        "rca.confidence > 0.8"
    );
    let cap = set.get("capacity_alert").unwrap();
    assert_eq!(
        cap.steps[2].condition.as_ref().unwrap().value,
        "forecast.saturation_time < 604800000"
    );
}

#[test]
fn the_seed_lints_clean_but_for_systems_not_configured() {
    let d = lint(&seed(), &Registry::builtin(), &[]);
    assert!(d.iter().all(|d| d.level == Level::Warning), "{d:#?}");
    let text: Vec<String> = d.iter().map(ToString::to_string).collect();
    for sys in ["jira", "slack", "pagerduty", "grafana"] {
        assert!(
            text.iter().any(|t| t.contains(&format!("`{sys}`"))),
            "{text:#?}"
        );
    }
    let configured: Vec<String> = ["jira", "slack", "pagerduty", "grafana"]
        .map(String::from)
        .to_vec();
    assert!(lint(&seed(), &Registry::builtin(), &configured).is_empty());
    // A directory lints every YAML file in it.
    let dir = seed().parent().unwrap().to_path_buf();
    assert_eq!(lint(&dir, &Registry::builtin(), &configured), Vec::new());
}

const HEAD: &str = "workflows:\n  w:\n    trigger:\n      type: alert\n    steps:\n";

#[test]
fn an_unknown_action_is_an_error_at_its_position() {
    let d = errors(&format!(
        "{HEAD}      - name: a\n        action: run_rcaa\n"
    ));
    assert_eq!(d.len(), 1, "{d:#?}");
    let s = d[0].to_string();
    assert!(
        s.starts_with("bad.yaml:7:17: error: workflow `w`, step `a`: unknown action `run_rcaa`"),
        "{s}"
    );
    assert!(s.contains("run_rca,"), "{s}");
}

#[test]
fn an_unknown_key_is_an_error_naming_workflow_step_and_position() {
    let d = errors(&format!(
        "{HEAD}      - name: a\n        action: run_rca\n      - name: b\n        action: run_rca\n        retries: 3\n"
    ));
    let s = d[0].to_string();
    assert!(s.contains("bad.yaml:10:"), "{s}");
    assert!(s.contains("workflow `w`, step `b`"), "{s}");
    assert!(s.contains("retries"), "{s}");
    // An unknown param of a known action.
    let d = errors(&format!(
        "{HEAD}      - name: a\n        action: run_rca\n        params:\n          window: 30m\n"
    ));
    let s = d[0].to_string();
    assert!(
        s.contains("bad.yaml:9:") && s.contains("no param `window`") && s.contains("time_window"),
        "{s}"
    );
}

#[test]
fn a_forward_reference_is_an_error() {
    let d = errors(&format!(
        "{HEAD}      - name: fix\n        condition: \"{{{{ rca.confidence > 0.8 }}}}\"\n        action: execute_remediation\n      - name: rca\n        action: run_rca\n"
    ));
    let s = d[0].to_string();
    assert!(s.contains("bad.yaml:7:"), "{s}");
    assert!(
        s.contains("forward reference") && s.contains("step `rca` (run_rca)"),
        "{s}"
    );
}

#[test]
fn a_bad_expression_is_an_error() {
    let d = errors(&format!(
        "{HEAD}      - name: rca\n        action: run_rca\n      - name: fix\n        condition: \"{{{{ rca.confidence > }}}}\"\n        action: execute_remediation\n"
    ));
    let s = d[0].to_string();
    assert!(
        s.contains("bad.yaml:9:") && s.contains("does not parse"),
        "{s}"
    );
}

#[test]
fn a_template_with_an_undefined_variable_is_rejected_at_load_time() {
    let d = errors(&format!(
        "{HEAD}      - name: t\n        action: create_ticket\n        params:\n          system: jira\n          title: \"Down: {{{{ alert.labels.service }}}} {{{{ alert.sevrity }}}}\"\n"
    ));
    let s = d[0].to_string();
    assert!(
        s.contains("bad.yaml:10:") && s.contains("alert.sevrity") && s.contains("severity"),
        "{s}"
    );
}

#[test]
fn trigger_and_policy_errors() {
    let d = errors(
        "workflows:\n  w:\n    trigger:\n      type: schedule\n      cron: \"0 */6 * *\"\n    steps:\n      - name: a\n        action: run_capacity_forecast\n        max_attempts: 0\n",
    );
    let text: Vec<String> = d.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(|t| t.contains("5:") && t.contains("cron")),
        "{text:#?}"
    );
    assert!(text.iter().any(|t| t.contains("max_attempts")), "{text:#?}");
    let d = errors(&format!(
        "{HEAD}      - name: a\n        action: run_rca\n        rollback_on_failure: true\n"
    ));
    assert!(d[0].message.contains("no compensating action"), "{d:#?}");
    let d = errors(&format!(
        "{HEAD}      - name: a\n        action: run_workflow\n        params:\n          workflow: nope\n"
    ));
    assert!(d[0].message.contains("no workflow `nope`"), "{d:#?}");
}

#[test]
fn every_builtin_action_is_documented_in_the_readme() {
    let readme = include_str!("../README.md");
    for name in Registry::builtin().names() {
        assert!(
            readme.contains(&format!("| `{name}` |")),
            "{name} is missing from the README"
        );
    }
}

#[test]
fn the_readme_allow_list_example_loads() {
    let readme = include_str!("../README.md");
    let start = readme.find("```yaml\ncommands:").unwrap() + "```yaml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let r: aiops_workflow::Remediation = aiops_core::yaml::from_str(&readme[start..end]).unwrap();
    assert_eq!(r.commands["restart"].program, "kubectl");
    assert_eq!(r.defaults["rollback_deployment"], "kubectl_rollout_undo");
}

#[test]
fn literal_params_of_the_wrong_kind_are_errors() {
    let d = errors(
        "workflows:\n  w:\n    trigger: {type: schedule, cron: '0 * * * *'}\n    steps:\n      - name: f\n        action: run_capacity_forecast\n        params: {horizon: 7days}\n      - name: t\n        action: evaluate_thresholds\n        params: {warning: lots}\n",
    );
    let text: Vec<String> = d.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 2, "{text:#?}");
    assert!(
        text[0].contains(":7:") && text[0].contains("horizon"),
        "{text:#?}"
    );
    assert!(
        text[1].contains(":10:") && text[1].contains("70%"),
        "{text:#?}"
    );
}
