//! Public routes, under `/m/ideas`: the list and the map, the idea form, an idea's page,
//! supporting and commenting.

use crate::form::{self, IdeaForm};
use crate::model::{self, Idea, Status};
use crate::service;
use crate::store::{self, Filter};
use crate::views;
use parvis_module_sdk::prelude::*;

/// The routes a visitor reaches.
pub fn router() -> Router {
    Router::new()
        .get("/", index)
        .get("/carte.json", markers)
        .get("/nouvelle", new_form)
        .post("/nouvelle", propose)
        .get("/{n}", show)
        .post("/{n}/soutenir", support)
        .post("/{n}/commentaires", comment)
        .post("/{n}/commentaires/supprimer", delete_comment)
}

/// The list's filter from the query string: only values the lists know.
pub fn filter(req: &Request) -> Result<Filter, Error> {
    let themes = service::themes(req);
    let neighbourhoods = service::neighbourhoods()?;
    Ok(Filter {
        status: req.query_value("statut").and_then(Status::parse),
        theme: req
            .query_value("theme")
            .filter(|c| themes.iter().any(|t| t.code() == *c))
            .map(str::to_string),
        neighbourhood: req
            .query_value("quartier")
            .filter(|q| neighbourhoods.iter().any(|(id, _)| id == q))
            .map(str::to_string),
        neighbourhoods,
    })
}

/// A cursor from the query string: an idea key.
pub fn cursor(req: &Request) -> Option<&str> {
    req.query_value("apres")
        .filter(|c| c.len() == 8 && c.bytes().all(|b| b.is_ascii_digit()))
}

/// How many ideas have each status.
pub fn counts() -> Result<Vec<(Status, u64)>, Error> {
    Status::ALL
        .into_iter()
        .map(|s| Ok((s, store::count_status(s)?)))
        .collect()
}

