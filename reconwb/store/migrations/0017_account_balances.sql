-- Balances a source stated for an account (a statement's opening and closing balance), kept so the reconciliation
-- dashboard can prove what reconwb holds against what the bank says ("balance proof"). One row per statement
-- read; the same statement imported again adds a row with the same figures, which changes nothing shown.
CREATE TABLE account_balances (
    account_id      BIGINT NOT NULL,
    currency        VARCHAR,
    opening         DECIMAL(18, 3),                  -- NULL when the source stated only a closing balance
    period_from     DATE,                            -- the statement's first booking day (or its opening day)
    closing         DECIMAL(18, 3) NOT NULL,
    closing_on      DATE NOT NULL,
    source          VARCHAR NOT NULL,                -- the file it came from
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
