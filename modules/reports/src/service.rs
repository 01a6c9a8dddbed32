//! The rules, and the host calls they need: sending a report (the place inside the commune,
//! the nearby reports of the same problem first), supporting one, and the town hall's
//! answers, each notified to the reporter and the supporters.

use crate::form::{FieldError, NewReport, StatusChange};
use crate::model::{Agent, Category, Report, Status, Step};
use crate::store::{self, Note};
use parvis_module_sdk::bindings::parvis::module::notify::{Audience, Channels, Notification};
use parvis_module_sdk::indicators;
use parvis_module_sdk::media::{self, Upload};
use parvis_module_sdk::prelude::*;

/// How near another open report of the same category must be to be offered as « le même
/// problème » (metres): a street light, a pothole, a heap of rubbish are pointed at within a
/// few tens of metres by a phone's position or a finger on a map.
pub const NEARBY_M: f64 = 50.0;

/// The module's settings (see the manifest).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub categories: String,
    #[serde(default)]
    pub intro: String,
    #[serde(default)]
    pub questions: String,
}

/// The commune's categories, with their questions.
pub fn categories(req: &Request) -> Vec<Category> {
    let settings = req.settings::<Settings>();
    Category::parse_with_questions(&settings.categories, &settings.questions)
}

/// The photos of the request (its `photo` field), or why they cannot be taken (see
/// [`media::photos_of`]).
pub fn photos(max: usize) -> Result<Vec<Upload>, Vec<FieldError>> {
    media::photos_of("photo", max).map_err(|message| vec![("photo", message)])
}

/// What sending a report came to.
pub enum Sent {
    /// Sent: its number.
    Sent(u64),
    /// Open reports of the same category nearby: the reporter chooses first.
    Nearby(Vec<(Report, f64)>),
}

/// Checks the place against the commune's outline, offers the nearby reports of the same
/// category (unless the reporter already saw them), then stores the report and tells the
/// staff. `author` is the reporter's account (none for a report posted by an application).
pub fn send(
    req: &Request,
    author: Option<&str>,
    author_name: &str,
    new: NewReport,
    confirmed: bool,
    photos: &[Upload],
) -> Result<Sent, Vec<FieldError>> {
    let internal = |e: StoreError| vec![("lieu", format!("Enregistrement impossible\u{a0}: {e}"))];
    if let Some(at) = new.at {
        // No outline in the registry (eight communes nouvelles): the person's word is taken.
        if parvis_module_sdk::store::in_commune(at).map_err(internal)? == Some(false) {
            return Err(vec![(
                "lieu",
                format!(
                    "Ce lieu est en dehors du territoire {}. Choisissez un lieu dans la commune.",
                    req.commune.de()
                ),
            )]);
        }
        if !confirmed {
            let nearby =
                store::nearby(at, NEARBY_M, &new.category.code(), None).map_err(internal)?;
            if !nearby.is_empty() {
                return Ok(Sent::Nearby(nearby));
            }
        }
    }
    let now = host::now_ms();
    let number = store::next_number().map_err(internal)?;
    let alt = if new.photo_alt.is_empty() {
        format!("Photo jointe au signalement n°\u{a0}{number}")
    } else {
        new.photo_alt.clone()
    };
    let photos = media::keep_photos(photos, &alt).map_err(internal)?;
    let report = Report {
        number,
        category: new.category.code(),
        category_label: new.category.label.clone(),
        service: new.category.service.clone(),
        description: new.description,
        address: new.address,
        at: new.at.map(|p| (p.lat, p.lon)),
        author: author.map(str::to_string),
        author_name: author_name.to_string(),
        public_name: new.public_name,
        status: Status::Nouveau,
        duplicate_of: None,
        steps: vec![Step {
            at: now,
            status: Status::Nouveau,
            reply: None,
            photo: None,
        }],
        photos,
        agent: None,
        answers: new.answers,
    };
    store::insert(&report).map_err(internal)?;
    let quartier = neighbourhood_of(&report).map_err(internal)?;
    indicators::add(REPORTED, quartier.as_deref(), now, 1).map_err(internal)?;
    // The staff hear of it in the app; a failure to notify does not lose the report.
    let notice = Notification::in_app(
        &format!("Nouveau signalement n°\u{a0}{number}"),
        &format!("{} — {}", report.title(), excerpt(&report.description)),
        &format!("/{number}"),
    );
    if let Err(e) = host::notify(&Audience::Role("tenant-admin".into()), &notice) {
        host::warn(&format!("signalement {number}: équipe non prévenue: {e}"));
    }
    Ok(Sent::Sent(number))
}

