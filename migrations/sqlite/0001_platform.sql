-- Platform-wide tables: the communes registry, tenants, accounts, sessions, jobs, authorization.
-- Times are Unix seconds (BIGINT) so the same SQL runs on SQLite and PostgreSQL.

CREATE TABLE regions (
    code TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL
);

CREATE TABLE departements (
    code TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    region_code TEXT NOT NULL REFERENCES regions(code)
);

CREATE TABLE epcis (
    siren TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL
);

-- Every current commune of the official geographic code (COG), with its population
-- municipale (INSEE), postal codes, coordinates and town-hall contacts.
CREATE TABLE communes (
    insee TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    departement_code TEXT NOT NULL REFERENCES departements(code),
    region_code TEXT NOT NULL REFERENCES regions(code),
    epci_siren TEXT REFERENCES epcis(siren),
    population BIGINT,
    postal_codes TEXT NOT NULL DEFAULT '',
    search_key TEXT NOT NULL,
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    mairie_address TEXT,
    mairie_phone TEXT,
    mairie_email TEXT,
    mairie_website TEXT
);

-- Delegated and associated communes, and the municipal arrondissements of Paris, Lyon and
-- Marseille: neighbourhoods of their parent commune. A delegated commune may share its
-- parent's INSEE code, hence the key (parent, kind, code).
CREATE TABLE neighbourhoods (
    parent_insee TEXT NOT NULL REFERENCES communes(insee),
    kind TEXT NOT NULL CHECK (kind IN ('deleguee', 'associee', 'arrondissement')),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    population BIGINT,
    postal_codes TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (parent_insee, kind, code)
);
CREATE INDEX neighbourhoods_code ON neighbourhoods(code);

CREATE TABLE tenants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    insee TEXT NOT NULL UNIQUE REFERENCES communes(insee),
    slug TEXT NOT NULL UNIQUE,
    custom_domain TEXT UNIQUE,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at BIGINT NOT NULL
);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    email_verified_at BIGINT,
    created_at BIGINT NOT NULL
);

-- Only a SHA-256 of each session token is stored: a leaked table opens no session.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('verify', 'reset')),
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

-- Durable job queue (mail and other slow work): a restart loses nothing.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL DEFAULT 8,
    locked_until BIGINT,
    last_error TEXT,
    done_at BIGINT,
    failed_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX jobs_pending ON jobs(run_at) WHERE done_at IS NULL AND failed_at IS NULL;

-- casbin policies (p: role templates, g: role assignments with domain = tenant).
CREATE TABLE casbin_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ptype TEXT NOT NULL,
    v0 TEXT NOT NULL DEFAULT '',
    v1 TEXT NOT NULL DEFAULT '',
    v2 TEXT NOT NULL DEFAULT '',
    v3 TEXT NOT NULL DEFAULT '',
    v4 TEXT NOT NULL DEFAULT '',
    v5 TEXT NOT NULL DEFAULT '',
    UNIQUE (ptype, v0, v1, v2, v3, v4, v5)
);

-- "Inscrire ma commune": a mayor's request, pending until a platform admin verifies it.
CREATE TABLE subscription_requests (
    id TEXT PRIMARY KEY NOT NULL,
    insee TEXT NOT NULL REFERENCES communes(insee),
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    requester_name TEXT NOT NULL,
    requester_role TEXT NOT NULL,
    phone TEXT NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decision_reason TEXT,
    decided_by TEXT,
    created_at BIGINT NOT NULL,
    decided_at BIGINT
);
CREATE INDEX subscription_requests_status ON subscription_requests(status, created_at);
