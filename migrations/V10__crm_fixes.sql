-- Fixes to records already in the CRM (SPEC.md, "Data quality in the CRM"):
-- clean-ups and duplicate merges are entries of the import history, so one
-- `undo` takes back an import or a fix alike.

-- What an entry did: an import of a file, or a fix of records in place
-- (`users --link` was recorded as an import until now).
ALTER TABLE import_batches
    ADD COLUMN IF NOT EXISTS kind TEXT NOT NULL DEFAULT 'import'
        CHECK (kind IN ('import', 'link managers', 'clean-up', 'merge'));
UPDATE import_batches SET kind = 'link managers'
    WHERE kind = 'import' AND file_name LIKE 'users --link%';

-- A merge changes records of other entities too (the contacts of the
-- organizations it merges): their entity, when not the entry's own.
ALTER TABLE import_matches ADD COLUMN IF NOT EXISTS record_entity TEXT;

-- 'merged': a record a merge soft-deleted into its survivor; undo gives it
-- back its values, deleted_at included.
ALTER TABLE import_matches DROP CONSTRAINT IF EXISTS import_matches_action_check;
ALTER TABLE import_matches
    ADD CONSTRAINT import_matches_action_check CHECK (action IN ('skipped', 'updated', 'merged'));
