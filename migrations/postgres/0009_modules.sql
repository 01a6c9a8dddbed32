-- Feature modules (wasm components): the installed versions (platform tables), each commune's
-- choice of modules with their settings and entitlements, and the modules' own documents,
-- indexes, unique values and counters. Module rows are keyed by (tenant_id, module_id, …):
-- the host binds both from the request, a module can name neither.

CREATE TABLE module_versions (
    module_id TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    premium BIGINT NOT NULL,
    manifest TEXT NOT NULL,
    wasm BYTEA NOT NULL,
    installed_at BIGINT NOT NULL,
    PRIMARY KEY (module_id, version)
);

-- The version each module serves; one row per installed module.
CREATE TABLE modules (
    id TEXT PRIMARY KEY NOT NULL,
    version TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    FOREIGN KEY (id, version) REFERENCES module_versions(module_id, version)
);

CREATE TABLE tenant_modules (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    module_id TEXT NOT NULL REFERENCES modules(id),
    enabled BIGINT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    -- Set when the host switched the module off after repeated faults.
    fault_reason TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, module_id)
);

-- The right to enable a premium module (billing writes these; `source` says who granted it).
CREATE TABLE module_entitlements (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    module_id TEXT NOT NULL,
    source TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    expires_at BIGINT,
    PRIMARY KEY (tenant_id, module_id)
);

CREATE TABLE module_docs (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    module_id TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, module_id, collection, key)
);

CREATE TABLE module_index (
    tenant_id BIGINT NOT NULL,
    module_id TEXT NOT NULL,
    collection TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (tenant_id, module_id, collection, name, value, key),
    FOREIGN KEY (tenant_id, module_id, collection, key)
        REFERENCES module_docs(tenant_id, module_id, collection, key) ON DELETE CASCADE
);
CREATE INDEX module_index_by_doc ON module_index(tenant_id, module_id, collection, key);

-- The primary key is the unique constraint: one key per (collection, name, value).
CREATE TABLE module_unique (
    tenant_id BIGINT NOT NULL,
    module_id TEXT NOT NULL,
    collection TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (tenant_id, module_id, collection, name, value),
    FOREIGN KEY (tenant_id, module_id, collection, key)
        REFERENCES module_docs(tenant_id, module_id, collection, key) ON DELETE CASCADE
);
CREATE INDEX module_unique_by_doc ON module_unique(tenant_id, module_id, collection, key);

CREATE TABLE module_counters (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    module_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, module_id, name)
);

ALTER TABLE tenant_modules ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_modules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_modules
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');

ALTER TABLE module_entitlements ENABLE ROW LEVEL SECURITY;
ALTER TABLE module_entitlements FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON module_entitlements
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');

ALTER TABLE module_docs ENABLE ROW LEVEL SECURITY;
ALTER TABLE module_docs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON module_docs
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');

ALTER TABLE module_index ENABLE ROW LEVEL SECURITY;
ALTER TABLE module_index FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON module_index
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');

ALTER TABLE module_unique ENABLE ROW LEVEL SECURITY;
ALTER TABLE module_unique FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON module_unique
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');

ALTER TABLE module_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE module_counters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON module_counters
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');


-- Notices (module notifications) already delivered: a retried delivery job sends nothing twice.
CREATE TABLE notices_delivered (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id BIGINT NOT NULL,
    delivered_at BIGINT NOT NULL
);

-- The author of what modules publish in a commune's name (poll results, alerts): not a person,
-- it cannot sign in (no password hash verifies against '!') and is marked as a tombstone.
INSERT INTO accounts (id, email, display_name, password_hash, email_verified_at, created_at, deleted_at)
VALUES ('parvis-modules', 'modules@parvis.invalid', 'Parvis', '!', NULL, 0, 0);
