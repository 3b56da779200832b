-- Migration 2: what the sender needs beyond schema.sql's outbound table.
-- kind:      which output a row carries (sr | sc), so `outbound` can say what it is sending.
-- queued_at: when the row last entered `pending` (enqueue or resend); max_age_hours counts
--            from here, so a resent file gets a fresh allowance.
-- One row per (job, destination, SOP instance): enqueueing the same outputs twice is a no-op.
ALTER TABLE outbound ADD COLUMN kind TEXT NOT NULL DEFAULT 'sr' CHECK (kind IN ('sr', 'sc'));
ALTER TABLE outbound ADD COLUMN queued_at REAL NOT NULL DEFAULT 0;
UPDATE outbound SET queued_at = created_at;
CREATE UNIQUE INDEX outbound_unique_file ON outbound(job_id, destination, sop_uid);
CREATE INDEX outbound_by_destination ON outbound(destination, state, next_try_at);

-- Per-destination operator state. A destination without a row is not paused.
CREATE TABLE destinations (
    name      TEXT PRIMARY KEY,
    paused    INTEGER NOT NULL DEFAULT 0,
    paused_at REAL
);
