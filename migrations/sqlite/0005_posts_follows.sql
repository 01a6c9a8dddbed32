-- Posts by a commune, its officials and candidates, and who follows what.
-- Post ids are UUIDv7 (time-ordered): the feed pages by id, so new posts never shift a page.

CREATE TABLE posts (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    author_account_id TEXT NOT NULL REFERENCES accounts(id),
    author_kind TEXT NOT NULL CHECK (author_kind IN ('commune', 'official', 'candidate')),
    official_id TEXT,
    author_name TEXT NOT NULL,
    body TEXT NOT NULL,
    body_html TEXT NOT NULL,
    theme TEXT,
    created_at BIGINT NOT NULL,
    hidden_at BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX posts_by_official ON posts(tenant_id, official_id, id);

-- Follows belong to the account (a citizen follows several communes); each carries the
-- tenant it points into. target_id is '' for the commune itself, else an official's id.
CREATE TABLE follows (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    target_kind TEXT NOT NULL CHECK (target_kind IN ('commune', 'official')),
    target_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, tenant_id, target_kind, target_id)
);
CREATE INDEX follows_target ON follows(tenant_id, target_kind, target_id);
