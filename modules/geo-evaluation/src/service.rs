//! The rules: opening and closing a barometer round, answering it (once per account,
//! changeable), counting the answers into the shared figures, and reading every module's
//! figures into the map's rows.

use crate::model::{
    self, Answer, Barometer, Cell, Layer, Phase, TITLE_MAX, answers_figure, points_figure,
};
use crate::store;
use parvis_module_sdk::html::FieldError;
use parvis_module_sdk::indicators::{self, Figure};
use parvis_module_sdk::prelude::*;
use parvis_module_sdk::time::ms;

/// Who reads the map: the commune's officials and admins.
pub const READERS: [&str; 2] = ["official", "tenant-admin"];

/// The commune's neighbourhoods, `(id, name)`, in its order.
pub fn neighbourhoods() -> Result<Vec<(String, String)>, StoreError> {
    Ok(parvis_module_sdk::store::neighbourhoods()?
        .into_iter()
        .map(|n| (n.id, n.name))
        .collect())
}

/// The admins' form for a new round.
#[derive(Debug, Clone, Default)]
pub struct BarometerForm {
    pub title: String,
    pub themes: String,
    pub opens: String,
    pub closes: String,
}

impl BarometerForm {
    pub fn from_request(req: &Request) -> Self {
        let field = |n| req.form_value(n).unwrap_or_default().to_string();
        Self {
            title: field("titre"),
            themes: field("themes"),
            opens: field("ouverture"),
            closes: field("cloture"),
        }
    }
}

/// Opens a new round of the barometer.
pub fn create(form: &BarometerForm) -> Result<u64, Vec<FieldError>> {
    let mut errors: Vec<FieldError> = Vec::new();
    let title = form.title.split_whitespace().collect::<Vec<_>>().join(" ");
    if title.chars().count() < 5 || title.chars().count() > TITLE_MAX {
        errors.push((
            "titre",
            format!("Donnez un titre de 5 à {TITLE_MAX} caractères."),
        ));
    }
    let themes = model::parse_themes(&form.themes);
    if let Err(e) = &themes {
        errors.push(("themes", e.clone()));
    }
    let period = ms::period(&form.opens, &form.closes, host::now_ms());
    if let Err(e) = &period {
        errors.extend(e.iter().cloned());
    }
    let (Ok(themes), Ok((opens_at, closes_at)), true) = (themes, period, errors.is_empty()) else {
        return Err(errors);
    };
    let fail = |e: StoreError| vec![("titre", format!("Enregistrement impossible\u{a0}: {e}"))];
    let number = store::next_number().map_err(fail)?;
    store::insert(&Barometer {
        number,
        title,
        themes,
        opens_at,
        closes_at,
        respondents: 0,
    })
    .map_err(fail)?;
    Ok(number)
}

/// Closes an open (or coming) round now.
pub fn close(number: u64) -> Result<(), Error> {
    let now = host::now_ms();
    store::modify(number, |b| {
        if b.closes_at <= now {
            return false;
        }
        b.closes_at = now;
        b.opens_at = b.opens_at.min(now);
        true
    })?
    .ok_or(Error::NotFound)?;
    Ok(())
}

/// Counts `a` into the figures (`sign` 1) or out (-1), in the month the round opened.
fn count(b: &Barometer, a: &Answer, sign: i64) -> Result<(), StoreError> {
    for (theme, note) in &a.notes {
        let area = a.neighbourhood.as_deref();
        indicators::add(&answers_figure(theme), area, b.opens_at, sign)?;
        indicators::add(
            &points_figure(theme),
            area,
            b.opens_at,
            sign * i64::from(*note),
        )?;
    }
    Ok(())
}

/// The viewer answers round `number` (or changes their answer): their neighbourhood, if they
/// say it, and a note from 1 to 5 per theme they have an opinion on. True when it replaced an
/// earlier answer.
pub fn answer(req: &Request, number: u64) -> Result<bool, AnswerError> {
    let account = req.require_account()?;
    let b = store::barometer(number)?.ok_or(Error::NotFound)?.value;
    match b.phase(host::now_ms()) {
        Phase::Open => {}
        Phase::Upcoming => {
            return Err(Error::conflict("Ce baromètre n'est pas encore ouvert.").into());
        }
        Phase::Closed => {
            return Err(Error::conflict(
                "Ce baromètre est clos\u{a0}: les réponses ne sont plus reçues.",
            )
            .into());
        }
    }
    let mut errors: Vec<FieldError> = Vec::new();
    let neighbourhood = match req.form_value("quartier").unwrap_or_default() {
        "" => None,
        id => {
            if !neighbourhoods()?.iter().any(|(n, _)| n == id) {
                errors.push((
                    "quartier",
                    "Choisissez votre quartier dans la liste, ou « Je préfère ne pas le dire »."
                        .into(),
                ));
            }
            Some(id.to_string())
        }
    };
    let mut notes = Vec::new();
    for (code, label) in &b.themes {
        match req.form_value(&format!("note-{code}")).unwrap_or_default() {
            "" => {}
            v => match v.parse::<u8>() {
                Ok(n @ 1..=5) => notes.push((code.clone(), n)),
                _ => errors.push((
                    "notes",
                    format!("«\u{a0}{label}\u{a0}»\u{a0}: choisissez une note de 1 à 5, ou « Sans avis »."),
                )),
            },
        }
    }
    if notes.is_empty() && errors.is_empty() {
        errors.push(("notes", "Donnez une note à au moins un thème.".to_string()));
    }
    if !errors.is_empty() {
        return Err(AnswerError::Form(errors));
    }
    let previous = store::answer(number, account)?;
    let answer = Answer {
        barometer: number,
        account: account.to_string(),
        neighbourhood,
        notes,
        at: host::now_ms(),
    };
    store::put_answer(&answer, previous.as_ref().map(|p| p.version))?;
    if let Some(p) = &previous {
        count(&b, &p.value, -1)?;
    } else {
        store::modify(number, |b| {
            b.respondents += 1;
            true
        })?;
    }
    count(&b, &answer, 1)?;
    Ok(previous.is_some())
}

