-- Issue 20: two-factor authentication (TOTP, RFC 6238) that any account can turn on, required
-- for platform administrators. `totp_secret` is the shared secret (base32), set when the person
-- starts enrolling; `totp_enabled_at` is set once they proved their app has it; `totp_last_step`
-- is the time step of the last code accepted, so a code is used once.
ALTER TABLE accounts ADD COLUMN totp_secret TEXT;
ALTER TABLE accounts ADD COLUMN totp_enabled_at BIGINT;
ALTER TABLE accounts ADD COLUMN totp_last_step BIGINT;

-- Recovery codes, each usable once when the phone is lost: only their hashes are kept.
CREATE TABLE totp_recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (account_id, code_hash)
);

-- A sign-in whose password was right and whose second factor is awaited: what the
-- `parvis_2fa` cookie names (its hash), for five minutes and five attempts.
CREATE TABLE login_challenges (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    next TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX login_challenges_account ON login_challenges(account_id);
