//! HTML fragments as maud templates (every spliced value is escaped). Written with ordinary
//! spaces: pages go through [`french`] for the no-break ones.

use crate::form::{
    BEARER_MAX, COMMENT_MAX, CommitmentForm, DESCRIPTION_MAX, FieldError, LINES_MAX, TITLE_MAX,
    UPDATE_MAX,
};
use crate::model::{Commitment, Evaluation, MIN_SHOWN, Status, Tally};
use crate::store::Filter;
use parvis_module_sdk::Request;
use parvis_module_sdk::html::{
    Markup, bar_chart, empty, error_summary, field, french, html, paragraphs, status_tag,
    table_head, time,
};
use parvis_module_sdk::store::Doc;
use parvis_module_sdk::time::date_fr;

/// « 3,8 » from 3.8.
fn decimal(value: f64) -> String {
    format!("{value:.1}").replace('.', ",")
}

/// A progress bar with its figure in words.
fn progress(c: &Commitment) -> Markup {
    html! {
        p class="hint" {
            label { "Avancement : " (c.progress) " %" " "
                progress max="100" value=(c.progress) { (c.progress) " %" }
            }
        }
    }
}

/// The evaluations in one line: the mean and count when there are enough, else why not.
fn evaluation_line(c: &Commitment) -> String {
    let total = Tally::total(&c.tally.all);
    match Tally::mean(&c.tally.all) {
        Some(mean) if total >= MIN_SHOWN => {
            format!(
                "Note moyenne des habitants : {} sur 5 ({total} évaluations)",
                decimal(mean)
            )
        }
        _ => format!("Pas encore de note affichée (moins de {MIN_SHOWN} évaluations)"),
    }
}

/// What the bilan pages need.
pub struct Bilan<'a> {
    pub title: &'a str,
    /// The bearer whose bilan this is (none: the commune's).
    pub bearer: Option<&'a str>,
    pub commitments: &'a [Commitment],
    pub filter: &'a Filter,
    pub themes: &'a [(String, String)],
    /// `(code, name)` of every bearer, for the filter and the links.
    pub bearers: &'a [(String, String)],
    pub neighbourhoods: &'a [(String, String)],
    pub intro: &'a str,
    pub may_publish: bool,
}

