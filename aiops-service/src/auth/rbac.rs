//! Roles, permissions and who may do what (the seed's RBAC, `security.yaml`).
//!
//! | role | may |
//! |---|---|
//! | `viewer` | every `read:*` permission (not `read:audit`) |
//! | `operator` | what a viewer may, plus `write:alerts`, `acknowledge:incidents`, `write:incidents`, `write:silences`, `execute:remediation`, `execute:analysis` |
//! | `admin` | everything (`*`), ingest included |
//! | `ingest` | `ingest:write` only: a Prometheus credential writes samples and reads nothing |
//!
//! `read:audit` is deliberately outside `read:*`: the audit log is for admins only. A viewer
//! never gets a permission that changes or computes anything, so a viewer's `POST` can be
//! answered 403 before its body is read.
//!
//! The permission each endpoint of `aiops serve` needs (decided from the method and the path
//! alone, before the body is read; `/api/v1/health` and `/-/ready` need none):
//!
//! | endpoints | permission |
//! |---|---|
//! | `GET /api/v1/alerts...`, `GET /api/v2/alerts`, `GET /api/v2/status`, `/ws/alerts` | `read:alerts` |
//! | `POST /api/v1/alerts/{id}/acknowledge`, `.../resolve` | `write:alerts` |
//! | `GET /api/v1/incidents...` | `read:incidents` |
//! | acknowledging an incident / resolving or commenting it | `acknowledge:incidents` / `write:incidents` |
//! | creating or expiring a silence | `write:silences` |
//! | `GET /api/v1/anomalies...` | `read:anomalies` |
//! | `/ws/metrics/{resource_id}`, the service's own `/metrics`, `GET /api/v1/logs`, `GET /api/v1/logs/templates`, `GET /api/v1/logs/anomalies` | `read:metrics` |
//! | `POST /api/v1/anomalies/detect`, `POST /api/v1/rca/analyze`, `POST /api/v1/capacity/forecast` | `execute:analysis` |
//! | `GET /api/v1/rca/{id}`, `GET /api/v1/capacity/recommendations` | `read:reports` |
//! | `GET /api/v1/alert-rules...` / `POST`, `PUT`, `DELETE` | `read:rules` / `write:rules` |
//! | `GET /api/v1/topology...` / `PUT /api/v1/topology` | `read:topology` / `write:topology` |
//! | `GET /api/v1/knowledge/...` | `read:knowledge` |
//! | running a runbook's remediation, `POST /api/v1/remediation/execute`, `POST /api/v1/workflows/{id}/run` | `execute:remediation` |
//! | `GET /api/v1/workflows` | `read:rules` |
//! | `GET /api/v1/workflows/{id}/runs`, `GET /api/v1/workflow-runs/{run_id}`, `GET /api/v1/remediation/{execution_id}` | `read:reports` |
//! | `POST /api/v1/workflows` (adding a workflow) | `write:config` |
//! | `POST /api/v1/write`, `POST /api/v2/alerts`, `POST /api/v1/alerts/webhook`, `POST /api/v1/ingest/points`, `POST /api/v1/ingest/logs`, `POST /api/v1/events` | `ingest:write` |
//! | token create, list, revoke | `admin:tokens` |
//! | `GET /api/v1/audit` | `read:audit` |
//! | changing the configuration | `write:config` |

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ServiceError;

/// A role held by an API token or mapped from a JWT's groups. Serialised lower-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything but the audit log.
    Viewer,
    /// A viewer who also handles alerts and incidents and runs remediation.
    Operator,
    /// Everything: rules, topology, tokens, configuration, audit, ingest.
    Admin,
    /// Writes telemetry through the ingest endpoints and nothing else.
    Ingest,
}

impl Role {
    /// Every role, in order of the table above.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Admin, Role::Ingest];

    /// The lower-case name (`viewer`, `operator`, `admin`, `ingest`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Ingest => "ingest",
        }
    }

    /// Whether this role grants `permission` (the table in the module doc).
    pub fn allows(self, permission: Permission) -> bool {
        allows(self, permission)
    }

    /// Every permission this role grants, in [`Permission::ALL`] order.
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|&p| allows(self, p))
            .collect()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ServiceError;

    /// Parses a role name, ignoring ASCII case and surrounding spaces.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| ServiceError::UnknownRole {
                given: t.chars().take(64).collect(),
            })
    }
}

