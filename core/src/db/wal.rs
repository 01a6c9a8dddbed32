//! Keeps SQLite's write-ahead log small, and the writer's pauses for it short.
//!
//! In WAL mode every commit appends to `<db>-wal`; a checkpoint copies those pages back into
//! the database, and the log restarts from its beginning only once every page is copied and
//! no reader still looks at it. During a storm, readers always do: passive checkpoints copy
//! what they can, the log is never restarted and grows (46 MB beside a 40 MB database after a
//! vote storm, issue 13), and SQLite never shrinks the file on its own. So a watcher looks at
//! the log every [`WAL_WATCH`]:
//! 1. beside the writer, writes going on: a passive checkpoint copies what the log holds into
//!    the database, and the database file is synced. A passive checkpoint syncs the file only
//!    when it copied the whole log, which readers prevent under load: a restart then wrote a
//!    second's copies back to the disk holding the writer (some 70 ms at 2,000 votes/s on
//!    this project's disk; with the truncation, 100 – 190 ms a second). That sync takes a few
//!    ms (most pages are already written back, see below), during which writes go on: a
//!    second passive checkpoint and sync, beside the writer too, take those;
//! 2. past [`WAL_LIMIT`], it takes the writer (a turn like any write transaction's, so no
//!    group is open) and restarts the log: only the pages written since step 1 are left to
//!    copy and sync (8 – 14 ms a second, median, on this project's disk). The file keeps
//!    its size while writes go on (cutting it back cost some 20 ms of the disk);
//! 3. once writes are over (the log no longer grows), it empties the file
//!    (`wal_checkpoint(TRUNCATE)`).
//!
//! Holding the writer, the checkpoint waits for readers still in the log, off the async
//! workers: [`READERS_FIRST`], then twice as long each time they were not gone, up to
//! [`READERS_WAIT`]; if they are not gone, the next look tries again.
//!
//! The syncs beside the writer are in the disk's idle class ([`IdleDisk`]): the disk's
//! scheduler serves every other request first. And they find little to write: after each
//! passive checkpoint the group commits ask for (every 64 commits), the system is told to
//! start writing its copies ([`write_back`]), so they reach the disk a few at a time while
//! the votes go on. Written a second's worth at once by step 1's sync (88 – 161 ms of the disk
//! each second at 2,000 votes/s beside a busy neighbour), they slowed the writer for as long,
//! and the votes queued (docs/performance.md).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex, OnceLock, Weak};
use std::time::Duration;

use sqlx::AnyPool;
use tokio::sync::Mutex;

use super::direct::DirectConn;
use super::turn::{Key, Turns};

/// Size of the log (bytes of its pages) past which it is restarted, and past which its file
/// is emptied once writes are over.
pub const WAL_LIMIT: u64 = 4 << 20;
/// How often the log's size is looked at.
pub const WAL_WATCH: Duration = Duration::from_secs(1);
/// How long a checkpoint holding the writer first waits for readers still in the log
/// (writers wait for it meanwhile): the requests' reads last a few milliseconds.
const READERS_FIRST: Duration = Duration::from_millis(5);
/// Longest it waits: after each time readers were not gone, the next wait is twice as long,
/// up to this; after a restart, it is [`READERS_FIRST`] again. One long read (a results
/// page working out 20,000 tallies reads for 250 ms) then costs the writers 5 ms, not 50,
/// and reads that never stop still let the log be restarted.
const READERS_WAIT: Duration = Duration::from_millis(50);

/// The checkpoint that holds the writer, by how it leaves the log's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checkpoint {
    /// The log starts again from the beginning of its file, which keeps its size.
    Restart,
    /// The file is also cut to nothing.
    Truncate,
}

/// What the watcher needs of a database: weak, so that it ends with the database.
pub(crate) struct Watched {
    pub writer: Weak<Mutex<Option<DirectConn>>>,
    pub turns: Weak<Turns>,
    pub pool: AnyPool,
}

