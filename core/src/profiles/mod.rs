//! Citizens' public profiles: display name, avatar (resized server-side through
//! [`crate::media`]), a short bio, the communes and citizens they follow, and the privacy
//! settings that decide who sees all this. Accounts are global, so profiles are platform-wide
//! and served at `/citoyens/<id>` on every host. The rules are in [`service`].

pub mod routes;
pub mod service;
pub mod store;
