//! A commune's name in a French sentence: the rules live in `parvis-names` (`core/names`),
//! which the module SDK shares, so that modules and the host write « d'Annecy » alike.

pub use parvis_names::{at, of};
