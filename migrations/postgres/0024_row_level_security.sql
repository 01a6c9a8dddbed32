-- Issue 15: one function puts a tenant-owned table behind Row-Level Security, instead of the
-- block each migration copied until now. It enables and forces RLS (forced: the owner, who runs
-- the application, is walled off too) and creates the `tenant_isolation` policy as 0002…0021
-- wrote it: a row is visible and writable only in its commune's transaction
-- (`parvis.tenant_id`), or in a platform-wide one (`parvis.platform`). Which tables are
-- tenant-owned is declared in core/src/db/ownership.rs; the suite's `table_ownership` test
-- fails when one of them has no policy.
CREATE FUNCTION parvis_isolate_tenant(tbl regclass) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format($policy$
        CREATE POLICY tenant_isolation ON %s
            USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
                   OR current_setting('parvis.platform', true) = 'on')
            WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
                   OR current_setting('parvis.platform', true) = 'on')
        $policy$, tbl);
END;
$$;

-- The tenant-owned table that had no policy: the record of a commune's delivered notices,
-- written only in that commune's transaction (`notifications/store.rs::deliver_notice`).
-- The other tables carrying `tenant_id` without a policy (follows, notifications,
-- digest_items, jobs, billing_events) are read across communes: ownership.rs says where.
SELECT parvis_isolate_tenant('notices_delivered');
