-- A whole workbook in one run: each of its sheets is one import in
-- import_batches, all tied to one run, so the run can be listed, undone and
-- resumed as one.

CREATE TABLE IF NOT EXISTS import_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_name TEXT NOT NULL,
    -- BLAKE3 of the workbook's bytes, as for import_batches.
    file_fingerprint TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'finished', 'cancelled', 'failed', 'undone')),
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    run_by TEXT NOT NULL DEFAULT current_user
);

CREATE INDEX IF NOT EXISTS import_runs_fingerprint_idx ON import_runs (file_fingerprint);

-- A handful of rows per run: the foreign key costs nothing here (unlike on
-- the imported rows, V2).
ALTER TABLE import_batches
    ADD COLUMN IF NOT EXISTS run_id BIGINT REFERENCES import_runs (id);

CREATE INDEX IF NOT EXISTS import_batches_run_idx ON import_batches (run_id);
