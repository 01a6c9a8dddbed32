//! Public routes, under `/m/commitments`: the commune's bilan and each bearer's, a
//! commitment's page with its evaluations; publishing and managing for the commune's admins
//! and officials.

use crate::form::{self, CommitmentForm};
use crate::model::{self, Commitment, Status};
use crate::store::{self, Filter};
use crate::{service, views};
use parvis_module_sdk::prelude::*;
use parvis_module_sdk::text::code_of;

/// The routes.
pub fn router() -> Router {
    Router::new()
        .get("/", bilan)
        .get("/porteur/{code}", bilan)
        .get("/nouveau", new_form)
        .post("/nouveau", publish)
        .get("/{n}", show)
        .get("/{n}/modifier", edit_form)
        .post("/{n}/modifier", edit)
        .post("/{n}/point", update)
        .post("/{n}/evaluation", evaluate)
        .post("/{n}/evaluation/retirer", withdraw)
        .post("/{n}/reponse", answer)
}

fn number(params: &Params) -> Result<u64, Error> {
    model::parse_number(params.require("n")?).ok_or(Error::NotFound)
}

fn bilan(req: &Request, params: &Params) -> Result<Response, Error> {
    let themes = service::themes(req);
    let neighbourhoods = service::neighbourhoods()?;
    let all = store::all()?;
    let mut bearers: Vec<(String, String)> = Vec::new();
    for c in &all {
        if !bearers.iter().any(|(code, _)| *code == c.bearer.code()) {
            bearers.push((c.bearer.code(), c.bearer.name.clone()));
        }
    }
    let bearer = match params.get("code") {
        Some(code) => Some(
            bearers
                .iter()
                .find(|(c, _)| c == code)
                .ok_or(Error::NotFound)?
                .clone(),
        ),
        None => None,
    };
    let filter = Filter {
        status: req.query_value("statut").and_then(Status::parse),
        theme: req
            .query_value("theme")
            .filter(|t| themes.iter().any(|(code, _)| code == t))
            .map(str::to_string),
        bearer: bearer.as_ref().map(|(code, _)| code.clone()),
        neighbourhood: req
            .query_value("quartier")
            .filter(|q| neighbourhoods.iter().any(|(id, _)| id == q))
            .map(str::to_string),
    };
    let commitments: Vec<Commitment> = if filter == Filter::default() {
        all
    } else {
        all.into_iter()
            .filter(|c| store::matches(&filter, c))
            .collect()
    };
    let title = match &bearer {
        Some((_, name)) => format!("Bilan\u{a0}: {name}"),
        None => "Engagements et bilan".to_string(),
    };
    let settings: service::Settings = req.settings();
    Ok(Response::page(
        title.clone(),
        views::bilan(
            req,
            &views::Bilan {
                title: &title,
                bearer: bearer.as_ref().map(|(code, _)| code.as_str()),
                commitments: &commitments,
                filter: &filter,
                themes: &themes,
                bearers: &bearers,
                neighbourhoods: &neighbourhoods,
                intro: &settings.intro,
                may_publish: service::may_publish(req),
            },
        ),
    ))
}

