-- Matching across currencies and learning from people (issue 18).
--
-- `fx_rates`: one rate per day and pair, `1 base = rate quote` (imported from ECB-style or date,base,quote,rate
-- files). A link between a deposit and an invoice in another currency records the rate it used and the FX
-- difference: `amount` is the deposit converted into the invoice's currency, `amount + fee + fx_difference` what
-- the link settles of the invoice (negative when the rate favoured the business).
-- `payer_aliases`: a counterparty name (its payer key) or IBAN that a person linked to a payer whose name
-- differs (`polarity = 'alias'`, payer evidence in later runs), or a name pair a person turned down
-- (`polarity = 'rejected'`, evidence against). Removing an alias deletes its row; the audit log keeps the story.
CREATE TABLE fx_rates (
    day             DATE NOT NULL,
    base            VARCHAR NOT NULL,
    quote           VARCHAR NOT NULL,
    rate            DECIMAL(18, 8) NOT NULL,
    source          VARCHAR,
    imported_at     TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (day, base, quote)
);

DROP INDEX matches_txn;
DROP INDEX matches_payment;
ALTER TABLE matches ADD COLUMN fx_difference DECIMAL(18, 2) DEFAULT 0;
ALTER TABLE matches ADD COLUMN fx_rate DECIMAL(18, 8);
UPDATE matches SET fx_difference = 0 WHERE fx_difference IS NULL;
CREATE INDEX matches_txn ON matches (txn_id);
CREATE INDEX matches_payment ON matches (payment_id);

CREATE TABLE payer_aliases (
    alias_id        VARCHAR PRIMARY KEY,
    kind            VARCHAR NOT NULL,                 -- name | iban
    counterparty_key VARCHAR NOT NULL,                -- the payer key of the printed name, or the IBAN
    counterparty    VARCHAR NOT NULL,                 -- as the bank printed it
    payer_key       VARCHAR NOT NULL,
    payer           VARCHAR NOT NULL,                 -- as the invoice names the payer
    polarity        VARCHAR NOT NULL,                 -- alias | rejected
    group_id        VARCHAR,                          -- the match a person made or turned down
    created_by      VARCHAR NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    UNIQUE (kind, counterparty_key, payer_key)
);
