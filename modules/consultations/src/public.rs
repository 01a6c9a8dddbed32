//! Public routes, under `/m/consultations`: the consultations, one with its proposals, the
//! proposal form, the voting sequence, the participant's votes, the results and their CSV.

use crate::model::{Moderation, Phase, Vote};
use crate::service::{self, consultation};
use crate::{store, views};
use parvis_module_sdk::prelude::*;

/// The routes a visitor reaches.
pub fn router() -> Router {
    Router::new()
        .get("/", index)
        .get("/{n}", show)
        .post("/{n}/propositions", propose)
        .get("/{n}/voter", ballot_page)
        .post("/{n}/voter", vote)
        .post("/{n}/quartier", declare)
        .get("/{n}/mes-votes", my_votes)
        .get("/{n}/resultats", results)
        .get("/{n}/resultats.csv", csv)
}

/// A number in a path segment.
pub fn number(params: &Params, name: &str) -> Result<u64, Error> {
    parvis_module_sdk::text::parse_number(params.require(name)?).ok_or(Error::NotFound)
}

fn index(req: &Request, _: &Params) -> Result<Response, Error> {
    let all: Vec<_> = store::consultations()?
        .into_iter()
        .filter(|c| c.approved || req.admin)
        .collect();
    Ok(Response::page(
        "Consultations",
        views::index(req, &all, host::now_ms()),
    ))
}

/// A consultation's page: the question, the published proposals (in the order of their
/// publication), the viewer's own proposals and the proposal form.
pub fn page(req: &Request, n: u64, error: Option<&str>) -> Result<Markup, Error> {
    let (c, _) = consultation(req, n)?;
    let after = req
        .query_value("apres")
        .filter(|a| a.len() == 17 && a.bytes().all(|b| b.is_ascii_digit() || b == b'-'));
    let published = store::proposals(n, Moderation::Published, after)?;
    let mine: Vec<_> = match req.account() {
        Some(account) => store::proposed_by(account)?
            .into_iter()
            .map(|d| d.value)
            .filter(|p| p.consultation == n)
            .collect(),
        None => Vec::new(),
    };
    Ok(views::show(
        req,
        &views::Show {
            consultation: &c,
            now: host::now_ms(),
            published: &published
                .documents
                .iter()
                .map(|d| d.value.clone())
                .collect::<Vec<_>>(),
            next: published.next.as_deref(),
            mine: &mine,
            waiting: if req.admin {
                store::count(n, Moderation::Waiting)?
            } else {
                0
            },
            error,
        },
    ))
}

fn show(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params, "n")?;
    let (c, _) = consultation(req, n)?;
    Ok(Response::page(c.question.clone(), page(req, n, None)?))
}

fn propose(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params, "n")?;
    let text = req.form_value("proposition").unwrap_or_default();
    match service::propose(req, n, text) {
        Ok(_) => Ok(req.redirect(&format!("/{n}#mes-propositions")).with_flash(
            "Merci\u{202f}! Votre proposition est envoyée\u{a0}: elle sera publiée après modération, et vous serez prévenu.",
        )),
        Err(Error::Page {
            status: 422,
            message,
            ..
        }) => {
            let (c, _) = consultation(req, n)?;
            Ok(Response::page(c.question.clone(), page(req, n, Some(&message))?).with_status(422))
        }
        Err(e) => Err(e),
    }
}

fn ballot_page(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params, "n")?;
    let account = req.require_account()?.to_string();
    let (c, _) = consultation(req, n)?;
    let chosen = req
        .query_value("proposition")
        .and_then(parvis_module_sdk::text::parse_number);
    let shown = match chosen {
        Some(p) => Some(p),
        None if c.phase(host::now_ms()) == Phase::Open => service::next(&c, &account)?,
        None => None,
    };
    let proposal = match shown {
        Some(p) => match store::proposal(n, p)? {
            Some(doc) if doc.value.moderation == Moderation::Published => Some(doc.value),
            _ => return Err(Error::NotFound),
        },
        None => None,
    };
    let ballot = match &proposal {
        Some(p) => store::ballot(n, p.number, &account)?.map(|d| d.value),
        None => None,
    };
    let judged = store::ballots_of(n, &account)?.len();
    let areas = service::neighbourhoods()?;
    let declared = if areas.is_empty() {
        None
    } else {
        store::declared(n, &account)?
    };
    Ok(Response::page(
        format!("Voter — {}", c.question),
        views::ballot(
            req,
            &views::BallotPage {
                consultation: &c,
                proposal: proposal.as_ref(),
                ballot: ballot.as_ref(),
                judged,
                now: host::now_ms(),
                neighbourhoods: &areas,
                declared: declared.as_deref(),
            },
        ),
    ))
}

