-- Open-banking providers beside Lean (Plaid, GoCardless Bank Account Data) and consent expiry for all of them.

-- When the provider's access to the bank ends unless the user reconnects (PSD2 consent, Plaid's
-- consent_expiration_time, a GoCardless agreement's access_valid_for_days); NULL when it does not expire.
ALTER TABLE connections ADD COLUMN consent_expires_at TIMESTAMPTZ;

-- A connection's link at Plaid (item) or GoCardless (requisition and agreement); connections.external_id is
-- the item or requisition id the fetch uses.
CREATE TABLE openbanking_links (
    connection_id   BIGINT PRIMARY KEY,
    provider        VARCHAR NOT NULL,                 -- plaid | gocardless
    link_id         VARCHAR NOT NULL,                 -- Plaid item_id, GoCardless requisition id
    agreement_id    VARCHAR,                          -- GoCardless end-user agreement
    institution_id  VARCHAR,
    new_accounts_at TIMESTAMPTZ,                      -- Plaid NEW_ACCOUNTS_AVAILABLE, until the user chose
    linked_at       TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    relinked_at     TIMESTAMPTZ
);

-- One row per consent warning given (14 and 7 days before), so each is given once per expiry date.
CREATE TABLE consent_notices (
    connection_id       BIGINT NOT NULL,
    consent_expires_at  TIMESTAMPTZ NOT NULL,
    days_before         INTEGER NOT NULL,
    noticed_at          TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (connection_id, consent_expires_at, days_before)
);
