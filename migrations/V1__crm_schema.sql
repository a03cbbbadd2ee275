-- The Kitchen Pantry CRM's five entities, as the seed's "Data Architecture"
-- describes them. Safe on an empty database and on an existing CRM: every
-- statement is IF NOT EXISTS (or equivalent) and nothing is ever dropped.

DO $$ BEGIN
    CREATE TYPE organization_type AS ENUM ('principal', 'distributor', 'customer', 'prospect', 'vendor');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

DO $$ BEGIN
    CREATE TYPE priority_level AS ENUM ('A', 'B', 'C', 'D');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

DO $$ BEGIN
    CREATE TYPE contact_role AS ENUM ('decision_maker', 'influencer', 'buyer', 'end_user', 'gatekeeper', 'champion');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

DO $$ BEGIN
    CREATE TYPE product_category AS ENUM (
        'beverages', 'dairy', 'frozen', 'fresh_produce', 'meat_poultry', 'seafood', 'dry_goods',
        'spices_seasonings', 'baking_supplies', 'cleaning_supplies', 'paper_products', 'equipment');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

DO $$ BEGIN
    CREATE TYPE opportunity_stage AS ENUM (
        'New Lead', 'Initial Outreach', 'Sample/Visit Offered', 'Awaiting Response',
        'Feedback Logged', 'Demo Scheduled', 'Closed - Won', 'Closed - Lost');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

DO $$ BEGIN
    CREATE TYPE interaction_type AS ENUM (
        'call', 'email', 'meeting', 'demo', 'proposal', 'follow_up', 'trade_show', 'site_visit',
        'contract_review');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS organizations (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL
);

-- Columns added one by one so an existing organizations table gains what it lacks.
ALTER TABLE organizations
    ADD COLUMN IF NOT EXISTS type organization_type NOT NULL DEFAULT 'customer',
    ADD COLUMN IF NOT EXISTS priority priority_level NOT NULL DEFAULT 'C',
    ADD COLUMN IF NOT EXISTS segment VARCHAR(100) DEFAULT 'General',
    ADD COLUMN IF NOT EXISTS industry VARCHAR(100),
    ADD COLUMN IF NOT EXISTS website VARCHAR(255),
    ADD COLUMN IF NOT EXISTS phone VARCHAR(50),
    ADD COLUMN IF NOT EXISTS email VARCHAR(255),
    ADD COLUMN IF NOT EXISTS address_line_1 VARCHAR(255),
    ADD COLUMN IF NOT EXISTS address_line_2 VARCHAR(255),
    ADD COLUMN IF NOT EXISTS city VARCHAR(100),
    ADD COLUMN IF NOT EXISTS state_province VARCHAR(100),
    ADD COLUMN IF NOT EXISTS postal_code VARCHAR(20),
    ADD COLUMN IF NOT EXISTS country VARCHAR(100) DEFAULT 'US',
    ADD COLUMN IF NOT EXISTS annual_revenue NUMERIC(15, 2),
    ADD COLUMN IF NOT EXISTS employee_count INTEGER,
    ADD COLUMN IF NOT EXISTS parent_organization_id UUID REFERENCES organizations (id),
    ADD COLUMN IF NOT EXISTS notes TEXT,
    ADD COLUMN IF NOT EXISTS is_active BOOLEAN NOT NULL DEFAULT true,
    -- The MVP columns.
    ADD COLUMN IF NOT EXISTS primary_manager_name TEXT,
    ADD COLUMN IF NOT EXISTS secondary_manager_name TEXT,
    ADD COLUMN IF NOT EXISTS import_notes TEXT,
    -- Audit and soft delete.
    ADD COLUMN IF NOT EXISTS created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS created_by UUID,
    ADD COLUMN IF NOT EXISTS updated_by UUID,
    ADD COLUMN IF NOT EXISTS deleted_at TIMESTAMPTZ;

CREATE INDEX IF NOT EXISTS organizations_name_idx ON organizations (name) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS organizations_parent_idx ON organizations (parent_organization_id);

CREATE TABLE IF NOT EXISTS contacts (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID REFERENCES organizations (id),
    first_name VARCHAR(100) NOT NULL,
    last_name VARCHAR(100) NOT NULL,
    title VARCHAR(100),
    role contact_role,
    email VARCHAR(255),
    phone VARCHAR(50),
    mobile_phone VARCHAR(50),
    linkedin_url VARCHAR(255),
    department VARCHAR(100),
    purchase_influence VARCHAR(50),
    decision_authority VARCHAR(50),
    is_primary_contact BOOLEAN NOT NULL DEFAULT false,
    notes TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by UUID,
    updated_by UUID,
    deleted_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS contacts_organization_idx ON contacts (organization_id);

CREATE TABLE IF NOT EXISTS products (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    principal_id UUID NOT NULL REFERENCES organizations (id),
    name VARCHAR(255) NOT NULL,
    description TEXT,
    sku VARCHAR(100),
    category product_category NOT NULL,
    unit_cost NUMERIC(12, 2),
    list_price NUMERIC(12, 2),
    min_order_quantity INTEGER,
    storage_requirements TEXT,
    shelf_life_days INTEGER,
    season VARCHAR(100),
    specifications TEXT,
    is_active BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by UUID,
    updated_by UUID,
    deleted_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS products_principal_idx ON products (principal_id);

CREATE TABLE IF NOT EXISTS opportunities (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL,
    organization_id UUID NOT NULL REFERENCES organizations (id),
    contact_id UUID REFERENCES contacts (id),
    principal_id UUID REFERENCES organizations (id),
    distributor_id UUID REFERENCES organizations (id),
    stage opportunity_stage NOT NULL DEFAULT 'New Lead',
    estimated_value NUMERIC(15, 2),
    probability INTEGER CHECK (probability BETWEEN 0 AND 100),
    expected_close_date DATE,
    next_action TEXT,
    competition TEXT,
    decision_criteria TEXT,
    notes TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by UUID,
    updated_by UUID,
    deleted_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS opportunities_organization_idx ON opportunities (organization_id);

CREATE TABLE IF NOT EXISTS interactions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    type interaction_type NOT NULL,
    subject VARCHAR(255) NOT NULL,
    description TEXT,
    interaction_date TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_minutes INTEGER,
    follow_up_required BOOLEAN NOT NULL DEFAULT false,
    follow_up_date DATE,
    follow_up_notes TEXT,
    outcome TEXT,
    contact_id UUID REFERENCES contacts (id),
    organization_id UUID REFERENCES organizations (id),
    opportunity_id UUID REFERENCES opportunities (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by UUID,
    updated_by UUID,
    deleted_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS interactions_organization_idx ON interactions (organization_id);

-- updated_at follows every change, so later tools can tell edited rows apart.
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

DO $$
DECLARE
    entity TEXT;
BEGIN
    FOREACH entity IN ARRAY ARRAY['organizations', 'contacts', 'products', 'opportunities', 'interactions'] LOOP
        IF NOT EXISTS (
            SELECT 1 FROM pg_trigger
            WHERE tgname = entity || '_set_updated_at' AND tgrelid = entity::regclass
        ) THEN
            EXECUTE format(
                'CREATE TRIGGER %I BEFORE UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION set_updated_at()',
                entity || '_set_updated_at', entity);
        END IF;
    END LOOP;
END $$;
