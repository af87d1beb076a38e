-- Statement import: the charges a bank took on a line (CAMT `Chrgs`), and one row per imported file so that
-- a user can see what was imported when, with the balance warnings the file raised.
ALTER TABLE transactions ADD COLUMN charges DECIMAL(18, 2);

CREATE SEQUENCE statement_import_id_seq START 1;
CREATE TABLE statement_imports (
    import_id       BIGINT PRIMARY KEY DEFAULT nextval('statement_import_id_seq'),
    connection_id   BIGINT NOT NULL,
    file_name       VARCHAR NOT NULL,
    sha256          VARCHAR NOT NULL,
    format          VARCHAR NOT NULL,                 -- ofx | mt940 | camt | csv
    statements      INTEGER NOT NULL,
    imported        INTEGER NOT NULL,
    duplicates      INTEGER NOT NULL,
    updated         INTEGER NOT NULL,
    warnings        JSON,
    imported_at     TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
