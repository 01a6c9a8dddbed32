//! Storage layout of the module.
//!
//! - `idees`: one [`Idea`] per key ([`Idea::key`]: its number on 8 digits, so keys sort by
//!   number), placed on the map when it has a point. Indexed by `statut`, `theme`,
//!   `quartier`, `statut-theme` (`proposee:mobilites`), `statut-quartier`, `auteur` (the
//!   author's account) and `auteur-en-attente` (the same, while the idea waits for its final
//!   answer).
//! - `soutiens`: who supports which idea ([`Supports`], by `idee` and `compte`).
//! - `commentaires`: one [`Comment`] per key `<idea>:<time>:<id>` (an idea's comments list in
//!   order under its prefix), indexed by `compte` and `compte-jour` (`<account>:<Paris day>`).
//! - counter `numero`: the last idea number given.

use crate::model::{Comment, Idea, Status};
use parvis_module_sdk::host;
use parvis_module_sdk::store::{
    self, Collection, Doc, Indexes, ListPage, Point, StoreError, Supports,
};

pub const IDEAS: Collection<'static> = Collection::new("idees");
const SUPPORTS: Supports<'static> = Supports::new("soutiens", "idee");
const COMMENTS: Collection<'static> = Collection::new("commentaires");

/// A list page of ideas.
pub const PAGE: u32 = 20;
/// A page of comments.
pub const COMMENTS_PAGE: u32 = 50;

fn indexes(idea: &Idea) -> Indexes {
    let status = idea.status.value();
    let mut indexes = Indexes::new()
        .index("statut", status)
        .index("theme", &idea.theme)
        .index("statut-theme", &format!("{status}:{}", idea.theme));
    if let Some(n) = &idea.neighbourhood {
        indexes = indexes
            .index("quartier", n)
            .index("statut-quartier", &format!("{status}:{n}"));
    }
    if let Some(author) = &idea.author {
        indexes = indexes.index("auteur", author);
        if idea.status.is_open() {
            indexes = indexes.index("auteur-en-attente", author);
        }
    }
    indexes
}

/// How many of `account`'s ideas still wait for the town hall's final answer.
pub fn waiting_of(account: &str) -> Result<u64, StoreError> {
    IDEAS.count(Some(("auteur-en-attente", account)))
}

/// The Paris day of an instant in milliseconds (`2026-12-06`), for a per-day bound.
fn day(ms: i64) -> String {
    parvis_module_sdk::time::ms::to_input(ms)
        .chars()
        .take(10)
        .collect()
}

/// How many comments `account` wrote on the Paris day of `at`.
pub fn comments_on_day(account: &str, at: i64) -> Result<u64, StoreError> {
    COMMENTS.count(Some(("compte-jour", &format!("{account}:{}", day(at)))))
}

/// The next idea number of the commune.
pub fn next_number() -> Result<u64, StoreError> {
    store::next_number("numero")
}

/// Idea number `number`.
pub fn idea(number: u64) -> Result<Option<Doc<Idea>>, StoreError> {
    IDEAS.get(&Idea::key(number))
}

/// Stores a new idea and its place.
pub fn insert(idea: &Idea) -> Result<(), StoreError> {
    let key = Idea::key(idea.number);
    IDEAS.insert(&key, idea, indexes(idea))?;
    if let Some((lat, lon)) = idea.at {
        IDEAS.place(&key, Point { lat, lon })?;
    }
    Ok(())
}

/// Replaces an idea, unless someone else wrote it since `version` (conflict).
pub fn update(idea: &Idea, version: u64) -> Result<(), StoreError> {
    IDEAS.put(&Idea::key(idea.number), idea, indexes(idea), Some(version))?;
    Ok(())
}

/// Changes idea `number` with `change` (see [`Collection::modify`]: retried when another
/// call wrote it in between, as two supports at the same moment do).
pub fn modify(
    number: u64,
    change: impl FnMut(&mut Idea) -> bool,
) -> Result<Option<Idea>, StoreError> {
    IDEAS.modify(&Idea::key(number), indexes, change)
}

/// A filter of the lists: a status, a theme, a neighbourhood.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub status: Option<Status>,
    pub theme: Option<String>,
    /// The id of the neighbourhood the idea concerns.
    pub neighbourhood: Option<String>,
    /// The commune's neighbourhoods the filter offers, `(id, name)` (none: no such filter).
    pub neighbourhoods: Vec<(String, String)>,
}

