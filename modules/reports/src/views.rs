//! HTML fragments, public and for the staff, as maud templates (every spliced value is
//! escaped). Written with ordinary spaces: pages go through [`french`] for the no-break ones.

use crate::form::{
    ADDRESS_MAX, ALT_MAX, DESCRIPTION_MAX, FieldError, NOTE_MAX, REPLY_MAX, ReportForm,
    question_field,
};
use crate::model::{ANSWER_MAX, CLOSED, Category, MAX_PHOTOS, OPEN, Report, Status};
use crate::store::{Filter, Note};
use parvis_module_sdk::Request;
use parvis_module_sdk::html::{
    MapView, Markup, bar_chart, counted, empty, encode_query, error_summary, field, french, html,
    map, paragraphs, photos, status_tag, time,
};

/// « 1 autre personne a le même problème », « 3 autres personnes ont le même problème ».
fn supporters_line(n: u64) -> String {
    match n {
        0 => "Personne d'autre n'a encore dit avoir le même problème.".to_string(),
        1 => "1 autre personne a le même problème.".to_string(),
        n => format!("{n} autres personnes ont le même problème."),
    }
}

/// The filters of a list, as a GET form that works without JavaScript.
fn filters(
    req: &Request,
    categories: &[Category],
    filter: &Filter,
    services: Option<&[&str]>,
) -> Markup {
    let chosen = filter.status.as_deref().unwrap_or("");
    html! {
        form class="filters" method="get" action=(req.link("/")) {
            span class="filter" {
                label for="statut" { "Statut" }
                select id="statut" name="statut" {
                    option value="" selected[chosen.is_empty()] { "Tous" }
                    option value=(OPEN) selected[chosen == OPEN] { "En cours de traitement" }
                    option value=(CLOSED) selected[chosen == CLOSED] { "Clos" }
                    @for s in Status::ALL {
                        option value=(s.value()) selected[chosen == s.value()] { (s.label()) }
                    }
                }
            }
            span class="filter" {
                label for="categorie" { "Catégorie" }
                select id="categorie" name="categorie" {
                    option value="" { "Toutes" }
                    @for c in categories {
                        option value=(c.code()) selected[filter.category.as_deref() == Some(c.code().as_str())] {
                            (c.label)
                        }
                    }
                }
            }
            span class="filter" {
                label for="periode" { "Période" }
                select id="periode" name="periode" {
                    option value="" { "Depuis le début" }
                    @for (code, label, _) in crate::store::PERIODS {
                        option value=(code) selected[filter.period.as_deref() == Some(code)] { (label) }
                    }
                }
            }
            @if !filter.neighbourhoods.is_empty() {
                span class="filter" {
                    label for="quartier" { "Quartier" }
                    select id="quartier" name="quartier" {
                        option value="" { "Tous" }
                        @for (id, name) in &filter.neighbourhoods {
                            option value=(id) selected[filter.neighbourhood.as_deref() == Some(id.as_str())] { (name) }
                        }
                    }
                }
            }
            @if services.is_some() {
                span class="filter" {
                    label for="agent" { "Attribution" }
                    select id="agent" name="agent" {
                        option value="" { "Tous" }
                        option value=(crate::admin::MINE) selected[filter.agent.is_some() && filter.agent.as_deref() == req.account()] { "À moi" }
                        @for (account, name) in &filter.team {
                            @if Some(account.as_str()) != req.account() {
                                option value=(account) selected[filter.agent.as_deref() == Some(account.as_str())] { (name) }
                            }
                        }
                    }
                }
            }
            @if let Some(services) = services {
                span class="filter" {
                    label for="service" { "Service" }
                    select id="service" name="service" {
                        option value="" { "Tous" }
                        @for s in services {
                            option value=(s) selected[filter.service.as_deref() == Some(*s)] { (s) }
                        }
                    }
                }
            }
            button type="submit" class="secondary" { "Filtrer" }
        }
    }
}

/// The query string of a filter, for the next page's link.
fn filter_query(filter: &Filter) -> String {
    let mut out = String::new();
    for (name, value) in [
        ("statut", &filter.status),
        ("categorie", &filter.category),
        ("service", &filter.service),
        ("periode", &filter.period),
        ("quartier", &filter.neighbourhood),
    ] {
        if let Some(value) = value {
            out.push('&');
            out.push_str(name);
            out.push('=');
            out.push_str(&encode_query(value));
        }
    }
    if let Some(agent) = &filter.agent {
        out.push_str("&agent=");
        out.push_str(&encode_query(agent));
    }
    out
}

