-- Billing (premium modules priced by population, through Stripe).

-- Each commune's Stripe customer, and the connected account donations are paid to.
CREATE TABLE billing_accounts (
    tenant_id BIGINT PRIMARY KEY REFERENCES tenants(id),
    customer_id TEXT UNIQUE,
    connected_account TEXT,
    updated_at BIGINT NOT NULL
);

-- The commune's subscriptions as Stripe last described them. `stripe_seen` is the newest
-- Stripe timestamp applied, so an older event never overwrites a newer state.
CREATE TABLE billing_subscriptions (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    subscription_id TEXT NOT NULL,
    offer TEXT NOT NULL,
    tier TEXT NOT NULL,
    billing_interval TEXT NOT NULL,
    price_id TEXT NOT NULL,
    status TEXT NOT NULL,
    current_period_end BIGINT,
    cancel_at_period_end INTEGER NOT NULL DEFAULT 0,
    -- Set when a payment failed; cleared when an invoice is paid. Grace runs from here.
    past_due_since BIGINT,
    stripe_seen BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subscription_id)
);

-- Every webhook event received, once (its id is Stripe's): a replay is acknowledged and ignored.
CREATE TABLE billing_events (
    id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    created BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    tenant_id BIGINT,
    outcome TEXT NOT NULL
);
