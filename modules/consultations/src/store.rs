//! Storage layout of the module.
//!
//! - `consultations`: one [`Consultation`] per key (its number on 8 digits).
//! - `propositions`: one [`Proposal`] per key `<consultation>-<number>`, indexed by
//!   `etat` (`<consultation>:<moderation>`, the moderation queue and the published list) and
//!   `auteur` (the author's account).
//! - `publiees`: the published proposals by rank, key `<consultation>-<rank>` → the proposal's
//!   number. Ranks run from 1 without gaps, so the voting sequence draws one at random in a
//!   single read, however many there are.
//! - `bulletins`: one [`Ballot`] per key `<consultation>-<proposal>-<account>`, indexed by
//!   `votant` (`<consultation>:<account>`) and `compte` (the account).
//! - `resultats`: the final results, per consultation, worked out once after its closing
//!   (while it is open, the results page keeps them 30 s in the host's memory, `cache`).
//! - `participants`: one empty document per key `<consultation>-<account>`, the first time
//!   the account votes in it.
//! - `quartiers`: the neighbourhood a participant says they live in, per key
//!   `<consultation>-<account>` (indexed by `compte`), copied onto each of their ballots.
//! - counters: `numero` (consultations), `c<consultation>-numero` (proposals),
//!   `c<consultation>-participants`. The votes are the sum of the tallies: a counter of them
//!   would be one row that every vote of the consultation writes, and on PostgreSQL each
//!   vote would wait there for the one before to commit.

use crate::model::{Ballot, Consultation, Moderation, Proposal, Tally};
use crate::service::Results;
use parvis_module_sdk::store::{self, Collection, Doc, Indexes, ListPage, StoreError};

const CONSULTATIONS: Collection<'static> = Collection::new("consultations");
const PROPOSALS: Collection<'static> = Collection::new("propositions");
const BALLOTS: Collection<'static> = Collection::new("bulletins");
const PARTICIPANTS: Collection<'static> = Collection::new("participants");
const RESULTS: Collection<'static> = Collection::new("resultats");
const DECLARED: Collection<'static> = Collection::new("quartiers");

/// A page of proposals in a list.
pub const PAGE: u32 = 50;

fn c(consultation: u64) -> String {
    format!("c{consultation:08}")
}

fn proposal_indexes(p: &Proposal) -> Indexes {
    let mut indexes = Indexes::new().index(
        "etat",
        &format!("{:08}:{}", p.consultation, p.moderation.value()),
    );
    if let Some(author) = &p.author {
        indexes = indexes.index("auteur", author).index(
            "auteur-consultation",
            &format!("{:08}:{author}", p.consultation),
        );
    }
    indexes
}

/// The next consultation number.
pub fn next_consultation() -> Result<u64, StoreError> {
    store::next_number("numero")
}

pub fn consultation(number: u64) -> Result<Option<Doc<Consultation>>, StoreError> {
    CONSULTATIONS.get(&Consultation::key(number))
}

/// The consultation as last committed, read before the call opens its transaction (see
/// [`crate::service::vote`]).
pub fn consultation_committed(number: u64) -> Result<Option<Doc<Consultation>>, StoreError> {
    CONSULTATIONS.get_committed(&Consultation::key(number))
}

/// Every consultation, newest first (a commune holds a few a year).
pub fn consultations() -> Result<Vec<Consultation>, StoreError> {
    Ok(CONSULTATIONS
        .list()
        .descending()
        .limit(200)
        .page::<Consultation>()?
        .documents
        .into_iter()
        .map(|d| d.value)
        .collect())
}

pub fn insert_consultation(c: &Consultation) -> Result<(), StoreError> {
    CONSULTATIONS
        .insert(&Consultation::key(c.number), c, Indexes::new())
        .map(|_| ())
}

pub fn update_consultation(c: &Consultation, version: u64) -> Result<(), StoreError> {
    CONSULTATIONS.put(
        &Consultation::key(c.number),
        c,
        Indexes::new(),
        Some(version),
    )?;
    Ok(())
}

/// The next proposal number of a consultation.
pub fn next_proposal(consultation: u64) -> Result<u64, StoreError> {
    store::next_number(&format!("{}-numero", c(consultation)))
}

/// How many proposals `account` submitted to the consultation.
pub fn count_authored(consultation: u64, account: &str) -> Result<u64, StoreError> {
    PROPOSALS.count(Some((
        "auteur-consultation",
        &format!("{consultation:08}:{account}"),
    )))
}

pub fn proposal(consultation: u64, number: u64) -> Result<Option<Doc<Proposal>>, StoreError> {
    PROPOSALS.get(&Proposal::key(consultation, number))
}

/// The proposal as last committed, read before the call opens its transaction (see
/// [`crate::service::vote`]).
pub fn proposal_committed(
    consultation: u64,
    number: u64,
) -> Result<Option<Doc<Proposal>>, StoreError> {
    PROPOSALS.get_committed(&Proposal::key(consultation, number))
}

