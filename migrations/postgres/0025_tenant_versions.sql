-- Issue 16: a version per commune, raised by the database itself at every write to a table
-- its public pages are made of (posts and their attachments, comments, reactions and ratings;
-- follows; the commune's page, links and team; officials and mandates; candidates). Pages keep
-- what they share between people (the commune page's sections, each post's card) rendered in
-- memory with the version it was read at, and read the version (one indexed row) at each request:
-- a write from any path — a route, a module, the command line, another process — shows at the
-- next request, and nothing of one person is ever kept (core/src/web/shared.rs).
CREATE TABLE tenant_versions (
    tenant_id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);

-- Statement triggers with transition tables: an import of a hundred thousand mandates raises
-- each commune's version once per statement, not once per row. Communes in id order, so that
-- two transactions touching the same communes take their rows' locks in the same order.
CREATE FUNCTION parvis_raise_versions() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO tenant_versions (tenant_id, version)
        SELECT DISTINCT tenant_id, 1 FROM changed ORDER BY tenant_id
        ON CONFLICT (tenant_id) DO UPDATE SET version = tenant_versions.version + 1;
    RETURN NULL;
END;
$$;

CREATE FUNCTION parvis_versioned(tbl regclass) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    name text := tbl::text;
BEGIN
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS changed '
                   'FOR EACH STATEMENT EXECUTE FUNCTION parvis_raise_versions()', name || '_version_insert', tbl);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING NEW TABLE AS changed '
                   'FOR EACH STATEMENT EXECUTE FUNCTION parvis_raise_versions()', name || '_version_update', tbl);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS changed '
                   'FOR EACH STATEMENT EXECUTE FUNCTION parvis_raise_versions()', name || '_version_delete', tbl);
END;
$$;

SELECT parvis_versioned('posts');
SELECT parvis_versioned('post_attachments');
SELECT parvis_versioned('post_reactions');
SELECT parvis_versioned('post_comments');
SELECT parvis_versioned('post_ratings');
SELECT parvis_versioned('follows');
SELECT parvis_versioned('commune_pages');
SELECT parvis_versioned('commune_links');
SELECT parvis_versioned('team_members');
SELECT parvis_versioned('officials');
SELECT parvis_versioned('mandates');
SELECT parvis_versioned('candidates');

-- A commune renamed by a registry import: its posts' cards name it.
CREATE FUNCTION parvis_raise_commune_versions() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO tenant_versions (tenant_id, version)
        SELECT DISTINCT t.id, 1 FROM changed c JOIN tenants t ON t.insee = c.insee ORDER BY t.id
        ON CONFLICT (tenant_id) DO UPDATE SET version = tenant_versions.version + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER communes_version_update AFTER UPDATE ON communes REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_raise_commune_versions();