/// Why an answer was not taken: a page, or the form's fields.
#[derive(Debug)]
pub enum AnswerError {
    Page(Error),
    Form(Vec<FieldError>),
}

impl From<Error> for AnswerError {
    fn from(e: Error) -> Self {
        AnswerError::Page(e)
    }
}

impl From<StoreError> for AnswerError {
    fn from(e: StoreError) -> Self {
        AnswerError::Page(e.into())
    }
}

/// An account was deleted: its answers are counted out of the figures and erased.
pub fn forget(account: &str) -> Result<(), Error> {
    for a in store::answers_of(account)? {
        if let Some(b) = store::barometer(a.barometer)? {
            count(&b.value, &a, -1)?;
            store::modify(a.barometer, |b| {
                b.respondents = b.respondents.saturating_sub(1);
                true
            })?;
        }
        store::delete_answer(a.barometer, account)?;
    }
    Ok(())
}

/// Every theme any round asked about, `(code, label)`, newest rounds first.
pub fn themes(rounds: &[Barometer]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for b in rounds {
        for (code, label) in &b.themes {
            if !out.iter().any(|(c, _)| c == code) {
                out.push((code.clone(), label.clone()));
            }
        }
    }
    out
}

/// How many months a map page covers, from `?periode=`.
pub fn period(req: &Request) -> u32 {
    req.query_value("periode")
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| model::PERIODS.contains(p))
        .unwrap_or(12)
}

/// One neighbourhood's line on the map.
#[derive(Debug, Clone)]
pub struct Row {
    /// None: what has no place (the whole commune).
    pub id: Option<String>,
    pub name: String,
    /// Over the period; none when too few.
    pub value: Option<f64>,
    pub class: Option<usize>,
    pub trend: Option<f64>,
    /// Month by month over the year, none where too few.
    pub months: Vec<Option<f64>>,
}

/// What the map page shows for one layer.
pub struct MapData {
    pub layers: Vec<Layer>,
    pub layer: Layer,
    pub period: u32,
    /// The year's months, oldest first.
    pub months: Vec<String>,
    pub rows: Vec<Row>,
    /// The highest value shown (for the legend).
    pub max: f64,
    /// Whether the layer's module is on and published anything this year.
    pub any: bool,
}

/// Reads every module's figures of the last twelve months and computes `key`'s layer (the
/// first one if none or unknown) by neighbourhood over the last `period` months.
pub fn map(key: Option<&str>, period: u32, rounds: &[Barometer]) -> Result<MapData, Error> {
    let layers = model::layers(&themes(rounds));
    let layer = layers
        .iter()
        .find(|l| Some(l.key.as_str()) == key)
        .or(layers.first())
        .cloned()
        .ok_or(Error::NotFound)?;
    let months = indicators::months(host::now_ms(), 12);
    let since = months.first().cloned().unwrap_or_default();
    let figures: Vec<Figure> = indicators::read(&since)?;
    let any = figures
        .iter()
        .any(|f| f.module == layer.module && f.name == layer.count);
    let cells = model::cells(&layer, &figures, &months);
    let empty = vec![Cell::default(); months.len()];
    let mut areas: Vec<(Option<String>, String)> = neighbourhoods()?
        .into_iter()
        .map(|(id, name)| (Some(id), name))
        .collect();
    if cells.contains_key(&None) || areas.is_empty() {
        let name = if areas.is_empty() {
            "Toute la commune"
        } else {
            "Sans quartier"
        };
        areas.push((None, name.to_string()));
    }
    let skip = months.len().saturating_sub(period as usize);
    let mut rows: Vec<Row> = areas
        .into_iter()
        .map(|(id, name)| {
            let c = cells.get(&id).unwrap_or(&empty);
            Row {
                value: model::value(&layer, &c[skip..]),
                trend: model::trend(&layer, c),
                months: c
                    .iter()
                    .map(|m| model::value(&layer, std::slice::from_ref(m)))
                    .collect(),
                class: None,
                id,
                name,
            }
        })
        .collect();
    let max = rows
        .iter()
        .filter(|r| r.id.is_some())
        .filter_map(|r| r.value)
        .fold(0.0_f64, f64::max);
    for r in &mut rows {
        r.class = r.value.map(|v| model::class(&layer, v, max));
    }
    Ok(MapData {
        layers,
        layer,
        period,
        months,
        rows,
        max,
        any,
    })
}
