//! E-mail digests: notices waiting in `digest_items` go out as one e-mail per account, daily at
//! 08:00 and weekly on Monday at 08:00, Paris time. A period is sent by the one transaction
//! that records it in `digest_runs`: it takes the period's items and queues the e-mails
//! (durable `mail` jobs) before committing, so a restart or a second worker sends nothing twice.
//! The scheduler is given « now », so tests drive it without waiting for 08:00.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Datelike as _, NaiveDate, NaiveTime, TimeZone as _};
use chrono_tz::Europe::Paris;
use serde::Serialize;

use crate::db::{Db, sql};
use crate::mail::Email;
use crate::notifications::email::footer;
use crate::notifications::preferences::{self, UnsubscribeKey};
use crate::util::now;
use crate::web::render::{Template, Templates};

/// Items listed in one digest; the rest are counted and left to the notification centre.
const MAX_LISTED: usize = 50;

/// A digest period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Every day at 08:00 (Paris time).
    Daily,
    /// Every Monday at 08:00 (Paris time).
    Weekly,
}

impl Period {
    /// Both periods.
    pub const ALL: [Period; 2] = [Period::Daily, Period::Weekly];

    fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "quotidien",
            Period::Weekly => "hebdomadaire",
        }
    }

    /// Which accounts' items this period sends: the daily digest also takes the items left
    /// by accounts that since switched to immediate e-mails.
    fn rhythms_sql(self) -> &'static str {
        match self {
            Period::Daily => "('defaut', 'quotidien', 'immediat')",
            Period::Weekly => "('hebdomadaire')",
        }
    }

    /// The first day of the period containing `day`.
    fn start_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Period::Daily => day,
            Period::Weekly => {
                day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()))
            }
        }
    }

    fn step(self) -> chrono::Days {
        match self {
            Period::Daily => chrono::Days::new(1),
            Period::Weekly => chrono::Days::new(7),
        }
    }

    /// The latest slot (Unix seconds of 08:00 Paris time) at or before `at`.
    pub fn latest_slot(self, at: i64) -> i64 {
        let Some(utc) = chrono::DateTime::from_timestamp(at, 0) else {
            return at;
        };
        let first = self.start_of(utc.with_timezone(&Paris).date_naive());
        let slot = slot_on(first);
        if slot <= at {
            slot
        } else {
            slot_on(first - self.step())
        }
    }

    /// The first slot strictly after `at`.
    pub fn next_slot(self, at: i64) -> i64 {
        let latest = self.latest_slot(at);
        let day = chrono::DateTime::from_timestamp(latest, 0)
            .map(|t| t.with_timezone(&Paris).date_naive())
            .unwrap_or_default();
        slot_on(day + self.step())
    }
}

/// 08:00 in Paris on `day`, in Unix seconds (08:00 exists every day: the clocks change at
/// 02:00 or 03:00).
fn slot_on(day: NaiveDate) -> i64 {
    let local = day.and_time(NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default());
    Paris
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.timestamp())
        .unwrap_or_else(|| local.and_utc().timestamp())
}

/// Sends the digests due at `at`: for each period whose latest slot was not sent yet, one
/// e-mail per account listing its items written before that slot. Returns how many digests
/// were queued.
pub async fn run_due(db: &Db, templates: &Templates, at: i64) -> anyhow::Result<usize> {
    let mut queued = 0;
    for period in Period::ALL {
        queued += send_period(db, templates, period, period.latest_slot(at)).await?;
    }
    Ok(queued)
}

/// One line of a digest.
#[derive(Debug, Clone, Serialize, sql::Row)]
struct Item {
    commune: String,
    title: String,
    link: String,
}

/// A waiting item with its account: the address a digest goes to (none when unverified or
/// deleted) and the name it greets.
#[derive(sql::Row)]
struct Waiting {
    account_id: String,
    id: String,
    email: Option<String>,
    display_name: String,
    #[row(flatten)]
    item: Item,
}

