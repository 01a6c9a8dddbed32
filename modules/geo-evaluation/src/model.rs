//! Barometers, answers, and the layers of the map: which figures each reads, how it sums
//! them by neighbourhood over months, when it says nothing (too few people), and how it
//! colours a neighbourhood. Plain Rust, no host calls: unit-tested on the host target.

use std::collections::BTreeMap;

use parvis_module_sdk::indicators::Figure;
use serde::{Deserialize, Serialize};

pub use parvis_module_sdk::text::parse_number;

/// This module's id, as the figures it publishes name it.
pub const MODULE: &str = "geo-evaluation";

/// No average is shown for fewer answers (barometer) or evaluations (commitments) than this,
/// in a neighbourhood or a month: below it, someone who knows who answered could tell what
/// one person said. It is the threshold statistical offices use for small groups.
pub const MIN_GROUP: i64 = 10;

/// The barometer's scale, 1 to 5.
pub const SCALE: [&str; 5] = [
    "Très insatisfait",
    "Plutôt insatisfait",
    "Moyennement satisfait",
    "Plutôt satisfait",
    "Très satisfait",
];

/// The themes a new barometer asks about unless the admins write others.
pub const DEFAULT_THEMES: &str =
    "Propreté ; Sécurité ; Transports et déplacements ; Cadre de vie ; Commerces et services";

/// Longest title of a barometer.
pub const TITLE_MAX: usize = 120;
/// Most themes one barometer asks about (it stays short).
pub const THEMES_MAX: usize = 8;
/// Longest theme label.
pub const THEME_MAX: usize = 60;

/// The months a map can cover.
pub const PERIODS: [u32; 3] = [3, 6, 12];
/// The months a trend compares: the last ones against as many before.
pub const TREND_MONTHS: usize = 3;

/// Where a barometer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Upcoming,
    Open,
    Closed,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Upcoming => "À venir",
            Phase::Open => "Ouvert",
            Phase::Closed => "Clos",
        }
    }
}

/// One round of the barometer: a few themes, each rated 1 to 5, for a period.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Barometer {
    pub number: u64,
    pub title: String,
    /// `(code, label)`: the code keeps a theme's trend from one round to the next.
    pub themes: Vec<(String, String)>,
    /// Unix milliseconds. The answers count in the month it opens: one round, one point of
    /// the trend, whenever people answer.
    pub opens_at: i64,
    pub closes_at: i64,
    pub respondents: u64,
}

impl Barometer {
    pub fn key(number: u64) -> String {
        format!("{number:010}")
    }

    pub fn phase(&self, now: i64) -> Phase {
        if now < self.opens_at {
            Phase::Upcoming
        } else if now < self.closes_at {
            Phase::Open
        } else {
            Phase::Closed
        }
    }
}

/// One person's answer to a barometer: kept to be changed, and erased with the account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    pub barometer: u64,
    pub account: String,
    /// The neighbourhood they say they live in (none: they did not say).
    pub neighbourhood: Option<String>,
    /// `(theme code, 1 to 5)`; a theme left « sans avis » is absent.
    pub notes: Vec<(String, u8)>,
    pub at: i64,
}

/// The figure counting a theme's answers.
pub fn answers_figure(theme: &str) -> String {
    format!("barometre-{theme}-reponses")
}

/// The figure summing a theme's points.
pub fn points_figure(theme: &str) -> String {
    format!("barometre-{theme}-points")
}

/// Reads the admins' themes: `;`-separated, each at most [`THEME_MAX`] characters, at most
/// [`THEMES_MAX`], none twice.
pub fn parse_themes(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for raw in text.split([';', '\n']) {
        let label = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if label.is_empty() {
            continue;
        }
        if label.chars().count() > THEME_MAX {
            return Err(format!(
                "Le thème « {label} » dépasse {THEME_MAX} caractères."
            ));
        }
        let code = parvis_module_sdk::text::code_of(&label);
        if code.is_empty() {
            return Err(format!("Le thème « {label} » n'a ni lettre ni chiffre."));
        }
        if out.iter().any(|(c, _)| *c == code) {
            return Err(format!("Le thème « {label} » est écrit deux fois."));
        }
        out.push((code, label));
    }
    if out.is_empty() {
        return Err("Indiquez au moins un thème.".into());
    }
    if out.len() > THEMES_MAX {
        return Err(format!(
            "Un baromètre reste court\u{a0}: {THEMES_MAX} thèmes au plus."
        ));
    }
    Ok(out)
}

