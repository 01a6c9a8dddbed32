-- Issue 14: one commune's flood of jobs no longer delays another commune's. Each job carries the
-- commune it works for (NULL: platform work, such as account e-mails and digests), and the worker
-- serves communes in turn from the pending index below. The jobs table stays a platform table
-- (the worker reads every commune's jobs), so it has no per-tenant policy.
ALTER TABLE jobs ADD COLUMN tenant_id BIGINT;

-- Jobs still to run get their commune from their payload: at the top (`tenant_id`) or in the
-- notice they deliver (`notice.tenant_id`). Finished jobs are left NULL: the sweep deletes them.
UPDATE jobs
SET tenant_id = COALESCE(json_extract(payload, '$.tenant_id'), json_extract(payload, '$.notice.tenant_id'))
WHERE done_at IS NULL AND json_valid(payload);

-- Claiming: the next commune with a pending job, then its oldest due job.
CREATE INDEX jobs_tenant_pending ON jobs(tenant_id, run_at, id) WHERE done_at IS NULL AND failed_at IS NULL;
-- The sweep of finished jobs, and `parvis jobs failed` (latest first).
CREATE INDEX jobs_done ON jobs(done_at) WHERE done_at IS NOT NULL;
CREATE INDEX jobs_failed ON jobs(failed_at) WHERE failed_at IS NOT NULL;
