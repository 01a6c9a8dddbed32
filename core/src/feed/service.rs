//! The feed's rules, with no HTTP types: who a post is published as, what a post must be,
//! publishing one (its announcement to followers queued in the same transaction), following
//! a commune or an official, and the cards of a list of posts (links, attachments, counts).
//! The routes (`feed/routes.rs`), the commune's page and the officials' pages call these.

use std::sync::Arc;

use serde::Serialize;

use crate::authz::perms;
use crate::config::Config;
use crate::db::{Db, TenantSql};
use crate::error::AppResult;
use crate::feed::engagement::store as engagement_store;
use crate::feed::store::{self, Author, NewPost, Post};
use crate::feed::tags::{self, PostKind};
use crate::feed::{attachments, markdown};
use crate::modules::now;
use crate::officials::store as officials;
use crate::state::AppState;
use crate::types::{AccountId, TenantId};
use crate::web::Tenant;
use crate::web::render::Template;
use crate::web::shared::{Kept, Versioned};
use crate::web::site::CommuneSite;

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

/// Who `account` publishes as in this commune, and the name shown: the official whose profile
/// it holds, else the commune if it may edit the commune's page, else a candidate.
pub async fn author_of(
    state: &AppState,
    tenant: &Tenant,
    account: &AccountId,
    display_name: &str,
) -> Result<(Author, String), sqlx::Error> {
    let mut tx = tenant.db().read().await?;
    let own = officials::owned_by(&mut tx, account).await?;
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
            Some(account),
            &tenant.id().authz_domain(),
            perms::EDIT_COMMUNE,
        )
        .await
    {
        return Ok((Author::Commune, tenant.name.clone()));
    }
    Ok((Author::Candidate, format!("{display_name} (candidat)")))
}

/// A post as submitted, before it is checked.
#[derive(Debug, Clone, Copy)]
pub struct Draft<'a> {
    /// The text (Markdown).
    pub body: &'a str,
    /// One of [`THEMES`], or empty.
    pub theme: &'a str,
    /// A [`PostKind`], as the form names it.
    pub kind: &'a str,
    /// A neighbourhood tag, or empty.
    pub quartier: &'a str,
}

/// What a valid draft says.
#[derive(Debug)]
pub struct Checked<'a> {
    body: &'a str,
    theme: Option<&'a str>,
    kind: PostKind,
    quartier: Option<String>,
}

/// Checks a draft for `author`; the error is the French message to show with the form.
pub fn check<'a>(draft: &Draft<'a>, author: &Author) -> Result<Checked<'a>, &'static str> {
    let body = draft.body.trim();
    let theme = Some(draft.theme).filter(|t| !t.is_empty());
    if body.is_empty() || body.chars().count() > 5000 {
        return Err("Le texte doit compter entre 1 et 5 000 caractères.");
    }
    if theme.is_some_and(|t| !THEMES.contains(&t)) {
        return Err("Choisissez un thème dans la liste.");
    }
    let kind =
        PostKind::parse(draft.kind).ok_or("Choisissez un type de publication dans la liste.")?;
    if kind == PostKind::Action && matches!(author, Author::Candidate) {
        return Err(
            "Les actions réalisées sont publiées par les élus et la commune ; un candidat publie des engagements ou des propositions.",
        );
    }
    let quartier = tags::quartier(draft.quartier)?;
    Ok(Checked {
        body,
        theme,
        kind,
        quartier,
    })
}

/// A checked post, ready to publish.
pub struct Publication<'a> {
    /// The account publishing.
    pub account: &'a AccountId,
    /// Who it publishes as, and the name shown.
    pub author: &'a Author,
    /// The name shown.
    pub name: &'a str,
    /// The post.
    pub post: Checked<'a>,
    /// Its images and documents, already re-encoded.
    pub files: &'a attachments::Prepared,
    /// The commune site's origin, for the announcement's link.
    pub origin: &'a str,
}

