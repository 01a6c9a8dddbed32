//! HTML fragments, public and for the team, as maud templates (every spliced value is
//! escaped). Written with ordinary spaces: pages go through [`french`] for the no-break ones.

use crate::model::{
    Answer, Barometer, CLASSES, DEFAULT_THEMES, MIN_GROUP, Measure, PERIODS, Phase, SCALE,
    TITLE_MAX, TREND_MONTHS, class_bounds, trend_label,
};
use crate::service::{BarometerForm, MapData, READERS};
use parvis_module_sdk::Request;
use parvis_module_sdk::html::{
    FieldError, MapView, Markup, PreEscaped, counted, empty, error_summary, field, french, html,
    map, status_tag, table_head, time,
};
use parvis_module_sdk::indicators::month_fr;

/// « du 1er mars à 9 h au 31 mars à 18 h ».
fn period(b: &Barometer) -> Markup {
    html! { "du " (time(b.opens_at)) " au " (time(b.closes_at)) }
}

/// How the answers are used, said beside the form.
fn privacy() -> Markup {
    html! {
        p class="hint" {
            "Vos réponses ne sont jamais montrées seules : la mairie ne voit que des moyennes par quartier, et aucune pour un quartier où moins de " (MIN_GROUP) " personnes ont répondu. Vous pouvez changer vos réponses jusqu'à la clôture ; elles sont effacées avec votre compte."
        }
    }
}

/// What the citizen's page shows.
pub struct Home<'a> {
    pub rounds: &'a [Barometer],
    pub now: i64,
    /// The viewer's answer to each open round, by round number.
    pub mine: &'a [(u64, Answer)],
    pub neighbourhoods: &'a [(String, String)],
    /// The round whose form is shown again with its errors.
    pub errors: Option<(u64, Vec<FieldError>)>,
}

/// The barometer: the open rounds with their form, the closed ones listed.
pub fn home(req: &Request, page: &Home<'_>) -> Markup {
    let open: Vec<&Barometer> = page
        .rounds
        .iter()
        .filter(|b| b.phase(page.now) == Phase::Open)
        .collect();
    french(html! {
        h1 { "Baromètre de la vie locale" }
        p class="lead" { "Quelques questions, de temps en temps, pour dire à la mairie " (req.commune.de()) " comment vous vivez votre quartier : propreté, sécurité, déplacements, cadre de vie. Une minute, sans texte à écrire." }
        @if req.has_any_role(&READERS) {
            p { a class="button secondary" href=(req.link("/carte")) { "Voir la carte de l'évaluation" } }
        }
        @if open.is_empty() {
            (empty("Aucun baromètre n'est ouvert en ce moment."))
        }
        @for b in &open {
            @let mine = page.mine.iter().find(|(n, _)| *n == b.number).map(|(_, a)| a);
            @let errors = page.errors.as_ref().filter(|(n, _)| *n == b.number).map(|(_, e)| e.as_slice()).unwrap_or_default();
            (answer_form(req, b, mine, page.neighbourhoods, errors))
        }
        @let closed: Vec<&Barometer> = page.rounds.iter().filter(|b| b.phase(page.now) != Phase::Open).collect();
        @if !closed.is_empty() {
            h2 { "Baromètres précédents et à venir" }
            ul class="plain" {
                @for b in closed {
                    li class="card" {
                        h3 { (b.title) }
                        p { (status_tag(b.phase(page.now).label())) " · " (period(b)) " · " (counted(b.respondents, "participant", "participants")) }
                    }
                }
            }
        }
    })
}

fn answer_form(
    req: &Request,
    b: &Barometer,
    mine: Option<&Answer>,
    neighbourhoods: &[(String, String)],
    errors: &[FieldError],
) -> Markup {
    let quartier = field(errors, "quartier");
    let notes = field(errors, "notes");
    let id = format!("barometre-{}", b.number);
    let given =
        |code: &str| mine.and_then(|a| a.notes.iter().find(|(c, _)| c == code).map(|(_, n)| *n));
    html! {
        section class="card" aria-labelledby=(id) {
            h2 id=(id) { (b.title) }
            p class="facts" { (status_tag(Phase::Open.label())) " · " (period(b)) " · " (counted(b.respondents, "participant", "participants")) }
            @if mine.is_some() { p class="notice ok" role="status" { "Vous avez répondu. Vous pouvez changer vos réponses jusqu'à la clôture." } }
            @if req.is_signed_in() {
                (error_summary("Vos réponses ne sont pas enregistrées :", errors))
                form class="form" method="post" action=(req.link(&format!("/{}", b.number))) {
                    (req.csrf_field())
                    @if !neighbourhoods.is_empty() {
                        label for=(format!("quartier-{}", b.number)) { "Votre quartier" }
                        (quartier.error())
                        select id=(format!("quartier-{}", b.number)) name="quartier" aria-invalid=[quartier.invalid()] aria-describedby=[quartier.error_id()] {
                            option value="" { "Je préfère ne pas le dire" }
                            @for (nid, name) in neighbourhoods {
                                option value=(nid) selected[mine.and_then(|a| a.neighbourhood.as_deref()) == Some(nid.as_str())] { (name) }
                            }
                        }
                    }
                    (notes.error())
                    @for (code, label) in &b.themes {
                        fieldset class="choices scale" {
                            legend { (label) }
                            @for (i, words) in SCALE.iter().enumerate() {
                                @let v = (i + 1) as u8;
                                label { input type="radio" name=(format!("note-{code}")) value=(v) checked[given(code) == Some(v)]; " " (v) " – " (words) }
                            }
                            label { input type="radio" name=(format!("note-{code}")) value="" checked[mine.is_some() && given(code).is_none()]; " Sans avis" }
                        }
                    }
                    (privacy())
                    button type="submit" { @if mine.is_some() { "Changer mes réponses" } @else { "Envoyer mes réponses" } }
                }
            } @else {
                p { a href="/connexion" { "Connectez-vous" } " pour répondre : une réponse par personne." }
            }
        }
    }
}

