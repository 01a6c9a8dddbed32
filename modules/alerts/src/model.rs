//! What an alert is, how alerts are ordered, and an SMS subscription. Plain Rust, no host calls.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// What the alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Weather,
    Roadworks,
    Traffic,
    Safety,
    Health,
    Utilities,
    Other,
}

impl Category {
    /// Every category, in the order of the form's select.
    pub const ALL: [Self; 7] = [
        Self::Weather,
        Self::Roadworks,
        Self::Traffic,
        Self::Safety,
        Self::Health,
        Self::Utilities,
        Self::Other,
    ];

    /// The form value.
    pub fn value(self) -> &'static str {
        match self {
            Self::Weather => "meteo",
            Self::Roadworks => "travaux",
            Self::Traffic => "circulation",
            Self::Safety => "securite",
            Self::Health => "sante",
            Self::Utilities => "eau-energie",
            Self::Other => "autre",
        }
    }

    /// The French label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Weather => "Météo",
            Self::Roadworks => "Travaux",
            Self::Traffic => "Circulation",
            Self::Safety => "Sécurité",
            Self::Health => "Santé",
            Self::Utilities => "Eau et énergie",
            Self::Other => "Autre",
        }
    }

    /// The category of a form value.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.value() == value)
    }
}

/// How serious it is. The order of the variants is the order of gravity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Information,
    Vigilance,
    Emergency,
}

impl Severity {
    /// Every severity, from the mildest.
    pub const ALL: [Self; 3] = [Self::Information, Self::Vigilance, Self::Emergency];

    /// The form value.
    pub fn value(self) -> &'static str {
        match self {
            Self::Information => "information",
            Self::Vigilance => "vigilance",
            Self::Emergency => "urgence",
        }
    }

    /// The French label, always shown as text (colour only repeats it).
    pub fn label(self) -> &'static str {
        match self {
            Self::Information => "Information",
            Self::Vigilance => "Vigilance",
            Self::Emergency => "Urgence",
        }
    }

    /// The severity of a form value.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.value() == value)
    }
}

/// Where the alert is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channels {
    pub in_app: bool,
    pub email: bool,
    pub sms: bool,
    /// Web push to the followers' subscribed devices (absent from alerts stored before it).
    #[serde(default)]
    pub push: bool,
}

impl Channels {
    /// True when at least one channel is chosen.
    pub fn any(self) -> bool {
        self.in_app || self.email || self.sms || self.push
    }

    /// True when the followers' notice is sent (in app, e-mail and/or push).
    pub fn to_followers(self) -> bool {
        self.in_app || self.email || self.push
    }
}

/// Which host path a notice went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    /// One notice for the in-app centre, the e-mails and the push messages to the followers.
    AppEmail,
    /// One batch of text messages (at most 1,000 numbers).
    Sms,
}

/// A notice the host queued for an alert, kept for its delivery report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeRef {
    pub kind: NoticeKind,
    /// The host's notice id.
    pub id: String,
    /// Accounts or phone numbers reached.
    pub reach: u32,
}

/// An alert, stored in the `alerts` collection under a time-sorted id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub category: Category,
    pub severity: Severity,
    /// Street, district…; empty for the whole commune.
    pub zone: String,
    pub title: String,
    pub message: String,
    pub channels: Channels,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When it stops being current (set to the lifting time when lifted early).
    pub expires_at: i64,
    /// Set when an admin ended it before its expiry.
    #[serde(default)]
    pub lifted_at: Option<i64>,
    /// The account that published it.
    pub created_by: String,
    #[serde(default)]
    pub notices: Vec<NoticeRef>,
    /// Why the in-app/e-mail notice could not be queued, if it could not.
    #[serde(default)]
    pub notify_error: Option<String>,
    /// Why the text messages could not be sent, if they could not.
    #[serde(default)]
    pub sms_error: Option<String>,
}

/// The zone shown when the admin left it empty.
pub const WHOLE_COMMUNE: &str = "Toute la commune";

impl Alert {
    /// True while the alert is in force.
    pub fn is_current(&self, now: i64) -> bool {
        now < self.expires_at
    }

