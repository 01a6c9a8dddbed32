//! Storage layout of the module.
//!
//! - `engagements`: one [`Commitment`] per key ([`Commitment::key`]), indexed by `compte`
//!   (the account of the official who published it). A commune's commitments are read whole
//!   and filtered in memory ([`matches`]): no index entry is rewritten with each evaluation.
//! - `evaluations`: one [`Evaluation`] per key `<commitment>:<account>` (one per account),
//!   indexed by `engagement` and `compte`.
//! - counter `numero`: the last commitment number given.

use crate::model::{Commitment, Evaluation, Status};
use parvis_module_sdk::store::{self, Collection, Doc, Indexes, StoreError};
use parvis_module_sdk::text::code_of;

const COMMITMENTS: Collection<'static> = Collection::new("engagements");
const EVALUATIONS: Collection<'static> = Collection::new("evaluations");

/// A page of evaluations' comments.
pub const COMMENTS_PAGE: u32 = 30;

fn indexes(c: &Commitment) -> Indexes {
    match &c.bearer.account {
        Some(account) => Indexes::new().index("compte", account),
        None => Indexes::new(),
    }
}

/// The next commitment number of the commune.
pub fn next_number() -> Result<u64, StoreError> {
    store::next_number("numero")
}

/// Commitment number `number`.
pub fn commitment(number: u64) -> Result<Option<Doc<Commitment>>, StoreError> {
    COMMITMENTS.get(&Commitment::key(number))
}

/// Stores a new commitment.
pub fn insert(c: &Commitment) -> Result<(), StoreError> {
    COMMITMENTS.insert(&Commitment::key(c.number), c, indexes(c))?;
    Ok(())
}

/// Changes commitment `number` with `change` (see [`Collection::modify`]: retried when
/// another call wrote it in between, as two evaluations at the same moment do).
pub fn modify(
    number: u64,
    change: impl FnMut(&mut Commitment) -> bool,
) -> Result<Option<Commitment>, StoreError> {
    COMMITMENTS.modify(&Commitment::key(number), indexes, change)
}

/// A filter of the list: a status, a theme's code, a bearer's code, a neighbourhood.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub status: Option<Status>,
    pub theme: Option<String>,
    pub bearer: Option<String>,
    pub neighbourhood: Option<String>,
}

/// Every commitment, oldest first (a programme reads in its order). A commune's commitments
/// are a few dozen to a few hundred: read whole, and filtered in memory ([`matches`]).
pub fn all() -> Result<Vec<Commitment>, StoreError> {
    Ok(COMMITMENTS
        .list()
        .all::<Commitment>()?
        .into_iter()
        .map(|d| d.value)
        .collect())
}

/// Whether `c` passes `filter`.
pub fn matches(filter: &Filter, c: &Commitment) -> bool {
    filter.status.is_none_or(|s| c.status == s)
        && filter
            .theme
            .as_ref()
            .is_none_or(|t| code_of(&c.theme) == *t)
        && filter.bearer.as_ref().is_none_or(|b| c.bearer.code() == *b)
        && filter
            .neighbourhood
            .as_ref()
            .is_none_or(|n| c.neighbourhood.as_ref() == Some(n))
}

/// The commitments an official published.
pub fn published_by(account: &str) -> Result<Vec<Doc<Commitment>>, StoreError> {
    COMMITMENTS.list().index("compte", account).all()
}

/// Replaces a commitment as it is (its bearer's account taken off).
pub fn put(doc: &Doc<Commitment>) -> Result<(), StoreError> {
    COMMITMENTS.put(&doc.key, &doc.value, indexes(&doc.value), Some(doc.version))?;
    Ok(())
}

fn evaluation_key(number: u64, account: &str) -> String {
    format!("{}:{account}", Commitment::key(number))
}

/// `account`'s evaluation of commitment `number`, if any.
pub fn evaluation(number: u64, account: &str) -> Result<Option<Doc<Evaluation>>, StoreError> {
    EVALUATIONS.get(&evaluation_key(number, account))
}

/// Stores `account`'s evaluation (a first one, or a changed one at `version`).
pub fn put_evaluation(e: &Evaluation, version: Option<u64>) -> Result<(), StoreError> {
    let indexes = Indexes::new()
        .index("engagement", &Commitment::key(e.commitment))
        .index("compte", &e.account);
    let key = evaluation_key(e.commitment, &e.account);
    match version {
        Some(v) => EVALUATIONS.put(&key, e, indexes, Some(v))?,
        None => EVALUATIONS.insert(&key, e, indexes)?,
    };
    Ok(())
}

/// Deletes `account`'s evaluation of commitment `number`.
pub fn delete_evaluation(number: u64, account: &str) -> Result<bool, StoreError> {
    EVALUATIONS.delete(&evaluation_key(number, account))
}

/// The evaluations of a commitment, a page at a time.
pub fn evaluations(
    number: u64,
    after: Option<&str>,
) -> Result<store::ListPage<Evaluation>, StoreError> {
    EVALUATIONS
        .list()
        .index("engagement", &Commitment::key(number))
        .after(after)
        .limit(COMMENTS_PAGE)
        .page()
}

/// The evaluations an account gave.
pub fn evaluations_by(account: &str) -> Result<Vec<Doc<Evaluation>>, StoreError> {
    EVALUATIONS.list().index("compte", account).all()
}
