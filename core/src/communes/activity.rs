//! A commune's activity, for its back-office home (`admin-ui`, `/admin`): what needs doing
//! today (flags to review, claims to verify), its figures, and its new followers week by week
//! laid out as a chart's bars (the page draws them as SVG, with the figures in a table).

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
        weeks,
        no_new_followers,
        chart_width: WEEKS as i64 * (BAR + GAP) - GAP,
        bar_width: BAR,
        bars_height: HEIGHT,
        chart_height: HEIGHT + 20,
    })
}
