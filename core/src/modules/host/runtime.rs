//! `parvis:module/runtime`: time, ids, randomness and logs, with the commune and module in
//! every log line. Each call counts against the call's host-call budget.

use rand::RngCore as _;

use crate::modules::bindings::parvis::module::runtime::{Host, Level};
use crate::modules::call::CallState;

/// Unix time in milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Longest log line kept from a module.
const MAX_LOG: usize = 2048;

impl Host for CallState {
    async fn now_ms(&mut self) -> i64 {
        self.count_runtime_call();
        now_ms()
    }

    async fn new_id(&mut self) -> String {
        self.count_runtime_call();
        crate::util::new_id()
    }

    async fn random_bytes(&mut self, len: u32) -> Vec<u8> {
        self.count_runtime_call();
        let mut bytes = vec![0u8; len.min(1024) as usize];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        bytes
    }

    async fn log(&mut self, level: Level, message: String) {
        self.count_runtime_call();
        let mut message = message;
        if message.len() > MAX_LOG {
            let mut end = MAX_LOG;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        let tenant = self.tenant.map(|t| t.0).unwrap_or_default();
        let module = self.module.as_str();
        match level {
            Level::Debug => tracing::debug!(target: "parvis::module", module, tenant, "{message}"),
            Level::Info => tracing::info!(target: "parvis::module", module, tenant, "{message}"),
            Level::Warn => tracing::warn!(target: "parvis::module", module, tenant, "{message}"),
            Level::Error => tracing::error!(target: "parvis::module", module, tenant, "{message}"),
        }
    }
}
