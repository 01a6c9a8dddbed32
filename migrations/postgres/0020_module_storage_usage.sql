-- Issue 14: storage quota per module and per commune. What each module keeps in each commune
-- is counted here, in bytes and in documents, transactionally with its writes (the host adds
-- a call's net change just before the call commits). The count is spread over a few shard
-- rows per (commune, module), chosen at random by each call and summed on read, so the calls
-- of a busy module (64 voters at once) do not queue on one row.
--
-- Bytes of a document: 64 + its collection, key and JSON value (UTF-8 bytes); of an index
-- entry or a unique value: 32 + its collection, key, name and value; of a counter: 32 + its
-- name. Keep in step with `core/src/modules/store.rs` (DOC_OVERHEAD, ENTRY_OVERHEAD,
-- COUNTER_OVERHEAD).
CREATE TABLE module_storage_usage (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    module_id TEXT NOT NULL,
    shard BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    documents BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, module_id, shard)
);

-- A commune's own quota for a module (NULL: the host's default), and when its admins were told
-- that the module's storage is nearly full (cleared once usage falls back well below).
CREATE TABLE module_storage_quotas (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    module_id TEXT NOT NULL,
    max_bytes BIGINT,
    max_documents BIGINT,
    near_limit_at BIGINT,
    PRIMARY KEY (tenant_id, module_id)
);

ALTER TABLE module_storage_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE module_storage_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON module_storage_usage
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');

ALTER TABLE module_storage_quotas ENABLE ROW LEVEL SECURITY;
ALTER TABLE module_storage_quotas FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON module_storage_quotas
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');

-- What is already stored counts from the start (read across communes, this transaction only).
SELECT set_config('parvis.platform', 'on', true);
INSERT INTO module_storage_usage (tenant_id, module_id, shard, bytes, documents)
SELECT tenant_id, module_id, 0, CAST(SUM(bytes) AS BIGINT), CAST(SUM(documents) AS BIGINT) FROM (
    SELECT tenant_id, module_id,
           64 + octet_length(collection) + octet_length(key) + octet_length(value) AS bytes,
           1 AS documents
      FROM module_docs
    UNION ALL
    SELECT tenant_id, module_id,
           32 + octet_length(collection) + octet_length(key) + octet_length(name) + octet_length(value),
           0
      FROM module_index
    UNION ALL
    SELECT tenant_id, module_id,
           32 + octet_length(collection) + octet_length(key) + octet_length(name) + octet_length(value),
           0
      FROM module_unique
    UNION ALL
    SELECT tenant_id, module_id, 32 + octet_length(name), 0
      FROM module_counters
) stored
GROUP BY tenant_id, module_id;
