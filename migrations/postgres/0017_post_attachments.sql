-- Images and PDF documents attached to posts, in the order their author gave them. The files
-- themselves are tenant media (0016); this says which post shows which, and how.
CREATE TABLE post_attachments (
    tenant_id BIGINT NOT NULL,
    post_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('image', 'document')),
    -- The image at reading size, or the PDF.
    media_id TEXT NOT NULL,
    -- The image at card size (images only).
    thumb_id TEXT,
    -- Pixel size of the card-size image, so pages reserve its room before it loads.
    width BIGINT,
    height BIGINT,
    -- An image's text alternative, or a document's title.
    label TEXT NOT NULL,
    byte_size BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, post_id, position),
    FOREIGN KEY (tenant_id, post_id) REFERENCES posts(tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, media_id) REFERENCES media(tenant_id, id),
    FOREIGN KEY (tenant_id, thumb_id) REFERENCES media(tenant_id, id),
    CHECK ((kind = 'image') = (thumb_id IS NOT NULL))
);

-- Cards of a citizen's feed span communes, like the posts they belong to (0005): what a
-- published post shows is public, so any site may read it; writing stays behind the wall.
ALTER TABLE post_attachments ENABLE ROW LEVEL SECURITY;
ALTER TABLE post_attachments FORCE ROW LEVEL SECURITY;
CREATE POLICY public_read ON post_attachments FOR SELECT USING (true);
CREATE POLICY tenant_isolation ON post_attachments
    USING (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('parvis.tenant_id', true), '')::BIGINT
           OR current_setting('parvis.platform', true) = 'on');

-- The counts on those cards (comments, reactions, evaluations) are public too: a feed page
-- counts them for all its communes in one query instead of one transaction per commune.
-- Reading these rows across communes is thus no longer refused by the database; the code does
-- it only for counts (engagement::store::summaries) and shows who reacted to nobody. Hidden
-- comments stay behind the wall.
CREATE POLICY public_read ON post_comments FOR SELECT USING (hidden_at IS NULL);
CREATE POLICY public_read ON post_reactions FOR SELECT USING (true);
CREATE POLICY public_read ON post_ratings FOR SELECT USING (true);
