//! Storage layout of the module.
//!
//! - `signalements`: one [`Report`] per key ([`Report::key`]: its number on 8 digits, so keys
//!   sort by number), placed on the map when it has a point. Indexed by `etat` (`ouvert` or
//!   `clos`), `statut`, `categorie`, `etat-categorie` (`ouvert:voirie`), `etat-service`
//!   (`ouvert:Services techniques`), `auteur` (the reporter's account), `agent` (the staff
//!   member who took it on) and `etat-agent` (`ouvert:<account>`).
//! - `ouverts`: the open reports' places alone (an empty marker per key), so the map of
//!   problems still there clusters only those; removed when a report closes.
//! - `soutiens`: one support per key `<report>:<account>` (« c'est le même problème »),
//!   indexed by `signalement` and `compte`.
//! - `notes`: the staff's internal notes ([`Note`]), never shown to the public, indexed by
//!   `signalement`.
//! - counter `numero`: the last report number given.

use crate::model::{Report, Status};
use parvis_module_sdk::store::{
    self, Collection, Doc, Indexes, ListPage, Point, StoreError, Supports,
};
use serde::{Deserialize, Serialize};

pub const REPORTS: Collection<'static> = Collection::new("signalements");
pub const OPEN: Collection<'static> = Collection::new("ouverts");
const SUPPORTS: Supports<'static> = Supports::new("soutiens", "signalement");
const NOTES: Collection<'static> = Collection::new("notes");

/// A list page of reports.
pub const PAGE: u32 = 20;

/// A staff note on a report (internal).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note {
    pub report: u64,
    pub by: String,
    pub text: String,
    pub at: i64,
}

/// The open reports' map marker: its place is all that counts (the map reads no report).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Marker {}

fn indexes(report: &Report) -> Indexes {
    let state = report.status.state();
    let mut indexes = Indexes::new()
        .index("etat", state)
        .index("statut", report.status.value())
        .index("categorie", &report.category)
        .index("etat-categorie", &format!("{state}:{}", report.category))
        .index("etat-service", &format!("{state}:{}", report.service));
    if let Some(author) = &report.author {
        indexes = indexes.index("auteur", author);
    }
    if let Some(agent) = &report.agent {
        indexes = indexes
            .index("agent", &agent.account)
            .index("etat-agent", &format!("{state}:{}", agent.account));
    }
    indexes
}

/// The commune's neighbourhoods.
pub fn neighbourhoods() -> Result<Vec<store::Neighbourhood>, StoreError> {
    store::neighbourhoods()
}

/// The neighbourhood a point lies in, by name.
pub fn neighbourhood_name(at: Point) -> Result<Option<String>, StoreError> {
    let Some(id) = store::neighbourhood_at(at)? else {
        return Ok(None);
    };
    Ok(store::neighbourhoods()?
        .into_iter()
        .find(|n| n.id == id)
        .map(|n| n.name))
}

/// How many open reports each neighbourhood has, by name, in the commune's order (those with
/// none included, at 0).
pub fn open_by_neighbourhood() -> Result<Vec<(String, u64)>, StoreError> {
    let counts = REPORTS.count_by_neighbourhood(Some(("etat", crate::model::OPEN)))?;
    Ok(store::neighbourhoods()?
        .into_iter()
        .map(|n| {
            let count = counts
                .iter()
                .find(|(id, _)| *id == n.id)
                .map_or(0, |(_, c)| *c);
            (n.name, count)
        })
        .collect())
}

/// The next report number of the commune.
pub fn next_number() -> Result<u64, StoreError> {
    store::next_number("numero")
}

/// Report number `number`.
pub fn report(number: u64) -> Result<Option<Doc<Report>>, StoreError> {
    REPORTS.get(&Report::key(number))
}

/// Stores a new report and its place (and its open marker).
pub fn insert(report: &Report) -> Result<(), StoreError> {
    let key = Report::key(report.number);
    REPORTS.insert(&key, report, indexes(report))?;
    place(&key, report)
}