/// Publishes a post with its attachments, and queues its announcement to the followers in the
/// same transaction; returns the post's id.
pub async fn publish(
    state: &AppState,
    tenant: &Tenant,
    p: Publication<'_>,
) -> Result<String, sqlx::Error> {
    let mut tx = tenant.db().begin_write().await?;
    let post_id = store::insert_post(
        &mut tx,
        &NewPost {
            account: p.account,
            author: p.author,
            author_name: p.name,
            body: p.post.body,
            body_html: &markdown::render(p.post.body),
            theme: p.post.theme,
            kind: p.post.kind,
            quartier: p.post.quartier.as_deref(),
        },
    )
    .await?;
    attachments::insert(&mut tx, &post_id, p.account, p.files).await?;
    let event = crate::notifications::PostPublished {
        tenant_id: tenant.id(),
        official_id: match p.author {
            Author::Official(id) => Some(id.clone()),
            _ => None,
        },
        author_account_id: p.account.0.clone(),
        title: format!("{} a publié sur {}", p.name, tenant.name),
        link: format!("{}/publications/{post_id}", p.origin),
        post_id: post_id.clone(),
    };
    crate::jobs::push(tx.platform(), &event).await?;
    tx.commit().await?;
    state.jobs.notify();
    state.home_cache.invalidate(tenant.id());
    Ok(post_id)
}

/// What a person follows in a commune.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followed<'a> {
    /// The commune itself.
    Commune,
    /// One of its officials, by registry id.
    Official(&'a str),
}

/// Why following failed.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The official is not (or no longer) in the commune's directory.
    #[error("Cet élu n'est pas (ou plus) au répertoire de la commune.")]
    UnknownOfficial,
    /// The account follows as many as it may.
    #[error("{0}")]
    TooMany(String),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Starts (`on`) or stops following `what` in this commune.
pub async fn follow(
    state: &AppState,
    tenant: &Tenant,
    account: &AccountId,
    what: Followed<'_>,
    on: bool,
) -> Result<(), FollowError> {
    let (kind, target) = match what {
        Followed::Commune => ("commune", ""),
        Followed::Official(id) => {
            let mut tx = tenant.db().read().await?;
            let exists = officials::profile(&mut tx, id).await?.is_some();
            tx.commit().await?;
            if !exists {
                return Err(FollowError::UnknownOfficial);
            }
            ("official", id)
        }
    };
    let following = store::set_follow(&state.db, account, tenant.id(), kind, target, on).await?;
    if on && !following {
        return Err(FollowError::TooMany(if kind == "commune" {
            format!(
                "Vous suivez déjà {} communes : c'est le maximum. Cessez d'en suivre une pour en suivre une autre.",
                store::MAX_FOLLOWED_COMMUNES
            )
        } else {
            format!(
                "Vous suivez déjà {} élus : c'est le maximum. Cessez d'en suivre un pour en suivre un autre.",
                store::MAX_FOLLOWED_OFFICIALS
            )
        }));
    }
    Ok(())
}

