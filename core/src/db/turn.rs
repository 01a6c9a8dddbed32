//! Turns at SQLite's one writer, shared fairly between communes.
//!
//! SQLite lets one connection write at a time. Every writer of the process waits here for its
//! turn, instead of sleeping in SQLite's busy handler: the busy handler polls with growing
//! sleeps, so while one commune's writers take the lock back to back a pooled writer (a login's
//! session) almost never finds it free and fails after the busy timeout (« database is
//! locked »). Here a turn is handed over directly from one writer to the next.
//!
//! The order is fair per commune: waiters queue by [`Key`] (a tenant, or the platform, which
//! counts as one more tenant), and turns go round-robin among the keys that have waiters, FIFO
//! within a key. A commune with 200 writers queued delays another commune's single writer by
//! one turn, not 200. How long one turn may last is bounded by whoever holds it (a module call
//! is bounded by its deadline).
//!
//! A task holding a turn must never wait for another turn: it would wait for itself.
//!
//! The queue also tells the group commit (`db/direct.rs`) whether the next writer may join
//! the open group: a member's answer waits for its group's commit, so a quick writer is never
//! handed over to a writer of a key whose turns lately held the writer long ([`SLOW_HOLD`]):
//! one commune's slow module calls would otherwise hold up another commune's quick ones. What
//! counts is a key's typical turn, not one turn: on a loaded machine any quick turn can be
//! stretched past 50 ms by the scheduler, and a commune whose votes then all committed one by
//! one for seconds fell further behind with each (the consultation benchmark, 2026-12-07).
//!
//! It counts where the writer's time goes ([`WriterUse`]: turns, commits, hand-overs from one
//! writer to the next), since every write of the server passes through it one at a time: its
//! share of the time held is how near the server's writes are to what it can take.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::types::TenantId;

/// A turn held longer than this is a slow one. A poll vote holds the writer well under a
/// millisecond; a module call may hold it up to `MAX_WRITER_HOLD` (1 s).
pub(crate) const SLOW_HOLD: Duration = Duration::from_millis(50);
/// A key is slow, its writers starting groups of their own, while its typical turn (each turn
/// weighs a quarter, the earlier ones the rest) is over this. A quick key's one slow turn
/// makes it slow for its next turn or two: one of 60 ms for one, of 1 s for ten; a key whose
/// turns are all slow stays slow.
const SLOW_TYPICAL: Duration = Duration::from_millis(12);
/// A key's typical turn is followed from its first slow turn until it is back under this.
const QUICK_AGAIN: Duration = Duration::from_millis(1);
/// How long a key with no turn stays slow after its last slow turn.
const SLOW_FOR: Duration = Duration::from_secs(10);
/// Slow keys remembered before the expired ones are swept.
const SLOW_SWEEP: usize = 1024;

/// Whose queue a writer waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// Platform tables (sessions, accounts, jobs, …), and the log's checkpoints.
    Platform,
    /// One commune's tenant-owned rows.
    Tenant(TenantId),
}

/// The queue of writers, shared by every handle of one database.
#[derive(Debug, Default)]
pub(crate) struct Turns {
    state: Mutex<State>,
    /// Writers waiting for a turn (read without the lock by the group commit).
    waiting: AtomicUsize,
    /// Keys whose pace is followed (`State::slow`'s length, read without the lock by every
    /// turn's end: none, and a quick turn notes nothing).
    followed: AtomicUsize,
    /// What the writer's time went to, since the database opened.
    usage: Usage,
}

/// Counters of [`WriterUse`], kept with relaxed atomics (each is read on its own).
#[derive(Debug, Default)]
struct Usage {
    turns: AtomicU64,
    held_ns: AtomicU64,
    handovers: AtomicU64,
    handing_over_ns: AtomicU64,
    commits: AtomicU64,
    committing_ns: AtomicU64,
    statements: AtomicU64,
    running_ns: AtomicU64,
}

