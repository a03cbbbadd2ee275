-- Duplicates against the CRM (SPEC.md, "Duplicates against the CRM"): rows
-- are matched to live records by each entity's key, and an import that
-- updates records keeps their values from before, so undo can put them back.

-- The key records are matched by: case, accents, spaces and punctuation
-- ignored ("Joe's  Rusty-Spoon" is "joesrustyspoon", "Café Olé" is
-- "cafeole"). The accents are the Latin letters brokers' names carry, by
-- translate() rather than the unaccent extension, which not every server
-- has. Immutable so it can be indexed.
CREATE OR REPLACE FUNCTION pantry_match_key(value TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT
    AS $$ SELECT regexp_replace(translate(lower(value),
        'àáâãäåāăąçćčďèéêëēėęěìíîïīįñńňòóôõöøōőùúûüūůűųýÿžźżšśřŕľĺłţťÀÁÂÃÄÅĀĂĄÇĆČĎÈÉÊËĒĖĘĚÌÍÎÏĪĮÑŃŇÒÓÔÕÖØŌŐÙÚÛÜŪŮŰŲÝŸŽŹŻŠŚŘŔĽĹŁŢŤ',
        'aaaaaaaaacccdeeeeeeeeiiiiiinnnoooooooouuuuuuuuyyzzzssrrlllttaaaaaaaaacccdeeeeeeeeiiiiiinnnoooooooouuuuuuuuyyzzzssrrllltt'),
        '[^[:alnum:]]+', '', 'g') $$;

-- Links by name and duplicates share these indexes: a name is one index
-- probe either way. They replace V3's pantry_name_key indexes, which ignored
-- case and spacing but not punctuation ("Sysco Foods, Inc" against "Sysco
-- Foods Inc"); each costs the import about the same per row.
DROP INDEX IF EXISTS organizations_name_key_idx;
DROP INDEX IF EXISTS contacts_email_key_idx;
DROP INDEX IF EXISTS contacts_name_key_idx;
DROP INDEX IF EXISTS opportunities_name_key_idx;

CREATE INDEX IF NOT EXISTS organizations_match_key_idx
    ON organizations (pantry_match_key(name)) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS contacts_match_email_idx
    ON contacts (lower(btrim(email))) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS contacts_match_name_idx
    ON contacts (pantry_match_key(first_name || ' ' || last_name)) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS products_match_sku_idx
    ON products (principal_id, pantry_match_key(sku)) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS products_match_name_idx
    ON products (principal_id, pantry_match_key(name)) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS opportunities_match_name_idx
    ON opportunities (pantry_match_key(name)) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS interactions_match_idx
    ON interactions (interaction_date) WHERE deleted_at IS NULL;

-- Every row an import matched to a record already in the CRM: skipped, or
-- updated with the record's whole row from before as JSON and when the
-- update was applied (a record whose updated_at moved on since was edited
-- after the import: undo leaves it alone unless forced). A resumed import
-- does not read these rows again.
CREATE TABLE IF NOT EXISTS import_matches (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    import_batch_id BIGINT NOT NULL REFERENCES import_batches (id),
    source_row INTEGER NOT NULL,
    record_id UUID NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('skipped', 'updated')),
    previous JSONB,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    restored_at TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS import_matches_batch_idx ON import_matches (import_batch_id, source_row);

-- An update merges the file's import notes into the record's: the file's
-- keys win. Notes that are not a JSON object (typed into the CRM by hand)
-- are kept under one key rather than lost.
CREATE OR REPLACE FUNCTION pantry_merge_notes(current TEXT, incoming TEXT) RETURNS TEXT
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF incoming IS NULL THEN
        RETURN current;
    ELSIF current IS NULL OR btrim(current) = '' THEN
        RETURN incoming;
    END IF;
    BEGIN
        IF jsonb_typeof(current::jsonb) = 'object' THEN
            RETURN (current::jsonb || incoming::jsonb)::text;
        END IF;
    EXCEPTION WHEN invalid_text_representation THEN
        NULL;
    END;
    RETURN (jsonb_build_object('notes before the import', current) || incoming::jsonb)::text;
END $$;

-- What an import did with the rows that matched a record already in the CRM.
ALTER TABLE import_batches
    ADD COLUMN IF NOT EXISTS skipped INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS updated INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS on_duplicate TEXT NOT NULL DEFAULT 'create'
        CHECK (on_duplicate IN ('skip', 'update', 'create'));

-- Who is running an import: the server process of its connection, and when
-- it last committed a batch. A second client may resume the import only
-- once that process is gone or has been silent for a while, so two clients
-- never work on one import at once.
ALTER TABLE import_batches
    ADD COLUMN IF NOT EXISTS claimed_pid INTEGER,
    ADD COLUMN IF NOT EXISTS heartbeat_at TIMESTAMPTZ;
