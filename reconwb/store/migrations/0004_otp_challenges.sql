-- Assisted logins: a fetch paused at the bank's second-factor page. The fetch process polls this row; the code a
-- person enters is sealed in `secrets` ("otp/<challenge_id>") and deleted as soon as the fetch has read it.
CREATE SEQUENCE otp_challenge_id_seq START 1;
CREATE TABLE otp_challenges (
    challenge_id    BIGINT PRIMARY KEY DEFAULT nextval('otp_challenge_id_seq'),
    connection_id   BIGINT NOT NULL,
    run_id          BIGINT,                           -- the sync run that waits
    status          VARCHAR NOT NULL DEFAULT 'waiting', -- waiting | answered | used | expired
    prompt          VARCHAR,                          -- what the bank's page says (redacted)
    screenshot      BLOB,                             -- PNG of the bank's page, for the person answering
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    expires_at      TIMESTAMPTZ NOT NULL,
    answered_at     TIMESTAMPTZ,
    closed_at       TIMESTAMPTZ,
    reason          VARCHAR
);
