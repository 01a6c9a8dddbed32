//! The rules, and the host calls they need: proposing an idea (its place inside the
//! commune), supporting it, commenting, and the town hall's answers, each notified to the
//! author and the supporters.

use crate::form::{Answer, FieldError, NewIdea};
use crate::model::{Comment, Idea, Status, Step, Theme};
use crate::store;
use parvis_module_sdk::bindings::parvis::module::notify::{Audience, Channels, Notification};
use parvis_module_sdk::html::excerpt;
use parvis_module_sdk::indicators;
use parvis_module_sdk::media::{self, Upload};
use parvis_module_sdk::prelude::*;

/// The module's settings (see the manifest).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub themes: String,
    #[serde(default)]
    pub intro: String,
}

/// The commune's themes.
pub fn themes(req: &Request) -> Vec<Theme> {
    Theme::parse_list(&req.settings::<Settings>().themes)
}

/// The commune's neighbourhoods, `(id, name)`, in its order.
pub fn neighbourhoods() -> Result<Vec<(String, String)>, StoreError> {
    Ok(parvis_module_sdk::store::neighbourhoods()?
        .into_iter()
        .map(|n| (n.id, n.name))
        .collect())
}

/// The photo of the request (its `photo` field, one at most), or why it cannot be taken.
pub fn photo() -> Result<Option<Upload>, Vec<FieldError>> {
    media::photos_of("photo", 1)
        .map(|mut photos| photos.pop())
        .map_err(|message| vec![("photo", message)])
}

/// Most ideas one account may have waiting for the town hall's final answer: a person with
/// more to say waits for an answer, and no one floods the box (or its map) alone.
pub const WAITING_PER_ACCOUNT: u64 = 10;
/// Most comments one account writes in a day (Paris time), over every idea.
pub const COMMENTS_PER_DAY: u64 = 30;

/// Figure (contract 0.2.7): ideas proposed, by neighbourhood and month.
pub const PROPOSED: &str = "idees";
/// Figure: supports given to ideas, less those withdrawn, by the month of the change.
pub const SUPPORTS: &str = "soutiens";

/// Checks the place against the commune's outline, then stores the idea (its neighbourhood
/// the one its place lies in, when it has one) and tells the town hall.
pub fn propose(
    req: &Request,
    author: &str,
    new: NewIdea,
    photo: Option<&Upload>,
) -> Result<u64, Vec<FieldError>> {
    let internal = |e: StoreError| vec![("titre", format!("Enregistrement impossible\u{a0}: {e}"))];
    if store::waiting_of(author).map_err(internal)? >= WAITING_PER_ACCOUNT {
        return Err(vec![(
            "titre",
            format!(
                "Vous avez déjà {WAITING_PER_ACCOUNT} idées qui attendent la réponse de la mairie\u{a0}: proposez la suivante quand l'une d'elles aura reçu sa réponse."
            ),
        )]);
    }
    let mut neighbourhood = new.neighbourhood;
    if let Some(at) = new.at {
        // No outline in the registry (eight communes nouvelles): the person's word is taken.
        if parvis_module_sdk::store::in_commune(at).map_err(internal)? == Some(false) {
            return Err(vec![(
                "lieu",
                format!(
                    "Ce lieu est en dehors du territoire {}. Choisissez un lieu dans la commune, ou aucun.",
                    req.commune.de()
                ),
            )]);
        }
        if let Some(id) = parvis_module_sdk::store::neighbourhood_at(at).map_err(internal)? {
            neighbourhood = Some(id);
        }
    }
    let number = store::next_number().map_err(internal)?;
    let photo = match photo {
        Some(upload) => {
            let alt = if new.photo_alt.is_empty() {
                format!("Photo jointe à l'idée n°\u{a0}{number}")
            } else {
                new.photo_alt.clone()
            };
            media::keep_photos(std::slice::from_ref(upload), &alt)
                .map_err(internal)?
                .pop()
        }
        None => None,
    };
    let idea = Idea {
        number,
        title: new.title,
        text: new.text,
        theme: new.theme.code(),
        theme_label: new.theme.label,
        at: new.at.map(|p| (p.lat, p.lon)),
        neighbourhood,
        author: Some(author.to_string()),
        author_name: req.display_name().unwrap_or("Un habitant").to_string(),
        public_name: new.public_name,
        status: Status::Proposee,
        steps: vec![Step {
            at: host::now_ms(),
            status: Status::Proposee,
            reply: None,
        }],
        photo,
        commitment: None,
        supporters: 0,
        comments: 0,
    };
    store::insert(&idea).map_err(internal)?;
    indicators::add(PROPOSED, idea.neighbourhood.as_deref(), host::now_ms(), 1)
        .map_err(internal)?;
    // The staff hear of it in the app; a failure to notify does not lose the idea.
    let notice = Notification::in_app(
        &format!("Nouvelle idée n°\u{a0}{number}"),
        &format!("{} — {}", idea.title, excerpt(&idea.text, 140)),
        &format!("/{number}"),
    );
    if let Err(e) = host::notify(&Audience::Role("tenant-admin".into()), &notice) {
        host::warn(&format!("idée {number}: équipe non prévenue: {e}"));
    }
    Ok(number)
}

