-- Every entity can be imported: contacts, products, opportunities and
-- interactions gain what organizations have (import_notes, the import and the
-- spreadsheet row each record came from), and link lookups by name get
-- indexes so a batch's names resolve in one indexed query.

-- The key names are matched by: case, surrounding and repeated inner spaces
-- ignored. Immutable so it can be indexed; the program normalises the same way.
CREATE OR REPLACE FUNCTION pantry_name_key(name TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT
    AS $$ SELECT lower(btrim(regexp_replace(name, '\s+', ' ', 'g'))) $$;

ALTER TABLE contacts
    ADD COLUMN IF NOT EXISTS import_notes TEXT,
    ADD COLUMN IF NOT EXISTS import_batch_id BIGINT,
    ADD COLUMN IF NOT EXISTS import_source_row INTEGER;
ALTER TABLE products
    ADD COLUMN IF NOT EXISTS import_notes TEXT,
    ADD COLUMN IF NOT EXISTS import_batch_id BIGINT,
    ADD COLUMN IF NOT EXISTS import_source_row INTEGER;
ALTER TABLE opportunities
    ADD COLUMN IF NOT EXISTS import_notes TEXT,
    ADD COLUMN IF NOT EXISTS import_batch_id BIGINT,
    ADD COLUMN IF NOT EXISTS import_source_row INTEGER;
ALTER TABLE interactions
    ADD COLUMN IF NOT EXISTS import_notes TEXT,
    ADD COLUMN IF NOT EXISTS import_batch_id BIGINT,
    ADD COLUMN IF NOT EXISTS import_source_row INTEGER;

-- As for organizations (V2): the database refuses a row stored twice by one import.
CREATE UNIQUE INDEX IF NOT EXISTS contacts_import_row_idx
    ON contacts (import_batch_id, import_source_row);
CREATE UNIQUE INDEX IF NOT EXISTS products_import_row_idx
    ON products (import_batch_id, import_source_row);
CREATE UNIQUE INDEX IF NOT EXISTS opportunities_import_row_idx
    ON opportunities (import_batch_id, import_source_row);
CREATE UNIQUE INDEX IF NOT EXISTS interactions_import_row_idx
    ON interactions (import_batch_id, import_source_row);

-- Links by name: organizations by name, contacts by email or full name,
-- opportunities by name; only live records are ever linked to.
CREATE INDEX IF NOT EXISTS organizations_name_key_idx
    ON organizations (pantry_name_key(name)) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS contacts_email_key_idx
    ON contacts (pantry_name_key(email)) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS contacts_name_key_idx
    ON contacts (pantry_name_key(first_name || ' ' || last_name)) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS opportunities_name_key_idx
    ON opportunities (pantry_name_key(name)) WHERE deleted_at IS NULL;
