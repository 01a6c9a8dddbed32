-- An account asks to own a pre-registered official's profile. The birth date it gives is
-- compared with the registry's, and a commune admin (a platform admin for a mayor) decides.

CREATE TABLE official_claims (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    official_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    birth_date_matches BIGINT NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decision_reason TEXT,
    decided_by TEXT,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, official_id) REFERENCES officials(tenant_id, id)
);
CREATE INDEX official_claims_pending ON official_claims(tenant_id, status, created_at);
