-- What each installed module may use (issue 14): one row per capability its served version
-- declares, granted or waiting for a platform admin. A first install grants what the module
-- declares; a replacement keeps the grants of the capabilities the previous version had, and
-- a capability it adds waits here (`granted = 0`) until `parvis module grant`: the host
-- treats it as undeclared meanwhile. A platform table (no tenant_id, no row-level security):
-- modules are installed for every commune at once.
CREATE TABLE module_grants (
    module_id TEXT NOT NULL REFERENCES modules(id),
    capability TEXT NOT NULL,
    granted BIGINT NOT NULL,
    -- Who granted it: `install` (first install), `migration`, or the platform admin.
    granted_by TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (module_id, capability)
);

-- Modules installed before this migration: what their served version declares was granted
-- by installing it.
INSERT INTO module_grants (module_id, capability, granted, granted_by, updated_at)
SELECT DISTINCT m.id, c.value, 1, 'migration', m.updated_at
FROM modules m
JOIN module_versions v ON v.module_id = m.id AND v.version = m.version
CROSS JOIN LATERAL json_array_elements_text((v.manifest::json) -> 'capabilities') AS c(value);