/// What a layer computes from its figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// `total / count` on the 1 to 5 scale, shown from [`MIN_GROUP`] values.
    Average,
    /// `count`, summed over the months.
    Count,
    /// `total / count` minutes, shown in days.
    MeanDays,
}

/// One map the page can draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// In the page's URL (`?indicateur=`).
    pub key: String,
    pub label: String,
    /// One sentence: what the colour means.
    pub what: String,
    pub measure: Measure,
    /// The module publishing the figures.
    pub module: String,
    /// The figure counting.
    pub count: String,
    /// The figure summing (points, minutes), for an average.
    pub total: Option<String>,
}

impl Layer {
    /// The fewest values a shown figure rests on.
    pub fn min(&self) -> i64 {
        match self.measure {
            Measure::Average => MIN_GROUP,
            Measure::Count | Measure::MeanDays => 1,
        }
    }

    /// A value as people read it: « 3,4 / 5 », « 12 », « 4,5 jours ».
    pub fn format(&self, v: f64) -> String {
        match self.measure {
            Measure::Average => format!("{} / 5", decimal(v)),
            Measure::Count => format!("{}", v.round() as i64),
            Measure::MeanDays => {
                let d = decimal(v);
                if v < 2.0 {
                    format!("{d} jour")
                } else {
                    format!("{d} jours")
                }
            }
        }
    }
}

/// One decimal, French comma.
pub fn decimal(v: f64) -> String {
    format!("{:.1}", v).replace('.', ",")
}

/// The layers of the map: each barometer theme (from `themes`, the rounds' themes in order),
/// then what the other modules publish.
pub fn layers(themes: &[(String, String)]) -> Vec<Layer> {
    let mut out: Vec<Layer> = themes
        .iter()
        .map(|(code, label)| Layer {
            key: format!("barometre-{code}"),
            label: format!("Baromètre : {label}"),
            what: format!(
                "La note moyenne (de 1, très insatisfait, à 5, très satisfait) que les habitants du quartier donnent à « {label} » dans le baromètre de la commune."
            ),
            measure: Measure::Average,
            module: MODULE.into(),
            count: answers_figure(code),
            total: Some(points_figure(code)),
        })
        .collect();
    out.push(Layer {
        key: "evaluations".into(),
        label: "Évaluation des engagements".into(),
        what: "La note moyenne (de 1 à 5) que les habitants donnent aux engagements et actions qui concernent le quartier.".into(),
        measure: Measure::Average,
        module: "commitments".into(),
        count: "evaluations".into(),
        total: Some("points-evaluations".into()),
    });
    out.push(Layer {
        key: "signalements".into(),
        label: "Signalements".into(),
        what: "Le nombre de problèmes signalés dans le quartier (voirie, propreté, éclairage…)."
            .into(),
        measure: Measure::Count,
        module: "reports".into(),
        count: "signalements".into(),
        total: None,
    });
    out.push(Layer {
        key: "resolution".into(),
        label: "Délai de résolution".into(),
        what: "Le temps moyen, en jours, entre l'envoi d'un signalement du quartier et sa résolution par la mairie.".into(),
        measure: Measure::MeanDays,
        module: "reports".into(),
        count: "signalements-resolus".into(),
        total: Some("minutes-resolution".into()),
    });
    out.push(Layer {
        key: "soutiens".into(),
        label: "Soutiens aux idées".into(),
        what:
            "Le nombre de soutiens que les habitants donnent aux idées proposées pour le quartier."
                .into(),
        measure: Measure::Count,
        module: "ideas".into(),
        count: "soutiens".into(),
        total: None,
    });
    out
}

/// A layer's sums for one neighbourhood and one month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cell {
    pub count: i64,
    pub total: i64,
}

