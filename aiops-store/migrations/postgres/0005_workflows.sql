-- Workflows added through the API (those of the configuration's files are not stored), and
-- the record of every workflow run and remediation execution.
CREATE TABLE workflows (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE workflow_runs (
    id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    trigger_type TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    record TEXT NOT NULL
);
CREATE INDEX workflow_runs_workflow ON workflow_runs (workflow, started_at);
