//! The town hall's figures: reports by month and by category, the open backlog, and the
//! median times to acknowledge and to resolve; and the CSV export. Both read the newest
//! reports, at most [`SAMPLE`] for the figures and [`EXPORTED`] for the file, and say so: a
//! call's time is bounded, and a year of a large city's reports fits in them.

use crate::model::{Report, Status};
use crate::store;
use parvis_module_sdk::store::StoreError;

/// Most reports the figures are computed from (the newest, over the last 12 months).
pub const SAMPLE: usize = 5_000;
/// Most reports in the CSV export (the newest).
pub const EXPORTED: usize = 20_000;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// The newest reports, at most `max`, sent since `since` (Unix ms).
pub fn newest(max: usize, since: i64) -> Result<Vec<Report>, StoreError> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store::REPORTS
            .list()
            .descending()
            .limit(500)
            .after(cursor.as_deref())
            .page::<Report>()?;
        for doc in page.documents {
            if doc.value.sent_at() < since || out.len() == max {
                return Ok(out);
            }
            out.push(doc.value);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// When a report was first acknowledged (left « nouveau »), and when it was resolved.
fn milestones(r: &Report) -> (Option<i64>, Option<i64>) {
    let acknowledged = r
        .steps
        .iter()
        .find(|s| s.status != Status::Nouveau)
        .map(|s| s.at);
    let resolved = r
        .steps
        .iter()
        .rev()
        .find(|s| s.status == Status::Resolu)
        .map(|s| s.at);
    (acknowledged, resolved)
}

fn median(mut values: Vec<i64>) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2
    } else {
        values[mid]
    })
}

/// The figures of a sample of reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    pub counted: usize,
    pub open: usize,
    pub resolved: usize,
    /// Median time from sending to the first answer, in ms.
    pub to_acknowledge: Option<i64>,
    /// Median time from sending to « résolu », in ms.
    pub to_resolve: Option<i64>,
    /// Reports by month, oldest first: (`YYYY-MM`, count), the last 12 months.
    pub by_month: Vec<(String, usize)>,
    /// Reports by category, the most first: (label, count, open).
    pub by_category: Vec<(String, usize, usize)>,
}

/// `YYYY-MM` of an instant, in Paris time.
fn month(ms: i64) -> String {
    parvis_module_sdk::time::utc_format(ms / 1000 + 3600, "%Y-%m")
}

/// Computes the figures of `reports` (the newest, since 12 months before `now`).
pub fn figures(reports: &[Report], now: i64) -> Figures {
    let mut by_month: Vec<(String, usize)> = (0..12)
        .rev()
        .map(|back| (month(now - back * 30 * DAY_MS - DAY_MS), 0))
        .collect();
    by_month.dedup_by(|a, b| a.0 == b.0);
    let mut by_category: Vec<(String, usize, usize)> = Vec::new();
    let (mut acknowledge, mut resolve) = (Vec::new(), Vec::new());
    let mut open = 0;
    let mut resolved = 0;
    for r in reports {
        let m = month(r.sent_at());
        if let Some(slot) = by_month.iter_mut().find(|(k, _)| *k == m) {
            slot.1 += 1;
        }
        let is_open = r.status.is_open();
        match by_category
            .iter_mut()
            .find(|(l, _, _)| *l == r.category_label)
        {
            Some(c) => {
                c.1 += 1;
                c.2 += usize::from(is_open);
            }
            None => by_category.push((r.category_label.clone(), 1, usize::from(is_open))),
        }
        open += usize::from(is_open);
        resolved += usize::from(r.status == Status::Resolu);
        let (ack, res) = milestones(r);
        if let Some(at) = ack {
            acknowledge.push(at - r.sent_at());
        }
        if let Some(at) = res {
            resolve.push(at - r.sent_at());
        }
    }
    by_category.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Figures {
        counted: reports.len(),
        open,
        resolved,
        to_acknowledge: median(acknowledge),
        to_resolve: median(resolve),
        by_month,
        by_category,
    }
}

/// `2026-12` as a French reader says it: « déc. 2026 ».
pub fn month_fr(key: &str) -> String {
    const MONTHS: [&str; 12] = [
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
        "déc.",
    ];
    match key.split_once('-') {
        Some((year, m)) => match m
            .parse::<usize>()
            .ok()
            .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        {
            Some(name) => format!("{name} {year}"),
            None => key.to_string(),
        },
        None => key.to_string(),
    }
}