/// A layer's figures by neighbourhood (none: the whole commune, what has no place), one
/// [`Cell`] per month of `months`.
pub fn cells(
    layer: &Layer,
    figures: &[Figure],
    months: &[String],
) -> BTreeMap<Option<String>, Vec<Cell>> {
    let mut out: BTreeMap<Option<String>, Vec<Cell>> = BTreeMap::new();
    for f in figures.iter().filter(|f| f.module == layer.module) {
        let is_count = f.name == layer.count;
        let is_total = layer.total.as_deref() == Some(f.name.as_str());
        if !is_count && !is_total {
            continue;
        }
        let Some(m) = months.iter().position(|m| *m == f.month) else {
            continue;
        };
        let row = out
            .entry(f.neighbourhood.clone())
            .or_insert_with(|| vec![Cell::default(); months.len()]);
        if is_count {
            row[m].count += f.value;
        } else {
            row[m].total += f.value;
        }
    }
    out
}

/// The layer's value over `cells` (some months), or none when it rests on too few values.
pub fn value(layer: &Layer, cells: &[Cell]) -> Option<f64> {
    let count: i64 = cells.iter().map(|c| c.count).sum();
    let total: i64 = cells.iter().map(|c| c.total).sum();
    match layer.measure {
        Measure::Count => Some(count as f64),
        Measure::Average | Measure::MeanDays if count < layer.min() => None,
        Measure::Average => Some(total as f64 / count as f64),
        Measure::MeanDays => Some(total as f64 / count as f64 / 1440.0),
    }
}

/// The last [`TREND_MONTHS`] months' value less the value of as many before, when both can
/// be shown.
pub fn trend(layer: &Layer, cells: &[Cell]) -> Option<f64> {
    let n = cells.len();
    if n < 2 * TREND_MONTHS {
        return None;
    }
    let last = value(layer, &cells[n - TREND_MONTHS..])?;
    let before = value(layer, &cells[n - 2 * TREND_MONTHS..n - TREND_MONTHS])?;
    Some(last - before)
}

/// A trend in words: « en hausse de 0,4 », « en baisse de 3 », « stable ».
pub fn trend_label(layer: &Layer, delta: f64) -> String {
    let size = match layer.measure {
        Measure::Average | Measure::MeanDays => decimal(delta.abs()),
        Measure::Count => format!("{}", delta.abs().round() as i64),
    };
    if size == "0,0" || size == "0" {
        "stable".into()
    } else if delta > 0.0 {
        format!("en hausse de {size}")
    } else {
        format!("en baisse de {size}")
    }
}

/// How many colours the map uses.
pub const CLASSES: usize = 5;

/// The class (0 to 4, darker is higher) of `v` among values up to `max`: fixed steps of the
/// 1-to-5 scale for an average (so two maps compare), fifths of the highest otherwise.
pub fn class(layer: &Layer, v: f64, max: f64) -> usize {
    let c = match layer.measure {
        Measure::Average => ((v - 1.0) / 0.8).floor(),
        Measure::Count | Measure::MeanDays if max <= 0.0 => 0.0,
        Measure::Count | Measure::MeanDays => (v / max * CLASSES as f64).ceil() - 1.0,
    };
    (c.max(0.0) as usize).min(CLASSES - 1)
}

