//! Reading alerts: JSON lines of Alertmanager API v2 alert objects, a JSON array of them,
//! or Alertmanager webhook payloads (version 4), one per line or as the whole input.

use aiops_core::{Alert, CoreError};
use serde::Deserialize;

use crate::error::{RcaError, Result};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Webhook {
    version: String,
    alerts: Vec<serde_json::Value>,
}

fn json_err(line: usize, message: String) -> RcaError {
    RcaError::Core(CoreError::Json {
        line: Some(line as u64),
        message,
    })
}

fn alerts_of(value: serde_json::Value, line: usize, out: &mut Vec<Alert>) -> Result<()> {
    match value {
        serde_json::Value::Array(items) => {
            for v in items {
                alerts_of(v, line, out)?;
            }
            Ok(())
        }
        v if v.get("alerts").is_some() => {
            let hook: Webhook = serde_json::from_value(v)
                .map_err(|e| json_err(line, format!("webhook payload: {e}")))?;
            if hook.version != "4" {
                return Err(json_err(
                    line,
                    format!("webhook payload version {:?}, expected \"4\"", hook.version),
                ));
            }
            for (i, a) in hook.alerts.into_iter().enumerate() {
                out.push(
                    serde_json::from_value(a)
                        .map_err(|e| json_err(line, format!("webhook alert {i}: {e}")))?,
                );
            }
            Ok(())
        }
        v => {
            out.push(serde_json::from_value(v).map_err(|e| json_err(line, e.to_string()))?);
            Ok(())
        }
    }
}

/// Parses alerts in arrival order; any malformed alert is an error naming its line.
pub fn parse_alerts(text: &str) -> Result<Vec<Alert>> {
    let mut out = Vec::new();
    let trimmed = text.trim_start();
    // A single document spanning several lines (pretty-printed webhook payload or array).
    if (trimmed.starts_with('[') || (trimmed.starts_with('{') && text.trim().lines().count() > 1))
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
    {
        alerts_of(v, 1, &mut out)?;
        return Ok(out);
    }
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| json_err(i + 1, e.to_string()))?;
        alerts_of(v, i + 1, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiops_core::AlertStatus;

    #[test]
    fn reads_lines_arrays_and_webhooks() {
        let lines = "{\"labels\": {\"alertname\": \"A\"}, \"startsAt\": \"2024-01-01T00:00:00Z\"}\n\n\
                     {\"labels\": {\"alertname\": \"B\"}, \"startsAt\": \"2024-01-01T00:01:00Z\", \"endsAt\": \"2024-01-01T00:02:00Z\"}\n";
        let a = parse_alerts(lines).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[1].ends_at, Some(1_704_067_320_000));
        let hook = r#"{
  "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "resolved",
  "receiver": "web", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
  "externalURL": "http://am:9093",
  "alerts": [
    {"status": "resolved", "labels": {"alertname": "Down", "service": "cart"},
     "annotations": {}, "startsAt": "2024-01-01T00:00:00Z",
     "endsAt": "2024-01-01T00:05:00Z", "generatorURL": "http://prom/graph"}
  ]
}"#;
        let a = parse_alerts(hook).unwrap();
        assert_eq!((a.len(), a[0].status), (1, AlertStatus::Resolved));
        let one_line = hook.replace('\n', " ");
        assert_eq!(
            parse_alerts(&format!("{one_line}\n{one_line}"))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            parse_alerts(&format!("[{}]", lines.lines().next().unwrap()))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn malformed_input_names_the_line() {
        let bad = "{\"labels\": {\"a\": \"1\"}, \"startsAt\": \"2024-01-01T00:00:00Z\"}\n{\"labels\": {}, \"startsAt\": \"2024-01-01T00:00:00Z\"}";
        match parse_alerts(bad) {
            Err(RcaError::Core(CoreError::Json { line: Some(2), .. })) => {}
            other => panic!("{other:?}"),
        }
        assert!(parse_alerts("{\"labels\": {\"a\": \"1\"}, \"startsAt\": \"soon\"}").is_err());
        assert!(parse_alerts("not json").is_err());
        assert!(parse_alerts(r#"{"version": "3", "alerts": []}"#).is_err());
    }
}
