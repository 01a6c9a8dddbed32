//! A commune's activity, for its back-office home (`admin-ui`, `/admin`): what needs doing
//! today (flags to review, claims to verify, a service the host switched off), its figures
//! (with deliveries that failed for good), its new followers week by week and each service's
//! activity over 30 days, laid out as charts' bars (the page draws them as SVG, with the
//! figures in a table).

use crate::db::{Db, TenantSql as _};
use crate::types::TenantId;
use serde::Serialize;

/// Weeks the followers chart spans.
pub const WEEKS: usize = 12;
const WEEK: i64 = 7 * 24 * 3600;
/// The chart's drawing, in SVG units.
const BAR: i64 = 24;
const GAP: i64 = 8;
const HEIGHT: i64 = 100;
/// The figures' window: 30 days.
const MONTH: i64 = 30 * 24 * 3600;
/// The services chart: a bar's thickness and the longest bar, in SVG units.
const ROW: i64 = 22;
const ROW_GAP: i64 = 10;
const LONGEST: i64 = 240;

/// The commune's figures.
#[derive(Debug, Serialize)]
pub struct Activity {
    /// Accounts following the commune.
    pub followers: i64,
    /// Posts published in the last 30 days.
    pub posts_30_days: i64,
    /// Open flags (posts, comments or messages people reported), for moderators.
    pub open_flags: i64,
    /// Official profiles claimed and waiting for a decision, for role managers.
    pub pending_claims: i64,
    /// Messages to people (e-mail, push, SMS) and other tasks for the commune that failed for
    /// good in the last 30 days, after their retries.
    pub failed_deliveries: i64,
    /// Each enabled service's records created or changed in the last 30 days, busiest first;
    /// the page names them ([`Activity::name_services`]).
    pub services: Vec<Service>,
    /// The services chart's height in SVG units.
    pub services_height: i64,
    /// Services the host switched off after repeated faults, by id (named by the page).
    pub faulted: Vec<String>,
    /// New followers per week, oldest first.
    pub weeks: Vec<Week>,
    /// Whether no week had a new follower (the chart says so in words).
    pub no_new_followers: bool,
    /// The chart's width in SVG units.
    pub chart_width: i64,
    /// A bar's width in SVG units.
    pub bar_width: i64,
    /// The tallest bar's height (the baseline's place), in SVG units.
    pub bars_height: i64,
    /// The chart's height in SVG units (bars and their labels).
    pub chart_height: i64,
}

/// One week's bar.
#[derive(Debug, Serialize)]
pub struct Week {
    /// The week's first instant (Unix seconds; the page writes its day).
    pub start: i64,
    /// New followers that week.
    pub count: i64,
    /// The bar: its left edge, top and height, in SVG units.
    pub x: i64,
    pub y: i64,
    pub height: i64,
}

/// One service's activity and its bar.
#[derive(Debug, Serialize)]
pub struct Service {
    /// The module's id, then its name once the page named it.
    pub id: String,
    pub name: String,
    /// Records created or changed in 30 days.
    pub count: i64,
    /// The bar: its top and length, in SVG units.
    pub y: i64,
    pub width: i64,
}

impl Activity {
    /// Names the services (and the faulted ones) with `name_of` (a module's id to its name).
    pub fn name_services(&mut self, name_of: impl Fn(&str) -> Option<String>) {
        for service in &mut self.services {
            service.name = name_of(&service.id).unwrap_or_else(|| service.id.clone());
        }
        for faulted in &mut self.faulted {
            if let Some(name) = name_of(faulted) {
                *faulted = name;
            }
        }
    }
}

/// Reads the figures as of `now` (Unix seconds).
pub async fn of(db: &Db, tenant: TenantId, now: i64) -> Result<Activity, sqlx::Error> {
    let followers = crate::feed::store::followers_of_commune(db, tenant).await?;
    let by_week = crate::feed::store::commune_followers_by_week(db, tenant, now, WEEKS).await?;
    let mut tx = db.tenant(tenant).read().await?;
    let posts_30_days = tx
        .scoped_scalar::<i64>(
            "SELECT COUNT(*) FROM posts WHERE tenant_id = $1 AND created_at > $2 AND hidden_at IS NULL",
        )
        .bind(now - 30 * 24 * 3600)
        .fetch_one(&mut tx)
        .await?;
    let open_flags = tx
        .scoped_scalar::<i64>(
            "SELECT COUNT(*) FROM flags WHERE tenant_id = $1 AND resolved_at IS NULL",
        )
        .fetch_one(&mut tx)
        .await?;
    let pending_claims = tx
        .scoped_scalar::<i64>(
            "SELECT COUNT(*) FROM official_claims WHERE tenant_id = $1 AND status = 'pending'",
        )
        .fetch_one(&mut tx)
        .await?;
    let failed_deliveries = tx
        .scoped_scalar::<i64>("SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND failed_at > $2")
        .bind(now - MONTH)
        .fetch_one(&mut tx)
        .await?;
    // The enabled services, with what they wrote in 30 days (none: 0).
    let per_service: Vec<(String, i64)> = tx
        .scoped_as(
            "SELECT m.module_id, (SELECT COUNT(*) FROM module_docs d WHERE d.tenant_id = m.tenant_id \
             AND d.module_id = m.module_id AND d.updated_at > $2) AS written \
             FROM tenant_modules m WHERE m.tenant_id = $1 AND m.enabled = 1 ORDER BY written DESC, m.module_id",
        )
        .bind(now - MONTH)
        .fetch_all(&mut tx)
        .await?;
    let faulted: Vec<String> = tx
        .scoped_scalar(
            "SELECT module_id FROM tenant_modules WHERE tenant_id = $1 AND enabled = 0 \
             AND fault_reason IS NOT NULL ORDER BY module_id",
        )
        .fetch_all(&mut tx)
        .await?;
    let busiest = per_service.iter().map(|s| s.1).max().unwrap_or(0).max(1);
    let services: Vec<Service> = per_service
        .into_iter()
        .zip(0_i64..)
        .map(|((id, count), i)| Service {
            name: id.clone(),
            id,
            count,
            y: i * (ROW + ROW_GAP),
            width: (count * LONGEST / busiest).max(i64::from(count > 0) * 2),
        })
        .collect();
    let services_height = (services.len() as i64 * (ROW + ROW_GAP) - ROW_GAP).max(0);
    let max = by_week.iter().copied().max().unwrap_or(0);
    let no_new_followers = max == 0;
    let max = max.max(1);
    let weeks = by_week
        .iter()
        .zip(0_i64..)
        .map(|(&count, i)| {
            let height = count * HEIGHT / max;
            let start = now - (WEEKS as i64 - i) * WEEK;
            Week {
                start,
                count,
                x: i * (BAR + GAP),
                y: HEIGHT - height,
                height,
            }
        })
        .collect();
    Ok(Activity {
        followers,
        posts_30_days,
        open_flags,
        pending_claims,
        failed_deliveries,
        services,
        services_height,
        faulted,
        weeks,
        no_new_followers,
        chart_width: WEEKS as i64 * (BAR + GAP) - GAP,
        bar_width: BAR,
        bars_height: HEIGHT,
        chart_height: HEIGHT + 20,
    })
}
