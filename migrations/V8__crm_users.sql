-- CRM users (SPEC.md, "CRM users"). On a Supabase database the users are
-- auth.users and this table stays empty; elsewhere the CRM's users live here.
CREATE TABLE IF NOT EXISTS crm_users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    full_name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    is_active BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The account managers as users. The text columns stay: the tool never
-- drops them (the CRM's owners do, once no name is left without a user).
-- No foreign key: the user is in auth.users or crm_users, by database.
ALTER TABLE organizations
    ADD COLUMN IF NOT EXISTS primary_manager_id UUID,
    ADD COLUMN IF NOT EXISTS secondary_manager_id UUID;

-- Which CRM user an import acted for.
ALTER TABLE import_batches
    ADD COLUMN IF NOT EXISTS acting_user_id UUID,
    ADD COLUMN IF NOT EXISTS acting_user_email TEXT;

-- created_by/updated_by of a row an import writes: the user the import acts
-- for, which it sets for its own transactions only (pantry.acting_user).
-- Anyone else's inserts are as before (NULL). A column that already has a
-- default (Supabase CRMs often use auth.uid()) keeps it.
DO $$
DECLARE
    target RECORD;
BEGIN
    FOR target IN
        SELECT c.table_name, c.column_name
        FROM information_schema.columns c
        WHERE c.table_schema = current_schema()
          AND c.table_name IN ('organizations', 'contacts', 'products', 'opportunities', 'interactions')
          AND c.column_name IN ('created_by', 'updated_by')
          AND c.column_default IS NULL
    LOOP
        EXECUTE format(
            'ALTER TABLE %I ALTER COLUMN %I SET DEFAULT nullif(current_setting(''pantry.acting_user'', true), '''')::uuid',
            target.table_name, target.column_name);
    END LOOP;
END
$$;
