-- aiops store, schema 1 (PostgreSQL). Times are ms since the Unix epoch (UTC).
CREATE TABLE series (
    id BIGSERIAL PRIMARY KEY,
    series_key TEXT NOT NULL UNIQUE,
    metric TEXT NOT NULL,
    resource TEXT NOT NULL,
    labels TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    detector TEXT,
    state TEXT,
    state_t BIGINT
);
CREATE INDEX series_resource ON series (resource, metric);

CREATE TABLE samples (
    series_id BIGINT NOT NULL,
    t BIGINT NOT NULL,
    v DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (series_id, t)
);

CREATE TABLE anomalies (
    id BIGSERIAL PRIMARY KEY,
    series_id BIGINT NOT NULL,
    t BIGINT NOT NULL,
    resource TEXT NOT NULL,
    metric TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    severity TEXT NOT NULL,
    expected DOUBLE PRECISION,
    lower_bound DOUBLE PRECISION,
    upper_bound DOUBLE PRECISION,
    detector TEXT NOT NULL,
    detected_at BIGINT NOT NULL,
    UNIQUE (series_id, t)
);
CREATE INDEX anomalies_time ON anomalies (t);
CREATE INDEX anomalies_resource ON anomalies (resource, t);

CREATE TABLE alert_log (
    seq BIGSERIAL PRIMARY KEY,
    received_at BIGINT NOT NULL,
    source TEXT NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE alerts (
    fingerprint TEXT PRIMARY KEY,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    status TEXT NOT NULL,
    severity TEXT,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT,
    updated_at BIGINT NOT NULL,
    source TEXT NOT NULL,
    incident_id TEXT,
    acknowledged_by TEXT,
    acknowledged_at BIGINT,
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
    started_at BIGINT NOT NULL,
    resolved_at BIGINT,
    updated_at BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX incidents_updated ON incidents (updated_at);

CREATE TABLE incident_events (
    id BIGSERIAL PRIMARY KEY,
    incident_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, at);

CREATE TABLE alert_rules (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE rca_analyses (
    id TEXT PRIMARY KEY,
    incident_id TEXT,
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
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
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
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
    updated_at BIGINT NOT NULL
);
