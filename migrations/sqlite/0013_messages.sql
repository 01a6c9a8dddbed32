-- Private messages between a citizen and an official or the commune (its admins).
-- A thread lives in one commune and has two sides: the citizen who started it, and the
-- recipient — an official (the account that held the profile when the thread started) or the
-- commune, whose admins share the side. Only citizens start threads (no cold messages).
-- Unread counts are kept per side; the commune side's is shared by its admins.

CREATE TABLE message_threads (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    citizen_account_id TEXT NOT NULL REFERENCES accounts(id),
    recipient_kind TEXT NOT NULL CHECK (recipient_kind IN ('official', 'commune')),
    official_account_id TEXT REFERENCES accounts(id),
    official_id TEXT,
    recipient_name TEXT NOT NULL,
    subject TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_message_at BIGINT NOT NULL,
    citizen_unread BIGINT NOT NULL DEFAULT 0,
    recipient_unread BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id),
    CHECK ((recipient_kind = 'official') = (official_account_id IS NOT NULL))
);
CREATE INDEX message_threads_citizen ON message_threads(tenant_id, citizen_account_id, last_message_at);
CREATE INDEX message_threads_official ON message_threads(tenant_id, official_account_id, last_message_at);
CREATE INDEX message_threads_commune ON message_threads(tenant_id, recipient_kind, last_message_at);

-- A message deleted with its author's account keeps its row (the thread stays readable for
-- the other side) but loses its text: body '' and deleted_at set.
CREATE TABLE messages (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    sender_account_id TEXT NOT NULL REFERENCES accounts(id),
    sender_side TEXT NOT NULL CHECK (sender_side IN ('citizen', 'recipient')),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT,
    hidden_at BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, thread_id) REFERENCES message_threads(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_thread ON messages(tenant_id, thread_id, id);
CREATE INDEX messages_sender ON messages(sender_account_id);

-- Blocks belong to an account and hold on the whole platform.
CREATE TABLE account_blocks (
    blocker_account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    blocked_account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (blocker_account_id, blocked_account_id)
);
CREATE INDEX account_blocks_blocked ON account_blocks(blocked_account_id);

-- A flag now points at a post or at a message (reported to the same moderation queue).
-- SQLite cannot drop a NOT NULL: the table is rebuilt with its rows.
CREATE TABLE flags_new (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    post_id TEXT,
    message_id TEXT,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    resolved_at BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, post_id) REFERENCES posts(tenant_id, id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages(tenant_id, id) ON DELETE CASCADE,
    CHECK ((post_id IS NULL) <> (message_id IS NULL))
);
INSERT INTO flags_new (tenant_id, id, post_id, account_id, reason, created_at, resolved_at)
    SELECT tenant_id, id, post_id, account_id, reason, created_at, resolved_at FROM flags;
DROP TABLE flags;
ALTER TABLE flags_new RENAME TO flags;
CREATE UNIQUE INDEX flags_once ON flags(tenant_id, post_id, account_id) WHERE resolved_at IS NULL;
CREATE UNIQUE INDEX flags_message_once ON flags(tenant_id, message_id, account_id)
    WHERE resolved_at IS NULL AND message_id IS NOT NULL;