/// A count with French thousands: « 5 000 » (narrow no-break space).
pub fn count_fr(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// A duration as people say it: « 3 h », « 2 j », « 40 min ».
pub fn duration_fr(ms: i64) -> String {
    let minutes = ms / 60_000;
    if minutes < 60 {
        format!("{} min", minutes.max(1))
    } else if minutes < 48 * 60 {
        format!("{} h", minutes / 60)
    } else {
        format!("{} j", minutes / (24 * 60))
    }
}

/// The export: one line per report, no personal data (no name, no account).
pub fn csv(reports: &[Report]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "numero",
        "envoye_le",
        "categorie",
        "service",
        "statut",
        "adresse",
        "latitude",
        "longitude",
        "pris_en_compte_le",
        "resolu_le",
        "doublon_de",
    ])?;
    let iso = |ms: Option<i64>| {
        ms.map(parvis_module_sdk::time::ms::iso_utc)
            .unwrap_or_default()
    };
    for r in reports {
        let (ack, res) = milestones(r);
        out.write_record([
            r.number.to_string(),
            iso(Some(r.sent_at())),
            r.category_label.clone(),
            r.service.clone(),
            r.status.label().to_string(),
            r.address.clone().unwrap_or_default(),
            r.at.map(|(lat, _)| format!("{lat:.6}")).unwrap_or_default(),
            r.at.map(|(_, lon)| format!("{lon:.6}")).unwrap_or_default(),
            iso(ack),
            iso(res),
            r.duplicate_of.map(|n| n.to_string()).unwrap_or_default(),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Step;

    fn report(number: u64, sent: i64, steps: &[(Status, i64)], category: &str) -> Report {
        let mut all = vec![Step {
            at: sent,
            status: Status::Nouveau,
            reply: None,
            photo: None,
        }];
        all.extend(steps.iter().map(|(s, at)| Step {
            at: *at,
            status: *s,
            reply: None,
            photo: None,
        }));
        Report {
            number,
            category: category.to_lowercase(),
            category_label: category.into(),
            service: "Voirie".into(),
            description: "Un trou, « profond ».".into(),
            address: Some("Rue de la Paix".into()),
            at: Some((48.85, 2.35)),
            author: Some("secret-account".into()),
            author_name: "Nom Privé".into(),
            public_name: false,
            status: steps.last().map_or(Status::Nouveau, |s| s.0),
            duplicate_of: None,
            steps: all,
            photos: vec![],
            agent: None,
            answers: Vec::new(),
        }
    }

    #[test]
    fn figures_count_and_take_medians() {
        let now = 1_780_000_000_000;
        let h = 3_600_000;
        let reports = [
            report(
                3,
                now - 10 * h,
                &[(Status::PrisEnCompte, now - 9 * h)],
                "Voirie",
            ),
            report(
                2,
                now - 50 * h,
                &[
                    (Status::PrisEnCompte, now - 47 * h),
                    (Status::Resolu, now - 20 * h),
                ],
                "Voirie",
            ),
            report(
                1,
                now - 100 * h,
                &[(Status::Resolu, now - 90 * h)],
                "Propreté",
            ),
        ];
        let f = figures(&reports, now);
        assert_eq!((f.counted, f.open, f.resolved), (3, 1, 2));
        assert_eq!(f.to_acknowledge, Some(3 * h));
        assert_eq!(f.to_resolve, Some(20 * h));
        assert_eq!(f.by_category[0], ("Voirie".to_string(), 2, 1));
        assert_eq!(f.by_month.iter().map(|m| m.1).sum::<usize>(), 3);
        assert_eq!(duration_fr(2 * h), "2 h");
        assert_eq!(duration_fr(72 * h), "3 j");
        assert_eq!(month_fr("2026-12"), "déc. 2026");
        assert_eq!(count_fr(20_000), "20\u{202f}000");
    }

    #[test]
    fn the_export_carries_no_personal_data() -> Result<(), csv::Error> {
        let now = 1_780_000_000_000;
        let text = String::from_utf8(csv(&[report(7, now, &[], "Voirie")])?).unwrap_or_default();
        assert!(text.starts_with("numero,envoye_le,categorie"), "{text}");
        assert!(
            text.contains("7,") && text.contains("Rue de la Paix"),
            "{text}"
        );
        assert!(
            !text.contains("secret-account") && !text.contains("Nom Privé"),
            "{text}"
        );
        Ok(())
    }
}