/// Links each post to its own page, its commune's page and (officials) their profile, on
/// the post's commune's site (origins from configuration).
pub fn with_author_links(config: &Config, mut posts: Vec<Post>) -> Vec<Post> {
    for p in &mut posts {
        let origin = config.commune_origin(&p.slug);
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

/// Posts with what their cards show: links, attachments, and counts of comments, reactions
/// and evaluations (one query each for the whole list, run side by side).
pub async fn with_card_details(
    db: &Db,
    config: &Config,
    mut posts: Vec<Post>,
) -> Result<Vec<Post>, sqlx::Error> {
    if posts.is_empty() {
        return Ok(posts);
    }
    let keys: Vec<(TenantId, &str)> = posts.iter().map(|p| (p.tenant_id, p.id.as_str())).collect();
    let (mut counts, mut files) = tokio::try_join!(
        engagement_store::summaries(db, &keys),
        attachments::of_posts(db, &keys),
    )?;
    for p in &mut posts {
        p.engagement = Some(counts.remove(&p.id).unwrap_or_default());
        p.attachments = files.remove(&p.id).unwrap_or_default();
    }
    Ok(with_author_links(config, posts))
}

/// Posts' cards as everyone sees them (`feed/post_head.html`), by post id, kept while their
/// commune's version is the same ([`crate::web::shared`]).
pub type CardCache = Versioned<String, str>;

/// How many cards are kept (about 2 KB each).
pub const CARDS_KEPT: usize = 20_000;

/// A page of one person's feed, kept for that person alone (keyed by their account and the
/// page's cursor) while the fingerprint of what the feed is made of is the same
/// ([`store::feed_stamp`]): what they follow and the versions of those communes.
#[derive(Debug)]
pub struct FeedPage {
    /// The posts' cards, with why the person sees each.
    pub cards: Vec<Card>,
    /// The last post's id when there are older ones.
    pub next: Option<String>,
    /// The followed communes whose « En ce moment » cards the first page shows
    /// ([`NOW_COMMUNES`] at most, by name); none on older pages.
    pub communes: Vec<Arc<CommuneSite>>,
}

/// The followed communes a feed asks what is happening now, at most.
pub const NOW_COMMUNES: usize = 12;
/// The « En ce moment » cards a feed shows at most, alerts first.
pub const NOW_CARDS: usize = 6;

/// The communes `account` follows whose cards its feed shows ([`NOW_COMMUNES`] at most).
pub async fn now_communes(
    state: &AppState,
    account: &AccountId,
) -> AppResult<Vec<Arc<CommuneSite>>> {
    let followed = crate::profiles::store::followed_communes(&state.db, &account.0).await?;
    let mut communes = Vec::new();
    for followed in followed.into_iter().take(NOW_COMMUNES) {
        if let Some(site) = state.sites.commune(&state.db, &followed.slug).await? {
            communes.push(site);
        }
    }
    Ok(communes)
}

/// What is happening now in `communes` (an alert in force, an open poll), alerts first, each
/// card naming its commune and leading to its site: the feed's « En ce moment », rendered
/// (`now.html`), or `None` when nothing is. Asked of every commune at once, each from what its
/// home page keeps ([`crate::modules::now`]); the section is rendered once for the same
/// communes' same cards and kept ([`NowSections`]), as the feed's cards are.
pub async fn now_in(state: &AppState, communes: &[Arc<CommuneSite>]) -> AppResult<Option<Kept>> {
    let asked = communes.iter().map(|commune| async move {
        let origin = state.config.commune_origin(&commune.slug);
        (
            commune.clone(),
            origin.clone(),
            now::happening(state, commune, &origin).await,
        )
    });
    let asked = futures_util::future::join_all(asked).await;
    if asked.iter().all(|(_, _, cards)| cards.is_empty()) {
        return Ok(None);
    }
    let key: Vec<now::Cards> = asked.iter().map(|(_, _, cards)| cards.clone()).collect();
    if let Some(kept) = state.now_sections.get(&key) {
        return Ok(Some(kept));
    }
    let mut cards: Vec<now::Card> = asked
        .iter()
        .flat_map(|(commune, origin, cards)| {
            cards.iter().map(move |card| now::Card {
                href: format!("{origin}{}", card.href),
                commune: Some(commune.name.clone()),
                ..card.clone()
            })
        })
        .collect();
    now::order(&mut cards);
    cards.truncate(NOW_CARDS);
    let kept = Kept::from(state.templates.render(&NowSection {
        now: &cards,
        now_heading: "En ce moment dans vos communes",
    })?);
    state.now_sections.put(key, kept.clone());
    Ok(Some(kept))
}

/// `now.html` on its own: the feed's « En ce moment ».
#[derive(Serialize)]
struct NowSection<'a> {
    now: &'a [now::Card],
    now_heading: &'static str,
}

impl Template for NowSection<'_> {
    const NAME: &'static str = "now.html";
}

/// The feed's « En ce moment » sections, rendered, by the cards they show: the same list of
/// each commune's kept cards (the same `Arc`s, held here so no other list can take their
/// place) gives the same section. A commune's new cards are a new list, hence a new section;
/// at most [`NOW_SECTIONS`] are kept (all dropped past it).
#[derive(Default)]
pub struct NowSections(std::sync::Mutex<Vec<(Vec<now::Cards>, Kept)>>);

/// How many rendered sections are kept (people following the same communes share one).
const NOW_SECTIONS: usize = 256;

impl NowSections {
    fn get(&self, key: &[now::Cards]) -> Option<Kept> {
        let kept = self.0.lock().ok()?;
        kept.iter()
            .find(|(k, _)| {
                k.len() == key.len() && k.iter().zip(key).all(|(a, b)| Arc::ptr_eq(a, b))
            })
            .map(|(_, html)| html.clone())
    }

    fn put(&self, key: Vec<now::Cards>, html: Kept) {
        if let Ok(mut kept) = self.0.lock() {
            if kept.len() >= NOW_SECTIONS {
                kept.clear();
            }
            kept.push((key, html));
        }
    }
}

/// Pages of feeds, by account and cursor.
pub type FeedCache = Versioned<(AccountId, Option<String>), FeedPage>;