/// The participant says which neighbourhood they live in (or no longer says it): their next
/// votes carry it, for the results by neighbourhood.
fn declare(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params, "n")?;
    let account = req.require_account()?.to_string();
    let (c, _) = consultation(req, n)?;
    service::require_open(&c, "voter")?;
    let chosen = req.form_value("quartier").unwrap_or_default();
    let areas = service::neighbourhoods()?;
    let area = match chosen {
        "" => None,
        id if areas.iter().any(|(a, _)| a == id) => Some(id),
        _ => {
            return Err(Error::page(
                422,
                "Quartier inconnu",
                "Choisissez votre quartier dans la liste, ou «\u{a0}Je préfère ne pas le dire\u{a0}».",
            ));
        }
    };
    store::declare(n, &account, area)?;
    Ok(req
        .redirect(&format!("/{n}/voter"))
        .with_flash("Votre quartier est noté pour vos prochains votes."))
}

fn vote(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params, "n")?;
    let p = req
        .form_value("proposition")
        .and_then(parvis_module_sdk::text::parse_number)
        .ok_or_else(|| Error::bad_request("Proposition inconnue."))?;
    let Some(vote) = req.form_value("vote").and_then(Vote::parse) else {
        return Err(Error::page(
            422,
            "Vote non enregistré",
            "Choisissez «\u{a0}D'accord\u{a0}», «\u{a0}Pas d'accord\u{a0}» ou «\u{a0}Neutre\u{a0}».",
        ));
    };
    let changed = service::vote(req, n, p, vote, service::qualifications(req))?;
    let flash = if changed {
        format!("Vote enregistré\u{a0}: {}.", vote.label().to_lowercase())
    } else {
        "Votre vote n'a pas changé.".to_string()
    };
    Ok(req.redirect(&format!("/{n}/voter")).with_flash(flash))
}

fn my_votes(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params, "n")?;
    let account = req.require_account()?.to_string();
    let (c, _) = consultation(req, n)?;
    let mut votes = Vec::new();
    for doc in store::ballots_of(n, &account)? {
        let text = service::text_of(n, doc.value.proposal)?;
        votes.push((doc.value, text));
    }
    Ok(Response::page(
        format!("Mes votes — {}", c.question),
        views::my_votes(req, &c, &votes, host::now_ms()),
    ))
}

fn results(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params, "n")?;
    let (c, _) = consultation(req, n)?;
    let results = service::shown_results(&c)?;
    let areas = service::neighbourhoods()?;
    let area = req
        .query_value("quartier")
        .and_then(|q| areas.iter().find(|(id, _)| id == q))
        .cloned();
    Ok(Response::page(
        format!("Résultats — {}", c.question),
        views::results(req, &c, &results, host::now_ms(), &areas, area.as_ref()),
    ))
}

/// The results as open data: every published proposal with its tally, no personal data (no
/// author, no voter).
fn csv(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params, "n")?;
    consultation(req, n)?;
    let tallies = store::tallies(n)?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut head = vec![
        "proposition",
        "texte",
        "votes",
        "d_accord",
        "pas_d_accord",
        "neutre",
    ];
    head.extend(crate::model::QUALIFICATIONS.iter().map(|(code, _)| *code));
    let internal = |e: csv::Error| Error::Internal(e.to_string());
    out.write_record(&head).map_err(internal)?;
    let mut after: Option<String> = None;
    loop {
        let page = store::proposals(n, Moderation::Published, after.as_deref())?;
        for doc in &page.documents {
            let p = &doc.value;
            let t = tallies
                .iter()
                .find(|(q, _)| *q == p.number)
                .map(|(_, t)| t.clone())
                .unwrap_or_default();
            let mut row = vec![
                p.number.to_string(),
                p.text.clone(),
                t.votes().to_string(),
                t.agree.to_string(),
                t.disagree.to_string(),
                t.neutral.to_string(),
            ];
            row.extend(t.qualifications.iter().map(u64::to_string));
            out.write_record(&row).map_err(internal)?;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let data = out
        .into_inner()
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Response::csv(
        &format!("consultation-{n}-resultats.csv"),
        data,
    ))
}