/// Starts the watcher of the log of `file`. It ends with the database: when every handle is
/// gone, or [`Db::close`](super::Db::close) took the writer away.
pub(crate) fn watch(db: Watched, file: &str) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let main = PathBuf::from(file);
    let wal = PathBuf::from(format!("{file}-wal"));
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(WAL_WATCH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let page = page_size(&db.pool).await;
        let mut last = None;
        let mut readers = READERS_FIRST;
        loop {
            tick.tick().await;
            if db.pool.is_closed() || db.writer.strong_count() == 0 {
                return;
            }
            let size = log_size(&wal).await;
            if size == 0 {
                last = None;
                continue;
            }
            // Step 1, beside the writer. `None`: another checkpoint was running (the group
            // commit's, `checkpoint_beside`); the restart copies what it left.
            let frames = passive(&db.pool).await;
            let growing = frames.is_none() || frames != last;
            last = frames;
            let logged = frames.map_or(size, |n| n.saturating_mul(page));
            let mode = if logged > WAL_LIMIT && growing {
                Checkpoint::Restart
            } else if !growing && (logged > 0 || size > WAL_LIMIT) {
                Checkpoint::Truncate
            } else {
                continue;
            };
            // What passive checkpoints copied while readers held the log's end is in the
            // database file but not yet on the disk: only a checkpoint that copies the whole
            // log syncs the file. The restart would write those copies back holding the
            // writer (70 of the 75 ms it held, at 2,000 votes/s on this project's disk).
            let beside = std::time::Instant::now();
            sync_file(&main).await;
            // Writes went on during that sync: copied and synced beside the writer too, they
            // are not left for the restart to copy and sync holding it.
            if mode == Checkpoint::Restart && passive(&db.pool).await.is_some() {
                sync_file(&main).await;
            }
            let beside_ms = beside.elapsed().as_secs_f64() * 1e3;
            match hold_writer_for(&db, mode, readers, beside_ms).await {
                // Restarted: the log keeps its pages until the next write, so the next look
                // finds the same count unless writes went on (then it restarts again), and
                // empties the file if none did.
                Held::Done(true) => readers = READERS_FIRST,
                Held::Done(false) => {
                    tracing::debug!(
                        bytes = size,
                        allowed_ms = readers.as_secs_f64() * 1e3,
                        "log checkpoint waits for readers: next time"
                    );
                    readers = (readers * 2).min(READERS_WAIT);
                }
                Held::Failed(e) => tracing::warn!(error = %e, "log checkpoint failed"),
                Held::Closed => return,
            }
        }
    });
}

enum Held {
    Done(bool),
    Failed(String),
    Closed,
}

/// Step 2 or 3: the checkpoint holding the writer.
async fn hold_writer_for(
    db: &Watched,
    mode: Checkpoint,
    readers: Duration,
    beside_ms: f64,
) -> Held {
    let (Some(writer), Some(turns)) = (db.writer.upgrade(), db.turns.upgrade()) else {
        return Held::Closed;
    };
    // Queued like any writer, fairly: the platform's turn.
    let turn = Turns::take(&turns, Key::Platform).await;
    let taken = std::time::Instant::now();
    drop(turns);
    let mut guard = writer.lock_owned().await;
    if guard.is_none() {
        return Held::Closed;
    }
    let done =
        tokio::task::spawn_blocking(move || guard.as_mut().map(|w| w.checkpoint(mode, readers)))
            .await;
    drop(turn);
    // Every write of the server waited this long (`RUST_LOG=parvis_core::db::wal=debug`).
    tracing::debug!(
        ?mode,
        held_ms = taken.elapsed().as_secs_f64() * 1e3,
        beside_ms,
        "log checkpoint held the writer"
    );
    match done {
        Ok(Some(Ok(restarted))) => Held::Done(restarted),
        Ok(Some(Err(e))) => Held::Failed(e.to_string()),
        Ok(None) => Held::Closed,
        Err(e) => Held::Failed(e.to_string()),
    }
}

/// Writes what the system holds of `path` to the disk (an error leaves it to the checkpoint).
async fn sync_file(path: &Path) {
    on_idle_disk(
        path,
        std::fs::File::sync_data,
        "database file not synced beside the writer",
    )
    .await;
}

