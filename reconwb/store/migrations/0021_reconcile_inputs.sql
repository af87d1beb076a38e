-- What the last full reconcile run read, as a fingerprint, per connection filter ('' for all): a run that reads
-- the same inputs again (deposits not yet matched, open amounts, rejected pairs, rates, aliases, rule version,
-- engine version) would decide exactly what the last one did, so it is skipped (reconwb.matching.engine).
CREATE TABLE reconcile_inputs (
    scope        VARCHAR PRIMARY KEY,
    fingerprint  VARCHAR NOT NULL,
    report       JSON,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
