//! An alert's delivery report: the host's per-notice counts, added up per channel. Plain Rust;
//! the host calls are in [`crate::service::report`].

use crate::model::{Channels, NoticeKind};
use parvis_module_sdk::host::DeliveryReport;

/// Sent, failed and pending messages of one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub sent: u32,
    pub failed: u32,
    pub pending: u32,
}

/// One row of the report table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub label: &'static str,
    pub tally: Tally,
    /// In-app notifications are written at once: no failure nor wait to show.
    pub counts_failures: bool,
}

/// What became of an alert's notices so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertReport {
    pub in_app: u32,
    pub email: Tally,
    pub push: Tally,
    pub sms: Tally,
    /// Notices whose report the host could not give (French, for the admin).
    pub unavailable: Vec<String>,
}

impl AlertReport {
    /// Adds one notice's counts. The host counts pending e-mails and text messages together;
    /// each notice carries only one of them, so its kind says which. Push has its own count.
    pub fn add(&mut self, kind: NoticeKind, report: &DeliveryReport) {
        self.in_app = self.in_app.saturating_add(report.in_app);
        let add = |tally: &mut Tally, sent: u32, failed: u32| {
            tally.sent = tally.sent.saturating_add(sent);
            tally.failed = tally.failed.saturating_add(failed);
            tally.pending = tally.pending.saturating_add(report.pending);
        };
        match kind {
            NoticeKind::AppEmail => {
                add(&mut self.email, report.email_sent, report.email_failed);
                self.push.sent = self.push.sent.saturating_add(report.push_sent);
                self.push.failed = self.push.failed.saturating_add(report.push_failed);
                self.push.pending = self.push.pending.saturating_add(report.push_pending);
            }
            NoticeKind::Sms => add(&mut self.sms, report.sms_sent, report.sms_failed),
        }
    }

    /// The rows of the chosen channels, in the form's order.
    pub fn rows(&self, channels: Channels) -> Vec<Row> {
        let mut rows = Vec::new();
        if channels.in_app {
            rows.push(Row {
                label: "Application",
                tally: Tally {
                    sent: self.in_app,
                    ..Tally::default()
                },
                counts_failures: false,
            });
        }
        if channels.email {
            rows.push(Row {
                label: "E-mail",
                tally: self.email,
                counts_failures: true,
            });
        }
        if channels.push {
            rows.push(Row {
                label: "Push",
                tally: self.push,
                counts_failures: true,
            });
        }
        if channels.sms {
            rows.push(Row {
                label: "SMS",
                tally: self.sms,
                counts_failures: true,
            });
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(values: [u32; 6]) -> DeliveryReport {
        counts_with_push(values, [0; 3])
    }

    fn counts_with_push(values: [u32; 6], push: [u32; 3]) -> DeliveryReport {
        let [push_sent, push_failed, push_pending] = push;
        let [
            in_app,
            email_sent,
            email_failed,
            sms_sent,
            sms_failed,
            pending,
        ] = values;
        DeliveryReport {
            in_app,
            email_sent,
            email_failed,
            sms_sent,
            sms_failed,
            pending,
            push_sent,
            push_failed,
            push_pending,
        }
    }

    #[test]
    fn adds_notices_per_channel() {
        let mut report = AlertReport::default();
        report.add(NoticeKind::AppEmail, &counts([10, 7, 1, 0, 0, 2]));
        report.add(NoticeKind::Sms, &counts([0, 0, 0, 900, 3, 97]));
        report.add(NoticeKind::Sms, &counts([0, 0, 0, 4, 0, 1]));
        assert_eq!(report.in_app, 10);
        assert_eq!(
            report.email,
            Tally {
                sent: 7,
                failed: 1,
                pending: 2
            }
        );
        assert_eq!(
            report.sms,
            Tally {
                sent: 904,
                failed: 3,
                pending: 98
            }
        );
    }

    #[test]
    fn push_has_its_own_counts() {
        let mut report = AlertReport::default();
        report.add(
            NoticeKind::AppEmail,
            &counts_with_push([3, 2, 0, 0, 0, 1], [5, 2, 1]),
        );
        assert_eq!(report.email.pending, 1);
        assert_eq!(
            report.push,
            Tally {
                sent: 5,
                failed: 2,
                pending: 1
            }
        );
    }

    #[test]
    fn shows_only_the_chosen_channels() {
        let report = AlertReport::default();
        let labels = |channels| -> Vec<&str> {
            report.rows(channels).into_iter().map(|r| r.label).collect()
        };
        let all = Channels {
            in_app: true,
            email: true,
            sms: true,
            push: true,
        };
        assert_eq!(labels(all), ["Application", "E-mail", "Push", "SMS"]);
        let sms_only = Channels {
            sms: true,
            ..Channels::default()
        };
        assert_eq!(labels(sms_only), ["SMS"]);
    }
}
