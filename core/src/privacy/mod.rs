//! GDPR: every account downloads all its data as JSON and deletes itself. Deletion erases
//! what is personal (e-mail, name, password, sessions, follows, claims, flags, roles) and
//! anonymises what was published; posts made for a commune or as an official stay, under the
//! public office's name, since they are public acts.

pub mod personal;
pub mod routes;
pub mod service;
