//! The rules: who may vote, creating, voting, closing and publishing once.

use crate::form::NewPoll;
use crate::model::{self, Audience, Ballot, Poll, Status};
use crate::store;
use parvis_module_sdk::host::{self, Notification};
use parvis_module_sdk::store::{Doc, StoreError};
use parvis_module_sdk::{Error, Request};

/// Roles that may create and close polls.
pub const MANAGER_ROLES: [&str; 3] = ["tenant-admin", "official", "platform-admin"];

/// What the viewer can do on a poll's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eligibility {
    /// Signed in, allowed, not voted yet, poll open.
    CanVote,
    AlreadyVoted,
    /// Anonymous visitor.
    MustSignIn,
    /// The poll is for verified residents.
    ResidentsOnly,
    /// Not open (upcoming or closed).
    NotOpen,
}

/// Where the viewer stands on this poll.
pub fn eligibility(req: &Request, id: &str, poll: &Poll, now: i64) -> Result<Eligibility, Error> {
    if poll.status(now) != Status::Open {
        return Ok(Eligibility::NotOpen);
    }
    let Some(account) = req.account() else {
        return Ok(Eligibility::MustSignIn);
    };
    if poll.audience == Audience::Residents && !req.has_role("resident") {
        return Ok(Eligibility::ResidentsOnly);
    }
    if store::has_ballot(&poll.ballot_key(id, account))? {
        return Ok(Eligibility::AlreadyVoted);
    }
    Ok(Eligibility::CanVote)
}

/// Why a vote was refused.
#[derive(Debug)]
pub enum VoteError {
    /// The form is wrong (no option, two options for a single choice…): re-render, 422.
    Invalid(&'static str),
    /// Not allowed, not open or already voted: a page with this status.
    Refused(Eligibility),
    Other(Error),
}

impl From<StoreError> for VoteError {
    fn from(err: StoreError) -> Self {
        Self::Other(err.into())
    }
}

/// Records the viewer's vote; the host keeps it only if the request succeeds.
pub fn vote(req: &Request, id: &str, poll: &Poll, now: i64) -> Result<(), VoteError> {
    let Some(account) = req.account() else {
        return Err(VoteError::Refused(Eligibility::MustSignIn));
    };
    match eligibility(req, id, poll, now).map_err(VoteError::Other)? {
        Eligibility::CanVote => {}
        other => return Err(VoteError::Refused(other)),
    }
    let choices = poll
        .choices(&req.form_values("option"))
        .map_err(VoteError::Invalid)?;
    let ballot = if poll.anonymous {
        Ballot::default()
    } else {
        Ballot {
            voter: Some(req.display_name().unwrap_or(account).to_owned()),
            choices: choices.clone(),
        }
    };
    match store::cast(id, &poll.ballot_key(id, account), &ballot, &choices) {
        // Two submissions raced past the eligibility check: the unique key decided.
        Err(StoreError::Conflict(_)) => Err(VoteError::Refused(Eligibility::AlreadyVoted)),
        other => Ok(other?),
    }
}

/// Creates a poll and tells the commune's followers; returns its id.
pub fn create(account: &str, new: NewPoll) -> Result<String, Error> {
    let id = host::new_id();
    let poll = Poll {
        question: new.question,
        description: new.description,
        options: new.options,
        multiple: new.multiple,
        anonymous: new.anonymous,
        audience: new.audience,
        opens_at: new.opens_at,
        closes_at: new.closes_at,
        closed_at: None,
        published: false,
        salt: model::hex(&host::random_bytes(16)),
        created_by: account.to_owned(),
    };
    store::insert_poll(&id, &poll)?;
    let notification = Notification::in_app(
        &format!("Nouveau sondage : {}", poll.question),
        &format!(
            "Un nouveau sondage est proposé par la commune, ouvert jusqu'au {}.",
            crate::time::format_fr(poll.closes_at)
        ),
        &format!("/{id}"),
    );
    if let Err(err) = host::notify(&host::Audience::Followers, &notification) {
        // The poll stands even if nobody could be told.
        host::warn(&format!("poll {id}: notification failed: {err}"));
    }
    Ok(id)
}

/// Closes a poll (now, or when it ended) and publishes its results once. Idempotent.
pub fn close(doc: Doc<Poll>, now: i64) -> Result<(), Error> {
    let Doc {
        key: id,
        value: mut poll,
        version,
        ..
    } = doc;
    if poll.closed_at.is_some() && poll.published {
        return Ok(());
    }
    if poll.closed_at.is_none() {
        poll.closed_at = Some(now.min(poll.closes_at));
    }
    if !poll.published {
        let results = store::results(&id, &poll)?;
        host::publish(
            &model::results_markdown(&poll, &results),
            Some(&format!("/{id}")),
        )
        .map_err(|err| Error::Internal(format!("poll {id}: feed publish failed: {err}")))?;
        poll.published = true;
    }
    // The expected version makes a concurrent close (tick and admin) conflict, so the
    // loser's transaction — and its feed post — is rolled back.
    store::update_poll(&id, &poll, version)?;
    Ok(())
}

/// Closes every poll whose closing time has passed (`event::tick`).
pub fn close_due(now: i64) -> Result<(), Error> {
    for doc in store::active_polls()? {
        if doc.value.status(now) == Status::Closed {
            close(doc, now)?;
        }
    }
    Ok(())
}