/// One report in a list.
fn item(req: &Request, report: &Report) -> Markup {
    html! {
        li {
            a href=(req.link(&format!("/{}", report.number))) {
                "N°\u{a0}" (report.number) " — " (report.title())
            }
            br;
            small {
                (status_tag(report.status.label())) " · envoyé le " (time(report.sent_at()))
            }
        }
    }
}

/// The page of a list: the reports and the link to the next page.
fn list(req: &Request, reports: &[Report], next: Option<&str>, filter: &Filter) -> Markup {
    html! {
        @if reports.is_empty() {
            (empty("Aucun signalement ne correspond à ces critères."))
        } @else {
            ul class="plain" {
                @for r in reports { (item(req, r)) }
            }
        }
        (next_page(req, next, filter))
    }
}

/// The link to the next page of a list, keeping its filter.
fn next_page(req: &Request, next: Option<&str>, filter: &Filter) -> Markup {
    html! {
        @if let Some(next) = next {
            nav aria-label="Pages des signalements" {
                // Cursors are report keys (digits): nothing to percent-encode.
                p { a href=(req.link(&format!("/?apres={next}{}", filter_query(filter)))) { "Signalements plus anciens" } }
            }
        }
    }
}

/// What the public list's page needs.
pub struct Index<'a> {
    pub categories: &'a [Category],
    pub filter: &'a Filter,
    pub reports: &'a [Report],
    pub next: Option<&'a str>,
    pub open: u64,
    pub closed: u64,
    pub intro: &'a str,
}

/// The public page: what the module is for, the map of open reports and the list.
pub fn index(req: &Request, page: &Index<'_>) -> Markup {
    let markers = req.link("/carte.json");
    french(html! {
        h1 { "Signalements" }
        @if page.intro.trim().is_empty() {
            p class="lead" {
                "Un lampadaire éteint, un trou dans la chaussée, un dépôt sauvage ? Signalez-le à la mairie "
                (req.commune.de()) " : vous suivez ensuite son traitement ici, et chacun peut dire qu'il a le même problème."
            }
        } @else {
            (paragraphs(page.intro))
        }
        p { a class="button" href=(req.link("/nouveau")) { "Signaler un problème" } }
        section aria-labelledby="carte-titre" {
            h2 id="carte-titre" { "Sur la carte" }
            (map("Carte des signalements en cours de traitement", &MapView { markers: Some(&markers), neighbourhoods: !page.filter.neighbourhoods.is_empty(), ..MapView::default() }))
            p class="hint" {
                (counted(page.open, "signalement en cours de traitement", "signalements en cours de traitement"))
                " (ceux qui ont un lieu sont sur la carte), "
                (counted(page.closed, "clos", "clos"))
                ". La liste ci-dessous les donne tous, du plus récent au plus ancien."
            }
        }
        section aria-labelledby="liste-titre" {
            h2 id="liste-titre" { "Liste" }
            (filters(req, page.categories, page.filter, None))
            (list(req, page.reports, page.next, page.filter))
        }
        section aria-labelledby="flux-titre" {
            h2 id="flux-titre" { "Suivre les signalements" }
            p {
                "Dans un lecteur de flux (Atom) : "
                a href=(req.link("/flux")) { "tous les signalements" }
                @if let Some(code) = &page.filter.category {
                    @if let Some(c) = page.categories.iter().find(|c| &c.code() == code) {
                        ", ou seulement " a href=(req.link(&format!("/flux/{code}"))) { "la catégorie « " (c.label) " »" }
                    }
                }
                ". Les signalements publiés sont aussi ouverts aux applications par l'API Open311 de la commune."
            }
        }
    })
}

