-- Issue 20: FranceConnect, the French state's identity federation (OpenID Connect).
--
-- An account linked to a FranceConnect identity: its `sub` (the provider's stable pseudonym,
-- one per service) and the identity it declared, which is what lets an official's claim be
-- checked against the national registry of elected officials (names and birth date). The
-- birth date is shown to no one; it is kept for that check and given back in the account's
-- export. One identity per account, one account per identity.
CREATE TABLE identity_links (
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    birthdate TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (provider, subject),
    UNIQUE (account_id, provider)
);

-- A sign-in sent to FranceConnect and awaited back: its `state` (only its hash), the `nonce`
-- the ID token must carry, the browser that left (the hash of the `parvis_fc` cookie: a
-- callback in another browser is refused), where to go on, and the account to link when the
-- person links FranceConnect from their account page. Used once, for ten minutes.
CREATE TABLE oidc_logins (
    state_hash TEXT PRIMARY KEY NOT NULL,
    browser_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    next TEXT NOT NULL,
    account_id TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oidc_logins_expiry ON oidc_logins(expires_at);
CREATE INDEX oidc_logins_account ON oidc_logins(account_id);

-- The ID token of a sign-in through FranceConnect, sent back as `id_token_hint` when the
-- person signs out, so that FranceConnect's session ends too. Carried through the second
-- factor's challenge.
ALTER TABLE sessions ADD COLUMN id_token TEXT;
ALTER TABLE login_challenges ADD COLUMN id_token TEXT;

-- A claim checked against the claimant's FranceConnect identity: 'franceconnect' when names
-- and birth date matched the registry (approved at once), and what did not match otherwise
-- (told to the claimant; the claim waits for the admins as before).
ALTER TABLE official_claims ADD COLUMN verified_by TEXT;
ALTER TABLE official_claims ADD COLUMN verification_note TEXT;
