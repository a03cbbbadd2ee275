-- A database shaped like Supabase's, for tests: the auth schema, auth.users,
-- auth.uid() and auth.jwt() as Supabase defines them, the API roles, and
-- row-level security of the usual kind on the CRM tables. Run after the
-- CRM migrations, as a superuser. Where each definition comes from: SOURCE.md.

-- The API roles (cluster-wide: tests running at once may race to create them).
DO $$
DECLARE
    created TEXT;
BEGIN
    FOREACH created IN ARRAY ARRAY[
        'CREATE ROLE anon NOLOGIN NOINHERIT',
        'CREATE ROLE authenticated NOLOGIN NOINHERIT',
        'CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS'
    ] LOOP
        BEGIN
            EXECUTE created;
        -- Another test's database made it first ("tuple concurrently
        -- updated" is how a race on the role catalogue shows).
        EXCEPTION WHEN duplicate_object OR unique_violation OR internal_error THEN
            NULL;
        END;
    END LOOP;
END
$$;

CREATE SCHEMA IF NOT EXISTS auth;

-- Supabase Auth's users table (the columns the CRM and this tool read, with
-- the types Supabase gives them).
CREATE TABLE IF NOT EXISTS auth.users (
    instance_id UUID,
    id UUID NOT NULL PRIMARY KEY,
    aud VARCHAR(255),
    role VARCHAR(255),
    email VARCHAR(255),
    encrypted_password VARCHAR(255),
    email_confirmed_at TIMESTAMPTZ,
    raw_app_meta_data JSONB,
    raw_user_meta_data JSONB,
    is_super_admin BOOLEAN,
    created_at TIMESTAMPTZ DEFAULT now(),
    updated_at TIMESTAMPTZ DEFAULT now(),
    deleted_at TIMESTAMPTZ
);

-- As in Supabase Auth's migration 20220224000811_update_auth_functions.
CREATE OR REPLACE FUNCTION auth.uid() RETURNS UUID
    LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

CREATE OR REPLACE FUNCTION auth.role() RETURNS TEXT
    LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

CREATE OR REPLACE FUNCTION auth.jwt() RETURNS JSONB
    LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

-- Supabase's grants: the API roles reach the public schema's objects, and
-- row-level security decides which rows.
GRANT USAGE ON SCHEMA public, auth TO anon, authenticated, service_role;
GRANT ALL ON ALL TABLES IN SCHEMA public TO anon, authenticated, service_role;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO anon, authenticated, service_role;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public, auth TO anon, authenticated, service_role;

-- Who may write to the CRM: members of the sales team.
CREATE TABLE IF NOT EXISTS crm_writers (user_id UUID PRIMARY KEY);
GRANT SELECT ON crm_writers TO authenticated;

-- Policies of the usual Supabase kind on every CRM table: signed-in users
-- read everything; a writer inserts rows created_by themselves and updates
-- the rows they created.
DO $$
DECLARE
    crm_table TEXT;
BEGIN
    FOREACH crm_table IN ARRAY ARRAY['organizations', 'contacts', 'products', 'opportunities', 'interactions'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', crm_table);
        EXECUTE format('CREATE POLICY crm_read ON %I FOR SELECT TO authenticated USING (true)', crm_table);
        EXECUTE format(
            'CREATE POLICY crm_insert_own ON %I FOR INSERT TO authenticated '
            'WITH CHECK (created_by = auth.uid() AND auth.uid() IN (SELECT user_id FROM crm_writers))',
            crm_table);
        EXECUTE format(
            'CREATE POLICY crm_update_own ON %I FOR UPDATE TO authenticated '
            'USING (created_by = auth.uid()) WITH CHECK (created_by = auth.uid())',
            crm_table);
    END LOOP;
END
$$;
