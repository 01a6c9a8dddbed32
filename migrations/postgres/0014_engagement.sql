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
ALTER TABLE flags ADD COLUMN comment_id TEXT;
ALTER TABLE flags ADD CONSTRAINT flags_comment_fk FOREIGN KEY (tenant_id, comment_id)
    REFERENCES post_comments(tenant_id, id) ON DELETE CASCADE;
ALTER TABLE flags DROP CONSTRAINT flags_one_target;
ALTER TABLE flags ADD CONSTRAINT flags_one_target CHECK (num_nonnulls(post_id, message_id, comment_id) = 1);
CREATE UNIQUE INDEX flags_comment_once ON flags(tenant_id, comment_id, account_id)
    WHERE resolved_at IS NULL AND comment_id IS NOT NULL;

ALTER TABLE post_comments ENABLE ROW LEVEL SECURITY;
ALTER TABLE post_comments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON post_comments
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');

ALTER TABLE post_reactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE post_reactions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON post_reactions
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');

ALTER TABLE post_ratings ENABLE ROW LEVEL SECURITY;
ALTER TABLE post_ratings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON post_ratings
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');
