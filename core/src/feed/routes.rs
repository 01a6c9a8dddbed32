//! `/fil` (your feed), `/publier`, `/suivre`, and the Atom feeds `/feed.atom` (a commune) and
//! `/elus/<id>/feed.atom` (an official).

use atom_syndication::{Content, Entry, Feed, FixedDateTime, Link, Person, Text};
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use crate::authz::{Can, PublishPost};
use crate::error::{AppError, AppResult};
use crate::feed::store::{self, Author, Post};
use crate::feed::{attachments, engagement, service, tags};
use crate::media::{human_size, upload};
use crate::state::AppState;
use crate::web::render::Template;
use crate::web::{Page, SignedIn, Tenant};

/// Posts per page.
const PAGE: i64 = 20;
/// The routes of this feature.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/fil", get(feed))
        .route(
            "/publier",
            get(publish_form)
                .post(publish)
                .layer(upload::body_limit(attachments::MAX_TOTAL_BYTES)),
        )
        .route("/suivre", post(follow))
        .route("/feed.atom", get(commune_atom))
        .route("/elus/{id}/feed.atom", get(official_atom))
        .merge(engagement::routes::routes())
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
    let stamp = store::feed_stamp(&state.db, &state.fingerprints, &account.id).await?;
    let key = (account.id.clone(), q.avant.clone());
    let kept = match state.feeds.get(&key, stamp) {
        Some(kept) => kept,
        None => {
            let mut posts =
                store::feed(&state.db, &account.id, q.avant.as_deref(), PAGE + 1).await?;
            let more = posts.len() as i64 > PAGE;
            posts.truncate(PAGE as usize);
            let next = more.then(|| posts.last().map(|p| p.id.clone())).flatten();
            let communes = match q.avant {
                None => service::now_communes(&state, &account.id).await?,
                Some(_) => Vec::new(),
            };
            let kept = std::sync::Arc::new(service::FeedPage {
                cards: service::cards(&state, posts).await?,
                next,
                communes,
            });
            state.feeds.replace(key, stamp, kept.clone());
            kept
        }
    };
    let now_html = service::now_in(&state, &kept.communes).await?;
    let feed = FeedTemplate {
        posts: &kept.cards,
        next: kept.next.as_deref(),
        now_html: now_html.as_ref(),
    };
    Ok(page.render(&state, &feed)?.into_response())
}

/// `feed/feed.html`: one's feed, a page of it.
#[derive(Serialize)]
struct FeedTemplate<'a> {
    posts: &'a [service::Card],
    /// The last post's id when there are older ones.
    next: Option<&'a str>,
    /// What is happening now in the followed communes, rendered (first page only).
    now_html: Option<&'a crate::web::shared::Kept>,
}

impl Template for FeedTemplate<'_> {
    const NAME: &'static str = "feed/feed.html";
}

/// Who the actor publishes as in this commune: their official profile if they own one,
/// else the commune (its admins), else a candidate.
async fn author(
    state: &AppState,
    page: &Page,
    account: &crate::web::session::Account,
) -> AppResult<(Author, String)> {
    let tenant = Tenant::new(page.site.commune()?.clone(), &state.db);
    Ok(service::author_of(state, &tenant, &account.id, &account.display_name).await?)
}

/// The publish form, empty or as submitted (its files are not sent back: the browser cannot
/// preselect them).
#[derive(Serialize, Default)]
struct PublishForm {
    body: String,
    theme: String,
    kind: String,
    quartier: String,
    /// Text alternatives of the image slots, then titles of the document slots.
    alt: Vec<String>,
    document_title: Vec<String>,
}

impl PublishForm {
    fn from_upload(form: &upload::Form) -> PublishForm {
        let text = |name: &str| form.text(name).to_string();
        PublishForm {
            body: text("body"),
            theme: text("theme"),
            kind: text("kind"),
            quartier: text("quartier"),
            alt: (1..=attachments::MAX_IMAGES)
                .map(|i| text(&format!("alt_{i}")))
                .collect(),
            document_title: (1..=attachments::MAX_DOCUMENTS)
                .map(|i| text(&format!("document_title_{i}")))
                .collect(),
        }
    }

    fn empty() -> PublishForm {
        PublishForm::from_upload(&upload::Form::default())
    }
}

fn render_publish(
    state: &AppState,
    page: Page,
    status: StatusCode,
    name: &str,
    form: &PublishForm,
    error: Option<&str>,
) -> AppResult<Response> {
    let publish = Publish {
        author_name: name,
        themes: service::THEMES,
        kinds: tags::kind_choices(),
        form,
        error,
        max_quartier: tags::MAX_QUARTIER,
        max_label: attachments::MAX_LABEL,
        image_size: human_size(attachments::MAX_IMAGE_BYTES),
        document_size: human_size(attachments::MAX_DOCUMENT_BYTES),
    };
    page.render_form(state, status, &publish)
}

