//! The RBAC matrix of `aiops serve`: every route × every role (and no token, and a bad
//! token). A role without the route's permission gets 403 whatever the body (the check comes
//! before the body is read); a role with it never gets 401 or 403. The route → permission
//! table here is written out independently of the router, and the role → permission matrix
//! is the library's (pinned by its own unit test).

mod common;

use aiops_service::{Permission, Role, allows};
use common::server::{Server, token};

/// Every route, with the permission it needs (`None`: open to all).
const ROUTES: &[(&str, &str, Option<Permission>)] = &[
    ("GET", "/api/v1/workflows", Some(Permission::ReadRules)),
    ("POST", "/api/v1/workflows", Some(Permission::WriteConfig)),
    ("GET", "/api/v1/workflows/nope", Some(Permission::ReadRules)),
    (
        "PUT",
        "/api/v1/workflows/nope",
        Some(Permission::WriteConfig),
    ),
    (
        "DELETE",
        "/api/v1/workflows/nope",
        Some(Permission::WriteConfig),
    ),
    (
        "POST",
        "/api/v1/workflows/nope/run",
        Some(Permission::ExecuteRemediation),
    ),
    (
        "GET",
        "/api/v1/workflows/nope/runs",
        Some(Permission::ReadReports),
    ),
    (
        "GET",
        "/api/v1/workflow-runs/run-1",
        Some(Permission::ReadReports),
    ),
    (
        "POST",
        "/api/v1/remediation/execute",
        Some(Permission::ExecuteRemediation),
    ),
    (
        "GET",
        "/api/v1/remediation/rem-1",
        Some(Permission::ReadReports),
    ),
    ("GET", "/api/v1/health", None),
    // The web console's files hold no data.
    ("GET", "/", None),
    ("GET", "/console/", None),
    ("GET", "/console/js/app.js", None),
    // Console sessions: any role that reads alerts logs in (ingest tokens do not).
    ("POST", "/api/v1/session", Some(Permission::ReadAlerts)),
    ("GET", "/api/v1/session", Some(Permission::ReadAlerts)),
    ("DELETE", "/api/v1/session", Some(Permission::ReadAlerts)),
    ("GET", "/-/ready", None),
    ("GET", "/metrics", Some(Permission::ReadMetrics)),
    ("POST", "/api/v1/write", Some(Permission::IngestWrite)),
    (
        "POST",
        "/api/v1/ingest/points",
        Some(Permission::IngestWrite),
    ),
    (
        "POST",
        "/api/v1/anomalies/detect",
        Some(Permission::ExecuteAnalysis),
    ),
    ("GET", "/api/v1/anomalies", Some(Permission::ReadAnomalies)),
    (
        "GET",
        "/api/v1/anomalies/1",
        Some(Permission::ReadAnomalies),
    ),
    ("POST", "/api/v2/alerts", Some(Permission::IngestWrite)),
    ("GET", "/api/v2/alerts", Some(Permission::ReadAlerts)),
    ("GET", "/api/v2/status", Some(Permission::ReadAlerts)),
    (
        "POST",
        "/api/v1/alerts/webhook",
        Some(Permission::IngestWrite),
    ),
    ("GET", "/api/v1/alerts", Some(Permission::ReadAlerts)),
    (
        "POST",
        "/api/v1/alerts/0123456789abcdef/acknowledge",
        Some(Permission::WriteAlerts),
    ),
    (
        "POST",
        "/api/v1/alerts/0123456789abcdef/resolve",
        Some(Permission::WriteAlerts),
    ),
    ("GET", "/api/v1/incidents", Some(Permission::ReadIncidents)),
    (
        "GET",
        "/api/v1/incidents/inc-1",
        Some(Permission::ReadIncidents),
    ),
    ("GET", "/api/v1/audit", Some(Permission::ReadAudit)),
    (
        "POST",
        "/api/v1/rca/analyze",
        Some(Permission::ExecuteAnalysis),
    ),
    ("GET", "/api/v1/rca/rca-1", Some(Permission::ReadIncidents)),
    (
        "POST",
        "/api/v1/capacity/forecast",
        Some(Permission::ExecuteAnalysis),
    ),
    (
        "GET",
        "/api/v1/capacity/recommendations",
        Some(Permission::ReadReports),
    ),
    ("GET", "/ws/alerts", Some(Permission::ReadAlerts)),
    ("GET", "/ws/metrics/api", Some(Permission::ReadMetrics)),
    ("POST", "/api/v1/alert-rules", Some(Permission::WriteRules)),
    ("GET", "/api/v1/alert-rules", Some(Permission::ReadRules)),
    ("GET", "/api/v1/alert-rules/r1", Some(Permission::ReadRules)),
    (
        "PUT",
        "/api/v1/alert-rules/r1",
        Some(Permission::WriteRules),
    ),
    (
        "DELETE",
        "/api/v1/alert-rules/r1",
        Some(Permission::WriteRules),
    ),
    ("GET", "/api/v1/topology", Some(Permission::ReadTopology)),
    ("PUT", "/api/v1/topology", Some(Permission::WriteTopology)),
    (
        "GET",
        "/api/v1/topology/api/dependencies",
        Some(Permission::ReadTopology),
    ),
    (
        "GET",
        "/api/v1/knowledge/runbooks",
        Some(Permission::ReadKnowledge),
    ),
    (
        "GET",
        "/api/v1/knowledge/search?query=disk",
        Some(Permission::ReadKnowledge),
    ),
    (
        "GET",
        "/api/v1/integrations",
        Some(Permission::ReadDashboards),
    ),
    (
        "POST",
        "/api/v1/integrations/grafana/dashboards",
        Some(Permission::WriteConfig),
    ),
    ("POST", "/api/v1/events", Some(Permission::IngestWrite)),
    ("GET", "/api/v1/events", Some(Permission::ReadAlerts)),
    ("POST", "/api/v1/ingest/logs", Some(Permission::IngestWrite)),
    ("GET", "/api/v1/logs", Some(Permission::ReadMetrics)),
    (
        "GET",
        "/api/v1/logs/templates",
        Some(Permission::ReadMetrics),
    ),
    (
        "GET",
        "/api/v1/logs/anomalies",
        Some(Permission::ReadMetrics),
    ),
];

