-- reconwb store, version 1. Money is DECIMAL(18,2); ids that leave the store are text.
-- DuckDB enforces PRIMARY KEY/UNIQUE; foreign keys are left out on purpose (they forbid updating a referenced
-- row in DuckDB), and the code keeps references consistent inside transactions.

CREATE TABLE settings (
    key         VARCHAR PRIMARY KEY,
    value       VARCHAR NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- Encrypted blobs, one per owner ("credentials/12", "session/12", "webhook-endpoint/ep_x/token"). The owner is
-- the AES-GCM associated data, so a blob moved to another owner does not decrypt.
CREATE TABLE secrets (
    owner       VARCHAR PRIMARY KEY,
    key_id      VARCHAR NOT NULL,
    ciphertext  BLOB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE TABLE banks (
    bank_id     VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    connector   VARCHAR NOT NULL,
    country     VARCHAR,
    source      VARCHAR NOT NULL DEFAULT 'builtin',   -- builtin | aggregator | manual
    created_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- Availability as the aggregator docs define it: `active` is the platform's switch, `enabled` the client's.
CREATE TABLE bank_availability (
    bank_id     VARCHAR NOT NULL,
    product     VARCHAR NOT NULL,                     -- data | payments
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (bank_id, product)
);

CREATE SEQUENCE connection_id_seq START 1;
CREATE TABLE connections (
    connection_id       BIGINT PRIMARY KEY DEFAULT nextval('connection_id_seq'),
    name                VARCHAR NOT NULL UNIQUE,
    bank_id             VARCHAR NOT NULL,
    connector           VARCHAR NOT NULL,             -- portal connector id, 'aggregator' or 'statement'
    username            VARCHAR,
    portal_url          VARCHAR,
    login_mode          VARCHAR NOT NULL DEFAULT 'simple',     -- simple | assisted
    session_mode        VARCHAR NOT NULL DEFAULT 'one-shot',   -- one-shot | persistent
    external_id         VARCHAR,                      -- the aggregator's entity id
    health              VARCHAR NOT NULL,
    health_reason       VARCHAR,
    health_changed_at   TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    health_before_disable VARCHAR,                    -- restored when a disabled bank comes back
    fatal_failures      INTEGER NOT NULL DEFAULT 0,   -- the lockout budget spent since the last success
    next_attempt_at     TIMESTAMPTZ,                  -- backoff for broken/transient; NULL means due
    refreshing_until    TIMESTAMPTZ,
    credentials_set_at  TIMESTAMPTZ,
    last_attempt_at     TIMESTAMPTZ,
    last_success_at     TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    removed_at          TIMESTAMPTZ
);

CREATE SEQUENCE account_id_seq START 1;
CREATE TABLE accounts (
    account_id      BIGINT PRIMARY KEY DEFAULT nextval('account_id_seq'),
    connection_id   BIGINT NOT NULL,
    external_ref    VARCHAR NOT NULL,                 -- the bank's id for the account (IBAN or number)
    iban            VARCHAR,
    name            VARCHAR,
    currency        VARCHAR,
    selected        BOOLEAN NOT NULL DEFAULT TRUE,    -- the user wants it fetched
    active          BOOLEAN NOT NULL DEFAULT TRUE,    -- false when deselected in an update: kept, not deleted
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    UNIQUE (connection_id, external_ref)
);

-- A persistent portal session's storage state lives in `secrets` ("session/<connection_id>"); this row says
-- when it expires.
CREATE TABLE sessions (
    connection_id   BIGINT PRIMARY KEY,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    expires_at      TIMESTAMPTZ NOT NULL
);

CREATE SEQUENCE sync_run_id_seq START 1;
CREATE TABLE sync_runs (
    run_id          BIGINT PRIMARY KEY DEFAULT nextval('sync_run_id_seq'),
    connection_id   BIGINT NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    finished_at     TIMESTAMPTZ,
    status          VARCHAR NOT NULL DEFAULT 'running', -- running | ok | failed | pending
    outcome         VARCHAR,                          -- failure class name, e.g. InvalidCredentials
    message         VARCHAR,                          -- redacted
    fetched         INTEGER NOT NULL DEFAULT 0,
    inserted        INTEGER NOT NULL DEFAULT 0,
    updated         INTEGER NOT NULL DEFAULT 0,
    diagnostics_path VARCHAR,
    job_run_id      VARCHAR
);

CREATE SEQUENCE txn_id_seq START 1;
CREATE TABLE transactions (
    txn_id              BIGINT PRIMARY KEY DEFAULT nextval('txn_id_seq'),
    account_id          BIGINT NOT NULL,
    dedupe_key          VARCHAR NOT NULL,             -- 'id:' + bank id, or 'fp:' + fingerprint
    bank_txn_id         VARCHAR,
    booked_on           DATE NOT NULL,
    value_date          DATE,
    amount              DECIMAL(18, 2) NOT NULL,      -- positive: money in
    currency            VARCHAR NOT NULL,
    description         VARCHAR,
    reference           VARCHAR,
    counterparty        VARCHAR,
    counterparty_iban   VARCHAR,
    status              VARCHAR NOT NULL DEFAULT 'booked',  -- booked | pending
    source              VARCHAR NOT NULL,             -- portal | aggregator | statement
    source_ref          VARCHAR,                      -- file name, sync run id
    created_at          TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    UNIQUE (account_id, dedupe_key)
);

CREATE TABLE payments (
    payment_id      VARCHAR PRIMARY KEY,
    amount          DECIMAL(18, 2) NOT NULL,
    currency        VARCHAR NOT NULL,
    issued_on       DATE,
    due_on          DATE,
    reference       VARCHAR,
    payer           VARCHAR,
    payer_iban      VARCHAR,
    account_ref     VARCHAR,                          -- the account it should be paid into, when known
    status          VARCHAR NOT NULL DEFAULT 'open',  -- open | partially_paid | paid | cancelled
    source          VARCHAR NOT NULL DEFAULT 'file',  -- file | endpoint | manual
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    cancelled_at    TIMESTAMPTZ
);

-- A match group is one decision: one-to-one, a split (several transactions, one payment) or a batch (one
-- transaction, several payments). `matches` holds its links.
CREATE TABLE match_groups (
    group_id        VARCHAR PRIMARY KEY,
    kind            VARCHAR NOT NULL,                 -- one_to_one | split | batch
    rule            VARCHAR NOT NULL,                 -- the rule's name, or 'manual'
    rule_version    VARCHAR,
    confidence      DOUBLE NOT NULL,
    status          VARCHAR NOT NULL,                 -- matched | suggested | rejected | removed
    pinned          BOOLEAN NOT NULL DEFAULT FALSE,   -- made or confirmed by a person: automatic runs keep it
    evidence        JSON,
    created_by      VARCHAR NOT NULL DEFAULT 'reconwb',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE TABLE matches (
    group_id        VARCHAR NOT NULL,
    txn_id          BIGINT NOT NULL,
    payment_id      VARCHAR NOT NULL,
    amount          DECIMAL(18, 2) NOT NULL,          -- how much of the transaction goes to the payment
    PRIMARY KEY (group_id, txn_id, payment_id)
);

CREATE SEQUENCE audit_id_seq START 1;
CREATE TABLE audit_log (
    audit_id        BIGINT PRIMARY KEY DEFAULT nextval('audit_id_seq'),
    logged_at       TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    actor           VARCHAR NOT NULL,
    action          VARCHAR NOT NULL,
    subject         VARCHAR,
    rule_version    VARCHAR,
    detail          JSON
);

-- Every change of consequence. Rows here are also the webhook outbox: `webhook_deliveries` rows are written in
-- the same transaction as the event.
CREATE TABLE events (
    event_id        VARCHAR PRIMARY KEY,
    type            VARCHAR NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    subject         VARCHAR,
    payload         JSON NOT NULL
);

CREATE TABLE webhook_endpoints (
    endpoint_id     VARCHAR PRIMARY KEY,
    url             VARCHAR NOT NULL,
    auth_scheme     VARCHAR NOT NULL,                 -- bearer | api-key | none
    event_types     VARCHAR[],                        -- NULL: every event
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason VARCHAR,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE TABLE webhook_deliveries (
    message_id      VARCHAR PRIMARY KEY,              -- the `webhook-id` header, stable across retries
    endpoint_id     VARCHAR NOT NULL,
    event_id        VARCHAR NOT NULL,
    status          VARCHAR NOT NULL DEFAULT 'pending', -- pending | delivered | dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    last_status     INTEGER,
    last_error      VARCHAR,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    delivered_at    TIMESTAMPTZ,
    UNIQUE (endpoint_id, event_id)
);

CREATE SEQUENCE user_id_seq START 1;
CREATE TABLE users (
    user_id         BIGINT PRIMARY KEY DEFAULT nextval('user_id_seq'),
    name            VARCHAR NOT NULL UNIQUE,
    email           VARCHAR,
    webhook_url     VARCHAR,
    permissions     VARCHAR[] NOT NULL DEFAULT [],
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
