-- Issue 20: one account everywhere. A sign-in opens a session whose cookie covers the apex and
-- every commune's subdomain (`Domain=<base domain>`); a commune on its own domain gets its own
-- session through a one-time hand-off code. Every session opened from one sign-in shares its
-- `family` (the hash of the first one's token; NULL: the session is its own family), so
-- signing out anywhere ends them all at once.
ALTER TABLE sessions ADD COLUMN family TEXT;
CREATE INDEX sessions_family ON sessions(account_id, family);

-- A hand-off code: what the platform's site gives a commune's own domain for one sign-in
-- there. Only its hash is kept; it is bound to the host it was made for, expires within
-- seconds, and is used at most once (`used_at`).
CREATE TABLE sso_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    family TEXT NOT NULL,
    host TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX sso_codes_expiry ON sso_codes(expires_at);
