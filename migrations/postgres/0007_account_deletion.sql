-- Deleted accounts are kept as anonymous tombstones so that what they published as a commune
-- or as an official (public acts) keeps an author row; everything personal is erased.
ALTER TABLE accounts ADD COLUMN deleted_at BIGINT;
