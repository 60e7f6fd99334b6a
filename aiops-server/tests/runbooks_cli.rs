//! End-to-end tests of `aiops runbooks`.

mod common;
use common::{aiops, strs};

#[test]
fn list_and_search_a_folder_and_name_a_broken_file() {
    let dir = std::env::temp_dir().join(format!("aiops-runbooks-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("disk.md"),
        "---\nkinds: [host]\nmetrics: ['disk*']\n---\n# Disk full\n- Delete old logs under /var/log\n- Grow the volume\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("db.yaml"),
        "title: Slow database\nkinds: [database]\nactions: [Check the slow query log]\n",
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    let o = aiops(&["runbooks", "list", "--dir", d, "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids = strs(&v, "id");
    assert_eq!(ids, ["db", "disk"]);
    assert_eq!(v[1]["actions"][1], "Grow the volume");

    let o = aiops(&["runbooks", "search", "--dir", d, "--json", "old", "logs"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["hits"].as_array().unwrap().len(), 1);
    assert_eq!(v["hits"][0]["runbook"], "disk");

    std::fs::write(dir.join("bad.md"), "---\nkinds: [host\n---\n").unwrap();
    let o = aiops(&["runbooks", "list", "--dir", d]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.md"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
