-- What became of each notice a module sent: counts per channel, updated by the delivery jobs
-- (queued when the notice is delivered to the queue, then sent or failed for good).
CREATE TABLE notice_deliveries (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    notice_id TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('in-app', 'email', 'sms')),
    queued BIGINT NOT NULL DEFAULT 0,
    sent BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, notice_id, channel)
);

ALTER TABLE notice_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE notice_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notice_deliveries
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');
