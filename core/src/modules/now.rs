//! What is happening now in a commune, as its modules tell it: an alert in force, an open
//! poll… shown as cards at the top of the commune's home page, in the host's design.
//!
//! No new function in the contract: the host asks each module the commune switched on with a
//! plain anonymous `GET` of [`NOW_PATH`] (a path no visitor can reach: the public routes answer
//! 404 below `/_parvis/`), and a module with something to show answers JSON
//! `{"cards": [{"title", "summary", "path", "severity", "until"}]}` (see `modules/README.md`);
//! any other answer (a 404 from a module that does not know the path) is nothing to show. The
//! cards are data, never HTML: the host writes them, escaped, with its own components.
//!
//! Kept per commune for [`KEPT_FOR`], or until a card's `until` passes, or until a write
//! through a module of that commune (an alert published shows on the home page at once);
//! asked again in the background ([`NowCache`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::modules::bindings::parvis::module::types::Body;
use crate::modules::call::{self, CallContext};
use crate::state::AppState;
use crate::types::TenantId;
use crate::web::site::CommuneSite;

/// The path the host asks; reserved: never forwarded from a visitor.
pub const NOW_PATH: &str = "/_parvis/maintenant";

/// The prefix of paths only the host asks.
pub const RESERVED_PREFIX: &str = "/_parvis/";

/// How long a commune's cards are kept at most.
pub const KEPT_FOR: Duration = Duration::from_secs(30);

/// Cards one module may show at once; more are dropped.
const MAX_CARDS: usize = 5;
/// Longest title and summary kept, in characters.
const MAX_TITLE: usize = 160;
const MAX_SUMMARY: usize = 300;

/// One thing happening now, as the home page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    /// The module's name (« Alertes », « Sondages »).
    pub module: String,
    pub title: String,
    pub summary: Option<String>,
    /// Where it leads: a page of the module (`/m/<id>/…`).
    pub href: String,
    /// `information`, `vigilance` or `urgence` for an alert; none otherwise.
    pub severity: Option<&'static str>,
    /// The severity in words, always written beside its colour.
    pub severity_label: Option<&'static str>,
    /// Until when, in milliseconds since the epoch.
    pub until: Option<i64>,
    /// The same in seconds, for the templates' `date_fr` (« Jusqu'au … »): none when the
    /// module asked it unsaid (a slot, shown until it starts, its summary saying when).
    pub until_secs: Option<i64>,
    /// The commune's name, where cards of several communes meet (the feed).
    pub commune: Option<String>,
}

/// A module's answer.
#[derive(Deserialize)]
struct Answer {
    cards: Vec<Given>,
}

#[derive(Deserialize)]
struct Given {
    title: String,
    #[serde(default)]
    summary: Option<String>,
    path: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    until: Option<i64>,
    #[serde(default)]
    until_unsaid: bool,
}

