-- Matching and expected payments: where an endpoint-pulled payment came from, the endpoints themselves (their
-- tokens are sealed in `secrets` under "payment-source/<url>"), and lookups the engine does on every run.

ALTER TABLE payments ADD COLUMN source_ref VARCHAR;   -- file name, or the endpoint URL it was pulled from

CREATE TABLE payment_sources (
    url             VARCHAR PRIMARY KEY,
    auth_scheme     VARCHAR NOT NULL,                 -- bearer | api-key
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    last_pulled_at  TIMESTAMPTZ
);

CREATE INDEX matches_txn ON matches (txn_id);
CREATE INDEX matches_payment ON matches (payment_id);
