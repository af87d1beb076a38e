-- The loop after a fetch (issue 17): what an ingest leaves for the automatic reconcile, and one identity per
-- bank account whatever source reaches it. No foreign keys (see 0001): the code keeps references consistent.

-- Deposits an ingest landed or booked in reconcile mode, waiting for the incremental reconcile that follows the
-- ingest's commit. Written in the ingest's own transaction, so a crash between the two loses nothing: the next
-- reconcile (automatic or not) takes what is left.
CREATE TABLE reconcile_queue (
    txn_id          BIGINT PRIMARY KEY,
    queued_at       TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- One row per bank account identity: `iban:<IBAN>`, else `acct:<bank>:<number>`, else
-- `ref:<connection>:<connector's id>`. The first account row that showed the identity owns it.
CREATE TABLE account_identities (
    identity        VARCHAR PRIMARY KEY,
    account_id      BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- A connection (or statement source) that reaches an account another connection owns: its lines land on that
-- account instead of doubling it.
CREATE TABLE account_links (
    connection_id   BIGINT NOT NULL,
    external_ref    VARCHAR NOT NULL,
    account_id      BIGINT NOT NULL,
    linked_at       TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (connection_id, external_ref)
);

-- accounts that already carry an IBAN: the oldest one of each IBAN owns it
INSERT INTO account_identities (identity, account_id)
SELECT 'iban:' || upper(replace(iban, ' ', '')), min(account_id) FROM accounts
WHERE iban IS NOT NULL AND trim(iban) <> '' GROUP BY 1;
