//! An alert-engine state saved by an earlier version restores and continues exactly as the
//! version that saved it: `fixtures/engine_snapshot_v1.json` (written by 0.1.0) holds the
//! configuration, the topology, the state after half of a generated alert storm, the rest of
//! the storm with each alert's arrival time, and what that version answered to each of them.

use aiops_alerts::{Config, Engine, EngineState};
use aiops_core::{Alert, Topology};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Arrival {
    at: i64,
    alert: Alert,
}

#[derive(Deserialize)]
struct Fixture {
    config: String,
    topology: Topology,
    state: String,
    arrivals: Vec<Arrival>,
    ingested: Vec<Value>,
    batches: Value,
    incidents: Value,
    stats: Value,
}

#[test]
fn an_old_engine_state_restores_and_continues_identically() {
    let text = include_str!("fixtures/engine_snapshot_v1.json");
    let f: Fixture = serde_json::from_str(text).unwrap();
    let state: EngineState = serde_json::from_str(&f.state).unwrap();
    let config = Config::from_yaml(&f.config).unwrap();
    let mut engine = Engine::restore(config, Some(&f.topology), state).unwrap();
    let mut now = i64::MIN;
    for (a, expected) in f.arrivals.into_iter().zip(&f.ingested) {
        now = a.at;
        let got = engine.ingest(a.alert, now).unwrap();
        let got = json!({
            "outcome": format!("{:?}", got.outcome),
            "muted_by": got.muted_by,
            "inhibited_by": got.inhibited_by,
            "incident": got.incident,
        });
        assert_eq!(&got, expected);
    }
    let batches = engine.tick(now + 3_600_000).unwrap();
    assert_eq!(serde_json::to_value(&batches).unwrap(), f.batches);
    assert_eq!(
        serde_json::to_value(engine.incidents()).unwrap(),
        f.incidents
    );
    assert_eq!(serde_json::to_value(engine.stats()).unwrap(), f.stats);
    // Its resolved incidents can be forgotten: the open ones stay as they were, and so do
    // the counters.
    let resolved: Vec<&Value> = f
        .incidents
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "resolved")
        .collect();
    assert!(!resolved.is_empty());
    let gone = engine.forget_resolved_incidents(i64::MAX);
    assert_eq!(gone.len(), resolved.len());
    let open: Vec<&Value> = f
        .incidents
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] != "resolved")
        .collect();
    assert_eq!(
        serde_json::to_value(engine.incidents()).unwrap(),
        serde_json::to_value(&open).unwrap()
    );
    assert_eq!(engine.incidents_in_memory(), (open.len(), 0));
    assert_eq!(serde_json::to_value(engine.stats()).unwrap(), f.stats);
}
