//! Billing for premium modules, priced by the commune's official population.
//!
//! This crate is deliberately empty: the billing issue fills it (price grid, Stripe products and
//! prices, Checkout, webhooks, entitlements). Nothing in the host calls it yet.