/// A neighbourhood's year as twelve bars (decorative: the table says the same in words).
fn sparkline(months: &[Option<f64>], top: f64) -> Markup {
    let top = if top > 0.0 { top } else { 1.0 };
    html! {
        svg class="spark" viewBox=(format!("0 0 {} 20", months.len() * 6)) width=(months.len() * 6) height="20" aria-hidden="true" focusable="false" {
            @for (i, m) in months.iter().enumerate() {
                @match m {
                    Some(v) => {
                        @let h = ((v / top) * 18.0).clamp(1.0, 18.0);
                        rect x=(i * 6) y=(format!("{:.1}", 20.0 - h)) width="4" height=(format!("{:.1}", h)) {}
                    }
                    None => { rect class="none" x=(i * 6) y="19" width="4" height="1" {} }
                }
            }
        }
    }
}

/// The map page: the layer chooser, the choropleth with its legend, and the same figures as a
/// table (the map is an extra: without JavaScript or with a screen reader the table is whole).
pub fn map_page(req: &Request, data: &MapData, admin_part: Option<Markup>) -> Markup {
    let layer = &data.layer;
    let action = if req.admin {
        req.link("/")
    } else {
        req.link("/carte")
    };
    let mut choropleth = serde_json::Map::new();
    for r in &data.rows {
        if let (Some(id), Some(v), Some(c)) = (&r.id, r.value, r.class) {
            choropleth.insert(
                id.clone(),
                serde_json::json!({ "classe": c, "valeur": layer.format(v) }),
            );
        }
    }
    // `<` written as `\u003c` so no value closes the script element.
    let json = serde_json::Value::Object(choropleth)
        .to_string()
        .replace('<', "\\u003c");
    let bounds = class_bounds(layer, data.max);
    let top = match layer.measure {
        Measure::Average => 5.0,
        Measure::Count | Measure::MeanDays => data
            .rows
            .iter()
            .flat_map(|r| r.months.iter().flatten())
            .fold(0.0_f64, |a, b| a.max(*b)),
    };
    let has_areas = data.rows.iter().any(|r| r.id.is_some());
    let year = match (data.months.first(), data.months.last()) {
        (Some(first), Some(last)) => {
            format!("Mois par mois, de {} à {}", month_fr(first), month_fr(last))
        }
        _ => "Mois par mois".to_string(),
    };
    french(html! {
        h1 { "Géo-évaluation" }
        p class="lead" { "Comment les habitants jugent la vie " (req.commune.a()) ", quartier par quartier, et comment cela évolue. Réservé aux élus et à l'équipe de la mairie." }
        form class="filters" method="get" action=(action) {
            span class="filter" {
                label for="indicateur" { "Indicateur" }
                select id="indicateur" name="indicateur" {
                    @for l in &data.layers { option value=(l.key) selected[l.key == layer.key] { (l.label) } }
                }
            }
            span class="filter" {
                label for="periode" { "Période" }
                select id="periode" name="periode" {
                    @for p in PERIODS { option value=(p) selected[p == data.period] { (p) " derniers mois" } }
                }
            }
            button type="submit" class="secondary" { "Afficher" }
        }
        section aria-labelledby="couche-titre" {
            h2 id="couche-titre" { (layer.label) }
            p { (layer.what) }
            @if !data.any {
                (empty("Aucun chiffre pour cet indicateur cette année : le module qui le fournit n'est pas activé, ou rien n'a encore été compté."))
            }
            @if has_areas {
                script type="application/json" id="choropleth-valeurs" { (PreEscaped(json)) }
                (map(&format!("Carte des quartiers : {}", layer.label), &MapView { neighbourhoods: true, choropleth: Some("choropleth-valeurs"), ..MapView::default() }))
                ul class="legend" aria-label="Légende de la carte" {
                    @for (i, b) in bounds.iter().enumerate().take(CLASSES) {
                        li { span class=(format!("swatch c{i}")) aria-hidden="true" {} (b) }
                    }
                    li { span class="swatch none" aria-hidden="true" {} "pas assez de données" }
                }
            } @else {
                p class="hint" { "La commune n'a pas encore de quartiers : les chiffres portent sur toute la commune. " @if req.has_role("tenant-admin") { a href="/admin/quartiers" { "Définir les quartiers" } } }
            }
            table {
                (table_head(Some(&format!("{} sur les {} derniers mois, par quartier", layer.label, data.period)), &["Quartier", "Valeur", &format!("Tendance ({TREND_MONTHS} derniers mois)"), &year]))
                tbody {
                    @for r in &data.rows {
                        tr {
                            th scope="row" { (r.name) }
                            td { @match r.value { Some(v) => (layer.format(v)), None => span class="muted" { "pas assez de données" } } }
                            td { @match r.trend { Some(d) => (trend_label(layer, d)), None => span class="muted" { "—" } } }
                            td { (sparkline(&r.months, top)) }
                        }
                    }
                }
            }
            @if layer.measure == Measure::Average {
                p class="hint" { "Aucune moyenne n'est montrée pour un quartier ou un mois où moins de " (MIN_GROUP) " réponses ont été données : en dessous, on pourrait reconnaître la réponse d'une personne. La tendance compare les " (TREND_MONTHS) " derniers mois aux " (TREND_MONTHS) " précédents." }
            } @else {
                p class="hint" { "Les signalements et les soutiens sont des actes publics : ils sont comptés dès le premier. La tendance compare les " (TREND_MONTHS) " derniers mois aux " (TREND_MONTHS) " précédents." }
            }
        }
        @if let Some(part) = admin_part { (part) }
    })
}

