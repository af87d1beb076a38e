-- A big statement file written in chunks (`reconwb.statements.importer`): its lines enter `transactions` hidden
-- (status `staged:<booked|pending>:<run id>`, see `transactions.visible`), chunk by chunk, each chunk a short
-- transaction that also moves `rows_done`; one last short transaction makes them booked/pending lines and
-- records the file in `statement_imports`. A run left with `finished_at` NULL by a process that is gone is
-- undone by the next import (its hidden lines deleted in chunks), which then imports the file anew.
CREATE TABLE statement_import_runs (
    run_id          VARCHAR PRIMARY KEY,
    connection_id   BIGINT NOT NULL,
    file_name       VARCHAR NOT NULL,
    sha256          VARCHAR NOT NULL,
    rows_total      BIGINT NOT NULL,
    rows_done       BIGINT NOT NULL DEFAULT 0,
    inserted        BIGINT NOT NULL DEFAULT 0,
    updated         BIGINT NOT NULL DEFAULT 0,
    duplicates      BIGINT NOT NULL DEFAULT 0,
    host            VARCHAR NOT NULL,
    pid             INTEGER NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    finished_at     TIMESTAMPTZ,
    outcome         VARCHAR                           -- imported | undone
);
