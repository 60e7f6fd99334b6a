//! The audit log's entry: who did what to which target, when, and how it ended.
//!
//! The store appends [`AuditEvent`]s and never changes them; admins read them at
//! `GET /api/v1/audit`. The kinds follow the seed's audit section (`auth`, `config_change`,
//! `remediation`, `data_access`) plus `mutation` for every other change.
//!
//! JSON shape (absent optional fields are left out):
//! `{"at": 1767225600000, "actor": "u-123", "action": "alert.acknowledge", "kind": "mutation",
//! "target": "alert/4f2a", "before": {...}, "after": {...}, "outcome": "ok",
//! "request_id": "req-1"}`

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::rbac::{Permission, Principal};
use crate::error::ServiceError;

/// The actor of events made by no authenticated caller (a failed authentication).
pub const ANONYMOUS: &str = "anonymous";
/// The actor of events made by the service itself (retention jobs, scheduled forecasts).
pub const SYSTEM: &str = "system";

/// What sort of event it is (the seed's audit event types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// Authentication and authorisation: failures (401), refusals (403), token management.
    Auth,
    /// A change of configuration: alert rules, topology, settings.
    ConfigChange,
    /// A remediation run.
    Remediation,
    /// A read of sensitive data (the audit log itself, exports).
    DataAccess,
    /// Any other change: acknowledging, resolving, silencing...
    Mutation,
}

impl AuditKind {
    /// The serialised name (`auth`, `config_change`, `remediation`, `data_access`,
    /// `mutation`), as the store's `kind` column holds it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Auth => "auth",
            AuditKind::ConfigChange => "config_change",
            AuditKind::Remediation => "remediation",
            AuditKind::DataAccess => "data_access",
            AuditKind::Mutation => "mutation",
        }
    }
}

/// How the action ended. Serialised `ok`, `denied`, `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done (`ok`).
    #[serde(rename = "ok")]
    Success,
    /// Refused: not authenticated or not allowed (`denied`).
    Denied,
    /// Allowed but failed (`failed`).
    #[serde(rename = "failed")]
    Failure,
}

impl Outcome {
    /// The serialised name (`ok`, `denied`, `failed`), as the store's `outcome` column holds
    /// it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "ok",
            Outcome::Denied => "denied",
            Outcome::Failure => "failed",
        }
    }
}

