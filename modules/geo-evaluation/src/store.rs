//! Storage layout of the module.
//!
//! - `barometres`: one [`Barometer`] per key (its number on 10 digits).
//! - `reponses`: one [`Answer`] per key `<barometer>:<account>`, indexed by `compte` (the
//!   account), for its export and its erasure.
//! - counters: `numero` (barometers), and the figures the map reads (`indicateur:…`, see
//!   `parvis_module_sdk::indicators`): each theme's answers and points by the respondent's
//!   neighbourhood and the month the round opened.

use crate::model::{Answer, Barometer};
use parvis_module_sdk::store::{self, Collection, Doc, Indexes, StoreError};

const BAROMETERS: Collection<'static> = Collection::new("barometres");
const ANSWERS: Collection<'static> = Collection::new("reponses");

fn answer_key(barometer: u64, account: &str) -> String {
    format!("{}:{account}", Barometer::key(barometer))
}

pub fn next_number() -> Result<u64, StoreError> {
    store::next_number("numero")
}

pub fn barometer(number: u64) -> Result<Option<Doc<Barometer>>, StoreError> {
    BAROMETERS.get(&Barometer::key(number))
}

/// Every round, newest first (a commune runs a few a year).
pub fn barometers() -> Result<Vec<Barometer>, StoreError> {
    Ok(BAROMETERS
        .list()
        .descending()
        .limit(200)
        .page::<Barometer>()?
        .documents
        .into_iter()
        .map(|d| d.value)
        .collect())
}

pub fn insert(b: &Barometer) -> Result<(), StoreError> {
    BAROMETERS
        .insert(&Barometer::key(b.number), b, Indexes::new())
        .map(|_| ())
}

/// Changes a round (its respondents, its closing), retried when another call wrote it.
pub fn modify(
    number: u64,
    change: impl FnMut(&mut Barometer) -> bool,
) -> Result<Option<Barometer>, StoreError> {
    BAROMETERS.modify(&Barometer::key(number), |_| Indexes::new(), change)
}

pub fn answer(barometer: u64, account: &str) -> Result<Option<Doc<Answer>>, StoreError> {
    ANSWERS.get(&answer_key(barometer, account))
}

/// Stores `a`; `expected` is the version read (none: it must not exist yet).
pub fn put_answer(a: &Answer, expected: Option<u64>) -> Result<(), StoreError> {
    ANSWERS
        .put(
            &answer_key(a.barometer, &a.account),
            a,
            Indexes::new().index("compte", &a.account),
            Some(expected.unwrap_or(0)),
        )
        .map(|_| ())
}

pub fn delete_answer(barometer: u64, account: &str) -> Result<bool, StoreError> {
    ANSWERS.delete(&answer_key(barometer, account))
}

/// Every answer `account` gave.
pub fn answers_of(account: &str) -> Result<Vec<Answer>, StoreError> {
    Ok(ANSWERS
        .list()
        .index("compte", account)
        .all::<Answer>()?
        .into_iter()
        .map(|d| d.value)
        .collect())
}
