//! The platform site (apex host): landing with commune search, the "inscrire ma commune"
//! request a mayor files, and the about page explaining neutrality and the feed order.

pub mod app;
pub mod requests;
pub mod routes;
