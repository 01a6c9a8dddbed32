//! Instances made ahead of their request, and freed after it, off the request's path.
//!
//! Every module call still gets an instance of its own that nothing ran in before (see
//! `call`): what changes is *when* the host pays for it. Making an instance (linking the
//! component's core instances, about 20 µs for a small module) and freeing it (resetting its
//! memory, about 8 µs) were most of a small module route. Here one instance per recently
//! called module waits, made by a background task with no commune bound to it (no import
//! works until [`call`](crate::modules::call) binds one); a call takes it, and once it has
//! answered hands its store to the same task, which frees it and makes the next.
//!
//! Bounds: at most [`WARM_MAX`] waiting instances in all (the admission leaves that many of
//! the pool's instances free for them), each counted in the host's memory budget like any
//! live instance. A module whose instance could not be made (a start that traps or runs past
//! the call's time) is not made ahead again: its calls make their own, as before, and meet
//! the fault themselves.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use wasmtime::Store;

use crate::modules::bindings::Module;
use crate::modules::call::{CallState, new_store};
use crate::modules::registry::{Admitted, LoadedModule, ModuleHost};

/// Instances waiting in all, over every module.
pub const WARM_MAX: usize = 8;
/// Instances waiting per module: the second covers a call that comes while the first's
/// successor is still being made.
pub const WARM_DEPTH: usize = 2;
/// Finished calls waiting for the background task; past it a call frees its own store.
const DONE_QUEUE: usize = 256;

/// An instance made ahead, not bound to any call yet.
pub(crate) struct Ready {
    module: Arc<LoadedModule>,
    made: Instant,
    pub(crate) store: Store<CallState>,
    pub(crate) instance: Module,
}

/// Takes out the instance that has waited longest.
fn oldest(ready: &mut HashMap<String, Vec<Ready>>) -> Option<Ready> {
    let (id, at) = ready
        .iter()
        .flat_map(|(id, waiting)| {
            waiting
                .iter()
                .enumerate()
                .map(move |(i, r)| ((id, i), r.made))
        })
        .min_by_key(|(_, made)| *made)
        .map(|((id, i), _)| (id.clone(), i))?;
    let waiting = ready.get_mut(&id)?;
    let taken = waiting.remove(at);
    if waiting.is_empty() {
        ready.remove(&id);
    }
    Some(taken)
}

/// What the background task is asked to do after a call: free its store, then its admission
/// (in that order: the admission stands for the pool slot), then make the module's next
/// instance. One message per call, so one wake-up of the task at most.
struct Done {
    store: Store<CallState>,
    admitted: Admitted,
    module: Arc<LoadedModule>,
}

/// The waiting instances, and the task that makes them and frees finished stores.
pub(crate) struct Warm {
    ready: Mutex<HashMap<String, Vec<Ready>>>,
    /// Modules (by SHA-256) not made ahead: making their instance failed.
    cold: Mutex<HashSet<String>>,
    /// The background task (see [`Warm::start`]); before it starts, calls free their own
    /// stores and nothing is made ahead.
    jobs: OnceLock<tokio::sync::mpsc::Sender<Done>>,
    /// Calls that found an instance made ahead, and calls that made their own.
    pub(crate) found: AtomicU64,
    pub(crate) missed: AtomicU64,
}

impl Warm {
    pub(crate) fn new() -> Warm {
        Warm {
            ready: Mutex::default(),
            cold: Mutex::default(),
            jobs: OnceLock::new(),
            found: AtomicU64::new(0),
            missed: AtomicU64::new(0),
        }
    }

