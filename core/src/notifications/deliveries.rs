//! What became of each notice: counts per channel (in app, e-mail, SMS, web push), written
//! when a notice is queued and by the delivery jobs, read by the module that sent it.

use serde::{Deserialize, Serialize};

use crate::db::{Db, TenantSql, sql};

/// The notice a delivery belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoticeRef {
    /// Commune.
    pub tenant_id: crate::types::TenantId,
    /// Notice id.
    pub notice_id: String,
}

/// A delivery channel.
#[derive(Debug, Clone, Copy)]
pub enum Channel {
    /// The notification centre.
    InApp,
    /// E-mail.
    Email,
    /// Text message.
    Sms,
    /// Web push, one per subscribed device.
    Push,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::InApp => "in-app",
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }
}

/// Adds to a notice's counts for one channel, in the given tenant transaction.
pub async fn add(
    tx: &mut impl TenantSql,
    notice: &str,
    channel: Channel,
    queued: i64,
    sent: i64,
    failed: i64,
) -> Result<(), sqlx::Error> {
    tx.scoped(
        "INSERT INTO notice_deliveries (tenant_id, notice_id, channel, queued, sent, failed) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, notice_id, channel) DO UPDATE SET \
         queued = notice_deliveries.queued + excluded.queued, \
         sent = notice_deliveries.sent + excluded.sent, \
         failed = notice_deliveries.failed + excluded.failed",
    )
    .bind(notice)
    .bind(channel.as_str())
    .bind(queued)
    .bind(sent)
    .bind(failed)
    .execute(tx)
    .await?;
    Ok(())
}

/// Records one delivery outcome from a job (its own transaction).
pub async fn record(db: &Db, notice: &NoticeRef, channel: Channel, ok: bool) {
    let outcome = async {
        let mut tx = db.tenant(notice.tenant_id).begin_write().await?;
        let (sent, failed) = if ok { (1, 0) } else { (0, 1) };
        add(&mut tx, &notice.notice_id, channel, 0, sent, failed).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = outcome {
        tracing::warn!(notice = %notice.notice_id, error = %e, "delivery count not recorded");
    }
}

/// A notice's counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Written in notification centres.
    pub in_app: i64,
    /// E-mails sent.
    pub email_sent: i64,
    /// E-mails given up.
    pub email_failed: i64,
    /// Text messages sent.
    pub sms_sent: i64,
    /// Text messages given up.
    pub sms_failed: i64,
    /// Push messages the push services accepted.
    pub push_sent: i64,
    /// Push messages refused (device gone) or given up.
    pub push_failed: i64,
    /// Push messages queued, not delivered yet.
    pub push_pending: i64,
    /// E-mails and text messages queued, not delivered yet.
    pub pending: i64,
}

/// One channel's row of a notice's deliveries.
struct ChannelCounts {
    channel: String,
    queued: i64,
    sent: i64,
    failed: i64,
}

impl sql::FromRow for ChannelCounts {
    fn from_row(row: &sql::Row) -> Result<Self, sqlx::Error> {
        Ok(ChannelCounts {
            channel: row.get("channel")?,
            queued: row.get("queued")?,
            sent: row.get("sent")?,
            failed: row.get("failed")?,
        })
    }
}

/// The counts of one notice in the transaction's commune.
pub async fn report(tx: &mut impl TenantSql, notice: &str) -> Result<Report, sqlx::Error> {
    let rows: Vec<ChannelCounts> = tx.scoped_as(
        "SELECT channel, queued, sent, failed FROM notice_deliveries WHERE tenant_id = $1 AND notice_id = $2",
    )
    .bind(notice)
    .fetch_all(tx)
    .await?;
    let mut report = Report::default();
    for ChannelCounts {
        channel,
        queued,
        sent,
        failed,
    } in rows
    {
        match channel.as_str() {
            "in-app" => report.in_app += sent,
            "email" => {
                report.email_sent += sent;
                report.email_failed += failed;
                report.pending += (queued - sent - failed).max(0);
            }
            "sms" => {
                report.sms_sent += sent;
                report.sms_failed += failed;
                report.pending += (queued - sent - failed).max(0);
            }
            "push" => {
                report.push_sent += sent;
                report.push_failed += failed;
                report.push_pending += (queued - sent - failed).max(0);
            }
            _ => {}
        }
    }
    Ok(report)
}
