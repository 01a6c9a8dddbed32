//! Storage layout of the module.
//!
//! - `polls`: one [`Poll`] per key (a `new-id`, so keys sort by creation time), indexed by
//!   `state` = `active` (not yet closed and published) or `closed`.
//! - `ballots`: one [`Ballot`] per vote, key `<poll>:<account>` (named) or
//!   `<poll>:<sha256(salt, account)>` (anonymous); inserted, so a second vote is a conflict.
//!   Indexed by `poll`.
//! - counters `<poll>:voters` and `<poll>:option:<index>`: the live tally.

use crate::model::{Ballot, Poll, Results};
use parvis_module_sdk::store::{self, Collection, Doc, Indexes, StoreError};

const POLLS: Collection<'static> = Collection::new("polls");
const BALLOTS: Collection<'static> = Collection::new("ballots");

fn poll_indexes(poll: &Poll) -> Indexes {
    let state = if poll.closed_at.is_some() && poll.published {
        "closed"
    } else {
        "active"
    };
    Indexes::new().index("state", state)
}

/// The poll with this id.
pub fn poll(id: &str) -> Result<Option<Doc<Poll>>, StoreError> {
    POLLS.get(id)
}

/// Every poll, newest first.
pub fn all_polls() -> Result<Vec<Doc<Poll>>, StoreError> {
    POLLS.list().descending().all()
}

/// The polls not yet closed and published (the tick's work list).
pub fn active_polls() -> Result<Vec<Doc<Poll>>, StoreError> {
    POLLS.list().index("state", "active").all()
}

/// Stores a new poll.
pub fn insert_poll(id: &str, poll: &Poll) -> Result<(), StoreError> {
    POLLS.insert(id, poll, poll_indexes(poll)).map(|_| ())
}

/// Replaces a poll, unless someone else wrote it since `version` (conflict).
pub fn update_poll(id: &str, poll: &Poll, version: u64) -> Result<(), StoreError> {
    POLLS
        .put(id, poll, poll_indexes(poll), Some(version))
        .map(|_| ())
}

/// The tally of a poll.
pub fn results(poll_id: &str, poll: &Poll) -> Result<Results, StoreError> {
    let counters = store::counters(&format!("{poll_id}:"))?;
    Ok(Results::from_counters(
        poll_id,
        poll.options.len(),
        &counters,
    ))
}

/// True when a ballot exists under this key.
pub fn has_ballot(key: &str) -> Result<bool, StoreError> {
    Ok(BALLOTS.get::<Ballot>(key)?.is_some())
}

/// Records one vote: the ballot (a conflict if this account already voted), then the counters.
pub fn cast(
    poll_id: &str,
    key: &str,
    ballot: &Ballot,
    choices: &[usize],
) -> Result<(), StoreError> {
    BALLOTS.insert(key, ballot, Indexes::new().index("poll", poll_id))?;
    let shard = Results::shard(key);
    for &option in choices {
        store::incr(&Results::option_counter(poll_id, option, shard), 1)?;
    }
    store::incr(&Results::voters_counter(poll_id, shard), 1)?;
    Ok(())
}

/// The ballots of a poll, in key order.
pub fn ballots(poll_id: &str) -> Result<Vec<Doc<Ballot>>, StoreError> {
    BALLOTS.list().index("poll", poll_id).all()
}

/// The ballot at `key`, if any.
pub fn ballot(key: &str) -> Result<Option<Doc<Ballot>>, StoreError> {
    BALLOTS.get(key)
}

/// Replaces the ballot at `key` by `ballot` under `new_key` (same poll), or only deletes it
/// with `None`. The counters, which hold the tally, are left alone.
pub fn replace_ballot(
    poll_id: &str,
    key: &str,
    new: Option<(&str, &Ballot)>,
) -> Result<(), StoreError> {
    BALLOTS.delete(key)?;
    if let Some((new_key, ballot)) = new {
        BALLOTS.insert(new_key, ballot, Indexes::new().index("poll", poll_id))?;
    }
    Ok(())
}