/// A bilan: figures by status, the mean progress, then the commitments with their progress
/// and evaluations.
pub fn bilan(req: &Request, page: &Bilan<'_>) -> Markup {
    let counts: Vec<(Status, usize)> = Status::ALL
        .into_iter()
        .map(|s| (s, page.commitments.iter().filter(|c| c.status == s).count()))
        .collect();
    // Given-up commitments do not pull the mean down: their progress stopped.
    let kept: Vec<u64> = page
        .commitments
        .iter()
        .filter(|c| c.status != Status::Abandonne)
        .map(|c| u64::from(c.progress))
        .collect();
    let mean_progress = kept.iter().sum::<u64>() / (kept.len() as u64).max(1);
    french(html! {
        h1 { (page.title) }
        @if page.bearer.is_none() {
            @if page.intro.trim().is_empty() {
                p class="lead" {
                    "Les engagements des élus et de la commune " (req.commune.de()) ", leur avancement tel qu'ils le rapportent, et ce qu'en pensent les habitants."
                }
            } @else { (paragraphs(page.intro)) }
        } @else {
            p { a href=(req.link("/")) { "Le bilan de toute la commune" } }
        }
        @if page.may_publish { p { a class="button" href=(req.link("/nouveau")) { "Publier un engagement" } } }
        dl class="figures" {
            @for (status, n) in &counts { div { dt { (status.plural()) } dd { (n) } } }
            div { dt { "Avancement moyen (hors abandons)" } dd { (mean_progress) " %" } }
        }
        form class="filters" method="get" action=(req.link(&page.bearer.map(|b| format!("/porteur/{b}")).unwrap_or_else(|| "/".into()))) {
            span class="filter" {
                label for="statut" { "Statut" }
                select id="statut" name="statut" {
                    option value="" { "Tous" }
                    @for s in Status::ALL { option value=(s.value()) selected[page.filter.status == Some(s)] { (s.label()) } }
                }
            }
            span class="filter" {
                label for="theme" { "Thème" }
                select id="theme" name="theme" {
                    option value="" { "Tous" }
                    @for (code, label) in page.themes { option value=(code) selected[page.filter.theme.as_deref() == Some(code.as_str())] { (label) } }
                }
            }
            @if !page.neighbourhoods.is_empty() {
                span class="filter" {
                    label for="quartier" { "Quartier" }
                    select id="quartier" name="quartier" {
                        option value="" { "Tous" }
                        @for (id, name) in page.neighbourhoods { option value=(id) selected[page.filter.neighbourhood.as_deref() == Some(id.as_str())] { (name) } }
                    }
                }
            }
            button type="submit" class="secondary" { "Filtrer" }
        }
        @if page.commitments.is_empty() {
            (empty("Aucun engagement ne correspond à ces critères."))
        } @else {
            ul class="plain" {
                @for c in page.commitments {
                    li class="card" {
                        h2 { a href=(req.link(&format!("/{}", c.number))) { (c.title) } }
                        p class="facts" { (status_tag(c.status.label())) " · " (c.theme) " · " a href=(req.link(&format!("/porteur/{}", c.bearer.code()))) { (c.bearer.name) } }
                        (progress(c))
                        p class="hint" { (evaluation_line(c)) }
                    }
                }
            }
        }
        @if page.bearer.is_none() && !page.bearers.is_empty() {
            section aria-labelledby="porteurs-titre" {
                h2 id="porteurs-titre" { "Bilan de chacun" }
                ul {
                    @for (code, name) in page.bearers { li { a href=(req.link(&format!("/porteur/{code}"))) { (name) } } }
                }
            }
        }
        p class="hint" {
            "Les engagements sont donnés dans l'ordre où ils ont été publiés. L'avancement est celui que rapporte leur porteur. Une note n'est affichée qu'à partir de " (MIN_SHOWN) " évaluations, pour qu'on ne puisse pas y lire la note d'une ou deux personnes."
        }
    })
}

/// The commitment form (`/nouveau`, `/{n}/modifier`), with its errors.
pub fn form(
    req: &Request,
    action: &str,
    form: &CommitmentForm,
    themes: &[(String, String)],
    neighbourhoods: &[(String, String)],
    errors: &[FieldError],
) -> Markup {
    let f = |name| field(errors, name);
    let (title, description, theme, bearer) =
        (f("titre"), f("description"), f("theme"), f("porteur"));
    let (quartier, jalons, documents) = (f("quartier"), f("jalons"), f("documents"));
    french(html! {
        h1 { @if action == "/nouveau" { "Publier un engagement" } @else { "Modifier l'engagement" } }
        p { "L'engagement est public dès qu'il est enregistré, et annoncé dans le fil de la commune. Les habitants pourront l'évaluer dès qu'il sera en cours." }
        (error_summary("L'engagement n'est pas encore enregistré : corrigez les points suivants.", errors))
        form class="form" method="post" action=(req.link(action)) {
            (req.csrf_field())
            label for="titre" { "Titre" }
            (title.error())
            input id="titre" name="titre" required maxlength=(TITLE_MAX) value=(form.title) aria-invalid=[title.invalid()] aria-describedby=[title.error_id()];
            label for="description" { "Description" }
            (description.error())
            textarea id="description" name="description" rows="6" required maxlength=(DESCRIPTION_MAX) aria-invalid=[description.invalid()] aria-describedby=[description.error_id()] { (form.description) }
            label for="theme" { "Thème" }
            (theme.error())
            select id="theme" name="theme" required aria-invalid=[theme.invalid()] aria-describedby=[theme.error_id()] {
                option value="" { "Choisir un thème" }
                @for (code, label) in themes { option value=(code) selected[form.theme == *code] { (label) } }
            }
            label for="porteur" { "Porté par" }
            (bearer.error())
            input id="porteur" name="porteur" required maxlength=(BEARER_MAX) value=(form.bearer) aria-invalid=[bearer.invalid()] aria-describedby=[bearer.error_id().or(Some("porteur-aide".into()))];
            p class="hint" id="porteur-aide" { "Le nom et la fonction de l'élu (« Marie Exemple, adjointe aux mobilités »), ou « La commune »." }
            @if !neighbourhoods.is_empty() {
                label for="quartier" { "Quartier concerné" }
                (quartier.error())
                select id="quartier" name="quartier" aria-invalid=[quartier.invalid()] aria-describedby=[quartier.error_id()] {
                    option value="" { "Toute la commune" }
                    @for (id, name) in neighbourhoods { option value=(id) selected[form.neighbourhood == *id] { (name) } }
                }
            }
            label for="jalons" { "Étapes prévues (une par ligne)" }
            (jalons.error())
            textarea id="jalons" name="jalons" rows="4" maxlength=(LINES_MAX) aria-invalid=[jalons.invalid()] aria-describedby=[jalons.error_id().or(Some("jalons-aide".into()))] { (form.milestones) }
            p class="hint" id="jalons-aide" { "« AAAA-MM-JJ ; ce qui est prévu », par exemple « 2027-03-01 ; Début des travaux »." }
            label for="documents" { "Documents (un par ligne)" }
            (documents.error())
            textarea id="documents" name="documents" rows="3" maxlength=(LINES_MAX) aria-invalid=[documents.invalid()] aria-describedby=[documents.error_id().or(Some("documents-aide".into()))] { (form.documents) }
            p class="hint" id="documents-aide" { "« titre ; adresse », l'adresse commençant par https:// ou par / pour une page de ce site." }
            button type="submit" { "Enregistrer" }
        }
    })
}

