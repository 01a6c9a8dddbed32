//! Public routes, under `/m/polls`: list, poll page, vote.

use crate::service::{self, Eligibility, VoteError};
use crate::{store, views};
use parvis_module_sdk::prelude::*;
use parvis_module_sdk::store::Doc;

use crate::model::{Poll, Status};
use parvis_module_sdk::now;

/// The routes a visitor reaches.
pub fn router() -> Router {
    Router::new()
        .get(now::PATH, happening)
        .get("/", index)
        .get("/{id}", show)
        .post("/{id}/vote", vote)
}

/// The polls open now, for the commune's home page (`now`): each until it closes.
fn happening(_: &Request, _: &Params) -> Result<Response, Error> {
    let at = host::now_ms();
    let cards: Vec<now::Card> = store::active_polls()?
        .into_iter()
        .filter(|doc| doc.value.status(at) == Status::Open)
        .map(|doc| {
            now::Card::new(&doc.value.question, &format!("/{}", doc.key))
                .summary("Sondage ouvert : donnez votre avis.")
                .until(doc.value.closes_at)
        })
        .collect();
    Ok(now::answer(&cards))
}

/// Every poll with its tally, newest first.
pub(crate) fn listed() -> Result<Vec<views::Listed>, Error> {
    store::all_polls()?
        .into_iter()
        .map(|doc| {
            let results = store::results(&doc.key, &doc.value)?;
            Ok((doc, results))
        })
        .collect()
}

/// The poll named by the `{id}` segment, or a 404.
pub(crate) fn find(params: &Params) -> Result<Doc<Poll>, Error> {
    store::poll(params.require("id")?)?.ok_or(Error::NotFound)
}

/// The commune's settings for this module.
#[derive(Debug, Default, serde::Deserialize)]
struct Settings {
    #[serde(default)]
    introduction: String,
}

fn index(req: &Request, _: &Params) -> Result<Response, Error> {
    let now = host::now_ms();
    let settings: Settings = req.settings();
    let intro = Some(settings.introduction.trim()).filter(|intro| !intro.is_empty());
    Ok(Response::page(
        "Sondages",
        views::public_index(req, &listed()?, now, intro),
    ))
}

fn show(req: &Request, params: &Params) -> Result<Response, Error> {
    let doc = find(params)?;
    let now = host::now_ms();
    let eligibility = service::eligibility(req, &doc.key, &doc.value, now)?;
    page(req, &doc, now, eligibility, None)
}

fn page(
    req: &Request,
    doc: &Doc<Poll>,
    now: i64,
    eligibility: Eligibility,
    error: Option<&str>,
) -> Result<Response, Error> {
    let results = store::results(&doc.key, &doc.value)?;
    Ok(Response::page(
        doc.value.question.clone(),
        views::public_show(req, doc, &results, now, eligibility, error),
    ))
}

fn vote(req: &Request, params: &Params) -> Result<Response, Error> {
    let doc = find(params)?;
    let now = host::now_ms();
    match service::vote(req, &doc.key, &doc.value, now) {
        Ok(()) => Ok(req
            .redirect(&format!("/{}", doc.key))
            .with_flash("Votre vote a été enregistré. Merci de votre participation.")),
        Err(VoteError::Invalid(message)) => {
            Ok(page(req, &doc, now, Eligibility::CanVote, Some(message))?.with_status(422))
        }
        Err(VoteError::Refused(why)) => Err(refusal(why)),
        Err(VoteError::Other(err)) => Err(err),
    }
}

fn refusal(why: Eligibility) -> Error {
    match why {
        Eligibility::MustSignIn => Error::SignInRequired,
        Eligibility::AlreadyVoted => Error::page(
            409,
            "Vote déjà enregistré",
            "Vous avez déjà voté à ce sondage.",
        ),
        Eligibility::ResidentsOnly => Error::page(
            403,
            "Vote réservé aux habitants",
            "Ce sondage est réservé aux habitants dont la résidence a été vérifiée par la commune.",
        ),
        Eligibility::NotOpen | Eligibility::CanVote => {
            Error::page(409, "Vote fermé", "Ce sondage n'est pas ouvert au vote.")
        }
    }
}
