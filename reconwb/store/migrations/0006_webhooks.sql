-- Webhooks: delivery leases, the delivery log, and inbound events.

-- A worker that claims a delivery leases it until `lease_until`; a worker killed mid-send leaves the lease to
-- run out, and the delivery is due again (at-least-once). NULL: nobody holds it.
ALTER TABLE webhook_deliveries ADD COLUMN lease_until TIMESTAMPTZ;

-- Every delivery attempt, for the dashboards and `reconwb webhooks log`.
CREATE SEQUENCE webhook_attempt_id_seq START 1;
CREATE TABLE webhook_attempts (
    attempt_id      BIGINT PRIMARY KEY DEFAULT nextval('webhook_attempt_id_seq'),
    message_id      VARCHAR NOT NULL,
    endpoint_id     VARCHAR NOT NULL,
    attempt         INTEGER NOT NULL,                 -- 1 for the first try (counted again after a replay)
    attempted_at    TIMESTAMPTZ NOT NULL,
    outcome         VARCHAR NOT NULL,                 -- delivered | failed | gone | timeout | error
    http_status     INTEGER,                          -- NULL when no answer came
    latency_ms      DOUBLE NOT NULL,
    response        VARCHAR,                          -- the start of the answer's body, redacted
    error           VARCHAR,                          -- why it failed, redacted
    next_attempt_at TIMESTAMPTZ                       -- when it will be tried again; NULL: delivered or dead
);

-- Webhooks received from outside (e.g. the aggregator), stored raw before any work is done with them.
CREATE TABLE inbound_events (
    source          VARCHAR NOT NULL,                 -- the route's name: /reconwb/webhooks/<source>
    webhook_id      VARCHAR NOT NULL,                 -- the sender's `webhook-id`: the idempotency key
    sent_at         TIMESTAMPTZ NOT NULL,             -- the sender's `webhook-timestamp`
    received_at     TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    event_type      VARCHAR,                          -- the body's `type`, when it has one
    body            VARCHAR NOT NULL,                 -- exactly the bytes that were signed
    status          VARCHAR NOT NULL DEFAULT 'received', -- received | processed | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    processed_at    TIMESTAMPTZ,
    error           VARCHAR,                          -- the handler's last failure, redacted
    PRIMARY KEY (source, webhook_id)
);
