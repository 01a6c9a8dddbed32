//! Private messages between a citizen and an official or the commune: threads with unread
//! counts per side, blocks, reports to the moderation queue, rate limits, and a notice (in app,
//! e-mail, push) for each new message. The rules are in [`service`].

pub mod limiter;
pub mod routes;
pub mod service;
pub mod store;
