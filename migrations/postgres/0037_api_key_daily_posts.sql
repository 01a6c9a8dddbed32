-- Issue 18: an application's key posts at most so many reports a day to its commune
-- (`modules::api::DAILY_POSTS`): the day's count, kept with the key so that it survives a
-- restart and is the same for every server. `posts_day` is the day it counts (days since
-- 1970-01-01 in Paris time), `posts_today` the posts that day.
ALTER TABLE api_keys ADD COLUMN posts_day BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN posts_today BIGINT NOT NULL DEFAULT 0;
