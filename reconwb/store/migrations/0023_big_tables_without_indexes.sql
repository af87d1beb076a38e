-- The big append-only tables keep their keys unique without an index. DuckDB's indexes (ART) are slow to
-- append to and are written out whole at every checkpoint: with a million deposits, matches and events, each
-- short chunk of a long write (issue 16) paid seconds of index work, growing with the tables, in its commit or
-- its close. Their keys stay unique by construction or by code, on every path that writes them:
-- * transactions: txn_id from its sequence; (account_id, dedupe_key) by `transactions.ingest`, the only writer,
--   which inserts only keys the table does not hold, under a lock of this process held to its transaction's
--   end (processes are kept apart by the file lock: one writes at a time);
-- * events (event_id), match_groups (group_id): random ids made by `events.new_id`;
-- * matches (group_id, txn_id, payment_id): `matching.records.insert_groups` refuses a repeated link, and every
--   group it writes is new;
-- * audit_log: audit_id from its sequence.
-- Each table is copied whole in its order (every column, whatever earlier migrations added), then its defaults
-- and NOT NULLs are set again. A one-time rewrite: ~1 s of hold at 1M unreconciled deposits, a few at 1M matched.

CREATE TABLE transactions_0023 AS SELECT * FROM transactions;
DROP TABLE transactions;
ALTER TABLE transactions_0023 RENAME TO transactions;
ALTER TABLE transactions ALTER COLUMN txn_id SET DEFAULT nextval('txn_id_seq');
ALTER TABLE transactions ALTER COLUMN txn_id SET NOT NULL;
ALTER TABLE transactions ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE transactions ALTER COLUMN dedupe_key SET NOT NULL;
ALTER TABLE transactions ALTER COLUMN booked_on SET NOT NULL;
ALTER TABLE transactions ALTER COLUMN amount SET NOT NULL;
ALTER TABLE transactions ALTER COLUMN currency SET NOT NULL;
ALTER TABLE transactions ALTER COLUMN status SET DEFAULT 'booked';
ALTER TABLE transactions ALTER COLUMN status SET NOT NULL;
ALTER TABLE transactions ALTER COLUMN "source" SET NOT NULL;
ALTER TABLE transactions ALTER COLUMN created_at SET DEFAULT current_timestamp;
ALTER TABLE transactions ALTER COLUMN created_at SET NOT NULL;
ALTER TABLE transactions ALTER COLUMN updated_at SET DEFAULT current_timestamp;
ALTER TABLE transactions ALTER COLUMN updated_at SET NOT NULL;

CREATE TABLE events_0023 AS SELECT * FROM events;
DROP TABLE events;
ALTER TABLE events_0023 RENAME TO events;
ALTER TABLE events ALTER COLUMN event_id SET NOT NULL;
ALTER TABLE events ALTER COLUMN "type" SET NOT NULL;
ALTER TABLE events ALTER COLUMN occurred_at SET DEFAULT current_timestamp;
ALTER TABLE events ALTER COLUMN occurred_at SET NOT NULL;
ALTER TABLE events ALTER COLUMN payload SET NOT NULL;

CREATE TABLE match_groups_0023 AS SELECT * FROM match_groups;
DROP TABLE match_groups;
ALTER TABLE match_groups_0023 RENAME TO match_groups;
ALTER TABLE match_groups ALTER COLUMN group_id SET NOT NULL;
ALTER TABLE match_groups ALTER COLUMN kind SET NOT NULL;
ALTER TABLE match_groups ALTER COLUMN "rule" SET NOT NULL;
ALTER TABLE match_groups ALTER COLUMN confidence SET NOT NULL;
ALTER TABLE match_groups ALTER COLUMN status SET NOT NULL;
ALTER TABLE match_groups ALTER COLUMN pinned SET DEFAULT false;
ALTER TABLE match_groups ALTER COLUMN pinned SET NOT NULL;
ALTER TABLE match_groups ALTER COLUMN created_by SET DEFAULT 'reconwb';
ALTER TABLE match_groups ALTER COLUMN created_by SET NOT NULL;
ALTER TABLE match_groups ALTER COLUMN created_at SET DEFAULT current_timestamp;
ALTER TABLE match_groups ALTER COLUMN created_at SET NOT NULL;
ALTER TABLE match_groups ALTER COLUMN updated_at SET DEFAULT current_timestamp;
ALTER TABLE match_groups ALTER COLUMN updated_at SET NOT NULL;

CREATE TABLE matches_0023 AS SELECT * FROM matches;
DROP TABLE matches;
ALTER TABLE matches_0023 RENAME TO matches;
ALTER TABLE matches ALTER COLUMN group_id SET NOT NULL;
ALTER TABLE matches ALTER COLUMN txn_id SET NOT NULL;
ALTER TABLE matches ALTER COLUMN payment_id SET NOT NULL;
ALTER TABLE matches ALTER COLUMN amount SET NOT NULL;
ALTER TABLE matches ALTER COLUMN fee SET DEFAULT 0;
ALTER TABLE matches ALTER COLUMN fx_difference SET DEFAULT 0;

CREATE TABLE audit_log_0023 AS SELECT * FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_0023 RENAME TO audit_log;
ALTER TABLE audit_log ALTER COLUMN audit_id SET DEFAULT nextval('audit_id_seq');
ALTER TABLE audit_log ALTER COLUMN audit_id SET NOT NULL;
ALTER TABLE audit_log ALTER COLUMN logged_at SET DEFAULT current_timestamp;
ALTER TABLE audit_log ALTER COLUMN logged_at SET NOT NULL;
ALTER TABLE audit_log ALTER COLUMN actor SET NOT NULL;
ALTER TABLE audit_log ALTER COLUMN "action" SET NOT NULL;

-- One row per table whose key is kept by code: its writer updates the row in the transaction that checks and
-- writes the key, so two transactions of one process that overlap (the later one reading a snapshot without
-- the other's rows) conflict instead of both inserting it; the later one is tried again.
CREATE TABLE key_guards (
    name            VARCHAR PRIMARY KEY,
    writes          BIGINT NOT NULL DEFAULT 0
);
INSERT INTO key_guards (name) VALUES ('transactions');
