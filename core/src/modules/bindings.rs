//! Host bindings of the contract `parvis:module@0.2.0` (`modules/wit/v0.2.0/`), the one
//! version this host serves. A later version gets its own `bindgen!` beside this one, and
//! [`SUPPORTED_CONTRACTS`] lists it; the host logic implements the latest types (see
//! `modules/README.md`, « Versions du contrat »).

wasmtime::component::bindgen!({
    world: "module",
    path: "../modules/wit/v0.2.0",
    imports: { default: async },
    exports: { default: async },
});

/// The WIT package of the contract.
pub const CONTRACT_PACKAGE: &str = "parvis:module";

/// The versions of the contract this host can run, oldest first.
pub const SUPPORTED_CONTRACTS: &[&str] = &["0.2.0"];
