//! Candidate profiles: an account with the candidate role in a commune, or a resident the
//! commune verified, presents itself for an election (kind, date, list, programme in safe
//! markdown, photo). Profiles are marked « Candidat·e » everywhere, listed on the commune page
//! in a neutral section (alphabetical, never ranked), and a tenant admin can withdraw one with
//! a reason (kept in the audit log). The rules are in [`service`].

pub mod routes;
pub mod service;
pub mod store;
