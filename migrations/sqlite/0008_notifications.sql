-- In-app notifications: one row per account and event, written by the fan-out job (a set-based
-- INSERT … SELECT over the followers), read in the account's notification centre.
CREATE TABLE notifications (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    title TEXT NOT NULL,
    link TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX notifications_unread ON notifications(account_id, read_at);