/// Figure (contract 0.2.7): reports sent, by neighbourhood and month.
pub const REPORTED: &str = "signalements";
/// Figure: reports resolved (the first time), by the month of their resolution.
pub const RESOLVED: &str = "signalements-resolus";
/// Figure: minutes those resolved reports took, from sending to resolution.
pub const MINUTES_TO_RESOLVE: &str = "minutes-resolution";

/// The neighbourhood a report's place lies in, if it has a place and the commune has
/// neighbourhoods.
fn neighbourhood_of(report: &Report) -> Result<Option<String>, StoreError> {
    match report.at {
        Some((lat, lon)) => parvis_module_sdk::store::neighbourhood_at(Point { lat, lon }),
        None => Ok(None),
    }
}

/// The first 140 characters of a text, on one line.
pub fn excerpt(text: &str) -> String {
    parvis_module_sdk::html::excerpt(text, 140)
}

/// `account` has the same problem as report `number`. False if it already said so, or sent
/// the report itself.
pub fn support(number: u64, account: &str) -> Result<bool, Error> {
    let doc = store::report(number)?.ok_or(Error::NotFound)?;
    if !doc.value.status.is_open() {
        return Err(Error::conflict(
            "Ce signalement est clos\u{a0}: il ne reçoit plus de soutiens.",
        ));
    }
    if doc.value.author.as_deref() == Some(account) {
        return Ok(false);
    }
    Ok(store::support(number, account, host::now_ms())?)
}

/// Applies the staff's change: a step in the timeline (or a reassignment alone), then tells
/// the reporter and the supporters. A duplicate's supporters and reporter join the report it
/// is merged into.
pub fn change(
    req: &Request,
    number: u64,
    change: StatusChange,
    photo: Option<&Upload>,
) -> Result<(), Error> {
    let doc = store::report(number)?.ok_or(Error::NotFound)?;
    let mut report = doc.value;
    let was_resolved = report.steps.iter().any(|s| s.status == Status::Resolu);
    if let Some(target) = change.duplicate_of {
        let other = store::report(target)?;
        let valid = other
            .as_ref()
            .is_some_and(|o| o.value.status != Status::Doublon);
        if target == number || !valid {
            return Err(Error::page(
                422,
                "Fusion impossible",
                &format!(
                    "Le signalement n°\u{a0}{target} n'existe pas, est celui-ci, ou est lui-même un doublon. Indiquez le numéro du signalement qui reste ouvert."
                ),
            ));
        }
    }
    let now = host::now_ms();
    let moved = change
        .service
        .as_ref()
        .filter(|s| **s != report.service)
        .cloned();
    if let Some(service) = &moved {
        report.service = service.clone();
    }
    let stepped = change.status != report.status || change.reply.is_some() || photo.is_some();
    if stepped {
        let photo = match photo {
            Some(upload) => {
                let alt = format!("Photo de la mairie, signalement n°\u{a0}{number}");
                media::keep_photos(std::slice::from_ref(upload), &alt)?
                    .into_iter()
                    .next()
            }
            None => None,
        };
        report.status = change.status;
        report.duplicate_of = change.duplicate_of;
        report.steps.push(Step {
            at: now,
            status: change.status,
            reply: change.reply.clone(),
            photo,
        });
    }
    if !stepped && moved.is_none() {
        return Ok(());
    }
    let first_resolved = stepped && report.status == Status::Resolu && !was_resolved;
    store::update(&report, doc.version)?;
    if first_resolved {
        let quartier = neighbourhood_of(&report)?;
        let took = (now - report.steps.first().map_or(now, |s| s.at)).max(0) / 60_000;
        indicators::add(RESOLVED, quartier.as_deref(), now, 1)?;
        indicators::add(MINUTES_TO_RESOLVE, quartier.as_deref(), now, took)?;
    }
    if let Some(target) = change.duplicate_of {
        store::merge_supporters(&report, target, now)?;
    }
    if stepped {
        tell(req, &report, change.reply.as_deref())?;
    }
    Ok(())
}

