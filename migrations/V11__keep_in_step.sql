-- Keeping a spreadsheet and the CRM in step (SPEC.md, "Keeping a
-- spreadsheet and the CRM in step"): a sync is one run of the history
-- (import_runs, kind 'sync'), each pass of it the imports that pass made
-- (import_batches.sync_pass), so `undo --run` takes back the whole sync and
-- `undo --run R --pass P` one pass.

ALTER TABLE import_runs
    ADD COLUMN IF NOT EXISTS kind TEXT NOT NULL DEFAULT 'workbook'
        CHECK (kind IN ('workbook', 'sync')),
    -- The file a sync keeps in step, as given (absolute): watching it again
    -- goes on with the same sync.
    ADD COLUMN IF NOT EXISTS file_path TEXT;

CREATE INDEX IF NOT EXISTS import_runs_sync_idx ON import_runs (file_path) WHERE kind = 'sync';

ALTER TABLE import_batches ADD COLUMN IF NOT EXISTS sync_pass INTEGER;

-- 'removal': the records a pass soft-deleted because their rows left the
-- file (`watch --remove-missing`); undo gives them back.
ALTER TABLE import_batches DROP CONSTRAINT IF EXISTS import_batches_kind_check;
ALTER TABLE import_batches
    ADD CONSTRAINT import_batches_kind_check
        CHECK (kind IN ('import', 'link managers', 'clean-up', 'merge', 'removal'));

ALTER TABLE import_matches DROP CONSTRAINT IF EXISTS import_matches_action_check;
ALTER TABLE import_matches
    ADD CONSTRAINT import_matches_action_check
        CHECK (action IN ('skipped', 'updated', 'merged', 'removed'));

-- Each pass: when, and what it came to (its conflicts and gone rows as the
-- JSON the command line prints), so the window lists a sync's passes.
CREATE TABLE IF NOT EXISTS sync_passes (
    run_id BIGINT NOT NULL REFERENCES import_runs (id),
    pass INTEGER NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    summary JSONB,
    PRIMARY KEY (run_id, pass)
);

-- What the sync knows of each row of the file: the row by its match key
-- (the identity the import matches records by), a fingerprint of its
-- mapped cells when last in step, one hash per field of the file's value
-- and of the CRM's, the record it is and the record's updated_at then. A
-- row whose fingerprint is unchanged costs no write; a record whose
-- updated_at moved on was changed in the CRM since.
CREATE TABLE IF NOT EXISTS sync_rows (
    run_id BIGINT NOT NULL REFERENCES import_runs (id),
    sheet TEXT NOT NULL,
    row_key TEXT NOT NULL,
    entity TEXT NOT NULL,
    fingerprint BYTEA NOT NULL,
    file_hashes BYTEA NOT NULL,
    crm_hashes BYTEA NOT NULL,
    record_id UUID NOT NULL,
    stamp TIMESTAMPTZ,
    -- The pass that last found it missing from the file (NULL: present).
    gone_since INTEGER,
    PRIMARY KEY (run_id, sheet, row_key)
);