/// The list's page for `filter`, with the settings and counts: public and staff alike.
pub fn listing(
    req: &Request,
    filter: &Filter,
    render: fn(&Request, &views::Index<'_>) -> Markup,
) -> Result<Markup, Error> {
    let themes = service::themes(req);
    let page = store::page(filter, cursor(req))?;
    let ideas: Vec<Idea> = page.documents.into_iter().map(|d| d.value).collect();
    let settings: service::Settings = req.settings();
    Ok(render(
        req,
        &views::Index {
            themes: &themes,
            filter,
            ideas: &ideas,
            next: page.next.as_deref(),
            counts: &counts()?,
            intro: &settings.intro,
        },
    ))
}

fn index(req: &Request, _: &Params) -> Result<Response, Error> {
    let filter = filter(req)?;
    Ok(Response::page(
        "Boîte à idées",
        listing(req, &filter, views::index)?,
    ))
}

/// The placed ideas of the map's view, clustered on its grid (no idea is read): a lone
/// marker is titled by its number and links to its page.
fn markers(req: &Request, _: &Params) -> Result<Response, Error> {
    let public = req.link("").replace("/admin/m/", "/m/");
    parvis_module_sdk::map::markers(req, &store::IDEAS, |key| {
        let number = key.parse::<u64>().ok()?;
        Some((
            format!("{public}/{number}"),
            format!("Idée n°\u{a0}{number}"),
        ))
    })
}

fn new_form(req: &Request, _: &Params) -> Result<Response, Error> {
    req.require_account()?;
    let form = IdeaForm {
        theme: req.query_value("theme").unwrap_or_default().to_string(),
        neighbourhood: req.query_value("quartier").unwrap_or_default().to_string(),
        ..IdeaForm::default()
    };
    Ok(Response::page(
        "Proposer une idée",
        views::form(
            req,
            &service::themes(req),
            &service::neighbourhoods()?,
            &form,
            &[],
        ),
    ))
}

fn propose(req: &Request, _: &Params) -> Result<Response, Error> {
    let account = req.require_account()?;
    let themes = service::themes(req);
    let neighbourhoods = service::neighbourhoods()?;
    let ids: Vec<String> = neighbourhoods.iter().map(|(id, _)| id.clone()).collect();
    let form = IdeaForm::from_request(req);
    let refused = |errors: Vec<(&'static str, String)>| {
        Ok(Response::page(
            "Proposer une idée",
            views::form(req, &themes, &neighbourhoods, &form, &errors),
        )
        .with_status(422))
    };
    let (new, photo) = match (form.validate(&themes, &ids), service::photo()) {
        (Ok(new), Ok(photo)) => (new, photo),
        (Err(mut errors), Err(more)) => {
            errors.extend(more);
            return refused(errors);
        }
        (Err(errors), _) | (_, Err(errors)) => return refused(errors),
    };
    match service::propose(req, account, new, photo.as_ref()) {
        Ok(number) => Ok(req.redirect(&format!("/{number}")).with_flash(format!(
            "Merci\u{202f}! Votre idée n°\u{a0}{number} est publiée. Vous serez prévenu de la réponse de la mairie."
        ))),
        Err(errors) => refused(errors),
    }
}

pub fn number(params: &Params) -> Result<u64, Error> {
    model::parse_number(params.require("n")?).ok_or(Error::NotFound)
}

/// A cursor in an idea's comments: a comment key of this idea.
fn comments_cursor(req: &Request, number: u64) -> Option<&str> {
    req.query_value("apres")
        .filter(|c| c.starts_with(&format!("{}:", Idea::key(number))) && c.len() <= 120)
}

/// An idea's page (`manage`: the staff's), with a comment refused by `errors`.
pub fn idea_page(
    req: &Request,
    number: u64,
    errors: &[form::FieldError],
    draft: &str,
    render: fn(&Request, &views::Show<'_>) -> Markup,
) -> Result<Markup, Error> {
    let idea = store::idea(number)?.ok_or(Error::NotFound)?.value;
    let neighbourhoods = service::neighbourhoods()?;
    let neighbourhood = idea.neighbourhood.as_ref().and_then(|id| {
        neighbourhoods
            .iter()
            .find(|(n, _)| n == id)
            .map(|(_, name)| name.as_str())
    });
    let supporting = match req.account() {
        Some(account) => store::supports(number, account)?,
        None => false,
    };
    let comments = store::comments(number, comments_cursor(req, number))?;
    Ok(render(
        req,
        &views::Show {
            idea: &idea,
            neighbourhood,
            supporting,
            comments: &comments.documents,
            next: comments.next.as_deref(),
            errors,
            draft,
        },
    ))
}

fn show(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    let page = idea_page(req, n, &[], "", views::show)?;
    Ok(Response::page(format!("Idée n°\u{a0}{n}"), page))
}

fn support(req: &Request, params: &Params) -> Result<Response, Error> {
    let account = req.require_account()?;
    let n = number(params)?;
    let withdraw = req.form_value("action") == Some("retirer");
    let changed = service::support(n, account, !withdraw)?;
    let message = match (withdraw, changed) {
        (false, true) => {
            "Merci pour votre soutien\u{a0}: vous serez prévenu de la réponse de la mairie."
        }
        (false, false) => "Vous soutenez déjà cette idée (ou c'est la vôtre).",
        (true, true) => "Votre soutien est retiré.",
        (true, false) => "Vous ne souteniez pas cette idée.",
    };
    Ok(req.redirect(&format!("/{n}")).with_flash(message))
}

fn comment(req: &Request, params: &Params) -> Result<Response, Error> {
    req.require_account()?;
    let n = number(params)?;
    let raw = req.form_value("commentaire").unwrap_or_default();
    match form::comment(raw) {
        Ok(text) => {
            service::comment(req, n, text)?;
            Ok(req
                .redirect(&format!("/{n}#commentaires-titre"))
                .with_flash("Votre commentaire est publié."))
        }
        Err(error) => {
            let page = idea_page(req, n, &[error], raw, views::show)?;
            Ok(Response::page(format!("Idée n°\u{a0}{n}"), page).with_status(422))
        }
    }
}

fn delete_comment(req: &Request, params: &Params) -> Result<Response, Error> {
    let n = number(params)?;
    let key = req.form_value("cle").unwrap_or_default();
    service::delete_comment(req, n, key, false)?;
    Ok(req
        .redirect(&format!("/{n}#commentaires-titre"))
        .with_flash("Le commentaire est supprimé."))
}