/// Replaces a report, unless someone else wrote it since `version` (conflict); keeps its
/// open marker in step with its status.
pub fn update(report: &Report, version: u64) -> Result<(), StoreError> {
    let key = Report::key(report.number);
    REPORTS.put(&key, report, indexes(report), Some(version))?;
    place(&key, report)
}

fn place(key: &str, report: &Report) -> Result<(), StoreError> {
    let Some((lat, lon)) = report.at else {
        return Ok(());
    };
    let at = Point { lat, lon };
    REPORTS.place(key, at)?;
    if report.status.is_open() {
        OPEN.put(key, &Marker {}, Indexes::new(), None)?;
        OPEN.place(key, at)?;
    } else {
        OPEN.delete(key)?;
    }
    Ok(())
}

/// A filter of the lists: a state or one status, a category, a service, a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `ouvert`, `clos` or a status value; none for all.
    pub status: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
    /// A code of [`PERIODS`]: reports sent in that many last days; none for all.
    pub period: Option<String>,
    /// The account of the staff member they are assigned to (the queue's « à moi », or
    /// another member of the team).
    pub agent: Option<String>,
    /// The commune's team the queue's « Attribution » filter offers, `(account, name)`.
    pub team: Vec<(String, String)>,
    /// The id of the neighbourhood their place lies in.
    pub neighbourhood: Option<String>,
    /// The commune's neighbourhoods the filter offers, `(id, name)` (none: no such filter).
    pub neighbourhoods: Vec<(String, String)>,
}

/// The periods a list can show: code, label, days.
pub const PERIODS: [(&str, &str, i64); 3] = [
    ("7j", "7 derniers jours", 7),
    ("30j", "30 derniers jours", 30),
    ("12m", "12 derniers mois", 365),
];

impl Filter {
    /// The oldest sending time the filter keeps (Unix milliseconds), if it has a period.
    pub fn since(&self, now_ms: i64) -> Option<i64> {
        let code = self.period.as_deref()?;
        let (_, _, days) = PERIODS.iter().find(|(c, _, _)| *c == code)?;
        Some(now_ms - days * 24 * 3600 * 1000)
    }
}

/// One page of reports matching `filter`, newest first. One index answers (within the
/// neighbourhood, if one is chosen): the most selective the filter allows; what it cannot express is filtered on the page (pages may
/// then be shorter than [`PAGE`], never wrong). Numbers are given in sending order, so a
/// period ends the list at its first older report.
pub fn page(filter: &Filter, after: Option<&str>) -> Result<ListPage<Report>, StoreError> {
    let state = filter
        .status
        .as_deref()
        .filter(|s| *s == crate::model::OPEN || *s == crate::model::CLOSED);
    let status = filter.status.as_deref().and_then(Status::parse);
    let list = REPORTS.list().descending().limit(PAGE).after(after);
    let list = match (
        state,
        status,
        &filter.category,
        &filter.service,
        &filter.agent,
    ) {
        (Some(state), _, _, _, Some(agent)) => {
            list.index("etat-agent", &format!("{state}:{agent}"))
        }
        (None, _, _, _, Some(agent)) => list.index("agent", agent),
        (Some(state), _, Some(category), _, _) => {
            list.index("etat-categorie", &format!("{state}:{category}"))
        }
        (Some(state), _, None, Some(service), _) => {
            list.index("etat-service", &format!("{state}:{service}"))
        }
        (Some(state), _, None, None, _) => list.index("etat", state),
        (None, Some(status), _, _, _) => list.index("statut", status.value()),
        (None, None, Some(category), _, _) => list.index("categorie", category),
        (None, None, None, _, _) => list,
    };
    // The host keeps each place's neighbourhood: it narrows whichever index was chosen.
    let list = match &filter.neighbourhood {
        Some(id) => list.neighbourhood(id),
        None => list,
    };
    let mut page = list.page::<Report>()?;
    // The clock is asked only when a period is chosen (a host call).
    let since = filter
        .period
        .as_ref()
        .and_then(|_| filter.since(parvis_module_sdk::host::now_ms()));
    if let Some(since) = since
        && page
            .documents
            .last()
            .is_some_and(|d| d.value.sent_at() < since)
    {
        page.next = None;
    }
    page.documents.retain(|doc| {
        let r = &doc.value;
        status.is_none_or(|s| r.status == s)
            && filter.category.as_ref().is_none_or(|c| &r.category == c)
            && filter.service.as_ref().is_none_or(|s| &r.service == s)
            && since.is_none_or(|s| r.sent_at() >= s)
            && filter
                .agent
                .as_ref()
                .is_none_or(|a| r.agent.as_ref().is_some_and(|g| &g.account == a))
    });
    Ok(page)
}