/// Starts writing to the disk the pages of `path` the system holds dirty, without waiting for
/// them (`sync_file_range(SYNC_FILE_RANGE_WRITE)`). Called after each passive checkpoint
/// beside the writer (every 64 commits), so that step 1's sync finds little left (see the
/// module's documentation).
pub(super) async fn write_back(path: &Path) {
    on_idle_disk(
        path,
        writeback::start,
        "database file's write-back not started",
    )
    .await;
}

/// Runs `work` on the database file `path`'s descriptor, on a blocking thread in the disk's
/// idle class; an error is only logged (`failed`): the watcher's next look tries again.
async fn on_idle_disk(
    path: &Path,
    work: fn(&std::fs::File) -> std::io::Result<()>,
    failed: &'static str,
) {
    let Some(file) = kept_open(path) else {
        return;
    };
    let done = tokio::task::spawn_blocking(move || {
        let _idle = IdleDisk::enter();
        work(&file)
    })
    .await;
    if let Ok(Err(e)) = done {
        tracing::debug!(error = %e, "{failed}");
    }
}

/// A descriptor of the database file `path`, opened once and **never closed** while the
/// process lives: closing any descriptor of a file drops every POSIX lock the process holds
/// on it, SQLite's included (the first version of this watcher opened and closed the file at
/// each sync, and the browser tests' server answered « disk I/O error » to reads).
fn kept_open(path: &Path) -> Option<Arc<std::fs::File>> {
    static OPEN: OnceLock<StdMutex<HashMap<PathBuf, Arc<std::fs::File>>>> = OnceLock::new();
    let mut open = OPEN
        .get_or_init(StdMutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(file) = open.get(path) {
        return Some(file.clone());
    }
    match std::fs::File::open(path) {
        Ok(file) => {
            let file = Arc::new(file);
            open.insert(path.to_path_buf(), file.clone());
            Some(file)
        }
        Err(e) => {
            tracing::debug!(error = %e, "database file not opened for syncs");
            None
        }
    }
}

/// A passive checkpoint on a pooled connection: it copies what it can without waiting for
/// anyone. The pages in the log, or `None` when another checkpoint held it (or it failed).
pub(super) async fn passive(pool: &AnyPool) -> Option<u64> {
    let row: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await;
    match row {
        Ok((0, log, _)) => u64::try_from(log).ok(),
        Ok(_) => None,
        Err(e) => {
            tracing::debug!(error = %e, "passive checkpoint skipped");
            None
        }
    }
}

/// The database's page size (a log page is one page and a 24-byte header).
async fn page_size(pool: &AnyPool) -> u64 {
    let size: Result<i64, _> = sqlx::query_scalar("PRAGMA page_size").fetch_one(pool).await;
    size.ok()
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or(4096)
        + 24
}

async fn log_size(wal: &Path) -> u64 {
    tokio::fs::metadata(wal).await.map_or(0, |m| m.len())
}

/// While it lives, the calling thread's disk requests are in Linux's idle I/O class: the
/// disk's scheduler (mq-deadline, BFQ) serves them once no other request waits, or after its
/// aging limit (mq-deadline: 10 s), so they never starve. Its class before is restored after
/// (the thread is one of tokio's blocking pool). Elsewhere, or where the call is refused, it
/// does nothing.
struct IdleDisk(Option<i32>);

#[cfg(target_os = "linux")]
#[expect(
    unsafe_code,
    reason = "ioprio_get and ioprio_set, which neither std nor libc wraps, take and return integers only"
)]
mod ioprio {
    /// `IOPRIO_WHO_PROCESS`: with `who` 0, the calling thread.
    const WHO_THREAD: libc::c_long = 1;
    /// `IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT`.
    pub(super) const CLASS_IDLE: i32 = 3 << 13;

    pub(super) fn get() -> Option<i32> {
        // SAFETY: integers in, an integer (or -1 and errno) out; nothing is borrowed.
        let prio = unsafe { libc::syscall(libc::SYS_ioprio_get, WHO_THREAD, 0) };
        i32::try_from(prio).ok().filter(|p| *p >= 0)
    }

    pub(super) fn set(prio: i32) -> bool {
        // SAFETY: as above.
        unsafe {
            libc::syscall(
                libc::SYS_ioprio_set,
                WHO_THREAD,
                0,
                libc::c_long::from(prio),
            ) == 0
        }
    }
}