/// What a commitment's page needs.
pub struct Show<'a> {
    pub c: &'a Commitment,
    pub neighbourhood: Option<&'a str>,
    /// The viewer's own evaluation.
    pub mine: Option<&'a Evaluation>,
    /// Evaluations with a comment (this page of them).
    pub comments: &'a [Doc<Evaluation>],
    pub next: Option<&'a str>,
    pub manage: bool,
    pub errors: &'a [FieldError],
}

/// The distribution of notes, for all and for the verified residents, each when large enough.
fn distribution(c: &Commitment) -> Markup {
    let rows = |counts: &[u64; 5]| -> Vec<(String, u64)> {
        (1..=5u8)
            .rev()
            .map(|note| (format!("{note} sur 5"), counts[usize::from(note - 1)]))
            .collect()
    };
    let all = Tally::total(&c.tally.all);
    let residents = Tally::total(&c.tally.residents);
    html! {
        p { (evaluation_line(c)) "." }
        @if all >= MIN_SHOWN {
            (bar_chart("notes-tous", &format!("Les {all} évaluations, par note"), &rows(&c.tally.all), "Note", "Évaluations"))
            // Shown apart only if the others are none or enough too: else the difference of
            // the two charts would tell the notes of the few who are not residents.
            @if residents >= MIN_SHOWN && (all == residents || all - residents >= MIN_SHOWN) {
                @if let Some(mean) = Tally::mean(&c.tally.residents) {
                    p { "Dont habitants vérifiés par la commune : " (residents) " évaluations, note moyenne " (decimal(mean)) " sur 5." }
                }
                (bar_chart("notes-habitants", &format!("Les {residents} évaluations d'habitants vérifiés, par note"), &rows(&c.tally.residents), "Note", "Évaluations"))
            } @else {
                p class="hint" { "Les évaluations des habitants vérifiés sont comptées à part dès qu'il y en a " (MIN_SHOWN) ", et autant des autres." }
            }
        }
    }
}

