-- Samples acknowledged in one append, waiting to be moved into `samples` (compaction).
-- `data` holds `n` records of 24 bytes, little-endian: series id (i64), time ms (i64),
-- value (f64), sorted by series then time. An append writes a few sequential pages instead of
-- one page of the `samples` B-tree per series; reads see both tables.
CREATE TABLE sample_blocks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    t_min INTEGER NOT NULL,
    t_max INTEGER NOT NULL,
    n INTEGER NOT NULL,
    data BLOB NOT NULL
);
