-- Issue 18: keys a commune's admins issue to client applications of its public APIs (Open311
-- GeoReport v2 first): reading is public, writing needs a key. Only the key's SHA-256 is kept;
-- the key itself is shown once, when it is made. A revoked key stays listed, refused.
CREATE TABLE api_keys (
    tenant_id BIGINT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    key_sha256 TEXT NOT NULL,
    shown_prefix TEXT NOT NULL,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX api_keys_by_hash ON api_keys(key_sha256);