#[cfg(target_os = "linux")]
#[expect(
    unsafe_code,
    reason = "sync_file_range, which std does not wrap, takes a descriptor and integers only"
)]
mod writeback {
    use std::os::fd::AsRawFd as _;

    pub(super) fn start(file: &std::fs::File) -> std::io::Result<()> {
        // SAFETY: a descriptor `file` keeps open for the call, and integers; nothing is
        // borrowed past it. Offset and length 0: the whole file.
        let done =
            unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
        if done == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod writeback {
    /// Elsewhere the sync of step 1 writes everything.
    pub(super) fn start(_: &std::fs::File) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
mod ioprio {
    pub(super) const CLASS_IDLE: i32 = 0;
    pub(super) fn get() -> Option<i32> {
        None
    }
    pub(super) fn set(_: i32) -> bool {
        false
    }
}

impl IdleDisk {
    fn enter() -> Self {
        Self(ioprio::get().filter(|_| ioprio::set(ioprio::CLASS_IDLE)))
    }
}

impl Drop for IdleDisk {
    fn drop(&mut self) {
        if let Some(before) = self.0 {
            ioprio::set(before);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::{IdleDisk, ioprio};

    /// The pages of `file` the system holds dirty, and those being written, by `cachestat`
    /// (Linux 6.5; `None` before).
    #[expect(
        unsafe_code,
        reason = "cachestat, which neither std nor libc wraps, fills two plain structs"
    )]
    fn dirty_pages(file: &std::fs::File) -> Option<(u64, u64)> {
        use std::os::fd::AsRawFd as _;
        /// `__NR_cachestat`, the same on every architecture.
        const SYS_CACHESTAT: libc::c_long = 451;
        #[repr(C)]
        struct Range {
            off: u64,
            len: u64,
        }
        #[repr(C)]
        #[derive(Default)]
        struct Stat {
            cache: u64,
            dirty: u64,
            writeback: u64,
            evicted: u64,
            recently_evicted: u64,
        }
        let range = Range { off: 0, len: 0 };
        let mut stat = Stat::default();
        // SAFETY: both structs live across the call and have the kernel's layout.
        let done = unsafe {
            libc::syscall(
                SYS_CACHESTAT,
                file.as_raw_fd(),
                &raw const range,
                &raw mut stat,
                0,
            )
        };
        (done == 0).then_some((stat.dirty, stat.writeback))
    }

    #[tokio::test]
    async fn write_back_sends_the_dirty_pages_to_the_disk_without_a_sync()
    -> Result<(), Box<dyn std::error::Error>> {
        use std::io::Write as _;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("pages");
        let mut file = std::fs::File::create(&path)?;
        file.write_all(&vec![7u8; 8 << 20])?;
        let (dirty, _) = dirty_pages(&file)
            .ok_or("cachestat is refused: Linux 6.5 or later is needed to check the write-back")?;
        if dirty == 0 {
            // A memory file system, whose pages never go to a disk: nothing to check there.
            eprintln!("no dirty page to write back under {}", dir.path().display());
            return Ok(());
        }
        super::write_back(&path).await;
        // Without it, the pages stay dirty some 30 s (`vm.dirty_expire_centisecs`).
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut left = dirty_pages(&file);
        while left.is_some_and(|(d, w)| d + w > 0) && std::time::Instant::now() < until {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            left = dirty_pages(&file);
        }
        assert_eq!(left, Some((0, 0)), "of {dirty} dirty pages");
        Ok(())
    }

    #[test]
    fn the_thread_is_in_the_idle_class_while_it_syncs_and_as_before_after() {
        // On a thread of its own: the class is the thread's, and it is changed.
        let checked = std::thread::spawn(|| {
            let before = ioprio::get();
            assert!(before.is_some(), "ioprio_get answers");
            {
                let _idle = IdleDisk::enter();
                assert_eq!(ioprio::get(), Some(ioprio::CLASS_IDLE));
            }
            assert_eq!(ioprio::get(), before);
        })
        .join();
        assert!(
            checked.is_ok(),
            "a check failed on its thread (its message is above)"
        );
    }
}
