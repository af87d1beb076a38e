-- Papermill job runs (reconwb.jobs): history, leases, and when each schedule entry last fired.

-- One row per attempt of a job notebook. `parameters` never holds a credential (the runner refuses them);
-- `error` is redacted; `output_path` is the scrubbed output notebook under data/runs/.
CREATE TABLE job_runs (
    run_id          VARCHAR PRIMARY KEY,              -- 'job_<hex>'
    job             VARCHAR NOT NULL,                 -- the notebook's name, e.g. sync, pipeline
    parameters      JSON NOT NULL,
    status          VARCHAR NOT NULL DEFAULT 'running', -- running | succeeded | failed
    attempt         INTEGER NOT NULL DEFAULT 1,
    retry_of        VARCHAR,                          -- the first attempt's run id
    trigger         VARCHAR NOT NULL DEFAULT 'manual', -- manual | schedule:<entry> | executor
    executor        VARCHAR NOT NULL DEFAULT 'local',
    host            VARCHAR,
    started_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    finished_at     TIMESTAMPTZ,
    output_path     VARCHAR,
    error           VARCHAR,                          -- 'ename: evalue', one line, redacted
    error_cell      INTEGER,                          -- index of the cell that raised
    summary         JSON,                             -- the scraps the notebook recorded
    metrics         JSON                              -- kernel start, cell time, overhead (seconds)
);

-- "Nobody else works on this now": one row per leased resource (`connection:<name>`, `job:<name>`).
-- A lease has an expiry so that a killed runner cannot hold a connection forever.
CREATE TABLE job_leases (
    resource        VARCHAR PRIMARY KEY,
    holder          VARCHAR NOT NULL,                 -- the job run id
    acquired_at     TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    expires_at      TIMESTAMPTZ NOT NULL
);

-- The last cron fire time each schedule entry has run for, so `reconwb jobs scheduler` runs a fire once.
CREATE TABLE job_schedule_state (
    entry           VARCHAR PRIMARY KEY,
    last_fire_at    TIMESTAMPTZ NOT NULL,
    last_run_id     VARCHAR,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