/// Notifies the reporter and the supporters of the report's new step.
fn tell(req: &Request, report: &Report, reply: Option<&str>) -> Result<(), Error> {
    let mut accounts = store::supporters(report.number)?;
    accounts.extend(report.author.clone());
    let title = format!(
        "Signalement n°\u{a0}{}\u{a0}: {}",
        report.number,
        report.status.label().to_lowercase()
    );
    let mut body = format!("{} — {}.", report.title(), report.status.event());
    if let Some(target) = report.duplicate_of {
        body.push_str(&format!(
            " Le suivi continue sur le signalement n°\u{a0}{target}."
        ));
    }
    if let Some(reply) = reply {
        body.push_str(&format!(" Réponse de la mairie\u{a0}: {}", excerpt(reply)));
    }
    let path = match report.duplicate_of {
        Some(target) => format!("/{target}"),
        None => format!("/{}", report.number),
    };
    let notice = Notification::in_app(&title, &body, &path)
        .channels(Channels::IN_APP | Channels::EMAIL | Channels::PUSH);
    host::notify_others(req, accounts, &notice);
    Ok(())
}

/// Adds a staff note.
pub fn note(req: &Request, number: u64, text: &str) -> Result<(), Error> {
    store::report(number)?.ok_or(Error::NotFound)?;
    store::add_note(&Note {
        report: number,
        by: req.display_name().unwrap_or("Équipe").to_string(),
        text: text.to_string(),
        at: host::now_ms(),
    })?;
    Ok(())
}

/// Who takes a report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// This member of the team (the one acting, or another), or no one.
    To(Option<Agent>),
    /// The one acting gives back a report they had (nothing happens if it is another's).
    Leave,
}

/// Assigns report `number` as the signed-in staff member chose (the team member is checked by
/// the caller). Only an open report is given to someone; anyone of the team may hand it to
/// another or to no one, a coordinator's job. The new agent, if it is not the one acting, is
/// told in the app and by e-mail. Returns the new agent, or `None` when nothing changed.
pub fn assign(
    req: &Request,
    number: u64,
    change: Assignment,
) -> Result<Option<Option<Agent>>, Error> {
    let account = req.require_account()?;
    let doc = store::report(number)?.ok_or(Error::NotFound)?;
    let mut report = doc.value;
    let current = report.agent.as_ref().map(|a| a.account.as_str());
    let to = match change {
        Assignment::Leave if current == Some(account) => None,
        Assignment::Leave => return Ok(None),
        Assignment::To(to) => to,
    };
    if current == to.as_ref().map(|a| a.account.as_str()) {
        return Ok(None);
    }
    if to.is_some() && !report.status.is_open() {
        return Err(Error::page(
            409,
            "Signalement clos",
            "Ce signalement est clos\u{a0}: il n'y a plus rien à prendre en charge.",
        ));
    }
    report.agent = to.clone();
    store::update(&report, doc.version)?;
    if let Some(agent) = &to
        && agent.account != account
    {
        let notice = Notification::in_app(
            &format!("Signalement n°\u{a0}{number} à traiter"),
            &format!(
                "{} vous confie le signalement n°\u{a0}{number}\u{a0}: {}",
                req.display_name().unwrap_or("L'équipe"),
                report.title()
            ),
            &format!("/{number}"),
        )
        .channels(Channels::IN_APP | Channels::EMAIL);
        // The assignment stands even if the notice cannot go: the queue shows it.
        if let Err(e) = host::notify(&Audience::Accounts(vec![agent.account.clone()]), &notice) {
            host::warn(&format!("signalement {number}: agent non prévenu: {e}"));
        }
    }
    Ok(Some(to))
}

/// The reporter's account was deleted: its reports stay the commune's (they describe the
/// street, not the person), unsigned; its supports are withdrawn. A staff member's: the
/// reports they had taken on are free again (their name leaves them).
pub fn forget(account: &str) -> Result<(), Error> {
    for doc in store::assigned_to(account)? {
        let mut report = doc.value;
        report.agent = None;
        store::update(&report, doc.version)?;
    }
    for doc in store::sent_by(account)? {
        let mut report = doc.value;
        report.author = None;
        report.author_name = String::new();
        report.public_name = false;
        store::update(&report, doc.version)?;
    }
    store::forget_supports(account)?;
    Ok(())
}
