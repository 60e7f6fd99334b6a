//! aiops maintenance windows mirrored as silences in a real Alertmanager (Debian
//! `prometheus-alertmanager`, on 127.0.0.1): created once while the window is configured,
//! expired when it is removed. Skipped, with a message, when Alertmanager is not installed
//! (`AIOPS_REQUIRE_ALERTMANAGER=1` makes that a failure).

mod common;
#[path = "../../aiops-integrations/tests/common/mod.rs"]
mod daemons;

use common::server::{Server, eventually, now_ms};
use serde_json::Value;

fn silences(am: &str) -> Vec<Value> {
    reqwest::blocking::get(format!("{am}/api/v2/silences"))
        .unwrap()
        .json::<Vec<Value>>()
        .unwrap()
}

fn rfc3339(ms: i64) -> String {
    aiops_core::time::format_rfc3339(ms)
}

#[test]
fn maintenance_windows_become_alertmanager_silences() {
    let Some(binary) = daemons::alertmanager_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let am = daemons::start_alertmanager(&binary, dir.path());
    let now = now_ms();
    let config = |windows: &str| {
        format!(
            r#"alerts:
  engine:
    maintenance_windows: {windows}
integrations:
  am: {{type: alertmanager, url: "{url}"}}
notifications:
  maintenance_silences: [am]
  silence_sync_s: 1
"#,
            url = am.url
        )
    };
    let window = format!(
        "[{{name: db-patching, matchers: ['service=\"db\"'], start: \"{}\", end: \"{}\"}}]",
        rfc3339(now - 3_600_000),
        rfc3339(now + 3_600_000)
    );
    let aiops = Server::start(dir.path(), &config(&window));
    let s = eventually(|| {
        let list = silences(&am.url);
        (!list.is_empty()).then_some(list)
    });
    // Several passes later, still one silence: it is made once.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let list = silences(&am.url);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(s[0]["status"]["state"], "active", "{s:?}");
    assert_eq!(s[0]["matchers"][0]["name"], "service");
    assert_eq!(s[0]["matchers"][0]["value"], "db");
    assert!(s[0]["comment"].as_str().unwrap().contains("db-patching"));
    assert!(aiops.stop());

    // The window removed: its silence is expired.
    let aiops = Server::start(dir.path(), &config("[]"));
    eventually(|| {
        let list = silences(&am.url);
        (list.len() == 1 && list[0]["status"]["state"] == "expired").then_some(())
    });
    // A window without matchers cannot be mirrored: the configuration is refused.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["serve", "--check", "--config"])
        .arg({
            let p = dir.path().join("bad.yaml");
            let bad = window.replace("matchers: ['service=\"db\"'], ", "");
            std::fs::write(&p, config(&bad)).unwrap();
            p
        })
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no matchers"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(aiops.stop());
}