/// One entry of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// When, ms since the epoch.
    pub at: TimestampMs,
    /// Who: the caller's subject, [`ANONYMOUS`] or [`SYSTEM`].
    pub actor: String,
    /// What, as `resource.verb` (`alert.acknowledge`, `rule.update`, `token.create`,
    /// `authenticate`).
    pub action: String,
    /// The sort of event.
    pub kind: AuditKind,
    /// What it was done to (`alert/4f2a`, `rule/high-cpu`, `token/Ab3dE9xz`), when anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The target's state (or id) before the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The target's state (or id) after the change, or details of a refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// How it ended.
    pub outcome: Outcome,
    /// The request id of the HTTP request that caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl AuditEvent {
    /// An event with no target, states or request id (add them with the `with_` methods).
    pub fn new(
        at: TimestampMs,
        actor: impl Into<String>,
        kind: AuditKind,
        action: impl Into<String>,
        outcome: Outcome,
    ) -> Self {
        Self {
            at,
            actor: actor.into(),
            action: action.into(),
            kind,
            target: None,
            before: None,
            after: None,
            outcome,
            request_id: None,
        }
    }

    /// A failed authentication (401) at `at` (ms since the epoch): actor [`ANONYMOUS`], action
    /// `authenticate`, the error's code and message in `after`.
    pub fn auth_failure(at: TimestampMs, error: &ServiceError) -> Self {
        Self::new(
            at,
            ANONYMOUS,
            AuditKind::Auth,
            "authenticate",
            Outcome::Denied,
        )
        .with_after(serde_json::json!({"code": error.code(), "message": error.to_string()}))
    }

    /// A console login at `at` (ms since the epoch): action `session.create` (`ok`), or
    /// `denied` with the error's code when the token was refused (actor [`ANONYMOUS`]).
    pub fn login(at: TimestampMs, result: std::result::Result<&Principal, &ServiceError>) -> Self {
        match result {
            Ok(p) => Self::new(
                at,
                &p.subject,
                AuditKind::Auth,
                "session.create",
                Outcome::Success,
            )
            .with_target(p.name.clone()),
            Err(e) => Self::new(
                at,
                ANONYMOUS,
                AuditKind::Auth,
                "session.create",
                Outcome::Denied,
            )
            .with_after(serde_json::json!({"code": e.code(), "message": e.to_string()})),
        }
    }

    /// A console logout by `principal` at `at` (ms since the epoch): action `session.delete`.
    pub fn logout(at: TimestampMs, principal: &Principal) -> Self {
        Self::new(
            at,
            &principal.subject,
            AuditKind::Auth,
            "session.delete",
            Outcome::Success,
        )
        .with_target(principal.name.clone())
    }

    /// An authenticated caller refused a permission (403) at `at` (ms since the epoch):
    /// action `authorize`, target the permission.
    pub fn forbidden(at: TimestampMs, principal: &Principal, permission: Permission) -> Self {
        Self::new(
            at,
            &principal.subject,
            AuditKind::Auth,
            "authorize",
            Outcome::Denied,
        )
        .with_target(permission.as_str())
    }

    /// A change made by `principal` at `at` (ms since the epoch) to `target`, with its states
    /// before and after (`None` for a creation or a deletion).
    pub fn mutation(
        at: TimestampMs,
        principal: &Principal,
        kind: AuditKind,
        action: impl Into<String>,
        target: impl Into<String>,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Self {
        Self {
            before,
            after,
            ..Self::new(at, &principal.subject, kind, action, Outcome::Success).with_target(target)
        }
    }

    /// A remediation run by `principal` at `at` (ms since the epoch) on `target`, with how it
    /// ended and what it reported.
    pub fn remediation(
        at: TimestampMs,
        principal: &Principal,
        target: impl Into<String>,
        outcome: Outcome,
        report: Option<Value>,
    ) -> Self {
        Self {
            after: report,
            ..Self::new(
                at,
                &principal.subject,
                AuditKind::Remediation,
                "remediation.execute",
                outcome,
            )
            .with_target(target)
        }
    }

    /// `before` and `after` as one JSON object (`{"before": ..., "after": ...}`, absent ones
    /// left out), for a store that keeps them in one `detail` column.
    pub fn detail(&self) -> Value {
        let mut detail = serde_json::Map::new();
        if let Some(b) = &self.before {
            detail.insert("before".to_owned(), b.clone());
        }
        if let Some(a) = &self.after {
            detail.insert("after".to_owned(), a.clone());
        }
        Value::Object(detail)
    }

    /// With a target.
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// With the state before.
    pub fn with_before(mut self, before: Value) -> Self {
        self.before = Some(before);
        self
    }

    /// With the state after.
    pub fn with_after(mut self, after: Value) -> Self {
        self.after = Some(after);
        self
    }

    /// With the request id.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::rbac::{AuthMethod, Role};
    use serde_json::json;

    fn alice() -> Principal {
        Principal {
            subject: "u-123".into(),
            name: "alice@example.test".into(),
            roles: vec![Role::Operator],
            via: AuthMethod::Jwt {
                issuer: "https://sso".into(),
            },
        }
    }

    #[test]
    fn json_shape_round_trips() {
        let e = AuditEvent::mutation(
            1_767_225_600_000,
            &alice(),
            AuditKind::Mutation,
            "alert.acknowledge",
            "alert/4f2a",
            Some(json!({"status": "firing"})),
            Some(json!({"status": "acknowledged"})),
        )
        .with_request_id("req-1");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            json!({
                "at": 1_767_225_600_000_i64, "actor": "u-123", "action": "alert.acknowledge",
                "kind": "mutation", "target": "alert/4f2a",
                "before": {"status": "firing"}, "after": {"status": "acknowledged"},
                "outcome": "ok", "request_id": "req-1"
            })
        );
        assert_eq!(serde_json::from_value::<AuditEvent>(v).unwrap(), e);
    }

    #[test]
    fn constructors() {
        let e = AuditEvent::auth_failure(5, &ServiceError::MissingCredentials);
        assert_eq!(
            (e.actor.as_str(), e.kind, e.outcome),
            (ANONYMOUS, AuditKind::Auth, Outcome::Denied)
        );
        assert_eq!(e.after.as_ref().unwrap()["code"], "unauthenticated");
        let v = serde_json::to_value(&e).unwrap();
        assert!(v.get("target").is_none() && v.get("request_id").is_none());

        let e = AuditEvent::forbidden(6, &alice(), Permission::WriteRules);
        assert_eq!(e.target.as_deref(), Some("write:rules"));
        assert_eq!(e.actor, "u-123");

        let e = AuditEvent::remediation(
            7,
            &alice(),
            "runbook/restart-api",
            Outcome::Failure,
            Some(json!({"exit": 1})),
        );
        assert_eq!(e.kind, AuditKind::Remediation);
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.action, "remediation.execute");

        let e = AuditEvent::new(
            8,
            SYSTEM,
            AuditKind::DataAccess,
            "audit.read",
            Outcome::Success,
        )
        .with_before(json!(1))
        .with_after(json!(2));
        assert_eq!(serde_json::to_value(e.kind).unwrap(), "data_access");
        assert_eq!(
            serde_json::to_value(AuditKind::ConfigChange).unwrap(),
            "config_change"
        );
        assert!(serde_json::from_value::<AuditEvent>(json!({"at": 1})).is_err());
    }

    #[test]
    fn names_match_the_serialised_form() {
        for k in [
            AuditKind::Auth,
            AuditKind::ConfigChange,
            AuditKind::Remediation,
            AuditKind::DataAccess,
            AuditKind::Mutation,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for o in [Outcome::Success, Outcome::Denied, Outcome::Failure] {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        let e = AuditEvent::new(1, SYSTEM, AuditKind::Mutation, "x", Outcome::Success);
        assert_eq!(e.detail(), json!({}));
        assert_eq!(
            e.with_before(json!(1)).with_after(json!(2)).detail(),
            json!({"before": 1, "after": 2})
        );
    }
}
