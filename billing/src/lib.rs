//! Billing for premium modules, priced by the commune's official population (DESIGN.md §2
//! "Billing"): the price grid, Stripe products and prices, Checkout and the billing portal,
//! signed webhooks, and the entitlements that follow subscriptions.

pub mod grid;
pub mod routes;
pub mod service;
pub mod store;
pub mod stripe;
pub mod webhook;

pub use service::Billing;