fn require_publisher(req: &Request) -> Result<(), Error> {
    req.require_account()?;
    if service::may_publish(req) {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// The form's page, with its errors (422) or fresh.
fn form_page(
    req: &Request,
    action: &str,
    form: &CommitmentForm,
    errors: &[form::FieldError],
) -> Result<Response, Error> {
    let page = views::form(
        req,
        action,
        form,
        &service::themes(req),
        &service::neighbourhoods()?,
        errors,
    );
    let title = if action == "/nouveau" {
        "Publier un engagement"
    } else {
        "Modifier l'engagement"
    };
    let response = Response::page(title, page);
    Ok(if errors.is_empty() {
        response
    } else {
        response.with_status(422)
    })
}

fn new_form(req: &Request, _: &Params) -> Result<Response, Error> {
    require_publisher(req)?;
    let bearer = if req.has_role("tenant-admin") {
        "La commune".to_string()
    } else {
        req.display_name().unwrap_or_default().to_string()
    };
    let form = CommitmentForm {
        bearer,
        ..CommitmentForm::default()
    };
    form_page(req, "/nouveau", &form, &[])
}

/// What a posted commitment form came to: valid (with its theme's label), or to show again.
enum Read {
    Valid(form::NewCommitment, String),
    Refused(CommitmentForm, Vec<form::FieldError>),
}

/// Validates the posted form; the theme's label with it.
fn read(req: &Request) -> Read {
    let themes = service::themes(req);
    let codes: Vec<String> = themes.iter().map(|(code, _)| code.clone()).collect();
    let ids: Vec<String> = service::neighbourhoods()
        .unwrap_or_default()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let form = CommitmentForm::from_request(req);
    // An official publishes in their own name (their function may follow it): not in the
    // name of another official, whose bilan would then list it.
    if !req.has_role("tenant-admin") {
        let own = req.display_name().unwrap_or_default();
        let bearer = form.bearer.split_whitespace().collect::<Vec<_>>().join(" ");
        let theirs = !own.is_empty()
            && (bearer == own
                || [",", " —", " -", " ("]
                    .iter()
                    .any(|after| bearer.starts_with(&format!("{own}{after}"))));
        if !bearer.is_empty() && !theirs {
            let message = format!(
                "Un élu publie en son nom\u{a0}: «\u{a0}{own}\u{a0}», suivi s'il le souhaite de sa fonction."
            );
            let mut errors = form.validate(&codes, &ids).err().unwrap_or_default();
            errors.retain(|(f, _)| *f != "porteur");
            errors.push(("porteur", message));
            return Read::Refused(form, errors);
        }
    }
    match form.validate(&codes, &ids) {
        Ok(new) => {
            let label = themes
                .iter()
                .find(|(code, _)| *code == new.theme)
                .map(|(_, label)| label.clone())
                .unwrap_or_default();
            Read::Valid(new, label)
        }
        Err(errors) => Read::Refused(form, errors),
    }
}

fn publish(req: &Request, _: &Params) -> Result<Response, Error> {
    require_publisher(req)?;
    match read(req) {
        Read::Valid(new, theme) => {
            let n = service::publish(req, new, &theme)?;
            Ok(req
                .redirect(&format!("/{n}"))
                .with_flash("L'engagement est publié et annoncé dans le fil de la commune."))
        }
        Read::Refused(form, errors) => form_page(req, "/nouveau", &form, &errors),
    }
}

/// The commitment, if the viewer may manage it.
fn managed(req: &Request, n: u64) -> Result<Commitment, Error> {
    req.require_account()?;
    let c = store::commitment(n)?.ok_or(Error::NotFound)?.value;
    if service::may_manage(req, &c) {
        Ok(c)
    } else {
        Err(Error::Forbidden)
    }
}

fn edit_form(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    let c = managed(req, n)?;
    let (milestones, documents) = form::lines(&c.milestones, &c.documents);
    let form = CommitmentForm {
        title: c.title,
        description: c.description,
        theme: code_of(&c.theme),
        bearer: c.bearer.name,
        neighbourhood: c.neighbourhood.unwrap_or_default(),
        milestones,
        documents,
    };
    form_page(req, &format!("/{n}/modifier"), &form, &[])
}

fn edit(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    managed(req, n)?;
    match read(req) {
        Read::Valid(new, theme) => {
            service::edit(n, new, &theme)?;
            Ok(req
                .redirect(&format!("/{n}"))
                .with_flash("L'engagement est modifié."))
        }
        Read::Refused(form, errors) => form_page(req, &format!("/{n}/modifier"), &form, &errors),
    }
}

/// A commitment's page, with the errors of a refused form.
fn page(req: &Request, n: u64, errors: &[form::FieldError]) -> Result<Response, Error> {
    let c = store::commitment(n)?.ok_or(Error::NotFound)?.value;
    let neighbourhoods = service::neighbourhoods()?;
    let neighbourhood = c.neighbourhood.as_ref().and_then(|id| {
        neighbourhoods
            .iter()
            .find(|(q, _)| q == id)
            .map(|(_, name)| name.as_str())
    });
    let mine = match req.account() {
        Some(account) => store::evaluation(n, account)?.map(|d| d.value),
        None => None,
    };
    let after = req
        .query_value("apres")
        .filter(|a| a.starts_with(&format!("{}:", Commitment::key(n))) && a.len() <= 120);
    let evaluations = store::evaluations(n, after)?;
    let status = if errors.is_empty() { 200 } else { 422 };
    Ok(Response::page(
        c.title.clone(),
        views::show(
            req,
            &views::Show {
                c: &c,
                neighbourhood,
                mine: mine.as_ref(),
                comments: &evaluations.documents,
                next: evaluations.next.as_deref(),
                manage: req.account().is_some() && service::may_manage(req, &c),
                errors,
            },
        ),
    )
    .with_status(status))
}

fn show(req: &Request, params: &Params) -> Result<Response, Error> {
    page(req, number(params)?, &[])
}

fn update(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    managed(req, n)?;
    match form::update(req) {
        Ok(update) => {
            service::update(n, update)?;
            Ok(req
                .redirect(&format!("/{n}"))
                .with_flash("Le point d'étape est publié dans le fil de la commune."))
        }
        Err(errors) => page(req, n, &errors),
    }
}

fn evaluate(req: &Request, params: &Params) -> Result<Response, Error> {
    req.require_account()?;
    let n = number(params)?;
    match form::evaluation(req) {
        Ok((note, comment)) => {
            let changed = service::evaluate(req, n, note, comment)?;
            let message = if changed {
                "Votre évaluation est changée."
            } else {
                "Merci, votre évaluation est enregistrée."
            };
            Ok(req
                .redirect(&format!("/{n}#evaluations-titre"))
                .with_flash(message))
        }
        Err(errors) => page(req, n, &errors),
    }
}

fn withdraw(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    let message = if service::withdraw(req, n)? {
        "Votre évaluation est retirée."
    } else {
        "Vous n'aviez pas évalué cet engagement."
    };
    Ok(req
        .redirect(&format!("/{n}#evaluations-titre"))
        .with_flash(message))
}

fn answer(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    managed(req, n)?;
    let account = req.form_value("compte").unwrap_or_default();
    let text = req.form_value("reponse").unwrap_or_default().trim();
    if text.is_empty() || text.chars().count() > form::COMMENT_MAX {
        return Err(Error::page(
            422,
            "Réponse non publiée",
            "La réponse doit compter de 1 à 1\u{a0}000 caractères.",
        ));
    }
    service::answer(req, n, account, text)?;
    Ok(req
        .redirect(&format!("/{n}#evaluations-titre"))
        .with_flash("Votre réponse est publiée."))
}
