-- Uploaded media, citizen profiles with privacy settings, citizens following citizens, and
-- candidate profiles.

-- Media an account owns across the platform (its avatar): accounts are global, so these rows
-- belong to no tenant, and go with the account. Rows never change: a new file is a new id.
CREATE TABLE account_media (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    content_type TEXT NOT NULL,
    filename TEXT,
    width BIGINT,
    height BIGINT,
    byte_size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX account_media_owner ON account_media(account_id);

-- Media a commune's content owns (a candidate's photo, later posts' attachments).
CREATE TABLE media (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    account_id TEXT REFERENCES accounts(id) ON DELETE SET NULL,
    purpose TEXT NOT NULL,
    content_type TEXT NOT NULL,
    filename TEXT,
    width BIGINT,
    height BIGINT,
    byte_size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX media_owner ON media(account_id);

-- A citizen's public profile and its privacy settings. No row: the defaults (visible to
-- signed-in people, follows not shown, no avatar). visibility: public (everyone), members
-- (signed-in accounts), private (nobody but its owner).
CREATE TABLE account_profiles (
    account_id TEXT PRIMARY KEY NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    bio TEXT NOT NULL DEFAULT '',
    visibility TEXT NOT NULL DEFAULT 'members' CHECK (visibility IN ('public', 'members', 'private')),
    show_follows BIGINT NOT NULL DEFAULT 0,
    avatar_id TEXT REFERENCES account_media(id) ON DELETE SET NULL,
    avatar_small_id TEXT REFERENCES account_media(id) ON DELETE SET NULL,
    updated_at BIGINT NOT NULL
);

-- Citizens following citizens. Platform-wide like the accounts they join (the commune and
-- official follows of 0005 point into a tenant; these do not). Citizens do not post, so these
-- follows feed no feed: they show in "following" lists.
CREATE TABLE citizen_follows (
    follower_account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    followed_account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (follower_account_id, followed_account_id),
    CHECK (follower_account_id <> followed_account_id)
);
CREATE INDEX citizen_follows_followed ON citizen_follows(followed_account_id);

-- A candidate's profile for one election in one commune. Withdrawn by an admin (with a
-- reason, in the audit log) it stays for the record but is shown to nobody.
CREATE TABLE candidates (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    election_kind TEXT NOT NULL CHECK (election_kind IN ('municipales', 'municipales-partielles')),
    election_date TEXT NOT NULL,
    display_name TEXT NOT NULL,
    list_name TEXT NOT NULL,
    programme TEXT NOT NULL,
    programme_html TEXT NOT NULL,
    photo_id TEXT,
    status TEXT NOT NULL DEFAULT 'published' CHECK (status IN ('published', 'withdrawn')),
    withdrawn_reason TEXT,
    withdrawn_by TEXT,
    withdrawn_at BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, photo_id) REFERENCES media(tenant_id, id)
);
CREATE INDEX candidates_account ON candidates(account_id);
CREATE UNIQUE INDEX candidates_once ON candidates(tenant_id, account_id, election_kind, election_date)
    WHERE status = 'published';
