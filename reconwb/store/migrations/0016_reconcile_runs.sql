-- A store-mode reconcile run written in chunks (`reconwb.matching.chunks`): the run's groups and links are
-- staged as Parquet in `stage_dir` before the store is opened for writing; each chunk is one short transaction
-- that also moves `rows_done` (links applied, always at the end of a whole cluster of groups). A run with
-- `finished_at` NULL was interrupted: the next reconcile finishes it first. Small: one row per chunked run.
CREATE TABLE reconcile_runs (
    run_id          VARCHAR PRIMARY KEY,
    stage_dir       VARCHAR NOT NULL,
    rows_total      BIGINT NOT NULL,
    rows_done       BIGINT NOT NULL DEFAULT 0,
    rule_version    VARCHAR,
    connection      VARCHAR,
    incremental     BOOLEAN NOT NULL DEFAULT FALSE,   -- after an ingest: older suggestions it makes moot go too
    report          JSON,
    staged_at       TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    finished_at     TIMESTAMPTZ
);
