-- Engagement with posts: a kind (news, an action done, a commitment, a proposal) and a
-- neighbourhood tag on posts; comments; reactions from a small fixed set; 1–5 evaluations of
-- actions, commitments and proposals. Primary keys make a second reaction or evaluation by the
-- same account impossible, whatever the concurrency.

ALTER TABLE posts ADD COLUMN kind TEXT NOT NULL DEFAULT 'actualite'
    CHECK (kind IN ('actualite', 'action', 'engagement', 'proposition'));
ALTER TABLE posts ADD COLUMN quartier TEXT;
CREATE INDEX posts_by_theme ON posts(tenant_id, theme, id);
CREATE INDEX posts_by_quartier ON posts(tenant_id, quartier, id);

-- A comment keeps its text when its author deletes their account (like a post); the author
-- is then shown as « Compte supprimé ». Its author may delete it (the row goes).
CREATE TABLE post_comments (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    post_id TEXT NOT NULL,
    author_account_id TEXT NOT NULL REFERENCES accounts(id),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    hidden_at BIGINT,
    hidden_reason TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, post_id) REFERENCES posts(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX post_comments_post ON post_comments(tenant_id, post_id, id);
CREATE INDEX post_comments_author ON post_comments(author_account_id);

CREATE TABLE post_reactions (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    post_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    reaction TEXT NOT NULL CHECK (reaction IN ('utile', 'merci', 'soutien')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, post_id, account_id, reaction),
    FOREIGN KEY (tenant_id, post_id) REFERENCES posts(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX post_reactions_account ON post_reactions(account_id);

CREATE TABLE post_ratings (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    post_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    value BIGINT NOT NULL CHECK (value BETWEEN 1 AND 5),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, post_id, account_id),
    FOREIGN KEY (tenant_id, post_id) REFERENCES posts(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX post_ratings_account ON post_ratings(account_id);

-- A flag now points at exactly one of a post, a message or a comment.
-- SQLite cannot change a CHECK: the table is rebuilt with its rows.
CREATE TABLE flags_new (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    post_id TEXT,
    message_id TEXT,
    comment_id TEXT,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    resolved_at BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, post_id) REFERENCES posts(tenant_id, id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages(tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, comment_id) REFERENCES post_comments(tenant_id, id) ON DELETE CASCADE,
    CHECK ((post_id IS NOT NULL) + (message_id IS NOT NULL) + (comment_id IS NOT NULL) = 1)
);
INSERT INTO flags_new (tenant_id, id, post_id, message_id, account_id, reason, created_at, resolved_at)
    SELECT tenant_id, id, post_id, message_id, account_id, reason, created_at, resolved_at FROM flags;
DROP TABLE flags;
ALTER TABLE flags_new RENAME TO flags;
CREATE UNIQUE INDEX flags_once ON flags(tenant_id, post_id, account_id) WHERE resolved_at IS NULL;
CREATE UNIQUE INDEX flags_message_once ON flags(tenant_id, message_id, account_id)
    WHERE resolved_at IS NULL AND message_id IS NOT NULL;
CREATE UNIQUE INDEX flags_comment_once ON flags(tenant_id, comment_id, account_id)
    WHERE resolved_at IS NULL AND comment_id IS NOT NULL;
