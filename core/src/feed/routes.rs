//! `/fil` (your feed), `/publier`, `/suivre`, and the Atom feeds `/feed.atom` (a commune) and
//! `/elus/<id>/feed.atom` (an official).

use atom_syndication::{Content, Entry, Feed, FixedDateTime, Link, Person, Text};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tera::Context;

use crate::authz::{Can, PublishPost, perms};
use crate::error::{AppError, AppResult};
use crate::feed::markdown;
use crate::feed::store::{self, Author, Post};
use crate::officials::store as officials;
use crate::web::{AppState, Page, SignedIn, Site};

/// Posts per page.
const PAGE: i64 = 20;
/// Themes a post may carry (the commune's usual sections).
pub const THEMES: &[&str] = &[
    "Travaux et voirie",
    "Écoles et jeunesse",
    "Culture et sport",
    "Environnement",
    "Solidarité",
    "Sécurité",
    "Urbanisme",
    "Budget",
    "Vie associative",
    "Conseil municipal",
];

/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/fil", get(feed))
        .route("/publier", get(publish_form).post(publish))
        .route("/suivre", post(follow))
        .route("/feed.atom", get(commune_atom))
        .route("/elus/{id}/feed.atom", get(official_atom))
}

/// Links each official's post to their profile on their commune's site.
pub fn with_author_links(state: &AppState, page: &Page, mut posts: Vec<Post>) -> Vec<Post> {
    for p in &mut posts {
        if let Some(id) = &p.official_id {
            p.author_url = Some(format!("{}/elus/{id}", page.commune_origin(state, &p.slug)));
        }
    }
    posts
}

#[derive(Deserialize)]
struct FeedQuery {
    avant: Option<String>,
}

async fn feed(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    page: Page,
    Query(q): Query<FeedQuery>,
) -> AppResult<Response> {
    let mut posts = store::feed(&state.db, &account.id, q.avant.as_deref(), PAGE + 1).await?;
    let more = posts.len() as i64 > PAGE;
    posts.truncate(PAGE as usize);
    let mut ctx = Context::new();
    ctx.insert(
        "next",
        &more.then(|| posts.last().map(|p| p.id.clone())).flatten(),
    );
    ctx.insert("posts", &with_author_links(&state, &page, posts));
    Ok(page.render(&state, "feed/feed.html", ctx)?.into_response())
}

/// Who the actor publishes as in this commune: their official profile if they own one,
/// else the commune (its admins), else a candidate.
async fn author(
    state: &AppState,
    page: &Page,
    account: &crate::web::session::Account,
) -> AppResult<(Author, String)> {
    let commune = page.site.commune()?.clone();
    let mut tx = state.db.tenant(commune.tenant_id).begin().await?;
    let own = officials::owned_by(&mut tx, &account.id).await?;
    tx.commit().await?;
    if let Some(p) = own {
        return Ok((
            Author::Official(p.id.clone()),
            format!("{} {}", p.first_name, p.last_name),
        ));
    }
    if state
        .authz
        .can(
            Some(&account.id),
            &commune.tenant_id.authz_domain(),
            perms::EDIT_COMMUNE,
        )
        .await
    {
        return Ok((Author::Commune, commune.name.clone()));
    }
    Ok((
        Author::Candidate,
        format!("{} (candidat)", account.display_name),
    ))
}

async fn publish_form(
    State(state): State<AppState>,
    Can(actor, _): Can<PublishPost>,
    page: Page,
) -> AppResult<Response> {
    let (_, name) = author(&state, &page, &actor.account).await?;
    let mut ctx = Context::new();
    ctx.insert("author_name", &name);
    ctx.insert("themes", THEMES);
    Ok(page
        .with_forms()
        .render(&state, "feed/publish.html", ctx)?
        .into_response())
}

#[derive(Deserialize)]
struct PublishForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    theme: String,
}

async fn publish(
    State(state): State<AppState>,
    Can(actor, _): Can<PublishPost>,
    page: Page,
    Form(form): Form<PublishForm>,
) -> AppResult<Response> {
    let (author, name) = author(&state, &page, &actor.account).await?;
    let body = form.body.trim();
    let theme = Some(form.theme.as_str()).filter(|t| !t.is_empty());
    let error = if body.is_empty() || body.chars().count() > 5000 {
        Some("Le texte doit compter entre 1 et 5 000 caractères.")
    } else if theme.is_some_and(|t| !THEMES.contains(&t)) {
        Some("Choisissez un thème dans la liste.")
    } else {
        None
    };
    if let Some(error) = error {
        let mut ctx = Context::new();
        ctx.insert("author_name", &name);
        ctx.insert("themes", THEMES);
        ctx.insert("error", error);
        ctx.insert("body", &form.body);
        return Ok((
            StatusCode::BAD_REQUEST,
            page.with_forms().render(&state, "feed/publish.html", ctx)?,
        )
            .into_response());
    }
    let commune = page.site.commune()?.clone();
    let mut tx = state.db.tenant(commune.tenant_id).begin().await?;
    let post_id = store::insert(
        &mut tx,
        &actor.account.id,
        &author,
        &name,
        body,
        &markdown::render(body),
        theme,
    )
    .await?;
    let event = crate::notifications::PostPublished {
        tenant_id: commune.tenant_id.0,
        official_id: match &author {
            Author::Official(id) => Some(id.clone()),
            _ => None,
        },
        author_account_id: actor.account.id.0.clone(),
        title: format!("{name} a publié sur {}", commune.name),
        link: format!("{}/#post-{post_id}", page.origin),
        post_id,
    };
    state
        .jobs
        .enqueue(&mut *tx, crate::notifications::FAN_OUT_POST, &event)
        .await?;
    tx.commit().await?;
    state.jobs.notify();
    state.home_cache.invalidate(commune.tenant_id);
    Ok(Redirect::to("/").into_response())
}

