-- Issue 17: a commune's cover photo, at the top of its page: re-encoded as JPEG by the media
-- pipeline (no metadata survives), with its text alternative ('' when the photo only
-- decorates).
ALTER TABLE commune_pages ADD COLUMN cover BYTEA;
ALTER TABLE commune_pages ADD COLUMN cover_alt TEXT;