/// The report form (`/nouveau`), with its errors.
pub fn form(
    req: &Request,
    categories: &[Category],
    form: &ReportForm,
    errors: &[FieldError],
) -> Markup {
    let category = field(errors, "categorie");
    let description = field(errors, "description");
    let address = field(errors, "adresse");
    let place = field(errors, "lieu");
    let questions = field(errors, "questions");
    french(html! {
        h1 { "Signaler un problème" }
        p { "Votre signalement va à la mairie " (req.commune.de()) ". Il est public, comme sa suite ; votre nom ne l'est que si vous le souhaitez." }
        (error_summary("Le signalement n'est pas encore envoyé : corrigez les points suivants.", errors))
        form class="form" method="post" enctype="multipart/form-data" action=(req.upload_action("/nouveau")) {
            label for="categorie" { "Catégorie" }
            (category.error())
            select id="categorie" name="categorie" required aria-invalid=[category.invalid()] aria-describedby=[category.error_id()] {
                option value="" { "Choisir une catégorie" }
                @for c in categories {
                    option value=(c.code()) selected[form.category == c.code()] { (c.label) }
                }
            }
            @if categories.iter().any(|c| !c.questions.is_empty()) {
                div id="questions" {
                    (questions.error())
                    @for c in categories.iter().filter(|c| !c.questions.is_empty()) {
                        fieldset class="choices" data-when="categorie" data-is=(c.code()) {
                            legend { "Précisions pour la catégorie « " (c.label) " »" }
                            @for q in &c.questions {
                                @let name = question_field(c, q);
                                label for=(name) { (q.label) @if q.required { " (obligatoire)" } @else { " (facultatif)" } }
                                @if q.choices.is_empty() {
                                    input id=(name) name=(name) maxlength=(ANSWER_MAX) value=(form.answer(&name));
                                } @else {
                                    select id=(name) name=(name) {
                                        option value="" { "Choisir" }
                                        @for choice in &q.choices {
                                            option value=(choice) selected[form.answer(&name) == choice] { (choice) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            fieldset id="lieu" class="choices" aria-describedby=[place.error_id()] {
                legend { "Où est-ce ?" }
                (place.error())
                (map("Carte : touchez le lieu du problème", &MapView { pick: Some("lieu"), ..MapView::default() }))
                p class="hint" { "Touchez la carte, déplacez l'épingle ou utilisez « Me localiser » ; sinon, décrivez le lieu ci-dessous. Le lieu doit être dans la commune." }
                label for="adresse" { "Adresse ou repère" }
                (address.error())
                input id="adresse" name="adresse" autocomplete="street-address" maxlength=(ADDRESS_MAX)
                    value=(form.address) aria-invalid=[address.invalid()] aria-describedby=[address.error_id()];
                input type="hidden" name="lat" value=(form.lat);
                input type="hidden" name="lon" value=(form.lon);
            }
            label for="description" { "Description" }
            (description.error())
            textarea id="description" name="description" rows="5" required maxlength=(DESCRIPTION_MAX)
                aria-invalid=[description.invalid()] aria-describedby=[description.error_id().or(Some("description-aide".into()))] {
                (form.description)
            }
            p class="hint" id="description-aide" { "Ce que vous voyez, depuis quand, si c'est dangereux. N'y mettez pas de données personnelles." }
            (photo_fields(errors, &form.photo_alt))
            label { input type="checkbox" name="nom_public" value="1" checked[form.public_name]; " Afficher mon nom sur le signalement" }
            p class="hint" { "Sinon, le public lit « Un habitant » ; la mairie voit toujours votre nom." }
            button type="submit" { "Envoyer le signalement" }
        }
    })
}

/// The photo inputs of the report form (and of the « another problem » form, since files
/// cannot ride along in hidden fields).
fn photo_fields(errors: &[FieldError], alt: &str) -> Markup {
    let photo = field(errors, "photo");
    let photo_alt = field(errors, "photo_alt");
    html! {
        label for="photo" { "Photos (facultatif, " (MAX_PHOTOS) " au plus)" }
        (photo.error())
        input type="file" id="photo" name="photo" accept="image/*" multiple
            aria-invalid=[photo.invalid()] aria-describedby=[photo.error_id().or(Some("photo-aide".into()))];
        p class="hint" id="photo-aide" { "JPEG, PNG, WebP ou GIF, 10 Mo au plus chacune. Leurs métadonnées (position GPS, appareil) sont retirées avant publication." }
        label for="photo_alt" { "Ce que montrent les photos" }
        (photo_alt.error())
        input id="photo_alt" name="photo_alt" maxlength=(ALT_MAX) value=(alt)
            aria-invalid=[photo_alt.invalid()] aria-describedby=[photo_alt.error_id().or(Some("photo_alt-aide".into()))];
        p class="hint" id="photo_alt-aide" { "Pour les personnes qui ne voient pas les photos : « Lampadaire éteint au coin de la rue »." }
    }
}

/// « C'est le même problème ? »: the open reports of the same category nearby, each to
/// support, or the form sent again as a new report.
pub fn nearby(req: &Request, form: &ReportForm, nearby: &[(Report, f64)]) -> Markup {
    french(html! {
        h1 { "C'est le même problème ?" }
        p {
            "D'autres habitants ont déjà signalé un problème de cette catégorie tout près. S'il s'agit du même, "
            "dites-le plutôt que d'envoyer un doublon : vous serez prévenu de sa suite, et la mairie voit combien de personnes sont gênées."
        }
        ul class="plain" {
            @for (report, distance) in nearby {
                li class="card" {
                    h2 { a href=(req.link(&format!("/{}", report.number))) { "N°\u{a0}" (report.number) " — " (report.title()) } }
                    p { (status_tag(report.status.label())) " · à " (format!("{:.0}", distance)) " m · envoyé le " (time(report.sent_at())) }
                    (paragraphs(&report.description))
                    form method="post" action=(req.link(&format!("/{}/soutenir", report.number))) {
                        (req.csrf_field())
                        button type="submit" { "C'est le même problème" }
                    }
                }
            }
        }
        form class="form" method="post" enctype="multipart/form-data" action=(req.upload_action("/nouveau")) {
            input type="hidden" name="categorie" value=(form.category);
            input type="hidden" name="description" value=(form.description);
            input type="hidden" name="adresse" value=(form.address);
            input type="hidden" name="lat" value=(form.lat);
            input type="hidden" name="lon" value=(form.lon);
            @if form.public_name { input type="hidden" name="nom_public" value="1"; }
            @for (name, value) in &form.answers { input type="hidden" name=(name) value=(value); }
            input type="hidden" name="confirme" value="1";
            h2 { "Un autre problème ?" }
            p { "Envoyez votre signalement tel quel. Si vous aviez choisi des photos, choisissez-les à nouveau : elles n'ont pas été gardées." }
            (photo_fields(&[], &form.photo_alt))
            button type="submit" class="secondary" { "Non, c'est un autre problème : envoyer mon signalement" }
        }
    })
}

/// The timeline of a report: each step, with the town hall's reply.
fn timeline(req: &Request, report: &Report) -> Markup {
    html! {
        ol class="plain" {
            @for step in &report.steps {
                li {
                    (status_tag(step.status.label())) " — " (step.status.event()) ", le " (time(step.at))
                    @if step.status == Status::Doublon {
                        @if let Some(target) = report.duplicate_of {
                            " : voir le " a href=(req.link(&format!("/{target}"))) { "signalement n°\u{a0}" (target) }
                        }
                    }
                    @if let Some(reply) = &step.reply {
                        div class="post" { p class="post-head" { strong { "Réponse de la mairie" } } (paragraphs(reply)) }
                    }
                    @if let Some(photo) = &step.photo {
                        (photos(std::slice::from_ref(photo)))
                    }
                }
            }
        }
    }
}

/// The head of a report's page, public and for the staff.
fn head(report: &Report, neighbourhood: Option<&str>, supporters: u64, staff: bool) -> Markup {
    html! {
        h1 { "Signalement n°\u{a0}" (report.number) }
        p class="facts" { (status_tag(report.status.label())) " · " (report.category_label) }
        p {
            "Envoyé le " (time(report.sent_at())) " par "
            @if staff { (if report.author_name.is_empty() { "un compte supprimé" } else { report.author_name.as_str() }) }
            @else { (report.public_author()) }
            @if staff { " · service : " (report.service) }
        }
        @if let Some(address) = &report.address { p { "Lieu : " (address) } }
        @if let Some(neighbourhood) = neighbourhood { p { "Quartier : " (neighbourhood) } }
        @if let Some((lat, lon)) = report.at {
            (map("Le lieu du signalement", &MapView { spot: Some((lat, lon)), ..MapView::default() }))
            p class="hint" { "Latitude " (format!("{lat:.5}").replace('.', ",")) ", longitude " (format!("{lon:.5}").replace('.', ",")) "." }
        }
        (paragraphs(&report.description))
        @if !report.answers.is_empty() {
            dl class="answers" {
                @for a in &report.answers { div { dt { (a.question) } dd { (a.value) } } }
            }
        }
        (photos(&report.photos))
        p { (supporters_line(supporters)) }
    }
}

/// What a report's public page needs.
pub struct Show<'a> {
    pub report: &'a Report,
    /// The name of the neighbourhood its place lies in.
    pub neighbourhood: Option<&'a str>,
    pub supporters: u64,
    /// The viewer already supports it, or sent it.
    pub involved: bool,
}

/// A report's public page.
pub fn show(req: &Request, page: &Show<'_>) -> Markup {
    let report = page.report;
    french(html! {
        (head(report, page.neighbourhood, page.supporters, false))
        @if report.status.is_open() && !page.involved {
            form method="post" action=(req.link(&format!("/{}/soutenir", report.number))) {
                (req.csrf_field())
                button type="submit" class="secondary" { "J'ai le même problème" }
            }
        }
        @if page.involved { p class="hint" { "Vous suivez ce signalement : vous êtes prévenu de chaque étape." } }
        section aria-labelledby="suivi-titre" {
            h2 id="suivi-titre" { "Suivi" }
            (timeline(req, report))
        }
    })
}

/// The staff's queue: the map, the filters, and the reports as a table to compare.
pub fn queue(
    req: &Request,
    categories: &[Category],
    services: &[&str],
    filter: &Filter,
    reports: &[Report],
    next: Option<&str>,
    open: u64,
) -> Markup {
    let markers = req.link("/carte.json").replace("/admin/m/", "/m/");
    french(html! {
        h1 { "Signalements à traiter" }
        p class="lead" {
            @if open == 0 { "Aucun signalement en cours de traitement." }
            @else { (counted(open, "signalement en cours de traitement", "signalements en cours de traitement")) "." }
            " " a href=(req.link("/statistiques")) { "Statistiques et export" }
        }
        (map("Carte des signalements en cours de traitement", &MapView { markers: Some(&markers), neighbourhoods: !filter.neighbourhoods.is_empty(), ..MapView::default() }))
        (filters(req, categories, filter, Some(services)))
        @if reports.is_empty() {
            (empty("Aucun signalement ne correspond à ces critères."))
        } @else {
            form method="post" action=(req.link("/lot")) {
            (req.csrf_field())
            table {
                caption class="sr-only" { "Signalements, du plus récent au plus ancien" }
                thead { tr {
                    th scope="col" { span class="sr-only" { "Choisir" } }
                    th scope="col" { "N°" }
                    th scope="col" { "Signalement" }
                    th scope="col" { "Statut" }
                    th scope="col" { "Service" }
                    th scope="col" { "Agent" }
                    th scope="col" { "Mis à jour" }
                } }
                tbody {
                    @for r in reports {
                        tr {
                            td {
                                input type="checkbox" name="n" value=(r.number)
                                    aria-label=(format!("Choisir le signalement n° {}", r.number));
                            }
                            td { (r.number) }
                            td {
                                a href=(req.link(&format!("/{}", r.number))) { (r.title()) }
                                br;
                                small { "par " (if r.author_name.is_empty() { "un compte supprimé" } else { r.author_name.as_str() }) }
                            }
                            td { (status_tag(r.status.label())) }
                            td { (r.service) }
                            td { @if let Some(a) = &r.agent { (a.name) } @else { "—" } }
                            td { (time(r.changed_at())) }
                        }
                    }
                }
            }
            fieldset class="choices" {
                legend { "Changer le statut des signalements cochés" }
                label for="lot-statut" { "Nouveau statut" }
                select id="lot-statut" name="statut" {
                    @for s in [Status::PrisEnCompte, Status::EnCours, Status::Resolu] {
                        option value=(s.value()) { (s.label()) }
                    }
                }
                label for="lot-reponse" { "Réponse publique, la même pour chacun (facultatif)" }
                textarea id="lot-reponse" name="reponse" rows="2" maxlength=(REPLY_MAX) {}
                p { button type="submit" { "Appliquer aux signalements cochés" } }
                p class="hint" { "Au plus " (crate::admin::MAX_BATCH) " à la fois. Pour refuser ou fusionner un signalement, ouvrez-le : il faut en donner la raison ou le numéro." }
            }
            }
        }
        (next_page(req, next, filter))
    })
}

/// The figures page: key figures, reports by month (a chart with its numbers in text), by
/// category (a table), and the export.
pub fn stats(
    req: &Request,
    f: &crate::stats::Figures,
    by_neighbourhood: &[(String, u64)],
) -> Markup {
    use crate::stats::{EXPORTED, SAMPLE, count_fr, duration_fr, month_fr};
    let highest = f.by_month.iter().map(|m| m.1).max().unwrap_or(0).max(1);
    let width = 24 * f.by_month.len();
    let months: Vec<String> = f
        .by_month
        .iter()
        .map(|(m, n)| format!("{} : {n}", month_fr(m)))
        .collect();
    french(html! {
        h1 { "Statistiques des signalements" }
        p class="lead" {
            "Calculées sur les " (count_fr(f.counted)) " signalements des 12 derniers mois (les "
            (count_fr(SAMPLE)) " plus récents au plus)."
        }
        dl class="figures" {
            div { dt { "En cours de traitement" } dd { (f.open) } }
            div { dt { "Résolus" } dd { (f.resolved) } }
            div { dt { "Délai médian de prise en compte" } dd { (f.to_acknowledge.map(duration_fr).unwrap_or_else(|| "—".into())) } }
            div { dt { "Délai médian de résolution" } dd { (f.to_resolve.map(duration_fr).unwrap_or_else(|| "—".into())) } }
        }
        h2 { "Par mois" }
        figure class="chart" {
            svg viewBox=(format!("0 0 {width} 60")) role="img" aria-labelledby="par-mois" {
                line x1="0" y1="50" x2=(width) y2="50" {}
                @for (i, (_, n)) in f.by_month.iter().enumerate() {
                    @let h = (40 * n / highest) as u32;
                    rect x=(i * 24 + 4) y=(50 - h) width="16" height=(h) {}
                }
            }
            figcaption id="par-mois" { "Signalements envoyés par mois : " (months.join(", ")) "." }
        }
        h2 { "Par catégorie" }
        @if f.by_category.is_empty() {
            (empty("Aucun signalement sur cette période."))
        } @else {
            table {
                caption class="sr-only" { "Signalements par catégorie" }
                thead { tr { th scope="col" { "Catégorie" } th scope="col" { "Signalements" } th scope="col" { "En cours" } } }
                tbody {
                    @for (label, n, open) in &f.by_category {
                        tr { td { (label) } td { (n) } td { (open) } }
                    }
                }
            }
        }
        @if !by_neighbourhood.is_empty() {
            h2 { "En cours, par quartier" }
            (bar_chart(
                "par-quartier",
                "Signalements en cours de traitement, par quartier où ils ont été placés sur la carte (ceux placés hors de tout quartier n'y figurent pas)",
                by_neighbourhood,
                "Quartier",
                "En cours",
            ))
        }
        h2 { "Export" }
        p {
            a class="button" href=(req.link("/export.csv")) { "Télécharger le fichier CSV" }
        }
        p class="hint" {
            "Une ligne par signalement (les " (count_fr(EXPORTED)) " plus récents au plus) : numéro, dates, catégorie, service, statut, lieu. Aucune donnée personnelle : ni nom ni compte."
        }
    })
}

/// What the staff's page of a report needs.
pub struct Manage<'a> {
    pub report: &'a Report,
    /// The name of the neighbourhood its place lies in.
    pub neighbourhood: Option<&'a str>,
    pub supporters: u64,
    pub notes: &'a [Note],
    pub services: &'a [&'a str],
    /// The commune's team, `(account, name)`, to hand the report to one of them.
    pub team: &'a [(String, String)],
    pub errors: &'a [FieldError],
}

/// A report for the staff: everything, the status form, the internal notes.
pub fn manage(req: &Request, page: &Manage<'_>) -> Markup {
    let report = page.report;
    let errors = page.errors;
    let status = field(errors, "statut");
    let reply = field(errors, "reponse");
    let duplicate = field(errors, "doublon_de");
    let service = field(errors, "service");
    let public = req
        .link(&format!("/{}", report.number))
        .replace("/admin/m/", "/m/");
    french(html! {
        p { a href=(req.link("/")) { "Tous les signalements" } " · " a href=(public) { "Page publique" } }
        (head(report, page.neighbourhood, page.supporters, true))
        section aria-labelledby="agent-titre" class="card" {
            h2 id="agent-titre" { "Prise en charge" }
            @let mine = report.agent.as_ref().is_some_and(|a| Some(a.account.as_str()) == req.account());
            p {
                @match &report.agent {
                    Some(_) if mine => { "Vous vous en occupez." }
                    Some(agent) => { "Pris en charge par " strong { (agent.name) } "." }
                    None => { "Personne ne s'en occupe encore." }
                }
            }
            @if report.status.is_open() || mine {
                form class="inline" method="post" action=(req.link(&format!("/{}/agent", report.number))) {
                    (req.csrf_field())
                    @if mine {
                        input type="hidden" name="action" value="laisser";
                        button type="submit" class="secondary" { "Je ne m'en occupe plus" }
                    } @else {
                        input type="hidden" name="action" value="prendre";
                        button type="submit" class="secondary" { "Je m'en occupe" }
                    }
                }
            }
            @if report.status.is_open() && !page.team.is_empty() {
                form class="form" method="post" action=(req.link(&format!("/{}/agent", report.number))) {
                    (req.csrf_field())
                    input type="hidden" name="action" value="attribuer";
                    label for="attribuer" { "Confier à un membre de l'équipe" }
                    p class="hint" id="attribuer-aide" { "Les élus et les administrateurs de la commune. La personne choisie est prévenue dans l'application et par courriel." }
                    select id="attribuer" name="agent" aria-describedby="attribuer-aide" {
                        option value="" selected[report.agent.is_none()] { "Personne" }
                        @for (account, name) in page.team {
                            option value=(account) selected[report.agent.as_ref().is_some_and(|a| &a.account == account)] {
                                (name) @if Some(account.as_str()) == req.account() { " (vous)" }
                            }
                        }
                    }
                    button type="submit" class="secondary" { "Attribuer" }
                }
            }
        }
        section aria-labelledby="statut-titre" class="card" {
            h2 id="statut-titre" { "Répondre" }
            (error_summary("La réponse n'est pas enregistrée : corrigez les points suivants.", errors))
            form class="form" method="post" enctype="multipart/form-data" action=(req.upload_action(&format!("/{}/statut", report.number))) {
                label for="statut" { "Statut" }
                (status.error())
                select id="statut" name="statut" aria-invalid=[status.invalid()] aria-describedby=[status.error_id()] {
                    @for s in Status::ALL {
                        option value=(s.value()) selected[s == report.status] { (s.label()) }
                    }
                }
                label for="service" { "Service chargé" }
                (service.error())
                select id="service" name="service" aria-invalid=[service.invalid()] {
                    @for s in page.services {
                        option value=(s) selected[*s == report.service] { (s) }
                    }
                }
                label for="reponse" { "Réponse publique (obligatoire pour « Non retenu »)" }
                (reply.error())
                textarea id="reponse" name="reponse" rows="4" maxlength=(REPLY_MAX) aria-invalid=[reply.invalid()] aria-describedby=[reply.error_id()] {}
                label for="doublon_de" { "Pour un doublon : numéro du signalement qui reste ouvert" }
                (duplicate.error())
                input id="doublon_de" name="doublon_de" inputmode="numeric" maxlength="12" aria-invalid=[duplicate.invalid()] aria-describedby=[duplicate.error_id()];
                label for="photo" { "Photo « après » (facultatif)" }
                (field(errors, "photo").error())
                input type="file" id="photo" name="photo" accept="image/*" aria-invalid=[field(errors, "photo").invalid()];
                p class="hint" { "Le signalant et les personnes qui suivent ce signalement sont prévenus de chaque changement de statut." }
                button type="submit" { "Enregistrer" }
            }
        }
        section aria-labelledby="suivi-titre" {
            h2 id="suivi-titre" { "Suivi public" }
            (timeline(req, report))
        }
        section aria-labelledby="notes-titre" {
            h2 id="notes-titre" { "Notes internes" }
            p class="hint" { "Visibles par l'équipe de la mairie seulement." }
            @if page.notes.is_empty() { (empty("Aucune note.")) }
            @for note in page.notes {
                div class="post" {
                    p class="post-head" { strong { (note.by) } ", le " (time(note.at)) }
                    (paragraphs(&note.text))
                }
            }
            form class="form" method="post" action=(req.link(&format!("/{}/note", report.number))) {
                (req.csrf_field())
                label for="note" { "Nouvelle note" }
                textarea id="note" name="note" rows="3" required maxlength=(NOTE_MAX) {}
                button type="submit" class="secondary" { "Ajouter la note" }
            }
        }
    })
}
