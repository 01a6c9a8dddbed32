-- Flags on posts, and the audit log of what admins and moderators did, per tenant.

CREATE TABLE flags (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    post_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    resolved_at BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, post_id) REFERENCES posts(tenant_id, id)
);
CREATE UNIQUE INDEX flags_once ON flags(tenant_id, post_id, account_id) WHERE resolved_at IS NULL;

CREATE TABLE audit_log (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    actor_account_id TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

ALTER TABLE posts ADD COLUMN hidden_reason TEXT;

ALTER TABLE flags ENABLE ROW LEVEL SECURITY;
ALTER TABLE flags FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON flags
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');