/// The admins' part of their page: the rounds, closing one, opening a new one.
pub fn rounds(
    req: &Request,
    rounds: &[Barometer],
    now: i64,
    form: &BarometerForm,
    errors: &[FieldError],
) -> Markup {
    let titre = field(errors, "titre");
    let themes = field(errors, "themes");
    let ouverture = field(errors, "ouverture");
    let cloture = field(errors, "cloture");
    html! {
        section aria-labelledby="barometres-titre" {
            h2 id="barometres-titre" { "Baromètres" }
            @if rounds.is_empty() { (empty("Aucun baromètre pour le moment.")) }
            @if !rounds.is_empty() {
                table {
                    (table_head(None, &["Baromètre", "État", "Période", "Participants", "Action"]))
                    tbody {
                        @for b in rounds {
                            tr {
                                th scope="row" { (b.title) }
                                td { (status_tag(b.phase(now).label())) }
                                td { (period(b)) }
                                td { (b.respondents) }
                                td {
                                    @if b.phase(now) != Phase::Closed {
                                        form method="post" action=(req.link(&format!("/barometres/{}/clore", b.number))) {
                                            (req.csrf_field())
                                            button type="submit" class="secondary" { "Clore maintenant" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h3 id="nouveau-titre" { "Ouvrir un baromètre" }
            (error_summary("Le baromètre n'est pas ouvert :", errors))
            form class="form" method="post" action=(req.link("/barometres")) aria-labelledby="nouveau-titre" {
                (req.csrf_field())
                label for="titre" { "Titre" }
                (titre.error())
                input id="titre" name="titre" required maxlength=(TITLE_MAX) value=(form.title) aria-invalid=[titre.invalid()] aria-describedby=[titre.error_id()];
                label for="themes" { "Thèmes" }
                (themes.error())
                textarea id="themes" name="themes" rows="3" aria-invalid=[themes.invalid()] aria-describedby=[themes.error_id().or(Some("themes-aide".into()))] {
                    @if form.themes.is_empty() { (DEFAULT_THEMES) } @else { (form.themes) }
                }
                p class="hint" id="themes-aide" { "Séparés par des points-virgules, 8 au plus : chaque thème est noté de 1 à 5. Gardez les mêmes d'un baromètre à l'autre pour en suivre l'évolution." }
                label for="ouverture" { "Ouverture" }
                (ouverture.error())
                input id="ouverture" name="ouverture" type="datetime-local" required value=(form.opens) aria-invalid=[ouverture.invalid()] aria-describedby=[ouverture.error_id()];
                label for="cloture" { "Clôture" }
                (cloture.error())
                input id="cloture" name="cloture" type="datetime-local" required value=(form.closes) aria-invalid=[cloture.invalid()] aria-describedby=[cloture.error_id()];
                button type="submit" { "Ouvrir le baromètre" }
            }
        }
    }
}
