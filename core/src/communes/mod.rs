//! The commune: its home page (presentation, logo, municipal team, useful links) and the
//! search over every commune of France.

pub mod activity;
pub mod identity;
pub mod names;
pub mod outline;
pub mod routes;
pub mod search;
pub mod service;
pub mod store;