/// What a request wants to do, in the seed's `verb:resource` vocabulary. Serialised as that
/// string (`"write:alerts"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// `read:alerts`: list and get alerts.
    ReadAlerts,
    /// `read:incidents`: list and get incidents.
    ReadIncidents,
    /// `read:anomalies`: list and get stored anomalies.
    ReadAnomalies,
    /// `read:metrics`: series, samples, the metrics WebSocket, log lines, templates and log
    /// anomalies.
    ReadMetrics,
    /// `read:topology`: the topology and its dependencies.
    ReadTopology,
    /// `read:rules`: alert rules.
    ReadRules,
    /// `read:knowledge`: runbooks and knowledge search.
    ReadKnowledge,
    /// `read:dashboards`: dashboards (seed vocabulary).
    ReadDashboards,
    /// `read:reports`: RCA results, capacity forecasts and recommendations.
    ReadReports,
    /// `read:audit`: the audit log (admins only; not part of `read:*`).
    ReadAudit,
    /// `write:alerts`: acknowledge and resolve alerts.
    WriteAlerts,
    /// `acknowledge:incidents`: acknowledge incidents.
    AcknowledgeIncidents,
    /// `write:incidents`: resolve and comment incidents.
    WriteIncidents,
    /// `write:silences`: create and expire silences.
    WriteSilences,
    /// `execute:remediation`: run a runbook's remediation.
    ExecuteRemediation,
    /// `execute:analysis`: on-demand computation (detect on posted points, RCA, forecasts).
    ExecuteAnalysis,
    /// `write:rules`: create, change and delete alert rules.
    WriteRules,
    /// `write:topology`: replace the topology.
    WriteTopology,
    /// `write:config`: change the service's configuration.
    WriteConfig,
    /// `admin:tokens`: create, list and revoke API tokens.
    AdminTokens,
    /// `ingest:write`: remote_write, Alertmanager-compatible alert ingest, JSON points, logs
    /// and events.
    IngestWrite,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 21] = [
        Permission::ReadAlerts,
        Permission::ReadIncidents,
        Permission::ReadAnomalies,
        Permission::ReadMetrics,
        Permission::ReadTopology,
        Permission::ReadRules,
        Permission::ReadKnowledge,
        Permission::ReadDashboards,
        Permission::ReadReports,
        Permission::ReadAudit,
        Permission::WriteAlerts,
        Permission::AcknowledgeIncidents,
        Permission::WriteIncidents,
        Permission::WriteSilences,
        Permission::ExecuteRemediation,
        Permission::ExecuteAnalysis,
        Permission::WriteRules,
        Permission::WriteTopology,
        Permission::WriteConfig,
        Permission::AdminTokens,
        Permission::IngestWrite,
    ];

    /// The `verb:resource` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ReadAlerts => "read:alerts",
            Permission::ReadIncidents => "read:incidents",
            Permission::ReadAnomalies => "read:anomalies",
            Permission::ReadMetrics => "read:metrics",
            Permission::ReadTopology => "read:topology",
            Permission::ReadRules => "read:rules",
            Permission::ReadKnowledge => "read:knowledge",
            Permission::ReadDashboards => "read:dashboards",
            Permission::ReadReports => "read:reports",
            Permission::ReadAudit => "read:audit",
            Permission::WriteAlerts => "write:alerts",
            Permission::AcknowledgeIncidents => "acknowledge:incidents",
            Permission::WriteIncidents => "write:incidents",
            Permission::WriteSilences => "write:silences",
            Permission::ExecuteRemediation => "execute:remediation",
            Permission::ExecuteAnalysis => "execute:analysis",
            Permission::WriteRules => "write:rules",
            Permission::WriteTopology => "write:topology",
            Permission::WriteConfig => "write:config",
            Permission::AdminTokens => "admin:tokens",
            Permission::IngestWrite => "ingest:write",
        }
    }

    /// Whether this permission is in the `read:*` scope that viewers hold (every `read:`
    /// permission except `read:audit`).
    pub fn is_general_read(self) -> bool {
        matches!(
            self,
            Permission::ReadAlerts
                | Permission::ReadIncidents
                | Permission::ReadAnomalies
                | Permission::ReadMetrics
                | Permission::ReadTopology
                | Permission::ReadRules
                | Permission::ReadKnowledge
                | Permission::ReadDashboards
                | Permission::ReadReports
        )
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = ServiceError;

    /// Parses a `verb:resource` name (exact, lower-case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ServiceError::UnknownPermission {
                given: s.chars().take(64).collect(),
            })
    }
}

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether `role` grants `permission`: the RBAC matrix of the module doc.
pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission as P;
    match role {
        Role::Admin => true,
        Role::Ingest => permission == P::IngestWrite,
        Role::Viewer => permission.is_general_read(),
        Role::Operator => {
            permission.is_general_read()
                || matches!(
                    permission,
                    P::WriteAlerts
                        | P::AcknowledgeIncidents
                        | P::WriteIncidents
                        | P::WriteSilences
                        | P::ExecuteRemediation
                        | P::ExecuteAnalysis
                )
        }
    }
}