/// One page of ideas matching `filter`, newest first: no ranking by popularity, so a new
/// idea is seen as much as an old one. One index answers (the most selective the filter
/// allows); what it cannot express is filtered on the page, which may then be shorter than
/// [`PAGE`], never wrong.
pub fn page(filter: &Filter, after: Option<&str>) -> Result<ListPage<Idea>, StoreError> {
    let list = IDEAS.list().descending().limit(PAGE).after(after);
    let status = filter.status.map(Status::value);
    let list = match (status, &filter.theme, &filter.neighbourhood) {
        (Some(s), Some(theme), _) => list.index("statut-theme", &format!("{s}:{theme}")),
        (Some(s), None, Some(n)) => list.index("statut-quartier", &format!("{s}:{n}")),
        (Some(s), None, None) => list.index("statut", s),
        (None, Some(theme), _) => list.index("theme", theme),
        (None, None, Some(n)) => list.index("quartier", n),
        (None, None, None) => list,
    };
    let mut page = list.page::<Idea>()?;
    page.documents.retain(|doc| {
        let idea = &doc.value;
        filter.status.is_none_or(|s| idea.status == s)
            && filter.theme.as_ref().is_none_or(|t| &idea.theme == t)
            && filter
                .neighbourhood
                .as_ref()
                .is_none_or(|n| idea.neighbourhood.as_ref() == Some(n))
    });
    Ok(page)
}

/// How many ideas have `status`.
pub fn count_status(status: Status) -> Result<u64, StoreError> {
    IDEAS.count(Some(("statut", status.value())))
}

/// The ideas an account proposed, newest first.
pub fn proposed_by(account: &str) -> Result<Vec<Doc<Idea>>, StoreError> {
    IDEAS.list().index("auteur", account).descending().all()
}

/// `account` supports the idea; false if it already did.
pub fn support(number: u64, account: &str) -> Result<bool, StoreError> {
    SUPPORTS.add(&Idea::key(number), account, host::now_ms())
}

/// `account` withdraws its support; false if it gave none.
pub fn unsupport(number: u64, account: &str) -> Result<bool, StoreError> {
    SUPPORTS.remove(&Idea::key(number), account)
}

/// Whether `account` supports the idea.
pub fn supports(number: u64, account: &str) -> Result<bool, StoreError> {
    SUPPORTS.has(&Idea::key(number), account)
}

/// The accounts supporting the idea.
pub fn supporters(number: u64) -> Result<Vec<String>, StoreError> {
    SUPPORTS.accounts(&Idea::key(number))
}

/// The ideas an account supports: each number and since when.
pub fn supported_by(account: &str) -> Result<Vec<(u64, i64)>, StoreError> {
    Ok(SUPPORTS
        .of(account)?
        .into_iter()
        .filter_map(|(key, at)| Some((key.parse().ok()?, at)))
        .collect())
}

/// Withdraws every support of `account`; returns the numbers of the ideas it supported.
pub fn forget_supports(account: &str) -> Result<Vec<u64>, StoreError> {
    Ok(SUPPORTS
        .forget(account)?
        .into_iter()
        .filter_map(|key| key.parse().ok())
        .collect())
}

/// Adds a comment; returns its key.
pub fn add_comment(comment: &Comment) -> Result<String, StoreError> {
    let key = format!(
        "{}:{:013}:{}",
        Idea::key(comment.idea),
        comment.at.max(0),
        host::new_id()
    );
    let mut indexes = Indexes::new();
    if let Some(account) = &comment.account {
        indexes = indexes
            .index("compte", account)
            .index("compte-jour", &format!("{account}:{}", day(comment.at)));
    }
    COMMENTS.insert(&key, comment, indexes)?;
    Ok(key)
}

/// The idea's comments, oldest first, a page at a time.
pub fn comments(number: u64, after: Option<&str>) -> Result<ListPage<Comment>, StoreError> {
    COMMENTS
        .list()
        .prefix(&format!("{}:", Idea::key(number)))
        .after(after)
        .limit(COMMENTS_PAGE)
        .page()
}

/// The comment at `key`, if it belongs to idea `number`.
pub fn comment(number: u64, key: &str) -> Result<Option<Doc<Comment>>, StoreError> {
    if !key.starts_with(&format!("{}:", Idea::key(number))) {
        return Ok(None);
    }
    COMMENTS.get(key)
}

/// Deletes a comment.
pub fn delete_comment(key: &str) -> Result<bool, StoreError> {
    COMMENTS.delete(key)
}

/// The comments an account wrote.
pub fn comments_by(account: &str) -> Result<Vec<Doc<Comment>>, StoreError> {
    COMMENTS.list().index("compte", account).all()
}

/// Replaces a comment (its author's account taken off).
pub fn put_comment(key: &str, comment: &Comment) -> Result<(), StoreError> {
    COMMENTS.put(key, comment, Indexes::new(), None)?;
    Ok(())
}