fn bounded(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// A module's answer as cards: bounded, each leading below the module, past ones dropped.
fn cards_of(module_id: &str, module_name: &str, json: &str, now: i64) -> Vec<Card> {
    let Ok(answer) = serde_json::from_str::<Answer>(json) else {
        return Vec::new();
    };
    answer
        .cards
        .into_iter()
        .filter(|c| c.until.is_none_or(|u| u > now))
        .filter(|c| {
            c.path.starts_with('/') && !c.path.starts_with("//") && !c.title.trim().is_empty()
        })
        .take(MAX_CARDS)
        .map(|c| Card {
            module: module_name.to_string(),
            title: bounded(&c.title, MAX_TITLE),
            summary: c
                .summary
                .map(|s| bounded(&s, MAX_SUMMARY))
                .filter(|s| !s.is_empty()),
            href: format!("/m/{module_id}{}", c.path),
            severity: match c.severity.as_deref() {
                Some("urgence") => Some("urgence"),
                Some("vigilance") => Some("vigilance"),
                Some("information") => Some("information"),
                _ => None,
            },
            severity_label: match c.severity.as_deref() {
                Some("urgence") => Some("Urgence"),
                Some("vigilance") => Some("Vigilance"),
                Some("information") => Some("Information"),
                _ => None,
            },
            until: c.until,
            until_secs: c.until.filter(|_| !c.until_unsaid).map(|u| u / 1000),
            commune: None,
        })
        .collect()
}

/// Alerts first, the gravest first; then the rest, what ends soonest first.
pub fn order(cards: &mut [Card]) {
    let rank = |c: &Card| match c.severity {
        Some("urgence") => 0,
        Some("vigilance") => 1,
        Some(_) => 2,
        None => 3,
    };
    cards.sort_by_key(|c| (rank(c), c.until.unwrap_or(i64::MAX)));
}

/// A commune's cards, shared by the pages that show them.
pub type Cards = std::sync::Arc<Vec<Card>>;

/// The longest a home page waits for its commune's modules when it has no cards at all yet
/// (the first view, or right after a write); past it the page shows none, and the next one the
/// cards the modules gave meanwhile.
pub const FIRST_WAIT: Duration = Duration::from_millis(300);

/// Each commune's cards, with when they were asked, and whether they are being asked again.
/// A page never waits for a module past [`FIRST_WAIT`]: stale cards are shown while fresh ones
/// are asked in the background, one asking per commune at a time, so a module that spins on
/// the path costs its own budget, not the home page's visitors.
#[derive(Default)]
pub struct NowCache {
    kept: Mutex<HashMap<TenantId, Entry>>,
}

struct Entry {
    /// Raised by [`NowCache::forget`]: an asking begun before it brings stale cards.
    generation: u64,
    asked_at: Option<Instant>,
    cards: Cards,
    /// Told when the asking under way ends.
    asking: Option<std::sync::Arc<tokio::sync::Notify>>,
}

/// What a page does about its commune's cards.
enum Plan {
    /// Fresh: shown as they are.
    Show(Cards),
    /// Shown as they are while someone asks again (`Some`: this page starts it, at that
    /// generation).
    Stale(Cards, Option<u64>),
    /// None yet: wait for the asking (`Some`: this page starts it, at that generation).
    Wait(std::sync::Arc<tokio::sync::Notify>, Option<u64>),
}

impl NowCache {
    /// Forgets a commune's cards (a module of it wrote).
    pub fn forget(&self, tenant: TenantId) {
        if let Ok(mut kept) = self.kept.lock()
            && let Some(entry) = kept.get_mut(&tenant)
        {
            entry.generation += 1;
            entry.asked_at = None;
            entry.cards = Cards::default();
        }
    }

    fn plan(&self, tenant: TenantId, now: i64) -> Plan {
        let Ok(mut kept) = self.kept.lock() else {
            return Plan::Show(Cards::default());
        };
        let entry = kept.entry(tenant).or_insert_with(|| Entry {
            generation: 0,
            asked_at: None,
            cards: Cards::default(),
            asking: None,
        });
        let current = entry.cards.iter().all(|c| c.until.is_none_or(|u| u > now));
        let fresh = entry.asked_at.is_some_and(|at| at.elapsed() < KEPT_FOR) && current;
        if fresh {
            return Plan::Show(entry.cards.clone());
        }
        // The kept list itself while none of it has ended: the same `Arc` for every page until
        // the asking brings new cards (the feed keeps its rendered section by it).
        let visible = if current {
            entry.cards.clone()
        } else {
            std::sync::Arc::new(
                entry
                    .cards
                    .iter()
                    .filter(|c| c.until.is_none_or(|u| u > now))
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        };
        let (asking, starts) = match &entry.asking {
            Some(n) => (n.clone(), false),
            None => {
                let n = std::sync::Arc::new(tokio::sync::Notify::new());
                entry.asking = Some(n.clone());
                (n, true)
            }
        };
        let start = starts.then_some(entry.generation);
        if entry.asked_at.is_none() {
            Plan::Wait(asking, start)
        } else {
            Plan::Stale(visible, start)
        }
    }

    /// Keeps what an asking begun at `generation` brought, unless a write came since.
    fn put(&self, tenant: TenantId, cards: Cards, generation: u64) {
        if let Ok(mut kept) = self.kept.lock()
            && let Some(entry) = kept.get_mut(&tenant)
        {
            if entry.generation == generation {
                entry.asked_at = Some(Instant::now());
                entry.cards = cards;
            }
            if let Some(asking) = entry.asking.take() {
                asking.notify_waiters();
            }
        }
    }

    fn cards(&self, tenant: TenantId) -> Cards {
        self.kept
            .lock()
            .ok()
            .and_then(|kept| kept.get(&tenant).map(|e| e.cards.clone()))
            .unwrap_or_default()
    }
}

/// What is happening now in `commune`, from its modules (kept, see [`NowCache`]). A module
/// that fails to answer shows nothing; the home page never fails or waits long for it.
pub async fn happening(state: &AppState, commune: &CommuneSite, origin: &str) -> Cards {
    let now = crate::util::now().saturating_mul(1000);
    match state.now.plan(commune.tenant_id, now) {
        Plan::Show(cards) => cards,
        Plan::Stale(cards, start) => {
            if let Some(generation) = start {
                spawn_asking(state, commune, origin, generation);
            }
            cards
        }
        Plan::Wait(asking, start) => {
            let told = asking.notified();
            tokio::pin!(told);
            told.as_mut().enable();
            if let Some(generation) = start {
                spawn_asking(state, commune, origin, generation);
            }
            let _ = tokio::time::timeout(FIRST_WAIT, told).await;
            state.now.cards(commune.tenant_id)
        }
    }
}

fn spawn_asking(state: &AppState, commune: &CommuneSite, origin: &str, generation: u64) {
    let (state, commune, origin) = (state.clone(), commune.clone(), origin.to_string());
    tokio::spawn(async move {
        let cards = ask(&state, &commune, &origin).await;
        state.now.put(commune.tenant_id, cards, generation);
    });
}

/// Asks every module `commune` switched on, in turn.
async fn ask(state: &AppState, commune: &CommuneSite, origin: &str) -> Cards {
    let now = crate::util::now().saturating_mul(1000);
    let mut cards = Vec::new();
    if let Ok(choices) = state.modules.tenant(&state.db, commune.tenant_id).await {
        for module in state.modules.all() {
            let Some(choice) = choices.enabled(module.id.as_str()) else {
                continue;
            };
            let request = call::host_question(
                &module.id,
                NOW_PATH,
                &choice.settings,
                call::commune_of(&commune.name, &commune.slug, commune.population),
            );
            let ctx = CallContext {
                tenant: commune.tenant_id,
                origin: origin.to_string(),
                write: false,
                client: None,
                name_kind: commune.name_kind,
                uploads: None,
            };
            match call::handle_checked(&state.modules, &module, &ctx, &request, None).await {
                Ok((response, _)) if response.status == 200 => {
                    if let Body::Json(json) = response.body {
                        cards.extend(cards_of(
                            module.id.as_str(),
                            &module.manifest.name,
                            &json,
                            now,
                        ));
                    }
                }
                Ok(_) => {}
                Err(fault) => {
                    tracing::warn!(module = %module.id, %fault, "what is happening now: no answer");
                }
            }
        }
    }
    order(&mut cards);
    std::sync::Arc::new(cards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_bounded_cards_leading_below_their_module() {
        let json = r#"{"cards": [
            {"title": "Eau non potable", "summary": "Quartier nord", "path": "/abc", "severity": "urgence", "until": 2000},
            {"title": "Passée", "path": "/old", "until": 500},
            {"title": "Ailleurs", "path": "https://example.org/"},
            {"title": "Ailleurs aussi", "path": "//example.org/"},
            {"title": "  ", "path": "/vide"},
            {"title": "Inconnue", "path": "/x", "severity": "rouge"},
            {"title": "Permanence", "path": "/p", "until": 9000, "until_unsaid": true}
        ]}"#;
        let cards = cards_of("alerts", "Alertes", json, 1000);
        assert_eq!(cards.len(), 3, "{cards:?}");
        assert_eq!(cards[0].until_secs, Some(2), "« Jusqu'au … » said");
        assert_eq!(
            (cards[2].until, cards[2].until_secs),
            (Some(9000), None),
            "shown until 9 s, without « Jusqu'au … »"
        );
        assert_eq!(cards[0].href, "/m/alerts/abc");
        assert_eq!(cards[0].severity, Some("urgence"));
        assert_eq!(cards[1].severity, None, "an unknown severity is none");
        assert!(
            cards_of("a", "A", "<html>", 0).is_empty(),
            "not JSON: nothing"
        );
        let long = format!(
            r#"{{"cards": [{{"title": "{}", "path": "/"}}]}}"#,
            "é".repeat(500)
        );
        assert_eq!(
            cards_of("a", "A", &long, 0)[0].title.chars().count(),
            MAX_TITLE + 1
        );
    }

    #[test]
    fn a_write_during_an_asking_keeps_its_stale_cards_out() {
        let cache = NowCache::default();
        let paris = TenantId::for_tests(1);
        let Plan::Wait(_, Some(first)) = cache.plan(paris, 0) else {
            panic!("the first page waits and starts the asking");
        };
        assert!(
            matches!(cache.plan(paris, 0), Plan::Wait(_, None)),
            "one asking at a time"
        );
        cache.forget(paris);
        let card = Card {
            module: "Alertes".into(),
            title: "Avant".into(),
            summary: None,
            href: "/m/alerts/a".into(),
            severity: None,
            severity_label: None,
            until: None,
            until_secs: None,
            commune: None,
        };
        cache.put(paris, std::sync::Arc::new(vec![card.clone()]), first);
        assert!(
            cache.cards(paris).is_empty(),
            "begun before the write: not kept"
        );
        let Plan::Wait(_, Some(second)) = cache.plan(paris, 0) else {
            panic!("asked again");
        };
        cache.put(paris, std::sync::Arc::new(vec![card]), second);
        assert!(matches!(cache.plan(paris, 0), Plan::Show(c) if c.len() == 1));
    }

    #[test]
    fn alerts_come_first_the_gravest_first() {
        let card = |severity, until| Card {
            module: String::new(),
            title: String::new(),
            summary: None,
            href: String::new(),
            severity,
            severity_label: None,
            until,
            until_secs: None,
            commune: None,
        };
        let mut cards = vec![
            card(None, Some(5)),
            card(Some("information"), None),
            card(Some("urgence"), Some(9)),
            card(None, Some(3)),
            card(Some("vigilance"), None),
        ];
        order(&mut cards);
        let seen: Vec<_> = cards.iter().map(|c| (c.severity, c.until)).collect();
        assert_eq!(
            seen,
            vec![
                (Some("urgence"), Some(9)),
                (Some("vigilance"), None),
                (Some("information"), None),
                (None, Some(3)),
                (None, Some(5)),
            ]
        );
    }
}