/// How a [`Principal`] authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuthMethod {
    /// An API token made by `aiops token create`.
    ApiToken {
        /// The token's non-secret id (the one `aiops token list` shows).
        token_id: String,
    },
    /// An OIDC JWT.
    Jwt {
        /// The token's issuer (`iss`).
        issuer: String,
    },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Stable identifier: the JWT's `sub`, or `token:<id>` for an API token.
    pub subject: String,
    /// Display name: the JWT's name claim (e.g. email), or the API token's name.
    pub name: String,
    /// The roles held, sorted and without duplicates; never empty.
    pub roles: Vec<Role>,
    /// How the caller authenticated.
    pub via: AuthMethod,
}

impl Principal {
    /// Whether any of the caller's roles grants `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        self.roles.iter().any(|&r| allows(r, permission))
    }

    /// `Ok(())` when the caller [`can`](Self::can) do it, else [`ServiceError::Forbidden`].
    pub fn require(&self, permission: Permission) -> Result<(), ServiceError> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden {
                subject: self.subject.clone(),
                permission,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole matrix, one row per permission: (viewer, operator, admin, ingest).
    const MATRIX: [(Permission, [bool; 4]); 21] = {
        use Permission as P;
        const R: [bool; 4] = [true, true, true, false]; // any reader
        const O: [bool; 4] = [false, true, true, false]; // operator and admin
        const A: [bool; 4] = [false, false, true, false]; // admin only
        [
            (P::ReadAlerts, R),
            (P::ReadIncidents, R),
            (P::ReadAnomalies, R),
            (P::ReadMetrics, R),
            (P::ReadTopology, R),
            (P::ReadRules, R),
            (P::ReadKnowledge, R),
            (P::ReadDashboards, R),
            (P::ReadReports, R),
            (P::ReadAudit, A),
            (P::WriteAlerts, O),
            (P::AcknowledgeIncidents, O),
            (P::WriteIncidents, O),
            (P::WriteSilences, O),
            (P::ExecuteRemediation, O),
            (P::ExecuteAnalysis, O),
            (P::WriteRules, A),
            (P::WriteTopology, A),
            (P::WriteConfig, A),
            (P::AdminTokens, A),
            (P::IngestWrite, [false, false, true, true]),
        ]
    };

    #[test]
    fn the_matrix_is_pinned() {
        assert_eq!(
            MATRIX.map(|(p, _)| p),
            Permission::ALL,
            "one row per permission"
        );
        for (permission, expected) in MATRIX {
            for (role, want) in Role::ALL.into_iter().zip(expected) {
                assert_eq!(allows(role, permission), want, "{role} / {permission}");
                assert_eq!(role.allows(permission), want);
            }
        }
    }

    #[test]
    fn ingest_reads_nothing_and_viewer_writes_nothing() {
        assert_eq!(Role::Ingest.permissions(), vec![Permission::IngestWrite]);
        assert!(
            Role::Viewer
                .permissions()
                .iter()
                .all(|p| p.as_str().starts_with("read:"))
        );
        assert_eq!(Role::Admin.permissions(), Permission::ALL.to_vec());
    }

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
        }
        assert_eq!(" Admin ".parse::<Role>().unwrap(), Role::Admin);
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>().unwrap(), p);
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Permission>(&json).unwrap(), p);
        }
    }

    #[test]
    fn unknown_names_are_clear_errors() {
        let e = "superuser".parse::<Role>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown role 'superuser' (expected one of viewer, operator, admin, ingest)"
        );
        assert_eq!(e.status(), 400);
        assert!(serde_json::from_str::<Role>("\"root\"").is_err());
        assert!("read:*".parse::<Permission>().is_err());
        assert!(serde_json::from_str::<Permission>("\"write:everything\"").is_err());
    }

    #[test]
    fn principal_with_several_roles() {
        let p = Principal {
            subject: "token:abc".into(),
            name: "prometheus".into(),
            roles: vec![Role::Viewer, Role::Ingest],
            via: AuthMethod::ApiToken {
                token_id: "abc".into(),
            },
        };
        assert!(p.can(Permission::ReadAlerts));
        assert!(p.can(Permission::IngestWrite));
        assert!(!p.can(Permission::WriteAlerts));
        let e = p.require(Permission::WriteAlerts).unwrap_err();
        assert_eq!(e.status(), 403);
        assert_eq!(e.code(), "forbidden");
        assert!(p.require(Permission::ReadMetrics).is_ok());
    }
}