/// The reports assigned to an account, newest first.
pub fn assigned_to(account: &str) -> Result<Vec<Doc<Report>>, StoreError> {
    REPORTS.list().index("agent", account).descending().all()
}

/// The reports an account sent, newest first.
pub fn sent_by(account: &str) -> Result<Vec<Doc<Report>>, StoreError> {
    REPORTS.list().index("auteur", account).descending().all()
}

/// Open reports of `category` within `radius` metres of `at`, nearest first (but `except`).
pub fn nearby(
    at: Point,
    radius: f64,
    category: &str,
    except: Option<u64>,
) -> Result<Vec<(Report, f64)>, StoreError> {
    Ok(OPEN
        .near::<Marker>(at, radius, 20)?
        .into_iter()
        .filter_map(|p| p.doc.key.parse::<u64>().ok().map(|n| (n, p.distance)))
        .filter(|(n, _)| Some(*n) != except)
        .map(|(n, distance)| report(n).map(|r| r.map(|doc| (doc.value, distance))))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .filter(|(r, _)| r.category == category && r.status.is_open())
        .take(5)
        .collect())
}

/// Adds `account` to the report's supporters; false if it already was one.
pub fn support(report: u64, account: &str, at: i64) -> Result<bool, StoreError> {
    SUPPORTS.add(&Report::key(report), account, at)
}

/// Whether `account` supports the report.
pub fn supports(report: u64, account: &str) -> Result<bool, StoreError> {
    SUPPORTS.has(&Report::key(report), account)
}

/// How many people support the report.
pub fn supporter_count(report: u64) -> Result<u64, StoreError> {
    SUPPORTS.count(&Report::key(report))
}

/// The report's supporters' accounts.
pub fn supporters(report: u64) -> Result<Vec<String>, StoreError> {
    SUPPORTS.accounts(&Report::key(report))
}

/// Moves the supporters of `from` to `to` (a duplicate merged into it), the reporter of
/// `from` included; returns how many were added.
pub fn merge_supporters(from: &Report, to: u64, at: i64) -> Result<u64, StoreError> {
    let mut added = 0;
    let mut accounts = supporters(from.number)?;
    accounts.extend(from.author.clone());
    for account in accounts {
        if support(to, &account, at)? {
            added += 1;
        }
    }
    Ok(added)
}

/// The reports an account supports: each number and since when.
pub fn supported_by(account: &str) -> Result<Vec<(u64, i64)>, StoreError> {
    Ok(SUPPORTS
        .of(account)?
        .into_iter()
        .filter_map(|(key, at)| Some((key.parse().ok()?, at)))
        .collect())
}

/// Withdraws every support of `account`.
pub fn forget_supports(account: &str) -> Result<(), StoreError> {
    SUPPORTS.forget(account)?;
    Ok(())
}

/// Adds a staff note.
pub fn add_note(note: &Note) -> Result<(), StoreError> {
    NOTES.insert(
        &parvis_module_sdk::host::new_id(),
        note,
        Indexes::new().index("signalement", &Report::key(note.report)),
    )?;
    Ok(())
}

/// The staff notes of a report, oldest first.
pub fn notes(report: u64) -> Result<Vec<Note>, StoreError> {
    Ok(NOTES
        .list()
        .index("signalement", &Report::key(report))
        .all::<Note>()?
        .into_iter()
        .map(|d| d.value)
        .collect())
}

/// How many reports are in each state (`ouvert`, `clos`).
pub fn count_state(state: &str) -> Result<u64, StoreError> {
    REPORTS.count(Some(("etat", state)))
}
