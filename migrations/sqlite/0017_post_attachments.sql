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
