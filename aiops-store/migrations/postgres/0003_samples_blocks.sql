-- Samples acknowledged in one append, waiting to be moved into `samples` (compaction).
-- `data` holds `n` records of 24 bytes, little-endian: series id (i64), time ms (i64),
-- value (f64), sorted by series then time. Reads see both tables.
CREATE TABLE sample_blocks (
    id BIGSERIAL PRIMARY KEY,
    t_min BIGINT NOT NULL,
    t_max BIGINT NOT NULL,
    n BIGINT NOT NULL,
    data BYTEA NOT NULL
);