pub fn insert_proposal(p: &Proposal) -> Result<(), StoreError> {
    PROPOSALS
        .insert(
            &Proposal::key(p.consultation, p.number),
            p,
            proposal_indexes(p),
        )
        .map(|_| ())
}

pub fn update_proposal(p: &Proposal, version: u64) -> Result<(), StoreError> {
    PROPOSALS.put(
        &Proposal::key(p.consultation, p.number),
        p,
        proposal_indexes(p),
        Some(version),
    )?;
    Ok(())
}

/// A page of the consultation's proposals in `moderation`, oldest first (the queue is read in
/// the order it came; the published list in the order of publication).
pub fn proposals(
    consultation: u64,
    moderation: Moderation,
    after: Option<&str>,
) -> Result<ListPage<Proposal>, StoreError> {
    PROPOSALS
        .list()
        .index("etat", &format!("{consultation:08}:{}", moderation.value()))
        .after(after)
        .limit(PAGE)
        .page()
}

/// How many of the consultation's proposals are in `moderation`.
pub fn count(consultation: u64, moderation: Moderation) -> Result<u64, StoreError> {
    PROPOSALS.count(Some((
        "etat",
        &format!("{consultation:08}:{}", moderation.value()),
    )))
}

/// The proposals an account submitted (any consultation).
pub fn proposed_by(account: &str) -> Result<Vec<Doc<Proposal>>, StoreError> {
    PROPOSALS.list().index("auteur", account).all()
}

fn draw(consultation: u64) -> String {
    format!("publiees-{consultation:08}")
}

fn tallies_of(consultation: u64) -> String {
    format!("decomptes-{consultation:08}")
}

/// Gives a newly published proposal its `rank` in the draw (the consultation's count of
/// published proposals, kept in its document, is the last rank).
pub fn publish(consultation: u64, rank: u64, number: u64) -> Result<(), StoreError> {
    let name = draw(consultation);
    Collection::new(&name)
        .insert(&format!("{rank:08}"), &number, Indexes::new())
        .map(|_| ())
}

/// The proposal of rank `rank` in the draw.
pub fn at_rank(consultation: u64, rank: u64) -> Result<Option<u64>, StoreError> {
    let name = draw(consultation);
    Ok(Collection::new(&name)
        .get::<u64>(&format!("{rank:08}"))?
        .map(|d| d.value))
}

/// Up to `limit` proposals of the draw from rank `from`: their numbers.
pub fn ranks_from(consultation: u64, from: u64, limit: u32) -> Result<Vec<u64>, StoreError> {
    let name = draw(consultation);
    let after = format!("{:08}", from.saturating_sub(1));
    Ok(Collection::new(&name)
        .list()
        .after(Some(&after))
        .limit(limit)
        .page::<u64>()?
        .documents
        .into_iter()
        .map(|d| d.value)
        .collect())
}

/// The account's ballot on a proposal.
pub fn ballot(
    consultation: u64,
    proposal: u64,
    account: &str,
) -> Result<Option<Doc<Ballot>>, StoreError> {
    BALLOTS.get(&Ballot::key(consultation, proposal, account))
}

/// Stores the account's ballot (new, or replacing `version`).
pub fn put_ballot(ballot: &Ballot, account: &str, version: Option<u64>) -> Result<(), StoreError> {
    // One entry: the account's ballots anywhere are its ballots in each consultation
    // (`all_ballots_of`). Each entry is two more rows to insert at every vote, at SQLite's
    // one writer; ballots stored before kept a second one, « compte », read by nothing now.
    let indexes = Indexes::new().index("votant", &format!("{:08}:{account}", ballot.consultation));
    let key = Ballot::key(ballot.consultation, ballot.proposal, account);
    match version {
        None => BALLOTS.insert(&key, ballot, indexes).map(|_| ()),
        Some(v) => BALLOTS.put(&key, ballot, indexes, Some(v)).map(|_| ()),
    }
}

/// The account's ballots in a consultation, newest keys last.
pub fn ballots_of(consultation: u64, account: &str) -> Result<Vec<Doc<Ballot>>, StoreError> {
    BALLOTS
        .list()
        .index("votant", &format!("{consultation:08}:{account}"))
        .all()
}

/// The neighbourhood `account` said they live in for this consultation.
pub fn declared(consultation: u64, account: &str) -> Result<Option<String>, StoreError> {
    Ok(DECLARED
        .get::<Option<String>>(&format!("{consultation:08}-{account}"))?
        .and_then(|d| d.value))
}

/// Keeps (or, with none, forgets) the neighbourhood `account` says they live in.
pub fn declare(
    consultation: u64,
    account: &str,
    neighbourhood: Option<&str>,
) -> Result<(), StoreError> {
    let key = format!("{consultation:08}-{account}");
    match neighbourhood {
        Some(id) => DECLARED
            .put(
                &key,
                &Some(id),
                Indexes::new().index("compte", account),
                None,
            )
            .map(|_| ()),
        None => DECLARED.delete(&key).map(|_| ()),
    }
}