/// One account's digest.
struct Digest {
    email: Option<String>,
    name: String,
    items: Vec<Item>,
    /// (account, notification id) of every item, deleted once queued.
    ids: Vec<String>,
}

async fn send_period(
    db: &Db,
    templates: &Templates,
    period: Period,
    slot: i64,
) -> anyhow::Result<usize> {
    // The loop asks every minute; once the slot is taken, a read answers without the write
    // lock.
    let taken = sql::query("SELECT 1 AS one FROM digest_runs WHERE rhythm = $1 AND slot = $2")
        .bind(period.as_str())
        .bind(slot)
        .fetch_optional(db.platform())
        .await?;
    if taken.is_some() {
        return Ok(0);
    }
    let mut tx = db.begin_immediate().await?;
    // The claim comes first: a concurrent run waits here, then finds the period taken.
    let claimed = sql::query(
        "INSERT INTO digest_runs (rhythm, slot, started_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(period.as_str())
    .bind(slot)
    .bind(now())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Ok(0);
    }
    // Accounts that chose « jamais » keep nothing waiting.
    sql::query(
        "DELETE FROM digest_items WHERE account_id IN \
         (SELECT account_id FROM notification_preferences WHERE email_rhythm = 'jamais')",
    )
    .execute(&mut *tx)
    .await?;
    let waiting: Vec<Waiting> = sql::query_as(&format!(
        "SELECT d.account_id, d.id, d.title, d.link, c.name AS commune, a.display_name, \
         CASE WHEN a.email_verified_at IS NOT NULL AND a.deleted_at IS NULL THEN a.email END AS email \
         FROM digest_items d JOIN accounts a ON a.id = d.account_id \
         JOIN tenants t ON t.id = d.tenant_id JOIN communes c ON c.insee = t.insee \
         LEFT JOIN notification_preferences p ON p.account_id = d.account_id \
         WHERE d.created_at < $1 AND COALESCE(p.email_rhythm, 'defaut') IN {} \
         ORDER BY d.account_id, d.created_at, d.id",
        period.rhythms_sql()
    ))
    .bind(slot)
    .fetch_all(&mut *tx)
    .await?;
    let mut digests: BTreeMap<String, Digest> = BTreeMap::new();
    for Waiting {
        account_id,
        id,
        email,
        display_name,
        item,
    } in waiting
    {
        let digest = digests.entry(account_id).or_insert_with(|| Digest {
            email,
            name: display_name,
            items: Vec::new(),
            ids: Vec::new(),
        });
        digest.ids.push(id);
        digest.items.push(item);
    }
    let key = if digests.is_empty() {
        None
    } else {
        Some(UnsubscribeKey::load(&mut tx).await?)
    };
    let mut sent = 0;
    for (account, digest) in &digests {
        for chunk in digest.ids.chunks(500) {
            let mut sql =
                String::from("DELETE FROM digest_items WHERE account_id = $1 AND id IN (");
            sql.push_str(&crate::db::placeholders(2, chunk.len()));
            sql.push(')');
            let mut q = sql::query(&sql).bind(account);
            for id in chunk {
                q = q.bind(id);
            }
            q.execute(&mut *tx).await?;
        }
        // An address not (or no longer) verified gets nothing: its items are dropped.
        let (Some(to), Some(key)) = (&digest.email, &key) else {
            continue;
        };
        let email = compose(templates, period, key, account, to, digest)?;
        crate::jobs::push(&mut *tx, &email).await?;
        sent += 1;
    }
    sql::query("UPDATE digest_runs SET digests = $1 WHERE rhythm = $2 AND slot = $3")
        .bind(i64::try_from(sent).unwrap_or(i64::MAX))
        .bind(period.as_str())
        .bind(slot)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if sent > 0 {
        tracing::info!(
            period = period.as_str(),
            slot,
            digests = sent,
            "digests queued"
        );
    }
    Ok(sent)
}

