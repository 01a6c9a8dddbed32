//! Dates as the commune reads them, in Europe/Paris: polls keep Unix milliseconds (the host's
//! clock), so they use the SDK's millisecond helpers.

pub use parvis_module_sdk::time::ms::{format_fr, iso_utc as to_iso_utc, parse_local, to_input};