/// How many pages of feeds are kept (about 20 cards each, the cards themselves shared).
pub const FEEDS_KEPT: usize = 10_000;

/// A post's card on a list: the part everyone sees, rendered once per version of its commune,
/// and what `feed/post_tail.html` adds for the viewer.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    /// Post id.
    pub id: String,
    /// Its commune's slug (the form to flag it is offered on its commune's site).
    pub slug: String,
    /// Name shown as author.
    pub author_name: String,
    /// Why the viewer sees it (feed only).
    pub why: Option<String>,
    /// `feed/post_head.html`, rendered.
    pub head: crate::web::shared::Kept,
}

/// `feed/post_head.html`: a card's part that is the same for everyone.
#[derive(Serialize)]
struct CardHead<'a> {
    post: &'a Post,
    single: bool,
}

impl Template for CardHead<'_> {
    const NAME: &'static str = "feed/post_head.html";
}

/// The cards of a list of posts, in its order: those kept at their commune's version are
/// reused; the others get their details (two queries for all of them) and are rendered.
pub async fn cards(state: &AppState, posts: Vec<Post>) -> AppResult<Vec<Card>> {
    let mut heads: Vec<Option<Arc<str>>> = posts
        .iter()
        .map(|p| state.cards.get(&p.id, p.version))
        .collect();
    let missing: Vec<Post> = posts
        .iter()
        .zip(&heads)
        .filter(|(_, head)| head.is_none())
        .map(|(p, _)| p.clone())
        .collect();
    let mut rendered = std::collections::HashMap::new();
    for post in with_card_details(&state.db, &state.config, missing).await? {
        let head: Arc<str> = Arc::from(state.templates.render(&CardHead {
            post: &post,
            single: false,
        })?);
        state.cards.put(post.id.clone(), post.version, head.clone());
        rendered.insert(post.id, head);
    }
    Ok(posts
        .into_iter()
        .zip(heads.iter_mut())
        .filter_map(|(p, head)| {
            let head = head.take().or_else(|| rendered.get(&p.id).cloned())?;
            Some(Card {
                id: p.id,
                slug: p.slug,
                author_name: p.author_name,
                why: p.why,
                head: crate::web::shared::Kept(head),
            })
        })
        .collect())
}

/// The news section of a commune's page, filtered by theme and neighbourhood tags.
#[derive(Serialize)]
pub struct CommuneNews {
    /// The posts' cards.
    pub posts: Vec<Card>,
    /// The filter applied.
    pub filter: NewsFilter,
    /// The themes to filter by.
    pub themes: &'static [&'static str],
}

impl Template for CommuneNews {
    const NAME: &'static str = "commune/home_news.html";
}

/// The tags a commune's news are filtered by (none: all the news).
#[derive(Serialize)]
pub struct NewsFilter {
    /// One of [`THEMES`].
    pub theme: Option<String>,
    /// A neighbourhood, as posts are tagged.
    pub quartier: Option<String>,
}

/// The latest posts of a commune, with `theme` and `quartier` tags when given.
pub async fn commune_news(
    state: &AppState,
    tenant: &Tenant,
    theme: Option<&str>,
    quartier: Option<&str>,
) -> AppResult<CommuneNews> {
    let theme = theme.map(str::trim).filter(|t| !t.is_empty());
    let quartier = quartier.and_then(|q| tags::quartier(q).ok().flatten());
    let filter = store::Filter {
        theme,
        quartier: quartier.as_deref(),
        ..store::Filter::default()
    };
    let posts = store::of_commune_where(&state.db, tenant.id(), &filter, None, 10).await?;
    Ok(CommuneNews {
        posts: cards(state, posts).await?,
        filter: NewsFilter {
            theme: theme.map(str::to_string),
            quartier,
        },
        themes: THEMES,
    })
}

/// An official's actions and commitments with their evaluations, for their profile.
pub async fn official_record(
    db: &Db,
    tenant: &Tenant,
    official: &str,
) -> Result<Vec<store::RecordEntry>, sqlx::Error> {
    let mut entries = store::record(db, tenant.id(), official, 50).await?;
    let keys: Vec<(TenantId, &str)> = entries
        .iter()
        .map(|e| (tenant.id(), e.id.as_str()))
        .collect();
    let mut counts = engagement_store::summaries(db, &keys).await?;
    for e in &mut entries {
        e.engagement = Some(counts.remove(&e.id).unwrap_or_default());
    }
    Ok(entries)
}
