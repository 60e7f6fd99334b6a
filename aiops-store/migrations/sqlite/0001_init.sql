-- aiops store, schema 1 (SQLite). Times are ms since the Unix epoch (UTC).
CREATE TABLE series (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    series_key TEXT NOT NULL UNIQUE,
    metric TEXT NOT NULL,
    resource TEXT NOT NULL,
    labels TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    detector TEXT,
    state TEXT,
    state_t INTEGER
);
CREATE INDEX series_resource ON series (resource, metric);

CREATE TABLE samples (
    series_id INTEGER NOT NULL,
    t INTEGER NOT NULL,
    v REAL NOT NULL,
    PRIMARY KEY (series_id, t)
) WITHOUT ROWID;

CREATE TABLE anomalies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    series_id INTEGER NOT NULL,
    t INTEGER NOT NULL,
    resource TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    score REAL NOT NULL,
    severity TEXT NOT NULL,
    expected REAL,
    lower_bound REAL,
    upper_bound REAL,
    detector TEXT NOT NULL,
    detected_at INTEGER NOT NULL,
    UNIQUE (series_id, t)
);
CREATE INDEX anomalies_time ON anomalies (t);
CREATE INDEX anomalies_resource ON anomalies (resource, t);

CREATE TABLE alert_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at INTEGER NOT NULL,
    source TEXT NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE alerts (
    fingerprint TEXT PRIMARY KEY,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    status TEXT NOT NULL,
    severity TEXT,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER,
    updated_at INTEGER NOT NULL,
    source TEXT NOT NULL,
    incident_id TEXT,
    acknowledged_by TEXT,
    acknowledged_at INTEGER,
    ack_comment TEXT,
    resolved_by TEXT,
    resolution TEXT,
    generator_url TEXT NOT NULL
);
CREATE INDEX alerts_updated ON alerts (updated_at);
CREATE INDEX alerts_incident ON alerts (incident_id);

CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    resolved_at INTEGER,
    updated_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX incidents_updated ON incidents (updated_at);

CREATE TABLE incident_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, at);

CREATE TABLE alert_rules (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE rca_analyses (
    id TEXT PRIMARY KEY,
    incident_id TEXT,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    source TEXT NOT NULL,
    event_type TEXT NOT NULL,
    resource TEXT,
    body TEXT NOT NULL
);
CREATE INDEX events_time ON events (at);

CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT,
    outcome TEXT NOT NULL,
    request_id TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_time ON audit (at);

CREATE TABLE kv (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
