//! What the database says has changed, so that what a process keeps of it can be trusted
//! without asking it again.
//!
//! The triggers of migration 0028 send a notice on the channel [`CHANNEL`] at each commit that
//! touches what a request reads with its session: `a:<account id>` or `t:<tenant id>`. One
//! connection per process listens ([`Changes::listen`]); each notice it handles takes the next
//! number of a sequence and is remembered as the last change of its account or commune.
//!
//! Something read by a statement that began after the sequence stood at `s` (its
//! [`Changes::stamp`]) is still true while no notice about it was handled after `s`
//! ([`Changes::fresh`]): a notice handled at or before `s` was sent at the commit of a change
//! that the statement saw. Notices arrive in commit order, so once this process has handled
//! its own [`Changes::sync`] notice it has handled every notice committed before it: a request
//! that wrote calls it before answering, and the next request of the same person reads what it
//! wrote (read-your-writes), whichever process wrote.
//!
//! Nothing is trusted while the listener is not connected: a notice sent meanwhile is lost, so
//! a reconnection raises the floor below which everything kept is void. The bookkeeping is
//! bounded: past [`MAX_KEYS`] remembered changes, it starts again from a raised floor.
//!
//! **SQLite** has no notices, and any process may write its file (the command line while the
//! server runs). A connection of its own watches `PRAGMA data_version`, which moves at every
//! commit made by any other connection, in this process or another ([`Changes::watch_file`]):
//! checked every [`FILE_CHECK`] and at each [`Changes::sync`], a move voids everything kept.
//! Coarser than notices (any write voids all), and exact for read-your-writes all the same.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgNotification};
use tokio::sync::watch;

use crate::types::TenantId;

/// The channel of migration 0028's triggers.
pub const CHANNEL: &str = "parvis_changed";

/// Accounts and communes whose last change is remembered before starting again from a floor.
pub const MAX_KEYS: usize = 65_536;

/// Longest a request waits for its own [`Changes::sync`] notice; past it, everything kept is
/// dropped (correct, only slower) and the request answers.
const SYNC_WAIT: Duration = Duration::from_secs(2);

/// How often the listener checks that its [`Changes`] is still wanted while no notice comes.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// How often an SQLite file's version is checked for another connection's commit: the longest
/// a write made without a sync (a background job, another process) takes to show.
pub const FILE_CHECK: Duration = Duration::from_millis(20);

/// Where changes are learnt.
enum Source {
    /// PostgreSQL's notices, heard by the listener ([`run`]).
    Notices,
    /// An SQLite file's `data_version`, on a connection of its own, and the last one seen.
    File(Mutex<(rusqlite::Connection, i64)>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Notices => "Notices",
            Source::File(_) => "File",
        })
    }
}

tokio::task_local! {
    /// Whether the request running in this task may have written ([`watching`]).
    static MAY_HAVE_WRITTEN: Cell<bool>;
}

/// Runs `request`, saying whether it reached the database by a way that can write
/// ([`crate::db::Db::platform`], [`crate::db::Db::tenant`], …): such a request syncs before it
/// answers. Reads of the session ([`crate::db::Db::reader`]) do not count.
pub async fn watching<F: Future>(request: F) -> (F::Output, bool) {
    MAY_HAVE_WRITTEN
        .scope(Cell::new(false), async {
            let out = request.await;
            (out, MAY_HAVE_WRITTEN.with(Cell::get))
        })
        .await
}

/// Notes that the running request may write (see [`watching`]); nothing outside one.
pub(crate) fn note_write() {
    let _ = MAY_HAVE_WRITTEN.try_with(|w| w.set(true));
}

/// The changes a process was told of (see the module's documentation).
#[derive(Debug)]
pub struct Changes {
    /// Whether the listener is connected and listening: nothing is stamped otherwise.
    live: AtomicBool,
    /// The sequence: notices handled, plus one at each (re)connection.
    seq: AtomicU64,
    book: Mutex<Book>,
    /// The last of this process's sync notices handled.
    synced: watch::Sender<u64>,
    next_sync: AtomicU64,
    /// Tells this process's sync notices from other processes'.
    nonce: String,
    source: Source,
}

