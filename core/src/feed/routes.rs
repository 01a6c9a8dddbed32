//! `/fil` (your feed), `/publier`, `/suivre`, and the Atom feeds `/feed.atom` (a commune) and
//! `/elus/<id>/feed.atom` (an official).

use atom_syndication::{Content, Entry, Feed, FixedDateTime, Link, Person, Text};
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use crate::authz::{Can, PublishPost, perms};
use crate::error::{AppError, AppResult};
use crate::feed::engagement::store as engagement_store;
use crate::feed::store::{self, Author, NewPost, Post};
use crate::feed::tags::{self, PostKind};
use crate::feed::{attachments, engagement, markdown};
use crate::media::{human_size, upload};
use crate::officials::store as officials;
use crate::state::AppState;
use crate::types::TenantId;
use crate::web::render::Template;
use crate::web::{Page, SignedIn, Site};

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

/// Links each post to its own page, its commune's page and (officials) their profile, on
/// the post's commune's site.
pub fn with_author_links(state: &AppState, page: &Page, mut posts: Vec<Post>) -> Vec<Post> {
    for p in &mut posts {
        let origin = page.commune_origin(state, &p.slug);
        if let Some(id) = &p.official_id {
            p.author_url = Some(format!("{origin}/elus/{id}"));
        }
        p.url = Some(format!("{origin}/publications/{}", p.id));
        let filter = |key: &str, value: &str| {
            let value: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            format!("{origin}/?{key}={value}#actualites")
        };
        for a in &mut p.attachments {
            a.link(&origin);
        }
        p.theme_url = p.theme.as_deref().map(|t| filter("theme", t));
        p.quartier_url = p.quartier.as_deref().map(|q| filter("quartier", q));
    }
    posts
}

/// Posts ready for their cards: links, attachments, and counts of comments, reactions and
/// evaluations (one query each for the whole page, run side by side).
pub async fn cards(state: &AppState, page: &Page, mut posts: Vec<Post>) -> AppResult<Vec<Post>> {
    let keys: Vec<(TenantId, &str)> = posts.iter().map(|p| (p.tenant_id, p.id.as_str())).collect();
    let (mut counts, mut files) = tokio::try_join!(
        engagement_store::summaries(&state.db, &keys),
        attachments::of_posts(&state.db, &keys),
    )?;
    for p in &mut posts {
        p.engagement = Some(counts.remove(&p.id).unwrap_or_default());
        p.attachments = files.remove(&p.id).unwrap_or_default();
    }
    Ok(with_author_links(state, page, posts))
}

/// The news section of a commune's page, filtered by theme and neighbourhood tags.
#[derive(Serialize)]
pub struct CommuneNews {
    /// The posts.
    pub posts: Vec<Post>,
    /// The filter applied.
    pub filter: NewsFilter,
    /// The themes to filter by.
    pub themes: &'static [&'static str],
}

/// The tags a commune's news are filtered by (none: all the news).
#[derive(Serialize)]
pub struct NewsFilter {
    /// One of [`THEMES`].
    pub theme: Option<String>,
    /// A neighbourhood, as posts are tagged.
    pub quartier: Option<String>,
}

/// The latest posts of the page's commune, with `theme` and `quartier` tags when given.
pub async fn commune_news(
    state: &AppState,
    page: &Page,
    theme: Option<&str>,
    quartier: Option<&str>,
) -> AppResult<CommuneNews> {
    let commune = page.site.commune()?;
    let theme = theme.map(str::trim).filter(|t| !t.is_empty());
    let quartier = quartier.and_then(|q| tags::quartier(q).ok().flatten());
    let filter = store::Filter {
        theme,
        quartier: quartier.as_deref(),
        ..store::Filter::default()
    };
    let posts = store::of_commune_where(&state.db, commune.tenant_id, &filter, None, 10).await?;
    Ok(CommuneNews {
        posts: cards(state, page, posts).await?,
        filter: NewsFilter {
            theme: theme.map(str::to_string),
            quartier,
        },
        themes: THEMES,
    })
}

