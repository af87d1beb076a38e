-- The fetch guard (reconwb.attempts): every login attempt is written down before the bank round trip.
-- `credentials_version` counts the credentials a connection has had, so the lockout budget belongs to one
-- version; `running_run_id` is the connection's lease (the one fetch under way); `credentials_rejected` names
-- the failure with which the bank rejected the current version (no login with them happens again).
ALTER TABLE connections ADD COLUMN credentials_version INTEGER DEFAULT 0;
ALTER TABLE connections ADD COLUMN running_run_id BIGINT;
ALTER TABLE connections ADD COLUMN credentials_rejected VARCHAR;
UPDATE connections SET credentials_version = 1 WHERE credentials_set_at IS NOT NULL;
UPDATE connections SET credentials_version = 0 WHERE credentials_version IS NULL;
-- a connection the bank already rejected keeps that verdict across the upgrade
UPDATE connections SET credentials_rejected = 'InvalidCredentials'
WHERE health = 'reconnect_required' AND credentials_set_at IS NOT NULL AND fatal_failures > 0;

-- who holds a running fetch: the process (host, pid and its start time, so a reused pid is not mistaken for
-- it) and until when another host must wait before it may call the attempt abandoned
ALTER TABLE sync_runs ADD COLUMN credentials_version INTEGER;
ALTER TABLE sync_runs ADD COLUMN holder_host VARCHAR;
ALTER TABLE sync_runs ADD COLUMN holder_pid INTEGER;
ALTER TABLE sync_runs ADD COLUMN holder_started DOUBLE;
ALTER TABLE sync_runs ADD COLUMN lease_expires_at TIMESTAMPTZ;
-- runs left `running` by an older version can never be finished: close them as unknown outcomes
UPDATE sync_runs SET status = 'failed', outcome = 'OutcomeUnknown', finished_at = now(),
    message = 'the fetch ended without recording what the bank answered'
WHERE status = 'running';
