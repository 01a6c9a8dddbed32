-- Tenant-owned content of the commune home page. Every key starts with tenant_id, so the
-- tables can be distributed by tenant_id on Citus; Row-Level Security is the second wall.

CREATE TABLE commune_pages (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    presentation TEXT NOT NULL DEFAULT '',
    logo BYTEA,
    logo_mime TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id)
);

CREATE TABLE commune_links (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    label TEXT NOT NULL,
    url TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE team_members (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    role_label TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- The tenant is set per transaction by the store (set_config('parvis.tenant_id', …, true)).
-- Unset, current_setting(…, true) is NULL and the policy matches nothing: it fails closed.
-- Platform-wide maintenance (registry imports) opts in explicitly, per transaction, with
-- parvis.platform = 'on' (Db::platform_tx); request handlers never do.
-- FORCE applies the policies to the table owner too (the application role owns its tables).
ALTER TABLE commune_pages ENABLE ROW LEVEL SECURITY;
ALTER TABLE commune_pages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON commune_pages
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');

ALTER TABLE commune_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE commune_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON commune_links
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');

ALTER TABLE team_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE team_members FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON team_members
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');
