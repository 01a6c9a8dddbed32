-- Issue 16: each commune's messages have a version of their own, raised by the database at every
-- write to a thread (a new message, a thread read, a thread deleted with its account). The page
-- header's count of unread messages is kept per person and recounted only when it moves
-- (core/src/messages/service.rs); the version is read with the session, in the same statement.
-- Apart from the pages' version: a message changes no public page.
ALTER TABLE tenant_versions ADD COLUMN messages BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION parvis_raise_message_versions() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO tenant_versions (tenant_id, version, messages)
        SELECT DISTINCT tenant_id, 0, 1 FROM changed ORDER BY tenant_id
        ON CONFLICT (tenant_id) DO UPDATE SET messages = tenant_versions.messages + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER message_threads_version_insert AFTER INSERT ON message_threads
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_raise_message_versions();
CREATE TRIGGER message_threads_version_update AFTER UPDATE ON message_threads
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_raise_message_versions();
CREATE TRIGGER message_threads_version_delete AFTER DELETE ON message_threads
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_raise_message_versions();
