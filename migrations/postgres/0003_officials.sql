-- Elected officials from the Répertoire national des élus (RNE), attached to their commune's
-- tenant. A person is identified by name, first name and birth date within a commune (the RNE
-- has no national identifier). The birth date is kept only to let officials prove who they
-- are when claiming their profile: it is shown to nobody else.

CREATE TABLE officials (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    last_name TEXT NOT NULL,
    first_name TEXT NOT NULL,
    sex TEXT,
    birth_date TEXT NOT NULL,
    account_id TEXT REFERENCES accounts(id) ON DELETE SET NULL,
    PRIMARY KEY (tenant_id, id)
);

-- One row per function held: a deputy mayor who is also maire délégué has two. A mandate that
-- a later import no longer lists is ended, not deleted.
CREATE TABLE mandates (
    tenant_id BIGINT NOT NULL,
    official_id TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('municipal', 'mayor')),
    function_label TEXT NOT NULL,
    function_rank BIGINT NOT NULL,
    mandate_start TEXT NOT NULL,
    function_start TEXT,
    seen_at BIGINT NOT NULL,
    ended_at BIGINT,
    PRIMARY KEY (tenant_id, official_id, source, function_label),
    FOREIGN KEY (tenant_id, official_id) REFERENCES officials(tenant_id, id)
);
CREATE INDEX mandates_current ON mandates(tenant_id, ended_at, function_rank);

ALTER TABLE officials ENABLE ROW LEVEL SECURITY;
ALTER TABLE officials FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON officials
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');

ALTER TABLE mandates ENABLE ROW LEVEL SECURITY;
ALTER TABLE mandates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mandates
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');
