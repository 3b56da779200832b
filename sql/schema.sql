-- OsteoScout schema, migration version 1. Applied by lib/store inside one transaction;
-- later changes go in sql/NNNN_description.sql, never by editing this file once released.
-- Times are Unix seconds as REAL. The table schema_version is created by lib/store itself.

-- One row per series; its state drives the pipeline:
-- receiving -> complete (quiet for N s) -> selected | ignored; a new instance re-opens it.
CREATE TABLE series (
    series_uid      TEXT PRIMARY KEY,
    study_uid       TEXT NOT NULL,
    modality        TEXT,
    description     TEXT,
    series_number   INTEGER,
    kernel          TEXT,
    slice_thickness REAL,                 -- of the first instance; selection uses the median
    n_instances     INTEGER NOT NULL DEFAULT 0,
    first_at        REAL NOT NULL,
    last_at         REAL NOT NULL,
    completed_at    REAL,
    state           TEXT NOT NULL DEFAULT 'receiving'
                    CHECK (state IN ('receiving', 'complete', 'selected', 'ignored')),
    ignore_reason   TEXT
);
CREATE INDEX series_by_state_last_at ON series(state, last_at);
CREATE INDEX series_by_study ON series(study_uid);
CREATE INDEX series_by_last_at ON series(last_at);

-- One row per stored SOP instance (the file lives under spool/). Geometry is kept per
-- instance because selection needs the z range and the orientations of the whole series.
CREATE TABLE instances (
    sop_uid         TEXT PRIMARY KEY,
    sop_class_uid   TEXT,
    series_uid      TEXT NOT NULL REFERENCES series(series_uid),
    study_uid       TEXT NOT NULL,
    path            TEXT NOT NULL,
    bytes           INTEGER NOT NULL DEFAULT 0,
    transfer_syntax TEXT,
    calling_ae      TEXT,
    instance_number INTEGER,
    row_x REAL, row_y REAL, row_z REAL,   -- ImageOrientationPatient, NULL when absent
    col_x REAL, col_y REAL, col_z REAL,
    pos_x REAL, pos_y REAL, pos_z REAL,   -- ImagePositionPatient, NULL when absent
    last_x REAL, last_y REAL, last_z REAL,-- last frame's position of a multi-frame object, else NULL
    slice_thickness REAL,
    image_type      TEXT,
    rows            INTEGER,
    cols            INTEGER,
    frames          INTEGER,
    received_at     REAL NOT NULL
);
CREATE INDEX instances_by_series ON instances(series_uid, path);
CREATE INDEX instances_by_path ON instances(path);

-- The work queue. A running job holds a lease (owner, until); an expired lease means the
-- worker died and the job may be taken again.
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    study_uid   TEXT NOT NULL,
    series_uid  TEXT NOT NULL REFERENCES series(series_uid),
    state       TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,                      -- kept after the run: who ran it last
    lease_until REAL,
    not_before  REAL NOT NULL DEFAULT 0,
    error       TEXT,                      -- last error, or why it was cancelled
    error_at    REAL,                      -- when a failure was last recorded (status view)
    created_at  REAL NOT NULL,
    started_at  REAL,
    finished_at REAL
);
CREATE INDEX jobs_by_state_not_before ON jobs(state, not_before, id);
CREATE INDEX jobs_by_series ON jobs(series_uid, state);
CREATE INDEX jobs_by_study ON jobs(study_uid, state);
CREATE INDEX jobs_by_error_at ON jobs(error_at) WHERE error_at IS NOT NULL;

-- A job's outputs: the measurements and each model's output, one JSON document per kind.
CREATE TABLE results (
    job_id     INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    json       TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (job_id, kind)
);

-- What goes back to PACS: one row per file per destination, retried with backoff.
CREATE TABLE outbound (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    destination TEXT NOT NULL,
    path        TEXT NOT NULL,
    sop_uid     TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try_at REAL NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error  TEXT,
    created_at  REAL NOT NULL,
    sent_at     REAL
);
CREATE INDEX outbound_by_state_next_try ON outbound(state, next_try_at);
CREATE INDEX outbound_by_job ON outbound(job_id);

-- Audit trail. No patient names here, ever: `what` is written by code, not copied from DICOM.
CREATE TABLE events (
    id     INTEGER PRIMARY KEY,
    at     REAL NOT NULL,
    level  TEXT NOT NULL,
    what   TEXT NOT NULL,
    job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL
);
CREATE INDEX events_by_job ON events(job_id) WHERE job_id IS NOT NULL;
