//! Moderation: anyone signed in flags a post; a commune's moderators hide or restore it with
//! a reason; every decision goes to the commune's audit log.

pub mod routes;
pub mod service;
pub mod store;
