-- Issue 16: a signed-in page on PostgreSQL asks the database nothing while nothing it shows has
-- changed. What a request reads with its session (core/src/web/session.rs: the account, its
-- unread notifications, whether it follows the commune, the commune's versions) is kept in each
-- process and dropped when the database says, on the channel `parvis_changed`, that an account
-- or a commune changed (core/src/db/changes.rs). Every table that statement reads tells:
--   `a:<account id>`  sessions, accounts, notifications, follows
--   `t:<tenant id>`   tenant_versions (raised by the triggers of 0025 and 0026)
-- Notices are sent at commit, in commit order, and identical ones of a transaction are sent once.
-- SQLite has no notices: a connection watches the file's `data_version` instead (changes.rs).

CREATE FUNCTION parvis_notice_accounts() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('parvis_changed', 'a:' || account_id)
        FROM (SELECT DISTINCT account_id FROM changed) AS c;
    RETURN NULL;
END;
$$;

CREATE FUNCTION parvis_notice_account_rows() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('parvis_changed', 'a:' || id) FROM changed;
    RETURN NULL;
END;
$$;

CREATE FUNCTION parvis_notice_tenants() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('parvis_changed', 't:' || tenant_id)
        FROM (SELECT DISTINCT tenant_id FROM changed) AS c;
    RETURN NULL;
END;
$$;

-- A session's insertion tells nothing: no process has read a token it has never seen.
CREATE TRIGGER sessions_notice_update AFTER UPDATE ON sessions
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_notice_accounts();
CREATE TRIGGER sessions_notice_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_notice_accounts();

CREATE TRIGGER accounts_notice_update AFTER UPDATE ON accounts
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_notice_account_rows();
CREATE TRIGGER accounts_notice_delete AFTER DELETE ON accounts
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_notice_account_rows();

CREATE TRIGGER notifications_notice_insert AFTER INSERT ON notifications
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_notice_accounts();
CREATE TRIGGER notifications_notice_update AFTER UPDATE ON notifications
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_notice_accounts();
CREATE TRIGGER notifications_notice_delete AFTER DELETE ON notifications
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_notice_accounts();

CREATE TRIGGER follows_notice_insert AFTER INSERT ON follows
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_notice_accounts();
CREATE TRIGGER follows_notice_update AFTER UPDATE ON follows
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_notice_accounts();
CREATE TRIGGER follows_notice_delete AFTER DELETE ON follows
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_notice_accounts();

CREATE TRIGGER tenant_versions_notice_insert AFTER INSERT ON tenant_versions
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_notice_tenants();
CREATE TRIGGER tenant_versions_notice_update AFTER UPDATE ON tenant_versions
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_notice_tenants();
