//! Host bindings of the frozen contract `parvis:module@0.1.0` (`modules/wit/v0.1.0/`). A later
//! version gets its own file beside this one; the host logic implements the latest types.

wasmtime::component::bindgen!({
    world: "module",
    path: "../modules/wit/v0.1.0",
    imports: { default: async },
    exports: { default: async },
});
