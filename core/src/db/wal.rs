//! Keeps SQLite's write-ahead log small.
//!
//! In WAL mode every commit appends to `<db>-wal`; a checkpoint copies those pages back into
//! the database, and the log restarts from its beginning only once every page is copied and
//! no reader still looks at it. During a storm, readers always do: passive checkpoints copy
//! what they can, the log is never restarted and grows (46 MB beside a 40 MB database after a
//! vote storm, issue 13), and SQLite never shrinks the file on its own. So:
//! - `journal_size_limit` ([`WAL_LIMIT`]) cuts the file back whenever the log restarts;
//! - a watcher looks at the file's size every [`WAL_WATCH`]: past the limit, or no longer
//!   growing (the storm is over), it takes the writer (a turn like any write transaction's, so
//!   no group is open) and runs `wal_checkpoint(TRUNCATE)`, which copies everything back and
//!   empties the file. It waits at most [`READERS_WAIT`] for readers to leave the log, off the
//!   async workers; if they do not, the next look tries again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Mutex;

use super::direct::DirectConn;
use super::turn::{Key, Turns};

/// Size the log is cut back to, and past which it is checkpointed to empty (bytes).
pub const WAL_LIMIT: u64 = 4 << 20;
/// How often the log's size is looked at.
pub const WAL_WATCH: Duration = Duration::from_secs(1);
/// Longest a truncating checkpoint waits for readers (writers wait for it meanwhile).
const READERS_WAIT: Duration = Duration::from_millis(50);

/// Starts the watcher of the log of `file`. It ends with the database: when every handle is
/// gone, or [`Db::close`](super::Db::close) took the writer away.
pub(crate) fn watch(writer: Weak<Mutex<Option<DirectConn>>>, turns: Weak<Turns>, file: &str) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let wal = PathBuf::from(format!("{file}-wal"));
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(WAL_WATCH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = 0;
        loop {
            tick.tick().await;
            let size = log_size(&wal).await;
            let due = size > WAL_LIMIT || (size > 0 && size == last);
            last = size;
            if !due {
                if writer.strong_count() == 0 {
                    return;
                }
                continue;
            }
            let (Some(writer), Some(turns)) = (writer.upgrade(), turns.upgrade()) else {
                return;
            };
            // Queued like any writer, fairly: the platform's turn.
            let turn = Turns::take(&turns, Key::Platform).await;
            let taken = std::time::Instant::now();
            drop(turns);
            let mut guard = Arc::clone(&writer).lock_owned().await;
            drop(writer);
            if guard.is_none() {
                return;
            }
            let done = tokio::task::spawn_blocking(move || {
                guard.as_mut().map(|w| w.checkpoint_truncate(READERS_WAIT))
            })
            .await;
            drop(turn);
            // Every write of the server waited this long (`RUST_LOG=parvis_core::db::wal=debug`:
            // at 2,000 votes/s the consultation benchmark measured a median of 51 ms, up to 300 ms).
            tracing::debug!(
                bytes = size,
                held_ms = taken.elapsed().as_secs_f64() * 1e3,
                "log checkpoint held the writer"
            );
            match done {
                Ok(Some(Ok(true))) => last = log_size(&wal).await,
                Ok(Some(Ok(false))) => {
                    tracing::debug!(bytes = size, "log checkpoint waits for readers: next time")
                }
                Ok(Some(Err(e))) => tracing::warn!(error = %e, "log checkpoint failed"),
                Ok(None) => return,
                Err(e) => tracing::warn!(error = %e, "log checkpoint task failed"),
            }
        }
    });
}

async fn log_size(wal: &Path) -> u64 {
    tokio::fs::metadata(wal).await.map_or(0, |m| m.len())
}
