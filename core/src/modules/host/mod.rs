//! The host side of each `parvis:module` import, one file per WIT interface.

pub mod cache;
pub mod commune;
pub mod feed;
pub mod indicators;
pub mod media;
pub mod neighbourhoods;
pub mod notify;
pub mod payments;
pub mod places;
pub mod runtime;
pub mod storage;

impl crate::modules::bindings::parvis::module::types::Host for crate::modules::call::CallState {}
