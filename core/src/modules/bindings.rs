//! Host bindings of the contract `parvis:module@0.2.9` (`modules/wit/v0.2.9/`). It only adds
//! imports to 0.2.1 and 0.2.0, so the same bindings run components built for those: wasmtime's
//! linker gives an import of `parvis:module/payments@0.2.0` the host's `@0.2.2` instance (semver
//! compatible, a superset), and finds a component's `guest@0.2.0` export the same way. A
//! breaking version gets its own `bindgen!` beside this one, and [`SUPPORTED_CONTRACTS`] lists
//! it; the host logic implements the latest types (see `modules/README.md`, « Versions du
//! contrat »).

wasmtime::component::bindgen!({
    world: "module",
    path: "../modules/wit/v0.2.9",
    imports: { default: async },
    exports: { default: async },
});

/// The WIT package of the contract.
pub const CONTRACT_PACKAGE: &str = "parvis:module";

/// The versions of the contract this host can run, oldest first.
pub const SUPPORTED_CONTRACTS: &[&str] = &[
    "0.2.0", "0.2.1", "0.2.2", "0.2.3", "0.2.4", "0.2.5", "0.2.6", "0.2.7", "0.2.8", "0.2.9",
];
