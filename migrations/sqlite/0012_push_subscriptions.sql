-- Web push (RFC 8030/8291/8292): the devices each account subscribed, whatever the commune
-- (a notification from any commune the account follows reaches them), and the platform's own
-- rows, such as the VAPID key generated at first start so every server process shares it.
CREATE TABLE push_subscriptions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    endpoint TEXT NOT NULL UNIQUE,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    user_agent TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    last_success_at BIGINT,
    failures BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX push_subscriptions_account ON push_subscriptions(account_id);

CREATE TABLE platform_keys (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Notices now count web push deliveries too. SQLite cannot alter a CHECK constraint: the
-- table is rebuilt with its rows.
CREATE TABLE notice_deliveries_new (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    notice_id TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('in-app', 'email', 'sms', 'push')),
    queued BIGINT NOT NULL DEFAULT 0,
    sent BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, notice_id, channel)
);
INSERT INTO notice_deliveries_new SELECT tenant_id, notice_id, channel, queued, sent, failed FROM notice_deliveries;
DROP TABLE notice_deliveries;
ALTER TABLE notice_deliveries_new RENAME TO notice_deliveries;