/// A commitment's page: what, who, how far, the milestones and updates, the evaluations; the
/// update form for whoever manages it.
pub fn show(req: &Request, page: &Show<'_>) -> Markup {
    let c = page.c;
    let n = c.number;
    let note = field(page.errors, "note");
    let comment = field(page.errors, "commentaire");
    let text = field(page.errors, "texte");
    let reason = field(page.errors, "raison");
    let advance = field(page.errors, "avancement");
    french(html! {
        h1 { (c.title) }
        p class="facts" { (status_tag(c.status.label())) " · " (c.theme) @if let Some(q) = page.neighbourhood { " · " (q) } }
        p { "Porté par " a href=(req.link(&format!("/porteur/{}", c.bearer.code()))) { (c.bearer.name) } ", publié le " (time(c.created_at)) "." }
        (progress(c))
        @if let Some(reason) = &c.reason { div class="notice" { p { strong { "Raison de l'abandon : " } } (paragraphs(reason)) } }
        (paragraphs(&c.description))
        @if !c.milestones.is_empty() {
            h2 { "Étapes" }
            table {
                (table_head(None, &["Date", "Étape", "État"]))
                tbody { @for m in &c.milestones { tr { td { (date_fr(m.on)) } td { (m.label) } td { @if m.done { "Faite" } @else { "À venir" } } } } }
            }
        }
        @if !c.documents.is_empty() {
            h2 { "Documents" }
            ul { @for d in &c.documents { li { a href=(d.url) rel="noopener" { (d.title) } } } }
        }
        section aria-labelledby="suivi-titre" {
            h2 id="suivi-titre" { "Suivi" }
            @if c.updates.is_empty() { (empty("Pas encore de point d'étape.")) }
            ol class="plain" {
                @for u in c.updates.iter().rev() {
                    li { div class="post" {
                        p class="post-head" { (status_tag(u.status.label())) ", " (u.progress) " %, le " (time(u.at)) }
                        (paragraphs(&u.text))
                    } }
                }
            }
        }
        section aria-labelledby="evaluations-titre" {
            h2 id="evaluations-titre" { "Ce qu'en pensent les habitants" }
            (distribution(c))
            @if c.status == Status::Prevu {
                p class="hint" { "Cet engagement pourra être évalué dès qu'il sera en cours." }
            } @else if req.account().is_some() {
                (error_summary("Votre évaluation n'est pas enregistrée : corrigez les points suivants.", page.errors.iter().filter(|(f, _)| *f == "note" || *f == "commentaire").cloned().collect::<Vec<_>>().as_slice()))
                form class="form" method="post" action=(req.link(&format!("/{n}/evaluation"))) {
                    (req.csrf_field())
                    fieldset id="note" class="choices" aria-describedby=[note.error_id()] {
                        legend { @if page.mine.is_some() { "Changer votre note" } @else { "Votre note" } }
                        (note.error())
                        @for v in 1..=5u8 {
                            label { input type="radio" name="note" value=(v) checked[page.mine.is_some_and(|m| m.note == v)]; " " (v) " sur 5" }
                        }
                    }
                    label for="commentaire" { "Un commentaire (facultatif, public et signé)" }
                    (comment.error())
                    textarea id="commentaire" name="commentaire" rows="3" maxlength=(COMMENT_MAX) aria-invalid=[comment.invalid()] aria-describedby=[comment.error_id()] {
                        (page.mine.and_then(|m| m.comment.as_deref()).unwrap_or_default())
                    }
                    p class="hint" { "Une évaluation par personne, que vous pouvez changer. Votre note n'est jamais affichée seule : seuls les totaux le sont." }
                    button type="submit" { @if page.mine.is_some() { "Changer mon évaluation" } @else { "Évaluer" } }
                }
                @if page.mine.is_some() {
                    form method="post" action=(req.link(&format!("/{n}/evaluation/retirer"))) {
                        (req.csrf_field())
                        button type="submit" class="secondary" { "Retirer mon évaluation" }
                    }
                }
            } @else {
                p class="hint" { "Connectez-vous pour évaluer cet engagement." }
            }
            @if !page.comments.is_empty() { h3 { "Commentaires" } }
            @for doc in page.comments {
                @if let Some(text) = &doc.value.comment {
                    div class="post" {
                        p class="post-head" { strong { (doc.value.name) } ", le " (time(doc.value.at)) }
                        (paragraphs(text))
                        @if let Some(a) = &doc.value.answer {
                            div class="post" { p class="post-head" { strong { "Réponse de " (a.by) } ", le " (time(a.at)) } (paragraphs(&a.text)) }
                        } @else if page.manage {
                            form class="form" method="post" action=(req.link(&format!("/{n}/reponse"))) {
                                (req.csrf_field())
                                input type="hidden" name="compte" value=(doc.value.account);
                                label for=(format!("reponse-{}", doc.key)) { "Répondre à " (doc.value.name) }
                                textarea id=(format!("reponse-{}", doc.key)) name="reponse" rows="2" required maxlength=(COMMENT_MAX) {}
                                button type="submit" class="secondary" { "Publier la réponse" }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = page.next {
                p { a href=(req.link(&format!("/{n}?apres={}", parvis_module_sdk::html::encode_query(next)))) { "Commentaires suivants" } }
            }
        }
        @if page.manage {
            section aria-labelledby="gerer-titre" class="card" {
                h2 id="gerer-titre" { "Faire le point" }
                p { a href=(req.link(&format!("/{n}/modifier"))) { "Modifier le titre, la description, les étapes ou les documents" } }
                (error_summary("Le point d'étape n'est pas enregistré : corrigez les points suivants.", page.errors.iter().filter(|(f, _)| *f != "note" && *f != "commentaire").cloned().collect::<Vec<_>>().as_slice()))
                form class="form" method="post" action=(req.link(&format!("/{n}/point"))) {
                    (req.csrf_field())
                    label for="statut" { "Statut" }
                    select id="statut" name="statut" {
                        @for s in Status::ALL { option value=(s.value()) selected[s == c.status] { (s.label()) } }
                    }
                    label for="avancement" { "Avancement (en %)" }
                    (advance.error())
                    input id="avancement" name="avancement" type="number" min="0" max="100" value=(c.progress) aria-invalid=[advance.invalid()] aria-describedby=[advance.error_id()];
                    @if !c.milestones.is_empty() {
                        fieldset class="choices" {
                            legend { "Étapes faites" }
                            @for (i, m) in c.milestones.iter().enumerate() {
                                label { input type="checkbox" name="fait" value=(i) checked[m.done]; " " (m.label) }
                            }
                        }
                    }
                    label for="texte" { "Ce qui a changé (publié dans le fil de la commune)" }
                    (text.error())
                    textarea id="texte" name="texte" rows="3" required maxlength=(UPDATE_MAX) aria-invalid=[text.invalid()] aria-describedby=[text.error_id()] {}
                    label for="raison" { "Raison, en cas d'abandon" }
                    (reason.error())
                    textarea id="raison" name="raison" rows="2" maxlength=(UPDATE_MAX) aria-invalid=[reason.invalid()] aria-describedby=[reason.error_id()] {}
                    button type="submit" { "Publier le point d'étape" }
                }
            }
        }
    })
}

/// The back-office's list: every commitment, to open and manage.
pub fn queue(req: &Request, commitments: &[Commitment]) -> Markup {
    let public = |path: &str| req.link(path).replace("/admin/m/", "/m/");
    french(html! {
        h1 { "Engagements" }
        p { a class="button" href=(public("/nouveau")) { "Publier un engagement" } " " a href=(public("/")) { "Page publique" } }
        @if commitments.is_empty() {
            (empty("Aucun engagement publié."))
        } @else {
            table {
                (table_head(Some("Engagements, dans l'ordre de publication"), &["N°", "Engagement", "Statut", "Avancement", "Évaluations"]))
                tbody {
                    @for c in commitments {
                        tr {
                            td { (c.number) }
                            td { a href=(public(&format!("/{}", c.number))) { (c.title) } br; small { (c.bearer.name) } }
                            td { (c.status.label()) }
                            td { (c.progress) " %" }
                            td { (Tally::total(&c.tally.all)) }
                        }
                    }
                }
            }
        }
    })
}
