//! The rules, and the host calls they need: who may publish and manage a commitment,
//! publishing it and its updates to the commune's feed, and the citizens' evaluations, one
//! per account, counted with the verified residents apart.

use crate::form::{NewCommitment, NewUpdate};
use crate::model::{Answer, Bearer, Commitment, Evaluation, Status, Update};
use crate::store;
use parvis_module_sdk::html::excerpt;
use parvis_module_sdk::indicators;
use parvis_module_sdk::prelude::*;
use parvis_module_sdk::text::{code_of, setting_list};

/// The themes a commune starts with.
pub const DEFAULT_THEMES: &str = "Cadre de vie; Mobilités; Environnement et nature; \
     Culture et patrimoine; Sport et loisirs; Solidarité; Jeunesse et éducation; \
     Économie et emploi; Sécurité; Finances; Démocratie locale";

/// The module's settings (see the manifest).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub themes: String,
    #[serde(default)]
    pub intro: String,
}

/// The commune's themes, `(code, label)`.
pub fn themes(req: &Request) -> Vec<(String, String)> {
    setting_list(&req.settings::<Settings>().themes, DEFAULT_THEMES, 60, 30)
        .into_iter()
        .map(|(label, _)| (code_of(&label), label))
        .collect()
}

/// The commune's neighbourhoods, `(id, name)`, in its order.
pub fn neighbourhoods() -> Result<Vec<(String, String)>, StoreError> {
    Ok(parvis_module_sdk::store::neighbourhoods()?
        .into_iter()
        .map(|n| (n.id, n.name))
        .collect())
}

/// Whether the viewer may publish commitments: the commune's admins, and its officials (for
/// themselves).
pub fn may_publish(req: &Request) -> bool {
    req.has_any_role(&["tenant-admin", "official"])
}

/// Whether the viewer may update `c`: the commune's admins, and the official who published it.
pub fn may_manage(req: &Request, c: &Commitment) -> bool {
    req.has_role("tenant-admin")
        || (req.has_role("official")
            && c.bearer.account.is_some()
            && c.bearer.account.as_deref() == req.account())
}

/// Publishes a line in the commune's feed; a failure does not lose the commitment.
fn to_feed(number: u64, text: &str) {
    // Titles and texts are typed by people: French spaces are put in here, as pages get them.
    let text = parvis_module_sdk::html::french_text(text);
    if let Err(e) = host::publish(&text, Some(&format!("/{number}"))) {
        host::warn(&format!("engagement {number}: fil non alimenté: {e}"));
    }
}

/// Stores a new commitment and announces it in the commune's feed. An official publishes for
/// themselves (their account kept as its bearer's); an admin names the bearer.
pub fn publish(req: &Request, new: NewCommitment, theme: &str) -> Result<u64, Error> {
    let number = store::next_number()?;
    let official = !req.has_role("tenant-admin");
    let c = Commitment {
        number,
        title: new.title,
        description: new.description,
        theme: theme.to_string(),
        bearer: Bearer {
            name: new.bearer,
            account: if official {
                req.account().map(str::to_string)
            } else {
                None
            },
        },
        neighbourhood: new.neighbourhood,
        status: Status::Prevu,
        reason: None,
        progress: 0,
        milestones: new.milestones,
        documents: new.documents,
        updates: Vec::new(),
        tally: Default::default(),
        created_at: host::now_ms(),
    };
    store::insert(&c)?;
    to_feed(
        number,
        &format!(
            "Nouvel engagement, porté par {}\u{a0}: **{}**. {}",
            c.bearer.name,
            c.title,
            excerpt(&c.description, 200)
        ),
    );
    Ok(number)
}

/// Changes a commitment's fields (not its status, progress or evaluations).
pub fn edit(number: u64, new: NewCommitment, theme: &str) -> Result<(), Error> {
    store::modify(number, |c| {
        c.title = new.title.clone();
        c.description = new.description.clone();
        c.theme = theme.to_string();
        c.bearer.name = new.bearer.clone();
        c.neighbourhood = new.neighbourhood.clone();
        // Milestones already done stay done when their line is kept.
        let done: Vec<(i64, String)> = c
            .milestones
            .iter()
            .filter(|m| m.done)
            .map(|m| (m.on, m.label.clone()))
            .collect();
        c.milestones = new.milestones.clone();
        for m in &mut c.milestones {
            m.done = done
                .iter()
                .any(|(on, label)| *on == m.on && *label == m.label);
        }
        c.documents = new.documents.clone();
        true
    })?
    .ok_or(Error::NotFound)?;
    Ok(())
}

