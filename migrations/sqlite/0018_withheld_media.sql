-- The media route asks, for each commune file it serves, whether it belongs to a hidden post
-- or shows a withdrawn candidate: each question is one probe of these indexes.
CREATE INDEX post_attachments_by_media ON post_attachments (tenant_id, media_id);
CREATE INDEX post_attachments_by_thumb ON post_attachments (tenant_id, thumb_id);
CREATE INDEX candidates_by_photo ON candidates (tenant_id, photo_id);
