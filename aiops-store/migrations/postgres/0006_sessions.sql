-- Console sessions: the SHA-256 of the session id (never the id itself), who opened it (the
-- principal as JSON), the API token it came from (revoking that token ends the session) and
-- until when it is valid.
CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    token_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_token ON sessions (token_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