/// `feed/publish.html`: the publish form.
#[derive(Serialize)]
struct Publish<'a> {
    author_name: &'a str,
    themes: &'static [&'static str],
    kinds: Vec<tags::KindChoice>,
    form: &'a PublishForm,
    error: Option<&'a str>,
    max_quartier: usize,
    max_label: usize,
    image_size: String,
    document_size: String,
}

impl Template for Publish<'_> {
    const NAME: &'static str = "feed/publish.html";
}

async fn publish_form(
    State(state): State<AppState>,
    Can(actor, _): Can<PublishPost>,
    page: Page,
) -> AppResult<Response> {
    let (_, name) = author(&state, &page, &actor.account).await?;
    render_publish(
        &state,
        page,
        StatusCode::OK,
        &name,
        &PublishForm::empty(),
        None,
    )
}

async fn publish(
    State(state): State<AppState>,
    Can(actor, _): Can<PublishPost>,
    page: Page,
    req: Request,
) -> AppResult<Response> {
    let fields = attachments::file_fields();
    let fields: Vec<(&str, usize)> = fields.iter().map(|(n, max)| (n.as_str(), *max)).collect();
    let upload = upload::read_any(req, &state, &fields).await;
    let (author, name) = author(&state, &page, &actor.account).await?;
    let upload = match upload {
        Ok(upload) => upload,
        Err(e) => {
            let status = e.status();
            let form = PublishForm::empty();
            return render_publish(&state, page, status, &name, &form, Some(&e.to_string()));
        }
    };
    let form = PublishForm::from_upload(&upload);
    let refuse = |page: Page, status: StatusCode, error: &str| {
        render_publish(&state, page, status, &name, &form, Some(error))
    };
    let draft = service::Draft {
        body: &form.body,
        theme: &form.theme,
        kind: &form.kind,
        quartier: &form.quartier,
    };
    let checked = match service::check(&draft, &author) {
        Ok(c) => c,
        Err(error) => return refuse(page, StatusCode::UNPROCESSABLE_ENTITY, error),
    };
    let submitted = match attachments::Submitted::from_form(&upload) {
        Ok(s) => s,
        Err(e) => return refuse(page, e.status(), &e.to_string()),
    };
    if !upload.files.is_empty()
        && let Err(e) = crate::media::limiter::uploads().allow(&actor.account.id)
    {
        return refuse(page, e.status(), &e.to_string());
    }
    if let Err(refused) = state.feed_limiter.post(&actor.account.id) {
        return refuse(page, StatusCode::TOO_MANY_REQUESTS, refused.message());
    }
    let files = match submitted.prepare().await {
        Ok(files) => files,
        Err(e) => return refuse(page, e.status(), &e.to_string()),
    };
    let tenant = Tenant::new(page.site.commune()?.clone(), &state.db);
    let publication = service::Publication {
        account: &actor.account.id,
        author: &author,
        name: &name,
        post: checked,
        files: &files,
        origin: &page.origin,
    };
    let post_id = service::publish(&state, &tenant, publication).await?;
    Ok(Redirect::to(&format!("/publications/{post_id}")).into_response())
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
    tenant: Tenant,
    Form(form): Form<FollowForm>,
) -> AppResult<Response> {
    let on = match form.action.as_str() {
        "suivre" => true,
        "ne-plus-suivre" => false,
        _ => return Err(AppError::bad_request("Action inconnue.")),
    };
    let (what, back) = if form.target == "commune" {
        (service::Followed::Commune, "/".to_string())
    } else {
        (
            service::Followed::Official(&form.target),
            format!("/elus/{}", form.target),
        )
    };
    match service::follow(&state, &tenant, &account.id, what, on).await {
        Ok(()) => Ok(Redirect::to(&back).into_response()),
        Err(e @ service::FollowError::UnknownOfficial) => Err(AppError::not_found(e.to_string())),
        Err(service::FollowError::TooMany(message)) => Err(AppError::Conflict(message)),
        Err(service::FollowError::Db(e)) => Err(e.into()),
    }
}

fn date(secs: i64) -> FixedDateTime {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .fixed_offset()
}

/// An Atom feed of `posts`, each linking to its page on `origin` (the commune's site).
fn atom(
    title: String,
    self_url: String,
    site_url: String,
    origin: &str,
    posts: &[Post],
) -> Response {
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
                link.set_href(format!("{origin}/publications/{}", p.id));
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
        &page.origin,
        &posts,
    ))
}

async fn official_atom(
    State(state): State<AppState>,
    tenant: Tenant,
    page: Page,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let mut tx = tenant.db().read().await?;
    let profile = crate::officials::store::profile(&mut tx, &id)
        .await?
        .ok_or_else(|| AppError::not_found("Cet élu n'est pas au répertoire."))?;
    tx.commit().await?;
    let posts = store::of_commune(&state.db, tenant.id(), Some(&id), None, 50).await?;
    Ok(atom(
        format!(
            "{} {} ({}) — Parvis",
            profile.first_name, profile.last_name, tenant.name
        ),
        format!("{}/elus/{id}/feed.atom", page.origin),
        format!("{}/elus/{id}", page.origin),
        &page.origin,
        &posts,
    ))
}
