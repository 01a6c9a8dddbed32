//! The module host: feature modules are WebAssembly components of the `parvis:module` WIT
//! package (`modules/wit/`), installed on a running server, enabled per commune, and served
//! under `/m/<id>/` inside the commune's layout.
//!
//! Layout: [`engine`] (wasmtime, pooling, compile cache), [`registry`] (served versions,
//! per-commune choices, faults, admission), [`input`] (what a request may hand a module),
//! [`call`] (one bounded call in one transaction), [`host`] (the
//! imports, one file per WIT interface), [`cache`] (what modules keep in memory), [`service`] (enable, disable, configure), [`personal`]
//! (what modules keep about an account: export and erasure), [`store`] (SQL), [`routes`] (HTTP).

pub mod api;
pub mod bindings;
pub mod cache;
pub mod call;
pub mod engine;
pub mod host;
pub mod input;
pub mod install;
pub mod now;
pub mod personal;
pub mod places;
pub mod quota;
pub mod registry;
pub mod routes;
pub mod service;
pub mod services;
pub mod store;
pub mod uploads;
pub mod warm;

use std::sync::Arc;
use std::time::Duration;

use crate::modules::bindings::parvis::module::types::Event;
use crate::modules::registry::ModuleHost;

/// How often a server looks for module versions installed by another process.
const SYNC_EVERY: Duration = Duration::from_secs(2);
/// How often modules that asked for it get a `tick` event.
const TICK_EVERY: Duration = Duration::from_secs(60);

/// Background work: pick up new module versions, and deliver scheduled ticks.
pub fn spawn_background(host: &Arc<ModuleHost>) {
    let modules = host.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SYNC_EVERY);
        let db = modules.services().db();
        while !db.is_closed() {
            every.tick().await;
            if let Err(e) = modules.sync(db).await {
                tracing::warn!(error = %e, "module sync failed");
            }
        }
    });
    let modules = host.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(TICK_EVERY);
        every.tick().await;
        while !modules.services().db().is_closed() {
            every.tick().await;
            tick_all(&modules).await;
        }
    });
}

/// Delivers one `tick` to every enabled module that declared the `tick` capability.
pub async fn tick_all(host: &ModuleHost) {
    let now = crate::util::now();
    for module in host.all() {
        if !module.capabilities.contains(&call::Capability::Tick) {
            continue;
        }
        let tenants = match store::tenants_with(host.services().db(), module.id.as_str()).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(module = %module.id, error = %e, "tick: communes unavailable");
                continue;
            }
        };
        for (tenant, slug) in tenants {
            let origin = service::commune_origin(host, &slug);
            match call::event(host, &module, tenant, origin, &Event::Tick(now)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(module = %module.id, tenant = %tenant, error = %e, "tick refused")
                }
                Err(f) => {
                    tracing::warn!(module = %module.id, tenant = %tenant, fault = %f, "tick failed")
                }
            }
        }
    }
}
