//! Global accounts: sign-up with e-mail verification, login, logout, password reset, and one
//! sign-in for every host of the platform ([`sso`]), two factors ([`totp`]) and sign-in with
//! FranceConnect ([`franceconnect`]).
//! Passwords are hashed with Argon2id; login attempts are rate-limited per address and per IP.

pub mod franceconnect;
mod limiter;
pub mod routes;
pub mod service;
pub mod sso;
pub mod store;
pub mod totp;

pub use limiter::LoginLimiter;
