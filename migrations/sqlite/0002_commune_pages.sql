-- Tenant-owned content of the commune home page. Every key starts with tenant_id.

CREATE TABLE commune_pages (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    presentation TEXT NOT NULL DEFAULT '',
    logo BLOB,
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
