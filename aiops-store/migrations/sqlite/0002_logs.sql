-- aiops store, schema 2 (SQLite): log streams, their lines, templates and anomalous windows.
-- Times are ms since the Unix epoch (UTC).
CREATE TABLE log_streams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_key TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    labels TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    state TEXT,
    state_id INTEGER
);
CREATE INDEX log_streams_service ON log_streams (service);

CREATE TABLE log_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id INTEGER NOT NULL,
    t INTEGER NOT NULL,
    line TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    seq INTEGER,
    template_id INTEGER,
    anomalous INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX log_lines_stream ON log_lines (stream_id, id);
CREATE INDEX log_lines_seq ON log_lines (stream_id, seq);
CREATE INDEX log_lines_time ON log_lines (t);

CREATE TABLE log_templates (
    stream_id INTEGER NOT NULL,
    template_id INTEGER NOT NULL,
    service TEXT NOT NULL,
    template TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (stream_id, template_id)
);
CREATE INDEX log_templates_service ON log_templates (service, count);

CREATE TABLE log_anomalies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id INTEGER NOT NULL,
    service TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    window_end INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    anomalous_lines INTEGER NOT NULL,
    score REAL NOT NULL,
    reasons TEXT NOT NULL,
    detected_at INTEGER NOT NULL,
    UNIQUE (stream_id, window_start)
);
CREATE INDEX log_anomalies_time ON log_anomalies (window_start);
CREATE INDEX log_anomalies_service ON log_anomalies (service, window_start);
