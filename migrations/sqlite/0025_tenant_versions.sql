-- Issue 16: a version per commune, raised by the database itself at every write to a table
-- its public pages are made of (posts and their attachments, comments, reactions and ratings;
-- follows; the commune's page, links and team; officials and mandates; candidates). Pages keep
-- what they share between people (the commune page's sections, each post's card) rendered in
-- memory with the version it was read at, and read the version (one indexed row) at each request:
-- a write from any path — a route, a module, the command line, another process — shows at the
-- next request, and nothing of one person is ever kept (core/src/web/shared.rs).
CREATE TABLE tenant_versions (
    tenant_id INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
CREATE TRIGGER posts_version_insert AFTER INSERT ON posts BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER posts_version_update AFTER UPDATE ON posts BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER posts_version_delete AFTER DELETE ON posts BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER post_attachments_version_insert AFTER INSERT ON post_attachments BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER post_attachments_version_update AFTER UPDATE ON post_attachments BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER post_attachments_version_delete AFTER DELETE ON post_attachments BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER post_reactions_version_insert AFTER INSERT ON post_reactions BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER post_reactions_version_update AFTER UPDATE ON post_reactions BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER post_reactions_version_delete AFTER DELETE ON post_reactions BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER post_comments_version_insert AFTER INSERT ON post_comments BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER post_comments_version_update AFTER UPDATE ON post_comments BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER post_comments_version_delete AFTER DELETE ON post_comments BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER post_ratings_version_insert AFTER INSERT ON post_ratings BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER post_ratings_version_update AFTER UPDATE ON post_ratings BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER post_ratings_version_delete AFTER DELETE ON post_ratings BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER follows_version_insert AFTER INSERT ON follows BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER follows_version_update AFTER UPDATE ON follows BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER follows_version_delete AFTER DELETE ON follows BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER commune_pages_version_insert AFTER INSERT ON commune_pages BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER commune_pages_version_update AFTER UPDATE ON commune_pages BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER commune_pages_version_delete AFTER DELETE ON commune_pages BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER commune_links_version_insert AFTER INSERT ON commune_links BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER commune_links_version_update AFTER UPDATE ON commune_links BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER commune_links_version_delete AFTER DELETE ON commune_links BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER team_members_version_insert AFTER INSERT ON team_members BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER team_members_version_update AFTER UPDATE ON team_members BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER team_members_version_delete AFTER DELETE ON team_members BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER officials_version_insert AFTER INSERT ON officials BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER officials_version_update AFTER UPDATE ON officials BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER officials_version_delete AFTER DELETE ON officials BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER mandates_version_insert AFTER INSERT ON mandates BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER mandates_version_update AFTER UPDATE ON mandates BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER mandates_version_delete AFTER DELETE ON mandates BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER candidates_version_insert AFTER INSERT ON candidates BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER candidates_version_update AFTER UPDATE ON candidates BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER candidates_version_delete AFTER DELETE ON candidates BEGIN
    INSERT INTO tenant_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- A commune renamed by a registry import: its posts' cards name it.
CREATE TRIGGER communes_version_update AFTER UPDATE ON communes BEGIN
    INSERT INTO tenant_versions (tenant_id, version)
        SELECT id, 1 FROM tenants WHERE insee = NEW.insee AND true
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
