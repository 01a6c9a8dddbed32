-- Issue 13, defect 8: the `public_read` policies of 0017 let any query, from any commune or with
-- no commune set at all, read every comment, reaction and evaluation (who, what value) and the
-- attachments of hidden posts. Pages of several communes need only counts, so counts are all
-- that crosses communes now, through one function that returns nothing else; the rows stay
-- behind each commune's wall.

DROP POLICY public_read ON post_comments;
DROP POLICY public_read ON post_reactions;
DROP POLICY public_read ON post_ratings;

-- An attachment is shown with its post: readable from elsewhere only while its post is
-- published (the subquery sees posts through their own policies, 0005). A hidden post's
-- attachments are its commune's only.
DROP POLICY public_read ON post_attachments;
CREATE POLICY published_read ON post_attachments FOR SELECT
    USING (EXISTS (SELECT 1 FROM posts p
                   WHERE p.tenant_id = post_attachments.tenant_id AND p.id = post_attachments.post_id
                     AND p.hidden_at IS NULL));

-- The counts of one published post (none for a hidden or unknown post): visible comments,
-- each reaction, evaluations and the sum of their values. It reads across communes by setting
-- `parvis.platform` around its one query and putting the caller's value back (a role that is
-- not a superuser may not name that setting in a SET clause), and returns no account, no text
-- and no single value. An error aborts the caller's transaction, setting included.
CREATE FUNCTION post_engagement_counts(p_tenant BIGINT, p_post TEXT)
RETURNS TABLE (kind TEXT, n BIGINT, total BIGINT)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    caller TEXT := COALESCE(current_setting('parvis.platform', true), '');
BEGIN
    PERFORM set_config('parvis.platform', 'on', true);
    RETURN QUERY
    WITH post AS (
        SELECT p.tenant_id, p.id FROM posts p
        WHERE p.tenant_id = p_tenant AND p.id = p_post AND p.hidden_at IS NULL
    )
    SELECT 'comment'::TEXT, COUNT(*), CAST(0 AS BIGINT)
      FROM post_comments c JOIN post ON c.tenant_id = post.tenant_id AND c.post_id = post.id
     WHERE c.hidden_at IS NULL
    UNION ALL
    SELECT r.reaction, COUNT(*), CAST(0 AS BIGINT)
      FROM post_reactions r JOIN post ON r.tenant_id = post.tenant_id AND r.post_id = post.id
     GROUP BY r.reaction
    UNION ALL
    SELECT 'rating'::TEXT, COUNT(*), CAST(COALESCE(SUM(g.value), 0) AS BIGINT)
      FROM post_ratings g JOIN post ON g.tenant_id = post.tenant_id AND g.post_id = post.id;
    PERFORM set_config('parvis.platform', caller, true);
END
$$;
