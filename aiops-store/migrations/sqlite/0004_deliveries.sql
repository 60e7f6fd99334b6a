-- Notifications, tickets and annotations to deliver to integrations: one row per incident
-- timeline entry (or operational event) and channel, inserted in the transaction that moves the dispatcher's cursor
-- over the timeline, so none is lost or made twice; retried until delivered or given up.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL,
    incident_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    role TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    result TEXT,
    next_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (incident_id, event_id, channel)
);
CREATE INDEX deliveries_due ON deliveries (status, next_at);
CREATE INDEX deliveries_incident ON deliveries (incident_id, channel, id);