#[derive(Debug, Default)]
struct Book {
    /// Anything stamped below this is void.
    floor: u64,
    accounts: HashMap<String, u64>,
    tenants: HashMap<i64, u64>,
}

impl Book {
    fn reset(&mut self, floor: u64) {
        self.floor = floor;
        self.accounts.clear();
        self.tenants.clear();
    }
}

/// What a notice is about.
#[derive(Debug, PartialEq, Eq)]
enum Notice<'a> {
    Account(&'a str),
    Tenant(i64),
    /// A sync notice: the sending process's nonce and its number.
    Sync(&'a str, u64),
}

fn parse(payload: &str) -> Option<Notice<'_>> {
    let (kind, rest) = payload.split_once(':')?;
    match kind {
        "a" if !rest.is_empty() => Some(Notice::Account(rest)),
        "t" => rest.parse().ok().map(Notice::Tenant),
        "s" => {
            let (nonce, n) = rest.split_once(':')?;
            Some(Notice::Sync(nonce, n.parse().ok()?))
        }
        _ => None,
    }
}

impl Changes {
    fn new(source: Source) -> Changes {
        Changes {
            source,
            live: AtomicBool::new(false),
            seq: AtomicU64::new(0),
            book: Mutex::new(Book::default()),
            synced: watch::Sender::new(0),
            next_sync: AtomicU64::new(1),
            nonce: crate::util::random_token(),
        }
    }

    /// Starts listening on `url`'s database in the background, until the returned handle and
    /// its clones are dropped. Nothing is [`fresh`](Changes::fresh) before the first connection.
    pub fn listen(url: &str) -> Arc<Changes> {
        let changes = Arc::new(Changes::new(Source::Notices));
        tokio::spawn(run(url.to_string(), Arc::downgrade(&changes)));
        changes
    }

    /// Starts watching the SQLite file at `path` for other connections' commits, until the
    /// returned handle and its clones are dropped.
    pub fn watch_file(path: &str) -> Result<Arc<Changes>, rusqlite::Error> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch("PRAGMA busy_timeout = 100; PRAGMA query_only = 1;")?;
        let version = data_version(&conn)?;
        let changes = Arc::new(Changes::new(Source::File(Mutex::new((conn, version)))));
        changes.connected();
        let watched = Arc::downgrade(&changes);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(FILE_CHECK);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match watched.upgrade() {
                    Some(changes) => changes.check_file(),
                    None => return,
                }
            }
        });
        Ok(changes)
    }

    /// Voids everything kept if the file's version moved since the last check; trusts nothing
    /// while it cannot be read.
    fn check_file(&self) {
        let Source::File(watch) = &self.source else {
            return;
        };
        let Ok(mut watch) = watch.lock() else {
            return;
        };
        match data_version(&watch.0) {
            Ok(version) if version == watch.1 && self.live.load(Ordering::SeqCst) => {}
            Ok(version) => {
                watch.1 = version;
                self.connected();
            }
            Err(e) => {
                tracing::warn!(error = %e, "data_version unreadable: nothing kept is trusted");
                self.disconnected();
            }
        }
    }

    /// The stamp of a read about to begin, or `None` while nothing can be trusted.
    pub fn stamp(&self) -> Option<u64> {
        self.live
            .load(Ordering::SeqCst)
            .then(|| self.seq.load(Ordering::SeqCst))
    }

    /// Whether what was read under `stamp` about `account` and `tenants` is still true.
    pub fn fresh(&self, stamp: u64, account: &str, tenants: &[TenantId]) -> bool {
        if !self.live.load(Ordering::SeqCst) {
            return false;
        }
        let Ok(book) = self.book.lock() else {
            return false;
        };
        stamp >= book.floor
            && book.accounts.get(account).is_none_or(|&at| at <= stamp)
            && tenants
                .iter()
                .all(|t| book.tenants.get(&t.get()).is_none_or(|&at| at <= stamp))
    }

    /// Waits until this process has handled every notice committed before now: what it keeps
    /// then reflects every write committed so far, its own included. Costs a round trip and
    /// the notice's way back; does nothing while not listening (nothing is kept then).
    pub async fn sync(&self, pool: &sqlx::AnyPool) {
        if let Source::File(_) = self.source {
            self.check_file();
            return;
        }
        if !self.live.load(Ordering::SeqCst) {
            return;
        }
        let n = self.next_sync.fetch_add(1, Ordering::SeqCst);
        let mut synced = self.synced.subscribe();
        let sent = sqlx::query("SELECT 1 FROM pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(format!("s:{}:{n}", self.nonce))
            .execute(pool)
            .await;
        let arrived = match sent {
            Ok(_) => tokio::time::timeout(SYNC_WAIT, synced.wait_for(|&s| s >= n))
                .await
                .is_ok_and(|r| r.is_ok()),
            Err(_) => false,
        };
        if !arrived {
            tracing::warn!("change notices late: what the process keeps is dropped");
            self.void_all();
        }
    }

    /// Voids everything stamped so far.
    fn void_all(&self) {
        if let Ok(mut book) = self.book.lock() {
            let floor = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
            book.reset(floor);
        }
    }

    fn handle(&self, notice: Notice<'_>) {
        if let Notice::Sync(nonce, n) = notice {
            if nonce == self.nonce {
                self.synced.send_if_modified(|s| {
                    let newer = n > *s;
                    if newer {
                        *s = n;
                    }
                    newer
                });
            }
            return;
        }
        let Ok(mut book) = self.book.lock() else {
            return;
        };
        let at = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        if book.accounts.len() + book.tenants.len() >= MAX_KEYS {
            book.reset(at);
            return;
        }
        match notice {
            Notice::Account(id) => {
                book.accounts.insert(id.to_string(), at);
            }
            Notice::Tenant(id) => {
                book.tenants.insert(id, at);
            }
            Notice::Sync(..) => {}
        }
    }

    /// The listener is connected and listening: everything stamped before is void.
    fn connected(&self) {
        self.void_all();
        self.live.store(true, Ordering::SeqCst);
    }

    fn disconnected(&self) {
        self.live.store(false, Ordering::SeqCst);
    }
}

