//! The Parvis host: configuration, storage, tenancy, accounts, authorization, mail, jobs and
//! the public pages of the platform and of each commune.
//!
//! Features are laid out as folders with the same layers (`routes.rs` → service → `store.rs`).

// `#[derive(Row)]` names the row trait as `::parvis_core::db::sql`, here as in other crates.
extern crate self as parvis_core;

pub mod accounts;
pub mod authz;
pub mod candidates;
pub mod communes;
pub mod config;
pub mod db;
pub mod error;
pub mod feed;
pub mod jobs;
pub mod mail;
pub mod media;
pub mod messages;
pub mod moderation;
pub mod modules;
pub mod neighbourhoods;
pub mod notifications;
pub mod officials;
pub mod payments;
pub mod platform;
pub mod privacy;
pub mod profiles;
pub mod rate_limit;
pub mod rows;
pub mod server;
pub mod state;
pub mod types;
pub mod util;
pub mod web;

/// The allocator of every program built on the host (the server, its tests and benchmarks):
/// requests allocate many small short-lived objects from both workers at once, which mimalloc
/// serves from per-thread pages where glibc's malloc contends.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
