-- The saved mapping an import was made with (SPEC.md, "Saved mappings"):
-- its header row, column targets and value replacements, as the JSON file.
ALTER TABLE import_batches
    ADD COLUMN IF NOT EXISTS mapping JSONB;
