-- aiops store, schema 2 (PostgreSQL): log streams, their lines, templates and anomalous windows.
-- Times are ms since the Unix epoch (UTC).
CREATE TABLE log_streams (
    id BIGSERIAL PRIMARY KEY,
    stream_key TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    labels TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    state TEXT,
    state_id BIGINT
);
CREATE INDEX log_streams_service ON log_streams (service);

CREATE TABLE log_lines (
    id BIGSERIAL PRIMARY KEY,
    stream_id BIGINT NOT NULL,
    t BIGINT NOT NULL,
    line TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    seq BIGINT,
    template_id BIGINT,
    anomalous BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX log_lines_stream ON log_lines (stream_id, id);
CREATE INDEX log_lines_seq ON log_lines (stream_id, seq);
CREATE INDEX log_lines_time ON log_lines (t);

CREATE TABLE log_templates (
    stream_id BIGINT NOT NULL,
    template_id BIGINT NOT NULL,
    service TEXT NOT NULL,
    template TEXT NOT NULL,
    count BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (stream_id, template_id)
);
CREATE INDEX log_templates_service ON log_templates (service, count);

CREATE TABLE log_anomalies (
    id BIGSERIAL PRIMARY KEY,
    stream_id BIGINT NOT NULL,
    service TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    lines BIGINT NOT NULL,
    anomalous_lines BIGINT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    reasons TEXT NOT NULL,
    detected_at BIGINT NOT NULL,
    UNIQUE (stream_id, window_start)
);
CREATE INDEX log_anomalies_time ON log_anomalies (window_start);
CREATE INDEX log_anomalies_service ON log_anomalies (service, window_start);