/// Where SQLite's one writer spent its time since the database opened: the capacity of every
/// write of the server is what it can do in a second. [`WriterUse::since`] gives a period's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterUse {
    /// Turns ended.
    pub turns: u64,
    /// Their time, from the moment a writer had its turn until it passed it on (its commit
    /// included, if it committed).
    pub held: Duration,
    /// Turns handed from one writer to the next waiting one.
    pub handovers: u64,
    /// The time between those: the next writer was told but had not run yet (its task waited
    /// for a thread of the runtime). Nobody writes meanwhile.
    pub handing_over: Duration,
    /// Group commits ended by a member's turn (one per group of transactions; a group left
    /// open and ended by a pooled writer's turn or a checkpoint is in that turn's time only).
    pub commits: u64,
    /// Their time (within `held`).
    pub committing: Duration,
    /// Statements run by the group writers (the module calls' transactions), commits aside.
    pub statements: u64,
    /// Their time in SQLite (within `held`); the rest of a turn is the caller's own work
    /// (a module's code, the host's) and the time its task waited for a thread.
    pub running: Duration,
}

impl WriterUse {
    /// What happened between `earlier` and this reading.
    pub fn since(&self, earlier: &WriterUse) -> WriterUse {
        WriterUse {
            turns: self.turns.saturating_sub(earlier.turns),
            held: self.held.saturating_sub(earlier.held),
            handovers: self.handovers.saturating_sub(earlier.handovers),
            handing_over: self.handing_over.saturating_sub(earlier.handing_over),
            commits: self.commits.saturating_sub(earlier.commits),
            committing: self.committing.saturating_sub(earlier.committing),
            statements: self.statements.saturating_sub(earlier.statements),
            running: self.running.saturating_sub(earlier.running),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[derive(Debug, Default)]
struct State {
    /// The writer whose turn it is (it may not have woken up yet).
    holder: Option<u64>,
    /// When the turn was handed to a waiting `holder` that has not woken up yet.
    handed: Option<Instant>,
    next_id: u64,
    /// Keys with waiters, in the order they will be served.
    ring: VecDeque<Key>,
    /// The waiters of each key, in arrival order.
    queues: HashMap<Key, VecDeque<(u64, Arc<Notify>)>>,
    /// The keys followed since a turn of theirs held the writer longer than [`SLOW_HOLD`].
    slow: HashMap<Key, Pace>,
}

/// How long a key's turns hold the writer lately.
#[derive(Debug, Clone, Copy)]
struct Pace {
    /// Its typical turn: each turn counts for a quarter, the earlier ones for the rest.
    typical: Duration,
    /// Until when it may count as slow (its last slow turn and [`SLOW_FOR`]).
    until: Instant,
}

impl Pace {
    fn is_slow(&self, now: Instant) -> bool {
        self.typical > SLOW_TYPICAL && self.until > now
    }
}

impl Turns {
    /// Writers waiting for a turn now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Where the writer's time went so far.
    pub(crate) fn usage(&self) -> WriterUse {
        let u = &self.usage;
        let time = |a: &AtomicU64| Duration::from_nanos(a.load(Ordering::Relaxed));
        WriterUse {
            turns: u.turns.load(Ordering::Relaxed),
            held: time(&u.held_ns),
            handovers: u.handovers.load(Ordering::Relaxed),
            handing_over: time(&u.handing_over_ns),
            commits: u.commits.load(Ordering::Relaxed),
            committing: time(&u.committing_ns),
            statements: u.statements.load(Ordering::Relaxed),
            running: time(&u.running_ns),
        }
    }

    /// Counts `n` statements of the group writer that took `took` in all.
    pub(crate) fn note_statements(&self, n: u64, took: Duration) {
        self.usage.statements.fetch_add(n, Ordering::Relaxed);
        self.usage
            .running_ns
            .fetch_add(nanos(took), Ordering::Relaxed);
    }

    /// Counts a commit of the writer connection that took `took`.
    pub(crate) fn note_commit(&self, took: Duration) {
        self.usage.commits.fetch_add(1, Ordering::Relaxed);
        self.usage
            .committing_ns
            .fetch_add(nanos(took), Ordering::Relaxed);
    }

    /// Whether a writer is waiting and the next one served may join an open group commit:
    /// its key's turns have not been slow lately (see [`SLOW_TYPICAL`]).
    pub(crate) fn next_may_join(&self) -> bool {
        if self.waiting() == 0 {
            return false;
        }
        let state = self.lock();
        let Some(&next) = state.ring.front() else {
            return false;
        };
        !state
            .slow
            .get(&next)
            .is_some_and(|pace| pace.is_slow(Instant::now()))
    }

    /// Notes how long a writer of `key` held its turn.
    pub(crate) fn note_hold(&self, key: Key, held: Duration) {
        let slow_turn = held > SLOW_HOLD;
        if !slow_turn && self.followed.load(Ordering::Acquire) == 0 {
            return;
        }
        let now = Instant::now();
        let mut state = self.lock();
        let pace = match state.slow.get_mut(&key) {
            Some(pace) => pace,
            None if slow_turn => {
                if state.slow.len() >= SLOW_SWEEP {
                    state.slow.retain(|_, pace| pace.until > now);
                }
                self.followed.store(state.slow.len() + 1, Ordering::Release);
                state.slow.entry(key).or_insert(Pace {
                    typical: Duration::ZERO,
                    until: now,
                })
            }
            None => return,
        };
        let was_slow = pace.is_slow(now);
        pace.typical = pace.typical - pace.typical / 4 + held / 4;
        if slow_turn {
            pace.until = now + SLOW_FOR;
        }
        let (is_slow, typical) = (pace.is_slow(now), pace.typical);
        if typical < QUICK_AGAIN {
            state.slow.remove(&key);
            self.followed.store(state.slow.len(), Ordering::Release);
        }
        if is_slow && !was_slow {
            // `RUST_LOG=parvis_core::db::turn=debug`: whether a run's votes lost their grouping.
            tracing::debug!(
                ?key,
                held_ms = held.as_secs_f64() * 1e3,
                typical_ms = typical.as_secs_f64() * 1e3,
                "marked slow: its writers commit on their own"
            );
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent after every statement: a panic elsewhere cannot break it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for the turn of a writer of `key`. Cancel-safe: a waiter dropped before its turn
    /// leaves the queue, and one dropped as its turn came passes it on.
    pub(crate) async fn take(self: &Arc<Self>, key: Key) -> Turn {
        let (id, notify) = {
            let mut state = self.lock();
            let id = state.next_id;
            state.next_id = state.next_id.wrapping_add(1);
            if state.holder.is_none() && state.ring.is_empty() {
                state.holder = Some(id);
                return Turn {
                    turns: self.clone(),
                    began: Instant::now(),
                };
            }
            let notify = Arc::new(Notify::new());
            let queue = state.queues.entry(key).or_default();
            queue.push_back((id, notify.clone()));
            if queue.len() == 1 {
                state.ring.push_back(key);
            }
            self.waiting.fetch_add(1, Ordering::AcqRel);
            (id, notify)
        };
        let pending = Pending {
            turns: self,
            id,
            key,
        };
        loop {
            notify.notified().await;
            let mut state = self.lock();
            if state.holder == Some(id) {
                let began = Instant::now();
                if let Some(handed) = state.handed.take() {
                    let u = &self.usage;
                    u.handovers.fetch_add(1, Ordering::Relaxed);
                    u.handing_over_ns.fetch_add(
                        nanos(began.saturating_duration_since(handed)),
                        Ordering::Relaxed,
                    );
                }
                drop(state);
                std::mem::forget(pending);
                return Turn {
                    turns: self.clone(),
                    began,
                };
            }
        }
    }

    /// Ends the current turn: the next key in the ring gets it, for its oldest waiter.
    fn pass(&self, state: &mut State) {
        state.holder = None;
        state.handed = None;
        while let Some(key) = state.ring.pop_front() {
            let Some(queue) = state.queues.get_mut(&key) else {
                continue;
            };
            let Some((id, notify)) = queue.pop_front() else {
                state.queues.remove(&key);
                continue;
            };
            if queue.is_empty() {
                state.queues.remove(&key);
            } else {
                state.ring.push_back(key);
            }
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            state.holder = Some(id);
            state.handed = Some(Instant::now());
            // A stored permit: the waiter gets it even if it is not polling yet.
            notify.notify_one();
            return;
        }
    }
}

/// A writer's turn: SQLite's lock is this writer's to take until it is dropped.
#[derive(Debug)]
pub(crate) struct Turn {
    turns: Arc<Turns>,
    /// When this writer had its turn.
    began: Instant,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let u = &self.turns.usage;
        u.turns.fetch_add(1, Ordering::Relaxed);
        u.held_ns
            .fetch_add(nanos(self.began.elapsed()), Ordering::Relaxed);
        let mut state = self.turns.lock();
        self.turns.pass(&mut state);
    }
}

/// A writer still in the queue; dropped (its request cancelled), it leaves.
struct Pending<'a> {
    turns: &'a Arc<Turns>,
    id: u64,
    key: Key,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let mut state = self.turns.lock();
        if state.holder == Some(self.id) {
            // Its turn came as it left: hand it on.
            self.turns.pass(&mut state);
            return;
        }
        let Some(queue) = state.queues.get_mut(&self.key) else {
            return;
        };
        let before = queue.len();
        queue.retain(|(id, _)| *id != self.id);
        if queue.len() < before {
            self.turns.waiting.fetch_sub(1, Ordering::AcqRel);
        }
        if queue.is_empty() {
            state.queues.remove(&self.key);
            let key = self.key;
            state.ring.retain(|k| *k != key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paris queues five writers, then Lyon one: Lyon's comes second, not sixth.
    #[tokio::test]
    async fn round_robin_between_keys() {
        let turns = Arc::new(Turns::default());
        let first = turns.take(Key::Tenant(TenantId::for_tests(1))).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, tenant) in [1, 1, 1, 1, 1, 2].into_iter().enumerate() {
            let (queue, order) = (turns.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _turn = queue.take(Key::Tenant(TenantId::for_tests(tenant))).await;
                order.lock().unwrap_or_else(|e| e.into_inner()).push(i);
            }));
            // Queue them in this order.
            while turns.waiting() < i + 1 {
                tokio::task::yield_now().await;
            }
        }
        drop(first);
        for task in tasks {
            assert!(task.await.is_ok());
        }
        let order = order.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert_eq!(order, vec![0, 5, 1, 2, 3, 4]);
        assert_eq!(turns.waiting(), 0);
    }

    /// After a long turn of Paris, a writer handing over the writer does not keep its group
    /// open for Paris's next writer; Lyon's still may join.
    #[tokio::test]
    async fn slow_keys_do_not_join_groups() {
        let turns = Arc::new(Turns::default());
        let (paris, lyon) = (
            Key::Tenant(TenantId::for_tests(1)),
            Key::Tenant(TenantId::for_tests(2)),
        );
        turns.note_hold(paris, SLOW_HOLD * 2);
        turns.note_hold(lyon, SLOW_HOLD / 2);
        let first = turns.take(Key::Platform).await;
        assert!(!turns.next_may_join(), "no one waits");
        let waiter = |key| {
            let turns = turns.clone();
            tokio::spawn(async move { drop(turns.take(key).await) })
        };
        let paris_waits = waiter(paris);
        while turns.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        assert!(!turns.next_may_join(), "Paris held the writer long");
        drop(first);
        assert!(paris_waits.await.is_ok());
        let first = turns.take(Key::Platform).await;
        let lyon_waits = waiter(lyon);
        while turns.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        assert!(turns.next_may_join(), "Lyon's turns are short");
        drop(first);
        assert!(lyon_waits.await.is_ok());
    }

    /// One slow turn of a quick commune (the scheduler stretched it) costs it its grouping
    /// for a turn or two; a commune whose turns are all slow stays slow.
    #[test]
    fn a_key_is_slow_by_its_typical_turn() {
        let turns = Turns::default();
        let (paris, lyon) = (
            Key::Tenant(TenantId::for_tests(1)),
            Key::Tenant(TenantId::for_tests(2)),
        );
        let slow = |key: Key| {
            let state = turns.lock();
            state
                .slow
                .get(&key)
                .is_some_and(|pace| pace.is_slow(Instant::now()))
        };
        let quick = Duration::from_micros(300);
        turns.note_hold(paris, quick);
        assert!(!slow(paris));
        turns.note_hold(paris, Duration::from_millis(60));
        assert!(slow(paris), "a slow turn marks its key");
        turns.note_hold(paris, quick);
        assert!(!slow(paris), "one quick turn after one of 60 ms");
        turns.note_hold(paris, SLOW_HOLD * 20);
        for n in 0..9 {
            assert!(slow(paris), "{n} quick turns after one of 1 s");
            turns.note_hold(paris, quick);
        }
        for _ in 0..20 {
            turns.note_hold(paris, quick);
        }
        assert!(!slow(paris));
        assert_eq!(
            turns.followed.load(Ordering::Acquire),
            0,
            "Paris is no longer followed"
        );
        for _ in 0..4 {
            turns.note_hold(lyon, SLOW_HOLD * 2);
        }
        for _ in 0..3 {
            turns.note_hold(lyon, quick);
        }
        assert!(slow(lyon), "a key whose turns are slow stays slow");
        assert!(!slow(paris));
    }

    /// The writer's use adds up: two turns, the second handed over, the first held 20 ms.
    #[tokio::test]
    async fn usage_counts_turns_handovers_and_commits() {
        let turns = Arc::new(Turns::default());
        let start = turns.usage();
        assert_eq!(start, WriterUse::default());
        let first = turns.take(Key::Platform).await;
        let waiter = {
            let turns = turns.clone();
            tokio::spawn(async move { drop(turns.take(Key::Tenant(TenantId::for_tests(1))).await) })
        };
        while turns.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        assert!(waiter.await.is_ok());
        turns.note_commit(Duration::from_millis(3));
        let used = turns.usage().since(&start);
        assert_eq!((used.turns, used.handovers, used.commits), (2, 1, 1));
        assert!(used.held >= Duration::from_millis(20), "{used:?}");
        assert_eq!(used.committing, Duration::from_millis(3));
        assert!(used.handing_over < Duration::from_secs(5), "{used:?}");
        // A turn taken with no one before it is not a handover.
        drop(turns.take(Key::Platform).await);
        let again = turns.usage().since(&start);
        assert_eq!((again.turns, again.handovers), (3, 1));
    }

    /// A waiter that gives up leaves the queue; the turn still reaches the next one.
    #[tokio::test]
    async fn cancelled_waiters_leave() {
        let turns = Arc::new(Turns::default());
        let first = turns.take(Key::Platform).await;
        let cancelled = {
            let turns = turns.clone();
            tokio::spawn(async move {
                let _turn = turns.take(Key::Tenant(TenantId::for_tests(1))).await;
            })
        };
        while turns.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        cancelled.abort();
        let _ = cancelled.await;
        assert_eq!(turns.waiting(), 0);
        drop(first);
        let again = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            turns.take(Key::Tenant(TenantId::for_tests(2))),
        )
        .await;
        assert!(again.is_ok());
    }
}