#[derive(Deserialize)]
struct FollowForm {
    /// `commune` or an official's id.
    #[serde(default)]
    target: String,
    /// `suivre` or `ne-plus-suivre`.
    #[serde(default)]
    action: String,
}

async fn follow(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    site: Site,
    Form(form): Form<FollowForm>,
) -> AppResult<Response> {
    let commune = site.commune()?.clone();
    let on = match form.action.as_str() {
        "suivre" => true,
        "ne-plus-suivre" => false,
        _ => return Err(AppError::bad_request("Action inconnue.")),
    };
    let (kind, target, back) = if form.target == "commune" {
        ("commune", String::new(), "/".to_string())
    } else {
        let mut tx = state.db.tenant(commune.tenant_id).begin().await?;
        let exists = officials::profile(&mut tx, &form.target).await?.is_some();
        tx.commit().await?;
        if !exists {
            return Err(AppError::not_found(
                "Cet élu n'est pas (ou plus) au répertoire de la commune.",
            ));
        }
        (
            "official",
            form.target.clone(),
            format!("/elus/{}", form.target),
        )
    };
    store::set_follow(&state.db, &account.id, commune.tenant_id, kind, &target, on).await?;
    Ok(Redirect::to(&back).into_response())
}

fn date(secs: i64) -> FixedDateTime {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .fixed_offset()
}

fn atom(title: String, self_url: String, site_url: String, posts: &[Post]) -> Response {
    let mut feed = Feed::default();
    feed.set_title(Text::plain(title));
    feed.set_id(self_url.clone());
    feed.set_updated(date(posts.first().map(|p| p.created_at).unwrap_or(0)));
    let mut link = Link::default();
    link.set_href(self_url);
    link.set_rel("self");
    let mut alternate = Link::default();
    alternate.set_href(site_url.clone());
    feed.set_links(vec![link, alternate]);
    feed.set_entries(
        posts
            .iter()
            .map(|p| {
                let mut entry = Entry::default();
                entry.set_id(format!("urn:uuid:{}", p.id));
                entry.set_title(Text::plain(format!(
                    "{} — {}",
                    p.author_name,
                    p.theme.clone().unwrap_or_else(|| p.commune.clone())
                )));
                entry.set_updated(date(p.created_at));
                let mut author = Person::default();
                author.set_name(p.author_name.clone());
                entry.set_authors(vec![author]);
                let mut content = Content::default();
                content.set_content_type(Some("html".to_string()));
                content.set_value(Some(p.body_html.clone()));
                entry.set_content(Some(content));
                let mut link = Link::default();
                link.set_href(format!("{site_url}#post-{}", p.id));
                entry.set_links(vec![link]);
                entry
            })
            .collect::<Vec<_>>(),
    );
    (
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        feed.to_string(),
    )
        .into_response()
}

async fn commune_atom(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let commune = page.site.commune()?.clone();
    let posts = store::of_commune(&state.db, commune.tenant_id, None, None, 50).await?;
    Ok(atom(
        format!("{} — Parvis", commune.name),
        format!("{}/feed.atom", page.origin),
        format!("{}/", page.origin),
        &posts,
    ))
}

async fn official_atom(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let commune = page.site.commune()?.clone();
    let mut tx = state.db.tenant(commune.tenant_id).begin().await?;
    let profile = officials::profile(&mut tx, &id)
        .await?
        .ok_or_else(|| AppError::not_found("Cet élu n'est pas au répertoire."))?;
    tx.commit().await?;
    let posts = store::of_commune(&state.db, commune.tenant_id, Some(&id), None, 50).await?;
    Ok(atom(
        format!(
            "{} {} ({}) — Parvis",
            profile.first_name, profile.last_name, commune.name
        ),
        format!("{}/elus/{id}/feed.atom", page.origin),
        format!("{}/elus/{id}", page.origin),
        &posts,
    ))
}
