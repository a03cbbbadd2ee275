-- An undo gives the records an import updated their values from before;
-- the CRM's own trigger then stamps them updated now. To tell a record
-- someone edited from one whose only change was an import since undone,
-- undo looks up the restore by record: this index finds it.
CREATE INDEX IF NOT EXISTS import_matches_restored_idx
    ON import_matches (record_id, restored_at) WHERE restored_at IS NOT NULL;
