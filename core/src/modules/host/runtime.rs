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
/// Log lines kept from one call: past them, one line says the rest was dropped. The runtime
/// budget alone would let one call write 100,000 lines of 2 KiB to the host's log.
pub(crate) const MAX_LOG_LINES: u32 = 100;

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
        // A read call that began to write is run again as a writer (`call::run`): what it
        // says now, its store's refusal first, is about a run that is thrown away.
        if self.read_call_wrote_late {
            return;
        }
        self.log_lines = self.log_lines.saturating_add(1);
        if self.log_lines > MAX_LOG_LINES {
            if self.log_lines == MAX_LOG_LINES + 1 {
                tracing::warn!(target: "parvis::module", module = self.module.as_str(),
                    tenant = self.tenant().map(crate::types::TenantId::get).unwrap_or_default(),
                    "plus de {MAX_LOG_LINES} lignes de journal dans une requête : les suivantes sont ignorées");
            }
            return;
        }
        let mut message = message;
        if message.len() > MAX_LOG {
            let mut end = MAX_LOG;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        let tenant = self
            .tenant()
            .map(crate::types::TenantId::get)
            .unwrap_or_default();
        let module = self.module.as_str();
        match level {
            Level::Debug => tracing::debug!(target: "parvis::module", module, tenant, "{message}"),
            Level::Info => tracing::info!(target: "parvis::module", module, tenant, "{message}"),
            Level::Warn => tracing::warn!(target: "parvis::module", module, tenant, "{message}"),
            Level::Error => tracing::error!(target: "parvis::module", module, tenant, "{message}"),
        }
    }
}