    /// The zone to show.
    pub fn zone_label(&self) -> &str {
        if self.zone.trim().is_empty() {
            WHOLE_COMMUNE
        } else {
            &self.zone
        }
    }

    /// Phone numbers reached by its SMS batches.
    pub fn sms_reach(&self) -> u32 {
        self.reach(NoticeKind::Sms)
    }

    /// Accounts reached by its in-app/e-mail notice.
    pub fn followers_reach(&self) -> u32 {
        self.reach(NoticeKind::AppEmail)
    }

    fn reach(&self, kind: NoticeKind) -> u32 {
        self.notices
            .iter()
            .filter(|n| n.kind == kind)
            .fold(0u32, |sum, n| sum.saturating_add(n.reach))
    }
}

/// The order of current alerts: the most severe first, then the newest.
pub fn current_order(a: &Alert, b: &Alert) -> Ordering {
    b.severity
        .cmp(&a.severity)
        .then(b.created_at.cmp(&a.created_at))
}

/// A citizen's SMS subscription, stored in the `sms` collection under the normalised number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub account: String,
    /// When the citizen ticked the consent box (Unix milliseconds).
    pub consented_at: i64,
    /// When the citizen entered the code sent to the number (Unix milliseconds). Numbers
    /// registered before codes existed have none: they receive nothing until confirmed.
    #[serde(default)]
    pub verified_at: Option<i64>,
}

/// True for an id made by the host's `new-id` (a UUID's text), so a forged path segment is a 404
/// without a storage call.
pub fn is_id(text: &str) -> bool {
    text.len() == 36 && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn alert(severity: Severity, created_at: i64) -> Alert {
        Alert {
            category: Category::Weather,
            severity,
            zone: String::new(),
            title: format!("{} {created_at}", severity.label()),
            message: "Message".into(),
            channels: Channels {
                in_app: true,
                email: true,
                sms: false,
                push: false,
            },
            created_at,
            expires_at: created_at + 1_000,
            lifted_at: None,
            created_by: "acc".into(),
            notices: Vec::new(),
            notify_error: None,
            sms_error: None,
        }
    }

    #[test]
    fn current_alerts_are_most_severe_first_then_newest() {
        let mut alerts = [
            alert(Severity::Information, 30),
            alert(Severity::Emergency, 10),
            alert(Severity::Vigilance, 20),
            alert(Severity::Emergency, 15),
            alert(Severity::Information, 40),
        ];
        alerts.sort_by(current_order);
        let titles: Vec<&str> = alerts.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Urgence 15",
                "Urgence 10",
                "Vigilance 20",
                "Information 40",
                "Information 30"
            ]
        );
    }

    #[test]
    fn form_values_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.value()), Some(c));
        }
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.value()), Some(s));
        }
        assert_eq!(Category::parse("Météo"), None);
        assert_eq!(Severity::parse(""), None);
        assert!(Severity::Emergency > Severity::Vigilance);
    }

    #[test]
    fn empty_zone_means_the_whole_commune_and_expiry_ends_it() {
        let mut a = alert(Severity::Vigilance, 100);
        assert_eq!(a.zone_label(), WHOLE_COMMUNE);
        a.zone = "Quartier de la gare".into();
        assert_eq!(a.zone_label(), "Quartier de la gare");
        assert!(a.is_current(1_099));
        assert!(!a.is_current(1_100));
    }

    #[test]
    fn reach_adds_up_per_kind() {
        let mut a = alert(Severity::Vigilance, 100);
        a.notices = vec![
            NoticeRef {
                kind: NoticeKind::AppEmail,
                id: "n1".into(),
                reach: 12,
            },
            NoticeRef {
                kind: NoticeKind::Sms,
                id: "n2".into(),
                reach: 1000,
            },
            NoticeRef {
                kind: NoticeKind::Sms,
                id: "n3".into(),
                reach: 5,
            },
        ];
        assert_eq!((a.followers_reach(), a.sms_reach()), (12, 1005));
    }

    #[test]
    fn ids_are_uuid_text() {
        assert!(is_id("0190f4a2-7c1e-7d3b-9a51-3c2d4e5f6a7b"));
        assert!(!is_id("../sms"));
        assert!(!is_id("sms"));
    }
}