/// `mail/digest.txt`: one account's digest.
#[derive(Serialize)]
struct DigestMail<'a> {
    name: &'a str,
    count: usize,
    items: &'a [Item],
    /// Items not listed (past [`MAX_LISTED`]).
    more: usize,
    weekly: bool,
    origin: &'a str,
    unsubscribe: &'a str,
    footer: String,
}

impl Template for DigestMail<'_> {
    const NAME: &'static str = "mail/digest.txt";
}

/// `mail/digest.html`: the same digest, as HTML.
#[derive(Serialize)]
#[serde(transparent)]
struct DigestHtml<'a>(&'a DigestMail<'a>);

impl Template for DigestHtml<'_> {
    const NAME: &'static str = "mail/digest.html";
}

fn compose(
    templates: &Templates,
    period: Period,
    key: &UnsubscribeKey,
    account: &str,
    to: &str,
    digest: &Digest,
) -> anyhow::Result<Email> {
    let count = digest.items.len();
    let origin = digest
        .items
        .iter()
        .find_map(|i| preferences::origin_of(&i.link))
        .unwrap_or_default();
    let unsubscribe = key.link(&origin, account);
    let mail = DigestMail {
        name: &digest.name,
        count,
        items: &digest.items[..count.min(MAX_LISTED)],
        more: count.saturating_sub(MAX_LISTED),
        weekly: period == Period::Weekly,
        origin: &origin,
        unsubscribe: &unsubscribe,
        footer: footer(&origin, &unsubscribe),
    };
    let noun = if count > 1 {
        "nouveautés"
    } else {
        "nouveauté"
    };
    let subject = match period {
        Period::Daily => format!("Votre résumé du jour : {count} {noun}"),
        Period::Weekly => format!("Votre résumé de la semaine : {count} {noun}"),
    };
    Ok(Email {
        to: to.to_string(),
        subject,
        text: templates.render(&mail)?,
        html: Some(templates.render(&DigestHtml(&mail))?),
        list_unsubscribe: Some(unsubscribe),
        attachments: vec![],
        notice: None,
    })
}

/// Runs [`run_due`] every minute (the first time at start, catching up a slot missed while
/// the server was down).
pub fn spawn(db: Db, templates: Templates) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        while !db.is_closed() {
            tick.tick().await;
            if let Err(e) = run_due(&db, &templates, now()).await {
                tracing::warn!(error = %e, "digests not sent");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        Paris
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .map(|t| t.timestamp())
            .unwrap_or_default()
    }

    #[test]
    fn daily_slots_are_eight_in_paris_across_clock_changes() {
        // Winter (UTC+1) and summer (UTC+2).
        assert_eq!(
            Period::Daily.latest_slot(paris(2026, 12, 2, 9, 0)),
            paris(2026, 12, 2, 8, 0)
        );
        assert_eq!(
            Period::Daily.latest_slot(paris(2026, 12, 2, 7, 59)),
            paris(2026, 12, 1, 8, 0)
        );
        assert_eq!(
            Period::Daily.latest_slot(paris(2026, 7, 14, 8, 0)),
            paris(2026, 7, 14, 8, 0)
        );
        // The night the clocks go forward (29 March 2026).
        assert_eq!(
            Period::Daily.next_slot(paris(2026, 3, 28, 20, 0)),
            paris(2026, 3, 29, 8, 0)
        );
        assert_eq!(
            paris(2026, 3, 29, 8, 0) - paris(2026, 3, 28, 8, 0),
            23 * 3600
        );
    }

    #[test]
    fn weekly_slots_are_monday_at_eight() {
        // 2 December 2026 is a Wednesday; 30 November a Monday.
        assert_eq!(
            Period::Weekly.latest_slot(paris(2026, 12, 2, 12, 0)),
            paris(2026, 11, 30, 8, 0)
        );
        assert_eq!(
            Period::Weekly.latest_slot(paris(2026, 11, 30, 7, 0)),
            paris(2026, 11, 23, 8, 0)
        );
        assert_eq!(
            Period::Weekly.next_slot(paris(2026, 11, 30, 8, 0)),
            paris(2026, 12, 7, 8, 0)
        );
    }
}
