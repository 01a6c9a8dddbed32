//! Engagement with posts: each post's page (`/publications/<id>`), comments (paged oldest
//! first, deletable by their author, flagged to the moderation queue), reactions from a small
//! neutral set, and 1–5 evaluations of actions, commitments and proposals. The rules are in
//! [`service`].

pub mod routes;
pub mod service;
pub mod store;
