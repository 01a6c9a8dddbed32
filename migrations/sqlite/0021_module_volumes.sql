-- Volumes of what modules send in a commune's name (notices, SMS numbers, feed posts), one row
-- per accepted operation, written in the module call's transaction: a rolled-back call counts
-- nothing, and every server process counts the same rows. Limits per rolling day sum the
-- rows of the last 24 hours (rows older than two days are pruned as new ones come).
CREATE TABLE module_volumes (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    module_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('notice', 'followers', 'sms', 'post')),
    amount BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX module_volumes_by_kind ON module_volumes(tenant_id, module_id, kind, at);

-- Each named recipient of a module's notice: an account gets at most so many notices (and
-- so many e-mails) from one module per hour.
CREATE TABLE module_notice_recipients (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    module_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX module_notice_recipients_by_account
    ON module_notice_recipients(tenant_id, module_id, account_id, at);

-- Signed-in accounts that acted in a module of a commune (a call that wrote and succeeded):
-- with the commune's followers and role holders, the only accounts the module may notify.
CREATE TABLE module_contacts (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    module_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, module_id, account_id)
);
CREATE INDEX module_contacts_by_account ON module_contacts(account_id);
