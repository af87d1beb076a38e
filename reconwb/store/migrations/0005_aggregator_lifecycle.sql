-- The aggregator's side of a connection (customer, entity), parked asynchronous results, open reconnect
-- requests, and notifications to people. No foreign keys (see 0001): the code keeps references consistent.

-- One aggregator customer per connection: the app_user_id we chose tells an incoming entity.created which
-- connection it belongs to.
CREATE TABLE aggregator_customers (
    connection_id   BIGINT PRIMARY KEY,
    customer_id     VARCHAR NOT NULL UNIQUE,
    app_user_id     VARCHAR NOT NULL UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- Entities as the aggregator reported them (entity.created); connections.external_id points at the current one.
CREATE TABLE aggregator_entities (
    entity_id       VARCHAR PRIMARY KEY,
    connection_id   BIGINT,
    customer_id     VARCHAR,
    bank_identifier VARCHAR,
    permissions     VARCHAR[],
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    reconnected_at  TIMESTAMPTZ
);

-- A ReconnectRequired answer that is not resolved yet: what the reconnect step needs (one per connection).
CREATE TABLE reconnect_requests (
    connection_id   BIGINT PRIMARY KEY,
    reconnect_id    VARCHAR NOT NULL,
    results_id      VARCHAR,
    requested_at    TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    accepted_at     TIMESTAMPTZ                       -- the provider took the reconnect; kept until a fetch lands
);

-- A PENDING answer parks its sync run here until results.ready arrives or a poll finds the results.
CREATE TABLE pending_results (
    results_id      VARCHAR PRIMARY KEY,
    connection_id   BIGINT NOT NULL,
    run_id          BIGINT,
    request         JSON,                             -- what was asked (kind, account, since)
    status          VARCHAR NOT NULL DEFAULT 'pending', -- pending | done | failed | expired
    message         VARCHAR,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    last_polled_at  TIMESTAMPTZ,
    completed_at    TIMESTAMPTZ
);

-- One row per incident, user and channel: the UNIQUE key is what makes an incident notify each user once.
CREATE SEQUENCE notification_id_seq START 1;
CREATE TABLE notifications (
    notification_id BIGINT PRIMARY KEY DEFAULT nextval('notification_id_seq'),
    incident_key    VARCHAR NOT NULL,
    user_id         BIGINT NOT NULL,
    channel         VARCHAR NOT NULL,                 -- email | webhook
    subject         VARCHAR NOT NULL,
    body            VARCHAR NOT NULL,
    detail          JSON,
    status          VARCHAR NOT NULL DEFAULT 'pending', -- pending | sending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      VARCHAR,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    claimed_at      TIMESTAMPTZ,
    sent_at         TIMESTAMPTZ,
    UNIQUE (incident_key, user_id, channel)
);
