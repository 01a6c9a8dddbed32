-- Notification preferences and e-mail digests. Accounts are platform-wide: preferences belong
-- to the account; a digest item carries the commune (tenant) its notice comes from, like the
-- in-app notifications it mirrors.

-- No row: the default (direct notices by e-mail at once, followed publications in the daily
-- digest, web push on).
CREATE TABLE notification_preferences (
    account_id TEXT PRIMARY KEY NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    email_rhythm TEXT NOT NULL
        CHECK (email_rhythm IN ('defaut', 'immediat', 'quotidien', 'hebdomadaire', 'jamais')),
    push BIGINT NOT NULL DEFAULT 1 CHECK (push IN (0, 1)),
    updated_at BIGINT NOT NULL
);

-- Notices waiting for the next digest of their account: one row per account and notice (a
-- retried job adds nothing), deleted in the transaction that queues the digest e-mail.
CREATE TABLE digest_items (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    title TEXT NOT NULL,
    link TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX digest_items_created ON digest_items(created_at);

-- One row per digest period sent (daily or weekly, keyed by its 08:00 Europe/Paris slot): the
-- transaction that inserts it is the only one sending that period, so a restart or a second
-- worker sends nothing twice.
CREATE TABLE digest_runs (
    rhythm TEXT NOT NULL CHECK (rhythm IN ('quotidien', 'hebdomadaire')),
    slot BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    digests BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (rhythm, slot)
);
