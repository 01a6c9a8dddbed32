//! Guest SDK for Parvis feature modules.
//!
//! Deliberately empty: the module host issue defines the `parvis:module` WIT package under
//! `modules/wit/` and fills this SDK (routing, forms, HTML escaping, storage helpers).
