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

-- A big payments file applied in chunks (`reconwb.payments.import_into`), read and validated outside the store
-- first: new payments enter hidden (status `staged:<run id>`, outside `payments.STATUSES`), changes to known
-- unpaid payments wait in `payment_import_changes`; one last short transaction shows the new ones and applies
-- the changes. A run whose process is gone is undone by the next import.
CREATE TABLE payment_import_runs (
    run_id          VARCHAR PRIMARY KEY,
    file_name       VARCHAR NOT NULL,
    rows_total      BIGINT NOT NULL,
    rows_done       BIGINT NOT NULL DEFAULT 0,
    inserted        BIGINT NOT NULL DEFAULT 0,
    updated         BIGINT NOT NULL DEFAULT 0,
    host            VARCHAR NOT NULL,
    pid             INTEGER NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    finished_at     TIMESTAMPTZ,
    outcome         VARCHAR                           -- imported | undone
);
CREATE TABLE payment_import_changes (
    run_id          VARCHAR NOT NULL,
    payment_id      VARCHAR NOT NULL,
    amount          DECIMAL(18, 3) NOT NULL,
    currency        VARCHAR NOT NULL,
    issued_on       DATE,
    due_on          DATE,
    reference       VARCHAR,
    payer           VARCHAR,
    payer_iban      VARCHAR,
    account_ref     VARCHAR,
    source_ref      VARCHAR
);