/// `account` supports idea `number` (`support`) or withdraws its support. False when nothing
/// changed (already so, or its own idea).
pub fn support(number: u64, account: &str, support: bool) -> Result<bool, Error> {
    let doc = store::idea(number)?.ok_or(Error::NotFound)?;
    if !doc.value.status.is_open() {
        return Err(Error::conflict(
            "Cette idée a reçu sa réponse définitive\u{a0}: elle ne reçoit plus de soutiens.",
        ));
    }
    if doc.value.author.as_deref() == Some(account) {
        return Ok(false);
    }
    let changed = if support {
        store::support(number, account)?
    } else {
        store::unsupport(number, account)?
    };
    if changed {
        count_supporter(number, support)?;
        let delta = if support { 1 } else { -1 };
        indicators::add(
            SUPPORTS,
            doc.value.neighbourhood.as_deref(),
            host::now_ms(),
            delta,
        )?;
    }
    Ok(changed)
}

/// Counts one supporter in (`add`) or out on the idea, in the same call as the support.
fn count_supporter(number: u64, add: bool) -> Result<(), Error> {
    store::modify(number, |idea| {
        idea.supporters = if add {
            idea.supporters + 1
        } else {
            idea.supporters.saturating_sub(1)
        };
        true
    })?;
    Ok(())
}

/// Adds a comment of the signed-in person to idea `number`.
pub fn comment(req: &Request, number: u64, text: String) -> Result<(), Error> {
    let account = req.require_account()?;
    let doc = store::idea(number)?.ok_or(Error::NotFound)?;
    if !doc.value.status.is_open() {
        return Err(Error::conflict(
            "Cette idée a reçu sa réponse définitive\u{a0}: les commentaires sont clos.",
        ));
    }
    let at = host::now_ms();
    if store::comments_on_day(account, at)? >= COMMENTS_PER_DAY {
        return Err(Error::page(
            429,
            "Trop de commentaires aujourd'hui",
            &format!(
                "Vous avez écrit {COMMENTS_PER_DAY} commentaires aujourd'hui, le plus qu'un compte puisse écrire en un jour. Revenez demain."
            ),
        ));
    }
    store::add_comment(&Comment {
        idea: number,
        account: Some(account.to_string()),
        name: req.display_name().unwrap_or("Un habitant").to_string(),
        text,
        at,
        staff: req.has_role("tenant-admin"),
    })?;
    store::modify(number, |idea| {
        idea.comments += 1;
        true
    })?;
    Ok(())
}

/// Deletes comment `key` of idea `number`: its author may, and the town hall's staff (`staff`).
pub fn delete_comment(req: &Request, number: u64, key: &str, staff: bool) -> Result<(), Error> {
    let account = req.require_account()?;
    let doc = store::comment(number, key)?.ok_or(Error::NotFound)?;
    if !staff && doc.value.account.as_deref() != Some(account) {
        return Err(Error::Forbidden);
    }
    if store::delete_comment(key)? {
        store::modify(number, |idea| {
            idea.comments = idea.comments.saturating_sub(1);
            true
        })?;
    }
    Ok(())
}

/// Applies the staff's answer: a step in the timeline when the status or the reply changes,
/// the commitment link, then tells the author and the supporters.
pub fn answer(req: &Request, number: u64, answer: Answer) -> Result<(), Error> {
    let now = host::now_ms();
    let mut stepped = false;
    let idea = store::modify(number, |idea| {
        let mut changed = false;
        if answer.status != idea.status || answer.reply.is_some() {
            idea.status = answer.status;
            idea.steps.push(Step {
                at: now,
                status: answer.status,
                reply: answer.reply.clone(),
            });
            changed = true;
        }
        stepped = changed;
        if answer.commitment.is_some() || (answer.clear_commitment && idea.commitment.is_some()) {
            changed |= idea.commitment != answer.commitment;
            idea.commitment = answer.commitment.clone();
        }
        changed
    })?
    .ok_or(Error::NotFound)?;
    if stepped {
        tell(req, &idea, answer.reply.as_deref())?;
    }
    Ok(())
}

/// Notifies the author and the supporters of the idea's new step.
fn tell(req: &Request, idea: &Idea, reply: Option<&str>) -> Result<(), Error> {
    let mut accounts = store::supporters(idea.number)?;
    accounts.extend(idea.author.clone());
    let title = format!(
        "Idée n°\u{a0}{}\u{a0}: {}",
        idea.number,
        idea.status.label().to_lowercase()
    );
    let mut body = format!("{} — {}.", idea.title, idea.status.event());
    if let Some(reply) = reply {
        body.push_str(&format!(
            " Réponse de la mairie\u{a0}: {}",
            excerpt(reply, 140)
        ));
    }
    let notice = Notification::in_app(&title, &body, &format!("/{}", idea.number))
        .channels(Channels::IN_APP | Channels::EMAIL | Channels::PUSH);
    host::notify_others(req, accounts, &notice);
    Ok(())
}

/// The author's account was deleted: its ideas stay the commune's (others support and
/// discuss them), unsigned; its comments stay, signed « Compte supprimé »; its supports are
/// withdrawn and the counts written again.
pub fn forget(account: &str) -> Result<(), Error> {
    for doc in store::proposed_by(account)? {
        let mut idea = doc.value;
        idea.author = None;
        idea.author_name = String::new();
        idea.public_name = false;
        store::update(&idea, doc.version)?;
    }
    for doc in store::comments_by(account)? {
        let mut comment = doc.value;
        comment.account = None;
        comment.name = "Compte supprimé".to_string();
        store::put_comment(&doc.key, &comment)?;
    }
    for number in store::forget_supports(account)? {
        count_supporter(number, false)?;
    }
    Ok(())
}