/// Records an update (status, progress, milestones done) and publishes it to the feed.
pub fn update(number: u64, update: NewUpdate) -> Result<(), Error> {
    let now = host::now_ms();
    let c = store::modify(number, |c| {
        c.status = update.status;
        c.progress = update.progress;
        c.reason = update.reason.clone();
        for (i, m) in c.milestones.iter_mut().enumerate() {
            m.done = update.done.contains(&i);
        }
        c.updates.push(Update {
            at: now,
            text: update.text.clone(),
            status: update.status,
            progress: update.progress,
        });
        true
    })?
    .ok_or(Error::NotFound)?;
    to_feed(
        number,
        &format!(
            "Engagement «\u{a0}{}\u{a0}» ({}, {}\u{a0}%)\u{a0}: {}",
            c.title,
            c.status.label().to_lowercase(),
            c.progress,
            excerpt(&update.text, 200)
        ),
    );
    Ok(())
}

/// The viewer gives (or changes) their evaluation of commitment `number`. A commitment only
/// announced cannot be evaluated yet: there is nothing done to judge.
pub fn evaluate(
    req: &Request,
    number: u64,
    note: u8,
    comment: Option<String>,
) -> Result<bool, Error> {
    let account = req.require_account()?;
    let c = store::commitment(number)?.ok_or(Error::NotFound)?.value;
    if c.status == Status::Prevu {
        return Err(Error::conflict(
            "Cet engagement n'a pas encore commencé\u{a0}: il pourra être évalué dès qu'il sera en cours.",
        ));
    }
    let resident = req.has_role("resident");
    let previous = store::evaluation(number, account)?;
    let changed = previous.is_some();
    let evaluation = Evaluation {
        commitment: number,
        account: account.to_string(),
        name: req.display_name().unwrap_or("Un habitant").to_string(),
        note,
        comment,
        resident,
        at: host::now_ms(),
        answer: previous.as_ref().and_then(|p| p.value.answer.clone()),
    };
    store::put_evaluation(&evaluation, previous.as_ref().map(|p| p.version))?;
    store::modify(number, |c| {
        if let Some(p) = &previous {
            c.tally.count(p.value.note, p.value.resident, false);
        }
        c.tally.count(note, resident, true);
        true
    })?;
    let quartier = c.neighbourhood.as_deref();
    if let Some(p) = &previous {
        count_in(quartier, &p.value, -1)?;
    }
    count_in(quartier, &evaluation, 1)?;
    Ok(changed)
}

/// Figure (contract 0.2.7): evaluations given, by the commitment's neighbourhood and the
/// month they were given.
pub const EVALUATIONS: &str = "evaluations";
/// Figure: the points (1 to 5) of those evaluations.
pub const POINTS: &str = "points-evaluations";

/// Counts an evaluation in (`sign` 1) or out (-1) of the figures, in the month it was given.
fn count_in(neighbourhood: Option<&str>, e: &Evaluation, sign: i64) -> Result<(), StoreError> {
    indicators::add(EVALUATIONS, neighbourhood, e.at, sign)?;
    indicators::add(POINTS, neighbourhood, e.at, sign * i64::from(e.note))
}

/// The viewer withdraws their evaluation; false if they gave none.
pub fn withdraw(req: &Request, number: u64) -> Result<bool, Error> {
    let account = req.require_account()?;
    let Some(previous) = store::evaluation(number, account)? else {
        return Ok(false);
    };
    store::delete_evaluation(number, account)?;
    let mut quartier = None;
    store::modify(number, |c| {
        c.tally
            .count(previous.value.note, previous.value.resident, false);
        quartier = c.neighbourhood.clone();
        true
    })?;
    count_in(quartier.as_deref(), &previous.value, -1)?;
    Ok(true)
}

/// The commitment's bearer (or an admin) answers the comment of `account`'s evaluation.
pub fn answer(req: &Request, number: u64, account: &str, text: &str) -> Result<(), Error> {
    let Some(doc) = store::evaluation(number, account)? else {
        return Err(Error::NotFound);
    };
    let mut evaluation = doc.value;
    evaluation.answer = Some(Answer {
        by: req.display_name().unwrap_or("La mairie").to_string(),
        text: text.to_string(),
        at: host::now_ms(),
    });
    store::put_evaluation(&evaluation, Some(doc.version))?;
    Ok(())
}

/// An account was deleted: its evaluations are withdrawn (and counted out); the commitments
/// it published stay the commune's, under its bearer's name.
pub fn forget(account: &str) -> Result<(), Error> {
    for doc in store::evaluations_by(account)? {
        store::delete_evaluation(doc.value.commitment, account)?;
        let mut quartier = None;
        store::modify(doc.value.commitment, |c| {
            c.tally.count(doc.value.note, doc.value.resident, false);
            quartier = c.neighbourhood.clone();
            true
        })?;
        count_in(quartier.as_deref(), &doc.value, -1)?;
    }
    for mut doc in store::published_by(account)? {
        doc.value.bearer.account = None;
        store::put(&doc)?;
    }
    Ok(())
}