/// Every neighbourhood `account` declared, `(consultation key, id)`, to erase them.
pub fn declared_by(account: &str) -> Result<Vec<Doc<Option<String>>>, StoreError> {
    DECLARED.list().index("compte", account).all()
}

pub fn forget_declared(key: &str) -> Result<bool, StoreError> {
    DECLARED.delete(key)
}

/// The numbers of every consultation of the commune (a few a year).
pub fn numbers() -> Result<Vec<u64>, StoreError> {
    Ok(CONSULTATIONS
        .list()
        .all::<Consultation>()?
        .into_iter()
        .map(|d| d.value.number)
        .collect())
}

/// Every ballot of an account, consultation by consultation.
pub fn all_ballots_of(account: &str) -> Result<Vec<Doc<Ballot>>, StoreError> {
    let mut all = Vec::new();
    for n in numbers()? {
        all.extend(ballots_of(n, account)?);
    }
    Ok(all)
}

pub fn delete_ballot(key: &str) -> Result<bool, StoreError> {
    BALLOTS.delete(key)
}

/// Notes the account as a participant of the consultation; true the first time. One insert,
/// refused when the account is noted already: two first votes of one person at once (two
/// tabs) count them once, and the common case (noted) costs no read.
pub fn join(consultation: u64, account: &str) -> Result<bool, StoreError> {
    let key = format!("{consultation:08}-{account}");
    match PARTICIPANTS.insert(&key, &(), Indexes::new()) {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => return Ok(false),
        Err(e) => return Err(e),
    }
    store::incr(&format!("{}-participants", c(consultation)), 1)?;
    Ok(true)
}

/// Forgets the account as a participant of the consultation (its account was deleted); true
/// if it was one.
pub fn leave(consultation: u64, account: &str) -> Result<bool, StoreError> {
    if !PARTICIPANTS.delete(&format!("{consultation:08}-{account}"))? {
        return Ok(false);
    }
    store::incr(&format!("{}-participants", c(consultation)), -1)?;
    Ok(true)
}

/// One proposal's tally (none before its first vote).
pub fn tally_of(consultation: u64, proposal: u64) -> Result<Tally, StoreError> {
    let name = tallies_of(consultation);
    Ok(Collection::new(&name)
        .get::<Tally>(&format!("{proposal:08}"))?
        .map(|d| d.value)
        .unwrap_or_default())
}

/// Changes a proposal's tally with `change` (retried when another vote wrote it in between):
/// one read and one write once it exists.
pub fn change_tally(
    consultation: u64,
    proposal: u64,
    mut change: impl FnMut(&mut Tally) -> bool,
) -> Result<(), StoreError> {
    let name = tallies_of(consultation);
    let collection = Collection::new(&name);
    let key = format!("{proposal:08}");
    for _ in 0..2 {
        if collection
            .modify(&key, |_: &Tally| Indexes::new(), &mut change)?
            .is_some()
        {
            return Ok(());
        }
        // The first vote creates it; two first votes at once: one insert wins, the other
        // goes round again and finds it.
        let mut tally = Tally::default();
        if !change(&mut tally) {
            return Ok(());
        }
        match collection.insert(&key, &tally, Indexes::new()) {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict(format!("{name}/{key}")))
}

/// Every proposal's tally in the consultation, by number (those without votes left out).
pub fn tallies(consultation: u64) -> Result<Vec<(u64, Tally)>, StoreError> {
    let name = tallies_of(consultation);
    Ok(Collection::new(&name)
        .list()
        .all::<Tally>()?
        .into_iter()
        .filter_map(|d| Some((d.key.parse().ok()?, d.value)))
        .collect())
}

fn kept(consultation: u64) -> String {
    format!("{consultation:08}")
}

/// The results last kept for the page.
pub fn kept_results(consultation: u64) -> Result<Option<Doc<Results>>, StoreError> {
    RESULTS.get(&kept(consultation))
}

/// Keeps the results for the page (replacing `version`); two visitors working them out at
/// once: the second's copy is simply not kept.
pub fn keep_results(
    consultation: u64,
    results: &Results,
    version: Option<u64>,
) -> Result<(), StoreError> {
    let done = match version {
        None => RESULTS.insert(&kept(consultation), results, Indexes::new()),
        Some(v) => RESULTS.put(&kept(consultation), results, Indexes::new(), Some(v)),
    };
    match done {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The consultation's participants.
pub fn participants(consultation: u64) -> Result<u64, StoreError> {
    let name = format!("{}-participants", c(consultation));
    Ok(store::counters(&name)?
        .into_iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, v)| u64::try_from(v).unwrap_or(0)))
}
