//! Posts, follows and the news feed. The feed's order is the one users are told about on the
//! page itself: newest first, from what you follow — nothing ranked, nothing hidden. Posts
//! carry a kind and tags; citizens comment, react and evaluate them ([`engagement`]).

pub mod attachments;
pub mod engagement;
pub mod limiter;
pub mod markdown;
pub mod routes;
pub mod service;
pub mod store;
pub mod tags;