/// What each class covers, for the legend: « 1,0 à 1,8 »…
pub fn class_bounds(layer: &Layer, max: f64) -> Vec<String> {
    (0..CLASSES)
        .map(|i| {
            let (low, high) = match layer.measure {
                Measure::Average => (1.0 + 0.8 * i as f64, 1.0 + 0.8 * (i + 1) as f64),
                Measure::Count | Measure::MeanDays => (
                    max * i as f64 / CLASSES as f64,
                    max * (i + 1) as f64 / CLASSES as f64,
                ),
            };
            match layer.measure {
                Measure::Count => format!(
                    "{} à {}",
                    (low.floor() as i64 + i64::from(i > 0)).min(high.floor() as i64),
                    high.floor() as i64
                ),
                _ => format!("{} à {}", decimal(low), decimal(high)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(module: &str, name: &str, area: Option<&str>, month: &str, value: i64) -> Figure {
        Figure {
            module: module.into(),
            name: name.into(),
            neighbourhood: area.map(str::to_string),
            month: month.into(),
            value,
        }
    }

    fn months() -> Vec<String> {
        [
            "2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12",
        ]
        .map(str::to_string)
        .to_vec()
    }

    #[test]
    fn an_average_needs_ten_answers_and_follows_its_months() {
        let themes = parse_themes("Propreté ; Sécurité").unwrap_or_default();
        let layer = &layers(&themes)[0];
        assert_eq!(layer.key, "barometre-proprete");
        let figures = vec![
            figure(
                MODULE,
                "barometre-proprete-reponses",
                Some("centre"),
                "2026-08",
                12,
            ),
            figure(
                MODULE,
                "barometre-proprete-points",
                Some("centre"),
                "2026-08",
                30,
            ),
            figure(
                MODULE,
                "barometre-proprete-reponses",
                Some("centre"),
                "2026-11",
                10,
            ),
            figure(
                MODULE,
                "barometre-proprete-points",
                Some("centre"),
                "2026-11",
                38,
            ),
            figure(
                MODULE,
                "barometre-proprete-reponses",
                Some("port"),
                "2026-11",
                9,
            ),
            figure(
                MODULE,
                "barometre-proprete-points",
                Some("port"),
                "2026-11",
                45,
            ),
            // Another module's figure of the same name is not this layer's.
            figure(
                "ideas",
                "barometre-proprete-reponses",
                Some("port"),
                "2026-11",
                50,
            ),
            figure(
                MODULE,
                "barometre-securite-reponses",
                Some("port"),
                "2026-11",
                50,
            ),
        ];
        let by_area = cells(layer, &figures, &months());
        let centre = &by_area[&Some("centre".to_string())];
        assert_eq!(value(layer, centre), Some(68.0 / 22.0));
        assert_eq!(value(layer, &centre[3..]), Some(3.8));
        // Nine answers: nothing shown, whatever they say.
        let port = &by_area[&Some("port".to_string())];
        assert_eq!(value(layer, port), None);
        let delta = trend(layer, centre).unwrap_or_default();
        assert!((delta - 1.3).abs() < 1e-9, "{delta}");
        assert_eq!(trend_label(layer, delta), "en hausse de 1,3");
        assert_eq!(trend(layer, port), None);
        assert_eq!(layer.format(3.8), "3,8 / 5");
        assert_eq!(class(layer, 3.8, 5.0), 3);
        assert_eq!(class(layer, 1.0, 5.0), 0);
        assert_eq!(class(layer, 5.0, 5.0), 4);
    }

    #[test]
    fn counts_and_delays_show_from_one() {
        let all = layers(&[]);
        let reports = all.iter().find(|l| l.key == "signalements").cloned();
        let delay = all.iter().find(|l| l.key == "resolution").cloned();
        let (Some(reports), Some(delay)) = (reports, delay) else {
            panic!("layers");
        };
        let figures = vec![
            figure("reports", "signalements", Some("port"), "2026-12", 3),
            figure("reports", "signalements", None, "2026-12", 1),
            figure(
                "reports",
                "signalements-resolus",
                Some("port"),
                "2026-12",
                2,
            ),
            figure(
                "reports",
                "minutes-resolution",
                Some("port"),
                "2026-12",
                2 * 1440 * 3,
            ),
        ];
        let by_area = cells(&reports, &figures, &months());
        assert_eq!(value(&reports, &by_area[&Some("port".into())]), Some(3.0));
        assert_eq!(value(&reports, &by_area[&None]), Some(1.0));
        // No report is a figure too: none.
        assert_eq!(value(&reports, &[Cell::default()]), Some(0.0));
        let by_area = cells(&delay, &figures, &months());
        assert_eq!(value(&delay, &by_area[&Some("port".into())]), Some(3.0));
        assert_eq!(delay.format(3.0), "3,0 jours");
        assert_eq!(class(&reports, 3.0, 3.0), 4);
        assert_eq!(class(&reports, 1.0, 3.0), 1);
        assert_eq!(
            class_bounds(&reports, 10.0),
            ["0 à 2", "3 à 4", "5 à 6", "7 à 8", "9 à 10"]
        );
        assert_eq!(class_bounds(&delay, 5.0)[0], "0,0 à 1,0");
    }

    #[test]
    fn themes_are_checked() {
        assert_eq!(
            parse_themes("Propreté;  Cadre   de vie ;").unwrap_or_default(),
            vec![
                ("proprete".to_string(), "Propreté".to_string()),
                ("cadre-de-vie".to_string(), "Cadre de vie".to_string())
            ]
        );
        assert!(parse_themes(" ; ").is_err());
        assert!(parse_themes("Propreté ; propreté").is_err());
        assert!(parse_themes("a;b;c;d;e;f;g;h;i").is_err());
        assert_eq!(parse_themes(DEFAULT_THEMES).map(|t| t.len()), Ok(5));
    }
}