#[test]
fn every_route_times_every_role() {
    let dir = tempfile::tempdir().unwrap();
    let tokens: Vec<(Role, String)> = Role::ALL
        .iter()
        .map(|&r| (r, token(dir.path(), r.as_str(), r.as_str())))
        .collect();
    // A bad token on every route: past the default limit of failures the address would get
    // 429 (tested below), so the limit is off here.
    let s = Server::start(dir.path(), "limits:\n  auth_failures_per_minute: 0\n");
    let send = |method: &str, path: &str, bearer: Option<&str>| {
        let mut r = s
            .http
            .request(method.parse().unwrap(), format!("{}{path}", s.url));
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        // A body that is wrong for every route: the verdict must not depend on it.
        r.header("Content-Type", "application/json")
            .body("{\"garbage\": ")
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let mut failures = Vec::new();
    for &(method, path, permission) in ROUTES {
        let Some(p) = permission else {
            let got = send(method, path, None);
            if got != 200 {
                failures.push(format!("{method} {path} without a token: {got}"));
            }
            continue;
        };
        for bearer in [
            None,
            Some("aiops_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ] {
            let got = send(method, path, bearer);
            if got != 401 {
                failures.push(format!(
                    "{method} {path} with {bearer:?}: {got}, expected 401"
                ));
            }
        }
        for (role, t) in &tokens {
            let got = send(method, path, Some(t));
            let ok = if allows(*role, p) {
                got != 401 && got != 403
            } else {
                got == 403
            };
            if !ok {
                failures.push(format!(
                    "{method} {path} as {}: {got} (allowed: {})",
                    role.as_str(),
                    allows(*role, p)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_address_presenting_bad_credentials_is_slowed_down() {
    let dir = tempfile::tempdir().unwrap();
    let viewer = token(dir.path(), "viewer", "bob");
    let s = Server::start(dir.path(), "limits:\n  auth_failures_per_minute: 3\n");
    let get = |bearer: Option<&str>| {
        let mut r = s.http.get(format!("{}/api/v1/alerts", s.url));
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        r.send().unwrap()
    };
    // Good credentials and requests without any never count.
    for _ in 0..5 {
        assert_eq!(get(Some(&viewer)).status(), 200);
        assert_eq!(get(None).status(), 401);
    }
    let forged = "aiops_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for _ in 0..3 {
        assert_eq!(get(Some(forged)).status(), 401);
    }
    // Three failures used the minute's allowance: the address is refused before its
    // credential is read, a good one included, and told when to come back.
    for bearer in [forged, viewer.as_str()] {
        let r = get(Some(bearer));
        assert_eq!(r.status(), 429);
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=20).contains(&wait), "{wait}");
        let body: serde_json::Value = r.json().unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("failed authentications from 127.0.0.1"),
            "{body}"
        );
    }
    // Console logins share the allowance.
    let r = s
        .http
        .post(format!("{}/api/v1/session", s.url))
        .bearer_auth(forged)
        .send()
        .unwrap();
    assert_eq!(r.status(), 429);
}