fn data_version(conn: &rusqlite::Connection) -> Result<i64, rusqlite::Error> {
    conn.query_row("PRAGMA data_version", [], |row| row.get(0))
}

/// Values read from the database, kept while the change notices say they hold, each with the
/// stamp of its read ([`Changes::stamp`]). Bounded, least recently used out first.
pub struct Kept<K, V> {
    entries: Mutex<hashlink::LruCache<K, (V, u64)>>,
}

impl<K: Hash + Eq, V: Clone> Kept<K, V> {
    /// Keeps at most `capacity` values.
    pub fn new(capacity: usize) -> Self {
        Kept {
            entries: Mutex::new(hashlink::LruCache::new(capacity)),
        }
    }

    /// The value kept for `key`, if it still holds: `holds` is given it and the stamp it was
    /// read under, and asks [`Changes::fresh`] about what it was read from. A stale one is
    /// dropped.
    pub fn get(&self, key: &K, holds: impl FnOnce(&V, u64) -> bool) -> Option<V> {
        let mut entries = self.entries.lock().ok()?;
        let (value, stamp) = entries.get(key)?;
        if holds(value, *stamp) {
            Some(value.clone())
        } else {
            entries.remove(key);
            None
        }
    }

    /// Keeps `value`, read under `stamp`.
    pub fn put(&self, key: K, value: V, stamp: u64) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(key, (value, stamp));
        }
    }

    /// Values kept now.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The listener: connects, listens, handles notices; on any loss, stops trusting, reconnects