/// An official's actions and commitments with their evaluations, for their profile.
pub async fn official_record(
    state: &AppState,
    page: &Page,
    official: &str,
) -> AppResult<Vec<store::RecordEntry>> {
    let commune = page.site.commune()?;
    let mut entries = store::record(&state.db, commune.tenant_id, official, 50).await?;
    let keys: Vec<(TenantId, &str)> = entries
        .iter()
        .map(|e| (commune.tenant_id, e.id.as_str()))
        .collect();
    let mut counts = engagement_store::summaries(&state.db, &keys).await?;
    for e in &mut entries {
        e.engagement = Some(counts.remove(&e.id).unwrap_or_default());
    }
    Ok(entries)
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
    let next = more.then(|| posts.last().map(|p| p.id.clone())).flatten();
    let feed = FeedPage {
        posts: cards(&state, &page, posts).await?,
        next,
    };
    Ok(page.render(&state, &feed)?.into_response())
}

/// `feed/feed.html`: one's feed, a page of it.
#[derive(Serialize)]
struct FeedPage {
    posts: Vec<Post>,
    /// The last post's id when there are older ones.
    next: Option<String>,
}

impl Template for FeedPage {
    const NAME: &'static str = "feed/feed.html";
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
        themes: THEMES,
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

/// What a valid publish form says.
struct Checked<'a> {
    body: &'a str,
    theme: Option<&'a str>,
    kind: PostKind,
    quartier: Option<String>,
}

fn check<'a>(form: &'a PublishForm, author: &Author) -> Result<Checked<'a>, &'static str> {
    let body = form.body.trim();
    let theme = Some(form.theme.as_str()).filter(|t| !t.is_empty());
    if body.is_empty() || body.chars().count() > 5000 {
        return Err("Le texte doit compter entre 1 et 5 000 caractères.");
    }
    if theme.is_some_and(|t| !THEMES.contains(&t)) {
        return Err("Choisissez un thème dans la liste.");
    }
    let kind =
        PostKind::parse(&form.kind).ok_or("Choisissez un type de publication dans la liste.")?;
    if kind == PostKind::Action && matches!(author, Author::Candidate) {
        return Err(
            "Les actions réalisées sont publiées par les élus et la commune ; un candidat publie des engagements ou des propositions.",
        );
    }
    let quartier = tags::quartier(&form.quartier)?;
    Ok(Checked {
        body,
        theme,
        kind,
        quartier,
    })
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
    let checked = match check(&form, &author) {
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
    let commune = page.site.commune()?.clone();
    let mut tx = state.db.tenant(commune.tenant_id).begin_write().await?;
    let post_id = store::insert_post(
        &mut tx,
        &NewPost {
            account: &actor.account.id,
            author: &author,
            author_name: &name,
            body: checked.body,
            body_html: &markdown::render(checked.body),
            theme: checked.theme,
            kind: checked.kind,
            quartier: checked.quartier.as_deref(),
        },
    )
    .await?;
    attachments::insert(&mut tx, &post_id, &actor.account.id, &files).await?;
    let event = crate::notifications::PostPublished {
        tenant_id: commune.tenant_id,
        official_id: match &author {
            Author::Official(id) => Some(id.clone()),
            _ => None,
        },
        author_account_id: actor.account.id.0.clone(),
        title: format!("{name} a publié sur {}", commune.name),
        link: format!("{}/publications/{post_id}", page.origin),
        post_id: post_id.clone(),
    };
    state.jobs.enqueue(tx.conn(), &event).await?;
    tx.commit().await?;
    state.jobs.notify();
    state.home_cache.invalidate(commune.tenant_id);
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
    let following =
        store::set_follow(&state.db, &account.id, commune.tenant_id, kind, &target, on).await?;
    if on && !following {
        return Err(AppError::Conflict(if kind == "commune" {
            format!(
                "Vous suivez déjà {} communes : c'est le maximum. Cessez d'en suivre une pour en suivre une autre.",
                store::MAX_FOLLOWED_COMMUNES
            )
        } else {
            format!(
                "Vous suivez déjà {} élus : c'est le maximum. Cessez d'en suivre un pour en suivre un autre.",
                store::MAX_FOLLOWED_OFFICIALS
            )
        }));
    }
    Ok(Redirect::to(&back).into_response())
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
        &page.origin,
        &posts,
    ))
}