    /// Starts the background task (for the host's lifetime).
    pub(crate) fn start(host: &Arc<ModuleHost>) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Done>(DONE_QUEUE);
        if host.warm.jobs.set(tx).is_err() {
            return;
        }
        let weak: Weak<ModuleHost> = Arc::downgrade(host);
        tokio::spawn(async move {
            while let Some(Done {
                store,
                admitted,
                module,
            }) = rx.recv().await
            {
                drop(store);
                drop(admitted);
                // Every finished call waiting is freed before an instance is made: memory
                // held past its call counts against the budgets of the calls that follow.
                let mut next = vec![module];
                while let Ok(more) = rx.try_recv() {
                    drop(more.store);
                    drop(more.admitted);
                    if !next.iter().any(|m| Arc::ptr_eq(m, &more.module)) {
                        next.push(more.module);
                    }
                }
                let Some(host) = weak.upgrade() else { return };
                for module in next {
                    if host.warm.warmable(&module) {
                        host.warm.make(&host, module).await;
                    }
                }
            }
        });
    }

    /// The instance made ahead for `module` (this very version), if one waits.
    pub(crate) fn take(&self, module: &Arc<LoadedModule>) -> Option<Ready> {
        let ready = self.ready.lock().ok().and_then(|mut ready| {
            let waiting = ready.get_mut(module.id.as_str())?;
            // Another version of the module was installed since: those are dropped.
            waiting.retain(|r| Arc::ptr_eq(&r.module, module));
            waiting.pop()
        });
        let (counter, made) = match ready {
            Some(_) => (&self.found, "ahead"),
            None => (&self.missed, "on_call"),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("parvis_module_instances_total", "made" => made).increment(1);
        ready
    }

    /// Hands a finished call's store and admission to the background task, which frees them
    /// and makes the module's next instance; frees them here when the task is not running
    /// or is behind by [`DONE_QUEUE`] calls.
    pub(crate) fn done(
        &self,
        store: Store<CallState>,
        admitted: Admitted,
        module: &Arc<LoadedModule>,
    ) {
        let Some(jobs) = self.jobs.get() else {
            drop(store);
            drop(admitted);
            return;
        };
        let sent = jobs.try_send(Done {
            store,
            admitted,
            module: module.clone(),
        });
        if let Err(
            tokio::sync::mpsc::error::TrySendError::Full(done)
            | tokio::sync::mpsc::error::TrySendError::Closed(done),
        ) = sent
        {
            drop(done.store);
            drop(done.admitted);
        }
    }

    fn warmable(&self, module: &LoadedModule) -> bool {
        self.cold
            .lock()
            .is_ok_and(|cold| !cold.contains(&module.sha256))
    }

    /// Drops every waiting instance: the limits or budgets they were made under changed.
    pub(crate) fn clear(&self) {
        let ready = match self.ready.lock() {
            Ok(mut ready) => std::mem::take(&mut *ready),
            Err(_) => return,
        };
        drop(ready);
    }

    /// Makes instances of `module` until [`WARM_DEPTH`] wait; past [`WARM_MAX`] in all, the
    /// oldest waiting instance (of any module) makes room.
    async fn make(&self, host: &ModuleHost, module: Arc<LoadedModule>) {
        while self.waiting(&module) < WARM_DEPTH {
            let limits = host.limits();
            let mut store = new_store(host, &module, &limits);
            let instance = match module.pre.instantiate_async(&mut store).await {
                Ok(instance) => instance,
                Err(e) if store.data().memory_refused() => {
                    // The host's memory budget is full: not the module's doing, try later.
                    tracing::debug!(module = %module.id, error = %e, "no memory for an instance made ahead");
                    return;
                }
                Err(e) => {
                    tracing::debug!(module = %module.id, error = %e, "instance made ahead failed");
                    return self.chill(&module);
                }
            };
            let evicted = {
                let Ok(mut ready) = self.ready.lock() else {
                    return;
                };
                let evicted = if ready.values().map(Vec::len).sum::<usize>() >= WARM_MAX {
                    oldest(&mut ready)
                } else {
                    None
                };
                ready.entry(module.id.to_string()).or_default().push(Ready {
                    module: module.clone(),
                    made: Instant::now(),
                    store,
                    instance,
                });
                evicted
            };
            // Freed outside the lock.
            drop(evicted);
        }
    }

    /// Instances of this very version of `module` waiting.
    fn waiting(&self, module: &Arc<LoadedModule>) -> usize {
        self.ready.lock().map_or(WARM_DEPTH, |ready| {
            ready.get(module.id.as_str()).map_or(0, |waiting| {
                waiting
                    .iter()
                    .filter(|r| Arc::ptr_eq(&r.module, module))
                    .count()
            })
        })
    }

    fn chill(&self, module: &LoadedModule) {
        tracing::info!(module = %module.id, version = %module.manifest.version, "module instances no longer made ahead");
        if let Ok(mut cold) = self.cold.lock() {
            cold.insert(module.sha256.clone());
        }
    }
}