/// (after a growing pause) and starts from a new floor.
async fn run(url: String, changes: Weak<Changes>) {
    let mut pause = Duration::from_millis(100);
    loop {
        let mut listener = match PgListener::connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "change notices: connection failed");
                if changes.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "change notices: LISTEN failed");
            tokio::time::sleep(pause).await;
            continue;
        }
        match changes.upgrade() {
            Some(c) => c.connected(),
            None => return,
        }
        pause = Duration::from_millis(100);
        loop {
            let next = tokio::time::timeout(IDLE_CHECK, listener.try_recv()).await;
            let Some(c) = changes.upgrade() else {
                return;
            };
            match next {
                Err(_) => {}
                // A lost connection is not replayed: `try_recv` says so with `None`.
                Ok(Ok(Some(n))) => on_notice(&c, &n),
                Ok(Ok(None)) | Ok(Err(_)) => {
                    c.disconnected();
                    tracing::warn!("change notices: connection lost, reconnecting");
                    break;
                }
            }
        }
    }
}

fn on_notice(changes: &Changes, notification: &PgNotification) {
    match parse(notification.payload()) {
        Some(notice) => changes.handle(notice),
        None => {
            tracing::warn!(
                payload = notification.payload(),
                "change notices: unknown notice"
            );
            changes.void_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_read_and_unknown_ones_are_not_guessed() {
        assert_eq!(parse("a:acc-1"), Some(Notice::Account("acc-1")));
        assert_eq!(parse("t:42"), Some(Notice::Tenant(42)));
        assert_eq!(parse("s:abc:7"), Some(Notice::Sync("abc", 7)));
        assert_eq!(parse("t:x"), None);
        assert_eq!(parse("a:"), None);
        assert_eq!(parse("z:1"), None);
        assert_eq!(parse("nothing"), None);
    }

    #[test]
    fn a_read_holds_until_a_notice_about_it_is_handled_after_its_stamp() {
        let c = Changes::new(Source::Notices);
        assert_eq!(c.stamp(), None, "nothing is trusted before listening");
        c.connected();
        let stamp = c.stamp().unwrap_or_default();
        let paris = &[TenantId::for_tests(1)];
        assert!(c.fresh(stamp, "alice", paris));
        c.handle(Notice::Account("bob"));
        c.handle(Notice::Tenant(2));
        assert!(c.fresh(stamp, "alice", paris), "others' changes leave it");
        c.handle(Notice::Tenant(1));
        assert!(!c.fresh(stamp, "alice", paris), "its commune changed");
        assert!(c.fresh(stamp, "alice", &[]), "not read on a commune's site");
        let later = c.stamp().unwrap_or_default();
        assert!(c.fresh(later, "alice", paris), "read after the notice");
        c.handle(Notice::Account("alice"));
        assert!(!c.fresh(later, "alice", &[]), "its account changed");
    }

    #[test]
    fn a_lost_connection_voids_everything_read_before_it() {
        let c = Changes::new(Source::Notices);
        c.connected();
        let stamp = c.stamp().unwrap_or_default();
        c.disconnected();
        assert_eq!(c.stamp(), None);
        assert!(!c.fresh(stamp, "alice", &[]), "not trusted while deaf");
        c.connected();
        assert!(!c.fresh(stamp, "alice", &[]), "notices may have been lost");
        let after = c.stamp().unwrap_or_default();
        assert!(c.fresh(after, "alice", &[]));
    }

    #[test]
    fn the_book_is_bounded_and_starts_again_from_a_floor() {
        let c = Changes::new(Source::Notices);
        c.connected();
        let stamp = c.stamp().unwrap_or_default();
        for i in 0..MAX_KEYS as i64 + 1 {
            c.handle(Notice::Tenant(i + 10));
        }
        let book = c.book.lock().map(|b| b.tenants.len()).unwrap_or(usize::MAX);
        assert!(book < MAX_KEYS, "the book was started again ({book})");
        assert!(!c.fresh(stamp, "alice", &[]), "below the new floor");
    }

    #[test]
    fn only_this_process_sync_notices_count() {
        let c = Changes::new(Source::Notices);
        c.handle(Notice::Sync("someone-else", 5));
        assert_eq!(*c.synced.borrow(), 0);
        let nonce = c.nonce.clone();
        c.handle(Notice::Sync(&nonce, 3));
        c.handle(Notice::Sync(&nonce, 2));
        assert_eq!(*c.synced.borrow(), 3, "never goes back");
    }
}
